//! Each materialization and incremental strategy, asserted on table contents in DuckDB.

use crate::common::{flat, TestProject};

const EVENTS_V1: &str = "id,user_id,day,amount,updated_at
1,10,2026-01-01,5,2026-01-01 10:00:00
2,11,2026-01-01,7,2026-01-01 11:00:00
3,10,2026-01-02,1,2026-01-02 09:00:00
";

/// v2: id 2 is corrected, a late row arrives for day 1, and day 3 is new.
const EVENTS_V2: &str = "id,user_id,day,amount,updated_at
1,10,2026-01-01,5,2026-01-01 10:00:00
2,11,2026-01-01,70,2026-01-03 08:00:00
3,10,2026-01-02,1,2026-01-02 09:00:00
4,12,2026-01-01,3,2026-01-03 09:00:00
5,10,2026-01-03,2,2026-01-03 10:00:00
";

fn events_project() -> TestProject {
    let p = TestProject::new(
        "inc",
        "seeds:\n  inc:\n    events:\n      +column_types: {id: integer, user_id: integer, day: date, amount: integer, updated_at: timestamp}\n",
    );
    p.write("seeds/events.csv", EVENTS_V1);
    p.write(
        "models/inc_append.sql",
        "{{ config(materialized='incremental') }}
select id, user_id, amount from {{ ref('events') }}
{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}
",
    );
    p.write(
        "models/inc_merge.sql",
        "{{ config(materialized='incremental', incremental_strategy='merge', unique_key='id') }}
select id, user_id, amount, updated_at from {{ ref('events') }}
{% if is_incremental() %}where updated_at > (select max(updated_at) from {{ this }}){% endif %}
",
    );
    p.write(
        "models/inc_delete_insert.sql",
        "{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=['day', 'user_id']) }}
select day, user_id, sum(amount) as amount from {{ ref('events') }}
{% if is_incremental() %}
where (day, user_id) in (select day, user_id from {{ ref('events') }} where updated_at > (select max(loaded_at) from {{ this }}))
{% endif %}
group by 1, 2
",
    );
    // loaded_at is needed by the model above: keep it simple by deriving it from the data.
    p.write(
        "models/inc_delete_insert.sql",
        "{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=['day', 'user_id']) }}
select day, user_id, sum(amount) as amount, max(updated_at) as loaded_at from {{ ref('events') }}
{% if is_incremental() %}
where (day, user_id) in (select day, user_id from {{ ref('events') }} where updated_at > (select max(loaded_at) from {{ this }}))
{% endif %}
group by 1, 2
",
    );
    p.write(
        "models/inc_overwrite.sql",
        "{{ config(materialized='incremental', incremental_strategy='insert_overwrite', partitioned_by=['day']) }}
select day, count(*) as n, sum(amount) as amount, max(updated_at) as loaded_at from {{ ref('events') }}
{% if is_incremental() %}
where day in (select day from {{ ref('events') }} where updated_at > (select max(loaded_at) from {{ this }}))
{% endif %}
group by 1
",
    );
    p
}

const MODELS: [(&str, &str); 4] = [
    (
        "inc_append",
        "select id, user_id, amount from inc_append order by id",
    ),
    (
        "inc_merge",
        "select id, amount, cast(updated_at as varchar) from inc_merge order by id",
    ),
    (
        "inc_delete_insert",
        "select cast(day as varchar), user_id, amount from inc_delete_insert order by 1, 2",
    ),
    (
        "inc_overwrite",
        "select cast(day as varchar), n, amount from inc_overwrite order by 1",
    ),
];

