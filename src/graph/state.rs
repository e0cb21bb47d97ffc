//! `--state <dir>`: the artifacts of an earlier invocation (its `manifest.json`, and
//! `run_results.json` when there is one), for dbt's `state:` and `result:` selector methods.
//! This is what "slim CI" runs on: `strata build --select state:modified+ --state prod/`
//! builds what a change touches and what sits below it.
//!
//! The comparison follows dbt's (`state:modified` is new, or a changed body, config,
//! relation, persisted description, contract or macro). Both manifests are Strata's, so each
//! side's fields come from the same code; configs are compared as written to the manifest.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::project::jinja_blocks::tokens;
use crate::project::{macro_blocks, Exposure, Node, Project, ResourceType, Source};

/// What `--state` points at, read before this invocation writes its own artifacts (the
/// folder may be this project's `target/`).
#[derive(Debug)]
pub struct PreviousState {
    dir: PathBuf,
    manifest: Option<PreviousManifest>,
    /// unique_id -> status, from run_results.json.
    results: Option<HashMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
struct PreviousManifest {
    #[serde(default)]
    nodes: HashMap<String, PreviousNode>,
    #[serde(default)]
    sources: HashMap<String, PreviousSource>,
    #[serde(default)]
    macros: HashMap<String, PreviousMacro>,
    #[serde(default)]
    exposures: HashMap<String, Map<String, Value>>,
    #[serde(default)]
    unit_tests: HashMap<String, PreviousNode>,
}

#[derive(Debug, Default, Deserialize)]
struct PreviousNode {
    #[serde(default)]
    resource_type: String,
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    schema: String,
    #[serde(default)]
    alias: String,
    #[serde(default)]
    raw_code: String,
    #[serde(default)]
    checksum: Checksum,
    #[serde(default)]
    config: Map<String, Value>,
    #[serde(default)]
    fqn: Vec<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    columns: Map<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
struct Checksum {
    #[serde(default)]
    checksum: String,
}

#[derive(Debug, Default, Deserialize)]
struct PreviousSource {
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    schema: String,
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    fqn: Vec<String>,
    #[serde(default)]
    config: Map<String, Value>,
    #[serde(default)]
    freshness: Option<Value>,
    #[serde(default)]
    loaded_at_field: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct PreviousMacro {
    #[serde(default)]
    macro_sql: Option<String>,
}

#[derive(Deserialize)]
struct RunResultsFile {
    #[serde(default)]
    results: Vec<RunResult>,
}

#[derive(Deserialize)]
struct RunResult {
    unique_id: String,
    status: String,
}

/// dbt's `state:` values.
const STATE_CHECKS: &[&str] = &[
    "new",
    "old",
    "modified",
    "unmodified",
    "modified.body",
    "modified.configs",
    "modified.persisted_descriptions",
    "modified.relation",
    "modified.macros",
    "modified.contract",
];

/// Config keys a `modified.configs` comparison leaves out: the relation's names have their
/// own check (`modified.relation`), and tags or a group do not change what is built (dbt).
const CONFIG_KEYS_NOT_COMPARED: &[&str] = &["alias", "schema", "database", "tags", "group"];

/// For a test only these settings count: they change what the test reports (dbt).
const TEST_CONFIG_KEYS_COMPARED: &[&str] = &[
    "severity",
    "where",
    "limit",
    "fail_calc",
    "warn_if",
    "error_if",
    "store_failures",
    "store_failures_as",
    "sql_header",
];

impl PreviousState {
    /// Read the artifacts in `dir`. A folder with neither file is refused: a typo in
    /// `--state` would otherwise make every node look new.
    pub fn load(dir: &Path) -> Result<Self> {
        let manifest_path = dir.join("manifest.json");
        let results_path = dir.join("run_results.json");
        let manifest = read_json::<PreviousManifest>(&manifest_path)?;
        let results = read_json::<RunResultsFile>(&results_path)?.map(|r| {
            r.results
                .into_iter()
                .map(|r| (r.unique_id, r.status))
                .collect()
        });
        if manifest.is_none() && results.is_none() {
            return Err(Error::Usage(format!(
                "--state {}: no manifest.json or run_results.json there (the target/ folder \
                 of the run to compare with)",
                dir.display()
            )));
        }
        Ok(PreviousState {
            dir: dir.to_path_buf(),
            manifest,
            results,
        })
    }

    fn manifest(&self, selector: &str) -> Result<&PreviousManifest> {
        self.manifest.as_ref().ok_or_else(|| Error::Selector {
            selector: selector.to_string(),
            message: format!("no manifest.json in --state {}", self.dir.display()),
        })
    }

