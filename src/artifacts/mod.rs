//! `manifest.json` and `run_results.json` in dbt's shapes (schema v12 / v6), so tools that
//! read dbt artifacts can read ours.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::compile::{Compiler, RelationKind};
use crate::error::{Error, Result};
use crate::materialize::compiled_path;
use crate::project::{Node, Project, ResourceType};
use crate::session::results::RunOutcome;
use crate::session::Session;

pub(crate) fn metadata(session: &Session, schema: &str) -> Value {
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

/// A column in dbt's manifest shape.
#[derive(Serialize)]
struct ColumnJson<'a> {
    name: &'a str,
    description: &'a str,
    meta: &'a Map<String, Value>,
    data_type: &'a Option<String>,
    tags: &'a [String],
    constraints: [(); 0],
    quote: Option<bool>,
}

/// Columns as a map by name, as dbt writes them.
struct ColumnsJson<'a>(&'a [crate::project::Column]);

impl Serialize for ColumnsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for c in self.0 {
            m.serialize_entry(
                &c.name,
                &ColumnJson {
                    name: &c.name,
                    description: &c.description,
                    meta: &c.meta,
                    data_type: &c.data_type,
                    tags: &c.tags,
                    constraints: [],
                    quote: None,
                },
            )?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct RefJson<'a> {
    name: &'a str,
    package: &'a Option<String>,
    version: Option<String>,
}

#[derive(Serialize)]
struct ChecksumJson<'a> {
    name: &'static str,
    checksum: &'a str,
}

#[derive(Serialize)]
struct DependsOnJson<'a> {
    macros: [(); 0],
    nodes: &'a [String],
}

#[derive(Serialize)]
struct TestMetadataJson<'a> {
    name: &'a str,
    kwargs: &'a Map<String, Value>,
    namespace: Option<String>,
}

/// One node of manifest.json, serialised straight from the project (dbt's key order).
#[derive(Serialize)]
struct NodeJson<'a> {
    unique_id: &'a str,
    name: &'a str,
    resource_type: &'static str,
    package_name: &'a str,
    path: &'a Path,
    original_file_path: &'a Path,
    fqn: &'a [String],
    alias: String,
    database: Option<String>,
    schema: String,
    checksum: ChecksumJson<'a>,
    config: &'a Map<String, Value>,
    tags: Vec<String>,
    description: &'a str,
    columns: ColumnsJson<'a>,
    /// `{}` when the node has no meta.
    #[serde(serialize_with = "meta_or_empty")]
    meta: Option<&'a Value>,
    patch_path: Option<String>,
    raw_code: &'a str,
    language: &'static str,
    refs: Vec<RefJson<'a>>,
    sources: &'a [(String, String)],
    metrics: [(); 0],
    depends_on: DependsOnJson<'a>,
    compiled_path: Option<PathBuf>,
    relation_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test_metadata: Option<TestMetadataJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column_name: Option<&'a Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attached_node: Option<&'a Option<String>>,
}

fn meta_or_empty<S: serde::Serializer>(
    meta: &Option<&Value>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match meta {
        Some(m) => m.serialize(s),
        None => Map::new().serialize(s),
    }
}

fn node_json<'a>(project: &'a Project, compiler: &Compiler, node: &'a Node) -> NodeJson<'a> {
    let rel = compiler.relation_of(&node.relation_key());
    let (database, schema, alias) = match &rel {
        Some(r) if r.kind != RelationKind::Cte => {
            (r.database.clone(), r.schema.clone(), r.identifier.clone())
        }
        _ => (
            Some(project.target.database.clone()),
            project.target.schema.clone(),
            node.alias().to_string(),
        ),
    };
    let test = node.test_metadata.as_ref();
    NodeJson {
        unique_id: &node.unique_id,
        name: &node.name,
        resource_type: node.listed_resource_type(),
        package_name: &node.package_name,
        path: &node.path,
        original_file_path: &node.original_file_path,
        fqn: &node.fqn,
        alias,
        database,
        schema,
        checksum: ChecksumJson {
            name: "sha256",
            checksum: &node.checksum,
        },
        config: node.config.entries(),
        tags: node.config.tags(),
        description: &node.description,
        columns: ColumnsJson(&node.columns),
        meta: node.config.get("meta"),
        patch_path: node
            .patch_path
            .as_ref()
            .map(|p| format!("{}://{}", node.package_name, p.display())),
        raw_code: &node.raw_code,
        language: "sql",
        refs: node
            .refs
            .iter()
            .map(|r| RefJson {
                name: &r.name,
                package: &r.package,
                version: None,
            })
            .collect(),
        sources: &node.source_refs,
        metrics: [],
        depends_on: DependsOnJson {
            macros: [],
            nodes: &node.depends_on,
        },
        compiled_path: (node.resource_type != ResourceType::Seed).then(|| {
            let path = compiled_path(project, node);
            path.strip_prefix(&project.root)
                .map(Path::to_path_buf)
                .unwrap_or(path)
        }),
        relation_name: rel
            .filter(|r| r.kind != RelationKind::Cte)
            .map(|r| r.rendered),
        test_metadata: test.map(|t| TestMetadataJson {
            name: &t.name,
            kwargs: &t.kwargs,
            namespace: None,
        }),
        column_name: test.map(|t| &t.column_name),
        attached_node: test.map(|t| &t.attached_node),
    }
}

