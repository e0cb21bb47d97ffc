//! Data versions: of sources (the engine's own, file listings), of the rights ledger, of
//! views and ephemeral models (derived from their inputs'), and of the project's macros.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

use super::hex_digest;
use crate::compile::{Relation, RelationKind};
use crate::materialize::RelationCache;
use crate::project::{Node, Project, ResourceType, Source};
use crate::session::Session;

/// A relation's key among the engine's data versions.
pub(super) fn engine_key(relation: &Relation) -> (String, String) {
    (
        relation.schema.to_lowercase(),
        relation.identifier.to_lowercase(),
    )
}

/// The engine's data versions of every schema the project's relations and sources are in
/// (from the run's catalog listing where it has the schema), or None where the engine keeps
/// none. A schema that cannot be read has none: its relations are rebuilt.
pub(super) async fn engine_versions(
    session: &Session,
    cache: &RelationCache,
) -> Option<HashMap<(String, String), String>> {
    let target = &session.project.target;
    // The target schema is always listed before a run; without versions for it, the
    // engine keeps none.
    cache.versions_in(&target.schema)?;
    // Each schema once, whichever database its relations name.
    let mut schemas = std::collections::BTreeMap::new();
    let mut add = |r: Relation| {
        schemas
            .entry(r.schema.to_lowercase())
            .or_insert((r.database.unwrap_or_default(), r.schema));
    };
    for node in session.project.nodes.values() {
        if let Some(r) = session.compiler.relation_of(&node.relation_key()) {
            add(r);
        }
    }
    for source in session.project.sources.values() {
        if let Some(r) = session
            .compiler
            .source_relation(&source.source_name, &source.name)
        {
            add(r);
        }
    }
    schemas
        .entry(target.schema.to_lowercase())
        .or_insert((target.database.clone(), target.schema.clone()));
    let mut versions = HashMap::new();
    for (key, (database, schema)) in schemas {
        let read = match cache.versions_in(&schema) {
            Some(listed) => Some(listed),
            None => session
                .adapter
                .list_relations_versioned(&database, &schema)
                .await
                .ok()
                .and_then(|(_, v)| v),
        };
        for (identifier, version) in read.unwrap_or_default() {
            versions.insert((key.clone(), identifier), version);
        }
    }
    Some(versions)
}

/// Views and ephemeral models store no data: theirs is a function of their inputs'.
pub(super) fn derives_its_data(node: &Node) -> bool {
    node.resource_type == ResourceType::Model
        && matches!(node.config.materialized(), "view" | "ephemeral")
}

pub(super) fn derived_version(node: &Node, inputs: &BTreeMap<String, String>) -> String {
    let inputs = serde_json::to_string(inputs).unwrap_or_default();
    hex_digest(&format!(
        "{}\u{1f}{}\u{1f}{inputs}",
        node.unique_id, node.checksum
    ))
}

/// The macros of the project and its packages, and Strata's version (its built-in
/// materializations): a change to any of them rebuilds everything.
pub(super) fn environment(project: &Project) -> String {
    let mut text = String::from(env!("CARGO_PKG_VERSION"));
    for f in &project.macro_files {
        text.push('\u{1f}');
        text.push_str(&f.template_name);
        text.push('\u{1f}');
        text.push_str(&f.source);
    }
    hex_digest(&text)
}

/// A file source's version: the files under the paths its external location names, with
/// their sizes and modification times. Anything else counts as changed in every run.
pub(super) fn source_version(project: &Project, source: &Source, run_id: &str) -> String {
    let changed = || format!("changed:{run_id}");
    let Some(location) = source
        .config
        .get("external_location")
        .and_then(Value::as_str)
    else {
        return changed();
    };
    let paths = quoted_paths(location);
    if paths.is_empty() || paths.iter().any(|p| p.contains("://")) {
        return changed();
    }
    let mut listing = Vec::new();
    for path in paths {
        // Everything under the part of the path before its first wildcard.
        let base: String = path
            .split('/')
            .take_while(|part| !part.contains(['*', '?', '[', '{']))
            .collect::<Vec<_>>()
            .join("/");
        let root = project.root.join(if base.is_empty() { "." } else { &base });
        for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
            let Ok(entry) = entry else {
                return changed();
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(meta) = entry.metadata() else {
                return changed();
            };
            let modified = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            listing.push(format!(
                "{}\u{1f}{}\u{1f}{modified}",
                entry.path().display(),
                meta.len()
            ));
        }
        if !root.exists() {
            listing.push(format!("{}: missing", root.display()));
        }
    }
    hex_digest(&listing.join("\n"))
}

/// The quoted strings of an external location that name files (`'data/x/*.jsonl'`).
fn quoted_paths(location: &str) -> Vec<String> {
    location
        .split('\'')
        .skip(1)
        .step_by(2)
        .filter(|s| s.contains('/') && !s.contains(' ') && Path::new(s).extension().is_some())
        .map(str::to_string)
        .collect()
}

/// The rights ledger's erasures so far (their count and the newest), or "none".
pub(super) async fn ledger_version(session: &Session) -> String {
    let target = &session.project.target;
    let ledger = session.compiler.relation(
        Some(&target.database),
        &target.schema,
        crate::project::rights::LEDGER_TABLE,
        RelationKind::Table,
    );
    let sql = format!(
        "select count(*), max(request_id) from {} where right_type in ('ERASURE', 'SA_WITHDRAW')",
        ledger.rendered
    );
    // No erasure yet reads the same whether the ledger exists or not: the first build,
    // which creates it, must not make the next one rebuild everything.
    match session.adapter.execute(&sql, true).await {
        Ok(r) => r
            .table
            .and_then(|t| t.rows.into_iter().next())
            .filter(|row| row.first().and_then(Value::as_i64) != Some(0))
            .map(|row| format!("{row:?}"))
            .unwrap_or_else(|| "none".into()),
        Err(_) => "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_come_from_the_quoted_strings() {
        let location = "read_blob('data/landing/chat_events/*/*.jsonl') where x = 'a b'";
        assert_eq!(
            quoted_paths(location),
            vec!["data/landing/chat_events/*/*.jsonl".to_string()]
        );
    }
}
