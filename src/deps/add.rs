//! `--add-package NAME@VERSION [--source hub|git|local]`: add an entry to the project's
//! packages file as dbt does (duplicates of the package removed, the file written again
//! with sorted keys).

use std::path::Path;

use serde_json::{Map, Value};

use super::spec::{entries_of, read_yaml_mapping, Declared, PACKAGES_FILE};
use super::yaml_out;
use super::Report;
use crate::error::{Error, Result};
use crate::python_text::repr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddSource {
    #[default]
    Hub,
    Git,
    Local,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AddPackage {
    pub name: String,
    pub version: Option<String>,
    pub source: AddSource,
}

impl AddPackage {
    /// dbt's reading of `--add-package`: `name@version` split on its one `@` (any other
    /// count leaves it all as the name); a version is required unless the source is local.
    pub fn parse(value: &str, source: AddSource) -> Result<AddPackage> {
        let (name, version) = match value.split('@').collect::<Vec<_>>().as_slice() {
            [name, version] => (name.to_string(), Some(version.to_string())),
            _ => (value.to_string(), None),
        };
        let source_name = match source {
            AddSource::Hub => "hub",
            AddSource::Git => "git",
            AddSource::Local => "local",
        };
        if version.as_deref().is_none_or(str::is_empty) && source != AddSource::Local {
            return Err(Error::Usage(format!(
                "--add-package: Version is required in --add-package when a package when source is {source_name}"
            )));
        }
        Ok(AddPackage {
            name,
            version,
            source,
        })
    }

    /// The packages.yml entry: hub `{package, version}`, git `{git, revision}`, local
    /// `{local}`; a version with a comma becomes a list.
    fn entry(&self) -> Value {
        let (key, version_key) = match self.source {
            AddSource::Hub => ("package", "version"),
            AddSource::Git => ("git", "revision"),
            AddSource::Local => ("local", "version"),
        };
        let mut m = Map::new();
        m.insert(key.into(), Value::String(self.name.clone()));
        if let Some(v) = self.version.as_deref().filter(|v| !v.is_empty()) {
            let value = if v.contains(',') {
                Value::Array(v.split(',').map(|p| Value::String(p.to_string())).collect())
            } else {
                Value::String(v.to_string())
            };
            m.insert(version_key.into(), value);
        }
        Value::Object(m)
    }

    /// Whether an existing entry is this package, by dbt's loose match: the name or its
    /// last part, with `_` and `-` read alike, found between `/` or `.` boundaries in the
    /// entry's package, git, local or tarball value.
    fn matches(&self, entry: &Value) -> bool {
        let Some(id) = ["package", "git", "local", "tarball", "private"]
            .iter()
            .find_map(|k| {
                entry
                    .get(*k)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            })
        else {
            return false;
        };
        let mut variants = vec![
            self.name.clone(),
            self.name.replace('_', "-"),
            self.name.replace('-', "_"),
        ];
        if let Some((_, short)) = self.name.rsplit_once('/') {
            variants.extend([
                short.to_string(),
                short.replace('_', "-"),
                short.replace('-', "_"),
            ]);
        }
        variants.iter().any(|v| {
            let Some(at) = id.find(v.as_str()) else {
                return false;
            };
            let before_ok = at == 0 || id[..at].ends_with(['/', '.']);
            let after = &id[at + v.len()..];
            before_ok && (after.is_empty() || after.starts_with(['/', '.']))
        })
    }
}

/// Add the package to the declared file (packages.yml, created when missing) and return
/// the declared packages as dbt then sees them (read back without rendering).
pub fn add(
    root: &Path,
    declared: &Declared,
    add: &AddPackage,
    report: &dyn Report,
) -> Result<Declared> {
    let file = if declared.file.exists() {
        declared.file.clone()
    } else {
        root.join(PACKAGES_FILE)
    };
    if !file.exists() {
        std::fs::write(&file, "packages: []\n").map_err(|e| Error::io(&file, e))?;
        report.info("Created packages.yml");
    }
    let mut data = read_yaml_mapping(&file)?;
    let mut list = match data.remove("packages") {
        Some(Value::Array(l)) => l,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(Error::config(&file, "`packages` must be a list")),
    };
    let mut kept = Vec::new();
    for entry in list.drain(..) {
        if add.matches(&entry) {
            let shown: Map<String, Value> = entry
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, v)| *k != "unrendered" && (v.is_string() || v.is_number()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            report.info(&format!(
                "Found duplicate package in packages.yml, removing: {}",
                repr(&Value::Object(shown))
            ));
        } else {
            kept.push(entry);
        }
    }
    kept.push(add.entry());
    data.insert("packages".into(), Value::Array(kept));
    std::fs::write(&file, yaml_out::dump(&Value::Object(data.clone())))
        .map_err(|e| Error::io(&file, e))?;
    let version = add.version.clone().unwrap_or_else(|| "None".into());
    report.info(&format!(
        "Added new package {}@{version} to {}",
        add.name,
        file.display()
    ));
    let entries = entries_of(&data, None, &file)?;
    Ok(Declared { entries, file })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_version_is_split_on_one_at_and_required_off_local() {
        let p = AddPackage::parse("acme/x@>=0.1.0,<0.3.0", AddSource::Hub).unwrap();
        assert_eq!(
            p.entry(),
            json!({"package": "acme/x", "version": [">=0.1.0", "<0.3.0"]})
        );
        let err = AddPackage::parse("acme/x", AddSource::Hub)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Version is required in --add-package when a package when source is hub")
        );
        assert_eq!(
            AddPackage::parse("../p", AddSource::Local).unwrap().entry(),
            json!({"local": "../p"})
        );
        assert_eq!(
            AddPackage::parse("https://h/r.git@v1", AddSource::Git)
                .unwrap()
                .entry(),
            json!({"git": "https://h/r.git", "revision": "v1"})
        );
    }

    #[test]
    fn duplicates_match_loosely_between_boundaries() {
        let p = AddPackage::parse("dbt-labs/dbt_utils@1.3.0", AddSource::Hub).unwrap();
        assert!(p.matches(&json!({"package": "dbt-labs/dbt_utils", "version": "1.0.0"})));
        assert!(p.matches(&json!({"git": "https://github.com/dbt-labs/dbt-utils.git"})));
        assert!(!p.matches(&json!({"git": "https://github.com/x/dbt-utils-extra.git"})));
        assert!(!p.matches(&json!({"local": "../other"})));
    }
}
