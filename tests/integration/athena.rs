//! The `athena` target's real client code (AWS SDK: Athena, Glue, S3) against the moto server
//! on 127.0.0.1 that scripts/test.sh starts. moto does not execute SQL, so these tests check
//! what Strata sends and how it reacts: the statements of a build, the catalog and S3 calls,
//! retries, failures, cancellation. Faults moto cannot produce come from a recording proxy
//! (tests/integration/common/aws.rs). What only real Athena can verify is listed in the README.

use crate::common::aws::{self, Fault, Proxy, Rule};
use crate::common::{reference_copy, repo_root, write_rights_procedures, TestProject};

use std::path::Path;
use std::time::{Duration, Instant};

/// Static test credentials, and no instance-metadata lookups.
pub(crate) const AWS_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// A unique lowercase name for this test's Glue database and S3 bucket.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
        .chars()
        .take(40)
        .collect()
}

/// Point the project at the proxy with an `athena` target in `region`.
pub(crate) fn athena_profile(
    p: &TestProject,
    profile: &str,
    endpoint: &str,
    region: &str,
    schema: &str,
    extra: &str,
) -> String {
    athena_profile_in(
        p,
        profile,
        endpoint,
        region,
        schema,
        &schema.replace('_', "-"),
        extra,
    )
}

fn athena_profile_in(
    p: &TestProject,
    profile: &str,
    endpoint: &str,
    region: &str,
    schema: &str,
    bucket: &str,
    extra: &str,
) -> String {
    let bucket = bucket.to_string();
    aws::create_bucket(&aws::moto_endpoint(), &bucket);
    p.write(
        "profiles.yml",
        &format!(
            "{profile}:\n  target: athena\n  outputs:\n    athena:\n      type: athena\n      region_name: {region}\n      \
             endpoint_url: {endpoint}\n      s3_staging_dir: s3://{bucket}/results/\n      s3_data_dir: s3://{bucket}/data/\n      \
             database: awsdatacatalog\n      schema: {schema}\n      work_group: primary\n      threads: 1\n      \
             num_retries: 3\n      poll_interval: 0.01\n      retry_base_delay: 0.01\n{extra}"
        ),
    );
    bucket
}

/// A small project: one table, one view, one incremental model.
fn small_project(
    profile_extra: &str,
    region: &str,
    rules: Vec<Rule>,
) -> (TestProject, Proxy, String) {
    let p = TestProject::new("athena_small", "profile: athena_small\n");
    p.write(
        "models/orders.sql",
        "{{ config(materialized='table') }}\nselect 1 as id, 'a' as status\n",
    );
    p.write(
        "models/orders_view.sql",
        "select id from {{ ref('orders') }}\n",
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), rules);
    let schema = unique("small");
    athena_profile(
        &p,
        "athena_small",
        &proxy.url,
        region,
        &schema,
        profile_extra,
    );
    (p, proxy, schema)
}

/// Replace what changes from run to run (invocation ids, upload folders, the invocation's
/// part of temporary names) with placeholders.
pub(crate) fn normalize(sql: &str) -> String {
    let uuid = regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        .expect("regex");
    let temp = regex::Regex::new(r"(__strata_[a-z]+)_[0-9a-f]{8}\b").expect("regex");
    let sql = uuid.replace_all(sql, "<uuid>");
    temp.replace_all(&sql, "${1}_<id>").into_owned()
}

/// Whether a table whose name starts with `prefix` (in `database`, when given) was dropped
/// through Glue: Strata looks it up there to delete its files and entry (moto ran no CTAS,
/// so there is nothing to delete).
fn dropped_through_glue(proxy: &Proxy, database: Option<&str>, prefix: &str) -> bool {
    proxy.api_calls().iter().any(|c| {
        c.operation == "GetTable"
            && c.body["Name"]
                .as_str()
                .is_some_and(|n| n.starts_with(prefix))
            && database.is_none_or(|d| c.body["DatabaseName"] == d)
    })
}

/// Compare `actual` with the golden file; STRATA_UPDATE_GOLDEN=1 rewrites it instead.
pub(crate) fn check_golden(rel: &str, actual: &str) {
    let path = repo_root().join("tests/golden").join(rel);
    if std::env::var_os("STRATA_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (STRATA_UPDATE_GOLDEN=1 writes it)", path.display()));
    if expected != actual {
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(5)
            .map(|(i, (a, b))| format!("line {}:\n  golden: {a}\n  actual: {b}", i + 1))
            .collect();
        panic!(
            "{} differs from what Strata produced ({} vs {} lines); first differences:\n{}\n\
             If the change is intended, rerun with STRATA_UPDATE_GOLDEN=1 and review the diff.",
            path.display(),
            expected.lines().count(),
            actual.lines().count(),
            diff.join("\n")
        );
    }
}

pub(crate) fn sql_files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .expect("rel")
                .to_string_lossy()
                .into_owned();
            (rel, std::fs::read_to_string(e.path()).expect("read"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_reference_project_builds_on_athena_with_the_expected_statements() {
    let p = reference_copy();
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    // A fixed schema name keeps the golden statements stable; a region of its own keeps this
    // test's query results apart from the others'.
    let schema = "athena_analytics";
    // The bucket is new each time (moto keeps objects between test runs); the golden
    // statements name it <bucket>.
    let bucket = unique("lake").replace('_', "-");
    athena_profile_in(
        &p,
        "athena_analytics",
        &proxy.url,
        "us-west-2",
        schema,
        &bucket,
        "",
    );
    let run = p.strata_env(&["build", "--threads", "1"], AWS_ENV);
    run.assert_ok();

    // Every compiled model and test, as Athena SQL, checked in (reviewable) and parseable.
    let compiled = sql_files(&p.path().join("target/compiled/athena_analytics"));
    assert!(
        compiled.len() > 50,
        "expected every model and test compiled, got {}",
        compiled.len()
    );
    for (rel, sql) in &compiled {
        let parsed =
            sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::GenericDialect {}, sql);
        assert!(parsed.is_ok(), "{rel} does not parse: {parsed:?}");
        check_golden(&format!("athena/compiled/{rel}"), &normalize(sql));
    }

    // The exact statements, in order (--threads 1).
    let statements = proxy.started_queries();
    let text: String = statements
        .iter()
        .map(|s| format!("{};\n\n", normalize(s).trim_end()))
        .collect::<String>()
        .replace(&bucket, "<bucket>");
    check_golden("athena/build_statements.sql", &text);
    // Tables are built as Iceberg in a fresh location under their own name; on a first
    // build straight into the target (nothing to swap), and a partitioned one in one
    // statement (its partitions are not counted first).
    assert!(text.contains("table_type = 'ICEBERG'"), "{text}");
    assert!(text.contains(&format!(
        "create table \"{schema}\".\"bronze_chat_events\"\nwith (\n    table_type = 'ICEBERG',\n    \
         is_external = false,\n    location = 's3://<bucket>/data/{schema}/bronze_chat_events/<uuid>',\n    \
         partitioning = ARRAY['partition_date'],"
    )));
    assert!(
        !text.contains("`bronze_chat_events__strata_tmp` rename to"),
        "{text}"
    );
    assert!(!text.contains("as partitions"), "{text}");

    // Seeds went to S3 and were read through an external table.
    let objects = aws::list_objects(
        &aws::moto_endpoint(),
        &bucket,
        &format!("data/{schema}/tool_catalog/seed/"),
    );
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(
        objects[0],
        format!("data/{schema}/tool_catalog/seed/tool_catalog.parquet")
    );
    assert!(text.contains("stored as parquet"));
    // The uploaded Parquet holds the CSV's rows and columns, typed.
    let parquet = aws::get_object(&aws::moto_endpoint(), &bucket, &objects[0]);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("seed.parquet");
    std::fs::write(&file, parquet).expect("write parquet");
    let db = duckdb::Connection::open_in_memory().expect("duckdb");
    let sql = format!(
        "select count(*), string_agg(distinct tool_name, ',' order by tool_name) from read_parquet('{}')",
        file.display()
    );
    let (rows, names): (i64, String) = db
        .query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("read the seed's parquet");
    let csv = std::fs::read_to_string(repo_root().join("seeds/tool_catalog.csv")).expect("csv");
    assert_eq!(rows as usize, csv.lines().count() - 1);
    for line in csv.lines().skip(1) {
        let name = line.split(',').next().expect("tool_name");
        assert!(names.split(',').any(|n| n == name), "{name} not in {names}");
    }

    // run_results.json carries the Athena query id of each model.
    let results: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("run_results.json");
    let bronze = results["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["unique_id"] == "model.athena_analytics.bronze_chat_events")
        .expect("bronze result");
    assert!(
        bronze["adapter_response"]["query_id"]
            .as_str()
            .is_some_and(|q| !q.is_empty()),
        "{bronze}"
    );
    assert_eq!(bronze["adapter_response"]["bytes_scanned"], 0, "{bronze}");
    // A first build sends no rename, and no drop of a table it did not make.
    assert!(!text.contains("rename to"), "{text}");
    assert!(!text.contains("drop table if exists"), "{text}");
    // A seed's loaded rows are its file's (as dbt counts them), not a count query's.
    assert!(!text.contains(&format!(
        "select count(*) from \"{schema}\".\"tool_catalog\""
    )));
    let seed = results["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["unique_id"] == "seed.athena_analytics.tool_catalog")
        .expect("seed result");
    assert_eq!(
        seed["adapter_response"]["rows_affected"],
        csv.lines().count() - 1,
        "{seed}"
    );
}

#[test]
fn throttled_calls_are_retried_up_to_num_retries() {
    let throttle = |times| Rule {
        operation: "StartQueryExecution",
        query_marker: None,
        times,
        fault: Fault::Error("ThrottlingException"),
    };
    let (p, proxy, _) = small_project("", "eu-west-1", vec![throttle(2)]);
    p.strata_env(&["run", "--select", "orders"], AWS_ENV)
        .assert_ok();
    let starts: Vec<bool> = proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "StartQueryExecution")
        .map(|c| c.faulted)
        .collect();
    assert_eq!(
        &starts[..3],
        &[true, true, false],
        "two throttled starts, then the retry went through"
    );

    // More throttling than num_retries (3): the model fails and says why.
    let (p, proxy, _) = small_project("", "eu-west-1", vec![throttle(10)]);
    let run = p.strata_env(&["run", "--select", "orders"], AWS_ENV);
    run.assert_code(1).assert_contains("ThrottlingException");
    let starts = proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "StartQueryExecution")
        .count();
    assert_eq!(starts, 4, "one try and three retries");
}

#[test]
fn iceberg_commit_conflicts_are_retried_and_sql_errors_are_reported_not_retried() {
    let rules = vec![
        Rule {
            operation: "GetQueryExecution",
            query_marker: Some("create table \"".into()),
            times: 1,
            fault: Fault::QueryFailed(
                "ICEBERG_COMMIT_ERROR: Failed to commit Iceberg update".into(),
            ),
        },
        Rule {
            operation: "GetQueryExecution",
            query_marker: Some("create or replace view".into()),
            times: usize::MAX,
            fault: Fault::QueryFailed(
                "COLUMN_NOT_FOUND: line 2:8: Column 'id' cannot be resolved".into(),
            ),
        },
    ];
    let (p, proxy, _) = small_project("", "eu-west-2", rules);
    let run = p.strata_env(&["run"], AWS_ENV);
    run.assert_code(1);
    let started = proxy.started_queries();
    let ctas = started
        .iter()
        .filter(|q| q.starts_with("create table \""))
        .count();
    assert_eq!(
        ctas, 2,
        "the CTAS ran again after the commit conflict: {started:#?}"
    );
    let views = started
        .iter()
        .filter(|q| q.starts_with("create or replace view"))
        .count();
    assert_eq!(views, 1, "a SQL error is not retried: {started:#?}");
    // The error names Athena's reason, the query id and the compiled SQL.
    let failed_id = proxy
        .calls()
        .into_iter()
        .find(|c| {
            c.faulted
                && c.query
                    .as_deref()
                    .is_some_and(|q| q.starts_with("create or replace view"))
        })
        .and_then(|c| c.query_id)
        .expect("failed query id");
    run.assert_contains("Column 'id' cannot be resolved")
        .assert_contains(&failed_id)
        .assert_contains("target/compiled/athena_small/models/orders_view.sql");
    // The table model succeeded despite the conflict.
    let results: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("run_results.json");
    let status = |id: &str| {
        results["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|r| r["unique_id"] == id)
            .map(|r| r["status"].clone())
    };
    assert_eq!(status("model.athena_small.orders"), Some("success".into()));
    assert_eq!(
        status("model.athena_small.orders_view"),
        Some("error".into())
    );
}

#[test]
fn sigterm_stops_the_running_queries() {
    let rules = vec![Rule {
        operation: "GetQueryExecution",
        query_marker: Some("create table \"".into()),
        times: usize::MAX,
        fault: Fault::QueryRunning,
    }];
    let (p, proxy, _) = small_project("", "ap-southeast-1", rules);
    let child = p
        .command(&["run"], AWS_ENV)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn strata");
    // Wait until the CTAS is running (polled at least twice).
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy
        .calls()
        .iter()
        .filter(|c| c.operation == "GetQueryExecution" && c.faulted)
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "the CTAS never started: {:#?}",
            proxy.calls()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let running_id = proxy
        .calls()
        .into_iter()
        .find(|c| c.operation == "GetQueryExecution" && c.faulted)
        .and_then(|c| c.query_id)
        .expect("running query id");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert_ne!(out.status.code(), Some(0), "a cancelled run exits non-zero");
    let stops: Vec<String> = proxy
        .calls()
        .into_iter()
        .filter(|c| c.operation == "StopQueryExecution")
        .filter_map(|c| c.query_id)
        .collect();
    assert_eq!(
        stops,
        vec![running_id],
        "StopQueryExecution for the running query"
    );
    // Nothing started after the signal: the view that depends on the table never ran.
    assert!(!proxy
        .started_queries()
        .iter()
        .any(|q| q.contains("create or replace view")));
}

/// A project whose one model writes a partition per day of `raw.events`.
fn partitioned_project(
    name: &str,
    region: &str,
    config: &str,
    rules: Vec<Rule>,
) -> (TestProject, Proxy, String) {
    let p = TestProject::new(name, &format!("profile: {name}\n"));
    p.write(
        "models/events_daily.sql",
        &format!("{{{{ config(materialized='table', partitioned_by=['day']{config}) }}}}\nselect day, count(*) as n from {{{{ source('raw', 'events') }}}} group by day\n"),
    );
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: events\n",
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), rules);
    let schema = unique("parts");
    athena_profile(&p, name, &proxy.url, region, &schema, "");
    (p, proxy, schema)
}

