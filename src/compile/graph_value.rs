//! `graph`: the project as packages iterate it (dbt's flat graph: `graph.nodes` and
//! `graph.sources` by unique id, each a mapping of the node's facts). Filled once parsing
//! has linked every node, and only for projects whose templates mention `graph` (building
//! it for thousands of nodes costs more than most projects ever read).

use std::sync::{Arc, RwLock};

use minijinja::value::{Enumerator, Object, Value};
use serde_json::{json, Map, Value as Json};

use crate::project::{Column, Node, Project, Source};

/// The `graph` global; empty mappings until [`GraphGlobal::fill`].
#[derive(Debug, Default)]
pub(super) struct GraphGlobal(RwLock<Option<Value>>);

const KEYS: &[&str] = &[
    "nodes",
    "sources",
    "exposures",
    "metrics",
    "groups",
    "semantic_models",
    "saved_queries",
    "unit_tests",
];

impl Object for GraphGlobal {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        if !KEYS.contains(&key) {
            return None;
        }
        // While parsing the graph is not complete: a render that read it is not kept.
        super::reuse::block();
        let filled = self.0.read().ok().and_then(|g| g.clone());
        Some(match filled {
            Some(graph) => graph.get_attr(key).unwrap_or_default(),
            None => Value::from(std::collections::BTreeMap::<String, Value>::new()),
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(KEYS)
    }
}

impl GraphGlobal {
    /// Build the graph from the parsed project, if any of its templates mentions `graph`.
    pub(super) fn fill(&self, project: &Project) {
        let mentioned = project
            .macro_files
            .iter()
            .any(|f| f.source.contains("graph"))
            || project.nodes.values().any(|n| n.raw_code.contains("graph"));
        if !mentioned {
            return;
        }
        let nodes: Map<String, Json> = project
            .nodes
            .values()
            .map(|n| (n.unique_id.clone(), node_json(n)))
            .collect();
        let sources: Map<String, Json> = project
            .sources
            .values()
            .map(|s| (s.unique_id.clone(), source_json(s)))
            .collect();
        let graph = json!({
            "nodes": nodes, "sources": sources, "exposures": {}, "metrics": {}, "groups": {},
            "semantic_models": {}, "saved_queries": {}, "unit_tests": {},
        });
        if let Ok(mut g) = self.0.write() {
            *g = Some(Value::from_serialize(&graph));
        }
    }
}

fn columns_json(columns: &[Column]) -> Json {
    let map: Map<String, Json> = columns
        .iter()
        .map(|c| {
            let column = json!({
                "name": c.name, "description": c.description, "data_type": c.data_type,
                "meta": c.meta, "tags": c.tags,
            });
            (c.name.clone(), column)
        })
        .collect();
    Json::Object(map)
}

fn node_json(n: &Node) -> Json {
    let refs: Vec<Json> = n
        .refs
        .iter()
        .map(|r| json!({"name": r.name, "package": r.package, "version": null}))
        .collect();
    let sources: Vec<Json> = n.source_refs.iter().map(|(s, t)| json!([s, t])).collect();
    let test_metadata = n.test_metadata.as_ref().map(|t| {
        let namespace = t.name.rsplit_once('.').map(|(ns, _)| ns);
        let name = t.name.rsplit('.').next().unwrap_or(&t.name);
        json!({"name": name, "kwargs": t.kwargs, "namespace": namespace})
    });
    json!({
        "unique_id": n.unique_id,
        "name": n.name,
        "resource_type": n.resource_type.as_str(),
        "package_name": n.package_name,
        "path": n.path,
        "original_file_path": n.original_file_path,
        "fqn": n.fqn,
        "alias": n.alias(),
        "config": n.config.entries(),
        "tags": n.config.tags(),
        "meta": n.config.get("meta").cloned().unwrap_or_else(|| json!({})),
        "description": n.description,
        "columns": columns_json(&n.columns),
        "raw_code": n.raw_code,
        "language": "sql",
        "refs": refs,
        "sources": sources,
        "depends_on": {"nodes": n.depends_on, "macros": []},
        "test_metadata": test_metadata,
        "column_name": n.test_metadata.as_ref().and_then(|t| t.column_name.clone()),
        "attached_node": n.test_metadata.as_ref().and_then(|t| t.attached_node.clone()),
        "checksum": {"name": "sha256", "checksum": n.checksum},
    })
}

fn source_json(s: &Source) -> Json {
    json!({
        "unique_id": s.unique_id,
        "name": s.name,
        "source_name": s.source_name,
        "resource_type": "source",
        "package_name": s.unique_id.split('.').nth(1).unwrap_or_default(),
        "identifier": s.identifier,
        "schema": s.schema,
        "database": s.database,
        "description": s.description,
        "source_description": s.source_description,
        "loader": s.loader,
        "loaded_at_field": s.loaded_at_field,
        "freshness": s.freshness,
        "config": s.config.entries(),
        "columns": columns_json(&s.columns),
        "tags": s.tags,
        "meta": s.config.get("meta").cloned().unwrap_or_else(|| json!({})),
        "original_file_path": s.original_file_path,
        "fqn": s.fqn,
    })
}
