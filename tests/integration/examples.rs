//! The lakehouse designs of ../shared/reference as example projects (examples/<name>): each
//! builds on DuckDB from a clean copy over its generated data (its data tests check the
//! design's rules), its incremental run after one more day equals a full refresh, dbt-core
//! with dbt-duckdb builds the same tables (tests/fixtures/examples_dbt, recorded by its
//! record.sh), it compiles for Athena (golden SQL), and its Airflow DAG runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::athena::{athena_profile, check_golden, sql_files, AWS_ENV};
use crate::common::{aws, copy_tree, repo_root, TestProject};

/// A clean copy of examples/<name>: no data, target or database.
fn example_copy(name: &str) -> TestProject {
    let p = TestProject::empty();
    copy_tree(&repo_root().join("examples").join(name), p.path(), &|rel| {
        let top = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        !matches!(top.as_deref(), Some("target" | "data"))
            && rel.extension().is_none_or(|e| e != "duckdb")
    });
    p
}

/// The example's data generator (scripts/generate.py) into `out`.
fn generate(p: &TestProject, out: &Path, args: &[&str]) {
    let status = Command::new("python3")
        .arg(p.path().join("scripts/generate.py"))
        .arg("--out")
        .arg(out)
        .args(args)
        .status()
        .expect("python3");
    assert!(status.success(), "generate.py failed");
}

/// Each table of the database: its row count and the md5 of its rows as text, sorted (as
/// record.sh computes them for dbt's build).
fn digests(db: &Path) -> BTreeMap<String, (i64, String)> {
    digests_except(db, &[])
}

