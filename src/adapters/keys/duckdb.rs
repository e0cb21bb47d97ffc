//! dbt-duckdb's config keys (dbt-duckdb 1.11: its macros' `config.get` and its profile's
//! `DuckDBCredentials`), with what Strata's DuckDB adapter makes of each.

use super::{EngineKeys, Verdict};
use crate::error::{Error, Result};
use crate::project::Target;

/// What the duckdb target makes of dbt-duckdb's model and source keys.
pub const KEYS: EngineKeys = EngineKeys {
    engine: "duckdb",
    dbt_adapter: "dbt-duckdb",
    keys: DUCKDB_KEYS,
    source_keys: &[("external_location", Verdict::Honoured)],
    value_check: |_, _| None,
    unset_on_tables: &[],
};

const NOT_YET_MERGE: Verdict = Verdict::Refused(
    "merge has one WHEN MATCHED UPDATE and one WHEN NOT MATCHED INSERT clause, on the unique key",
);
const NO_EXTERNAL: Verdict =
    Verdict::Refused("Strata has no `external` materialization: models build DuckDB tables");

const DUCKDB_KEYS: &[(&str, Verdict)] = &[
    // the partitions insert_overwrite replaces (dbt-duckdb: `partition_by` of external files)
    ("partitioned_by", Verdict::Honoured),
    ("partition_by", Verdict::Honoured),
    // dbt-athena's schema for an incremental run's new rows: honoured here too (one meaning)
    ("temp_schema", Verdict::Honoured),
    // COMMENT ON the relation and its columns
    ("persist_docs", Verdict::Honoured),
    (
        "grants",
        Verdict::NoEffect("DuckDB has no grants (dbt-duckdb warns the same)"),
    ),
    // the merge strategy (macros/merge.sql)
    ("incremental_predicates", Verdict::Honoured),
    ("merge_update_columns", Verdict::Honoured),
    ("merge_exclude_columns", Verdict::Honoured),
    ("merge_update_condition", Verdict::Honoured),
    ("merge_insert_condition", Verdict::Honoured),
    ("merge_update_set_expressions", Verdict::Honoured),
    ("merge_on_using_columns", NOT_YET_MERGE),
    ("merge_returning_columns", NOT_YET_MERGE),
    ("merge_clauses", NOT_YET_MERGE),
    ("location", NO_EXTERNAL),
    ("options", NO_EXTERNAL),
    ("glue_register", NO_EXTERNAL),
    ("glue_database", NO_EXTERNAL),
    (
        "plugin",
        Verdict::Refused("dbt-duckdb plugins are not supported"),
    ),
];

/// The profile keys the duckdb target honours.
const PROFILE_HONOURED: &[&str] = &[
    "type",
    "threads",
    "path",
    "database",
    "schema",
    "config_options",
    "extensions",
    "settings",
    "duckdb_threads",
];

/// dbt-duckdb profile keys that change nothing here.
const PROFILE_NO_EFFECT: &[(&str, &str)] = &[
    ("external_root", "Strata has no `external` materialization"),
    (
        "disable_transactions",
        "Strata commits each model's statements together",
    ),
    ("keep_open", "the database stays open for the whole run"),
    ("retries", "DuckDB statements are not retried"),
];

/// dbt-duckdb profile keys that would change what data is visible if ignored: refused.
const PROFILE_REFUSED: &[(&str, &str)] = &[
    ("attach", "no other databases are attached"),
    ("secrets", "no DuckDB secrets are created"),
    ("filesystems", "no fsspec filesystems are registered"),
    ("plugins", "dbt-duckdb plugins are not supported"),
    ("module_paths", "dbt-duckdb plugins are not supported"),
    (
        "use_credential_provider",
        "no credential provider is loaded",
    ),
    ("remote", "the database is opened in process"),
    ("flights", "the database is opened in process"),
    ("is_ducklake", "DuckLake catalogs are not supported"),
    ("motherduck_token", "MotherDuck is not supported"),
];

/// Every key of a duckdb profile output honoured, refused or warned about (as the Athena
/// target's are); `database`, when given, must be the database file's name (dbt-duckdb's
/// rule: the database is the attached file).
pub fn check_profile_keys(target: &Target) -> Result<Vec<String>> {
    if let Some(database) = target.setting_str("database") {
        if database != target.database {
            return Err(Error::Usage(format!(
                "{}: target '{}': `database: {database}` does not match the database file: \
                 with `path` {} the database is '{}' (dbt-duckdb refuses this too)",
                super::profile_file(target),
                target.name,
                target.setting_str("path").unwrap_or(":memory:"),
                target.database
            )));
        }
    }
    super::check_profile(target, &PROFILE_KEYS)
}

const PROFILE_KEYS: super::ProfileKeys = super::ProfileKeys {
    engine: "duckdb",
    label: "DuckDB",
    dbt_adapter: "dbt-duckdb",
    honoured: PROFILE_HONOURED,
    no_effect: PROFILE_NO_EFFECT,
    refused: PROFILE_REFUSED,
};