/// Athena refuses a statement that writes more than 100 partitions. As dbt-athena does, the
/// CTAS is tried whole first (most builds fit, and then the model's SQL runs once, in one
/// statement); only when Athena answers TOO_MANY_OPEN_PARTITIONS are the rows staged once,
/// their partitions counted on the stage, and written 100 per statement.
#[test]
fn partitions_are_written_at_most_100_per_statement() {
    let refused = Rule {
        operation: "GetQueryExecution",
        query_marker: Some("partitioning = ARRAY['day']".into()),
        times: 1,
        fault: Fault::QueryFailed(
            "TOO_MANY_OPEN_PARTITIONS: Exceeded limit of 100 open writers for partitions/buckets"
                .into(),
        ),
    };
    let region = "ca-central-1";
    let (p, proxy, schema) = partitioned_project("athena_parts", region, "", vec![refused]);
    // Queries of the run, in order: the refused CTAS, the staging CTAS, then the count of
    // the staged partitions: 250 -> three batches.
    aws::preset_results(
        &aws::moto_endpoint(),
        region,
        vec![
            (vec![], vec![]),
            (vec![], vec![]),
            (vec!["partitions:bigint"], vec![vec!["250"]]),
        ],
    );
    p.strata_env(&["run"], AWS_ENV).assert_ok();
    let started: Vec<String> = proxy
        .started_queries()
        .iter()
        .map(|q| normalize(q))
        .collect();
    let target = format!("\"{schema}\".\"events_daily\"");
    // First the whole CTAS straight into the (new) target: no count before it.
    assert!(
        started[0].starts_with(&format!("create table {target}\n"))
            && started[0].contains("partitioning = ARRAY['day']")
            && started[0].contains("from \"raw\".\"events\"")
            && !started[0].contains("dbt_partition_no"),
        "{started:#?}"
    );
    // The model's SQL runs twice in all: the refused statement and the staging table that
    // the batches then read (never to count partitions).
    let stage = format!("\"{schema}\".\"events_daily__strata_stage_<id>\"");
    let reads_source = started
        .iter()
        .filter(|q| q.contains("from \"raw\".\"events\""))
        .count();
    assert_eq!(reads_source, 2, "{started:#?}");
    assert!(
        started[1].starts_with(&format!("create table {stage}"))
            && !started[1].contains("partitioning"),
        "{started:#?}"
    );
    assert!(
        started[2].starts_with("select count(*) as partitions")
            && started[2].contains(&format!("from {stage}")),
        "{started:#?}"
    );
    let writes: Vec<&String> = started[3..]
        .iter()
        .filter(|q| q.starts_with("create table") || q.starts_with("insert into"))
        .collect();
    assert_eq!(writes.len(), 3, "{started:#?}");
    assert!(
        writes[0].starts_with(&format!("create table {target}\n"))
            && writes[0].contains("partitioning = ARRAY['day']")
            && writes[0].contains("dbt_partition_no > 0 and dbt_partition_no <= 100")
    );
    assert!(
        writes[1].starts_with(&format!("insert into {target}\n"))
            && writes[1].contains("dbt_partition_no > 100 and dbt_partition_no <= 200")
    );
    assert!(
        writes[2].starts_with(&format!("insert into {target}\n"))
            && writes[2].contains("dbt_partition_no > 200 and dbt_partition_no <= 300")
    );
    for w in &writes {
        assert!(w.contains(&format!("from {stage}")), "{w}");
        assert!(!w.contains("from \"raw\".\"events\""), "{w}");
    }
    // Then nothing else runs: the staging table is dropped through Glue.
    assert_eq!(started[3..].len(), 3, "three writes: {started:#?}");
    assert!(dropped_through_glue(
        &proxy,
        Some(&schema),
        "events_daily__strata_stage_"
    ));
}

/// dbt-athena's `force_batch` batches at once (no whole attempt); `partitions_limit` sets
/// the partitions per statement and is checked.
#[test]
fn force_batch_and_partitions_limit_set_how_partitions_are_batched() {
    let region = "ca-west-1";
    let (p, proxy, schema) = partitioned_project(
        "athena_batch",
        region,
        ", force_batch=true, partitions_limit=40",
        vec![],
    );
    // The staging CTAS, then the count: 90 partitions -> three batches of 40.
    aws::preset_results(
        &aws::moto_endpoint(),
        region,
        vec![
            (vec![], vec![]),
            (vec!["partitions:bigint"], vec![vec!["90"]]),
        ],
    );
    p.strata_env(&["run"], AWS_ENV).assert_ok();
    let started: Vec<String> = proxy
        .started_queries()
        .iter()
        .map(|q| normalize(q))
        .collect();
    let stage = format!("\"{schema}\".\"events_daily__strata_stage_<id>\"");
    assert!(
        started[0].starts_with(&format!("create table {stage}")),
        "{started:#?}"
    );
    assert!(
        started[1].starts_with("select count(*) as partitions"),
        "{started:#?}"
    );
    let ranges: Vec<&str> = started
        .iter()
        .filter_map(|q| {
            [
                "> 0 and dbt_partition_no <= 40",
                "> 40 and dbt_partition_no <= 80",
                "> 80 and dbt_partition_no <= 120",
            ]
            .into_iter()
            .find(|r| q.contains(r))
        })
        .collect();
    assert_eq!(ranges.len(), 3, "{started:#?}");
    assert_eq!(started.len(), 5, "stage, count, three writes: {started:#?}");
    let from_source = started
        .iter()
        .filter(|q| q.contains("from \"raw\".\"events\""))
        .count();
    assert_eq!(from_source, 1, "{started:#?}");

    // A limit that is not a whole number of partitions, 1 or more, stops the model.
    for bad in ["0", "'many'", "2.5"] {
        p.write(
            "models/events_daily.sql",
            &format!("{{{{ config(materialized='table', partitioned_by=['day'], partitions_limit={bad}) }}}}\nselect 1 as day\n"),
        );
        p.strata_env(&["run"], AWS_ENV)
            .assert_code(1)
            .assert_contains("models/events_daily.sql")
            .assert_contains("partitions_limit must be a whole number of partitions, 1 or more");
    }
}