/// `digests`, leaving out the tables named (logs that differ from run to run).
fn digests_except(db: &Path, left_out: &[&str]) -> BTreeMap<String, (i64, String)> {
    let conn = duckdb::Connection::open(db).expect("open");
    let mut stmt = conn
        .prepare(
            "select table_name from information_schema.tables where table_schema = 'main' \
             and table_type = 'BASE TABLE' and table_name not like 'strata_%' order by 1",
        )
        .expect("prepare");
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("tables")
        .map(|r| r.expect("row"))
        .filter(|t: &String| !left_out.contains(&t.as_str()))
        .collect();
    tables
        .into_iter()
        .map(|t| {
            let row = conn
                .query_row(
                    &format!(
                        "select count(*), md5(string_agg(cast(x as varchar), chr(10) \
                         order by cast(x as varchar))) from main.\"{t}\" as x"
                    ),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .expect("digest");
            (t, row)
        })
        .collect()
}

/// The example compiled for an Athena target (schema `schema`) through the AWS emulator,
/// checked against tests/golden/athena/<name>/ (at least `at_least` files): its compiled
/// files by path.
fn compiled_for_athena(name: &str, schema: &str, at_least: usize) -> Vec<(String, String)> {
    let p = example_copy(name);
    let proxy = aws::Proxy::start(&aws::moto_endpoint(), vec![]);
    athena_profile(&p, name, &proxy.url, "eu-west-3", schema, "");
    p.strata_env(&["compile", "--threads", "1"], AWS_ENV)
        .assert_ok();
    let compiled = sql_files(&p.path().join(format!("target/compiled/{name}")));
    assert!(compiled.len() >= at_least, "{}", compiled.len());
    for (rel, sql) in &compiled {
        check_golden(&format!("athena/{name}/{rel}"), sql);
    }
    compiled
}

/// One value from the web_events example's database (web_events.duckdb in its folder).
fn scalar(p: &TestProject, sql: &str) -> String {
    scalar_in(p, "web_events", sql)
}

/// One value from an example's database (<name>.duckdb in its folder).
fn scalar_in(p: &TestProject, name: &str, sql: &str) -> String {
    p.query_file(&p.path().join(format!("{name}.duckdb")), sql)
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .unwrap_or_else(|| panic!("no rows: {sql}"))
}

fn recorded(name: &str) -> BTreeMap<String, (i64, String)> {
    let path = repo_root().join(format!("tests/fixtures/examples_dbt/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("recorded digests")).expect("json")
}

#[test]
fn web_events_builds_the_tables_dbt_builds() {
    let p = example_copy("web_events");
    generate(&p, &p.path().join("data"), &[]);
    p.strata(&["build"])
        .assert_ok()
        .assert_contains("PASS assert_every_event_lands_once")
        .assert_contains("PASS assert_sessions_split_after_30_minutes");
    let got = digests(&p.path().join("web_events.duckdb"));
    assert_eq!(got, recorded("web_events"));
    // Bots are flagged, not dropped, and every human event has a session.
    let bots = scalar(&p, "select count(*) from web_events where is_bot");
    assert_ne!(bots, "0");
    let sessions = scalar(
        &p,
        "select count(*) from web_events e where not is_bot and not exists \
         (select 1 from int_session_boundaries s where s.event_id = e.event_id)",
    );
    assert_eq!(sessions, "0");
}

/// Days 1 to 3, then day 4 (with late events of day 3 and events sent again), equal all
/// four days built at once.
#[test]
fn web_events_incremental_run_after_one_more_day_equals_a_full_refresh() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let all = tmp.path().join("all");
    let inc = example_copy("web_events");
    generate(&inc, &all, &["--days", "4"]);
    let day4 = "ingest_date=2026-03-04";
    copy_tree(&all, &inc.path().join("data"), &|rel| {
        !rel.to_string_lossy().contains(day4)
    });
    inc.strata(&["build"]).assert_ok();
    let day3_before = scalar(
        &inc,
        "select count(*) from web_events where event_date = date '2026-03-03'",
    );
    copy_tree(&all, &inc.path().join("data"), &|_| true);
    inc.strata(&["build"])
        .assert_ok()
        .assert_contains("PASS assert_every_event_lands_once");
    let day3_after = scalar(
        &inc,
        "select count(*) from web_events where event_date = date '2026-03-03'",
    );
    assert!(
        day3_after.parse::<i64>().expect("count") > day3_before.parse::<i64>().expect("count"),
        "day 4's late events of day 3 are merged: {day3_before} -> {day3_after}"
    );

    let full = example_copy("web_events");
    copy_tree(&all, &full.path().join("data"), &|_| true);
    full.strata(&["build"]).assert_ok();
    let (a, b) = (
        digests(&inc.path().join("web_events.duckdb")),
        digests(&full.path().join("web_events.duckdb")),
    );
    assert_eq!(a.len(), 4, "{a:?}");
    assert_eq!(a, b);
}

#[test]
fn web_events_compiles_for_athena() {
    let compiled = compiled_for_athena("web_events", "web_events_analytics", 10);
    // Athena's functions where DuckDB's differ (macros/json.sql).
    let sql_of = |name: &str| -> &str {
        compiled
            .iter()
            .find(|(rel, _)| rel.ends_with(&format!("/{name}.sql")))
            .map(|(_, sql)| sql.as_str())
            .unwrap_or_else(|| panic!("{name} not compiled"))
    };
    let staging = sql_of("stg_raw_web_events");
    assert!(
        staging.contains("json_extract_scalar(raw, '$.eventData.type')"),
        "{staging}"
    );
    assert!(!staging.contains("json_extract_string"), "{staging}");
    assert!(staging.contains("from_iso8601_timestamp"), "{staging}");
    let table = sql_of("web_events");
    assert!(
        table.contains("as row(pitch double, yaw double, hfov double)"),
        "{table}"
    );
}

#[test]
fn the_web_events_daily_dag_runs_under_airflow() {
    let python = std::env::var("STRATA_TEST_AIRFLOW_PYTHON").unwrap_or_else(|_| {
        panic!("STRATA_TEST_AIRFLOW_PYTHON is not set: run scripts/test.sh, or `eval \"$(scripts/airflow-venv.sh)\"` first")
    });
    let p = example_copy("web_events");
    generate(&p, &p.path().join("data"), &[]);
    let home = tempfile::tempdir().expect("tempdir");
    let dags = repo_root().join("examples/web_events/airflow");
    let airflow = |args: &[&str]| -> String {
        let out = Command::new(&python)
            .args(args)
            .env("AIRFLOW_HOME", home.path())
            .env("AIRFLOW__CORE__DAGS_FOLDER", &dags)
            .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
            .env("STRATA_PROJECT_DIR", p.path())
            .env("STRATA_EXECUTABLE", env!("CARGO_BIN_EXE_strata"))
            .env("STRATA_TARGET", "dev")
            .output()
            .expect("python");
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}:\n{text}");
        text
    };
    airflow(&["-m", "airflow", "db", "migrate"]);
    let runner = repo_root().join("tests/integration/cosmos_run_dag.py");
    let text = airflow(&[
        runner.to_str().expect("utf-8"),
        dags.join("web_events_dag.py").to_str().expect("utf-8"),
    ]);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("COSMOS_RESULT "))
        .unwrap_or_else(|| panic!("no result line:\n{text}"));
    let states: BTreeMap<String, String> = serde_json::from_str(line).expect("json");
    let expected: BTreeMap<String, String> = [
        "validate_source_data",
        "run_transformations",
        "run_data_quality_checks",
        "optimize_table_partitions",
    ]
    .iter()
    .map(|t| (t.to_string(), "success".to_string()))
    .collect();
    assert_eq!(states, expected, "{text}");
    assert_ne!(scalar(&p, "select count(*) from web_events"), "0");
}

