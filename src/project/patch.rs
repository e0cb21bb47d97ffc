//! YAML properties of models, seeds and snapshots (`models:` and the like): description,
//! columns and config laid over the node, and the generic tests they declare.

use std::path::Path;

use serde_json::Value;

use super::properties::{NodePatch, TestSpec};
use super::{Column, PendingTest, Project, ResourceType};
use crate::error::YamlStep::{self, Item, Key, Named};
use crate::error::{Error, Result};

/// The generic tests of a `tests:` and a `data_tests:` list (dbt takes either). An entry
/// that is not a test is reported at its line in `file` (the YAML, `yaml` as printed):
/// `owners` are the paths the lists may sit under, tried in order (a patch does not know
/// whether it came from `models:`, `seeds:` or `snapshots:`).
pub(super) fn tests_of(
    tests: &[Value],
    data_tests: &[Value],
    yaml: &Path,
    file: &Path,
    owners: &[Vec<YamlStep>],
) -> Result<Vec<TestSpec>> {
    let listed = |list: &'static str| move |(i, t)| (list, i, t);
    (tests.iter().enumerate().map(listed("tests")))
        .chain(data_tests.iter().enumerate().map(listed("data_tests")))
        .map(|(list, i, t)| {
            TestSpec::parse(t).map_err(|m| {
                owners.iter().fold(Error::config(yaml, m), |e, owner| {
                    e.at_yaml_key_of_file(file, &[&owner[..], &[Key(list), Item(i)]].concat())
                })
            })
        })
        .collect()
}

/// Each of `owners` with `steps` added (one level down: `columns: - name: x`).
pub(super) fn under<'a>(
    owners: &[Vec<YamlStep<'a>>],
    steps: &[YamlStep<'a>],
) -> Vec<Vec<YamlStep<'a>>> {
    owners.iter().map(|o| [&o[..], steps].concat()).collect()
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
    let file = project.root.join(&yaml);
    let owners: Vec<Vec<YamlStep>> = ["models", "seeds", "snapshots"]
        .iter()
        .map(|section| vec![Key(section), Named(&patch.name)])
        .collect();
    let model_tests = tests_of(&patch.tests, &patch.data_tests, &yaml, &file, &owners)?;
    let mut column_tests = Vec::new();
    for c in &patch.columns {
        let owners = under(&owners, &[Key("columns"), Named(&c.name)]);
        for t in tests_of(&c.tests, &c.data_tests, &yaml, &file, &owners)? {
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
