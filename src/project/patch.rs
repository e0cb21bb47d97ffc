//! YAML properties of models, seeds and snapshots (`models:` and the like): description,
//! columns and config laid over the node, and the generic tests they declare.

use std::path::Path;

use serde_json::Value;

use super::properties::{NodePatch, TestSpec};
use super::{Column, PendingTest, Project, ResourceType};
use crate::error::{Error, Result};

/// The generic tests of a `tests:` and a `data_tests:` list (dbt takes either).
pub(super) fn tests_of(
    tests: &[Value],
    data_tests: &[Value],
    yaml: &Path,
) -> Result<Vec<TestSpec>> {
    tests
        .iter()
        .chain(data_tests)
        .map(|t| TestSpec::parse(t).map_err(|m| Error::config(yaml, m)))
        .collect()
}

pub(super) fn apply_patch(project: &mut Project, patch: NodePatch) -> Result<()> {
    let name = project.name().to_string();
    let uid = [
        ResourceType::Model,
        ResourceType::Seed,
        ResourceType::Snapshot,
    ]
    .iter()
    .map(|rt| format!("{}.{}.{}", rt.as_str(), name, patch.name))
    .find(|id| project.nodes.contains_key(id));
    let Some(uid) = uid else {
        // dbt warns and goes on: a renamed or deleted model's YAML should not stop a build.
        project.warnings.push(format!(
            "{}: properties for '{}', but no model, seed or snapshot has that name (ignored)",
            patch.patch_path.display(),
            patch.name
        ));
        return Ok(());
    };
    let yaml = patch.patch_path.clone();
    let model_tests = tests_of(&patch.tests, &patch.data_tests, &yaml)?;
    let mut column_tests = Vec::new();
    for c in &patch.columns {
        for t in tests_of(&c.tests, &c.data_tests, &yaml)? {
            column_tests.push((c.name.clone(), c.tags.clone(), t));
        }
    }
    let Some(node) = project.nodes.get_mut(&uid) else {
        return Ok(());
    };
    node.description = patch.description.clone();
    node.columns = patch.columns.iter().map(Column::from).collect();
    node.patch_path = Some(yaml.clone());
    let mut overlay = patch.config.clone();
    if let Some(tags) = &patch.tags {
        overlay.insert("tags".into(), tags.clone());
    }
    if !patch.meta.is_empty() {
        overlay.insert("meta".into(), Value::Object(patch.meta.clone()));
    }
    node.config.merge(&overlay);
    let target_expr = format!("ref('{}')", patch.name);
    for (column, tags, spec) in column_tests
        .into_iter()
        .map(|(c, tags, t)| (Some(c), tags, t))
        .chain(model_tests.into_iter().map(|t| (None, Vec::new(), t)))
    {
        project.pending_tests.push(PendingTest {
            spec,
            column,
            target_expr: target_expr.clone(),
            target_name: patch.name.clone(),
            attached_node: uid.clone(),
            yaml_path: yaml.clone(),
            tags,
        });
    }
    Ok(())
}
