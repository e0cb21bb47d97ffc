//! Every config key of a model, seed, snapshot, test or source is honoured, refused or warned
//! about on the target's engine, so that a dbt-athena or dbt-duckdb project that moves over
//! changes nothing silently: dbt passes unknown keys through, and a key that only dbt-athena
//! reads (`external_location`, `lf_grants`) would otherwise change nothing and say nothing.
//!
//! The rules: dbt's own keys (every engine), then the engine's table ([`athena`],
//! [`duckdb`]); another engine's key changes nothing here (one warning); a key nobody defines
//! is honoured when a macro or model of the project reads it (`config.get('k')`), an error
//! when it looks like a misspelt known key, and otherwise a warning.

pub mod athena;
pub mod duckdb;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{line_col, Error, Result};
use crate::project::{Config, Project, ResourceType, Target};

/// What an engine makes of a config key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Honoured,
    /// Changes nothing on this engine (why): warned about once per run.
    NoEffect(&'static str),
    /// Would change where data lands, what a table holds or who may read it if ignored, and
    /// is not supported: refused (what Strata does instead).
    Refused(&'static str),
    /// A value the key cannot take (which it can).
    Invalid(&'static str),
}

/// An engine's config keys: its own (with verdicts), and a check of values where only some
/// are honoured (`table_type: hive`).
pub struct EngineKeys {
    /// The adapter type (`athena`, `duckdb`).
    pub engine: &'static str,
    /// Whose keys these are, for messages (`dbt-athena`).
    pub dbt_adapter: &'static str,
    pub keys: &'static [(&'static str, Verdict)],
    /// Its keys of sources (dbt-duckdb's `external_location`).
    pub source_keys: &'static [(&'static str, Verdict)],
    /// A verdict that depends on the value (None: the table's verdict stands).
    pub value_check: fn(key: &str, value: &Value) -> Option<Verdict>,
    /// Keys a table-building node should set on this engine, because its dbt adapter's
    /// default differs from Strata's (why): warned about when unset.
    pub unset_on_tables: &'static [(&'static str, &'static str)],
}

/// The engines whose keys are known (another engine's key changes nothing on this one).
const ENGINES: &[&EngineKeys] = &[&athena::KEYS, &duckdb::KEYS];

/// dbt-core's own config keys that Strata honours on every engine (dbt's names, snake_case).
const DBT_KEYS: &[&str] = &[
    // every resource
    "enabled",
    "tags",
    "meta",
    "docs",
    "database",
    "schema",
    "alias",
    "quoting",
    "group",
    "access",
    // models
    "materialized",
    "pre_hook",
    "post_hook",
    "full_refresh",
    "unique_key",
    "on_schema_change",
    "incremental_strategy",
    "contract",
    // seeds
    "column_types",
    // snapshots
    "strategy",
    "updated_at",
    "check_cols",
    "target_schema",
    "target_database",
    "snapshot_meta_column_names",
    "dbt_valid_to_current",
    "hard_deletes",
    "invalidate_hard_deletes",
    // tests
    "severity",
    "warn_if",
    "error_if",
    "fail_calc",
    "store_failures",
    "store_failures_as",
    "where",
    "limit",
    // the microbatch strategy (execute/microbatch.rs)
    "event_time",
    "batch_size",
    "begin",
    "lookback",
    // sources
    "freshness",
    "loaded_at_field",
    "loaded_at_query",
];

/// dbt-core keys with the same verdict on every engine Strata has.
const DBT_KEYS_NOT_HONOURED: &[(&str, Verdict)] = &[
    (
        "concurrent_batches",
        Verdict::NoEffect("a microbatch model's batches run one after another"),
    ),
    (
        "on_configuration_change",
        Verdict::NoEffect("Strata builds no materialized views"),
    ),
    (
        "quote_columns",
        Verdict::NoEffect("Strata quotes seed column names always"),
    ),
    (
        "packages",
        Verdict::Refused("Strata runs SQL models only, no Python models"),
    ),
    (
        "sql_header",
        Verdict::Refused("no SQL is run before a model's statements"),
    ),
];

/// Strata's own keys, on every engine.
const STRATA_KEYS: &[&str] = &[
    // procedures of the rights engine
    "right_types",
    // state-aware builds (execute/reuse.rs): true reuses a model that reads the clock,
    // false never reuses it; build_after delays rebuilding on new upstream data
    "reuse",
    "build_after",
];