#[test]
fn events_warehouse_builds_the_tables_dbt_builds() {
    let p = example_copy("events_warehouse");
    generate(&p, &p.path().join("data"), &[]);
    p.strata(&["build"])
        .assert_ok()
        .assert_contains("PASS assert_daily_counts_match_events");
    assert_eq!(
        digests(&p.path().join("events_warehouse.duckdb")),
        recorded("events_warehouse")
    );
    // properties is a map and context a struct, as the design's Parquet schema has them.
    let types = p.query_file(
        &p.path().join("events_warehouse.duckdb"),
        "select column_name, data_type from information_schema.columns \
         where table_name = 'events' and column_name in ('properties', 'context') order by 1",
    );
    assert_eq!(
        types,
        vec![
            vec![
                "context".to_string(),
                "STRUCT(ip VARCHAR, user_agent VARCHAR)".to_string()
            ],
            vec![
                "properties".to_string(),
                "MAP(VARCHAR, VARCHAR)".to_string()
            ],
        ]
    );
}

/// Retention over a simulated 45-day window: exactly 30 days of raw events stay, the other
/// 15 are archived, every day's aggregates remain; running it again changes nothing; after
/// one more day (built incrementally) the window moves by one.
#[test]
fn events_warehouse_retention_keeps_thirty_days_and_every_aggregate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let all = tmp.path().join("all");
    let p = example_copy("events_warehouse");
    generate(&p, &all, &["--days", "46"]);
    let day46 = "month=02/day=15";
    copy_tree(&all, &p.path().join("data"), &|rel| {
        !rel.to_string_lossy().contains(day46)
    });
    p.strata(&["build"]).assert_ok();
    let state = |p: &TestProject| -> (String, String, String, String) {
        let q = |sql: &str| scalar_in(p, "events_warehouse", sql);
        (
            q("select count(distinct event_date) from events"),
            q("select count(distinct event_date) from events_archive"),
            q("select count(*) from events_archive"),
            q("select count(distinct bucket_date) from metric_aggregates where time_granularity = 'day'"),
        )
    };
    let retention = [
        "run-operation",
        "apply_retention",
        "--args",
        "{keep_days: 30}",
    ];
    p.strata(&retention)
        .assert_ok()
        .assert_contains("30 days of events kept (from 2026-02-14 back)");
    let first = state(&p);
    assert_eq!(
        (first.0.as_str(), first.1.as_str(), first.3.as_str()),
        ("30", "15", "45")
    );
    assert_eq!(
        scalar_in(&p, "events_warehouse", "select min(event_date) from events"),
        "2026-01-16"
    );
    // Again: nothing more archived or deleted.
    p.strata(&retention).assert_ok();
    assert_eq!(state(&p), first);
    // The aggregates of the archived days still agree with the archived events.
    let archived_days_agree = scalar_in(
        &p,
        "events_warehouse",
        "select count(*) from (select event_date, count(*) as n from events_archive group by 1) as a \
         join metric_aggregates as m on m.bucket_date = a.event_date \
         and m.metric_name = 'event_count' and m.time_granularity = 'day' where m.value = a.n",
    );
    assert_eq!(archived_days_agree, "15");

    // One more day, built incrementally, then retention: the window moves by one.
    copy_tree(&all, &p.path().join("data"), &|_| true);
    p.strata(&["build"])
        .assert_ok()
        .assert_contains("PASS assert_daily_counts_match_events");
    p.strata(&retention).assert_ok();
    let after = state(&p);
    assert_eq!(
        (after.0.as_str(), after.1.as_str(), after.3.as_str()),
        ("30", "16", "46")
    );
}

