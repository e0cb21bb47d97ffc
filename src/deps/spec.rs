//! The packages a project asks for: `packages.yml` / `dependencies.yml` read as dbt reads
//! them (which file wins, rendering, validation with dbt's messages), and the same entries
//! inside a lock file or a hub version's `packages`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::python_text::{python_number, repr};

/// Renders one string value with `env_var()` / `var()` (the CLI's `--vars`); the path names
/// the file in errors.
pub type Render<'a> = &'a dyn Fn(&Path, &str) -> Result<String>;

/// Where a package comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A folder, relative to the root project (dbt resolves transitive ones from the root too).
    Local {
        path: String,
    },
    Git {
        url: String,
        /// The URL as written, before rendering: what the lock file records.
        url_unrendered: String,
        revision: Option<String>,
        warn_unpinned: Option<bool>,
        subdirectory: Option<String>,
    },
    Hub {
        package: String,
        versions: Vec<String>,
        install_prerelease: bool,
    },
    Tarball {
        url: String,
        url_unrendered: String,
    },
}

/// One package entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub source: Source,
    /// `name:` (required for tarballs: the folder it installs into).
    pub name: Option<String>,
    /// The entry as dbt's contract serialises it (every field, `unrendered` included):
    /// what `sha1_hash` is computed over.
    pub contract: Value,
}

/// The packages a project declares, and the file they came from.
#[derive(Debug, Clone)]
pub struct Declared {
    pub entries: Vec<Entry>,
    /// `packages.yml` or `dependencies.yml` (`--add-package` edits it).
    pub file: PathBuf,
}

pub const PACKAGES_FILE: &str = "packages.yml";
pub const DEPENDENCIES_FILE: &str = "dependencies.yml";

const MALFORMED: &str = "The packages.yml file in this project is malformed. Please double check
the contents of this file and fix any errors before retrying.

You can find more information on the syntax for this file here:
https://docs.getdbt.com/docs/package-management

Validator Error:
";

/// A YAML file as a JSON-like value; a missing or empty file is an empty mapping, as dbt's
/// `load_yml_dict` has it.
pub fn read_yaml_mapping(path: &Path) -> Result<Map<String, Value>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let value: Value = serde_yaml_ng::from_str(&text).map_err(|e| Error::yaml(path, &e))?;
    match value {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(Error::config(
            path,
            "expected a mapping with a `packages:` list",
        )),
    }
}

/// The root project's packages: `dependencies.yml`'s `packages:` wins (not rendered), else
/// the whole `packages.yml` (rendered); both holding `packages:`, or `projects:` in
/// packages.yml, is an error.
pub fn read_declared(root: &Path, render: Render) -> Result<Declared> {
    let packages_path = root.join(PACKAGES_FILE);
    let dependencies_path = root.join(DEPENDENCIES_FILE);
    let packages_yml = read_yaml_mapping(&packages_path)?;
    let dependencies_yml = read_yaml_mapping(&dependencies_path)?;
    if packages_yml.contains_key("packages") && dependencies_yml.contains_key("packages") {
        return Err(Error::config(
            &packages_path,
            "The 'packages' key cannot be specified in both packages.yml and dependencies.yml",
        ));
    }
    if packages_yml.contains_key("projects") {
        return Err(Error::config(
            &packages_path,
            "The 'projects' key cannot be specified in packages.yml",
        ));
    }
    // dependencies.yml's `projects:` (dbt Cloud's cross-project refs) is ignored, as by dbt.
    if let Some(list) = dependencies_yml.get("packages") {
        let mut data = Map::new();
        data.insert("packages".into(), list.clone());
        let entries = entries_of(&data, Some(&data), &dependencies_path)?;
        return Ok(Declared {
            entries,
            file: dependencies_path,
        });
    }
    let rendered = render_value(&Value::Object(packages_yml.clone()), &packages_path, render)?;
    let rendered = rendered.as_object().cloned().unwrap_or_default();
    let entries = entries_of(&rendered, Some(&packages_yml), &packages_path)?;
    Ok(Declared {
        entries,
        file: packages_path,
    })
}

/// A package's own packages (always rendered, as dbt renders a dependency's files).
pub fn read_package_entries(dir: &Path, render: Render) -> Result<Vec<Entry>> {
    let packages_path = dir.join(PACKAGES_FILE);
    let dependencies_path = dir.join(DEPENDENCIES_FILE);
    let packages_yml = read_yaml_mapping(&packages_path)?;
    let dependencies_yml = read_yaml_mapping(&dependencies_path)?;
    let (raw, path) = match dependencies_yml.get("packages") {
        Some(list) if !packages_yml.contains_key("packages") => {
            let mut data = Map::new();
            data.insert("packages".into(), list.clone());
            (data, dependencies_path)
        }
        _ => (packages_yml, packages_path),
    };
    let rendered = render_value(&Value::Object(raw.clone()), &path, render)?;
    let rendered = rendered.as_object().cloned().unwrap_or_default();
    entries_of(&rendered, Some(&raw), &path)
}