/// dbt's seed `delimiter`: the comma is the only one Strata reads.
fn delimiter_verdict(value: &Value) -> Verdict {
    match value.as_str() {
        Some(",") => Verdict::Honoured,
        _ => Verdict::Refused("seeds are read as comma-separated files"),
    }
}

/// `build_after` (execute/reuse.rs): a misspelt period must not pass for "no delay".
fn build_after_verdict(value: &Value) -> Verdict {
    let period = value.get("period").and_then(Value::as_str);
    let updates_on = value.get("updates_on").and_then(Value::as_str);
    let count_ok = value.get("count").is_none_or(|c| c.as_u64().is_some());
    match (period, updates_on) {
        (Some("minute" | "hour" | "day"), None | Some("any" | "all")) if count_ok => {
            Verdict::Honoured
        }
        _ => Verdict::Refused(
            "build_after takes {count: <whole number>, period: minute | hour | day, \
             updates_on: any | all}",
        ),
    }
}

/// The verdict on `key` for the engine `keys`, or None for a key nobody defines.
fn verdict(keys: &EngineKeys, key: &str, value: &Value, is_source: bool) -> Option<Verdict> {
    if key == "build_after" {
        return Some(build_after_verdict(value));
    }
    if DBT_KEYS.contains(&key) || STRATA_KEYS.contains(&key) {
        return Some(Verdict::Honoured);
    }
    if is_source {
        return keys
            .source_keys
            .iter()
            .chain(DBT_KEYS_NOT_HONOURED)
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v);
    }
    if key == "delimiter" {
        return Some(delimiter_verdict(value));
    }
    if let Some((_, v)) = DBT_KEYS_NOT_HONOURED.iter().find(|(k, _)| *k == key) {
        return Some(*v);
    }
    if let Some((_, v)) = keys.keys.iter().find(|(k, _)| *k == key) {
        return Some((keys.value_check)(key, value).unwrap_or(*v));
    }
    None
}

/// Is `value` the key's "off" (unset, false, empty)? Such a key asks for nothing, so
/// ignoring it changes nothing.
fn is_off(key: &str, value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(map) => match key {
            // dbt-athena's switches inside the maps.
            "lf_tags_config" => !matches!(map.get("enabled"), Some(Value::Bool(true))),
            "lf_grants" => !matches!(
                map.get("data_cell_filters").and_then(|f| f.get("enabled")),
                Some(Value::Bool(true))
            ),
            _ => map.values().all(|v| is_off("", v)),
        },
        Value::Number(_) | Value::Bool(true) => false,
    }
}

/// An engine's profile keys: honoured, changing nothing (why), refused (what Strata does
/// instead).
pub struct ProfileKeys {
    pub engine: &'static str,
    /// The adapter's name in messages (`Athena`).
    pub label: &'static str,
    pub dbt_adapter: &'static str,
    pub honoured: &'static [&'static str],
    pub no_effect: &'static [(&'static str, &'static str)],
    pub refused: &'static [(&'static str, &'static str)],
}

/// The profiles.yml a target came from, for messages.
pub fn profile_file(target: &Target) -> String {
    target
        .profiles_path
        .as_ref()
        .map_or_else(|| "profiles.yml".to_string(), |p| p.display().to_string())
}

/// Every key of a profile output honoured, refused or (changing nothing) warned about, as
/// dbt refuses credentials keys it does not know: a misspelt key must not fall back silently
/// (`aws_profile` would run as the default chain's identity).
pub fn check_profile(target: &Target, keys: &ProfileKeys) -> Result<Vec<String>> {
    let file = profile_file(target);
    let mut warnings = Vec::new();
    for (key, value) in &target.settings {
        if keys.honoured.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        if let Some((_, why)) = keys.no_effect.iter().find(|(k, _)| k == key) {
            warnings.push(format!(
                "{file}: target '{}': `{key}` has no effect on Strata's {} adapter ({why})",
                target.name, keys.label
            ));
            continue;
        }
        if let Some((_, instead)) = keys.refused.iter().find(|(k, _)| k == key) {
            return Err(Error::Usage(format!(
                "{file}: target '{}': `{key}` (a {} setting) is not supported by Strata yet: \
                 remove it to go on ({instead})",
                target.name, keys.dbt_adapter
            )));
        }
        let known = keys
            .honoured
            .iter()
            .copied()
            .chain(keys.no_effect.iter().map(|(k, _)| *k))
            .chain(keys.refused.iter().map(|(k, _)| *k));
        let hint = crate::error::closest(known, key, 0.85)
            .map_or(String::new(), |k| format!(" (did you mean `{k}`?)"));
        let article = if keys.engine.starts_with('a') {
            "an"
        } else {
            "a"
        };
        return Err(Error::Usage(format!(
            "{file}: target '{}': unknown setting `{key}` for {article} {} target{hint}",
            target.name, keys.engine
        )));
    }
    Ok(warnings)
}

