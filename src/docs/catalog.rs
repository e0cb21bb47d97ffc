//! catalog.json in dbt's shape (schema v1): for each model, seed, snapshot and source whose
//! relation the warehouse has, its type, comment and owner, its columns with the engine's
//! types in the relation's order, and its stats.

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Map, Value};

use crate::adapters::CatalogRelation;
use crate::error::Result;
use crate::session::Session;

/// What the warehouse says of the project's relations, by lowercase (schema, name), and
/// where each node and source of the project is (its unique id's (schema, name)).
pub struct Catalog {
    relations: HashMap<(String, String), CatalogRelation>,
    keys: HashMap<String, (String, String)>,
}

impl Catalog {
    /// No query at all (`--empty-catalog`).
    pub fn empty(session: &Session) -> Self {
        Catalog {
            relations: HashMap::new(),
            keys: project_relations(session),
        }
    }

    /// One catalog read for every schema the project's relations and sources are in.
    pub async fn read(session: &Session) -> Result<Self> {
        let keys = project_relations(session);
        let schemas: BTreeSet<&String> = keys.values().map(|(schema, _)| schema).collect();
        let schemas: Vec<String> = schemas.into_iter().cloned().collect();
        let database = &session.project.target.database;
        let found = session.adapter.catalog(database, &schemas).await?;
        Ok(Catalog {
            relations: found
                .into_iter()
                .map(|r| ((r.schema.to_lowercase(), r.name.to_lowercase()), r))
                .collect(),
            keys,
        })
    }

    /// The catalog entry of a node or source, by unique id.
    pub fn of(&self, id: &str) -> Option<&CatalogRelation> {
        self.relations.get(self.keys.get(id)?)
    }

    /// Each node's and source's lowercase (schema, name), by unique id.
    pub fn keys(&self) -> &HashMap<String, (String, String)> {
        &self.keys
    }
}

/// Each model, seed, snapshot and source relation of the project: unique id ->
/// lowercase (schema, name).
fn project_relations(session: &Session) -> HashMap<String, (String, String)> {
    let mut out = HashMap::new();
    for node in session.project.nodes.values() {
        if !node.is_relational() || node.is_ephemeral() {
            continue;
        }
        if let Some(r) = session.compiler.relation_of(&node.relation_key()) {
            out.insert(
                node.unique_id.clone(),
                (r.schema.to_lowercase(), r.identifier.to_lowercase()),
            );
        }
    }
    for source in session.project.sources.values() {
        if let Some(r) = session
            .compiler
            .source_relation(&source.source_name, &source.name)
        {
            out.insert(
                source.unique_id.clone(),
                (r.schema.to_lowercase(), r.identifier.to_lowercase()),
            );
        }
    }
    out
}

/// catalog.json: `nodes` and `sources` by unique id, as dbt writes them.
pub fn catalog_json(session: &Session, catalog: &Catalog) -> Value {
    let database = &session.project.target.database;
    let entry = |id: &str, r: &CatalogRelation| -> Value {
        let columns: Map<String, Value> = r
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    c.name.clone(),
                    json!({"type": c.data_type, "index": i + 1, "name": c.name, "comment": c.comment}),
                )
            })
            .collect();
        let mut stats = Map::new();
        for (id, label, value) in &r.stats {
            stats.insert(
                id.clone(),
                json!({"id": id, "label": label, "value": value, "include": true, "description": ""}),
            );
        }
        stats.insert(
            "has_stats".into(),
            json!({"id": "has_stats", "label": "Has Stats?", "value": !r.stats.is_empty(),
                   "include": false, "description": "Indicates whether there are statistics for this table"}),
        );
        json!({
            "metadata": {"type": r.kind, "schema": r.schema, "name": r.name,
                         "database": database, "comment": r.comment, "owner": r.owner},
            "columns": columns,
            "stats": stats,
            "unique_id": id,
        })
    };
    let mut nodes = Map::new();
    let mut sources = Map::new();
    let mut ids: Vec<&String> = catalog.keys().keys().collect();
    ids.sort();
    for id in ids {
        let Some(r) = catalog.of(id) else {
            continue;
        };
        let into = match id.starts_with("source.") {
            true => &mut sources,
            false => &mut nodes,
        };
        into.insert(id.clone(), entry(id, r));
    }
    json!({
        "metadata": crate::artifacts::metadata(session, "catalog/v1"),
        "nodes": nodes,
        "sources": sources,
        "errors": null,
    })
}
