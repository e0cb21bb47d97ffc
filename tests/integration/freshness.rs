//! `strata source freshness`: source tables' newest load time against their thresholds.

use crate::common::TestProject;

fn project() -> TestProject {
    let p = TestProject::new("fr", "");
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: land\n    schema: main\n    loaded_at_field: loaded_at\n    freshness:\n      warn_after: {count: 1, period: hour}\n      error_after: {count: 2, period: day}\n    tables:\n      - name: fresh\n      - name: stale\n        freshness:\n          warn_after: {count: 1, period: minute}\n          error_after: {count: 1, period: hour}\n      - name: empty\n      - name: unchecked\n        freshness: null\n      - name: filtered\n        loaded_at_field: cast(loaded_at as timestamp)\n        freshness:\n          warn_after: {count: 1, period: minute}\n          filter: id > 0\n  - name: other\n    schema: main\n    tables:\n      - name: no_freshness\n",
    );
    std::fs::create_dir_all(p.path().join("target")).expect("mkdir");
    let conn = duckdb::Connection::open(p.db_path("fr")).expect("open");
    conn.execute_batch(
        "create table main.fresh as select 1 as id, now()::timestamp as loaded_at;
         create table main.stale as select 1 as id, (now() - interval 3 hour)::timestamptz as loaded_at;
         create table main.empty as select 1 as id, null::timestamp as loaded_at where false;
         create table main.unchecked as select 1 as id, (now() - interval 30 day)::timestamp as loaded_at;
         create table main.filtered as
             select 1 as id, (now() - interval 10 minute)::varchar as loaded_at
             union all select 0, now()::varchar;
         create table main.no_freshness as select 1 as id;",
    )
    .expect("tables");
    p
}

#[test]
fn freshness_passes_warns_and_fails_as_dbt_does() {
    let p = project();
    let r = p.strata(&["source", "freshness"]);
    r.assert_code(1);
    for line in [
        "ERROR STALE freshness of land.empty",
        "PASS freshness of land.fresh",
        "ERROR STALE freshness of land.stale",
        // The filter leaves out the row loaded just now.
        "WARN freshness of land.filtered",
    ] {
        assert!(r.stdout.contains(line), "{line}:\n{}", r.stdout);
    }
    assert!(
        !r.stdout.contains("land.unchecked") && !r.stdout.contains("no_freshness"),
        "{}",
        r.stdout
    );
    let results: serde_json::Value =
        serde_json::from_str(&p.read("target/sources.json")).expect("sources.json");
    let by_id = |id: &str| {
        results["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|r| r["unique_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    let stale = by_id("source.fr.land.stale");
    assert_eq!(stale["status"], "error");
    let age = stale["max_loaded_at_time_ago_in_s"].as_f64().expect("age");
    assert!((10_700.0..11_500.0).contains(&age), "{age}");
    assert_eq!(
        stale["criteria"]["error_after"],
        serde_json::json!({"count": 1, "period": "hour"})
    );
    assert_eq!(
        by_id("source.fr.land.empty")["max_loaded_at"],
        "0001-01-01T00:00:00+00:00"
    );
    assert_eq!(
        by_id("source.fr.land.filtered")["criteria"]["filter"],
        "id > 0"
    );
    // Only what is selected; warnings pass unless --warn-error.
    p.strata(&[
        "source",
        "freshness",
        "-s",
        "source:land.fresh",
        "source:land.filtered",
    ])
    .assert_ok();
    p.strata(&[
        "--warn-error",
        "source",
        "freshness",
        "-s",
        "source:land.filtered",
    ])
    .assert_code(1);
    // A field that is no column is an error for that source, reported with the reason.
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: land\n    schema: main\n    loaded_at_field: no_such_column\n    freshness: {warn_after: {count: 1, period: hour}}\n    tables: [{name: fresh}]\n",
    );
    p.strata(&["source", "freshness"])
        .assert_code(1)
        .assert_contains("ERROR freshness of land.fresh")
        .assert_contains("no_such_column");
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: land\n    schema: main\n    loaded_at_field: loaded_at\n    freshness: {warn_after: {count: 1, period: week}}\n    tables: [{name: fresh}]\n",
    );
    p.strata(&["source", "freshness"])
        .assert_code(2)
        .assert_contains("models/sources.yml")
        .assert_contains("warn_after.period should be minute, hour or day, not \"week\"");
}

/// Freshness settings layer as in dbt: the project file's `sources:`, the source's keys and
/// config, the table's keys and config; a table's warn_after keeps its source's
/// error_after; loaded_at_field and loaded_at_query may sit in config or at the top.
#[test]
fn freshness_settings_layer_as_dbt_layers_them() {
    let p = TestProject::new(
        "fr",
        "sources:\n  fr:\n    projected:\n      +freshness: {warn_after: {count: 1, period: minute}}\n      +loaded_at_field: loaded_at\n",
    );
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: land\n    schema: main\n    config:\n      loaded_at_field: loaded_at\n      freshness: {warn_after: {count: 1, period: hour}, error_after: {count: 2, period: day}}\n    tables:\n      - name: three_days\n        freshness: {warn_after: {count: 5, period: day}}\n      - name: by_config\n        config: {loaded_at_field: cast(loaded_at as timestamp), freshness: {error_after: {count: 1, period: minute}}}\n      - name: by_query\n        loaded_at_query: select max(loaded_at) from main.three_days\n  - name: projected\n    schema: main\n    tables: [{name: fresh_enough}]\n",
    );
    std::fs::create_dir_all(p.path().join("target")).expect("mkdir");
    duckdb::Connection::open(p.db_path("fr"))
        .expect("open")
        .execute_batch(
            "create table main.three_days as select (now() - interval 3 day)::timestamp as loaded_at;
             create table main.by_config as select (now() - interval 10 minute)::varchar as loaded_at;
             create table main.by_query as select 1 as x;
             create table main.fresh_enough as select (now() - interval 5 minute)::timestamp as loaded_at;",
        )
        .expect("tables");
    let r = p.strata(&["source", "freshness"]);
    r.assert_code(1);
    for line in [
        // warn_after 5 days from the table, error_after 2 days from the source's config.
        "ERROR STALE freshness of land.three_days",
        "ERROR STALE freshness of land.by_config",
        // The query sees the three-day-old row: past the source's error_after too.
        "ERROR STALE freshness of land.by_query",
        "WARN freshness of projected.fresh_enough",
    ] {
        assert!(r.stdout.contains(line), "{line}:\n{}", r.stdout);
    }
    let results: serde_json::Value =
        serde_json::from_str(&p.read("target/sources.json")).expect("sources.json");
    let three = results["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["unique_id"] == "source.fr.land.three_days")
        .cloned()
        .expect("three_days");
    assert_eq!(
        three["criteria"],
        serde_json::json!({"warn_after": {"count": 5, "period": "day"}, "error_after": {"count": 2, "period": "day"}, "filter": null})
    );
    assert!(results["metadata"]["invocation_started_at"].is_string());
}