/// A config to check, and where it belongs.
struct Checked<'a> {
    config: &'a Config,
    /// The node's file (from its project's root), for messages.
    file: &'a Path,
    /// Its project's root and YAML properties file, to find where a key is written.
    root: &'a Path,
    raw_code: &'a str,
    patch_path: Option<&'a Path>,
    /// Builds a table (a table-type key concerns it).
    builds_table: bool,
    is_source: bool,
}

/// Keys that change nothing, each with the files of the nodes that set it.
#[derive(Default)]
struct Findings {
    no_effect: BTreeMap<&'static str, (&'static str, BTreeSet<PathBuf>)>,
    foreign: BTreeMap<String, (&'static str, BTreeSet<PathBuf>)>,
    unknown: BTreeMap<String, BTreeSet<PathBuf>>,
    /// Keys of `unset_on_tables` that table-building nodes do not set.
    unset: BTreeMap<&'static str, (&'static str, BTreeSet<PathBuf>)>,
    /// Partitioned incremental models that name no strategy (the engines' defaults differ).
    no_strategy: BTreeSet<PathBuf>,
}

/// Check every enabled node's and source's config against the target's engine: the first
/// refused or misspelt key is the error; keys that change nothing come back as warnings
/// (one per key, naming up to three files).
pub fn check(project: &Project) -> Result<Vec<String>> {
    let engine = project.target.adapter_type.as_str();
    let Some(keys) = ENGINES.iter().find(|e| e.engine == engine) else {
        return Ok(Vec::new());
    };
    let read = keys_read_by_templates(project);
    let mut findings = Findings::default();
    let nodes = project.nodes.values().map(|n| Checked {
        config: &n.config,
        file: &n.original_file_path,
        root: project.root_of(&n.package_name),
        raw_code: &n.raw_code,
        patch_path: n.patch_path.as_deref(),
        builds_table: matches!(n.resource_type, ResourceType::Seed | ResourceType::Snapshot)
            || matches!(n.config.materialized(), "table" | "incremental"),
        is_source: false,
    });
    let sources = project.sources.values().map(|s| Checked {
        config: &s.config,
        file: &s.original_file_path,
        root: project.root.as_path(),
        raw_code: "",
        patch_path: None,
        builds_table: false,
        is_source: true,
    });
    for checked in nodes.chain(sources) {
        if !checked.config.enabled() {
            continue;
        }
        check_one(project, keys, &read, &checked, &mut findings)?;
    }
    Ok(findings.warnings(keys))
}