    /// The nodes and sources of `project` that `state:<check>` selects.
    pub fn select_state(&self, check: &str, project: &Project) -> Result<BTreeSet<String>> {
        let selector = format!("state:{check}");
        if !STATE_CHECKS.contains(&check) {
            return Err(Error::Selector {
                selector,
                message: format!("expected one of {}", STATE_CHECKS.join(", ")),
            });
        }
        let old = self.manifest(&selector)?;
        let macros = if matches!(check, "modified" | "unmodified" | "modified.macros") {
            Some(MacroChanges::new(project, old))
        } else {
            None
        };
        let mut out = BTreeSet::new();
        for node in project.nodes.values() {
            let prev = old
                .nodes
                .get(&node.unique_id)
                .or_else(|| old.unit_tests.get(&node.unique_id));
            let modified_macros = || macros.as_ref().is_some_and(|m| m.touches(&node.raw_code));
            let hit = match (check, prev) {
                ("new", p) => p.is_none(),
                ("old", p) => p.is_some(),
                ("modified.macros", _) => modified_macros(),
                (_, None) => check != "unmodified",
                ("modified", Some(p)) => node_changed(node, p) || modified_macros(),
                ("unmodified", Some(p)) => !node_changed(node, p) && !modified_macros(),
                ("modified.body", Some(p)) => !same_body(node, p),
                ("modified.configs", Some(p)) => !same_config(node, p),
                ("modified.persisted_descriptions", Some(p)) => {
                    !same_persisted_descriptions(node, p)
                }
                ("modified.relation", Some(p)) => !same_relation(node, p),
                ("modified.contract", Some(p)) => !same_contract(node, p),
                _ => false,
            };
            if hit {
                out.insert(node.unique_id.clone());
            }
        }
        for source in project.sources.values() {
            let prev = old.sources.get(&source.unique_id);
            // Sources have no body, macros or contract (dbt).
            let hit = match (check, prev) {
                ("new", p) => p.is_none(),
                ("old", p) => p.is_some(),
                ("modified", p) => p.is_none_or(|p| !same_source(source, p)),
                ("unmodified", p) => p.is_some_and(|p| same_source(source, p)),
                ("modified.configs", p) => p.is_none_or(|p| !same_source_config(source, p)),
                ("modified.relation", p) => p.is_none_or(|p| !same_source_relation(source, p)),
                _ => false,
            };
            if hit {
                out.insert(source.unique_id.clone());
            }
        }
        for exposure in project.exposures.values() {
            let prev = old.exposures.get(&exposure.unique_id);
            let hit = match (check, prev) {
                ("new", p) => p.is_none(),
                ("old", p) => p.is_some(),
                ("modified", p) => p.is_none_or(|p| !same_exposure(exposure, p)),
                ("unmodified", p) => p.is_some_and(|p| same_exposure(exposure, p)),
                _ => false,
            };
            if hit {
                out.insert(exposure.unique_id.clone());
            }
        }
        Ok(out)
    }

    /// Where the earlier run built a model or seed (for `--defer`): database, schema,
    /// identifier and whether it is a view. None for anything else, or an ephemeral model.
    pub fn relation_of(&self, unique_id: &str) -> Option<(Option<&str>, &str, &str, bool)> {
        let node = self.manifest.as_ref()?.nodes.get(unique_id)?;
        let materialized = node.config.get("materialized").and_then(Value::as_str);
        if !matches!(node.resource_type.as_str(), "model" | "seed" | "snapshot")
            || materialized == Some("ephemeral")
            || node.schema.is_empty()
            || node.alias.is_empty()
        {
            return None;
        }
        Some((
            node.database.as_deref(),
            &node.schema,
            &node.alias,
            materialized == Some("view"),
        ))
    }