#[test]
fn incremental_strategies_match_a_full_refresh() {
    let p = events_project();
    p.strata(&["build"]).assert_ok();
    p.write("seeds/events.csv", EVENTS_V2);
    p.strata(&["seed"]).assert_ok();
    p.strata(&["run"]).assert_ok();
    let incremental: Vec<String> = MODELS
        .iter()
        .map(|(_, q)| flat(&p.query("inc", q)))
        .collect();

    // What each strategy should hold after the second run.
    assert_eq!(
        incremental[0], "1,10,5|2,11,7|3,10,1|4,12,3|5,10,2",
        "append adds only new ids"
    );
    assert_eq!(
        incremental[1],
        "1,5,2026-01-01 10:00:00|2,70,2026-01-03 08:00:00|3,1,2026-01-02 09:00:00|4,3,2026-01-03 09:00:00|5,2,2026-01-03 10:00:00",
        "merge updates id 2 in place"
    );
    assert_eq!(
        incremental[2],
        "2026-01-01,10,5|2026-01-01,11,70|2026-01-01,12,3|2026-01-02,10,1|2026-01-03,10,2",
        "delete+insert replaces touched keys"
    );
    assert_eq!(
        incremental[3], "2026-01-01,3,78|2026-01-02,1,1|2026-01-03,1,2",
        "insert_overwrite replaces touched days"
    );

    p.strata(&["run", "--full-refresh"]).assert_ok();
    for (i, (name, q)) in MODELS.iter().enumerate() {
        let full = flat(&p.query("inc", q));
        if *name == "inc_append" {
            // append never revisits old rows: id 2 keeps its first amount; a rebuild sees 70.
            assert_eq!(full, "1,10,5|2,11,70|3,10,1|4,12,3|5,10,2");
        } else {
            assert_eq!(
                incremental[i], full,
                "{name}: incremental result differs from a full refresh"
            );
        }
    }
    // No temporary tables are left behind.
    let leftovers = p.scalar(
        "inc",
        "select count(*) from information_schema.tables where table_name like '%__strata_%'",
    );
    assert_eq!(leftovers, "0");
}

#[test]
fn unknown_strategy_and_missing_unique_key_are_config_errors() {
    let p = TestProject::new("cfg", "");
    p.write(
        "models/a.sql",
        "{{ config(materialized='incremental', incremental_strategy='merge') }}\nselect 1 as id\n",
    );
    p.strata(&["run"]).assert_ok();
    let r = p.strata(&["run"]);
    r.assert_code(1).assert_contains("needs a unique_key");
}

#[test]
fn views_tables_ephemerals_and_seed_types() {
    let p = TestProject::new(
        "shapes",
        "models:\n  shapes:\n    +materialized: view\n    marts:\n      +materialized: table\nseeds:\n  shapes:\n    +column_types: {amount: 'decimal(10,2)'}\n",
    );
    p.write(
        "seeds/orders.csv",
        "id,amount,status\n1,10.50,paid\n2,3.25,cancelled\n3,1.00,paid\n",
    );
    p.write("models/staging/stg_orders.sql", "{{ config(materialized='ephemeral') }}\nselect * from {{ ref('orders') }} where status != 'cancelled'\n");
    p.write(
        "models/staging/paid_orders.sql",
        "with x as (select * from {{ ref('stg_orders') }}) select id, amount from x\n",
    );
    p.write(
        "models/marts/revenue.sql",
        "select sum(amount) as revenue, count(*) as n from {{ ref('paid_orders') }}\n",
    );
    p.strata(&["build"]).assert_ok();

    let kinds = p.query(
        "shapes",
        "select table_name, table_type from information_schema.tables where table_schema = 'main' order by 1",
    );
    assert_eq!(
        flat(&kinds),
        "orders,BASE TABLE|paid_orders,VIEW|revenue,BASE TABLE"
    );
    assert_eq!(
        p.scalar("shapes", "select typeof(amount) from orders limit 1"),
        "DECIMAL(10,2)"
    );
    assert_eq!(
        flat(&p.query("shapes", "select revenue, n from revenue")),
        "11.5,2"
    );
    let compiled = p.read("target/compiled/shapes/models/staging/paid_orders.sql");
    assert!(
        compiled.contains("__dbt__cte__stg_orders as ("),
        "{compiled}"
    );

    // A model switching from view to table replaces the view.
    p.write(
        "models/staging/paid_orders.sql",
        "{{ config(materialized='table') }}\nselect id, amount from {{ ref('stg_orders') }}\n",
    );
    p.strata(&["run", "-s", "paid_orders"]).assert_ok();
    assert_eq!(
        p.scalar(
            "shapes",
            "select table_type from information_schema.tables where table_name = 'paid_orders'"
        ),
        "BASE TABLE"
    );
}

