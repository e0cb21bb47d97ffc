//! `project.yml` / `dbt_project.yml` and the layered node config (`+` keys by folder,
//! YAML `config:` blocks, in-file `config()` calls), merged the way dbt merges them.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result, YamlStep};

/// A node's config: the merged key/value map, with typed accessors for the keys the
/// runner itself acts on. Keys are normalised to snake_case (`pre-hook` -> `pre_hook`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config(Map<String, Value>);

/// Keys whose values accumulate across layers instead of being replaced.
const ADDITIVE_LISTS: &[&str] = &["tags", "pre_hook", "post_hook"];
const MERGED_MAPS: &[&str] = &["meta", "table_properties", "column_types"];

impl From<Map<String, Value>> for Config {
    fn from(entries: Map<String, Value>) -> Self {
        Config(entries)
    }
}

impl Config {
    /// Every key and value, in the order they were set (for manifests, `ls`, `model.config`).
    pub fn entries(&self) -> &Map<String, Value> {
        &self.0
    }

    /// Set `key` unless a layer set it already (a resource type's own materialization).
    pub fn set_default(&mut self, key: &str, value: Value) {
        self.0.entry(normalise_key(key)).or_insert(value);
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// How a test keeps its failing rows (dbt's `store_failures_as`, or `store_failures:
    /// true` for a table): `Some("table" | "view")`, or `None` (not kept, also for dbt's
    /// `ephemeral`). Another value is refused, as dbt does, rather than storing nothing.
    pub fn store_failures_as(&self) -> std::result::Result<Option<&'static str>, String> {
        match self.0.get("store_failures_as") {
            Some(Value::String(s)) if s == "table" => Ok(Some("table")),
            Some(Value::String(s)) if s == "view" => Ok(Some("view")),
            Some(Value::String(s)) if s == "ephemeral" => Ok(None),
            Some(Value::Null) | None => Ok(match self.0.get("store_failures") {
                Some(Value::Bool(true)) => Some("table"),
                Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some("table"),
                _ => None,
            }),
            Some(other) => Err(format!(
                "store_failures_as is {other}: expected table, view or ephemeral"
            )),
        }
    }

    /// The `materialized` name as written (dbt's default: view), for output.
    pub fn materialized(&self) -> &str {
        self.str("materialized").unwrap_or("view")
    }

    /// How the node is built, for the code that decides it.
    pub fn materialization(&self) -> Materialization<'_> {
        Materialization::of(self.materialized())
    }

    pub fn enabled(&self) -> bool {
        self.0
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }

    pub fn tags(&self) -> Vec<String> {
        string_list(self.0.get("tags"))
    }

    /// A key that may be one string or a list of strings (`unique_key`, `partitioned_by`).
    pub fn list(&self, key: &str) -> Vec<String> {
        string_list(self.0.get(key))
    }

    pub fn set(&mut self, key: &str, value: Value) {
        let key = normalise_key(key);
        self.0.insert(key, value);
    }

    /// Overlay `other` on top of `self`: later layers win, lists in ADDITIVE_LISTS append,
    /// maps in MERGED_MAPS merge key by key.
    pub fn merge(&mut self, other: &Map<String, Value>) {
        for (k, v) in other {
            let key = normalise_key(k.trim_start_matches('+'));
            if ADDITIVE_LISTS.contains(&key.as_str()) {
                let mut items = match self.0.remove(&key) {
                    Some(Value::Array(a)) => a,
                    Some(Value::Null) | None => Vec::new(),
                    Some(other) => vec![other],
                };
                match v {
                    Value::Array(a) => {
                        for x in a {
                            if !items.contains(x) {
                                items.push(x.clone());
                            }
                        }
                    }
                    Value::Null => {}
                    x => {
                        if !items.contains(x) {
                            items.push(x.clone())
                        }
                    }
                }
                self.0.insert(key, Value::Array(items));
            } else if MERGED_MAPS.contains(&key.as_str()) {
                match (self.0.get_mut(&key), v) {
                    (Some(Value::Object(base)), Value::Object(over)) => {
                        for (mk, mv) in over {
                            base.insert(mk.clone(), mv.clone());
                        }
                    }
                    _ => {
                        self.0.insert(key, v.clone());
                    }
                }
            } else {
                self.0.insert(key, v.clone());
            }
        }
    }
}