/// Days 1 to 44, then day 45, equal all 45 days built at once.
#[test]
fn events_warehouse_incremental_run_after_one_more_day_equals_a_full_refresh() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let all = tmp.path().join("all");
    let inc = example_copy("events_warehouse");
    generate(&inc, &all, &[]);
    let last = "month=02/day=14";
    copy_tree(&all, &inc.path().join("data"), &|rel| {
        !rel.to_string_lossy().contains(last)
    });
    inc.strata(&["build"]).assert_ok();
    copy_tree(&all, &inc.path().join("data"), &|_| true);
    inc.strata(&["build"]).assert_ok();
    let full = example_copy("events_warehouse");
    copy_tree(&all, &full.path().join("data"), &|_| true);
    full.strata(&["build"]).assert_ok();
    let a = digests(&inc.path().join("events_warehouse.duckdb"));
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(a, digests(&full.path().join("events_warehouse.duckdb")));
}

#[test]
fn events_warehouse_compiles_for_athena() {
    let compiled = compiled_for_athena("events_warehouse", "events_warehouse", 5);
    let events = compiled
        .iter()
        .find(|(rel, _)| rel.ends_with("/stg_events.sql"))
        .map(|(_, sql)| sql.as_str())
        .unwrap_or_default();
    assert!(
        events.contains("as row(ip varchar, user_agent varchar)"),
        "{events}"
    );
    assert!(
        events.contains("cast(json_extract(raw, '$.properties') as map(varchar, varchar))"),
        "{events}"
    );
}

#[test]
fn chart_funnel_builds_the_tables_dbt_builds() {
    let p = example_copy("chart_funnel");
    generate(&p, &p.path().join("data"), &[]);
    p.strata(&["build"])
        .assert_ok()
        .assert_contains("PASS assert_scd2_versions_do_not_overlap")
        .assert_contains("PASS assert_funnel_segments_are_those_valid_at_session_start");
    assert_eq!(
        digests(&p.path().join("chart_funnel.duckdb")),
        recorded("chart_funnel")
    );
}

/// The example's data arrives a day at a time: a build per day, as scheduled.
fn chart_funnel_day_by_day(all: &Path, last_args: &[&str]) -> TestProject {
    let p = example_copy("chart_funnel");
    for (i, day) in ["2026-04-01", "2026-04-02", "2026-04-03"]
        .iter()
        .enumerate()
    {
        copy_tree(all, &p.path().join("data"), &|rel| {
            let r = rel.to_string_lossy();
            // Folders, and this day's files.
            !r.contains("=2026-") || r.contains(day)
        });
        let mut args = vec!["build"];
        if i == 2 {
            args.extend_from_slice(last_args);
        }
        p.strata(&args)
            .assert_ok()
            .assert_contains("PASS assert_scd2_versions_do_not_overlap")
            .assert_contains("PASS assert_funnel_segments_are_those_valid_at_session_start");
    }
    p
}

/// A build per day keeps the segments' history (SCD2 versions closed as users join and
/// leave segments), and the third day's incremental build equals a full refresh over the
/// same snapshot history.
#[test]
fn chart_funnel_day_by_day_keeps_history_and_equals_a_full_refresh() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let all = tmp.path().join("all");
    let seed = example_copy("chart_funnel");
    generate(&seed, &all, &[]);
    let inc = chart_funnel_day_by_day(&all, &[]);
    let full = chart_funnel_day_by_day(&all, &["--full-refresh"]);
    let db = |p: &TestProject| p.path().join("chart_funnel.duckdb");
    let closed = p_scalar(
        &inc,
        "select count(*) from silver_user_segments_history where dbt_valid_to is not null",
    );
    assert_ne!(closed, "0", "segment changes close SCD2 versions");
    let a = digests(&db(&inc));
    assert_eq!(a.len(), 7, "{a:?}");
    assert_eq!(a, digests(&db(&full)));
}

fn p_scalar(p: &TestProject, sql: &str) -> String {
    scalar_in(p, "chart_funnel", sql)
}

