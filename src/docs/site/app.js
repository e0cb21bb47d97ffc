// Strata's documentation site: one page, no server, no network. `docs/index.js` holds the
// project's index (names, types, paths, columns, edges); each node's details are in
// `docs/nodes/<n>.js`, loaded by a script tag when its page opens (file:// allows scripts,
// not fetch), so a project of 10,000 models opens without parsing all of it.
"use strict";

const DOCS = window.STRATA_DOCS;
const NODES = DOCS.nodes;
const GRAPH_TYPES = new Set(["model", "seed", "snapshot", "source", "exposure"]);
const CHILDREN = NODES.map(() => []);
NODES.forEach((n, i) => n.deps.forEach((d) => CHILDREN[d].push(i)));
const BY_ID = new Map(NODES.map((n, i) => [n.id, i]));
const DETAILS = new Map();
const WAITING = new Map();
const OVERVIEW_LIMIT = 500;

const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const link = (i) => `<a href="#!/node/${i}">${esc(NODES[i].name)}</a>`;

// ---- node details, loaded on demand -------------------------------------------------------

window.STRATA_NODE = (i, data) => {
  DETAILS.set(i, data);
  (WAITING.get(i) || []).forEach((f) => f(data));
  WAITING.delete(i);
};

function details(i) {
  return new Promise((resolve, reject) => {
    if (DETAILS.has(i)) return resolve(DETAILS.get(i));
    const waiting = WAITING.get(i);
    if (waiting) return waiting.push(resolve);
    WAITING.set(i, [resolve]);
    const s = document.createElement("script");
    s.src = `docs/nodes/${i}.js`;
    s.onerror = () => reject(new Error(`docs/nodes/${i}.js could not be loaded`));
    document.head.appendChild(s);
  });
}

// ---- the tree ------------------------------------------------------------------------------

function tree() {
  const byFolder = {};
  const bySchema = {};
  NODES.forEach((n, i) => {
    if (n.type === "test") return;
    let at = byFolder;
    const parts = n.path.split("/");
    parts.slice(0, -1).forEach((p) => (at = at[p + "/"] = at[p + "/"] || {}));
    (at[""] = at[""] || []).push(i);
    if (n.schema) {
      const key = (n.db ? n.db + "." : "") + n.schema;
      (bySchema[key] = bySchema[key] || []).push(i);
    }
  });
  const sortNames = (list) => list.sort((a, b) => NODES[a].name.localeCompare(NODES[b].name));
  const folder = (obj) =>
    Object.keys(obj)
      .filter((k) => k)
      .sort()
      .map((k) => `<details><summary>${esc(k)}</summary>${folder(obj[k])}</details>`)
      .join("") + sortNames(obj[""] || []).map(link).join("");
  const schemas = Object.keys(bySchema)
    .sort()
    .map((k) => `<details><summary>${esc(k)}</summary>${sortNames(bySchema[k]).map(link).join("")}</details>`)
    .join("");
  $("#tree").innerHTML = `<h3>Project</h3>${folder(byFolder)}<h3>Database</h3>${schemas}`;
}

// ---- search -------------------------------------------------------------------------------

function search(text) {
  const q = text.trim().toLowerCase();
  const box = $("#results");
  if (!q) {
    box.hidden = true;
    return;
  }
  const hits = [];
  NODES.forEach((n, i) => {
    if (n.name.toLowerCase().includes(q)) hits.push([3, i, null]);
    else {
      const col = n.cols.find((c) => c.toLowerCase().includes(q));
      if (col) hits.push([2, i, col]);
      else if (n.desc.toLowerCase().includes(q)) hits.push([1, i, null]);
    }
  });
  hits.sort((a, b) => b[0] - a[0] || NODES[a[1]].name.localeCompare(NODES[b[1]].name));
  box.innerHTML = hits.length
    ? hits
        .slice(0, 60)
        .map(([, i, col]) => {
          const target = col ? `#!/node/${i}/${encodeURIComponent(col)}` : `#!/node/${i}`;
          const what = col ? `column ${esc(col)} of ` : "";
          return `<a href="${target}" data-node="${i}"${col ? ` data-column="${esc(col)}"` : ""}>${what}${esc(NODES[i].name)}<span class="kind">${esc(NODES[i].type)}</span></a>`;
        })
        .join("")
    : `<p class="muted" style="padding:6px 10px">Nothing matches “${esc(text)}”.</p>`;
  box.hidden = false;
}

