//! Data tests: the four generic tests, custom generic tests, singular tests, severity,
//! where, warn_if / error_if, and how build skips what sits below a failed test.

use crate::common::TestProject;

fn results(p: &TestProject) -> Vec<(String, String, Option<u64>)> {
    let v: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("json");
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap_or_default().to_string(),
                r["status"].as_str().unwrap_or_default().to_string(),
                r["failures"].as_u64(),
            )
        })
        .collect()
}

fn status_of(p: &TestProject, prefix: &str) -> (String, Option<u64>) {
    let all = results(p);
    all.iter()
        .find(|(id, _, _)| id.starts_with(prefix))
        .map(|(_, s, f)| (s.clone(), *f))
        .unwrap_or_else(|| panic!("no result for {prefix} in {all:#?}"))
}

fn project() -> TestProject {
    let p = TestProject::new("dt", "");
    p.write(
        "seeds/customers.csv",
        "id,status\n1,active\n2,active\n3,gone\n",
    );
    p.write(
        "seeds/orders.csv",
        "id,customer_id,amount\n10,1,5\n11,2,7\n12,9,1\n12,3,2\n13,,4\n",
    );
    p.write(
        "macros/is_positive.sql",
        "{% test is_positive(model, column_name) %}\nselect * from {{ model }} where {{ column_name }} <= 0\n{% endtest %}\n",
    );
    p.write(
        "seeds/schema.yml",
        r#"version: 2
seeds:
  - name: customers
    columns:
      - name: id
        data_tests: [unique, not_null]
      - name: status
        data_tests:
          - accepted_values:
              arguments: {values: [active, gone]}
  - name: orders
    columns:
      - name: id
        data_tests:
          - unique
          - unique:
              config: {where: "id <> 12"}
              name: unique_orders_id_without_12
      - name: customer_id
        data_tests:
          - not_null:
              config: {severity: warn}
          - relationships:
              arguments: {to: "ref('customers')", field: id}
      - name: amount
        data_tests:
          - is_positive
          - accepted_values:
              values: [5, 7, 1, 2, 4]
              quote: false
              warn_if: ">= 1"
              error_if: ">= 10"
"#,
    );
    p.write(
        "tests/no_big_orders.sql",
        "select * from {{ ref('orders') }} where amount > 6\n",
    );
    p
}

#[test]
fn each_test_type_passes_and_fails_as_configured() {
    let p = project();
    p.strata(&["seed"]).assert_ok();
    let r = p.strata(&["test"]);
    r.assert_code(1);
    assert_eq!(status_of(&p, "test.dt.unique_customers_id.").0, "pass");
    assert_eq!(status_of(&p, "test.dt.not_null_customers_id.").0, "pass");
    assert_eq!(
        status_of(
            &p,
            "test.dt.accepted_values_customers_status__active__gone."
        )
        .0,
        "pass"
    );
    // id 12 appears twice.
    assert_eq!(status_of(&p, "test.dt.unique_orders_id.").0, "fail");
    assert_eq!(status_of(&p, "test.dt.unique_orders_id.").1, Some(1));
    // ... and `where` excludes it.
    assert_eq!(
        status_of(&p, "test.dt.unique_orders_id_without_12.").0,
        "pass"
    );
    // A null customer with severity warn warns, it does not fail.
    assert_eq!(
        status_of(&p, "test.dt.not_null_orders_customer_id.").0,
        "warn"
    );
    // Customer 9 does not exist.
    let rel = status_of(
        &p,
        "test.dt.relationships_orders_customer_id__id__ref_customers_.",
    );
    assert_eq!(rel, ("fail".to_string(), Some(1)));
    assert_eq!(
        status_of(&p, "test.dt.is_positive_orders_amount.").0,
        "pass"
    );
    // All amounts are accepted: 0 failures, below warn_if.
    assert_eq!(
        status_of(&p, "test.dt.accepted_values_orders_amount").0,
        "pass"
    );
    // Singular test: one order has amount 7.
    assert_eq!(status_of(&p, "test.dt.no_big_orders").0, "fail");
    r.assert_contains("FAIL 1 relationships_orders_customer_id__id__ref_customers_")
        .assert_contains("WARN 1 not_null_orders_customer_id");
}