#[test]
fn chart_funnel_compiles_for_athena() {
    let compiled = compiled_for_athena("chart_funnel", "chart_funnel", 8);
    let funnel = compiled
        .iter()
        .find(|(rel, _)| rel.ends_with("/fact_funnel.sql"))
        .map(|(_, sql)| sql.as_str())
        .unwrap_or_default();
    assert!(
        funnel.contains("array_agg(g.segment_key order by g.segment_key)"),
        "{funnel}"
    );
}

fn identity_scalar(p: &TestProject, sql: &str) -> String {
    scalar_in(p, "identity_lakehouse", sql)
}

/// Builds: the contract holds, components are closed, every device a user logged in from
/// is in the user's identity, the job runs and lineage are recorded, the source warns.
#[test]
fn identity_lakehouse_resolves_identities_and_records_its_runs() {
    let p = example_copy("identity_lakehouse");
    generate(&p, &p.path().join("data"), &[]);
    p.strata(&["build"])
        .assert_ok()
        .assert_contains("PASS assert_identity_components_are_closed");
    // Users seen on two devices: both devices are in the user's identity.
    let two_device_users = identity_scalar(
        &p,
        "select count(*) from (select user_id from identity_resolution \
         where identifier_type = 'device' and user_id is not null group by user_id having count(*) = 2)",
    );
    assert_ne!(two_device_users, "0");
    let split = identity_scalar(
        &p,
        "select count(*) from identity_edges as e \
         join identity_resolution as u on u.identifier = e.node_a \
         join identity_resolution as d on d.identifier = e.node_b \
         where e.node_a like 'user:%' and e.node_b like 'device:%' and u.identity_id <> d.identity_id",
    );
    assert_eq!(split, "0");
    assert_ne!(
        identity_scalar(&p, "select count(*) from bronze_quarantine"),
        "0",
        "the generator breaks a few envelopes"
    );
    // The on-run-end hook recorded each of the 9 models of the run (the rights procedures
    // run only for requests), with its timing.
    let recorded = identity_scalar(
        &p,
        "select count(*) from analytics_job_run where status = 'success' \
         and started_at is not null and completed_at >= started_at",
    );
    assert_eq!(recorded, "9");
    assert_eq!(
        identity_scalar(
            &p,
            "select count(*) from lineage_edge where source_node = 'model.identity_lakehouse.silver_events' \
             and target_node = 'model.identity_lakehouse.identity_edges'"
        ),
        "1"
    );
    // Bronze to silver: warn after 15 minutes (the generated events are months old).
    p.strata(&["source", "freshness"]).assert_ok();
    let sources: serde_json::Value =
        serde_json::from_str(&p.read("target/sources.json")).expect("sources.json");
    assert_eq!(sources["results"][0]["status"], "warn", "{sources}");

    // The contract is enforced: a column whose type drifts fails the build.
    let path = p.path().join("models/silver/silver_events.sql");
    let sql = std::fs::read_to_string(&path).expect("read");
    std::fs::write(
        &path,
        sql.replace("as bigint) as gmv_cents", "as double) as gmv_cents"),
    )
    .expect("write");
    p.strata(&["build", "--select", "silver_events"])
        .assert_code(1)
        .assert_contains("gmv_cents");
}

/// A DSAR: the user's rows leave every declared relation at once, their identity
/// component's membership included; rebuilds never bring them back; no component holds the
/// devices they were linked to with them.
#[test]
fn identity_lakehouse_dsar_removes_the_user_and_their_component() {
    let p = example_copy("identity_lakehouse");
    generate(&p, &p.path().join("data"), &[]);
    p.strata(&["build"]).assert_ok();
    // A user with two devices.
    let user = identity_scalar(
        &p,
        "select min(user_id) from (select user_id from identity_resolution \
         where identifier_type = 'device' and user_id is not null group by user_id having count(*) = 2)",
    );
    let devices_before = identity_scalar(
        &p,
        &format!("select count(*) from identity_resolution where user_id = '{user}' and identifier_type = 'device'"),
    );
    assert_eq!(devices_before, "2");
    p.strata(&[
        "rights",
        "apply",
        "--type",
        "ERASURE",
        "--guid",
        &user,
        "--request-id",
        "dsar-1",
    ])
    .assert_ok()
    .assert_contains("\"code\":\"200\"");
    let everywhere = format!(
        "select (select count(*) from bronze_events where user_id = '{user}') \
         + (select count(*) from silver_events where user_id = '{user}') \
         + (select count(*) from identity_edges where user_id = '{user}') \
         + (select count(*) from identity_resolution where user_id = '{user}' or identifier = 'user:{user}')"
    );
    assert_eq!(identity_scalar(&p, &everywhere), "0");
    // Rebuilt from the landing files (a full refresh too): the tombstone keeps them out.
    p.strata(&["build"]).assert_ok();
    p.strata(&["build", "--full-refresh"])
        .assert_ok()
        .assert_contains("PASS assert_identity_components_are_closed");
    assert_eq!(identity_scalar(&p, &everywhere), "0");
    let with_user = identity_scalar(
        &p,
        &format!("select count(*) from identity_resolution where user_id = '{user}'"),
    );
    assert_eq!(with_user, "0");
}