// ---- selectors (Strata's syntax: methods, graph operators, union and intersection) ---------

function glob(pattern) {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i");
}

function direct(method, value) {
  const out = new Set();
  const re = glob(value);
  NODES.forEach((n, i) => {
    let hit = false;
    switch (method) {
      case "tag": hit = n.tags.some((t) => re.test(t)); break;
      case "path": case "file": {
        const v = value.replace(/\/$/, "");
        hit = method === "file" ? re.test(n.path.split("/").pop()) : n.path === v || n.path.startsWith(v + "/") || re.test(n.path);
        break;
      }
      case "resource_type": hit = n.type === value; break;
      case "package": hit = re.test(n.pkg); break;
      case "source": hit = n.type === "source" && (re.test(n.source) || re.test(`${n.source}.${n.name}`)); break;
      case "config.materialized": hit = n.mat === value; break;
      case "fqn": hit = re.test(n.name) || re.test(n.fqn); break;
      default: throw new Error(`unknown selector method '${method}' (the page knows tag, path, file, resource_type, package, source, config.materialized, fqn)`);
    }
    if (hit) out.add(i);
  });
  return out;
}

function walk(start, next, depth) {
  const out = new Set(start);
  let frontier = [...start];
  for (let d = 0; frontier.length && (depth === null || d < depth); d++) {
    const found = [];
    frontier.forEach((i) => next(i).forEach((j) => { if (!out.has(j)) { out.add(j); found.push(j); } }));
    frontier = found;
  }
  return out;
}

function criterion(word) {
  const m = /^(@)?(?:(\d*)\+)?([^+]+?)(?:\+(\d*))?$/.exec(word);
  if (!m) throw new Error(`cannot read the selector '${word}'`);
  const [, at, up, body, down] = m;
  const colon = body.indexOf(":");
  const chosen = colon > 0 ? direct(body.slice(0, colon), body.slice(colon + 1)) : direct("fqn", body);
  let out = new Set(chosen);
  const parents = (i) => NODES[i].deps;
  const children = (i) => CHILDREN[i];
  if (up !== undefined) walk(chosen, parents, up === "" ? null : +up).forEach((i) => out.add(i));
  if (down !== undefined || at) {
    const below = walk(chosen, children, down ? +down : null);
    below.forEach((i) => out.add(i));
    if (at) walk(below, parents, null).forEach((i) => out.add(i));
  }
  return out;
}

function select(expression) {
  const union = new Set();
  expression.trim().split(/\s+/).filter(Boolean).forEach((word) => {
    const sets = word.split(",").map(criterion);
    sets[0].forEach((i) => { if (sets.every((s) => s.has(i))) union.add(i); });
  });
  return union;
}

// ---- the lineage drawing: a layered layout of our own ------------------------------------

const COLORS = { source: "#c8e6c9", seed: "#fff3bf", snapshot: "#e1bee7", exposure: "#ffcdd2" };
const LAYER_COLORS = { bronze: "#f3d3ae", silver: "#d5dcea", gold: "#ffe08a", staging: "#d7ecf7", marts: "#ffe08a" };
const color = (n) => COLORS[n.type] || LAYER_COLORS[n.layer] || "#e4ebf7";

function layout(members) {
  const set = new Set(members);
  const layer = new Map();
  const depthOf = (i, seen) => {
    if (layer.has(i)) return layer.get(i);
    if (seen.has(i)) return 0;
    seen.add(i);
    const inside = NODES[i].deps.filter((d) => set.has(d));
    const l = inside.length ? 1 + Math.max(...inside.map((d) => depthOf(d, seen))) : 0;
    layer.set(i, l);
    return l;
  };
  members.forEach((i) => depthOf(i, new Set()));
  const layers = [];
  members.forEach((i) => (layers[layer.get(i)] = layers[layer.get(i)] || []).push(i));
  layers.forEach((l) => l.sort((a, b) => NODES[a].name.localeCompare(NODES[b].name)));
  const position = new Map();
  const place = () => layers.forEach((l) => l.forEach((i, k) => position.set(i, k)));
  place();
  // Barycentre sweeps: each node moves towards the mean position of its neighbours.
  for (let sweep = 0; sweep < 6; sweep++) {
    const down = sweep % 2 === 0;
    const order = down ? layers.slice(1) : layers.slice(0, -1).reverse();
    order.forEach((l) => {
      const key = new Map(l.map((i) => {
        const near = (down ? NODES[i].deps : CHILDREN[i]).filter((j) => set.has(j));
        return [i, near.length ? near.reduce((s, j) => s + position.get(j), 0) / near.length : position.get(i)];
      }));
      l.sort((a, b) => key.get(a) - key.get(b));
      l.forEach((i, k) => position.set(i, k));
    });
  }
  const width = (i) => Math.min(280, Math.max(110, NODES[i].name.length * 7 + 24));
  const H = 28, GAP_Y = 14, GAP_X = 70;
  const boxes = new Map();
  let x = 10, height = 0;
  layers.forEach((l) => {
    const w = Math.max(...l.map(width));
    l.forEach((i, k) => boxes.set(i, { x, y: 10 + k * (H + GAP_Y), w, h: H }));
    height = Math.max(height, 10 + l.length * (H + GAP_Y));
    x += w + GAP_X;
  });
  return { boxes, width: x, height: height + 10 };
}

