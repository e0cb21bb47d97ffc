//! Which relations hold personal data, and how their rows belong to a subject.
//!
//! A model, seed or source declares it under `meta.personal_data` in its YAML:
//!
//! ```yaml
//! - name: bronze_chat_events
//!   meta:
//!     personal_data: {subject_key: user_id}
//! - name: silver_message_daily          # keyed by chat, reached through the user's chats
//!   meta:
//!     personal_data:
//!       subject_key: chat_id
//!       via: {relation: bronze_chat_events, key: chat_id, subject_key: user_id}
//! - name: gold_time_series
//!   meta:
//!     personal_data: {exempt: "aggregates over all users; no subject ids"}
//! ```

use std::collections::{BTreeSet, HashSet};

use serde::Deserialize;

use crate::compile::Relation;
use crate::error::{Error, Result};
use crate::project::{Node, Project, RightsConfig};
use crate::session::Session;

/// How rows of a relation reach a subject through another relation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Via {
    /// The model or seed that maps keys to subjects.
    pub relation: String,
    /// Its column matching this relation's key.
    pub key: String,
    /// Its column holding the subject id.
    pub subject_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalData {
    #[serde(default)]
    pub subject_key: Option<String>,
    #[serde(default)]
    pub via: Option<Via>,
    #[serde(default)]
    pub exempt: Option<String>,
}

/// A declared relation with personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub unique_id: String,
    pub name: String,
    /// The column of this relation that keys the subject (directly or via `via`).
    pub key: String,
    pub via: Option<Via>,
}

pub fn declaration(node: &Node) -> std::result::Result<Option<PersonalData>, String> {
    let Some(meta) = node.config.get("meta") else {
        return Ok(None);
    };
    let Some(v) = meta.get("personal_data") else {
        return Ok(None);
    };
    if v.is_null() {
        return Ok(None);
    }
    let pd: PersonalData =
        serde_json::from_value(v.clone()).map_err(|e| format!("meta.personal_data: {e}"))?;
    match (&pd.subject_key, &pd.exempt) {
        (None, None) => Err("meta.personal_data needs subject_key (or exempt: \"reason\")".into()),
        (Some(_), Some(_)) => {
            Err("meta.personal_data: subject_key and exempt exclude each other".into())
        }
        (None, Some(reason)) if reason.trim().is_empty() => {
            Err("meta.personal_data.exempt needs a reason".into())
        }
        _ if pd.via.is_some() && pd.subject_key.is_none() => {
            Err("meta.personal_data.via needs subject_key".into())
        }
        _ => Ok(Some(pd)),
    }
}

fn node_location(node: &Node) -> std::path::PathBuf {
    node.patch_path
        .clone()
        .unwrap_or_else(|| node.original_file_path.clone())
}

