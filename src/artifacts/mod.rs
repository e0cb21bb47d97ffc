//! `manifest.json` and `run_results.json` in dbt's shapes (schema v12 / v6), so tools that
//! read dbt artifacts can read ours.

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::compile::Compiler;
use crate::error::{Error, Result};
use crate::execute::materialize::compiled_path;
use crate::execute::{RunOutcome, Session};
use crate::project::{Node, Project, ResourceType};

fn metadata(session: &Session, schema: &str) -> Value {
    json!({
        "dbt_schema_version": format!("https://schemas.getdbt.com/dbt/{schema}.json"),
        "dbt_version": "1.10.0",
        "strata_version": env!("CARGO_PKG_VERSION"),
        "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "invocation_id": session.invocation_id,
        "env": {},
        "project_name": session.project.name(),
        "adapter_type": session.project.target.adapter_type,
    })
}

fn columns_json(cols: &[crate::project::Column]) -> Value {
    let mut m = Map::new();
    for c in cols {
        m.insert(
            c.name.clone(),
            json!({"name": c.name, "description": c.description, "meta": c.meta,
                   "data_type": c.data_type, "tags": c.tags, "constraints": [], "quote": null}),
        );
    }
    Value::Object(m)
}

fn node_json(project: &Project, compiler: &Compiler, node: &Node) -> Value {
    let rel = compiler.relation_of(&node.name);
    let (database, schema, alias) = match &rel {
        Some(r) if r.kind != "cte" => (r.database.clone(), r.schema.clone(), r.identifier.clone()),
        _ => (
            Some(project.target.database.clone()),
            project.target.schema.clone(),
            node.alias().to_string(),
        ),
    };
    let refs: Vec<Value> = node
        .refs
        .iter()
        .map(|r| json!({"name": r.name, "package": r.package, "version": null}))
        .collect();
    let sources: Vec<Value> = node
        .source_refs
        .iter()
        .map(|(s, t)| json!([s, t]))
        .collect();
    let macros: Vec<String> = Vec::new();
    let mut v = json!({
        "unique_id": node.unique_id,
        "name": node.name,
        "resource_type": node.resource_type.as_str(),
        "package_name": node.package_name,
        "path": node.path,
        "original_file_path": node.original_file_path,
        "fqn": node.fqn,
        "alias": alias,
        "database": database,
        "schema": schema,
        "checksum": {"name": "sha256", "checksum": node.checksum},
        "config": node.config.0,
        "tags": node.config.tags(),
        "description": node.description,
        "columns": columns_json(&node.columns),
        "meta": node.config.get("meta").cloned().unwrap_or(json!({})),
        "patch_path": node.patch_path.as_ref().map(|p| format!("{}://{}", node.package_name, p.display())),
        "raw_code": node.raw_code,
        "language": "sql",
        "refs": refs,
        "sources": sources,
        "metrics": [],
        "depends_on": {"macros": macros, "nodes": node.depends_on},
        "compiled_path": if node.resource_type == ResourceType::Seed { Value::Null } else {
            let path = compiled_path(project, node);
            json!(path.strip_prefix(&project.root).unwrap_or(&path))
        },
        "relation_name": rel.filter(|r| r.kind != "cte").map(|r| r.rendered),
    });
    if let Some(t) = &node.test_metadata {
        v["test_metadata"] = json!({"name": t.name, "kwargs": t.kwargs, "namespace": null});
        v["column_name"] = json!(t.column_name);
        v["attached_node"] = json!(t.attached_node);
    }
    v
}