/// How a node is built (dbt's `materialized`); the resource types that are not models get
/// theirs from the loader (seed, snapshot, test, unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Materialization<'a> {
    View,
    Table,
    Incremental,
    Ephemeral,
    Seed,
    Snapshot,
    Test,
    Unit,
    /// A data-subject rights procedure: runs only as a rights request.
    Procedure,
    /// A name Strata does not build (a custom materialization): refused when built.
    Other(&'a str),
}

impl<'a> Materialization<'a> {
    pub fn of(name: &'a str) -> Self {
        match name {
            "view" => Materialization::View,
            "table" => Materialization::Table,
            "incremental" => Materialization::Incremental,
            "ephemeral" => Materialization::Ephemeral,
            "seed" => Materialization::Seed,
            "snapshot" => Materialization::Snapshot,
            "test" => Materialization::Test,
            "unit" => Materialization::Unit,
            "procedure" => Materialization::Procedure,
            other => Materialization::Other(other),
        }
    }
}

pub fn normalise_key(key: &str) -> String {
    key.replace('-', "_")
}

pub fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn default_models() -> Vec<String> {
    vec!["models".into()]
}
fn default_macros() -> Vec<String> {
    vec!["macros".into()]
}
fn default_seeds() -> Vec<String> {
    vec!["seeds".into()]
}
fn default_tests() -> Vec<String> {
    vec!["tests".into()]
}
fn default_snapshots() -> Vec<String> {
    vec!["snapshots".into()]
}
fn default_target() -> String {
    "target".into()
}
fn default_packages_install_path() -> String {
    "dbt_packages".into()
}

/// One hook or a list of hooks, each SQL text or dbt's `{sql: ..., transaction: ...}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Hooks(Value);

impl Hooks {
    pub fn list(&self) -> Vec<String> {
        hook_sql(Some(&self.0))
    }
}

/// The SQL of hooks given as text, as `{sql, transaction}` mappings (what dbt's
/// `before_begin()` / `after_commit()` return; Strata runs no model inside a transaction of
/// its own, so both run where they stand), or a list of either.
pub fn hook_sql(v: Option<&Value>) -> Vec<String> {
    hooks_with_transaction(v)
        .into_iter()
        .map(|(sql, _)| sql)
        .collect()
}

/// Hooks with their `transaction` flag (true unless a mapping says false).
pub fn hooks_with_transaction(v: Option<&Value>) -> Vec<(String, bool)> {
    let one = |x: &Value| match x {
        Value::String(s) => Some((s.clone(), true)),
        Value::Object(o) => o.get("sql").and_then(Value::as_str).map(|sql| {
            let transaction = o
                .get("transaction")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            (sql.to_string(), transaction)
        }),
        _ => None,
    };
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(one).collect(),
        Some(x) => one(x).into_iter().collect(),
        None => Vec::new(),
    }
}

/// The project file. Unknown keys are accepted (dbt projects carry many we do not use).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ProjectFile {
    pub name: String,
    #[serde(default)]
    pub version: Option<Value>,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default = "default_models", alias = "source-paths")]
    pub model_paths: Vec<String>,
    #[serde(default = "default_macros")]
    pub macro_paths: Vec<String>,
    #[serde(default = "default_seeds", alias = "data-paths")]
    pub seed_paths: Vec<String>,
    #[serde(default = "default_tests")]
    pub test_paths: Vec<String>,
    #[serde(default = "default_snapshots")]
    pub snapshot_paths: Vec<String>,
    #[serde(default = "default_target")]
    pub target_path: String,
    /// Where `strata deps` installs packages and loading finds them (dbt's default).
    #[serde(default = "default_packages_install_path")]
    pub packages_install_path: String,
    /// `require-dbt-version`: a version range string or a list of them.
    #[serde(default)]
    pub require_dbt_version: Option<Value>,
    /// `dispatch:` entries, `{macro_namespace, search_order}`: where
    /// `adapter.dispatch(name, macro_namespace)` looks first (only the root project's count).
    #[serde(default)]
    pub dispatch: Vec<DispatchEntry>,
    #[serde(default)]
    pub clean_targets: Option<Vec<String>>,
    #[serde(default)]
    pub vars: Map<String, Value>,
    #[serde(default)]
    pub models: Map<String, Value>,
    #[serde(default)]
    pub seeds: Map<String, Value>,
    #[serde(default)]
    pub snapshots: Map<String, Value>,
    #[serde(default)]
    pub exposures: Map<String, Value>,
    /// Config for sources (`+freshness`, `+loaded_at_field`, ...), by source and table.
    #[serde(default)]
    pub sources: Map<String, Value>,
    /// `data_tests:` (dbt 1.8+), or the older `tests:`.
    #[serde(default, alias = "tests", alias = "data_tests")]
    pub data_tests: Map<String, Value>,
    #[serde(default)]
    pub on_run_start: Hooks,
    #[serde(default)]
    pub on_run_end: Hooks,
    /// Strata's data-subject rights settings (see the rights module).
    #[serde(default)]
    pub rights: Option<Value>,
}

