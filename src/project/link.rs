//! Dependency linking, once the parse render has told each node its in-file config and
//! its `ref()`/`source()` calls: disabled nodes leave, then names become unique ids (the
//! graph's edges), with the errors for unknown names and the warnings for disabled ones.

use std::collections::{HashMap, HashSet};

use super::{Config, Node, Project, RefCall, ResourceType};
use crate::error::{line_col, Error, Location, Result};

/// What the parse render of one node learnt.
pub struct NodeParse {
    pub unique_id: String,
    pub config: Config,
    pub refs: Vec<RefCall>,
    pub source_refs: Vec<(String, String)>,
}

/// Record each node's parse results, then leave out what is disabled (and the tests on
/// it, or on anything missing). Returns the names of what was disabled, for
/// [`link_dependencies`] to tell apart from unknown names.
pub fn apply_parse(project: &mut Project, parsed: Vec<NodeParse>) -> HashSet<String> {
    for p in parsed {
        if let Some(node) = project.nodes.get_mut(&p.unique_id) {
            node.config = p.config;
            node.refs = p.refs;
            node.source_refs = p.source_refs;
        }
    }
    let disabled = drop_disabled(project);
    drop_dangling_tests(project);
    disabled.into_values().collect()
}

/// Link every node and exposure to what it depends on: each node's refs and sources (and a
/// unit test's model) become unique ids in `depends_on`. An unknown name is an error that
/// points at the call; a unit test or exposure on a disabled model leaves with a warning.
/// `disabled` holds the names of what [`apply_parse`] took out.
pub fn link_dependencies(project: &mut Project, disabled: &HashSet<String>) -> Result<()> {
    let names = relational_names(project);
    let mut updates = Vec::new();
    let mut dropped = Vec::new();
    for node in project.nodes.values() {
        let mut deps = Vec::new();
        // A unit test depends on its model (the graph runs it before the model).
        if let Some(spec) = project.unit_tests.get(&node.unique_id) {
            match project.find_ref(&spec.model, None) {
                Some(model) => deps.push(model.unique_id.clone()),
                None if disabled.contains(&spec.model) => {
                    dropped.push((node.unique_id.clone(), spec.model.clone()));
                }
                None => {
                    return Err(Error::config(
                        &node.original_file_path,
                        format!(
                            "unit test '{}' is for model '{}', which is not a model in this \
                             project",
                            node.name, spec.model
                        ),
                    ))
                }
            }
        }
        deps.extend(ref_and_source_dependencies(
            project, node, disabled, &names,
        )?);
        deps.dedup();
        updates.push((node.unique_id.clone(), deps));
    }
    for (id, deps) in updates {
        if let Some(n) = project.nodes.get_mut(&id) {
            n.depends_on = deps;
        }
    }
    for (id, model) in dropped {
        project.nodes.remove(&id);
        project.unit_tests.remove(&id);
        project.warnings.push(format!(
            "unit test '{}' is for model '{model}', which is disabled: the test is left out",
            id.rsplit('.').next().unwrap_or(&id)
        ));
    }
    resolve_exposures(project, disabled)
}

/// What each exposure depends on, as unique ids. One that depends on a disabled model
/// leaves with a warning (as a test would); an unknown name is an error.
fn resolve_exposures(project: &mut Project, disabled: &HashSet<String>) -> Result<()> {
    let mut resolved = Vec::new();
    let mut dropped = Vec::new();
    for e in project.exposures.values() {
        let mut deps = Vec::new();
        let mut missing = None;
        for r in &e.refs {
            match project.find_ref(&r.name, r.package.as_deref()) {
                Some(n) => deps.push(n.unique_id.clone()),
                None if disabled.contains(&r.name) => missing = Some(r.name.clone()),
                None => {
                    return Err(Error::config(
                        &e.original_file_path,
                        format!(
                            "exposure '{}' depends on '{}', which is not a model, seed or snapshot",
                            e.name, r.name
                        ),
                    ))
                }
            }
        }
        for (s, t) in &e.source_refs {
            match project.find_source(s, t) {
                Some(src) => deps.push(src.unique_id.clone()),
                None => {
                    return Err(Error::config(
                        &e.original_file_path,
                        format!(
                            "exposure '{}' depends on source('{s}', '{t}'), which is not \
                             declared",
                            e.name
                        ),
                    ))
                }
            }
        }
        match missing {
            Some(name) => dropped.push((e.unique_id.clone(), e.name.clone(), name)),
            None => resolved.push((e.unique_id.clone(), deps)),
        }
    }
    for (id, deps) in resolved {
        if let Some(e) = project.exposures.get_mut(&id) {
            e.depends_on = deps;
        }
    }
    for (id, exposure, model) in dropped {
        project.exposures.remove(&id);
        project.warnings.push(format!(
            "exposure '{exposure}' depends on '{model}', which is disabled: the exposure is left out"
        ));
    }
    Ok(())
}