#[test]
fn on_schema_change_modes() {
    for (mode, expect_ok, expected_cols) in [
        ("ignore", true, "a,b"),
        ("fail", false, "a,b"),
        ("append_new_columns", true, "a,b,c"),
        ("sync_all_columns", true, "a,c"),
    ] {
        let p = TestProject::new("osc", "");
        let model = |cols: &str| {
            format!("{{{{ config(materialized='incremental', on_schema_change='{mode}') }}}}\nselect {cols}\n")
        };
        p.write("models/m.sql", &model("1 as a, 2 as b"));
        p.strata(&["run"]).assert_ok();
        let new = if mode == "ignore" {
            "1 as a, 2 as b, 3 as c"
        } else if mode == "sync_all_columns" {
            "1 as a, 3 as c"
        } else {
            "1 as a, 2 as b, 3 as c"
        };
        p.write("models/m.sql", &model(new));
        let r = p.strata(&["run"]);
        if expect_ok {
            r.assert_ok();
        } else {
            r.assert_code(1)
                .assert_contains("on_schema_change is 'fail'");
        }
        let cols = p.query("osc", "select column_name from information_schema.columns where table_name = 'm' order by ordinal_position");
        assert_eq!(
            cols.iter()
                .map(|r| r[0].clone())
                .collect::<Vec<_>>()
                .join(","),
            expected_cols,
            "mode {mode}"
        );
        if mode == "append_new_columns" {
            assert_eq!(
                flat(&p.query("osc", "select a, b, c from m order by c nulls first")),
                "1,2,NULL|1,2,3"
            );
        }
        if mode == "sync_all_columns" {
            assert_eq!(p.scalar("osc", "select count(*) from m"), "2");
        }
    }
}

