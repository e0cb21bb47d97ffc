//! Every config key is honoured, refused or warned about on the target's engine: dbt-athena's
//! documented model keys one by one, dbt-duckdb's, another engine's, a key a project macro
//! reads, a misspelt key, and the DuckDB profile's keys. `strata ls` is enough: the check
//! runs when the project loads, before anything connects.

use crate::common::TestProject;

/// What Strata must make of a key; a key missing from the lists below would go unchecked,
/// so every key of dbt-athena's documentation (model, seed and snapshot configs) is here.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Honoured,
    Warned,
    Refused,
}
use Expect::*;

/// dbt-athena 1.11's model, seed and snapshot config keys (its docs and `AthenaConfig`),
/// with a value that asks for something, and what the athena target must do with each.
const DBT_ATHENA_KEYS: &[(&str, &str, Expect)] = &[
    ("table_type", "'iceberg'", Honoured),
    ("partitioned_by", "['id']", Honoured),
    ("format", "'parquet'", Honoured),
    ("write_compression", "'snappy'", Honoured),
    (
        "table_properties",
        "{'optimize_rewrite_delete_file_threshold': '2'}",
        Honoured,
    ),
    ("ha", "true", Honoured),
    ("bucketed_by", "['id']", Honoured),
    ("bucket_count", "4", Honoured),
    ("field_delimiter", "'|'", Honoured),
    ("native_drop", "true", Warned),
    ("versions_to_keep", "2", Warned),
    ("lf_inherited_tags", "['owner']", Warned),
    ("file_format", "'parquet'", Warned),
    ("work_group", "'etl'", Warned),
    ("s3_staging_dir", "'s3://b/x/'", Warned),
    ("skip_workgroup_check", "true", Warned),
    ("seed_by_insert", "true", Warned),
    ("unique_tmp_table_suffix", "true", Warned),
    ("persist_docs", "{'relation': true}", Honoured),
    ("grants", "{'select': ['analyst']}", Warned),
    ("external_location", "'s3://b/orders/'", Honoured),
    ("s3_data_dir", "'s3://b/data/'", Honoured),
    ("s3_data_naming", "'table'", Honoured),
    ("s3_tmp_table_dir", "'s3://b/tmp/'", Honoured),
    ("temp_schema", "'scratch'", Honoured),
    (
        "lf_tags_config",
        "{'enabled': true, 'tags': {'domain': 'sales'}}",
        Honoured,
    ),
    (
        "lf_grants",
        "{'data_cell_filters': {'enabled': true, 'filters': {}}}",
        Honoured,
    ),
    (
        "seed_s3_upload_args",
        "{'ACL': 'bucket-owner-full-control'}",
        Honoured,
    ),
    ("catalog_name", "'glue'", Refused),
    ("partitions_limit", "50", Honoured),
    ("force_batch", "true", Honoured),
    ("incremental_predicates", "['target.id > 0']", Honoured),
    ("update_condition", "'src.id > 0'", Honoured),
    ("insert_condition", "'src.id > 0'", Honoured),
    ("delete_condition", "'src.status = 0'", Honoured),
    ("merge_update_columns", "['status']", Honoured),
    ("merge_exclude_columns", "['id']", Honoured),
    ("merge_update_columns_default_rule", "'coalesce'", Honoured),
    (
        "merge_update_columns_rules",
        "{'status': 'coalesce'}",
        Honoured,
    ),
    ("timeout", "60", Refused),
    ("polling_interval", "5", Refused),
    ("engine_config", "{'MaxConcurrentDpus': 2}", Refused),
    ("spark_encryption", "true", Refused),
    ("spark_cross_account_catalog", "true", Refused),
    ("spark_requester_pays", "true", Refused),
];