/// On Athena temporary tables are named per invocation (two runs of one model at the same
/// time do not touch each other's): nothing is dropped before a build, and a leftover of a
/// crashed run (another invocation's name) is left alone.
#[test]
fn temporary_tables_are_named_per_invocation_and_leftovers_left_alone() {
    let region = "us-west-1";
    let (p, proxy, schema) = small_project("", region, vec![]);
    for table in [
        "orders",
        "orders__strata_tmp",
        "orders__strata_tmp_0badc0de",
    ] {
        aws::glue_iceberg_table(
            &aws::moto_endpoint(),
            region,
            &schema,
            table,
            &[("id", "integer")],
        );
    }
    p.strata_env(&["run", "--select", "orders"], AWS_ENV)
        .assert_ok();
    let started = proxy.started_queries();
    let names = regex::Regex::new(r"orders__strata_(tmp|backup)_([0-9a-f]{8})\b").expect("regex");
    let ids: std::collections::BTreeSet<String> = started
        .iter()
        .flat_map(|q| {
            names
                .captures_iter(q)
                .map(|c| c[2].to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one invocation's names: {started:#?}");
    let id = ids.iter().next().expect("an id");
    assert_ne!(id, "0badc0de");
    assert!(started[0].starts_with(&format!(
        "create table \"{schema}\".\"orders__strata_tmp_{id}\""
    )));
    // Its data lands under the table's own name: it becomes the table.
    let bucket = schema.replace('_', "-");
    assert!(
        started[0].contains(&format!("location = 's3://{bucket}/data/{schema}/orders/")),
        "{}",
        started[0]
    );
    assert_eq!(
        started[1..],
        [
            format!(
                "alter table `{schema}`.`orders` rename to `{schema}`.`orders__strata_backup_{id}`"
            ),
            format!(
                "alter table `{schema}`.`orders__strata_tmp_{id}` rename to `{schema}`.`orders`"
            ),
        ]
    );
    assert!(dropped_through_glue(
        &proxy,
        Some(&schema),
        &format!("orders__strata_backup_{id}")
    ));
}

/// The queries each materialization sends on Athena, exactly, as BENCHMARKS.md ("Athena
/// queries per materialization") counts them: tables, incremental runs and views send no
/// more than dbt-athena; a query more here fails the test.
#[test]
fn athena_queries_per_materialization_are_as_counted_in_benchmarks() {
    let region = "us-east-2";
    let (p, proxy, schema) = small_project("", region, vec![]);
    let bucket = schema.replace('_', "-");
    p.write(
        "models/events_append.sql",
        "{{ config(materialized='incremental') }}\nselect 1 as id\n",
    );
    p.write(
        "models/events_merge.sql",
        "{{ config(materialized='incremental', incremental_strategy='merge', unique_key='id') }}\nselect 1 as id, 'a' as status\n",
    );
    p.write("seeds/codes.csv", "code,label\n1,a\n2,b\n");
    // The queries one `build --select` started, and its invocation id (run_results.json's,
    // which its templates saw too).
    // The Glue and S3 calls of each build, in order (BENCHMARKS.md counts them).
    let catalog_calls = std::cell::RefCell::new(Vec::<Vec<String>>::new());
    let run = |select: &str| -> (Vec<String>, String) {
        let before = proxy.started_queries().len();
        let api_before = proxy.api_calls().len();
        p.strata_env(&["build", "--select", select], AWS_ENV)
            .assert_ok();
        catalog_calls.borrow_mut().push(
            proxy.api_calls()[api_before..]
                .iter()
                .filter(|c| c.service != "athena")
                .map(|c| {
                    let operation = c.operation.split(' ').next().unwrap_or("");
                    format!("{}:{operation}", c.service)
                })
                .collect(),
        );
        let queries = proxy.started_queries()[before..].to_vec();
        let results: serde_json::Value =
            serde_json::from_str(&p.read("target/run_results.json")).expect("run_results.json");
        let invocation = results["metadata"]["invocation_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (queries, invocation)
    };
    let existing = |table: &str, columns: &[(&str, &str)]| {
        aws::glue_iceberg_table(&aws::moto_endpoint(), region, &schema, table, columns);
    };
    // A CTAS's data folder: the table's name, then a uuid of its own.
    let location = |table: &str, _invocation: &str| -> regex::Regex {
        regex::Regex::new(&format!(
            "location = 's3://{bucket}/data/{schema}/{}/[0-9a-f-]{{36}}'",
            regex::escape(table)
        ))
        .expect("regex")
    };

    // table, first build: one CTAS straight into the target (dbt-athena: the same).
    let (first, invocation) = run("orders");
    assert_eq!(first.len(), 1, "{first:#?}");
    assert!(
        first[0].starts_with(&format!("create table \"{schema}\".\"orders\"\n"))
            && location("orders", &invocation).is_match(&first[0]),
        "{first:#?}"
    );

    // table, rebuild: CTAS beside it (its data under the table's own name), swap, drop the
    // old one through Glue and S3, as dbt-athena drops tables (three queries; dbt-athena:
    // the same three).
    existing("orders", &[("id", "integer"), ("status", "string")]);
    let (rebuild, invocation) = run("orders");
    let id = invocation.get(..8).expect("an invocation id");
    let tmp = format!("orders__strata_tmp_{id}");
    let backup = format!("orders__strata_backup_{id}");
    assert_eq!(rebuild.len(), 3, "{rebuild:#?}");
    assert!(
        rebuild[0].starts_with(&format!("create table \"{schema}\".\"{tmp}\"\n"))
            && location("orders", &invocation).is_match(&rebuild[0]),
        "{rebuild:#?}"
    );
    assert_eq!(
        rebuild[1..],
        [
            format!("alter table `{schema}`.`orders` rename to `{schema}`.`{backup}`"),
            format!("alter table `{schema}`.`{tmp}` rename to `{schema}`.`orders`"),
        ]
    );
    // The old table's drop: its Glue entry looked up (moto ran no rename, so there is none
    // to delete here; athena_hive's tests show the files and the entry deleted).
    assert!(
        proxy
            .api_calls()
            .iter()
            .any(|c| c.operation == "GetTable" && c.body["Name"] == backup.as_str()),
        "no Glue lookup of {backup}"
    );

    // incremental append and merge on an existing table: the new rows into a temporary
    // table, one write, drop it through Glue (dbt-athena: the same two queries).
    for (model, write) in [
        ("events_append", "insert into"),
        ("events_merge", "merge into"),
    ] {
        existing(model, &[("id", "integer"), ("status", "string")]);
        let (queries, invocation) = run(model);
        let id = invocation.get(..8).expect("an invocation id");
        let tmp = format!("{model}__strata_tmp_{id}");
        assert_eq!(queries.len(), 2, "{queries:#?}");
        assert!(
            queries[0].starts_with(&format!("create table \"{schema}\".\"{tmp}\"\n"))
                && location(&tmp, &invocation).is_match(&queries[0]),
            "{queries:#?}"
        );
        assert!(
            queries[1].starts_with(&format!("{write} \"{schema}\".\"{model}\"")),
            "{queries:#?}"
        );
    }

    // seed, first load: the external table over the uploaded file, CTAS straight into the
    // seed, drop the external table (dbt-athena: two, its external table is dropped
    // through Glue); a reload also swaps (dbt-athena drops the old seed first instead).
    let (first, _) = run("codes");
    let csv = regex::Regex::new(r"codes__strata_csv_[0-9a-f]{8}").expect("regex");
    let kinds = |queries: &[String]| -> Vec<String> {
        queries
            .iter()
            .map(|q| {
                let q = csv.replace_all(q, "codes__strata_csv");
                q.split(['\n', '('])
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        kinds(&first),
        [
            format!("create external table `{schema}`.`codes__strata_csv`"),
            format!("create table \"{schema}\".\"codes\""),
            format!("drop table `{schema}`.`codes__strata_csv`"),
        ]
    );
    existing("codes", &[("code", "integer"), ("label", "string")]);
    let (reload, invocation) = run("codes");
    let id = invocation.get(..8).expect("an invocation id");
    assert_eq!(
        kinds(&reload),
        [
            format!("create external table `{schema}`.`codes__strata_csv`"),
            format!("create table \"{schema}\".\"codes__strata_tmp_{id}\""),
            format!("drop table `{schema}`.`codes__strata_csv`"),
            format!(
                "alter table `{schema}`.`codes` rename to `{schema}`.`codes__strata_backup_{id}`"
            ),
            format!("alter table `{schema}`.`codes__strata_tmp_{id}` rename to `{schema}`.`codes`"),
        ]
    );

    // view: one statement.
    let (view, _) = run("orders_view");
    assert_eq!(view.len(), 1, "{view:#?}");
    assert!(view[0].starts_with("create or replace view"), "{view:#?}");

    // Besides the queries (StartQueryExecution and its GetQueryExecution polls), each build
    // makes sure of its schema (CreateDatabase), lists it once (GetTables: relations and
    // their Iceberg data versions) and reads the build state (one S3 GET); an incremental
    // run reads the columns of the target and of the new rows (two GetTable), a seed
    // uploads its file (one S3 PUT), and the tables a build made aside (the new rows, the
    // replaced table) are dropped through Glue: their entry looked up (and deleted with
    // their files where the engine made them; moto ran no CTAS). Each table built is looked
    // up once more for the data version it left (GetTable), and the build state is written
    // back (S3 GET and PUT: another run may have written since).
    let run_start = ["glue:CreateDatabase", "glue:GetTables", "s3:GET"];
    let run_end = ["s3:GET", "s3:PUT"];
    let with = |extra: &[&str]| -> Vec<String> {
        run_start
            .iter()
            .chain(extra)
            .chain(&run_end)
            .map(|c| c.to_string())
            .collect()
    };
    let version = "glue:GetTable";
    let expected = [
        with(&[version]),                  // table, first build
        with(&["glue:GetTable", version]), // table, rebuild
        with(&["glue:GetTable", "glue:GetTable", "glue:GetTable", version]), // incremental append
        with(&["glue:GetTable", "glue:GetTable", "glue:GetTable", version]), // incremental merge
        with(&["s3:PUT", version]),        // seed, first load
        with(&["s3:PUT", "glue:GetTable", version]), // seed, reload
        with(&[]),                         // view
    ];
    assert_eq!(catalog_calls.into_inner(), expected);
}

#[test]
fn bytes_scanned_are_summed_per_model_and_a_scan_budget_fails_the_model() {
    let rules = vec![Rule {
        operation: "GetQueryExecution",
        query_marker: Some("create table \"".into()),
        times: usize::MAX,
        fault: Fault::QueryScanned(3 * 1024 * 1024, 1500),
    }];
    let (p, _proxy, _) = small_project("", "sa-east-1", rules);
    p.write(
        "models/budgeted.sql",
        "{{ config(materialized='table', max_bytes_scanned=1048576) }}\nselect 2 as id\n",
    );
    let run = p.strata_env(&["run"], AWS_ENV);
    run.assert_code(1)
        .assert_contains(
            "budgeted scanned 3145728 bytes, more than its max_bytes_scanned budget of 1048576",
        )
        .assert_contains("3.0 MB scanned")
        // orders and budgeted: 6 MB and 3 s of engine time in all.
        .assert_contains("Scanned 6.0 MB in 3.0s of engine time.");
    let results: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("run_results.json");
    let orders = results["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["unique_id"] == "model.athena_small.orders")
        .expect("orders");
    assert_eq!(orders["status"], "success");
    assert_eq!(orders["adapter_response"]["bytes_scanned"], 3 * 1024 * 1024);
    assert_eq!(orders["adapter_response"]["engine_ms"], 1500);
}

/// An incremental run stages its new rows (unpartitioned) and writes them in one statement;
/// when Athena refuses that for its partitions, it counts them on the staged rows (the
/// model's SQL is not run again) and replaces them 100 partitions per statement.
#[test]
fn incremental_insert_overwrite_replaces_partitions_in_batches() {
    let p = TestProject::new("athena_inc", "profile: athena_inc\n");
    p.write(
        "models/events_daily.sql",
        "{{ config(materialized='incremental', incremental_strategy='insert_overwrite', partitioned_by=['day']) }}\n\
         select day, count(*) as n from {{ source('raw', 'events') }}\n\
         {% if is_incremental() %}where day >= (select max(day) from {{ this }}){% endif %}\ngroup by day\n",
    );
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: events\n",
    );
    let refused = Rule {
        operation: "GetQueryExecution",
        query_marker: Some("merge into".into()),
        times: 1,
        fault: Fault::QueryFailed(
            "TOO_MANY_OPEN_PARTITIONS: Exceeded limit of 100 open writers".into(),
        ),
    };
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![refused]);
    let region = "ap-northeast-1";
    let schema = unique("inc");
    athena_profile(&p, "athena_inc", &proxy.url, region, &schema, "");
    // The table exists from an earlier build.
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        region,
        &schema,
        "events_daily",
        &[("day", "date"), ("n", "bigint")],
    );
    // Queries of the run, in order: CTAS the new rows, the whole overwrite (one MERGE,
    // refused), then the count of the staged partitions (150 -> two batches).
    aws::preset_results(
        &aws::moto_endpoint(),
        region,
        vec![
            (vec![], vec![]),
            (vec![], vec![]),
            (vec!["partitions:bigint"], vec![vec!["150"]]),
        ],
    );
    p.strata_env(&["run"], AWS_ENV).assert_ok();
    let started: Vec<String> = proxy
        .started_queries()
        .iter()
        .map(|q| normalize(q))
        .collect();
    let tmp = format!("\"{schema}\".\"events_daily__strata_tmp_<id>\"");
    assert!(
        started[0].starts_with(&format!("create table {tmp}")),
        "nothing to drop first: {started:#?}"
    );
    assert!(started[0].contains(&format!(
        "where day >= (select max(day) from \"{schema}\".\"events_daily\")"
    )));
    // The new rows' table is not partitioned: only the writes into the target are.
    assert!(!started[0].contains("partitioning"), "{}", started[0]);
    // The model's SQL ran once; the count reads the staged rows.
    let from_source = started
        .iter()
        .filter(|q| q.contains("from \"raw\".\"events\""))
        .count();
    assert_eq!(from_source, 1, "{started:#?}");
    let count = started
        .iter()
        .position(|q| q.starts_with("select count(*) as partitions"))
        .unwrap_or_else(|| panic!("{started:#?}"));
    assert!(
        started[count].contains(&format!("select * from {tmp}")),
        "{}",
        started[count]
    );
    // Tried whole first: one MERGE of all the new rows (the partitions they touch replaced
    // in one commit).
    assert!(started[1].starts_with(&format!("merge into \"{schema}\".\"events_daily\"")));
    assert!(!started[1].contains("dbt_partition_no"));
    assert_eq!(count, 2, "{started:#?}");
    let writes: Vec<&String> = started[count..]
        .iter()
        .filter(|q| {
            q.starts_with("merge into")
                || q.starts_with("delete from")
                || q.starts_with("insert into")
        })
        .collect();
    assert_eq!(writes.len(), 2, "{started:#?}");
    for (i, (lo, hi)) in [(0, 100), (100, 200)].iter().enumerate() {
        let range = format!("dbt_partition_no > {lo} and dbt_partition_no <= {hi}");
        assert!(
            writes[i].starts_with(&format!("merge into \"{schema}\".\"events_daily\"")),
            "{}",
            writes[i]
        );
        assert!(writes[i].contains(&range), "{}", writes[i]);
        assert!(
            writes[i].contains("then insert (\"day\", \"n\")"),
            "{}",
            writes[i]
        );
    }
    // The new rows' table is dropped through Glue, not by a queued query.
    assert!(
        !started.iter().any(|q| q.starts_with("drop table")),
        "{started:#?}"
    );
    assert!(dropped_through_glue(
        &proxy,
        Some(&schema),
        "events_daily__strata_tmp_"
    ));
    assert_eq!(started.len(), 5, "{started:#?}");
}

#[test]
fn maintain_optimizes_and_vacuums_and_reports_snapshots_and_files() {
    let p = TestProject::new("athena_maint", "profile: athena_maint\n");
    p.write(
        "models/events.sql",
        "{{ config(materialized='table') }}\nselect 1 as id\n",
    );
    p.write("models/recent.sql", "select * from {{ ref('events') }}\n");
    p.write(
        "models/not_built.sql",
        "{{ config(materialized='table') }}\nselect 2 as id\n",
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    let region = "eu-north-1";
    let schema = unique("maint");
    athena_profile(&p, "athena_maint", &proxy.url, region, &schema, "");
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        region,
        &schema,
        "events",
        &[("id", "integer")],
    );
    let counts = |s: &'static str, f: &'static str| {
        (vec!["snapshots:bigint", "files:bigint"], vec![vec![s, f]])
    };
    aws::preset_results(
        &aws::moto_endpoint(),
        region,
        vec![
            counts("12", "340"),
            (vec![], vec![]),
            (vec![], vec![]),
            counts("3", "12"),
        ],
    );
    let run = p.strata_env(&["maintain"], AWS_ENV);
    run.assert_ok()
        .assert_contains(&format!(
            "\"{schema}\".\"events\": snapshots 12 -> 3, data files 340 -> 12"
        ))
        .assert_contains(&format!(
            "\"{schema}\".\"not_built\": not built yet, skipped"
        ))
        .assert_contains("Maintained 1 table(s).");
    let started = proxy.started_queries();
    assert_eq!(started.len(), 4, "{started:#?}");
    assert!(
        started[0].contains(&format!("\"{schema}\".\"events$snapshots\""))
            && started[0].contains("\"events$files\"")
    );
    assert_eq!(
        started[1],
        format!("optimize \"{schema}\".\"events\" rewrite data using bin_pack")
    );
    assert_eq!(started[2], format!("vacuum \"{schema}\".\"events\""));
    // The view is not maintained.
    assert!(!started.iter().any(|q| q.contains("recent")));
}

/// A project with personal data in two tables, the two procedures, and a `rights:` section
/// that exports to S3 and accepts any id (to show hostile ids travel only as parameters).
pub(crate) fn athena_rights_project(region: &str) -> (TestProject, Proxy, String, String) {
    let p = TestProject::new(
        "athena_gdpr",
        "profile: athena_gdpr\nmodels:\n  athena_gdpr:\n    +materialized: table\n",
    );
    p.write(
        "models/events.sql",
        "select 'u1' as user_id, 'hello' as msg\n",
    );
    p.write(
        "models/user_daily.sql",
        "select user_id, count(*) as n from {{ ref('events') }} group by 1\n",
    );
    write_rights_procedures(&p);
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: events\n    meta: {personal_data: {subject_key: user_id}}\n  \
         - name: user_daily\n    meta: {personal_data: {subject_key: user_id}}\n",
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    let schema = unique("gdpr");
    let bucket = athena_profile(&p, "athena_gdpr", &proxy.url, region, &schema, "");
    let yml = p.read("project.yml");
    p.write(
        "project.yml",
        &format!("{yml}rights:\n  subject_columns: [user_id]\n  subject_id_pattern: '.+'\n  access_path: s3://{bucket}/exports\n"),
    );
    (p, proxy, schema, bucket)
}

/// Preset the emulator's answers for a rights command answering one fresh request whose
/// subject has rows: the ledger DDL, its two added columns (the emulator's Glue never sees
/// the DDL's table, so they are always added), the purged DDL, the batch's drop and CTAS,
/// then the state query.
pub(crate) fn preset_fresh_request(region: &str, request_id: &'static str, guid: &'static str) {
    let empty = || (vec![], vec![]);
    aws::preset_results(
        &aws::moto_endpoint(),
        region,
        vec![
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            fresh_with_data(request_id, guid),
        ],
    );
}

/// What the state query of a batch answers for one fresh request whose subject has rows.
fn fresh_with_data(
    request_id: &'static str,
    guid: &'static str,
) -> (Vec<&'static str>, Vec<Vec<&'static str>>) {
    (
        vec![
            "request_id",
            "guid",
            "phase",
            "had_data:boolean",
            "code",
            "reason",
            "attachments",
            "has_data:boolean",
        ],
        vec![vec![request_id, guid, "", "false", "", "", "", "true"]],
    )
}

#[test]
fn rights_erasure_on_athena_binds_ids_as_execution_parameters() {
    let region = "eu-central-1";
    let (p, proxy, schema, _) = athena_rights_project(region);
    let hostile = "x' OR '1'='1";
    preset_fresh_request(region, "r1", hostile);
    let run = p.strata_env(
        &[
            "rights",
            "apply",
            "--type",
            "ERASURE",
            "--guid",
            hostile,
            "--request-id",
            "r1",
        ],
        AWS_ENV,
    );
    run.assert_ok();
    let result: serde_json::Value =
        serde_json::from_str(run.stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}: {}", run.output()));
    let seq: Vec<String> = proxy
        .started_queries()
        .iter()
        .map(|q| q.chars().take(60).collect())
        .collect();
    assert_eq!(result["result"]["code"], "200", "{result} {seq:#?}");
    assert_eq!(result["guid"], hostile);

    let calls: Vec<aws::Call> = proxy
        .calls()
        .into_iter()
        .filter(|c| c.operation == "StartQueryExecution")
        .collect();
    // The id is never part of any SQL text...
    for c in &calls {
        let q = c.query.as_deref().unwrap_or_default();
        assert!(!q.contains("OR '1'='1"), "{q}");
    }
    // ...it travels as an ExecutionParameter, quoted once, as a literal.
    let load = calls
        .iter()
        .find(|c| {
            c.query
                .as_deref()
                .is_some_and(|q| q.contains("from (values (?, ?, ?, ?))"))
        })
        .expect("the batch load");
    assert_eq!(
        load.params,
        vec!["'r1'", "'x'' OR ''1''=''1'", "'ERASURE'", "'0'"]
    );
    // One DELETE per declared relation, from the unanswered subjects of the batch.
    // (The batch table is this process's own: strata_rights_batch_<id>.)
    for table in ["events", "user_daily"] {
        let delete = regex::Regex::new(&format!(
            "^delete from \"{schema}\".\"{table}\" where cast\\(\"user_id\" as varchar\\) in \\(select guid from \"{schema}\".\"strata_rights_batch_[0-9a-f]{{12}}\" where not answered and right_type in \\('ERASURE'\\)\\)$"
        ))
        .expect("regex");
        assert!(
            calls
                .iter()
                .any(|c| c.query.as_deref().is_some_and(|q| delete.is_match(q))),
            "{delete}\n{calls:#?}"
        );
    }
    // The batch table is dropped when the command ends.
    assert!(calls.iter().any(
        |c| c.query.as_deref().is_some_and(|q| q.starts_with(&format!(
            "drop table if exists `{schema}`.`strata_rights_batch_"
        )))
    ));
    // The ledger rows (started, finished) are parameterised too.
    let ledger_writes: Vec<&aws::Call> = calls
        .iter()
        .filter(|c| {
            c.query.as_deref().is_some_and(|q| {
                q.starts_with(&format!(
                    "insert into \"{schema}\".\"strata_rights_ledger\""
                ))
            })
        })
        .collect();
    assert_eq!(ledger_writes.len(), 2, "{calls:#?}");
    assert!(ledger_writes
        .iter()
        .all(|c| c.params.contains(&"'x'' OR ''1''=''1'".to_string())));
}

#[test]
fn rights_access_on_athena_unloads_to_s3() {
    let region = "eu-west-3";
    let (p, proxy, schema, bucket) = athena_rights_project(region);
    preset_fresh_request(region, "a1", "u1");
    let run = p.strata_env(
        &[
            "rights",
            "apply",
            "--type",
            "ACCESS",
            "--guid",
            "u1",
            "--request-id",
            "a1",
        ],
        AWS_ENV,
    );
    run.assert_ok();
    let unloads: Vec<String> = proxy
        .started_queries()
        .into_iter()
        .filter(|q| q.starts_with("unload"))
        .collect();
    assert_eq!(unloads.len(), 2, "one export per declared relation");
    let prefix = format!("s3://{bucket}/exports/");
    for (u, table) in unloads.iter().zip(["events", "user_daily"]) {
        assert!(
            u.contains(&format!("from \"{schema}\".\"{table}\" as t")),
            "{u}"
        );
        assert!(
            u.contains(&format!("to '{prefix}")) && u.contains(&format!("/{table}/'")),
            "{u}"
        );
        assert!(u.contains("partitioned_by = ARRAY['subject_no']"), "{u}");
    }
    // A local access_path cannot work there: Athena writes to S3 only.
    let yml = p.read("project.yml").replace(
        &format!("access_path: s3://{bucket}/exports"),
        "access_path: exports",
    );
    p.write("project.yml", &yml);
    preset_fresh_request(region, "a2", "u1");
    let run = p.strata_env(
        &[
            "rights",
            "apply",
            "--type",
            "ACCESS",
            "--guid",
            "u1",
            "--request-id",
            "a2",
        ],
        AWS_ENV,
    );
    run.assert_contains(
        "on the athena target ACCESS exports go to S3, so it must be an s3:// prefix",
    );
}

/// On Athena the exports past their retention are S3 objects: the purge deletes them
/// (DeleteObjects) and records the request as purged.
#[test]
fn rights_purge_deletes_old_access_exports_from_s3() {
    let region = "eu-north-1";
    let (p, _proxy, _schema, bucket) = athena_rights_project(region);
    let yml = p.read("project.yml");
    p.write(
        "project.yml",
        &format!("{yml}  access_retention_hours: 0\n"),
    );
    let endpoint = aws::moto_endpoint();
    let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
    for key in [
        "exports/b1/events/subject_no=0/a.json",
        "exports/b1/keep.json",
    ] {
        let (status, _) = aws::http(
            "PUT",
            &format!("{endpoint}/{bucket}/{key}"),
            &[("Authorization", auth)],
            b"{}",
        );
        assert_eq!(status, 200);
    }
    let empty = || (vec![], vec![]);
    // ledger DDL, its via_keys and source columns, purged DDL, the pending-erasures query
    // (none), the exports past retention (one request, one file), then the purged record.
    let attachments = format!("[\"s3://{bucket}/exports/b1/events/subject_no=0/a.json\"]");
    let attachments: &'static str = Box::leak(attachments.into_boxed_str());
    aws::preset_results(
        &endpoint,
        region,
        vec![
            empty(),
            empty(),
            empty(),
            empty(),
            (vec!["relations", "min", "max", "count"], vec![]),
            (
                vec!["request_id", "attachments"],
                vec![vec!["a9", attachments]],
            ),
        ],
    );
    p.strata_env(&["rights", "purge"], AWS_ENV)
        .assert_ok()
        .assert_contains("Removed the ACCESS exports of 1 requests");
    assert_eq!(
        aws::list_objects(&endpoint, &bucket, "exports/"),
        vec!["exports/b1/keep.json".to_string()]
    );
}

/// `source freshness` on Athena: Trino's to_unixtime over the loaded_at field, the answer
/// read back into the verdict (moto answers with the preset row).
#[test]
fn source_freshness_on_athena() {
    let p = TestProject::new("athena_fresh", "profile: athena_fresh\n");
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: raw\n    schema: raw\n    loaded_at_field: ingested_at\n    freshness: {error_after: {count: 1, period: hour}}\n    tables:\n      - name: events\n",
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    let region = "ca-west-1";
    let schema = unique("fresh");
    athena_profile(&p, "athena_fresh", &proxy.url, region, &schema, "");
    // Loaded two hours before the clock: past error_after.
    aws::preset_results(
        &aws::moto_endpoint(),
        region,
        vec![(
            vec!["max_loaded_at:double", "snapshotted_at:double"],
            vec![vec!["1795700000.5", "1795707200.5"]],
        )],
    );
    p.strata_env(&["source", "freshness"], AWS_ENV)
        .assert_code(1)
        .assert_contains("ERROR STALE freshness of raw.events");
    let started = proxy.started_queries();
    let query = started.last().expect("a query");
    assert!(
        query.contains("to_unixtime(cast(max(ingested_at) as timestamp(6))) as max_loaded_at")
            && query.contains("from \"raw\".\"events\""),
        "{query}"
    );
    let results: serde_json::Value =
        serde_json::from_str(&p.read("target/sources.json")).expect("sources.json");
    assert_eq!(results["results"][0]["max_loaded_at_time_ago_in_s"], 7200.0);
}

/// A snapshot on Athena: the first run creates an Iceberg table from the query with dbt's
/// columns; a later run stages the changes in a table beside it and MERGEs (Iceberg), then
/// drops the staging table.
#[test]
fn snapshots_on_athena_merge_into_iceberg() {
    let p = TestProject::new("athena_snap", "profile: athena_snap\n");
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables: [{name: users}]\n",
    );
    p.write(
        "snapshots/users.sql",
        "{% snapshot users_snapshot %}\n{{ config(unique_key='id', strategy='timestamp', updated_at='updated_at') }}\nselect id, email, updated_at from {{ source('raw', 'users') }}\n{% endsnapshot %}\n",
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    let region = "eu-south-1";
    let schema = unique("snap");
    athena_profile(&p, "athena_snap", &proxy.url, region, &schema, "");
    p.strata_env(&["snapshot"], AWS_ENV).assert_ok();
    let created = proxy.started_queries();
    let create = created
        .iter()
        .find(|q| q.starts_with(&format!("create table \"{schema}\".\"users_snapshot\"")))
        .unwrap_or_else(|| panic!("{created:#?}"));
    assert!(create.contains("table_type = 'ICEBERG'"), "{create}");
    assert!(
        create.contains("lower(to_hex(md5(to_utf8(cast(coalesce(cast(id as VARCHAR), '') || '|' || coalesce(cast(updated_at as VARCHAR), '') as varchar))))) as dbt_scd_id")
            && create.contains("nullif(updated_at, updated_at) as dbt_valid_to"),
        "{create}"
    );
    // The next run finds the snapshot (moto runs no SQL: Glue learns of it from us).
    let cols = [
        ("id", "bigint"),
        ("email", "string"),
        ("updated_at", "timestamp"),
        ("dbt_scd_id", "string"),
        ("dbt_updated_at", "timestamp"),
        ("dbt_valid_from", "timestamp"),
        ("dbt_valid_to", "timestamp"),
    ];
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        region,
        &schema,
        "users_snapshot",
        &cols,
    );
    let before = proxy.started_queries().len();
    p.strata_env(&["snapshot"], AWS_ENV).assert_ok();
    let queries: Vec<String> = proxy.started_queries()[before..]
        .iter()
        .map(|q| normalize(q))
        .collect();
    // The staging table is named for this run (nothing to drop first): stage, merge; it is
    // dropped through Glue.
    assert_eq!(queries.len(), 2, "{queries:#?}");
    assert!(dropped_through_glue(
        &proxy,
        Some(&schema),
        "users_snapshot__strata_snapshot_"
    ));
    let stage = format!("\"{schema}\".\"users_snapshot__strata_snapshot_<id>\"");
    let at = |prefix: &str| {
        queries
            .iter()
            .position(|q| q.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}: {queries:#?}"))
    };
    let staging = at(&format!("create table {stage}"));
    assert!(
        queries[staging].contains("where dbt_valid_to is null"),
        "{}",
        queries[staging]
    );
    let merge = at(&format!(
        "merge into \"{schema}\".\"users_snapshot\" as dbt_internal_target"
    ));
    assert!(
        queries[merge].contains("then insert (\"id\", \"email\", \"updated_at\", \"dbt_scd_id\", \"dbt_updated_at\", \"dbt_valid_from\", \"dbt_valid_to\")"),
        "{}",
        queries[merge]
    );
    assert!(staging < merge, "{queries:#?}");
}

/// An enforced contract on Athena: the column types come from the result metadata of two
/// `where false` probes (the contract's casts, then the model), before anything is built.
#[test]
fn contracts_on_athena_read_types_from_result_metadata() {
    let p = TestProject::new("athena_ct", "profile: athena_ct\n");
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: m\n    config: {contract: {enforced: true}, materialized: table}\n    columns:\n      - {name: id, data_type: bigint}\n",
    );
    p.write("models/m.sql", "select 1 as id\n");
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    let region = "me-south-1";
    let schema = unique("ct");
    athena_profile(&p, "athena_ct", &proxy.url, region, &schema, "");
    aws::preset_results(
        &aws::moto_endpoint(),
        region,
        vec![(vec!["id:bigint"], vec![]), (vec!["id:integer"], vec![])],
    );
    p.strata_env(&["run"], AWS_ENV)
        .assert_code(1)
        .assert_contains("| id          | integer         | bigint        | data type mismatch |");
    let started = proxy.started_queries();
    assert!(
        started[0].contains("select cast(null as bigint) as \"id\"")
            && started[0].ends_with("as strata_contract_probe where false"),
        "{started:#?}"
    );
    assert_eq!(started.len(), 2, "nothing built: {started:#?}");
}

/// dbt-athena's merge keys shape the MERGE as dbt-athena writes it (aliases `target` and
/// `src`, predicates in the ON, delete/update/insert conditions, update columns and rules).
#[test]
fn merge_keys_shape_the_merge_as_dbt_athena_writes_it() {
    let p = TestProject::new("athena_merge", "profile: athena_merge\n");
    p.write(
        "models/customers.sql",
        "{{ config(materialized='incremental', table_type='iceberg', incremental_strategy='merge',\n    \
         unique_key='id', incremental_predicates=[\"target.region = 'eu'\"],\n    \
         delete_condition=\"src.status = 'deleted'\", update_condition='src.seen > target.seen',\n    \
         insert_condition=\"src.status <> 'deleted'\", merge_exclude_columns=['first_seen'],\n    \
         merge_update_columns_default_rule='coalesce',\n    \
         merge_update_columns_rules={'visits': 'sum', 'tags': 'append_distinct', 'seen': 'greatest(_new_, _old_)'}) }}\n\
         select 1 as id, 'eu' as region, 'active' as status, 1 as visits\n",
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    let region = "eu-north-1";
    let schema = unique("merge");
    athena_profile(&p, "athena_merge", &proxy.url, region, &schema, "");
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        region,
        &schema,
        "customers",
        &[
            ("id", "int"),
            ("region", "string"),
            ("status", "string"),
            ("visits", "int"),
            ("tags", "array<string>"),
            ("seen", "timestamp"),
            ("first_seen", "timestamp"),
        ],
    );
    let run = p.strata_env(&["run"], AWS_ENV);
    run.assert_ok();
    assert!(!run.output().contains("[WARNING]"), "{}", run.output());
    let started = proxy.started_queries();
    let merge = started
        .iter()
        .find(|q| q.starts_with("merge into"))
        .unwrap_or_else(|| panic!("no merge among {started:#?}"));
    let tmp_suffix = regex::Regex::new(r"__strata_tmp_[0-9a-f]{8}").expect("regex");
    let merge = tmp_suffix.replace_all(merge, "__strata_tmp_<run>");
    check_golden(
        "athena/merge_keys.sql",
        &format!("{}\n", merge.replace(&schema, "<schema>")),
    );
}

/// `persist_docs` writes the Glue table's description, `comment` parameter, meta and
/// identity parameters, and column comments, as dbt-athena does; an unchanged table is not
/// updated again (no new Glue version per run).
#[test]
fn persist_docs_writes_glue_descriptions_and_column_comments() {
    let p = TestProject::new("athena_docs", "profile: athena_docs\nversion: '2.1'\n");
    p.write(
        "models/customers.sql",
        "{{ config(materialized='table', table_type='iceberg', \
         persist_docs={'relation': true, 'columns': true}, meta={'owner': 'crm', 'tier': 1}) }}\n\
         select 1 as id, 'eu' as region\n",
    );
    p.write(
        "models/schema.yml",
        &format!(
            "version: 2\nmodels:\n  - name: customers\n    description: |\n      One row\n      per customer.\n    \
             columns:\n      - name: id\n        description: The id.\n        meta: {{pii: false}}\n      \
             - name: region\n        description: {}\n",
            "r".repeat(300)
        ),
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    let region = "eu-south-1";
    let schema = unique("docs");
    athena_profile(&p, "athena_docs", &proxy.url, region, &schema, "");
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        region,
        &schema,
        "customers",
        &[("id", "int"), ("region", "string")],
    );
    p.strata_env(&["run"], AWS_ENV).assert_ok();
    let table = aws::aws_json(
        &aws::moto_endpoint(),
        region,
        "glue",
        "AWSGlue.GetTable",
        &serde_json::json!({"DatabaseName": schema, "Name": "customers"}),
    );
    let table = &table["Table"];
    assert_eq!(table["Description"], "One row per customer.", "{table}");
    let params = &table["Parameters"];
    assert_eq!(params["comment"], "One row per customer.");
    assert_eq!(params["owner"], "crm");
    assert_eq!(params["tier"], "1");
    assert_eq!(params["unique_id"], "model.athena_docs.customers");
    assert_eq!(params["materialized"], "table");
    assert_eq!(params["dbt_project_name"], "athena_docs");
    assert_eq!(params["dbt_project_version"], "2.1");
    // The table's own parameters stay.
    assert_eq!(params["table_type"], "ICEBERG");
    let columns = table["StorageDescriptor"]["Columns"]
        .as_array()
        .expect("columns");
    assert_eq!(columns[0]["Comment"], "The id.");
    assert_eq!(columns[0]["Parameters"]["pii"], "False");
    assert_eq!(
        columns[1]["Comment"],
        format!("{}...", "r".repeat(252)),
        "cut at 255 characters"
    );
    let versions = || {
        aws::aws_json(
            &aws::moto_endpoint(),
            region,
            "glue",
            "AWSGlue.GetTableVersions",
            &serde_json::json!({"DatabaseName": schema, "TableName": "customers"}),
        )["TableVersions"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let after_first = versions();
    // A second run with the same docs does not update the table again (each update is a
    // Glue table version)...
    p.strata_env(&["run"], AWS_ENV).assert_ok();
    assert_eq!(versions(), after_first);
    // ... and one with a new description does.
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: customers\n    description: Customers.\n",
    );
    p.strata_env(&["run"], AWS_ENV).assert_ok();
    assert_eq!(versions(), after_first + 1);
}

/// A Lake Formation call on moto (REST JSON: the operation is the path).
fn lake_formation(region: &str, operation: &str, body: &serde_json::Value) -> serde_json::Value {
    lake_formation_at(&aws::moto_endpoint(), region, operation, body)
}

fn lake_formation_at(
    endpoint: &str,
    region: &str,
    operation: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    let (status, out) = aws::http(
        "POST",
        &format!("{endpoint}/{operation}"),
        &[
            ("Content-Type", "application/json"),
            (
                "Authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential=test/20260101/{region}/lakeformation/aws4_request, \
                     SignedHeaders=host, Signature=0"
                ),
            ),
        ],
        body.to_string().as_bytes(),
    );
    assert_eq!(
        status,
        200,
        "{operation}: {}",
        String::from_utf8_lossy(&out)
    );
    serde_json::from_slice(&out).unwrap_or(serde_json::Value::Null)
}

/// dbt-athena's Lake Formation tags: `lf_tags_database` on the database Strata creates,
/// `lf_tags_config` on the built table (table tags the config does not name removed, except
/// inherited ones; column tags added); a tag Lake Formation does not know fails the model.
/// (moto answers GetResourceLFTags on a table without its column tags, so the removal of
/// old column tags is not exercised here.)
#[test]
fn lake_formation_tags_are_applied_as_dbt_athena_applies_them() {
    let region = "eu-west-3";
    for (key, values) in [
        ("domain", vec!["sales", "analytics"]),
        ("pii", vec!["true", "false"]),
        ("owner_team", vec!["crm"]),
        ("cost_center", vec!["42"]),
    ] {
        lake_formation(
            region,
            "CreateLFTag",
            &serde_json::json!({"TagKey": key, "TagValues": values}),
        );
    }
    let p = TestProject::new("athena_lf", "profile: athena_lf\n");
    p.write(
        "models/customers.sql",
        "{{ config(materialized='table', table_type='iceberg', lf_tags_config={'enabled': true, \
         'tags': {'domain': 'sales'}, 'tags_columns': {'pii': {'true': ['id']}}, \
         'inherited_tags': ['cost_center']}) }}\nselect 1 as id, 'eu' as region\n",
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    let schema = unique("lf");
    athena_profile(
        &p,
        "athena_lf",
        &proxy.url,
        region,
        &schema,
        "      lf_tags_database:\n        domain: analytics\n",
    );
    // Tags the table has from before: one the config drops, one it inherits.
    let table = serde_json::json!({"Table": {"DatabaseName": schema, "Name": "customers"}});
    lake_formation(
        region,
        "AddLFTagsToResource",
        &serde_json::json!({"Resource": table, "LFTags": [
            {"TagKey": "owner_team", "TagValues": ["crm"]},
            {"TagKey": "cost_center", "TagValues": ["42"]},
        ]}),
    );
    p.strata_env(&["run"], AWS_ENV).assert_ok();

    let tags_of = |resource: serde_json::Value| {
        lake_formation(
            region,
            "GetResourceLFTags",
            &serde_json::json!({"Resource": resource}),
        )
    };
    let pairs = |tags: &serde_json::Value| -> Vec<String> {
        let mut out: Vec<String> = tags
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                format!(
                    "{}={}",
                    t["TagKey"].as_str().unwrap_or(""),
                    t["TagValues"][0].as_str().unwrap_or("")
                )
            })
            .collect();
        out.sort();
        out
    };
    let database = tags_of(serde_json::json!({"Database": {"Name": schema}}));
    assert_eq!(pairs(&database["LFTagOnDatabase"]), ["domain=analytics"]);
    let on_table = tags_of(table.clone());
    assert_eq!(
        pairs(&on_table["LFTagsOnTable"]),
        ["domain=sales"],
        "owner_team removed, domain added: {on_table}"
    );
    let columns = tags_of(serde_json::json!({"TableWithColumns": {
        "DatabaseName": schema, "Name": "customers", "ColumnNames": ["id", "region"]}}));
    let on_columns = columns["LFTagsOnColumns"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(on_columns.len(), 1, "{columns}");
    assert_eq!(on_columns[0]["Name"], "id");
    assert_eq!(pairs(&on_columns[0]["LFTags"]), ["pii=true"]);

    // The database's tags are set when Strata creates it, not on every run (as dbt-athena).
    lake_formation(
        region,
        "RemoveLFTagsFromResource",
        &serde_json::json!({"Resource": {"Database": {"Name": schema}},
            "LFTags": [{"TagKey": "domain", "TagValues": ["analytics"]}]}),
    );
    p.strata_env(&["run"], AWS_ENV).assert_ok();
    let database = tags_of(serde_json::json!({"Database": {"Name": schema}}));
    assert_eq!(pairs(&database["LFTagOnDatabase"]), Vec::<String>::new());

    // A tag Lake Formation does not have fails the model, naming it.
    p.write(
        "models/customers.sql",
        "{{ config(materialized='table', table_type='iceberg', lf_tags_config={'enabled': true, \
         'tags': {'no_such_tag': 'x'}}) }}\nselect 1 as id\n",
    );
    p.strata_env(&["run"], AWS_ENV)
        .assert_code(1)
        .assert_contains("Failed to add LF tags to")
        .assert_contains("no_such_tag");
}

/// A partitioned incremental model that names no strategy overwrites the partitions its new
/// rows touch on Athena, as under dbt-athena (appending them again would duplicate rows), and
/// the project is told that the engines' defaults differ.
#[test]
fn a_partitioned_incremental_model_without_a_strategy_overwrites_its_partitions() {
    let p = TestProject::new("athena_default", "profile: athena_default\n");
    let model = |strategy: &str| {
        format!(
            "{{{{ config(materialized='incremental', table_type='iceberg', partitioned_by=['day']{strategy}) }}}}\n\
             select current_date as day, 1 as n\n"
        )
    };
    p.write("models/daily.sql", &model(""));
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    let region = "ca-central-1";
    let schema = unique("default");
    athena_profile(&p, "athena_default", &proxy.url, region, &schema, "");
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        region,
        &schema,
        "daily",
        &[("day", "date"), ("n", "int")],
    );
    let run = p.strata_env(&["run"], AWS_ENV);
    run.assert_ok().assert_contains(
        "1 partitioned incremental model(s) (models/daily.sql) name no `incremental_strategy`",
    );
    let writes = |proxy: &Proxy| -> Vec<String> {
        proxy
            .started_queries()
            .into_iter()
            .filter(|q| {
                q.starts_with("delete from")
                    || q.starts_with("insert into")
                    || q.starts_with("merge into")
            })
            .map(|q| q.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(writes(&proxy), ["merge into"]);

    // Said explicitly, append appends (and nothing is warned about).
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    athena_profile(&p, "athena_default", &proxy.url, region, &schema, "");
    p.write(
        "models/daily.sql",
        &model(", incremental_strategy='append'"),
    );
    let run = p.strata_env(&["run"], AWS_ENV);
    run.assert_ok();
    assert!(
        !run.output().contains("incremental_strategy"),
        "{}",
        run.output()
    );
    assert_eq!(writes(&proxy), ["insert into"]);
}

/// Where a table's data lands, as dbt-athena computes it: `external_location`, the model's
/// `s3_data_dir` and `s3_data_naming`, the profile's `s3_tmp_table_dir` for the new rows of an
/// incremental run; an Iceberg table rebuilt into its own fixed folder is refused with
/// dbt-athena's reason.
#[test]
fn data_locations_follow_dbt_athenas_keys() {
    let p = TestProject::new("athena_loc", "profile: athena_loc\n");
    let region = "sa-east-1";
    let schema = unique("loc");
    let bucket = schema.replace('_', "-");
    p.write(
        "models/ext.sql",
        &format!(
            "{{{{ config(materialized='table', table_type='iceberg', \
             external_location='s3://{bucket}/custom/ext/') }}}}\nselect 1 as id\n"
        ),
    );
    p.write(
        "models/named.sql",
        &format!(
            "{{{{ config(materialized='table', table_type='iceberg', \
             s3_data_dir='s3://{bucket}/other/', s3_data_naming='table') }}}}\nselect 1 as id\n"
        ),
    );
    p.write(
        "models/inc.sql",
        "{{ config(materialized='incremental', table_type='iceberg', \
         incremental_strategy='append') }}\nselect 1 as id\n",
    );
    for name in ["flat_a", "flat_b"] {
        p.write(
            &format!("models/{name}.sql"),
            "{{ config(materialized='table', table_type='iceberg', s3_data_naming='unique') }}\n\
             select 1 as id\n",
        );
    }
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    athena_profile(
        &p,
        "athena_loc",
        &proxy.url,
        region,
        &schema,
        &format!(
            "      s3_data_naming: table_unique\n      s3_tmp_table_dir: s3://{bucket}/tmp/\n"
        ),
    );
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        region,
        &schema,
        "inc",
        &[("id", "int")],
    );
    p.strata_env(&["run"], AWS_ENV).assert_ok();
    let started = proxy.started_queries();
    let location_of = |table: &str| -> String {
        let ctas = started
            .iter()
            .find(|q| q.starts_with(&format!("create table \"{schema}\".\"{table}")))
            .unwrap_or_else(|| panic!("no CTAS of {table} in {started:#?}"));
        let from = ctas.find("location = '").expect("location") + "location = '".len();
        ctas[from..].split('\'').next().unwrap_or("").to_string()
    };
    assert_eq!(location_of("ext"), format!("s3://{bucket}/custom/ext"));
    assert_eq!(location_of("named"), format!("s3://{bucket}/other/named"));
    // `unique`: a folder of its own for each table built in the run (a uuid per CTAS).
    let (a, b) = (location_of("flat_a"), location_of("flat_b"));
    let flat = regex::Regex::new(&format!(
        "^s3://{bucket}/tmp/[0-9a-f-]{{36}}$|^s3://{bucket}/data/[0-9a-f-]{{36}}$"
    ))
    .expect("regex");
    assert!(flat.is_match(&a) && flat.is_match(&b) && a != b, "{a} {b}");
    // The incremental run's new rows: under the temporary folder, by the profile's naming.
    let tmp = location_of("inc__strata_tmp_");
    let tmp_folder = regex::Regex::new(&format!(
        "^s3://{bucket}/tmp/inc__strata_tmp_[0-9a-f]{{8}}/[0-9a-f-]{{36}}$"
    ))
    .expect("regex");
    assert!(tmp_folder.is_match(&tmp), "{tmp}");

    // A table that exists is rebuilt aside: into its fixed external folder it cannot be.
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        region,
        &schema,
        "ext",
        &[("id", "int")],
    );
    p.strata_env(&["run", "--select", "ext"], AWS_ENV)
        .assert_code(1)
        .assert_contains("You need to have an unique table location when creating Iceberg table");
}

/// dbt-athena's `seed_s3_upload_args`: the profile's on every seed upload, a seed's own
/// instead of them (read back from the emulator's S3 with the SDK); an argument S3 has no
/// such name for is refused at load, naming it.
#[test]
fn seed_uploads_carry_the_s3_upload_args() {
    let p = TestProject::new("athena_upload", "profile: athena_upload\n");
    p.write("seeds/plain.csv", "id\n1\n");
    p.write("seeds/archived.csv", "id\n2\n");
    p.write(
        "seeds/properties.yml",
        "version: 2\nseeds:\n  - name: archived\n    config:\n      seed_s3_upload_args:\n        \
         StorageClass: STANDARD_IA\n        Tagging: team=crm\n",
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    let region = "eu-central-2";
    let schema = unique("upload");
    let bucket = athena_profile(
        &p,
        "athena_upload",
        &proxy.url,
        region,
        &schema,
        "      seed_s3_upload_args:\n        ServerSideEncryption: AES256\n        \
         Metadata: {owner: analytics}\n",
    );
    p.strata_env(&["seed"], AWS_ENV).assert_ok();

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .endpoint_url(aws::moto_endpoint())
            .region(aws_sdk_s3::config::Region::new(region))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .force_path_style(true)
            .build(),
    );
    let head = |seed: &str| {
        let key = format!("data/{schema}/{seed}/seed/{seed}.parquet");
        runtime
            .block_on(s3.head_object().bucket(&bucket).key(&key).send())
            .unwrap_or_else(|e| panic!("{key}: {e:?}"))
    };
    let plain = head("plain");
    assert_eq!(
        plain.server_side_encryption().map(|e| e.as_str()),
        Some("AES256")
    );
    assert_eq!(
        plain
            .metadata()
            .and_then(|m| m.get("owner"))
            .map(String::as_str),
        Some("analytics")
    );
    // A seed's own arguments replace the profile's (as in dbt-athena).
    let archived = head("archived");
    assert_eq!(
        archived.storage_class().map(|c| c.as_str()),
        Some("STANDARD_IA")
    );
    assert_eq!(archived.server_side_encryption(), None);

    p.write(
        "seeds/properties.yml",
        "version: 2\nseeds:\n  - name: archived\n    config:\n      seed_s3_upload_args:\n        \
         StorageClas: STANDARD_IA\n",
    );
    p.strata_env(&["seed"], AWS_ENV)
        .assert_code(2)
        .assert_contains("config `seed_s3_upload_args` is {\"StorageClas\":\"STANDARD_IA\"}");
}

/// A target in another data catalog than the account's own: every Glue call names that
/// catalog's account (its GLUE data catalog's `catalog-id`), as dbt-athena's do; a catalog
/// that is not a Glue catalog is refused, naming its type.
#[test]
fn glue_calls_name_the_target_catalogs_account() {
    let region = "ap-southeast-3";
    // Names of their own: the emulator keeps catalogs between runs.
    let (shared, federated) = (unique("shared"), unique("federated"));
    for (name, kind) in [(&shared, "GLUE"), (&federated, "LAMBDA")] {
        aws::aws_json(
            &aws::moto_endpoint(),
            region,
            "athena",
            "AmazonAthena.CreateDataCatalog",
            &serde_json::json!({"Name": name, "Type": kind,
                "Parameters": {"catalog-id": "210987654321", "function": "arn:aws:lambda:x"}}),
        );
    }
    let (p, proxy, _) = small_project("", region, vec![]);
    let profile = p.read("profiles.yml");
    p.write(
        "profiles.yml",
        &profile.replace("database: awsdatacatalog", &format!("database: {shared}")),
    );
    p.strata_env(&["run", "--select", "orders"], AWS_ENV)
        .assert_ok();
    let glue: Vec<aws::ApiCall> = proxy
        .api_calls()
        .into_iter()
        .filter(|c| c.service == "glue")
        .collect();
    assert!(glue.iter().any(|c| c.operation == "GetTables"), "{glue:#?}");
    for call in &glue {
        assert_eq!(call.body["CatalogId"], "210987654321", "{call:?}");
    }

    p.write(
        "profiles.yml",
        &profile.replace(
            "database: awsdatacatalog",
            &format!("database: {federated}"),
        ),
    );
    p.strata_env(&["run", "--select", "orders"], AWS_ENV)
        .assert_code(2)
        .assert_contains(&format!(
            "data catalog '{federated}' (the target's `database`) is a LAMBDA catalog"
        ));
}

/// dbt-athena's `temp_schema`: an incremental run's new rows go to a table in that schema,
/// which is created when missing.
#[test]
fn temp_schema_holds_the_new_rows_of_an_incremental_run() {
    let (p, proxy, schema) = small_project("", "eu-west-2", vec![]);
    let scratch = format!("{schema}_scratch");
    p.write(
        "models/events.sql",
        &format!(
            "{{{{ config(materialized='incremental', table_type='iceberg', \
             incremental_strategy='append', temp_schema='{scratch}') }}}}\nselect 1 as id\n"
        ),
    );
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        "eu-west-2",
        &schema,
        "events",
        &[("id", "int")],
    );
    p.strata_env(&["run", "--select", "events"], AWS_ENV)
        .assert_ok();
    let created: Vec<String> = proxy
        .api_calls()
        .iter()
        .filter(|c| c.operation == "CreateDatabase")
        .filter_map(|c| c.body["DatabaseInput"]["Name"].as_str().map(str::to_string))
        .collect();
    assert!(created.contains(&scratch), "{created:?}");
    let started = proxy.started_queries();
    let tmp = regex::Regex::new(&format!(
        "^create table \"{scratch}\"\\.\"events__strata_tmp_[0-9a-f]{{8}}\""
    ))
    .expect("regex");
    assert!(started.iter().any(|q| tmp.is_match(q)), "{started:#?}");
    assert!(
        started.iter().any(
            |q| q.starts_with(&format!("insert into \"{schema}\".\"events\""))
                && q.contains(&format!("from \"{scratch}\".\"events__strata_tmp_"))
        ),
        "{started:#?}"
    );
    // Dropped (through Glue) in its own schema.
    assert!(dropped_through_glue(
        &proxy,
        Some(&scratch),
        "events__strata_tmp_"
    ));
}

/// `microbatch` on Athena: each batch reads its inputs' window (dbt-athena's timestamp
/// casts) and replaces the target's window; with a unique_key the batch is merged, as
/// dbt-athena does.
#[test]
fn microbatch_batches_on_athena_replace_their_window() {
    let (p, proxy, schema) = small_project("", "us-west-1", vec![]);
    p.write(
        "models/events.sql",
        "{{ config(materialized='table', table_type='iceberg', event_time='at') }}\n\
         select timestamp '2024-01-01 10:00:00' as at, 1 as id\n",
    );
    p.write(
        "models/daily.sql",
        "{{ config(materialized='incremental', table_type='iceberg', \
         incremental_strategy='microbatch', event_time='at', batch_size='day') }}\n\
         select at, id from {{ ref('events') }}\n",
    );
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        "us-west-1",
        &schema,
        "daily",
        &[("at", "timestamp"), ("id", "int")],
    );
    let window = [
        "--event-time-start",
        "2024-01-01",
        "--event-time-end",
        "2024-01-03",
    ];
    let mut args = vec!["run", "--select", "daily"];
    args.extend(window);
    p.strata_env(&args, AWS_ENV).assert_ok();
    let started = proxy.started_queries();
    let tmp = regex::Regex::new(r"__strata_tmp_(\d{14})_[0-9a-f]{8}").expect("regex");
    let text: String = started
        .iter()
        .map(|q| {
            let q = tmp.replace_all(q, "__strata_tmp_${1}_<run>");
            format!("{};\n\n", normalize(&q).trim_end())
        })
        .collect::<String>()
        .replace(&schema, "<schema>")
        .replace(&schema.replace('_', "-"), "<bucket>");
    check_golden("athena/microbatch_statements.sql", &text);
    // Each batch's new rows have a table and a data folder of their own.
    assert!(
        text.contains("daily__strata_tmp_20240101000000_<run>/<uuid>'"),
        "{text}"
    );
    assert!(
        text.contains("daily__strata_tmp_20240102000000_<run>/<uuid>'"),
        "{text}"
    );
    // Two batches, each reading its day of `events` and replacing its day of `daily`.
    for day in ["2024-01-01", "2024-01-02"] {
        assert!(
            text.contains(&format!(
                "cast(at as timestamp) >= timestamp '{day} 00:00:00+00:00'"
            )),
            "{text}"
        );
    }
    assert_eq!(
        text.matches("delete from \"<schema>\".\"daily\"").count(),
        2,
        "{text}"
    );

    // With a unique_key: dbt-athena's merge.
    p.write(
        "models/daily.sql",
        "{{ config(materialized='incremental', table_type='iceberg', unique_key='id', \
         incremental_strategy='microbatch', event_time='at', batch_size='day') }}\n\
         select at, id from {{ ref('events') }}\n",
    );
    let before = proxy.started_queries().len();
    p.strata_env(&args, AWS_ENV).assert_ok();
    let merges = proxy.started_queries()[before..]
        .iter()
        .filter(|q| q.starts_with("merge into"))
        .count();
    assert_eq!(merges, 2);
}