    /// The nodes whose status in the earlier run_results.json was `status` (`result:error`,
    /// `result:fail`, ...).
    pub fn select_result(&self, status: &str) -> Result<BTreeSet<String>> {
        let results = self.results.as_ref().ok_or_else(|| Error::Selector {
            selector: format!("result:{status}"),
            message: format!("no run_results.json in --state {}", self.dir.display()),
        })?;
        Ok(results
            .iter()
            .filter(|(_, s)| s.as_str() == status)
            .map(|(id, _)| id.clone())
            .collect())
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    serde_json::from_slice(&text).map(Some).map_err(|e| {
        Error::Usage(format!(
            "{}:{}:{}: not a readable artifact: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })
}

/// Everything `state:modified` compares but the macros.
fn node_changed(node: &Node, prev: &PreviousNode) -> bool {
    !(same_body(node, prev)
        && same_config(node, prev)
        && same_persisted_descriptions(node, prev)
        && node.fqn == prev.fqn
        && same_relation(node, prev)
        && same_contract(node, prev))
}

fn same_body(node: &Node, prev: &PreviousNode) -> bool {
    match node.resource_type {
        // A seed's body is its CSV, known by the checksum of its content; a unit test's
        // is its YAML definition.
        ResourceType::Seed | ResourceType::UnitTest => node.checksum == prev.checksum.checksum,
        // dbt writes a generic test's YAML config into its code (`{{ config(severity=...) }}`),
        // so a changed severity or threshold is a body change there too.
        ResourceType::Test if node.test_metadata.is_some() => {
            node.raw_code == prev.raw_code && same_config(node, prev)
        }
        _ => node.raw_code == prev.raw_code,
    }
}

fn same_config(node: &Node, prev: &PreviousNode) -> bool {
    let new = &node.config.entries();
    let old = &prev.config;
    let compared = |key: &&String| {
        if matches!(
            node.resource_type,
            ResourceType::Test | ResourceType::UnitTest
        ) {
            TEST_CONFIG_KEYS_COMPARED.contains(&key.as_str())
        } else {
            !CONFIG_KEYS_NOT_COMPARED.contains(&key.as_str())
        }
    };
    new.keys()
        .chain(old.keys())
        .filter(compared)
        .all(|k| new.get(k) == old.get(k))
}

/// The configured database, schema and alias (not the names generate_schema_name makes of
/// them, so comparing with another target's artifacts does not flag every node).
fn same_relation(node: &Node, prev: &PreviousNode) -> bool {
    ["database", "schema", "alias"]
        .iter()
        .all(|k| node.config.entries().get(*k) == prev.config.get(*k))
}

fn persist_docs(config: &Map<String, Value>, what: &str) -> bool {
    config
        .get("persist_docs")
        .and_then(|p| p.get(what))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Descriptions only count where they are written to the warehouse (`persist_docs`).
fn same_persisted_descriptions(node: &Node, prev: &PreviousNode) -> bool {
    let config = &node.config.entries();
    if persist_docs(config, "relation") && node.description != prev.description {
        return false;
    }
    if persist_docs(config, "columns") {
        let new: HashMap<&str, &str> = node
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.description.as_str()))
            .collect();
        let old: HashMap<&str, &str> = prev
            .columns
            .iter()
            .map(|(name, c)| {
                let d = c.get("description").and_then(Value::as_str).unwrap_or("");
                (name.as_str(), d)
            })
            .collect();
        if new != old {
            return false;
        }
    }
    true
}

fn contract_enforced(config: &Map<String, Value>) -> bool {
    config
        .get("contract")
        .and_then(|c| c.get("enforced"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// An enforced contract is its columns' names and types.
fn same_contract(node: &Node, prev: &PreviousNode) -> bool {
    let (new_on, old_on) = (
        contract_enforced(node.config.entries()),
        contract_enforced(&prev.config),
    );
    if !new_on && !old_on {
        return true;
    }
    if new_on != old_on {
        return false;
    }
    let new: Vec<(String, Option<String>)> = node
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.data_type.clone()))
        .collect();
    let old: Vec<(String, Option<String>)> = prev
        .columns
        .iter()
        .map(|(name, c)| {
            let t = c.get("data_type").and_then(Value::as_str).map(String::from);
            (name.clone(), t)
        })
        .collect();
    let sorted = |mut v: Vec<(String, Option<String>)>| {
        v.sort();
        v
    };
    sorted(new) == sorted(old)
}

fn same_source(source: &Source, prev: &PreviousSource) -> bool {
    same_source_relation(source, prev) && source.fqn == prev.fqn && same_source_config(source, prev)
}

fn same_source_relation(source: &Source, prev: &PreviousSource) -> bool {
    source.database == prev.database
        && source.schema == prev.schema
        && source.identifier == prev.identifier
}

/// Config, freshness and loaded_at_field (dbt keeps the last two in a source's config).
fn same_source_config(source: &Source, prev: &PreviousSource) -> bool {
    *source.config.entries() == prev.config
        && source.freshness == prev.freshness
        && source.loaded_at_field == prev.loaded_at_field
}

/// dbt compares what an exposure reads and how it is described.
fn same_exposure(exposure: &Exposure, prev: &Map<String, Value>) -> bool {
    let x = &exposure.spec;
    let text = |key: &str| prev.get(key).and_then(Value::as_str);
    let nodes: Vec<&str> = prev
        .get("depends_on")
        .and_then(|d| d.get("nodes"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    nodes
        == exposure
            .depends_on
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
        && text("type") == Some(x.kind.as_str())
        && text("description") == Some(x.description.as_str())
        && text("label") == x.label.as_deref()
        && text("maturity") == x.maturity.as_deref()
        && text("url") == x.url.as_deref()
        && prev.get("owner") == Some(&Value::Object(x.owner.clone()))
        && prev.get("tags") == Some(&serde_json::json!(x.tags))
}

/// The project's macros that changed since the earlier manifest (added, edited or removed),
/// and a way to tell whether a template calls one of them, directly or through other macros.
struct MacroChanges {
    /// Name -> body of every project macro today.
    bodies: HashMap<String, String>,
    /// Names whose body differs from the earlier manifest's (or that are new there).
    changed: HashSet<String>,
}

impl MacroChanges {
    fn new(project: &Project, old: &PreviousManifest) -> Self {
        let mut bodies = HashMap::new();
        let mut ids = HashSet::new();
        let mut changed = HashSet::new();
        for file in &project.macro_files {
            for (name, block, _) in macro_blocks(&file.source) {
                let id = format!("macro.{}.{name}", file.package);
                let before = old.macros.get(&id).and_then(|m| m.macro_sql.as_deref());
                if before != Some(block.as_str()) {
                    changed.insert(name.clone());
                }
                ids.insert(id);
                bodies.insert(name, block);
            }
        }
        // A removed macro that something still calls is a change too (the call now fails
        // or falls back to a built-in).
        let projects: Vec<&str> = project.project_names().collect();
        for id in old.macros.keys() {
            let Some((package, name)) = id.strip_prefix("macro.").and_then(|r| r.split_once('.'))
            else {
                continue;
            };
            if projects.contains(&package) && !ids.contains(id) {
                changed.insert(name.to_string());
            }
        }
        MacroChanges { bodies, changed }
    }

    /// Whether `template` calls a changed macro, following the macros it calls. Calls are
    /// found by name (`name(`), so a call in a branch that is never taken counts too: in a
    /// CI selection, building one node more is cheaper than missing one.
    fn touches(&self, template: &str) -> bool {
        if self.changed.is_empty() {
            return false;
        }
        let mut seen = HashSet::new();
        let mut queue: Vec<&str> = self.calls_in(template);
        while let Some(name) = queue.pop() {
            if !seen.insert(name) {
                continue;
            }
            if self.changed.contains(name) {
                return true;
            }
            if let Some(body) = self.bodies.get(name) {
                queue.extend(self.calls_in(body));
            }
        }
        false
    }

    /// The macros `text` calls: by name, and through `adapter.dispatch('name', ...)` every
    /// `<prefix>__name` implementation (as dbt's static macro extraction counts them).
    fn calls_in<'a>(&'a self, text: &'a str) -> Vec<&'a str> {
        let mut calls = called_names(text);
        for target in dispatched_names(text) {
            let suffix = format!("__{target}");
            calls.extend(
                self.bodies
                    .keys()
                    .filter(|name| name.ends_with(&suffix))
                    .map(String::as_str),
            );
        }
        calls
    }
}

/// Identifiers directly followed (after spaces) by `(` in the Jinja code of `text` (its
/// `{{ }}` expressions and `{% %}` tags): SQL text, comments and raw blocks call no macro.
fn called_names(text: &str) -> Vec<&str> {
    tokens(text)
        .filter_map(|token| token.code(text))
        .flat_map(names_before_parens)
        .collect()
}

/// The literal macro names `adapter.dispatch('name', ...)` calls in the Jinja code of `text`.
fn dispatched_names(text: &str) -> Vec<String> {
    static DISPATCH: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let Some(re) = DISPATCH.get_or_init(|| {
        regex::Regex::new(r#"dispatch\s*\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]"#).ok()
    }) else {
        return Vec::new();
    };
    tokens(text)
        .filter_map(|token| token.code(text))
        .flat_map(|code| re.captures_iter(code).filter_map(|c| c.get(1)))
        .map(|m| m.as_str().to_string())
        .collect()
}

/// Identifiers directly followed (after spaces) by `(`.
fn names_before_parens(code: &str) -> Vec<&str> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let mut j = i;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if bytes.get(j) == Some(&b'(') {
                out.extend(code.get(start..i));
            }
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn called_names_finds_calls_not_words() {
        assert_eq!(
            called_names("{{ cents_to_dollars ('x') }} from orders where f(1) and g"),
            vec!["cents_to_dollars"]
        );
        assert_eq!(
            called_names("{% set x = f(1) %}{%- call g () -%}{% endcall %}{{ h(i(2)) }}"),
            vec!["f", "g", "h", "i"]
        );
    }

    #[test]
    fn sql_comments_and_raw_blocks_call_no_macro() {
        let text = "select coalesce(a, b) from t {# {{ old_macro() }} #}\
                    {% raw %}{{ raw_macro() }}{% endraw %} where ё(1)";
        assert!(called_names(text).is_empty());
    }
}