/// The relations with personal data, in graph-independent name order. Models must be
/// materialized (table or incremental) or seeds: views and ephemerals derive from them.
pub fn declared(project: &Project) -> Result<Vec<Declared>> {
    let mut out = Vec::new();
    for node in project.nodes.values() {
        if !node.is_relational_kind() {
            continue;
        }
        let pd = declaration(node)
            .map_err(|m| Error::config(node_location(node), format!("{}: {m}", node.name)))?;
        let Some(pd) = pd else { continue };
        let Some(key) = pd.subject_key else { continue };
        if matches!(node.config.materialized(), "view" | "ephemeral") {
            return Err(Error::config(
                node_location(node),
                format!(
                    "{}: personal data is declared on the relations that store it; a {} derives \
                     from them (declare its parents instead, or use exempt)",
                    node.name,
                    node.config.materialized()
                ),
            ));
        }
        out.push(Declared {
            unique_id: node.unique_id.clone(),
            name: node.name.clone(),
            key,
            via: pd.via,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    for d in &out {
        if let Some(via) = &d.via {
            if project.find_ref(&via.relation, None).is_none() {
                let node = &project.nodes[&d.unique_id];
                return Err(Error::config(
                    node_location(node),
                    format!(
                        "{}: personal_data.via.relation '{}' is not a model or seed",
                        d.name, via.relation
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// The coverage check: every relation whose columns include a subject column declares its
/// personal data (or is exempt), and every declared key column exists. `columns_of` gives a
/// relation's columns (from YAML at compile time, from the warehouse after a build).
pub fn coverage(
    project: &Project,
    subject_columns: &[String],
    columns_of: &dyn Fn(&Node) -> Option<Vec<String>>,
) -> Vec<Error> {
    let mut errors = Vec::new();
    for node in project.nodes.values() {
        if !node.is_relational_kind() || node.is_ephemeral() {
            continue;
        }
        let Some(cols) = columns_of(node) else {
            continue;
        };
        let has = |c: &str| cols.iter().any(|x| x.eq_ignore_ascii_case(c));
        let decl = match declaration(node) {
            Ok(d) => d,
            Err(m) => {
                errors.push(Error::config(
                    node_location(node),
                    format!("{}: {m}", node.name),
                ));
                continue;
            }
        };
        match decl {
            None => {
                let found: Vec<&String> = subject_columns.iter().filter(|s| has(s)).collect();
                if !found.is_empty() && !matches!(node.config.materialized(), "view") {
                    errors.push(Error::config(
                        node_location(node),
                        format!(
                            "{} has subject column {} but declares no personal data: add \
                             meta.personal_data (subject_key, or exempt: \"reason\")",
                            node.name,
                            found
                                .iter()
                                .map(|s| format!("'{s}'"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
            Some(pd) => {
                if let Some(k) = &pd.subject_key {
                    if !has(k) {
                        errors.push(Error::config(
                            node_location(node),
                            format!("{}: declared subject_key '{k}' is not a column of it (columns: {})", node.name, cols.join(", ")),
                        ));
                    }
                }
            }
        }
    }
    errors
}

/// Before answering requests, the check against what the warehouse holds (the YAML may list
/// fewer columns than a model has, and a table outlives the model that built it): every
/// built relation of the project with a subject column declares its personal data, each
/// `via` names columns its relation has, and no other table in the project's schemas has a
/// subject column unless `rights.exempt_relations` says why. An erasure is only "200" if
/// every place that can hold the subject was looked at.
pub async fn check_warehouse(
    session: &Session,
    config: &RightsConfig,
    declared: &[Declared],
) -> Result<()> {
    super::coverage::check(session, true).await?;
    check_via_columns(session, declared).await?;
    let (schemas, built) = schemas_and_built(session).await?;
    check_unbuilt_tables(session, config, &schemas, &built).await
}

fn column_names(cols: &[crate::adapters::ColumnInfo]) -> String {
    cols.iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each `via` names a key and a subject_key its relation has (once that relation is built).
async fn check_via_columns(session: &Session, declared: &[Declared]) -> Result<()> {
    let project = &session.project;
    for d in declared {
        let Some(via) = &d.via else { continue };
        let Some(r) = session.compiler.relation_of(&via.relation) else {
            continue;
        };
        // Not built yet: nothing can be reached through it, and the deletes say so.
        let cols = session.adapter.get_columns(&r).await?;
        if cols.is_empty() {
            continue;
        }
        for (what, col) in [("key", &via.key), ("subject_key", &via.subject_key)] {
            if !cols.iter().any(|c| c.name.eq_ignore_ascii_case(col)) {
                return Err(Error::config(
                    node_location(&project.nodes[&d.unique_id]),
                    format!(
                        "{}: personal_data.via.{what} '{col}' is not a column of {} (columns: {})",
                        d.name,
                        via.relation,
                        column_names(&cols)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A relation as (database, schema, identifier), lowercased, to compare catalog names.
type RelationKey = (String, String, String);

fn relation_key(r: &Relation) -> RelationKey {
    (
        r.database.clone().unwrap_or_default().to_lowercase(),
        r.schema.to_lowercase(),
        r.identifier.to_lowercase(),
    )
}

/// The (database, schema) pairs to look for tables in, and the relations the project builds.
async fn schemas_and_built(
    session: &Session,
) -> Result<(BTreeSet<(String, String)>, HashSet<RelationKey>)> {
    let project = &session.project;
    let mut schemas: BTreeSet<(String, String)> = BTreeSet::new();
    let mut built: HashSet<RelationKey> = HashSet::new();
    schemas.insert((
        project.target.database.clone(),
        project.target.schema.clone(),
    ));
    for node in project.nodes.values() {
        if !node.is_relational() {
            continue;
        }
        if let Some(r) = session.compiler.relation_of(&node.name) {
            schemas.insert((r.database.clone().unwrap_or_default(), r.schema.clone()));
            built.insert(relation_key(&r));
        }
    }
    // Beyond the schemas the project builds into now: every schema of a database the project
    // owns (a DuckDB file), and on shared catalogs the ones named like the project's (a removed
    // model's custom schema `<target>_x`, store_failures' `<target>_dbt_test__audit`).
    let database = project.target.database.clone();
    let prefix = format!("{}_", project.target.schema.to_lowercase());
    let own_database = session.adapter.owns_database();
    for s in session.adapter.list_schemas(&database).await? {
        if own_database || s.to_lowercase().starts_with(&prefix) {
            schemas.insert((database.clone(), s));
        }
    }
    Ok((schemas, built))
}

/// No table in `schemas` that the project does not build has a subject column, unless it is
/// exempt (`rights.exempt_relations`) or the engine's own bookkeeping.
async fn check_unbuilt_tables(
    session: &Session,
    config: &RightsConfig,
    schemas: &BTreeSet<(String, String)>,
    built: &HashSet<RelationKey>,
) -> Result<()> {
    let exempt = |schema: &str, name: &str| {
        config.exempt_relations.keys().any(|e| {
            e.eq_ignore_ascii_case(name) || e.eq_ignore_ascii_case(&format!("{schema}.{name}"))
        })
    };
    let quoting = session.adapter.dialect().quoting;
    for (database, schema) in schemas {
        let relations = session.adapter.list_relations(database, schema).await?;
        for (name, kind) in relations {
            let r = Relation::new(quoting.as_ref(), Some(database), schema, &name, "table");
            if kind == "view"
                || built.contains(&relation_key(&r))
                || name.to_lowercase().starts_with("strata_rights_")
                || exempt(schema, &name)
            {
                continue;
            }
            let cols = session.adapter.get_columns(&r).await?;
            let found: Vec<String> = config
                .subject_columns
                .iter()
                .filter(|s| cols.iter().any(|c| c.name.eq_ignore_ascii_case(s)))
                .map(|s| format!("'{s}'"))
                .collect();
            if !found.is_empty() {
                return Err(Error::config(
                    &session.project.file_path,
                    format!(
                        "table {schema}.{name} has subject column {} but no model or seed of \
                         this project builds it (a model removed or renamed leaves its table \
                         behind), so an erasure would not reach it: drop it, or list it under \
                         rights.exempt_relations with the reason it holds no one's data",
                        found.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Columns a node declares in YAML, if it declares any.
pub fn yaml_columns(node: &Node) -> Option<Vec<String>> {
    if node.columns.is_empty() {
        None
    } else {
        Some(node.columns.iter().map(|c| c.name.clone()).collect())
    }
}