/// Everything in manifest.json but `nodes` (the bulk), in the file's key order.
fn manifest_rest(session: &Session) -> Vec<(&'static str, Value)> {
    let p = &session.project;
    let sources = sources_json(session);
    let unit_tests = unit_tests_json(p);
    let exposures = exposures_json(p);
    let macros = macros_json(p);
    let docs = docs_json(p);
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
        ("exposures", Value::Object(exposures)),
        ("metrics", json!({})),
        ("groups", json!({})),
        ("selectors", json!({})),
        ("disabled", json!({})),
        ("parent_map", sorted(parents)),
        ("child_map", sorted(children)),
        ("group_map", json!({})),
        ("saved_queries", json!({})),
        ("semantic_models", json!({})),
        ("unit_tests", Value::Object(unit_tests)),
    ]
}

fn sources_json(session: &Session) -> Map<String, Value> {
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
                "freshness": s.freshness, "columns": ColumnsJson(&s.columns), "config": s.config.entries(),
                "tags": s.tags, "meta": s.config.get("meta").cloned().unwrap_or(json!({})),
                "relation_name": rel.map(|r| r.rendered),
            }),
        );
    }
    sources
}

fn unit_tests_json(p: &Project) -> Map<String, Value> {
    let mut unit_tests = Map::new();
    for (id, spec) in &p.unit_tests {
        let Some(n) = p.nodes.get(id) else { continue };
        unit_tests.insert(
            id.clone(),
            json!({
                "name": n.name, "resource_type": "unit_test", "package_name": p.name(),
                "path": n.path, "original_file_path": n.original_file_path, "unique_id": id,
                "fqn": n.fqn, "description": spec.description, "model": spec.model,
                "given": spec.given, "expect": spec.expect, "overrides": spec.overrides,
                "depends_on": {"macros": [], "nodes": n.depends_on},
                "config": {"tags": n.config.tags(), "meta": n.config.get("meta").cloned().unwrap_or(json!({})), "enabled": true},
                "checksum": {"name": "sha256", "checksum": n.checksum},
            }),
        );
    }
    unit_tests
}

fn exposures_json(p: &Project) -> Map<String, Value> {
    let mut exposures = Map::new();
    for e in p.exposures.values() {
        let x = &e.spec;
        exposures.insert(
            e.unique_id.clone(),
            json!({
                "name": e.name, "resource_type": "exposure", "package_name": p.name(),
                "path": e.path, "original_file_path": e.original_file_path,
                "unique_id": e.unique_id, "fqn": e.fqn, "type": x.kind, "owner": x.owner,
                "description": x.description, "label": x.label, "maturity": x.maturity,
                "meta": x.meta, "tags": x.tags,
                "config": {"enabled": true, "tags": x.tags, "meta": x.meta},
                "url": x.url, "depends_on": {"macros": [], "nodes": e.depends_on},
                "refs": e.refs.iter().map(|r| json!({"name": r.name, "package": r.package, "version": null})).collect::<Vec<_>>(),
                "sources": e.source_refs.iter().map(|(s, t)| json!([s, t])).collect::<Vec<_>>(),
                "metrics": [],
            }),
        );
    }
    exposures
}

fn macros_json(p: &Project) -> Map<String, Value> {
    let mut macros = Map::new();
    for f in &p.macro_files {
        // macro_sql is what `state:modified` compares with the next run's macros.
        let blocks: HashMap<String, String> = crate::project::macro_blocks(&f.source)
            .into_iter()
            .map(|(name, block, _)| (name, block))
            .collect();
        for m in &f.macro_names {
            let id = format!("macro.{}.{}", f.package, m);
            macros.insert(
                id.clone(),
                json!({"unique_id": id, "name": m, "package_name": f.package,
                       "original_file_path": f.path, "path": f.path, "resource_type": "macro",
                       "macro_sql": blocks.get(m)}),
            );
        }
    }
    macros
}

fn docs_json(p: &Project) -> Map<String, Value> {
    let mut docs = Map::new();
    let mut by_name: Vec<_> = p.docs.iter().collect();
    by_name.sort();
    for (name, body) in by_name {
        let id = format!("doc.{}.{}", p.name(), name);
        docs.insert(
            id.clone(),
            json!({"unique_id": id, "name": name, "block_contents": body,
                                        "package_name": p.name(), "resource_type": "doc"}),
        );
    }
    docs
}