#[test]
fn warn_if_and_error_if_thresholds() {
    let p = project();
    p.write(
        "seeds/orders.csv",
        "id,customer_id,amount\n10,1,5\n11,2,-7\n",
    );
    p.write(
        "tests/negative.sql",
        "{{ config(warn_if='>= 1', error_if='>= 2') }}\nselect * from {{ ref('orders') }} where amount < 0\n",
    );
    p.strata(&["seed"]).assert_ok();
    p.strata(&["test", "-s", "negative"]).assert_ok();
    assert_eq!(status_of(&p, "test.dt.negative").0, "warn");
    p.write(
        "seeds/orders.csv",
        "id,customer_id,amount\n10,1,-5\n11,2,-7\n",
    );
    p.strata(&["seed"]).assert_ok();
    p.strata(&["test", "-s", "negative"]).assert_code(1);
    assert_eq!(status_of(&p, "test.dt.negative").0, "fail");
}

#[test]
fn build_skips_children_of_a_failed_test_and_runs_the_rest() {
    let p = TestProject::new("bld", "models:\n  bld:\n    +materialized: table\n");
    p.write("seeds/raw.csv", "id\n1\n1\n2\n");
    p.write("seeds/other.csv", "id\n5\n");
    p.write("models/stg.sql", "select id from {{ ref('raw') }}\n");
    p.write(
        "models/mart.sql",
        "select count(*) as n from {{ ref('stg') }}\n",
    );
    p.write("models/side.sql", "select id from {{ ref('other') }}\n");
    p.write("models/schema.yml", "version: 2\nmodels:\n  - name: stg\n    columns:\n      - name: id\n        tests: [unique]\n");
    let r = p.strata(&["build"]);
    r.assert_code(1);
    let all = results(&p);
    let get = |id: &str| {
        all.iter()
            .find(|(u, _, _)| u == id)
            .map(|(_, s, _)| s.clone())
            .unwrap()
    };
    assert_eq!(get("model.bld.stg"), "success");
    assert_eq!(
        get("model.bld.mart"),
        "skipped",
        "mart sits below the failed test on stg"
    );
    assert_eq!(get("model.bld.side"), "success");
    let side_exists = p.scalar(
        "bld",
        "select count(*) from information_schema.tables where table_name = 'mart'",
    );
    assert_eq!(side_exists, "0");
}

/// In `build`, a failing test on a source skips the models that select from it (and theirs),
/// as in dbt; they used to build, one of them before the source's test had finished.
#[test]
fn build_skips_models_reading_a_source_whose_test_failed() {
    let p = TestProject::new(
        "srcb",
        "on-run-start: \"create table if not exists src_data as select * from (values (1), (1), (2)) t(id)\"\n",
    );
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: raw\n    schema: main\n    tables:\n      - name: src_data\n        \
         columns:\n          - name: id\n            data_tests: [unique]\n",
    );
    p.write(
        "models/from_src.sql",
        "select id from {{ source('raw', 'src_data') }}\n",
    );
    p.write("models/below.sql", "select * from {{ ref('from_src') }}\n");
    p.write("models/unrelated.sql", "select 1 as x\n");
    // Through an ephemeral model too.
    p.write(
        "models/eph.sql",
        "{{ config(materialized='ephemeral') }}\nselect id from {{ source('raw', 'src_data') }}\n",
    );
    p.write("models/via_eph.sql", "select * from {{ ref('eph') }}\n");
    p.strata(&["build"]).assert_code(1);
    assert_eq!(status_of(&p, "model.srcb.via_eph").0, "skipped");
    assert_eq!(
        status_of(&p, "test.srcb.source_unique_raw_src_data_id"),
        ("fail".to_string(), Some(1))
    );
    assert_eq!(status_of(&p, "model.srcb.from_src").0, "skipped");
    assert_eq!(status_of(&p, "model.srcb.below").0, "skipped");
    assert_eq!(status_of(&p, "model.srcb.unrelated").0, "success");
}

/// Two singular tests that each read the shared parent and one of two siblings must not make
/// the siblings wait on each other (a deadlock in an earlier scheduler).
#[test]
fn build_with_tests_across_siblings_completes() {
    let p = TestProject::new("sib", "models:\n  sib:\n    +materialized: table\n");
    p.write("models/base.sql", "select 1 as id\n");
    p.write("models/left_side.sql", "select id from {{ ref('base') }}\n");
    p.write(
        "models/right_side.sql",
        "select id from {{ ref('base') }}\n",
    );
    p.write(
        "tests/left_matches.sql",
        "select * from {{ ref('base') }} where id not in (select id from {{ ref('left_side') }})\n",
    );
    p.write("tests/right_matches.sql", "select * from {{ ref('base') }} where id not in (select id from {{ ref('right_side') }})\n");
    p.write("models/schema.yml", "version: 2\nmodels:\n  - name: base\n    columns:\n      - name: id\n        tests: [unique]\n");
    p.strata(&["build"]).assert_ok().assert_contains("PASS=6");
}