/// dbt-athena's `lf_grants`: the table's data-cells filters and the principals granted
/// SELECT through each become the config's (a filter it does not name deleted, a changed one
/// updated, a principal it does not name revoked), in the catalog's account (STS). moto has
/// no data-cells filters: the test proxy keeps them (see aws::CellFilters).
#[test]
fn lake_formation_grants_are_made_the_configs() {
    let (p, proxy, schema) = small_project("", "eu-north-1", vec![]);
    let analyst = "arn:aws:iam::123456789012:role/analyst";
    let old_role = "arn:aws:iam::123456789012:role/old";
    let filter = |name: &str, row_filter: &str| {
        serde_json::json!({"TableData": {"TableCatalogId": "123456789012", "DatabaseName": schema,
            "TableName": "orders", "Name": name, "RowFilter": {"FilterExpression": row_filter},
            "ColumnNames": ["id"]}})
    };
    let call = |operation: &str, body: serde_json::Value| {
        lake_formation_at(&proxy.url, "eu-north-1", operation, &body);
    };
    call("CreateDataCellsFilter", filter("old_filter", "true"));
    call("CreateDataCellsFilter", filter("eu_only", "region = 'us'"));
    call(
        "BatchGrantPermissions",
        serde_json::json!({"CatalogId": "123456789012", "Entries": [{"Id": "0",
            "Principal": {"DataLakePrincipalIdentifier": old_role},
            "Resource": {"DataCellsFilter": {"TableCatalogId": "123456789012",
                "DatabaseName": schema, "TableName": "orders", "Name": "eu_only"}},
            "Permissions": ["SELECT"]}]}),
    );
    p.write(
        "models/orders.sql",
        &format!(
            "{{{{ config(materialized='table', table_type='iceberg', lf_grants={{'data_cell_filters': \
             {{'enabled': true, 'filters': {{'eu_only': {{'row_filter': \"region = 'eu'\", \
             'column_names': ['id', 'status'], 'principals': ['{analyst}']}}}}}}}}) }}}}\n\
             select 1 as id, 'a' as status\n"
        ),
    );
    p.strata_env(&["run", "--select", "orders"], AWS_ENV)
        .assert_ok();
    assert_eq!(
        proxy.cell_filters(),
        [(
            "eu_only".to_string(),
            "region = 'eu'".to_string(),
            vec!["id".to_string(), "status".to_string()],
            vec![analyst.to_string()],
        )]
    );
    let operations: Vec<String> = proxy
        .api_calls()
        .into_iter()
        .filter(|c| c.service == "lakeformation" || c.service == "sts")
        .map(|c| c.operation)
        .skip(3)
        .collect();
    assert_eq!(
        operations,
        [
            "GetCallerIdentity",
            "ListDataCellsFilter",
            "DeleteDataCellsFilter",
            "UpdateDataCellsFilter",
            "ListPermissions",
            "BatchRevokePermissions",
            "BatchGrantPermissions",
        ]
    );

    // Two models with grants in one run: the account is asked of STS once.
    p.write(
        "models/orders_copy.sql",
        &p.read("models/orders.sql")
            .replace("'eu_only'", "'eu_copy'")
            .replace("'a' as status", "'b' as status"),
    );
    let before = proxy.api_calls().len();
    p.strata_env(&["run"], AWS_ENV).assert_ok();
    let sts = proxy.api_calls()[before..]
        .iter()
        .filter(|c| c.operation == "GetCallerIdentity")
        .count();
    assert_eq!(sts, 1);
}