/// dbt-duckdb 1.11's model keys that its macros read, on a duckdb target.
const DBT_DUCKDB_KEYS: &[(&str, &str, Expect)] = &[
    ("partitioned_by", "['id']", Honoured),
    ("persist_docs", "{'columns': true}", Honoured),
    ("grants", "{'select': ['analyst']}", Warned),
    (
        "incremental_predicates",
        "['DBT_INTERNAL_DEST.id > 0']",
        Honoured,
    ),
    ("merge_update_columns", "['status']", Honoured),
    ("merge_exclude_columns", "['id']", Honoured),
    ("merge_update_condition", "'1 = 1'", Honoured),
    ("merge_insert_condition", "'1 = 1'", Honoured),
    (
        "merge_update_set_expressions",
        "{'status': 'excluded.status'}",
        Honoured,
    ),
    ("merge_on_using_columns", "['id']", Refused),
    ("merge_returning_columns", "['id']", Refused),
    (
        "merge_clauses",
        "{'when_matched': [{'action': 'update'}]}",
        Refused,
    ),
    ("location", "'out/orders.parquet'", Refused),
    ("options", "{'compression': 'zstd'}", Refused),
    ("glue_register", "true", Refused),
    ("plugin", "'excel'", Refused),
    // dbt-core keys with the same verdict everywhere
    ("sql_header", "'select 1'", Refused),
    ("event_time", "'ordered_at'", Honoured),
    ("on_configuration_change", "'fail'", Warned),
];

/// A project with one table model carrying `config(<key>=<value>)`, on `profile`.
fn project_with(key: &str, value: &str, profile: &str) -> TestProject {
    let p = TestProject::new("keys", "profile: keys\n");
    p.write("profiles.yml", profile);
    p.write(
        "models/orders.sql",
        &format!(
            "{{{{ config(materialized='table', table_type='iceberg',\n    {key}={value}) }}}}\n\
             select 1 as id, 'a' as status\n"
        ),
    );
    p
}

const ATHENA_PROFILE: &str =
    "keys:\n  target: prod\n  outputs:\n    prod:\n      type: athena\n      \
     region_name: eu-west-1\n      s3_staging_dir: s3://results/\n      schema: analytics\n";
const DUCKDB_PROFILE: &str =
    "keys:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: keys.duckdb\n";

/// What `strata ls` made of `key`: honoured (ok, not named), warned (ok, named), refused
/// (failed, named); a failure that does not name the key is an error of the test.
fn verdict_of(p: &TestProject, key: &str) -> Result<(Expect, String), String> {
    let run = p.strata(&["ls"]);
    let out = run.output();
    match (run.code, out.contains(&format!("`{key}`"))) {
        (0, false) => Ok((Honoured, out)),
        (0, true) => Ok((Warned, out)),
        (_, true) => Ok((Refused, out)),
        (_, false) => Err(format!("{key}: failed without naming the key:\n{out}")),
    }
}

