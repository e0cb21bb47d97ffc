//! What each engine makes of a profile's output (the target's database and schema), and
//! the target of a project without a profile: an embedded DuckDB file. Given to project
//! loading as [`TARGET_RULES`], since projects load before any adapter exists.

use std::path::Path;

use serde_json::{Map, Value};

use crate::project::{Target, TargetOutput, TargetRules};

/// The engines' target rules, for `project::open`.
pub const TARGET_RULES: TargetRules = TargetRules {
    default_target,
    database_and_schema,
    check_settings,
};

/// Each engine's check of its target's keys: every dbt-athena or dbt-duckdb key honoured,
/// refused or warned about.
fn check_settings(target: &Target) -> crate::error::Result<Vec<String>> {
    match target.adapter_type.as_str() {
        "athena" => super::athena::settings::check_keys(target),
        "duckdb" => super::keys::duckdb::check_profile_keys(target),
        _ => Ok(Vec::new()),
    }
}

/// DuckDB in `<target-path>/<project>.duckdb`, schema `main`.
pub fn default_target(project_name: &str, target_path: &str) -> Target {
    let path = format!("{target_path}/{project_name}.duckdb");
    let mut settings = Map::new();
    settings.insert("type".into(), Value::from("duckdb"));
    settings.insert("path".into(), Value::from(path));
    Target {
        name: "dev".into(),
        adapter_type: "duckdb".into(),
        database: project_name.into(),
        schema: "main".into(),
        threads: None,
        settings,
        profiles_path: None,
    }
}

/// The (database, schema) of a profile output. A type this build cannot run gets Athena's
/// rule (connecting refuses it afterwards, once the profile has been checked).
fn database_and_schema(output: &TargetOutput) -> Result<(String, String), String> {
    match output.adapter_type {
        "duckdb" => Ok(duckdb_database_and_schema(output)),
        _ => catalog_database_and_schema(output),
    }
}

/// DuckDB: the database is the file's stem (`memory` in memory), the schema `main` unless
/// the output says otherwise.
fn duckdb_database_and_schema(output: &TargetOutput) -> (String, String) {
    let db_path = output
        .settings
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or(":memory:");
    let stem = if db_path == ":memory:" {
        "memory".to_string()
    } else {
        Path::new(db_path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| output.project_name.to_string())
    };
    let schema = output
        .settings
        .get("schema")
        .and_then(Value::as_str)
        .unwrap_or("main");
    (stem, schema.to_string())
}

/// Athena: the `database` (or `catalog`, default `awsdatacatalog`) and a required `schema`.
fn catalog_database_and_schema(output: &TargetOutput) -> Result<(String, String), String> {
    let settings = output.settings;
    let database = settings
        .get("database")
        .or_else(|| settings.get("catalog"))
        .and_then(Value::as_str)
        .unwrap_or("awsdatacatalog")
        .to_string();
    let schema = settings
        .get("schema")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("target '{}' has no `schema:`", output.name))?
        .to_string();
    Ok((database, schema))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(adapter_type: &str, settings: Value) -> Result<(String, String), String> {
        let settings = settings.as_object().cloned().unwrap_or_default();
        database_and_schema(&TargetOutput {
            name: "dev",
            adapter_type,
            settings: &settings,
            project_name: "p",
        })
    }

    #[test]
    fn each_engine_names_its_database_and_schema() {
        let duck = |s| resolve("duckdb", s);
        assert_eq!(
            duck(serde_json::json!({})),
            Ok(("memory".into(), "main".into()))
        );
        assert_eq!(
            duck(serde_json::json!({"path": "data/wh.duckdb", "schema": "s"})),
            Ok(("wh".into(), "s".into()))
        );
        assert_eq!(
            resolve("athena", serde_json::json!({"schema": "s"})),
            Ok(("awsdatacatalog".into(), "s".into()))
        );
        assert_eq!(
            resolve("athena", serde_json::json!({"catalog": "c", "schema": "s"})),
            Ok(("c".into(), "s".into()))
        );
        assert_eq!(
            resolve("other", serde_json::json!({})),
            Err("target 'dev' has no `schema:`".into())
        );
        let default = default_target("p", "target");
        assert_eq!(
            (default.database.as_str(), default.schema.as_str()),
            ("p", "main")
        );
        assert_eq!(default.setting_str("path"), Some("target/p.duckdb"));
    }
}