/// Every string rendered that holds Jinja (dbt renders value by value, not the text).
pub fn render_value(value: &Value, file: &Path, render: Render) -> Result<Value> {
    crate::yaml_render::render_strings(
        value,
        &crate::yaml_render::Rendering {
            file,
            text: "",
            under: &[],
            render,
            skip: &|_| false,
            native: false,
        },
    )
}

fn malformed(file: &Path, detail: &str) -> Error {
    Error::config(file, format!("{MALFORMED}{detail}"))
}

/// The entries of a `{packages: [...]}` mapping, `unrendered` the same before rendering
/// (`None`: each entry's `unrendered` is empty, as dbt has it for hub metadata and after
/// `--add-package`).
pub fn entries_of(
    data: &Map<String, Value>,
    unrendered: Option<&Map<String, Value>>,
    file: &Path,
) -> Result<Vec<Entry>> {
    let extra: Vec<String> = data
        .keys()
        .filter(|k| *k != "packages" && *k != "sha1_hash")
        .map(|k| format!("'{k}'"))
        .collect();
    if !extra.is_empty() {
        let verb = if extra.len() == 1 { "was" } else { "were" };
        return Err(malformed(
            file,
            &format!(
                "Additional properties are not allowed ({} {verb} unexpected)",
                extra.join(", ")
            ),
        ));
    }
    let list = match data.get("packages") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(malformed(
                file,
                &format!("{} is not of type 'array'", repr(other)),
            ))
        }
    };
    let raw_list = unrendered.map(|u| u.get("packages").and_then(Value::as_array));
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let raw = match raw_list {
                Some(l) => l
                    .and_then(|l| l.get(i))
                    .cloned()
                    .unwrap_or_else(|| item.clone()),
                None => Value::Object(Map::new()),
            };
            parse_entry(item, raw, file)
        })
        .collect()
}

/// A string field, or a number written as Python's `str()` writes it (`revision: 1.0`).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(python_number(n)),
        _ => None,
    }
}

/// dbt's checks before the schema (PackageConfig.validate): empty values, a hub entry's
/// version and namespace.
fn check_required(map: &Map<String, Value>, file: &Path) -> Result<()> {
    for (key, what) in [("package", "hub"), ("local", "local"), ("git", "git")] {
        if map.get(key).and_then(Value::as_str) == Some("") {
            return Err(malformed(
                file,
                &format!("A {what} package is missing the value. It is a required property."),
            ));
        }
    }
    if let Some(package) = map.get("package").and_then(Value::as_str) {
        let version_missing = match map.get("version") {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            Some(_) => false,
        };
        if version_missing {
            return Err(malformed(file, &format!("{package} is missing the version. When installing from the Hub package index, version is a required property")));
        }
        if !package.contains('/') {
            return Err(malformed(file, &format!("{package} was not found in the package index. Packages on the index require a namespace, e.g dbt-labs/dbt_utils")));
        }
    }
    if map.contains_key("private") {
        return Err(malformed(file, "`private:` packages resolve through dbt Cloud's git providers, which Strata does not support; use `git:` with the repository URL instead"));
    }
    Ok(())
}

/// Whether the entry has only these keys.
fn only(map: &Map<String, Value>, allowed: &[&str]) -> bool {
    map.keys().all(|k| allowed.contains(&k.as_str()))
}

/// The value of `key` before rendering, else after.
fn unrendered_text(unrendered: &Value, key: &str, rendered: &str) -> String {
    unrendered
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or(rendered)
        .to_string()
}

/// A git entry (`None`: it does not fit git's schema); fills dbt's contract fields.
fn git_source(
    map: &Map<String, Value>,
    unrendered: &Value,
    contract: &mut Map<String, Value>,
) -> Option<Source> {
    let url = map.get("git")?.as_str()?.to_string();
    if !only(
        map,
        &["git", "revision", "warn-unpinned", "subdirectory", "name"],
    ) {
        return None;
    }
    let revision_value = map.get("revision").cloned().unwrap_or(Value::Null);
    let revision = match &revision_value {
        Value::Null => None,
        v => Some(text_of(v)?),
    };
    let warn_value = map.get("warn-unpinned").cloned().unwrap_or(Value::Null);
    let warn_unpinned = match &warn_value {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        _ => return None,
    };
    let subdirectory = match map.get("subdirectory") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    contract.insert("git".into(), Value::String(url.clone()));
    contract.insert("revision".into(), revision_value);
    contract.insert("warn-unpinned".into(), warn_value);
    let sub_value = subdirectory
        .clone()
        .map(Value::String)
        .unwrap_or(Value::Null);
    contract.insert("subdirectory".into(), sub_value);
    Some(Source::Git {
        url_unrendered: unrendered_text(unrendered, "git", &url),
        url,
        revision,
        warn_unpinned,
        subdirectory,
    })
}