/// `store_failures` keeps a failing test's rows in `<schema>_dbt_test__audit.<test name>`,
/// as dbt does (it used to be accepted and ignored); `store_failures_as: view` keeps a view.
#[test]
fn store_failures_keeps_the_failing_rows() {
    let p = TestProject::new(
        "sf",
        "data_tests:\n  sf:\n    +store_failures: true\n\
         on-run-end: \"create or replace table main.ran_schemas as select '{{ schemas | join(',') }}' as s\"\n",
    );
    p.write(
        "models/m.sql",
        "select id, 'x' as other from (values (1), (1), (2), (3), (3)) t(id)\n",
    );
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: m\n    columns:\n      - name: id\n        data_tests:\n          - unique\n          - not_null:\n              config: {store_failures_as: view}\n",
    );
    p.strata(&["build"]).assert_code(1);
    assert_eq!(
        p.scalar(
            "sf",
            "select string_agg(unique_field::varchar || 'x' || n_records::varchar, ',' order by unique_field) \
             from main_dbt_test__audit.unique_m_id"
        ),
        "1x2,3x2"
    );
    assert_eq!(
        p.scalar(
            "sf",
            "select table_type from information_schema.tables where table_schema = 'main_dbt_test__audit' \
             and table_name = 'not_null_m_id'"
        ),
        "VIEW"
    );
    // not_null keeps whole rows when it stores them (dbt's should_store_failures()).
    assert_eq!(
        p.scalar(
            "sf",
            "select count(*) from information_schema.columns \
             where table_schema = 'main_dbt_test__audit' and table_name = 'not_null_m_id'"
        ),
        "2"
    );
    // on-run-end's `schemas` lists the audit schema too, as dbt's does.
    assert_eq!(
        p.scalar("sf", "select s from main.ran_schemas"),
        "main,main_dbt_test__audit"
    );
    // Stored again on the next run (replaced, not appended).
    p.strata(&["test"]).assert_code(1);
    assert_eq!(
        p.scalar(
            "sf",
            "select count(*) from main_dbt_test__audit.unique_m_id"
        ),
        "2"
    );

    // The audit schema goes through the project's generate_schema_name, as in dbt.
    p.write(
        "macros/schema.sql",
        "{% macro generate_schema_name(custom_schema_name, node) -%}\n\
         {{ custom_schema_name | trim if custom_schema_name else target.schema }}\n\
         {%- endmacro %}\n",
    );
    p.strata(&["test"]).assert_code(1);
    assert_eq!(
        p.scalar("sf", "select count(*) from dbt_test__audit.unique_m_id"),
        "2"
    );

    // A misspelt store_failures_as is refused (it used to store nothing, silently).
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: m\n    columns:\n      - name: id\n        data_tests:\n          - not_null:\n              config: {store_failures_as: tabel}\n",
    );
    p.strata(&["test"])
        .assert_code(2)
        .assert_contains("models/schema.yml")
        .assert_contains("store_failures_as is \"tabel\": expected table, view or ephemeral");
}

/// `--warn-error`: a test that would warn fails, and build skips what sits below it.
#[test]
fn warn_error_makes_warning_tests_fail() {
    let p = TestProject::new("we", "data_tests:\n  we:\n    +severity: warn\n");
    p.write("models/m.sql", "select 1 as id union all select 1\n");
    p.write("models/below.sql", "select * from {{ ref('m') }}\n");
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: m\n    columns:\n      - name: id\n        data_tests: [unique]\n",
    );
    p.strata(&["build"]).assert_code(0);
    assert_eq!(status_of(&p, "test.we.unique_m_id").0, "warn");
    p.strata(&["build", "--warn-error"]).assert_code(1);
    assert_eq!(
        status_of(&p, "test.we.unique_m_id"),
        ("fail".to_string(), Some(1))
    );
    assert_eq!(status_of(&p, "model.we.below").0, "skipped");
}
