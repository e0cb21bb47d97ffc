//! Unit tests declared in YAML (`unit_tests:`): one node each, with its spec kept beside.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::files::{checksum, yaml_folders};
use super::{Config, Node, Project, ResourceType, UnitTestSpec};
use crate::error::{Error, Result};

pub(super) fn add_unit_test(project: &mut Project, spec: UnitTestSpec, yaml: &Path) -> Result<()> {
    if spec.config.get("enabled") == Some(&Value::Bool(false)) {
        return Ok(());
    }
    let unique_id = format!("unit_test.{}.{}.{}", project.name(), spec.model, spec.name);
    let mut fqn = yaml_folders(project, yaml);
    fqn.insert(0, project.name().to_string());
    fqn.push(spec.model.clone());
    fqn.push(spec.name.clone());
    let mut config = Config::default();
    config.merge(&spec.config);
    config.set_default("materialized", "unit".into());
    let node = Node {
        unique_id: unique_id.clone(),
        resource_type: ResourceType::UnitTest,
        // dbt's compiled file: <yaml>/models/<test>.sql.
        path: PathBuf::from("models").join(format!("{}.sql", spec.name)),
        original_file_path: yaml.to_path_buf(),
        fqn,
        config,
        description: spec.description.clone(),
        checksum: checksum(&serde_json::to_string(&spec).unwrap_or_default()),
        ..Node::synthetic(project.name(), &spec.name)
    };
    if project.nodes.contains_key(&unique_id) {
        return Err(Error::config(
            yaml,
            format!(
                "unit test '{}' of model '{}' is defined twice",
                spec.name, spec.model
            ),
        ));
    }
    project.nodes.insert(unique_id.clone(), node);
    project.unit_tests.insert(unique_id, spec);
    Ok(())
}