/// One `dispatch:` entry of the project file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct DispatchEntry {
    pub macro_namespace: String,
    pub search_order: Vec<String>,
}

impl ProjectFile {
    /// `project.yml` is the native name; a `dbt_project.yml` project runs too.
    pub fn find(dir: &Path) -> Result<std::path::PathBuf> {
        for name in ["project.yml", "dbt_project.yml"] {
            // Keep messages short when run from the project folder.
            let p = if dir == Path::new(".") {
                Path::new(name).to_path_buf()
            } else {
                dir.join(name)
            };
            if p.is_file() {
                return Ok(p);
            }
        }
        Err(Error::config(
            dir,
            "no project.yml or dbt_project.yml here (use --project-dir to point at a project)",
        ))
    }

    /// With both files in the folder, Strata reads `project.yml`; `dbt_project.yml` is the
    /// same project for dbt's tools (Cosmos, OpenLineage, dbt-core itself), so it must hold
    /// the same settings apart from Strata's own sections, which dbt-core refuses.
    pub fn check_dbt_twin(project_yml: &Path) -> Result<()> {
        let Some(dir) = project_yml.parent() else {
            return Ok(());
        };
        let twin = dir.join("dbt_project.yml");
        if project_yml.file_name() != Some(std::ffi::OsStr::new("project.yml")) || !twin.is_file() {
            return Ok(());
        }
        let read = |path: &Path| -> Result<(String, Map<String, Value>)> {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let doc = serde_yaml_ng::from_str(&text).map_err(|e| Error::yaml(path, &e))?;
            Ok((text, doc))
        };
        let (_, mut ours) = read(project_yml)?;
        let (twin_text, theirs) = read(&twin)?;
        for key in STRATA_ONLY_KEYS {
            if theirs.contains_key(*key) {
                return Err(Error::config(
                    &twin,
                    format!(
                        "`{key}:` is Strata's own section: keep it in project.yml only \
                         (dbt-core refuses keys it does not know in dbt_project.yml)"
                    ),
                )
                .at_yaml_key(&twin_text, &[YamlStep::Key(key)]));
            }
            ours.remove(*key);
        }
        let mut keys: Vec<&String> = ours.keys().chain(theirs.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            if ours.get(key) != theirs.get(key) {
                let error = Error::config(
                    &twin,
                    format!(
                        "`{key}` differs from project.yml's: dbt_project.yml is the same \
                         project for dbt's tools and must say what project.yml says (apart \
                         from {}), or the two would build different things",
                        STRATA_ONLY_KEYS.join(", ")
                    ),
                );
                return Err(error.at_yaml_key(&twin_text, &[YamlStep::Key(key)]));
            }
        }
        Ok(())
    }

