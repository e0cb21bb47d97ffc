//! The package hub (hub.getdbt.com or a mirror of it): its index, each package's versions,
//! and the choice of a version as dbt makes it.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::http::Http;
use super::version::{self, Spec};
use super::Report;
use crate::error::{Error, Result};
use crate::python_text::repr_str;

pub const DEFAULT_HUB_URL: &str = "https://hub.getdbt.com/";

/// The hub's base URL: `STRATA_PACKAGE_HUB_URL`, then dbt's `DBT_PACKAGE_HUB_URL`, then
/// hub.getdbt.com; a missing final `/` is added (dbt would build a broken URL without it).
pub fn hub_url(var: impl Fn(&str) -> Option<String>) -> String {
    let base = ["STRATA_PACKAGE_HUB_URL", "DBT_PACKAGE_HUB_URL"]
        .into_iter()
        .find_map(|k| var(k).filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_HUB_URL.to_string());
    if base.ends_with('/') {
        base
    } else {
        format!("{base}/")
    }
}

/// What the hub says about one version of a package.
#[derive(Debug, Clone)]
pub struct VersionInfo {
    /// The project name: the folder it installs into.
    pub name: String,
    /// Its own packages, entries as in packages.yml.
    pub packages: Vec<Value>,
    pub tarball: String,
}

/// A chosen version and the newest one that could have been installed.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    pub version: String,
    pub latest: String,
}

/// The hub client; each document is fetched once per run.
pub struct Hub<'a> {
    base: String,
    http: Http,
    index: RefCell<Option<Vec<String>>>,
    packages: RefCell<HashMap<String, Map<String, Value>>>,
    report: &'a dyn Report,
}

impl<'a> Hub<'a> {
    pub fn new(base: String, http: Http, report: &'a dyn Report) -> Self {
        Hub {
            base,
            http,
            index: RefCell::new(None),
            packages: RefCell::new(HashMap::new()),
            report,
        }
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    fn url(&self, name: &str) -> String {
        format!("{}api/v1/{name}.json", self.base)
    }

    fn check_in_index(&self, package: &str) -> Result<()> {
        if self.index.borrow().is_none() {
            let url = self.url("index");
            let list = self.http.get_json(&url, |v| match v {
                Value::Array(items) => Ok(items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect::<Vec<_>>()),
                other => Err(format!(
                    "Request error: The response type of {} is not valid",
                    json_type(&other)
                )),
            })?;
            *self.index.borrow_mut() = Some(list);
        }
        let known = self
            .index
            .borrow()
            .as_ref()
            .is_some_and(|l| l.iter().any(|p| p == package));
        if known {
            Ok(())
        } else {
            Err(Error::Usage(format!(
                "Package {package} was not found in the package index"
            )))
        }
    }

    /// The `versions` of a package's JSON, in the hub's order.
    fn versions(&self, package: &str) -> Result<Map<String, Value>> {
        if let Some(v) = self.packages.borrow().get(package) {
            return Ok(v.clone());
        }
        let url = self.url(package);
        let (versions, moved_to) = self.http.get_json(&url, checked_versions)?;
        if let Some(new_name) = moved_to {
            self.report.warn(&format!(
                "The `{package}` package is deprecated in favor of `{new_name}`. Please update your `packages.yml` configuration to use `{new_name}` instead."
            ));
        }
        self.packages
            .borrow_mut()
            .insert(package.to_string(), versions.clone());
        Ok(versions)
    }

    /// One version's name, packages and tarball.
    pub fn version_info(&self, package: &str, version: &str) -> Result<VersionInfo> {
        let versions = self.versions(package)?;
        let bad = |what: &str| {
            Error::Usage(format!(
                "the hub's entry for {package} {version} has no {what} ({})",
                self.url(package)
            ))
        };
        let info = versions.get(version).ok_or_else(|| bad("such version"))?;
        let name = info
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("`name`"))?;
        let packages = match info.get("packages") {
            Some(Value::Array(list)) => list.clone(),
            _ => Vec::new(),
        };
        let tarball = info
            .pointer("/downloads/tarball")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("`downloads.tarball`"))?;
        Ok(VersionInfo {
            name: name.to_string(),
            packages,
            tarball: tarball.to_string(),
        })
    }

    /// dbt's choice for a hub package: every requester's specifiers reduced to one range,
    /// the versions whose `require_dbt_version` admits `installed` (when `version_check`),
    /// prereleases only when allowed or asked for, and the highest in range.
    pub fn choose(
        &self,
        package: &str,
        specs: &[Spec],
        install_prerelease: bool,
        installed: Option<&Spec>,
    ) -> Result<Chosen> {
        self.check_in_index(package)?;
        let range = version::reduce(specs)
            .map_err(|e| Error::Usage(format!("Version error for package {package}: {e}")))?;
        let versions = self.versions(package)?;
        let mut compatible = Vec::new();
        for (text, info) in &versions {
            let admitted = match installed {
                Some(dbt) => admits_dbt(package, text, info, dbt)?,
                None => true,
            };
            if admitted {
                compatible.push(text.clone());
            }
        }
        let with_prereleases = install_prerelease || specs.iter().any(Spec::is_prerelease);
        let installable = version::installable(&compatible, with_prereleases);
        let target = version::highest_in(&range, &installable);
        match (target, installable.last()) {
            (Some(target), Some((_, latest))) => Ok(Chosen {
                version: target.to_string(),
                latest: latest.clone(),
            }),
            _ => {
                let shown: Vec<String> = installable.iter().map(|(_, t)| repr_str(t)).collect();
                let addendum = if installed.is_some() {
                    "\n  Not shown: package versions incompatible with installed version of dbt-core\n  To include them, run 'strata deps --no-version-check'"
                } else {
                    ""
                };
                Err(Error::Usage(format!(
                    "Could not find a matching compatible version for package {package}\n  Requested range: {range}\n  Compatible versions: [{}]\n{addendum}",
                    shown.join(", ")
                )))
            }
        }
    }
}