/// The profile's static keys sign the calls (not the environment's); with `assume_role_arn`,
/// the keys STS gave for the role do (dbt-athena's profile keys, honoured).
#[test]
fn profile_keys_and_an_assumed_role_sign_the_calls() {
    let keys = "      aws_access_key_id: AKIAPROFILEKEY000001\n      \
                aws_secret_access_key: profile-secret\n";
    let (p, proxy, _) = small_project(keys, "ap-south-1", vec![]);
    p.strata_env(&["run", "--select", "orders"], AWS_ENV)
        .assert_ok();
    let signers: std::collections::BTreeSet<String> = proxy
        .calls()
        .into_iter()
        .filter_map(|c| c.access_key)
        .collect();
    assert_eq!(
        signers.into_iter().collect::<Vec<_>>(),
        ["AKIAPROFILEKEY000001"]
    );

    let role = format!(
        "{keys}      assume_role_arn: arn:aws:iam::123456789012:role/dbt-runner\n      \
         assume_role_session_name: strata-test\n"
    );
    let (p, proxy, _) = small_project(&role, "ap-south-1", vec![]);
    p.strata_env(&["run", "--select", "orders"], AWS_ENV)
        .assert_ok();
    let signers: std::collections::BTreeSet<String> = proxy
        .calls()
        .into_iter()
        .filter_map(|c| c.access_key)
        .collect();
    assert_eq!(signers.len(), 1, "{signers:?}");
    let signer = signers.iter().next().expect("a signer");
    // STS's temporary keys (moto's start ASIA), not the profile's or the environment's.
    assert!(
        signer.starts_with("ASIA") && signer != "AKIAPROFILEKEY000001" && signer != "test",
        "{signer}"
    );

    // Half a key pair is refused, naming the keys.
    let (p, _, _) = small_project("      aws_access_key_id: AKIAONLY\n", "ap-south-1", vec![]);
    p.strata_env(&["run", "--select", "orders"], AWS_ENV)
        .assert_code(2)
        .assert_contains("`aws_access_key_id` and `aws_secret_access_key` go together");
}