fn check_one(
    project: &Project,
    keys: &EngineKeys,
    read: &HashSet<String>,
    checked: &Checked,
    findings: &mut Findings,
) -> Result<()> {
    let file = checked.file.to_path_buf();
    if checked.builds_table {
        for (key, why) in keys.unset_on_tables {
            if checked.config.get(key).is_none() {
                findings
                    .unset
                    .entry(key)
                    .or_insert_with(|| (why, BTreeSet::new()))
                    .1
                    .insert(file.clone());
            }
        }
    }
    let config = checked.config;
    if config.materialized() == "incremental"
        && config.get("incremental_strategy").is_none()
        && !(config.list("partitioned_by").is_empty() && config.list("partition_by").is_empty())
    {
        findings.no_strategy.insert(file.clone());
    }
    for (key, value) in checked.config.entries() {
        if is_off(key, value) {
            continue;
        }
        match verdict(keys, key, value, checked.is_source) {
            Some(Verdict::Honoured) => {}
            Some(Verdict::NoEffect(why)) => {
                let known = DBT_KEYS_NOT_HONOURED
                    .iter()
                    .chain(keys.keys)
                    .chain(keys.source_keys)
                    .find(|(k, _)| k == key)
                    .map_or("", |(k, _)| *k);
                findings
                    .no_effect
                    .entry(known)
                    .or_insert_with(|| (why, BTreeSet::new()))
                    .1
                    .insert(file.clone());
            }
            Some(Verdict::Invalid(expected)) => {
                let (path, position) = locate(project, checked, key);
                return Err(Error::Config {
                    path,
                    position,
                    message: format!("config `{key}` is {value}: {expected}"),
                });
            }
            Some(Verdict::Refused(instead)) => {
                let (path, position) = locate(project, checked, key);
                return Err(Error::Config {
                    path,
                    position,
                    message: format!(
                        "config `{key}` is not supported by Strata on {} yet: remove it to \
                         go on ({instead})",
                        keys.engine
                    ),
                });
            }
            None => {
                let theirs = |e: &EngineKeys| {
                    let table = if checked.is_source {
                        e.source_keys
                    } else {
                        e.keys
                    };
                    table.iter().any(|(k, _)| k == key)
                };
                if let Some(other) = ENGINES
                    .iter()
                    .find(|e| e.engine != keys.engine && theirs(e))
                {
                    findings
                        .foreign
                        .entry(key.clone())
                        .or_insert_with(|| (other.dbt_adapter, BTreeSet::new()))
                        .1
                        .insert(file.clone());
                    continue;
                }
                if read.contains(key) {
                    continue;
                }
                if let Some(like) = crate::error::closest(all_known(keys), key, 0.9) {
                    let (path, position) = locate(project, checked, key);
                    return Err(Error::Config {
                        path,
                        position,
                        message: format!(
                            "unknown config `{key}` (did you mean `{like}`?): no macro of the \
                             project reads it"
                        ),
                    });
                }
                findings
                    .unknown
                    .entry(key.clone())
                    .or_default()
                    .insert(file.clone());
            }
        }
    }
    Ok(())
}

/// Every key with a verdict on `keys`' engine.
fn all_known<'a>(keys: &'a EngineKeys) -> impl Iterator<Item = &'static str> + 'a {
    DBT_KEYS
        .iter()
        .chain(STRATA_KEYS)
        .copied()
        .chain(["delimiter"])
        .chain(DBT_KEYS_NOT_HONOURED.iter().map(|(k, _)| *k))
        .chain(keys.keys.iter().map(|(k, _)| *k))
        .chain(keys.source_keys.iter().map(|(k, _)| *k))
}

impl Findings {
    fn warnings(self, keys: &EngineKeys) -> Vec<String> {
        let mut out = Vec::new();
        for (key, (why, set_in)) in &self.unset {
            out.push(format!(
                "{} table-building node(s) ({}) name no `{key}`: {why}",
                set_in.len(),
                files(set_in)
            ));
        }
        if !self.no_strategy.is_empty() {
            out.push(format!(
                "{} partitioned incremental model(s) ({}) name no `incremental_strategy`: on \
                 athena new rows replace the partitions they touch (dbt-athena's default, \
                 insert_overwrite), on duckdb they are appended (dbt-duckdb's); say which",
                self.no_strategy.len(),
                files(&self.no_strategy)
            ));
        }
        for (key, (why, set_in)) in &self.no_effect {
            out.push(format!(
                "config `{key}` ({}) changes nothing on {}: {why}",
                files(set_in),
                keys.engine
            ));
        }
        // Another engine's keys: one line per engine (a project built on both sets them).
        let mut by_adapter: BTreeMap<&str, (Vec<&str>, BTreeSet<&PathBuf>)> = BTreeMap::new();
        for (key, (adapter, set_in)) in &self.foreign {
            let entry = by_adapter.entry(adapter).or_default();
            entry.0.push(key);
            entry.1.extend(set_in);
        }
        for (adapter, (names, set_in)) in by_adapter {
            let set_in: BTreeSet<PathBuf> = set_in.into_iter().cloned().collect();
            out.push(format!(
                "{adapter} config {} ({}) changes nothing on {}",
                names
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                files(&set_in),
                keys.engine
            ));
        }
        for (key, set_in) in &self.unknown {
            out.push(format!(
                "config `{key}` ({}) is not a dbt, {} or Strata setting and no macro of the \
                 project reads it: it changes nothing",
                files(set_in),
                keys.dbt_adapter
            ));
        }
        out
    }
}