/// Write manifest.json without building it in memory first: the nodes (the bulk) are
/// serialised a slice at a time on every core and written in order, so neither the whole
/// JSON tree nor the whole text exists at once.
pub fn write_manifest(path: &Path, session: &Session) -> Result<()> {
    let p = &session.project;
    let compiler: &Compiler = &session.compiler;
    // Unit tests have their own section, as in dbt.
    let nodes: Vec<&Node> = p
        .nodes
        .values()
        .filter(|n| n.resource_type != ResourceType::UnitTest)
        .collect();
    write_with(path, |out| {
        out.write_all(b"{")?;
        for (i, (key, value)) in manifest_rest(session).iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, key)?;
            out.write_all(b":")?;
            if *key != "nodes" {
                serde_json::to_writer(&mut *out, value)?;
                continue;
            }
            out.write_all(b"{")?;
            let mut first = true;
            for slice in nodes.chunks(NODES_PER_SLICE) {
                let parts: Vec<&[&Node]> = slice.chunks(64).collect();
                for part in crate::parallel::map_each(&parts, |part| {
                    let mut buf = Vec::with_capacity(part.len() * 4096);
                    for n in part.iter() {
                        buf.push(b',');
                        serde_json::to_writer(&mut buf, &n.unique_id)?;
                        buf.push(b':');
                        serde_json::to_writer(&mut buf, &node_json(p, compiler, n))?;
                    }
                    Ok::<_, serde_json::Error>(buf)
                }) {
                    let part = part?;
                    // Every entry starts with a comma but the very first.
                    let skip = usize::from(first).min(part.len());
                    first = false;
                    out.write_all(&part[skip..])?;
                }
            }
            out.write_all(b"}")?;
        }
        out.write_all(b"}")
    })
}

/// Nodes serialised between two writes (bounds the memory the text takes).
const NODES_PER_SLICE: usize = 1024;

#[derive(Serialize)]
struct AdapterResponseJson<'a> {
    #[serde(rename = "_message")]
    message: &'a str,
    code: &'a str,
    // dbt leaves out what the engine did not say (readers such as OpenLineage's take a key
    // that is present as a number).
    #[serde(skip_serializing_if = "Option::is_none")]
    rows_affected: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_scanned: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    engine_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_id: &'a Option<String>,
}

/// One entry of run_results.json, serialised straight from the result (a compile of
/// 10,000 models writes 19,000 of them: no JSON tree in between).
#[derive(Serialize)]
struct ResultJson<'a> {
    unique_id: &'a str,
    status: &'static str,
    timing: &'a [crate::session::results::Timing],
    thread_id: &'a str,
    execution_time: f64,
    adapter_response: AdapterResponseJson<'a>,
    message: &'a Option<String>,
    failures: Option<u64>,
    compiled: bool,
    compiled_code: &'a Option<String>,
    relation_name: &'a Option<String>,
    batch_results: Option<&'a Value>,
}

#[derive(Serialize)]
struct RunResultsJson<'a> {
    metadata: Value,
    results: Vec<ResultJson<'a>>,
    elapsed_time: f64,
    args: &'a Value,
}

/// Write run_results.json (schema v6) for `outcome`.
pub fn write_run_results(
    path: &Path,
    session: &Session,
    outcome: &RunOutcome,
    args: &Value,
) -> Result<()> {
    let results = outcome
        .results
        .iter()
        .map(|r| ResultJson {
            unique_id: &r.unique_id,
            status: r.status.as_str(),
            timing: &r.timing,
            thread_id: &r.thread_id,
            execution_time: r.execution_time,
            adapter_response: AdapterResponseJson {
                message: &r.adapter.message,
                code: &r.adapter.message,
                rows_affected: r.adapter.rows_affected,
                bytes_scanned: r.adapter.bytes_scanned,
                engine_ms: r.adapter.engine_ms,
                query_id: &r.adapter.query_id,
            },
            message: &r.message,
            failures: r.failures,
            compiled: r.compiled_code.is_some(),
            compiled_code: &r.compiled_code,
            relation_name: &r.relation_name,
            batch_results: r.batch_results.as_ref(),
        })
        .collect();
    write_serialized(
        path,
        &RunResultsJson {
            metadata: metadata(session, "run-results/v6"),
            results,
            elapsed_time: outcome.elapsed,
            args,
        },
    )
}

pub fn write_json(path: &Path, value: &Value) -> Result<()> {
    write_serialized(path, value)
}

fn write_serialized(path: &Path, value: &impl Serialize) -> Result<()> {
    write_with(path, |out| Ok(serde_json::to_writer(out, value)?))
}

/// Write a file through `write`, compact, as dbt writes its artifacts: to a temporary file
/// renamed into place, so a reader never sees half a file.
fn write_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = path.with_extension("json.tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    write(&mut out).map_err(|e| Error::io(&tmp, e))?;
    out.flush().map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