    /// The project file as written, nothing rendered: enough for its paths and name.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_rendered(path, None)
    }

    /// The project file as dbt reads it: the YAML parsed first, then its string values
    /// rendered (`env_var()`, `var()` of the command line), except `vars:` and the hooks,
    /// which are rendered where they are used.
    pub fn load_rendered(
        path: &Path,
        render: Option<crate::yaml_render::RenderValue>,
    ) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        // Parsed as written first, so a mistake in its shape is pointed at in the file.
        let mut file: ProjectFile =
            serde_yaml_ng::from_str(&text).map_err(|e| Error::yaml(path, &e))?;
        if let (Some(render), true) = (render, crate::yaml_render::has_jinja(&text)) {
            let raw: Value = serde_yaml_ng::from_str(&text).map_err(|e| Error::yaml(path, &e))?;
            let rendered = crate::yaml_render::render_strings(
                &raw,
                &crate::yaml_render::Rendering {
                    file: path,
                    text: &text,
                    under: &[],
                    render,
                    skip: &rendered_later,
                    native: false,
                },
            )?;
            file = serde_json::from_value(rendered)
                .map_err(|e| Error::config(path, format!("once its Jinja is rendered: {e}")))?;
        }
        if file.name.trim().is_empty() {
            return Err(Error::config(path, "`name` must not be empty")
                .at_yaml_key(&text, &[YamlStep::Key("name")]));
        }
        Ok(file)
    }

    pub fn clean_targets(&self) -> Vec<String> {
        self.clean_targets
            .clone()
            .unwrap_or_else(|| vec![self.target_path.clone()])
    }
}

/// Sections of project.yml that only Strata reads (dbt-core refuses unknown keys).
pub const STRATA_ONLY_KEYS: &[&str] = &["rights"];

/// The keys of the project file dbt renders where they are used, not when it loads the
/// file: `vars:` and the hooks (a hook's `{{ this }}` means the model it runs for).
fn rendered_later(keys: &[&str]) -> bool {
    matches!(
        keys.first(),
        Some(&("vars" | "on-run-start" | "on-run-end"))
    ) || keys.iter().any(|k| {
        matches!(
            k.trim_start_matches('+'),
            "pre-hook" | "post-hook" | "pre_hook" | "post_hook"
        )
    })
}

/// Resolve the config that the project file's nested tree (`models:`, `seeds:`) gives a node
/// whose fqn is `[project, dir..., name]`. Each level's config keys apply to everything below.
pub fn tree_config(tree: &Map<String, Value>, fqn: &[String]) -> Config {
    let mut config = Config::default();
    apply_level(&mut config, tree);
    let mut level = tree;
    for part in fqn {
        match level.get(part) {
            Some(Value::Object(child)) => {
                apply_level(&mut config, child);
                level = child;
            }
            _ => break,
        }
    }
    config
}

fn apply_level(config: &mut Config, level: &Map<String, Value>) {
    let mut own = Map::new();
    for (k, v) in level {
        // `+key` is always config; a bare key is config unless it is a nested folder (a map),
        // except for the map-valued config keys dbt allows without `+`.
        let bare_map_config = MERGED_MAPS.contains(&normalise_key(k).as_str());
        if k.starts_with('+') || !v.is_object() || bare_map_config {
            own.insert(k.clone(), v.clone());
        }
    }
    config.merge(&own);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tree_config_layers_and_appends_tags() {
        let tree = json!({
            "+materialized": "view",
            "proj": {
                "+tags": ["a"],
                "marts": {"+materialized": "table", "+tags": "b", "+meta": {"x": 1}},
            }
        });
        let fqn: Vec<String> = ["proj", "marts", "orders"].map(String::from).to_vec();
        let c = tree_config(tree.as_object().unwrap(), &fqn);
        assert_eq!(c.materialized(), "table");
        assert_eq!(c.tags(), vec!["a", "b"]);
        assert_eq!(c.get("meta"), Some(&json!({"x": 1})));
        let other: Vec<String> = ["proj", "staging", "x"].map(String::from).to_vec();
        assert_eq!(
            tree_config(tree.as_object().unwrap(), &other).materialized(),
            "view"
        );
    }

    #[test]
    fn hook_keys_are_normalised() {
        let mut c = Config::default();
        c.merge(json!({"+pre-hook": "select 1"}).as_object().unwrap());
        c.merge(json!({"pre_hook": ["select 2"]}).as_object().unwrap());
        assert_eq!(c.list("pre_hook"), vec!["select 1", "select 2"]);
    }
}