/// Every profile key is honoured, refused or warned about: a misspelt key or a dbt-athena
/// key Strata does not support stops the run naming it; one that changes nothing warns.
#[test]
fn profile_keys_are_honoured_refused_or_warned_about() {
    let (p, _, _) = small_project("      aws_profile: analytics\n", "ap-south-1", vec![]);
    p.strata_env(&["run", "--select", "orders"], AWS_ENV)
        .assert_code(2)
        .assert_contains("profiles.yml: target 'athena': unknown setting `aws_profile`")
        .assert_contains("(did you mean `aws_profile_name`?)");

    let (p, _, _) = small_project("      spark_work_group: spark\n", "ap-south-1", vec![]);
    p.strata_env(&["run", "--select", "orders"], AWS_ENV)
        .assert_code(2)
        .assert_contains(
            "`spark_work_group` (a dbt-athena setting) is not supported by Strata yet",
        );

    let (p, _, _) = small_project("      s3_data_naming: by_table\n", "ap-south-1", vec![]);
    p.strata_env(&["run", "--select", "orders"], AWS_ENV)
        .assert_code(2)
        .assert_contains("`s3_data_naming: by_table` is not one of unique, table,");

    let (p, _, _) = small_project("      num_iceberg_retries: 3\n", "ap-south-1", vec![]);
    p.strata_env(&["run", "--select", "orders"], AWS_ENV)
        .assert_ok()
        .assert_contains("`num_iceberg_retries` has no effect on Strata's Athena adapter");
    // --warn-error makes that warning an error, as for any project warning.
    p.strata_env(&["run", "--select", "orders", "--warn-error"], AWS_ENV)
        .assert_code(2)
        .assert_contains("made an error by --warn-error");
}
