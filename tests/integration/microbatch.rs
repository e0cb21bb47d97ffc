//! dbt's `microbatch` incremental strategy on DuckDB against what dbt-core + dbt-duckdb give
//! for the same project and commands (tests/fixtures/microbatch, recorded by its record.sh):
//! the batches of a first run and of an incremental run over an `--event-time-*` window,
//! inputs with an `event_time` read per batch, the rows of each window replaced.

use crate::common::{copy_tree, repo_root, TestProject};

fn fixture() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/microbatch")
}

fn project() -> TestProject {
    let p = TestProject::empty();
    copy_tree(&fixture(), p.path(), &|rel| {
        let top = rel.components().next().map(|c| c.as_os_str());
        !top.is_some_and(|t| t == "expected" || t == "changes")
    });
    p
}

/// The rows of `name` as DuckDB's COPY writes them, sorted by all columns.
fn table_csv(p: &TestProject, name: &str) -> String {
    let out = tempfile::tempdir().expect("tempdir");
    let file = out.path().join("t.csv");
    let conn = duckdb::Connection::open(p.path().join("microbatch.duckdb")).expect("open");
    conn.execute_batch(&format!(
        "copy (select * from main.\"{name}\" order by all) to '{}' (header)",
        file.display()
    ))
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    std::fs::read_to_string(&file).expect("csv")
}

#[test]
fn batches_and_rows_are_the_ones_dbt_duckdb_gives() {
    let p = project();
    let strata = |args: &[&str]| {
        let mut all = vec!["--profiles-dir", "."];
        all.extend_from_slice(args);
        p.strata(&all)
    };
    // First run: begin's batches up to the given end.
    strata(&[
        "build",
        "--event-time-start",
        "2024-01-01",
        "--event-time-end",
        "2024-01-04",
    ])
    .assert_ok()
    .assert_contains("daily_amounts batch 3 of 3 (20240103 to 20240104): OK");
    std::fs::copy(
        fixture().join("changes/events.csv"),
        p.path().join("seeds/events.csv"),
    )
    .expect("the changed seed");
    strata(&["seed"]).assert_ok();
    strata(&["run", "-s", "events_enriched"]).assert_ok();
    strata(&[
        "run",
        "-s",
        "daily_amounts",
        "all_events",
        "--event-time-start",
        "2024-01-02 12:00:00",
        "--event-time-end",
        "2024-01-07",
    ])
    .assert_ok();

    let expected = |name: &str| {
        std::fs::read_to_string(fixture().join("expected").join(name)).expect("expected")
    };
    for model in [
        "daily_amounts",
        "all_events",
        "events_enriched",
        "batch_ids",
    ] {
        assert_eq!(
            table_csv(&p, model),
            expected(&format!("{model}.csv")),
            "{model}"
        );
    }
    // The batches of the last run, as run_results.json records them (dbt's batch_results).
    let results: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("run_results");
    let mut rows = Vec::new();
    for r in results["results"].as_array().expect("results") {
        let model = r["unique_id"]
            .as_str()
            .unwrap_or("")
            .rsplit('.')
            .next()
            .unwrap_or("");
        for batch in r["batch_results"]["successful"]
            .as_array()
            .into_iter()
            .flatten()
        {
            rows.push(format!(
                "{model},{},{}",
                batch[0].as_str().unwrap_or(""),
                batch[1].as_str().unwrap_or("")
            ));
        }
    }
    rows.sort();
    assert_eq!(
        format!("model,start,end\n{}\n", rows.join("\n")),
        expected("batches.csv")
    );
    // A batch reads its inputs' window only: the last batch's compiled SQL says which.
    let compiled = p.read("target/compiled/microbatch/models/daily_amounts.sql");
    assert!(
        compiled.contains(
            "where occurred_at >= '2024-01-06 00:00:00+00:00' and occurred_at < '2024-01-07 00:00:00+00:00'"
        ),
        "{compiled}"
    );
}

/// dbt's rules: both window flags or neither, the start first; a microbatch model names its
/// batch_size (and begin for a first run) and has no unique_key on DuckDB.
#[test]
fn microbatch_settings_are_checked() {
    let p = project();
    p.strata(&[
        "run",
        "--profiles-dir",
        ".",
        "--event-time-start",
        "2024-01-01",
    ])
    .assert_code(2)
    .assert_contains(
        "The flag `--event-time-start` was specified, but `--event-time-end` was not.",
    );
    p.strata(&[
        "run",
        "--profiles-dir",
        ".",
        "--event-time-start",
        "2024-01-05",
        "--event-time-end",
        "2024-01-01",
    ])
    .assert_code(2)
    .assert_contains("Value for `--event-time-start` must be less than `--event-time-end`");

    p.write(
        "models/daily_amounts.sql",
        "{{ config(materialized='incremental', incremental_strategy='microbatch', \
         event_time='occurred_at', begin='2024-01-01') }}\nselect * from {{ ref('events') }}\n",
    );
    p.strata(&["build", "--profiles-dir", ".", "-s", "+daily_amounts"])
        .assert_code(1)
        .assert_contains("Microbatch model 'daily_amounts' does not have a 'batch_size' config");

    p.write(
        "models/daily_amounts.sql",
        "{{ config(materialized='incremental', incremental_strategy='microbatch', \
         event_time='occurred_at', batch_size='day', unique_key='id', begin='2024-01-01') }}\n\
         select * from {{ ref('events') }}\n",
    );
    // The first batch builds the table; the next ones refuse the key, as dbt-duckdb does.
    p.strata(&[
        "run",
        "--profiles-dir",
        ".",
        "-s",
        "daily_amounts",
        "--event-time-start",
        "2024-01-01",
        "--event-time-end",
        "2024-01-03",
    ])
    .assert_code(1)
    .assert_contains("microbatch incremental strategy does not support 'unique_key'");
}