/// Disabled nodes and sources leave the project, and generic tests declared on them go with
/// them (as in dbt). Returns what left, name by unique id (anything else that refers to one
/// is told it is disabled).
fn drop_disabled(project: &mut Project) -> HashMap<String, String> {
    let mut disabled: HashMap<String, String> = project
        .nodes
        .values()
        .filter(|n| !n.config.enabled())
        .map(|n| (n.unique_id.clone(), n.name.clone()))
        .collect();
    disabled.extend(
        project
            .sources
            .values()
            .filter(|s| !s.config.enabled())
            .map(|s| (s.unique_id.clone(), format!("{}.{}", s.source_name, s.name))),
    );
    project.sources.retain(|_, s| s.config.enabled());
    project.nodes.retain(|_, n| {
        let on_disabled = n
            .test_metadata
            .as_ref()
            .and_then(|t| t.attached_node.as_ref())
            .is_some_and(|a| disabled.contains_key(a));
        n.config.enabled() && !on_disabled
    });
    disabled
}

/// A test that refers to a model, seed or source that is disabled or missing is left out
/// with a warning, as in dbt (a relationships test `to:` a disabled model).
fn drop_dangling_tests(project: &mut Project) {
    let names = relational_names(project);
    let dangling: Vec<(String, String)> = project
        .nodes
        .values()
        .filter(|n| n.resource_type == ResourceType::Test)
        .filter_map(|n| {
            let missing = n
                .refs
                .iter()
                .find(|r| project.find_ref(&r.name, r.package.as_deref()).is_none())
                .map(|r| r.name.clone())
                .or_else(|| {
                    n.source_refs
                        .iter()
                        .find(|(s, t)| project.find_source(s, t).is_none())
                        .map(|(s, t)| format!("{s}.{t}"))
                })?;
            let closest = crate::error::closest(names.iter().map(String::as_str), &missing, 0.8)
                .map(|k| format!("; did you mean '{k}'?"))
                .unwrap_or_default();
            Some((
                n.unique_id.clone(),
                format!(
                    "{}: test '{}' refers to '{missing}', which is disabled or not in this \
                         project (the test is left out{closest})",
                    n.original_file_path.display(),
                    n.name
                ),
            ))
        })
        .collect();
    for (id, warning) in dangling {
        project.nodes.remove(&id);
        project.warnings.push(warning);
    }
}

/// The unique ids a node's `ref()` and `source()` calls name; an unknown or disabled one is
/// an error that points at the call.
fn ref_and_source_dependencies(
    project: &Project,
    node: &Node,
    disabled: &HashSet<String>,
    names: &[String],
) -> Result<Vec<String>> {
    let mut deps = Vec::new();
    for r in &node.refs {
        match project.find_ref(&r.name, r.package.as_deref()) {
            Some(target) => deps.push(target.unique_id.clone()),
            None if disabled.contains(&r.name) => {
                let mut e = unknown_ref(node, "ref", &r.name, &r.name, &[]);
                if let Error::Reference { message, .. } = &mut e {
                    *message = format!(
                        "{} '{}' refers to '{}', which is disabled",
                        node.resource_type.as_str(),
                        node.name,
                        r.name
                    );
                }
                return Err(e);
            }
            None => return Err(unknown_ref(node, "ref", &r.name, &r.name, names)),
        }
    }
    for (s, t) in &node.source_refs {
        match project.find_source(s, t) {
            Some(src) => deps.push(src.unique_id.clone()),
            None => {
                let known: Vec<String> = project
                    .sources
                    .values()
                    .map(|x| format!("{}.{}", x.source_name, x.name))
                    .collect();
                return Err(unknown_ref(node, "source", &format!("{s}.{t}"), t, &known));
            }
        }
    }
    Ok(deps)
}

/// `what` is "ref" or "source"; `needle` is the quoted name to locate in the file.
fn unknown_ref(node: &Node, what: &str, name: &str, needle: &str, known: &[String]) -> Error {
    let closest = crate::error::closest(known.iter().map(String::as_str), name, 0.8)
        .map(|k| format!(" (did you mean '{k}'?)"))
        .unwrap_or_default();
    let (line, column) = node
        .raw_code
        .find(&format!("'{needle}'"))
        .or_else(|| node.raw_code.find(&format!("\"{needle}\"")))
        .map(|i| line_col(&node.raw_code, i))
        .unwrap_or((1, 1));
    Error::Reference {
        location: Location {
            path: node.original_file_path.clone(),
            line,
            column,
        },
        message: format!(
            "{} '{}' refers to {}'{name}', which is not {} in this project{closest}",
            node.resource_type.as_str(),
            node.name,
            if what == "source" { "source " } else { "" },
            if what == "source" {
                "a declared source table"
            } else {
                "a model, seed or snapshot"
            },
        ),
    }
}

/// The names `ref()` can reach: models, seeds and snapshots.
fn relational_names(project: &Project) -> Vec<String> {
    project
        .nodes
        .values()
        .filter(|n| n.is_relational_kind())
        .map(|n| n.name.clone())
        .collect()
}
