//! The documentation site, written by Strata into the target folder: `index.html` (the page,
//! its style and script inline), `docs/index.js` (every node's name, type, path, columns
//! and edges: what the tree, the search, the selector box and the lineage drawing need) and
//! `docs/nodes/<n>.js` (one node's descriptions, columns with types, tests, config, SQL),
//! loaded when its page opens. Everything is a script a `file://` page may load: no server,
//! no network.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{json, Map, Value};

use super::catalog::Catalog;
use super::lineage::ColumnLineage;
use crate::error::{Error, Result};
use crate::project::{Node, ResourceType};
use crate::session::Session;

const PAGE: &str = include_str!("index.html");
const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("app.js");

/// What was written: files and bytes.
pub struct Written {
    pub files: usize,
    pub bytes: u64,
}

/// One entry of the site's index, with what its page shows.
struct Entry {
    index: Value,
    details: Value,
}

/// Markdown (dbt's descriptions, `{% docs %}` blocks) to HTML, tables included.
fn markdown(text: &str) -> String {
    use pulldown_cmark::{html, Options, Parser};
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(text, Options::ENABLE_TABLES));
    out
}

/// A description's first 300 characters as plain text, for the search.
fn plain(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(300)
        .collect()
}

/// The folder a model sits in under its resource folder (`bronze`, `silver`, `gold`):
/// its colour in the drawing.
fn layer(fqn: &[String]) -> String {
    match fqn {
        [_, folder, _, ..] => folder.clone(),
        _ => String::new(),
    }
}

/// The site in `target`; with `one_file`, also `static_index.html`, which holds every
/// node's data inline (one file to mail or attach; it parses everything up front).
pub fn write(
    session: &Session,
    catalog: &Catalog,
    compiled: &HashMap<String, String>,
    lineage: &ColumnLineage,
    target: &Path,
    one_file: bool,
) -> Result<Written> {
    let entries = entries(session, catalog, compiled, lineage);
    let dir = target.join("docs");
    let nodes_dir = dir.join("nodes");
    // A node file of an earlier generate that no longer has a node must not linger.
    if nodes_dir.exists() {
        std::fs::remove_dir_all(&nodes_dir).map_err(|e| Error::io(&nodes_dir, e))?;
    }
    std::fs::create_dir_all(&nodes_dir).map_err(|e| Error::io(&nodes_dir, e))?;
    let mut written = Written { files: 0, bytes: 0 };
    let mut put = |path: &Path, text: &str| -> Result<()> {
        written.files += 1;
        written.bytes += text.len() as u64;
        std::fs::write(path, text).map_err(|e| Error::io(path, e))
    };
    let node_scripts: Vec<String> = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| format!("STRATA_NODE({i}, {});\n", script_json(&entry.details)))
        .collect();
    for (i, script) in node_scripts.iter().enumerate() {
        put(&nodes_dir.join(format!("{i}.js")), script)?;
    }
    let index = json!({
        "project": session.project.name(),
        "adapter": session.project.target.adapter_type,
        "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "nodes": entries.iter().map(|e| &e.index).collect::<Vec<_>>(),
    });
    let index_script = format!("window.STRATA_DOCS = {};\n", script_json(&index));
    put(&dir.join("index.js"), &index_script)?;
    let title = html_escape(session.project.name());
    let page = PAGE
        .replace("__TITLE__", &title)
        .replace("__STYLE__", STYLE);
    put(
        &target.join("index.html"),
        &page.replace("__SCRIPT__", SCRIPT),
    )?;
    if one_file {
        // The index inline instead of its file; the nodes' data after the app's script
        // (STRATA_NODE is defined there), so no page ever loads a file.
        let inline = page
            .replace(
                r#"<script src="docs/index.js"></script>"#,
                &format!("<script>\n{index_script}</script>"),
            )
            .replace(
                "__SCRIPT__",
                &format!("{SCRIPT}\n</script>\n<script>\n{}", node_scripts.concat()),
            );
        put(&target.join("static_index.html"), &inline)?;
    }
    Ok(written)
}

