//! Exposures declared in YAML (`exposures:`): checked, their dependencies parsed, their
//! config taken from the project file's `exposures:` tree.

use std::path::Path;

use serde_json::Value;

use super::dependency::{dependency_by_id, parse_dependency, Dependency};
use super::files::fqn_for;
use super::properties::ExposureSpec;
use super::{config, Exposure, Project, RefCall};
use crate::error::YamlStep::{Item, Key, Named};
use crate::error::{Error, Result};

/// An `exposures:` entry, checked and configured; a disabled one is left out.
pub(super) fn add_exposure(project: &mut Project, spec: ExposureSpec, yaml: &Path) -> Result<()> {
    if spec.config.get("enabled") == Some(&Value::Bool(false)) {
        return Ok(());
    }
    let unique_id = format!("exposure.{}.{}", project.name(), spec.name);
    if project.exposures.contains_key(&unique_id) {
        return Err(Error::config(
            yaml,
            format!("exposure '{}' is defined twice", spec.name),
        ));
    }
    // Errors point at the exposure's key in its file (read again only for an error).
    let file = project.root.join(yaml);
    let bad = |m: String, key: &str| {
        let entry = [Key("exposures"), Named(&spec.name)];
        Error::config(yaml, format!("exposure '{}': {m}", spec.name))
            .at_yaml_key_of_file(&file, &[&entry[..], &[Key(key)]].concat())
            .at_yaml_key_of_file(&file, &entry)
    };
    const TYPES: &[&str] = &["dashboard", "notebook", "analysis", "ml", "application"];
    if !TYPES.contains(&spec.kind.as_str()) {
        return Err(bad(
            format!("type {:?}: expected one of {}", spec.kind, TYPES.join(", ")),
            "type",
        ));
    }
    if !spec.owner.contains_key("name") && !spec.owner.contains_key("email") {
        return Err(bad("owner needs a name or an email".into(), "owner"));
    }
    let (refs, source_refs) = exposure_dependencies(&spec, project.name(), yaml, &file)?;
    // Paths and fqn as dbt has them: from the resource folder the file sits in.
    let folder = project
        .file
        .model_paths
        .iter()
        .chain(&project.file.seed_paths)
        .chain(&project.file.test_paths)
        .map(|d| Path::new(d.trim_end_matches('/')))
        .find(|d| yaml.starts_with(d));
    let path = folder
        .and_then(|d| yaml.strip_prefix(d).ok())
        .unwrap_or(yaml)
        .to_path_buf();
    let fqn = fqn_for(project.name(), &path, &spec.name);
    // Tags and meta from the project file's exposures: tree, config and the keys.
    let mut config = config::tree_config(&project.file.exposures, &fqn);
    config.merge(&spec.config);
    if !config.enabled() {
        return Ok(());
    }
    let mut spec = spec;
    for t in config.tags() {
        if !spec.tags.contains(&t) {
            spec.tags.push(t);
        }
    }
    if let Some(Value::Object(meta)) = config.get("meta") {
        for (k, v) in meta {
            spec.meta.entry(k.clone()).or_insert(v.clone());
        }
    }
    let exposure = Exposure {
        unique_id: unique_id.clone(),
        name: spec.name.clone(),
        fqn,
        original_file_path: yaml.to_path_buf(),
        path,
        spec,
        refs,
        source_refs,
        depends_on: Vec::new(),
    };
    project.exposures.insert(unique_id, exposure);
    Ok(())
}

/// What an exposure depends on: its `ref()`s and its `source()`s (source, table).
type Dependencies = (Vec<RefCall>, Vec<(String, String)>);

/// The `ref()`s and `source()`s an exposure's `depends_on` lists (unique ids work too).
fn exposure_dependencies(
    spec: &ExposureSpec,
    project_name: &str,
    yaml: &Path,
    file: &Path,
) -> Result<Dependencies> {
    let mut refs = Vec::new();
    let mut source_refs = Vec::new();
    for (i, dep) in spec.depends_on.iter().enumerate() {
        // A unique id works too (model.<project>.<name>), as in dbt.
        if let Some(Dependency::Ref(r)) = dependency_by_id(dep, project_name) {
            refs.push(r);
            continue;
        }
        if let Some(Dependency::Source(src, t)) = dependency_by_id(dep, project_name) {
            source_refs.push((src, t));
            continue;
        }
        match parse_dependency(dep) {
            Some(Dependency::Ref(r)) => refs.push(r),
            Some(Dependency::Source(s, t)) => source_refs.push((s, t)),
            None => {
                return Err(Error::config(
                    yaml,
                    format!(
                        "exposure '{}': depends_on entry {dep:?} is not ref('...') or \
                         source('...', '...')",
                        spec.name
                    ),
                )
                .at_yaml_key_of_file(
                    file,
                    &[
                        Key("exposures"),
                        Named(&spec.name),
                        Key("depends_on"),
                        Item(i),
                    ],
                ))
            }
        }
    }
    Ok((refs, source_refs))
}