fn check_each(keys: &[(&str, &str, Expect)], profile: &str, engine: &str) {
    let mut wrong = Vec::new();
    for (key, value, expect) in keys {
        let p = project_with(key, value, profile);
        let (got, out) = match verdict_of(&p, key) {
            Ok(v) => v,
            Err(e) => {
                wrong.push(e);
                continue;
            }
        };
        if got != *expect {
            wrong.push(format!(
                "{key}: expected {expect:?}, got {got:?}:\n{}\n{out}",
                p.read("models/orders.sql")
            ));
        }
        // A refusal points at the line of the model that sets the key.
        if got == Refused && !out.contains("models/orders.sql:2:5") {
            wrong.push(format!(
                "{key}: the error does not point at models/orders.sql:2:5:\n{out}"
            ));
        }
        if got == Warned && !out.contains(&format!("changes nothing on {engine}")) {
            wrong.push(format!(
                "{key}: the warning does not say what it changes:\n{out}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn every_dbt_athena_model_key_is_honoured_refused_or_warned_about() {
    check_each(DBT_ATHENA_KEYS, ATHENA_PROFILE, "athena");
}

#[test]
fn every_dbt_duckdb_model_key_is_honoured_refused_or_warned_about() {
    check_each(DBT_DUCKDB_KEYS, DUCKDB_PROFILE, "duckdb");
}

/// A key that asks for nothing (`false`, empty, `enabled: false`) changes nothing if ignored.
#[test]
fn a_key_switched_off_is_not_refused() {
    for (key, value) in [
        ("force_batch", "false"),
        (
            "lf_tags_config",
            "{'enabled': false, 'tags': {'domain': 'sales'}}",
        ),
        ("persist_docs", "{'relation': false, 'columns': false}"),
        ("external_location", "none"),
    ] {
        let p = project_with(key, value, ATHENA_PROFILE);
        let run = p.strata(&["ls"]);
        run.assert_ok();
        assert!(
            !run.output().contains(&format!("`{key}`")),
            "{key}: {}",
            run.output()
        );
    }
}

/// Athena's keys on a DuckDB target (a project built on both) change nothing there: one
/// warning names them; a table-building model without `table_type` on Athena is warned
/// about (dbt-athena would build a Hive table).
#[test]
fn another_engines_keys_and_a_missing_table_type_are_warned_about() {
    let p = TestProject::new(
        "keys",
        "profile: keys\nmodels:\n  keys:\n    +format: parquet\n    +write_compression: zstd\n",
    );
    p.write("profiles.yml", DUCKDB_PROFILE);
    p.write(
        "models/orders.sql",
        "{{ config(materialized='table', lf_tags_config={'enabled': true}) }}\nselect 1 as id\n",
    );
    p.write("models/items.sql", "select 1 as id\n");
    p.strata(&["ls"]).assert_ok().assert_contains(
        "dbt-athena config `format`, `lf_tags_config`, `write_compression` \
         (models/items.sql, models/orders.sql) changes nothing on duckdb",
    );
    p.strata(&["ls", "--warn-error"])
        .assert_code(2)
        .assert_contains("made an error by --warn-error");

    p.write("profiles.yml", ATHENA_PROFILE);
    p.write(
        "models/orders.sql",
        "{{ config(materialized='table') }}\nselect 1 as id\n",
    );
    p.strata(&["ls"]).assert_ok().assert_contains(
        "1 table-building node(s) (models/orders.sql) name no `table_type`: dbt-athena \
         builds them as Hive tables",
    );
}

/// A key no engine defines: honoured when a project macro reads it, an error when it looks
/// like a known key misspelt (pointing at the line), a warning otherwise.
#[test]
fn unknown_keys_read_by_a_macro_misspelt_or_unused() {
    let p = TestProject::new("keys", "");
    p.write(
        "macros/owner.sql",
        "{% macro owner_comment() %}-- {{ config.get('data_owner') }}{% endmacro %}\n",
    );
    p.write(
        "models/orders.sql",
        "{{ config(materialized='table', data_owner='sales') }}\nselect 1 as id\n",
    );
    let run = p.strata(&["ls"]);
    run.assert_ok();
    assert!(!run.output().contains("data_owner"), "{}", run.output());

    p.write(
        "models/orders.sql",
        "{{ config(materialized='table',\n  uniqe_key='id') }}\nselect 1 as id\n",
    );
    p.strata(&["ls"]).assert_code(2).assert_contains(
        "models/orders.sql:2:3: unknown config `uniqe_key` (did you mean `unique_key`?)",
    );

    p.write(
        "models/orders.sql",
        "{{ config(materialized='table', cost_center='finance') }}\nselect 1 as id\n",
    );
    p.strata(&["ls"]).assert_ok().assert_contains(
        "config `cost_center` (models/orders.sql) is not a dbt, dbt-duckdb or Strata setting",
    );
}

/// A key set in the project file is found there.
#[test]
fn a_refused_key_in_the_project_file_points_at_its_line() {
    let p = TestProject::new(
        "keys",
        "profile: keys\nmodels:\n  keys:\n    +table_type: iceberg\n    +format: parquet\n    \
         +catalog_name: glue\n",
    );
    p.write("profiles.yml", ATHENA_PROFILE);
    p.write("models/orders.sql", "select 1 as id\n");
    p.strata(&["ls"]).assert_code(2).assert_contains(
        "project.yml:7:6: config `catalog_name` is not supported by Strata on athena",
    );
}

/// The DuckDB profile's keys: dbt-duckdb's that would change what data is visible are
/// refused, the ones that change nothing warned about, a misspelt one refused with a hint,
/// and `database` must name the file's database, as dbt-duckdb requires.
#[test]
fn duckdb_profile_keys_are_honoured_refused_or_warned_about() {
    let p = TestProject::new("keys", "profile: keys\n");
    p.write("models/orders.sql", "select 1 as id\n");
    let with = |extra: &str| {
        p.write("profiles.yml", &format!("{DUCKDB_PROFILE}{extra}"));
        p.strata(&["ls"])
    };
    with("      secrets:\n        - type: s3\n")
        .assert_code(2)
        .assert_contains("`secrets` (a dbt-duckdb setting) is not supported by Strata yet");
    with("      retries: {connect_attempts: 3}\n")
        .assert_ok()
        .assert_contains("`retries` has no effect on Strata's DuckDB adapter");
    with("      extentions: [httpfs]\n")
        .assert_code(2)
        .assert_contains(
            "unknown setting `extentions` for a duckdb target (did you mean `extensions`?)",
        );
    with("      database: warehouse\n")
        .assert_code(2)
        .assert_contains("`database: warehouse` does not match the database file");
    with("      database: keys\n").assert_ok();
}

/// dbt-athena 1.11's profile keys (`AthenaCredentials`), each with a value, and what the
/// athena target must do with it; `ls` reads the profile without connecting.
#[test]
fn every_dbt_athena_profile_key_is_honoured_refused_or_warned_about() {
    const KEYS: &[(&str, &str, Expect)] = &[
        ("work_group", "etl", Honoured),
        ("s3_data_dir", "s3://lake/tables/", Honoured),
        ("s3_data_naming", "schema_table", Honoured),
        ("s3_tmp_table_dir", "s3://lake/tmp/", Honoured),
        ("endpoint_url", "http://127.0.0.1:1", Honoured),
        ("aws_profile_name", "analytics", Honoured),
        (
            "aws_access_key_id",
            "AKIA0\n      aws_secret_access_key: s",
            Honoured,
        ),
        (
            "aws_session_token",
            "t\n      aws_access_key_id: AKIA0\n      aws_secret_access_key: s",
            Honoured,
        ),
        ("assume_role_arn", "arn:aws:iam::1:role/r", Honoured),
        (
            "assume_role_external_id",
            "x\n      assume_role_arn: arn:aws:iam::1:role/r",
            Honoured,
        ),
        (
            "assume_role_session_name",
            "s\n      assume_role_arn: arn:aws:iam::1:role/r",
            Honoured,
        ),
        (
            "assume_role_duration_seconds",
            "900\n      assume_role_arn: arn:aws:iam::1:role/r",
            Honoured,
        ),
        ("num_retries", "3", Honoured),
        ("poll_interval", "1", Honoured),
        ("lf_tags_database", "{domain: sales}", Honoured),
        ("seed_s3_upload_args", "{ACL: private}", Honoured),
        ("catalog", "awsdatacatalog", Honoured),
        ("num_boto3_retries", "3", Warned),
        ("num_iceberg_retries", "3", Warned),
        ("skip_workgroup_check", "true", Warned),
        ("debug_query_state", "true", Warned),
        ("connection_manager", "api", Warned),
        ("spark_work_group", "spark", Refused),
    ];
    let mut wrong = Vec::new();
    for (key, value, expect) in KEYS {
        let p = TestProject::new("keys", "profile: keys\n");
        p.write(
            "profiles.yml",
            &format!("{ATHENA_PROFILE}      {key}: {value}\n"),
        );
        p.write("models/orders.sql", "select 1 as id\n");
        match verdict_of(&p, key) {
            Ok((got, _)) if got == *expect => {}
            Ok((got, out)) => {
                wrong.push(format!("{key}: expected {expect:?}, got {got:?}:\n{out}"))
            }
            Err(e) => wrong.push(e),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}