/// Days 1 and 2, then day 3, equal all three built at once (the run log aside).
#[test]
fn identity_lakehouse_incremental_run_after_one_more_day_equals_a_full_refresh() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let all = tmp.path().join("all");
    let inc = example_copy("identity_lakehouse");
    generate(&inc, &all, &[]);
    copy_tree(&all, &inc.path().join("data"), &|rel| {
        !rel.to_string_lossy().contains("dt=2026-05-03")
    });
    inc.strata(&["build"]).assert_ok();
    copy_tree(&all, &inc.path().join("data"), &|_| true);
    inc.strata(&["build"]).assert_ok();
    let full = example_copy("identity_lakehouse");
    copy_tree(&all, &full.path().join("data"), &|_| true);
    full.strata(&["build"]).assert_ok();
    let db = |p: &TestProject| p.path().join("identity_lakehouse.duckdb");
    let a = digests_except(&db(&inc), &["analytics_job_run"]);
    assert_eq!(a.len(), 9, "{a:?}");
    assert_eq!(a, digests_except(&db(&full), &["analytics_job_run"]));
}

#[test]
fn identity_lakehouse_compiles_for_athena() {
    let compiled = compiled_for_athena("identity_lakehouse", "identity_lakehouse", 10);
    // Label propagation unrolled into var('identity_rounds') rounds.
    let resolution = compiled
        .iter()
        .find(|(rel, _)| rel.ends_with("/identity_resolution.sql"))
        .map(|(_, sql)| sql.as_str())
        .unwrap_or_default();
    assert!(resolution.contains("labels_8 as ("), "{resolution}");
    assert!(!resolution.contains("labels_9"), "{resolution}");
}

/// The retention operation on Athena: it reads the newest day (the emulator answers its two
/// reads with preset rows), creates the archive as an Iceberg table under s3_data_dir unless
/// it exists, moves the older events (Iceberg INSERT and DELETE) and says what it kept.
#[test]
fn events_warehouse_retention_runs_on_athena() {
    let p = example_copy("events_warehouse");
    let region = "me-central-1";
    let proxy = aws::Proxy::start(&aws::moto_endpoint(), vec![]);
    let schema = "events_warehouse_retention";
    let bucket = athena_profile(&p, "events_warehouse", &proxy.url, region, schema, "");
    aws::preset_results(
        &aws::moto_endpoint(),
        region,
        vec![
            (vec!["newest:date"], vec![vec!["2026-02-14"]]),
            (vec![], vec![]),
            (vec![], vec![]),
            (vec![], vec![]),
            (vec!["kept:bigint"], vec![vec!["30"]]),
        ],
    );
    p.strata_env(
        &[
            "run-operation",
            "apply_retention",
            "--args",
            "{keep_days: 30}",
        ],
        AWS_ENV,
    )
    .assert_ok()
    .assert_contains("30 days of events kept (from 2026-02-14 back)");
    let statements = proxy.started_queries();
    assert_eq!(statements.len(), 5, "{statements:#?}");
    let text: String = statements
        .iter()
        .map(|s| format!("{};\n\n", s.trim_end()))
        .collect::<String>()
        .replace(&bucket, "<bucket>");
    check_golden("athena/events_warehouse/retention_statements.sql", &text);
    assert!(
        statements[1].contains("table_type = 'ICEBERG'")
            && statements[1].contains(&format!(
                "location = 's3://{bucket}/data/{schema}/events_archive/'"
            )),
        "{}",
        statements[1]
    );
    assert!(
        statements[3].starts_with(&format!("delete from \"{schema}\".\"events\"")),
        "{}",
        statements[3]
    );
}