/// A hub entry (`None`: it does not fit the hub's schema); fills dbt's contract fields.
fn hub_source(map: &Map<String, Value>, contract: &mut Map<String, Value>) -> Option<Source> {
    let package = map.get("package")?.as_str()?.to_string();
    let version = map.get("version")?;
    if !only(map, &["package", "version", "install_prerelease", "name"]) {
        return None;
    }
    let versions = match version {
        Value::Array(items) => items.iter().map(text_of).collect::<Option<Vec<_>>>()?,
        v => vec![text_of(v)?],
    };
    let prerelease_value = map
        .get("install_prerelease")
        .cloned()
        .unwrap_or(Value::Bool(false));
    let install_prerelease = match &prerelease_value {
        Value::Null => false,
        Value::Bool(b) => *b,
        _ => return None,
    };
    contract.insert("package".into(), Value::String(package.clone()));
    contract.insert("version".into(), version.clone());
    contract.insert("install_prerelease".into(), prerelease_value);
    Some(Source::Hub {
        package,
        versions,
        install_prerelease,
    })
}

/// One entry, checked as dbt's schema checks it (the kinds tried in dbt's order).
fn parse_entry(item: &Value, unrendered: Value, file: &Path) -> Result<Entry> {
    let invalid = |shown: &Value| {
        malformed(
            file,
            &format!(
                "{} is not valid under any of the given schemas",
                repr(shown)
            ),
        )
    };
    let Some(map) = item.as_object() else {
        return Err(invalid(item));
    };
    check_required(map, file)?;
    let mut shown = map.clone();
    shown.insert("unrendered".into(), unrendered.clone());
    let shown = Value::Object(shown);
    let name = match map.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(invalid(&shown)),
    };
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
    let mut contract = Map::new();
    let source = if let (Some(local), true) = (text("local"), only(map, &["local", "name"])) {
        contract.insert("local".into(), Value::String(local.clone()));
        Source::Local { path: local }
    } else if let (Some(url), Some(_), true) =
        (text("tarball"), &name, only(map, &["tarball", "name"]))
    {
        contract.insert("tarball".into(), Value::String(url.clone()));
        Source::Tarball {
            url_unrendered: unrendered_text(&unrendered, "tarball", &url),
            url,
        }
    } else if let Some(git) = git_source(map, &unrendered, &mut contract) {
        git
    } else if let Some(hub) = hub_source(map, &mut contract) {
        hub
    } else {
        return Err(invalid(&shown));
    };
    contract.insert("unrendered".into(), unrendered);
    if let Some(n) = &name {
        contract.insert("name".into(), Value::String(n.clone()));
    }
    Ok(Entry {
        source,
        name,
        contract: Value::Object(contract),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Vec<Entry>> {
        let data: Map<String, Value> = serde_yaml_ng::from_str(yaml).unwrap();
        entries_of(&data, Some(&data), Path::new("packages.yml"))
    }

    fn error(yaml: &str) -> String {
        parse(yaml).unwrap_err().to_string()
    }

    #[test]
    fn each_kind_is_recognised() {
        let e = parse("packages:\n  - package: acme/x\n    version: [\">=1.0.0\", \"<2.0.0\"]\n  - local: ../p\n  - git: https://x/y.git\n    revision: 1.0\n    subdirectory: s\n  - tarball: http://t/a.tgz\n    name: t\n").unwrap();
        assert!(
            matches!(&e[0].source, Source::Hub { versions, install_prerelease: false, .. } if versions == &[">=1.0.0", "<2.0.0"])
        );
        assert_eq!(
            e[1].source,
            Source::Local {
                path: "../p".into()
            }
        );
        assert!(
            matches!(&e[2].source, Source::Git { revision: Some(r), subdirectory: Some(s), .. } if r == "1.0" && s == "s")
        );
        assert!(matches!(&e[3].source, Source::Tarball { url, .. } if url == "http://t/a.tgz"));
        assert_eq!(e[3].name.as_deref(), Some("t"));
    }

    #[test]
    fn errors_are_worded_as_dbt_words_them() {
        assert!(error("packages:\n  - local: ../x\n    foo: 1\n").contains(
            "Validator Error:\n{'local': '../x', 'foo': 1, 'unrendered': {'local': '../x', 'foo': 1}} is not valid under any of the given schemas"
        ));
        assert!(error("packages:\n  - package: acme\n    version: 1.0.0\n").contains("acme was not found in the package index. Packages on the index require a namespace, e.g dbt-labs/dbt_utils"));
        assert!(error("packages:\n  - package: acme/x\n    version: \"\"\n").contains("acme/x is missing the version. When installing from the Hub package index, version is a required property"));
        assert!(error("packages:\n  - local: \"\"\n")
            .contains("A local package is missing the value. It is a required property."));
        assert!(error("foo: 1\n")
            .contains("Additional properties are not allowed ('foo' was unexpected)"));
        assert!(error("packages:\n  - tarball: http://x\n").contains(
            "{'tarball': 'http://x', 'unrendered': {'tarball': 'http://x'}} is not valid"
        ));
        assert!(error(
            "packages:\n  - package: a/b\n    version: 1.0.0\n    install-prerelease: true\n"
        )
        .contains("is not valid under any of the given schemas"));
    }
}