function drawLineage(container, members, focus) {
  const list = [...members].filter((i) => GRAPH_TYPES.has(NODES[i].type));
  if (!list.length) {
    container.innerHTML = `<p class="muted">Nothing to draw.</p>`;
    return;
  }
  const { boxes, width, height } = layout(list);
  const edges = [];
  list.forEach((i) => NODES[i].deps.forEach((d) => {
    if (!boxes.has(d)) return;
    const a = boxes.get(d), b = boxes.get(i);
    const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2, mx = (x1 + x2) / 2;
    edges.push(`<path class="edge" d="M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}"/>`);
  }));
  const nodes = list.map((i) => {
    const b = boxes.get(i), n = NODES[i];
    return `<g class="node${i === focus ? " focus" : ""}" data-node="${i}" data-name="${esc(n.name)}" transform="translate(${b.x},${b.y})">` +
      `<title>${esc(n.type)} ${esc(n.id)}</title><rect width="${b.w}" height="${b.h}" fill="${color(n)}"/>` +
      `<text x="10" y="18">${esc(n.name)}</text></g>`;
  });
  const types = [...new Set(list.map((i) => NODES[i].type === "model" ? NODES[i].layer || "model" : NODES[i].type))].sort();
  const legend = types.map((t) => `<span><i style="background:${COLORS[t] || LAYER_COLORS[t] || "#e4ebf7"}"></i>${esc(t)}</span>`).join("");
  container.innerHTML = `<div class="legend">${legend}<span class="muted">${list.length} nodes</span></div>` +
    `<div class="lineage"><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${edges.join("")}${nodes.join("")}</svg></div>`;
  container.querySelectorAll("g.node").forEach((g) =>
    g.addEventListener("click", () => (location.hash = `#!/node/${g.dataset.node}`)));
}

// ---- pages --------------------------------------------------------------------------------

function overview() {
  const graph = NODES.map((n, i) => i).filter((i) => GRAPH_TYPES.has(NODES[i].type));
  const counts = {};
  NODES.forEach((n) => (counts[n.type] = (counts[n.type] || 0) + 1));
  const plural = (t, k) => (k === 1 ? t : t === "analysis" ? "analyses" : `${t}s`);
  const summary = Object.keys(counts).sort().map((t) => `${counts[t]} ${esc(plural(t, counts[t]))}`).join(", ");
  $("#main").innerHTML = `<h1>${esc(DOCS.project)}</h1><p class="muted">${summary}. Generated ${esc(DOCS.generated_at)} for ${esc(DOCS.adapter)}.</p><div id="graph"></div>`;
  if (graph.length <= OVERVIEW_LIMIT) drawLineage($("#graph"), graph, null);
  else $("#graph").innerHTML = `<p>The project has ${graph.length} nodes: search above, open one from the tree, or type a selector (<code>tag:gold+</code>, <code>+model_name</code>) to draw part of its lineage.</p>`;
}

function selection(expression) {
  $("#select").value = expression;
  let chosen;
  try {
    chosen = select(expression);
  } catch (e) {
    $("#main").innerHTML = `<h1>Selector</h1><p class="error">${esc(e.message)}</p>`;
    return;
  }
  $("#main").innerHTML = `<h1>Selected: <code>${esc(expression)}</code></h1><div id="graph"></div><h2>Nodes</h2><p>${[...chosen].map(link).join(", ") || "none"}</p>`;
  drawLineage($("#graph"), chosen, null);
}