#[test]
fn a_failed_table_build_leaves_the_old_table_and_skips_downstream() {
    let p = TestProject::new("fail", "models:\n  fail:\n    +materialized: table\n");
    p.write("models/t.sql", "select 1 as x\n");
    p.write("models/child.sql", "select x from {{ ref('t') }}\n");
    p.write("models/other.sql", "select 42 as y\n");
    p.strata(&["run"]).assert_ok();

    p.write(
        "models/t.sql",
        "select cast('not a number' as integer) as x\n",
    );
    p.write("models/other.sql", "select 43 as y\n");
    let r = p.strata(&["run"]);
    r.assert_code(1)
        .assert_contains("Conversion Error")
        .assert_contains("target/compiled/fail/models/t.sql")
        .assert_contains("SKIP");
    assert_eq!(
        p.scalar("fail", "select x from t"),
        "1",
        "old table stays readable"
    );
    assert_eq!(
        p.scalar("fail", "select y from other"),
        "43",
        "independent nodes still run"
    );
    let results: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).unwrap();
    let status = |id: &str| {
        results["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["unique_id"] == id)
            .map(|r| r["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(status("model.fail.t"), "error");
    assert_eq!(status("model.fail.child"), "skipped");
    assert_eq!(status("model.fail.other"), "success");
    let leftovers = p.scalar(
        "fail",
        "select count(*) from information_schema.tables where table_name like '%__strata_%'",
    );
    assert_eq!(leftovers, "0");
}

#[test]
fn project_macros_override_builtin_materialization_sql() {
    let p = TestProject::new("ovr", "models:\n  ovr:\n    +materialized: table\n");
    // A project's create_table_as wins over the adapter's: here it adds a marker column.
    p.write(
        "macros/create_table_as.sql",
        "{% macro create_table_as(temporary, relation, compiled_code, language='sql') %}create table {{ relation }} as select *, 'custom' as built_by from (\n{{ compiled_code }}\n) s{% endmacro %}\n",
    );
    p.write("models/t.sql", "select 1 as x\n");
    p.strata(&["run"]).assert_ok();
    assert_eq!(
        flat(&p.query("ovr", "select x, built_by from t")),
        "1,custom"
    );
}

/// `create_table_as` takes dbt's arguments (temporary, relation, compiled_code): a macro
/// written for dbt, as packages call it, creates the table.
#[test]
fn create_table_as_takes_dbts_arguments() {
    let p = TestProject::new("ctas", "");
    p.write(
        "macros/make_answer.sql",
        "{% macro make_answer() %}\
         {% set rel = api.Relation.create(database=target.database, schema=target.schema, identifier='answer') %}\
         {% do run_query(create_table_as(False, rel, 'select 42 as answer')) %}\
         {% endmacro %}\n",
    );
    p.write("models/m.sql", "select 1 as x\n");
    p.strata(&["run"]).assert_ok();
    p.strata(&["run-operation", "make_answer"]).assert_ok();
    assert_eq!(p.scalar("ctas", "select answer from answer"), "42");
}

#[test]
fn hooks_run_in_order() {
    let p = TestProject::new(
        "hooks",
        "on-run-start:\n  - create table if not exists audit (msg varchar)\non-run-end: \"insert into audit values ('end')\"\n",
    );
    p.write(
        "models/t.sql",
        "{{ config(materialized='table', pre_hook=\"insert into audit values ('pre')\", post_hook=\"insert into audit values ('post ' || (select count(*) from {{ this }}))\") }}\nselect 1 as x\n",
    );
    p.strata(&["run"]).assert_ok();
    assert_eq!(
        flat(&p.query("hooks", "select msg from audit order by rowid")),
        "pre|post 1|end"
    );
}

/// Hooks written as dbt's `{sql, transaction}` mappings (by hand or by `before_begin()` /
/// `after_commit()`) run like text hooks; they used to be skipped without a word.
#[test]
fn hooks_given_as_mappings_run() {
    let p = TestProject::new(
        "dicthooks",
        "on-run-start:\n  - {sql: 'create table if not exists audit (msg varchar)', transaction: false}\n\
         models:\n  dicthooks:\n    +post-hook:\n      - {sql: \"insert into audit values ('project post')\", transaction: true}\n",
    );
    p.write(
        "models/t.sql",
        "{{ config(materialized='table', pre_hook=before_begin(\"insert into audit values ('pre')\"), \
         post_hook=[after_commit(\"insert into audit values ('post')\")]) }}\nselect 1 as x\n",
    );
    p.strata(&["run"]).assert_ok();
    // (after_commit runs after the transactional post-hooks, as in dbt)
    assert_eq!(
        flat(&p.query("dicthooks", "select msg from audit order by rowid")),
        "pre|project post|post"
    );
    // dbt's order: before_begin pre-hooks first, after_commit post-hooks last.
    p.write(
        "models/t.sql",
        "{{ config(materialized='table', \
         pre_hook=[\"insert into audit values ('pre plain')\", before_begin(\"insert into audit values ('pre outside')\")], \
         post_hook=[after_commit(\"insert into audit values ('post outside')\"), \"insert into audit values ('post plain')\"]) }}\nselect 1 as x\n",
    );
    p.query("dicthooks", "delete from audit");
    p.strata(&["run"]).assert_ok();
    assert_eq!(
        flat(&p.query("dicthooks", "select msg from audit order by rowid")),
        "pre outside|pre plain|project post|post plain|post outside"
    );
}

/// Functions of dbt's Jinja context that macros in the wild use.
#[test]
fn dbt_context_functions() {
    let p = TestProject::new("ctx", "");
    p.write(
        "models/m.sql",
        "{% set cfg = fromyaml('a: 1\\nb: [x, y]') %}\n\
         {% set pairs = zip(['p', 'q'], [1, 2, 3]) %}\n\
         select '{{ cfg.b[1] }}' as from_yaml,\n\
         '{{ toyaml({'k': 'v'}) | trim }}' as to_yaml,\n\
         '{{ local_md5('strata') }}' as md5,\n\
         '{% for a, b in pairs %}{{ a }}{{ b }}{% endfor %}' as zipped,\n\
         '{{ set([3, 1, 3, 2]) | join(',') }}' as distinct_items,\n\
         '{{ config.get('materialized') }}' as materialized\n",
    );
    p.strata(&["run"]).assert_ok();
    assert_eq!(
        flat(&p.query("ctx", "select * from m")),
        // md5('strata') as Python's hashlib gives it.
        format!(
            "y,k: v,{},p1q2,3,1,2,view",
            "77194479b2a7c2698a54a10abfeeda85"
        )
    );
}

/// on-run-end sees dbt's `results` (status, node, ...) and `schemas`; on-run-start sees
/// `schemas` (grants on them are the usual use).
#[test]
fn project_hooks_see_results_and_schemas() {
    let p = TestProject::new(
        "rh",
        "on-run-start: \"create table if not exists audit as select '{{ schemas | join(',') }}' as msg\"\n\
         on-run-end:\n  - \"{% for r in results %}insert into audit values ('{{ r.node.name }}={{ r.status }}');{% endfor %}\"\n\
         \x20 - \"insert into audit values ('{{ database_schemas | length }} {{ results | length }}')\"\n",
    );
    p.write("models/good.sql", "select 1 as x\n");
    p.write(
        "models/custom.sql",
        "{{ config(schema='extra') }}\nselect 2 as x\n",
    );
    p.write("models/bad.sql", "select * from no_such_table\n");
    p.strata(&["run"]).assert_code(1);
    assert_eq!(
        flat(&p.query("rh", "select msg from audit order by msg")),
        "2 3|bad=error|custom=success|good=success|main,main_extra"
    );
}

/// Seeds read dates in ISO form only: 01/02/2024 could be either day, so it stays text (as
/// dbt keeps it) instead of DuckDB's silent day-first guess.
#[test]
fn seeds_do_not_guess_the_order_of_day_and_month() {
    let p = TestProject::new("sd", "");
    p.write(
        "seeds/days.csv",
        "n,slashed,iso,stamp\n1,01/02/2024,2024-01-02,2024-01-02 10:00:00\n\
         2,03/04/2024,2024-03-04,2024-03-04 11:30:00\n",
    );
    p.strata(&["seed"]).assert_ok();
    assert_eq!(
        flat(&p.query(
            "sd",
            "select column_name, split_part(data_type, ' ', 1) from information_schema.columns \
             where table_name = 'days' order by ordinal_position"
        )),
        // dbt's types (its agate inference: whole numbers are `integer`, 01/02/2024 text).
        // (dbt-duckdb 1.11.1 itself fails on this file: its COPY takes the day-first date
        // format it sniffed from `slashed` for `iso` too.)
        "n,INTEGER|slashed,VARCHAR|iso,DATE|stamp,TIMESTAMP"
    );
    assert_eq!(
        p.scalar("sd", "select slashed from days where n = 1"),
        "01/02/2024"
    );
}

/// A failing on-run-end hook fails the command (exit 1, as dbt) without losing what the
/// nodes did: the summary and run_results.json are still written.
#[test]
fn a_failing_on_run_end_hook_still_reports_the_run() {
    let p = TestProject::new("endfail", "on-run-end: \"select * from no_such_table\"\n");
    p.write("models/m.sql", "select 1 as x\n");
    let r = p.strata(&["run"]);
    r.assert_code(1)
        .assert_contains("no_such_table")
        .assert_contains("Completed with 1 error")
        .assert_contains("ERROR=1");
    let results: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("run_results.json");
    assert_eq!(results["results"][0]["status"], "success");
}

/// A failing on-run-start hook skips every node, on-run-end still runs, and the command
/// fails (exit 1) with run_results.json written, as in dbt.
#[test]
fn a_failing_on_run_start_hook_skips_the_nodes() {
    let p = TestProject::new(
        "startfail",
        "on-run-start: \"select * from no_such_table\"\non-run-end: \"create table ended as select 1 as x\"\n",
    );
    p.write("models/m.sql", "select 1 as x\n");
    p.strata(&["run"])
        .assert_code(1)
        .assert_contains("no_such_table")
        .assert_contains("Completed with 1 error");
    let results: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("run_results.json");
    assert_eq!(results["results"][0]["status"], "skipped");
    assert_eq!(p.scalar("startfail", "select count(*) from ended"), "1");
    assert_eq!(
        p.scalar(
            "startfail",
            "select count(*) from information_schema.tables where table_name = 'm'"
        ),
        "0"
    );
}

/// An enforced contract: the model's columns must be the YAML's by name and type (as the
/// engine names types: `int` is `integer`), or the model fails before it is built and what
/// reads it is skipped; the report is dbt's table.
#[test]
fn enforced_contracts_fail_models_whose_columns_differ() {
    let p = TestProject::new("ct", "");
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: ok_alias\n    config: {contract: {enforced: true}, materialized: table}\n    columns:\n      - {name: id, data_type: int}\n      - {name: name, data_type: text}\n  - name: bad_type\n    config: {contract: {enforced: true}, materialized: table}\n    columns:\n      - {name: id, data_type: bigint}\n  - name: bad_cols\n    config: {contract: {enforced: true}}\n    columns:\n      - {name: id, data_type: integer}\n      - {name: gone, data_type: varchar}\n  - name: untyped\n    config: {contract: {enforced: true}}\n    columns:\n      - {name: id}\n",
    );
    p.write("models/ok_alias.sql", "select 1 as id, 'x' as name\n");
    p.write("models/bad_type.sql", "select 1 as id\n");
    p.write("models/bad_cols.sql", "select 1 as id, 2 as extra\n");
    p.write("models/untyped.sql", "select 1 as id\n");
    p.write("models/child.sql", "select * from {{ ref('bad_type') }}\n");
    let r = p.strata(&["run"]);
    r.assert_code(1)
        .assert_contains("PASS=1 WARN=0 ERROR=3 SKIP=1")
        .assert_contains("This model has an enforced contract that failed.")
        .assert_contains("| id          | INTEGER         | BIGINT        | data type mismatch |")
        .assert_contains(
            "| gone        |                 | VARCHAR       | missing in definition |",
        )
        .assert_contains(
            "| extra       | INTEGER         |               | missing in contract   |",
        )
        .assert_contains(
            "contracted models require data_type to be defined for each column; missing for: id",
        );
    // Nothing was built for the failing ones.
    assert_eq!(
        flat(&p.query(
            "ct",
            "select table_name from information_schema.tables \
             where table_schema <> 'strata_state' order by 1"
        )),
        "ok_alias"
    );
}

/// A CTE whose name starts with `recursive` is an ordinary WITH: an ephemeral model's CTE
/// joins it (with the whole word RECURSIVE it would get a WITH of its own).
#[test]
fn a_cte_named_recursive_something_takes_ephemeral_ctes() {
    let p = TestProject::new("recx", "");
    p.write(
        "models/eph.sql",
        "{{ config(materialized='ephemeral') }}\nselect 41 as x\n",
    );
    p.write(
        "models/m.sql",
        "{{ config(materialized='table') }}\nwith recursive_x as (select x + 1 as x from {{ ref('eph') }})\nselect x from recursive_x\n",
    );
    p.strata(&["run"]).assert_code(0);
    assert_eq!(p.scalar("recx", "select x from m"), "42");
}

/// `temp_schema` (dbt-athena's key) means the same on DuckDB: an incremental run's new rows
/// are built in that schema (created when missing), then appended.
#[test]
fn temp_schema_holds_the_new_rows_on_duckdb_too() {
    let p = TestProject::new("tmpschema", "");
    p.write(
        "models/events.sql",
        "{{ config(materialized='incremental', incremental_strategy='append', \
         temp_schema='scratch') }}\nselect 1 as id\n",
    );
    p.strata(&["run"]).assert_ok();
    let run = p.strata(&["run"]);
    run.assert_ok();
    assert!(!run.output().contains("temp_schema"), "{}", run.output());
    assert_eq!(
        p.scalar("tmpschema", "select count(*) from main.events"),
        "2"
    );
    // The schema was made for the new rows, and nothing was left in it.
    assert_eq!(
        p.scalar(
            "tmpschema",
            "select count(*) from information_schema.schemata where schema_name = 'scratch'"
        ),
        "1"
    );
    assert_eq!(
        p.scalar(
            "tmpschema",
            "select count(*) from information_schema.tables where table_schema = 'scratch'"
        ),
        "0"
    );
}
