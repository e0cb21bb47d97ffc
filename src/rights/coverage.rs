//! Whether the personal data is covered: every relation with a subject column declares how
//! its rows belong to a subject (checked before a build from the YAML, after it and before
//! any rights request from what the warehouse holds).

use std::collections::{BTreeSet, HashMap, HashSet};

use super::declare::{declaration, declared, node_location, source_declaration, Declared};
use crate::compile::{Relation, RelationKind};
use crate::error::{Error, Result};
use crate::project::{Node, Project, RightsConfig};
use crate::session::Session;

/// The personal-data coverage check, for projects with a `rights:` section. `from_warehouse` reads each built relation's columns
/// (after a build); otherwise the YAML columns are used.
pub async fn check(session: &Session, from_warehouse: bool) -> Result<()> {
    // Only projects that handle data-subject rights (a `rights:` section) are held to it;
    // a plain dbt project with a user_id column builds as it does in dbt.
    let Some(settings) = &session.project.rights else {
        return Ok(());
    };
    let mut columns: HashMap<String, Vec<String>> = HashMap::new();
    for node in session.project.nodes.values() {
        let mut cols: Vec<String> = node.columns.iter().map(|c| c.name.clone()).collect();
        if from_warehouse && node.is_relational() {
            if let Some(r) = session.compiler.relation_of(&node.relation_key()) {
                if let Ok(found) = session.adapter.get_columns(&r).await {
                    cols.extend(found.into_iter().map(|c| c.name));
                }
            }
        }
        if !cols.is_empty() {
            columns.insert(node.unique_id.clone(), cols);
        }
    }
    let errors = coverage(&session.project, &settings.subject_columns, &|n| {
        columns.get(&n.unique_id).cloned()
    });
    match session.printer.first_error(errors) {
        Some(e) => Err(e),
        None => declared(&session.project).map(|_| ()),
    }
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
        let decl = match declaration(&node.config) {
            Ok(d) => d,
            Err(m) => {
                errors.push(Error::config(
                    node_location(node),
                    format!("{}: {m}", node.name),
                ));
                continue;
            }
        };
        let stores_rows = !matches!(node.config.materialized(), "view");
        if decl.is_none() && stores_rows {
            if let Some((source, path)) = reads_declared_source(project, node) {
                errors.push(Error::config(
                    node_location(node),
                    format!(
                        "{} reads source {source}{path}, which declares personal data, but \
                         declares none itself: add meta.personal_data (subject_key, so builds \
                         leave erased subjects out, or exempt: \"reason\")",
                        node.name
                    ),
                ));
                continue;
            }
        }
        let Some(cols) = columns_of(node) else {
            continue;
        };
        let has = |c: &str| cols.iter().any(|x| x.eq_ignore_ascii_case(c));
        match decl {
            None if stores_rows => {
                let found: Vec<&String> = subject_columns.iter().filter(|s| has(s)).collect();
                if !found.is_empty() {
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
            None => {}
            Some(pd) => {
                let declared_columns =
                    [("subject_key", &pd.subject_key), ("raw_text", &pd.raw_text)];
                for (what, column) in declared_columns {
                    if let Some(k) = column {
                        if !has(k) {
                            errors.push(Error::config(
                                node_location(node),
                                format!(
                                    "{}: declared {what} '{k}' is not a column of it (columns: {})",
                                    node.name,
                                    cols.join(", ")
                                ),
                            ));
                        }
                    }
                }
            }
        }
    }
    errors
}

/// The first source declaring a subject column (`meta.personal_data.subject_key`) that
/// `node` reads, directly or through views and ephemeral models, as (`source.table`, the
/// path through them). Such a node stores the subjects' rows, so it must declare them too.
fn reads_declared_source(project: &Project, node: &Node) -> Option<(String, String)> {
    let mut seen = HashSet::new();
    let mut stack: Vec<(&str, String)> = node
        .depends_on
        .iter()
        .map(|d| (d.as_str(), String::new()))
        .collect();
    while let Some((id, path)) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        if let Some(source) = project.sources.get(id) {
            if let Ok(Some(pd)) = source_declaration(source) {
                if pd.subject_key.is_some() {
                    let name = format!("{}.{}", source.source_name, source.name);
                    return Some((name, path));
                }
            }
            continue;
        }
        let Some(parent) = project.nodes.get(id) else {
            continue;
        };
        if matches!(parent.config.materialized(), "view" | "ephemeral") {
            let path = format!("{path} through {}", parent.name);
            stack.extend(parent.depends_on.iter().map(|d| (d.as_str(), path.clone())));
        }
    }
    None
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
    check(session, true).await?;
    check_via_columns(session, declared).await?;
    let (schemas, mut built) = schemas_and_built(session).await?;
    // Declared source tables are erased like the project's own relations.
    built.extend(
        declared
            .iter()
            .filter(|d| d.source.is_some())
            .filter_map(|d| d.relation(&session.compiler))
            .map(|r| {
                let (database, schema, name) = relation_key(&r);
                let database = match database.is_empty() {
                    true => session.project.target.database.to_lowercase(),
                    false => database,
                };
                (database, schema, name)
            }),
    );
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
        if let Some(r) = session.compiler.relation_of(&node.relation_key()) {
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
            let r = Relation::new(
                quoting.as_ref(),
                Some(database),
                schema,
                &name,
                RelationKind::Table,
            );
            if kind == RelationKind::View
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