/// Everything in manifest.json but `nodes` (the bulk), in the file's key order.
fn manifest_rest(session: &Session) -> Vec<(&'static str, Value)> {
    let p = &session.project;
    let mut sources = Map::new();
    for s in p.sources.values() {
        let rel = session.compiler.source_relation(&s.source_name, &s.name);
        sources.insert(
            s.unique_id.clone(),
            json!({
                "unique_id": s.unique_id, "name": s.name, "source_name": s.source_name,
                "resource_type": "source", "package_name": p.name(), "fqn": s.fqn,
                "original_file_path": s.original_file_path, "path": s.original_file_path,
                "database": s.database, "schema": s.schema, "identifier": s.identifier,
                "description": s.description, "source_description": s.source_description,
                "loader": s.loader.clone().unwrap_or_default(), "loaded_at_field": s.loaded_at_field,
                "freshness": s.freshness, "columns": columns_json(&s.columns), "config": s.config.0,
                "tags": s.tags, "meta": s.config.get("meta").cloned().unwrap_or(json!({})),
                "relation_name": rel.map(|r| r.rendered),
            }),
        );
    }
    let mut macros = Map::new();
    for f in &p.macro_files {
        for m in &f.macro_names {
            let id = format!("macro.{}.{}", p.name(), m);
            macros.insert(
                id.clone(),
                json!({"unique_id": id, "name": m, "package_name": p.name(),
                       "original_file_path": f.path, "path": f.path, "resource_type": "macro"}),
            );
        }
    }
    let mut docs = Map::new();
    for (name, body) in &p.docs {
        let id = format!("doc.{}.{}", p.name(), name);
        docs.insert(
            id.clone(),
            json!({"unique_id": id, "name": name, "block_contents": body,
                                        "package_name": p.name(), "resource_type": "doc"}),
        );
    }
    let (parents, children) = session.graph.maps();
    let sorted = |m: std::collections::HashMap<String, Vec<String>>| -> Value {
        let mut keys: Vec<_> = m.into_iter().collect();
        keys.sort();
        Value::Object(keys.into_iter().map(|(k, v)| (k, json!(v))).collect())
    };
    vec![
        ("metadata", metadata(session, "manifest/v12")),
        ("nodes", Value::Null),
        ("sources", Value::Object(sources)),
        ("macros", Value::Object(macros)),
        ("docs", Value::Object(docs)),
        ("exposures", json!({})),
        ("metrics", json!({})),
        ("groups", json!({})),
        ("selectors", json!({})),
        ("disabled", json!({})),
        ("parent_map", sorted(parents)),
        ("child_map", sorted(children)),
        ("group_map", json!({})),
        ("saved_queries", json!({})),
        ("semantic_models", json!({})),
        ("unit_tests", json!({})),
    ]
}

/// The whole manifest, serialised as it goes: each node's JSON is built, written and
/// dropped in turn, so the full tree (several times the file's size) never exists.
struct StreamedManifest<'a> {
    session: &'a Session,
    rest: Vec<(&'static str, Value)>,
}

struct StreamedNodes<'a>(&'a Session);

impl serde::Serialize for StreamedNodes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let p = &self.0.project;
        let compiler: &Compiler = &self.0.compiler;
        let mut m = s.serialize_map(Some(p.nodes.len()))?;
        for n in p.nodes.values() {
            m.serialize_entry(&n.unique_id, &node_json(p, compiler, n))?;
        }
        m.end()
    }
}

impl serde::Serialize for StreamedManifest<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.rest.len()))?;
        for (k, v) in &self.rest {
            if *k == "nodes" {
                m.serialize_entry(k, &StreamedNodes(self.session))?;
            } else {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// Write manifest.json without building it in memory first.
pub fn write_manifest(path: &Path, session: &Session) -> Result<()> {
    let value = StreamedManifest {
        session,
        rest: manifest_rest(session),
    };
    write_serialized(path, &value)
}

pub fn run_results(session: &Session, outcome: &RunOutcome, args: Value) -> Value {
    let results: Vec<Value> = outcome
        .results
        .iter()
        .map(|r| {
            json!({
                "unique_id": r.unique_id,
                "status": r.status.as_str(),
                "timing": r.timing,
                "thread_id": r.thread_id,
                "execution_time": r.execution_time,
                "adapter_response": {
                    "_message": r.adapter.message,
                    "code": r.adapter.message,
                    "rows_affected": r.adapter.rows_affected,
                    "bytes_scanned": r.adapter.bytes_scanned,
                    "engine_ms": r.adapter.engine_ms,
                    "query_id": r.adapter.query_id,
                },
                "message": r.message,
                "failures": r.failures,
                "compiled": r.compiled_code.is_some(),
                "compiled_code": r.compiled_code,
                "relation_name": r.relation_name,
                "batch_results": null,
            })
        })
        .collect();
    json!({
        "metadata": metadata(session, "run-results/v6"),
        "results": results,
        "elapsed_time": outcome.elapsed,
        "args": args,
    })
}

pub fn write_json(path: &Path, value: &Value) -> Result<()> {
    write_serialized(path, value)
}

fn write_serialized(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    // Compact, as dbt writes them; to a temporary file renamed into place, so a reader
    // never sees half a file.
    let tmp = path.with_extension("json.tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut out = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut out, value)
        .map_err(|e| Error::Adapter(format!("cannot serialise {}: {e}", path.display())))?;
    std::io::Write::flush(&mut out).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