/// Whether one hub version's `require_dbt_version` (a string or a list) admits `dbt`.
fn admits_dbt(package: &str, version: &str, info: &Value, dbt: &Spec) -> Result<bool> {
    let required: Vec<&str> = match info.get("require_dbt_version") {
        Some(Value::String(s)) if !s.is_empty() => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if required.is_empty() {
        return Ok(true);
    }
    let specs = required
        .iter()
        .map(|r| Spec::parse(r))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::Usage(format!(
                "the hub's require_dbt_version of {package} {version}: {e}"
            ))
        })?;
    Ok(version::admits(&specs, dbt))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<class 'NoneType'>",
        Value::Bool(_) => "<class 'bool'>",
        Value::Number(_) => "<class 'float'>",
        Value::String(_) => "<class 'str'>",
        Value::Array(_) => "<class 'list'>",
        Value::Object(_) => "<class 'dict'>",
    }
}

/// What a package document says: its versions, and the package it moved to when the hub
/// redirects it (`redirectnamespace` / `redirectname`).
type Document = (Map<String, Value>, Option<String>);

/// A package document's `versions`, checked as dbt checks it: top keys `name` and
/// `versions`, and every version with `name`, `packages` and `downloads` among them.
fn checked_versions(doc: Value) -> std::result::Result<Document, String> {
    let Value::Object(mut doc) = doc else {
        return Err(format!(
            "Request error: Expected a response type of <dict> but got {} instead",
            json_type(&doc)
        ));
    };
    if !doc.contains_key("name") || !doc.contains_key("versions") {
        return Err(
            "Request error: Expected the response to contain keys {'name', 'versions'}".into(),
        );
    }
    let text = |key: &str| {
        doc.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let moved_to = (doc.contains_key("redirectnamespace") || doc.contains_key("redirectname"))
        .then(|| {
            let namespace = text("redirectnamespace")
                .or(text("namespace"))
                .unwrap_or("");
            let name = text("redirectname").or(text("name")).unwrap_or("");
            format!("{namespace}/{name}")
        });
    let Some(Value::Object(versions)) = doc.remove("versions") else {
        return Err("Request error: `versions` is not a mapping".into());
    };
    for key in ["name", "packages", "downloads"] {
        let present = versions
            .values()
            .any(|v| v.as_object().is_some_and(|o| o.contains_key(key)));
        if !versions.is_empty() && !present {
            return Err(format!(
                "Request error: Expected the response for the version to contain keys {{'name', 'packages', 'downloads'}} but is missing {{'{key}'}}"
            ));
        }
    }
    Ok((versions, moved_to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_url_prefers_stratas_variable_and_ends_with_a_slash() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(hub_url(env(&[])), DEFAULT_HUB_URL);
        assert_eq!(
            hub_url(env(&[("DBT_PACKAGE_HUB_URL", "http://m/hub")])),
            "http://m/hub/"
        );
        assert_eq!(
            hub_url(env(&[
                ("DBT_PACKAGE_HUB_URL", "http://a/"),
                ("STRATA_PACKAGE_HUB_URL", "http://b/")
            ])),
            "http://b/"
        );
    }

    #[test]
    fn package_documents_are_checked_and_redirects_named() {
        let version =
            serde_json::json!({"name": "p", "packages": [], "downloads": {"tarball": "u"}});
        let doc = serde_json::json!({"name": "old", "namespace": "acme", "redirectname": "new", "versions": {"1.0.0": version}});
        let (versions, moved) = checked_versions(doc).unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(moved.as_deref(), Some("acme/new"));
        let missing =
            serde_json::json!({"name": "x", "versions": {"1.0.0": {"name": "p", "packages": []}}});
        assert!(checked_versions(missing)
            .unwrap_err()
            .contains("is missing {'downloads'}"));
        assert!(checked_versions(serde_json::json!([1]))
            .unwrap_err()
            .contains("<class 'list'>"));
    }
}