/// JSON that is safe inside a script: `</script>` and U+2028/9 cannot end or break it.
fn script_json(value: &Value) -> String {
    value
        .to_string()
        .replace("</", "<\\/")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Every node, source and exposure, by unique id, with its index entry and its page.
fn entries(
    session: &Session,
    catalog: &Catalog,
    compiled: &HashMap<String, String>,
    lineage: &ColumnLineage,
) -> Vec<Entry> {
    let project = &session.project;
    let mut ids: Vec<&String> = project
        .nodes
        .keys()
        .chain(project.sources.keys())
        .chain(project.exposures.keys())
        .collect();
    ids.sort();
    let position: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let deps = |list: &[String]| -> Vec<usize> {
        list.iter()
            .filter_map(|d| position.get(d.as_str()).copied())
            .collect()
    };
    // Each node's data tests by column ("" for the node's own).
    let mut tests: HashMap<&str, BTreeMap<String, Vec<String>>> = HashMap::new();
    for node in project.nodes.values() {
        let Some(meta) = &node.test_metadata else {
            continue;
        };
        let Some(attached) = &meta.attached_node else {
            continue;
        };
        tests
            .entry(attached.as_str())
            .or_default()
            .entry(meta.column_name.clone().unwrap_or_default().to_lowercase())
            .or_default()
            .push(meta.name.clone());
    }
    let no_tests = BTreeMap::new();
    ids.iter()
        .filter_map(|id| {
            let catalogued = catalog.of(id);
            let tests = tests.get(id.as_str()).unwrap_or(&no_tests);
            if let Some(node) = project.nodes.get(*id) {
                Some(node_entry(
                    session, node, catalogued, tests, compiled, lineage, &deps,
                ))
            } else if let Some(source) = project.sources.get(*id) {
                let columns = columns(&source.columns, catalogued, tests, None);
                let names: Vec<&Value> = columns.iter().map(|c| &c["name"]).collect();
                Some(Entry {
                    index: json!({
                        "id": id, "name": source.name, "type": "source",
                        "pkg": id.split('.').nth(1).unwrap_or_default(),
                        "path": source.original_file_path.to_string_lossy(),
                        "schema": source.schema, "db": source.database, "mat": null,
                        "tags": source.tags, "layer": "", "fqn": source.fqn.join("."),
                        "source": source.source_name,
                        "desc": plain(&source.description), "cols": names, "deps": [],
                    }),
                    details: json!({
                        "alias": source.identifier,
                        "desc_html": markdown(&source.description),
                        "columns": columns,
                        "catalog": catalogued.map(catalog_details),
                        "personal_data": source.config.get("meta").and_then(|m| m.get("personal_data")),
                        "config": source.config.entries(),
                    }),
                })
            } else {
                let e = project.exposures.get(*id)?;
                Some(Entry {
                    index: json!({
                        "id": id, "name": e.name, "type": "exposure",
                        "pkg": id.split('.').nth(1).unwrap_or_default(),
                        "path": e.original_file_path.to_string_lossy(),
                        "schema": null, "db": null, "mat": e.spec.kind,
                        "tags": [], "layer": "", "fqn": e.fqn.join("."),
                        "desc": plain(&e.spec.description), "cols": [],
                        "deps": deps(&e.depends_on),
                    }),
                    details: json!({
                        "desc_html": markdown(&e.spec.description),
                        "columns": [],
                        "config": {"type": e.spec.kind, "owner": e.spec.owner, "maturity": e.spec.maturity},
                    }),
                })
            }
        })
        .collect()
}

fn node_entry(
    session: &Session,
    node: &Node,
    catalogued: Option<&crate::adapters::CatalogRelation>,
    tests: &BTreeMap<String, Vec<String>>,
    compiled: &HashMap<String, String>,
    lineage: &ColumnLineage,
    deps: &dyn Fn(&[String]) -> Vec<usize>,
) -> Entry {
    let relation = session
        .compiler
        .relation_of(&node.relation_key())
        .filter(|_| node.is_relational() && !node.is_ephemeral());
    let origins = lineage.of(&node.unique_id);
    let columns = columns(&node.columns, catalogued, tests, origins.as_ref());
    let names: Vec<&Value> = columns.iter().map(|c| &c["name"]).collect();
    let kind = match node.resource_type {
        ResourceType::Test => "test",
        _ => node.listed_resource_type(),
    };
    let node_tests: Vec<&String> = tests.get("").into_iter().flatten().collect();
    Entry {
        index: json!({
            "id": node.unique_id, "name": node.name, "type": kind,
            "pkg": node.package_name,
            "path": node.original_file_path.to_string_lossy(),
            "schema": relation.as_ref().map(|r| r.schema.clone()),
            "db": relation.as_ref().and_then(|r| r.database.clone()),
            "mat": node.config.materialized(),
            "tags": node.config.tags(), "layer": layer(&node.fqn),
            "fqn": node.fqn.join("."),
            "desc": plain(&node.description), "cols": names,
            "deps": deps(&node.depends_on),
        }),
        details: json!({
            "alias": relation.as_ref().map(|r| r.identifier.clone()),
            "desc_html": markdown(&node.description),
            "columns": columns,
            "tests": node_tests,
            "catalog": catalogued.map(catalog_details),
            "personal_data": node.config.get("meta").and_then(|m| m.get("personal_data")),
            "config": node.config.entries(),
            "raw": node.raw_code,
            "compiled": compiled.get(&node.unique_id),
        }),
    }
}

/// The columns a page lists: the warehouse's, in its order and with its types, then the
/// documented ones it does not have; each with its description, tests and upstream columns.
fn columns(
    documented: &[crate::project::Column],
    catalogued: Option<&crate::adapters::CatalogRelation>,
    tests: &BTreeMap<String, Vec<String>>,
    lineage: Option<&BTreeMap<String, Vec<String>>>,
) -> Vec<Value> {
    let described: HashMap<String, &crate::project::Column> = documented
        .iter()
        .map(|c| (c.name.to_lowercase(), c))
        .collect();
    let mut names: Vec<(String, Option<String>)> = catalogued
        .map(|r| {
            r.columns
                .iter()
                .map(|c| (c.name.clone(), Some(c.data_type.clone())))
                .collect()
        })
        .unwrap_or_default();
    for c in documented {
        if !names.iter().any(|(n, _)| n.eq_ignore_ascii_case(&c.name)) {
            names.push((c.name.clone(), c.data_type.clone()));
        }
    }
    names
        .into_iter()
        .map(|(name, data_type)| {
            let key = name.to_lowercase();
            let doc = described.get(&key);
            let mut column = Map::new();
            column.insert("name".into(), json!(name));
            column.insert("type".into(), json!(data_type));
            column.insert(
                "desc_html".into(),
                json!(doc.map(|c| markdown(&c.description)).unwrap_or_default()),
            );
            column.insert(
                "tests".into(),
                json!(tests.get(&key).cloned().unwrap_or_default()),
            );
            if let Some(from) = lineage.and_then(|l| l.get(&key)) {
                column.insert("lineage".into(), json!(from));
            }
            Value::Object(column)
        })
        .collect()
}

fn catalog_details(r: &crate::adapters::CatalogRelation) -> Value {
    json!({
        "type": r.kind,
        "comment": r.comment,
        "owner": r.owner,
        "stats": r.stats.iter().map(|(_, label, value)| json!([label, value])).collect::<Vec<_>>(),
    })
}