function columnsTable(data, highlight) {
  if (!data.columns.length) return `<p class="muted">No columns known (not in the catalog, nor documented).</p>`;
  const rows = data.columns.map((c) => {
    const from = !c.lineage ? "" : c.lineage.length ? c.lineage.map((u) => esc(u)).join("<br>") : '<span class="muted">no column (a constant or a row count)</span>';
    return `<tr data-column="${esc(c.name)}"${highlight && c.name.toLowerCase() === highlight.toLowerCase() ? ' class="highlight"' : ""}>` +
      `<td><code>${esc(c.name)}</code></td><td class="type">${esc(c.type || "")}</td><td>${c.desc_html || ""}</td>` +
      `<td>${c.tests.map(esc).join(", ")}</td><td>${from}</td></tr>`;
  }).join("");
  return `<table id="columns"><tr><th>Column</th><th>Type</th><th>Description</th><th>Tests</th><th>Computed from</th></tr>${rows}</table>`;
}

async function nodePage(i, column) {
  const n = NODES[i];
  if (!n) return overview();
  $("#main").innerHTML = `<h1>${esc(n.name)}</h1><p class="muted">Loading…</p>`;
  let data;
  try {
    data = await details(i);
  } catch (e) {
    $("#main").innerHTML = `<h1>${esc(n.name)}</h1><p class="error">${esc(e.message)}</p>`;
    return;
  }
  const depth = +(sessionStorage.getItem("strata.depth") || 1);
  const badges = [n.type, n.mat, n.schema ? `${n.schema}.${data.alias || n.name}` : null].filter(Boolean).map((b) => `<span class="badge">${esc(b)}</span>`).join("");
  const catalog = data.catalog
    ? `<p class="muted">${esc(data.catalog.type)}${data.catalog.owner ? ", owner " + esc(data.catalog.owner) : ""}${data.catalog.comment ? ": " + esc(data.catalog.comment) : ""}</p>` +
      (data.catalog.stats.length ? `<table>${data.catalog.stats.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}</table>` : "")
    : "";
  const personal = data.personal_data ? `<h2>Personal data</h2><pre>${esc(JSON.stringify(data.personal_data, null, 2))}</pre>` : "";
  const deps = n.deps.map(link).join(", ") || "nothing";
  const refs = CHILDREN[i].map(link).join(", ") || "nothing";
  const code = (title, sql) => sql ? `<h2>${title}</h2><pre><code>${esc(sql)}</code></pre>` : "";
  $("#main").innerHTML = `<h1>${esc(n.name)}</h1><p>${badges}</p><p class="muted">${esc(n.path)}</p>` +
    `<div class="description">${data.desc_html || '<p class="muted">No description.</p>'}</div>` +
    `<h2>Lineage <select id="depth">${[1, 2, 3, 0].map((d) => `<option value="${d}"${d === depth ? " selected" : ""}>${d ? `${d} up and down` : "all"}</option>`).join("")}</select></h2><div id="graph"></div>` +
    `<h2>Columns</h2>${catalog}${columnsTable(data, column)}${personal}` +
    `<h2>Depends on</h2><p>${deps}</p><h2>Referenced by</h2><p>${refs}</p>` +
    (data.config ? `<h2>Config</h2><pre>${esc(JSON.stringify(data.config, null, 2))}</pre>` : "") +
    code("Code", data.raw) + code("Compiled code", data.compiled);
  const draw = () => {
    const d = +$("#depth").value;
    sessionStorage.setItem("strata.depth", d);
    const up = walk([i], (j) => NODES[j].deps, d || null);
    const down = walk([i], (j) => CHILDREN[j], d || null);
    drawLineage($("#graph"), new Set([...up, ...down]), i);
  };
  $("#depth").addEventListener("change", draw);
  draw();
  if (column) document.querySelector("tr.highlight")?.scrollIntoView({ block: "center" });
}

function route() {
  $("#results").hidden = true;
  const hash = decodeURIComponent(location.hash.replace(/^#!?\/?/, ""));
  const [page, ...rest] = hash.split("/");
  if (page === "node") nodePage(BY_ID.has(rest[0]) ? BY_ID.get(rest[0]) : +rest[0], rest.slice(1).join("/"));
  else if (page === "select") selection(rest.join("/"));
  else overview();
}

tree();
window.addEventListener("hashchange", route);
// After the page's last script: static_index.html defines every node's data there.
$("#search").addEventListener("input", (e) => search(e.target.value));
$("#select-form").addEventListener("submit", (e) => {
  e.preventDefault();
  location.hash = `#!/select/${encodeURIComponent($("#select").value)}`;
});
document.addEventListener("DOMContentLoaded", route);
