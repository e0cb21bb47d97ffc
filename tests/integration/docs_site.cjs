// Opens the generated docs site in headless Chromium (playwright-core) and reports what a
// reader sees, as JSON on stdout, for tests/integration/docs.rs to check:
//   node docs_site.cjs '{"url": "file:///.../index.html", "open": "gold_time_series",
//                        "search": "message_count", "screenshot": "/path/lineage.png"}'
// `errors`: console errors and page errors; `drawn`: the names in the lineage SVG of the
// first page; `columns`: [name, type] of the page opened by clicking `open` in the drawing;
// `search`: the result lines for `search`; `ms`: page load until the lineage is drawn.
"use strict";
const path = require("path");
const { chromium } = require(path.join(process.env.STRATA_TEST_NODE_PATH, "playwright-core"));

(async () => {
  const spec = JSON.parse(process.argv[2]);
  const browser = await chromium.launch({
    executablePath: process.env.STRATA_TEST_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const out = { errors: [], drawn: [], columns: [], search: [], ms: null };
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on("console", (m) => { if (m.type() === "error") out.errors.push(m.text()); });
    page.on("pageerror", (e) => out.errors.push(String(e)));
    page.on("requestfailed", (r) => out.errors.push(`request failed: ${r.url()}`));
    const started = Date.now();
    await page.goto(spec.url + (spec.hash || ""));
    await page.waitForSelector(spec.wait || "#graph svg g.node", { timeout: 30000 });
    out.ms = Date.now() - started;
    out.drawn = await page.$$eval("#graph svg g.node text", (ts) => ts.map((t) => t.textContent));
    if (spec.screenshot) await page.screenshot({ path: spec.screenshot, fullPage: false });
    if (spec.open) {
      await page.click(`#graph svg g.node[data-name="${spec.open}"]`);
      await page.waitForSelector("#columns tr td");
      out.columns = await page.$$eval("#columns tr[data-column]", (rows) =>
        rows.map((r) => [...r.querySelectorAll("td")].slice(0, 5).map((td) => td.textContent)));
      out.title = await page.textContent("main h1");
    }
    if (spec.search) {
      await page.fill("#search", spec.search);
      await page.waitForSelector("#results a");
      out.search = await page.$$eval("#results a", (as) => as.map((a) => a.textContent));
    }
    if (spec.select) {
      await page.fill("#select", spec.select);
      await page.press("#select", "Enter");
      await page.waitForSelector("main h1 code");
      out.selected = await page.$$eval("#graph svg g.node", (gs) => gs.map((g) => g.dataset.name));
    }
  } catch (e) {
    out.errors.push(`driver: ${e.message}`);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out));
})();