/// Up to three files, and how many more.
fn files(set: &BTreeSet<PathBuf>) -> String {
    let shown: Vec<String> = set
        .iter()
        .take(3)
        .map(|p| p.display().to_string())
        .collect();
    match set.len().saturating_sub(3) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Config keys that the project's macros and models read (`config.get('k')`,
/// `config.require('k')`, `config['k']`, `model.config.k`): custom materializations and
/// packages define keys of their own.
fn keys_read_by_templates(project: &Project) -> HashSet<String> {
    static READS: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let Some(reads) = READS.get_or_init(|| {
        regex::Regex::new(
            r#"config\s*(?:\.\s*(?:get|require|meta_get|meta_require)\s*\(\s*|\[\s*)['"]([A-Za-z_][\w-]*)['"]|\.config\.([A-Za-z_]\w*)"#,
        )
        .ok()
    }) else {
        return HashSet::new();
    };
    let texts = project
        .macro_files
        .iter()
        .map(|m| m.source.as_str())
        .chain(project.nodes.values().map(|n| n.raw_code.as_str()));
    let mut keys = HashSet::new();
    for text in texts {
        for c in reads.captures_iter(text) {
            if let Some(m) = c.get(1).or_else(|| c.get(2)) {
                keys.insert(crate::project::config::normalise_key(m.as_str()));
            }
        }
    }
    keys
}

/// Where `key` is written for this node: its own file (an in-file `config()`), its YAML
/// properties, or the project file; the node's file when none says it.
fn locate(project: &Project, checked: &Checked, key: &str) -> (PathBuf, Option<(usize, usize)>) {
    let Ok(pattern) = regex::Regex::new(&format!(
        r"(?m)(^|[\s(,{{])\+?{}\s*[:=]",
        regex::escape(key)
    )) else {
        return (checked.file.to_path_buf(), None);
    };
    let find = |text: &str| {
        pattern
            .find(text)
            .map(|m| line_col(text, m.start() + m.as_str().find(key).unwrap_or(0)))
    };
    if let Some(at) = find(checked.raw_code) {
        return (checked.file.to_path_buf(), Some(at));
    }
    let candidates = checked
        .patch_path
        .map(|p| checked.root.join(p))
        .into_iter()
        .chain([project.file_path.clone()]);
    for path in candidates {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Some(at) = find(&text) {
                let shown = path
                    .strip_prefix(&project.root)
                    .map_or(path.clone(), Path::to_path_buf);
                return (shown, Some(at));
            }
        }
    }
    (checked.file.to_path_buf(), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_that_asks_for_nothing_is_off() {
        assert!(is_off("force_batch", &json!(false)));
        assert!(is_off("external_location", &json!(null)));
        assert!(is_off(
            "persist_docs",
            &json!({"relation": false, "columns": false})
        ));
        assert!(!is_off("persist_docs", &json!({"relation": true})));
        assert!(is_off(
            "lf_tags_config",
            &json!({"tags": {"domain": "sales"}})
        ));
        assert!(!is_off("lf_tags_config", &json!({"enabled": true})));
        assert!(is_off(
            "lf_grants",
            &json!({"data_cell_filters": {"enabled": false}})
        ));
        assert!(!is_off("partitions_limit", &json!(0)));
    }

    #[test]
    fn dbt_keys_come_before_an_engines_and_values_can_refuse() {
        let athena = &athena::KEYS;
        assert_eq!(
            verdict(athena, "unique_key", &json!("id"), false),
            Some(Verdict::Honoured)
        );
        assert_eq!(
            verdict(athena, "table_type", &json!("ICEBERG"), false),
            Some(Verdict::Honoured)
        );
        assert_eq!(
            verdict(athena, "table_type", &json!("hive"), false),
            Some(Verdict::Honoured)
        );
        assert!(matches!(
            verdict(athena, "table_type", &json!("delta"), false),
            Some(Verdict::Invalid(_))
        ));
        assert!(matches!(
            verdict(athena, "delimiter", &json!("|"), false),
            Some(Verdict::Refused(_))
        ));
        // A source's keys are a source's: a model key is no source key.
        assert_eq!(verdict(athena, "table_type", &json!("iceberg"), true), None);
        assert_eq!(
            verdict(&duckdb::KEYS, "external_location", &json!("x"), true),
            Some(Verdict::Honoured)
        );
        assert_eq!(
            verdict(&duckdb::KEYS, "table_type", &json!("iceberg"), false),
            None
        );
    }
}
