//! Hive tables on the `athena` target (`table_type: hive`) against the moto server: the
//! statements of each build and every Glue and S3 call it makes (the proxy records them).
//! moto runs no SQL, so what a CTAS would leave in Glue and S3 is made by the test: an
//! "engine" thread registers each Hive CTAS's table, partitions and files as Athena would,
//! while the proxy holds the CTAS running for a few polls.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{json, Value};

use crate::athena::{athena_profile, unique, AWS_ENV};
use crate::common::aws::{self, Fault, Proxy, Rule};
use crate::common::TestProject;

fn glue(region: &str, operation: &str, body: Value) -> Value {
    let (status, out) = glue_status(region, operation, body);
    assert_eq!(status, 200, "{operation}: {out}");
    out
}

/// A Glue call that may fail: (HTTP status, body).
fn glue_status(region: &str, operation: &str, body: Value) -> (u16, Value) {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=test/20260101/{region}/glue/aws4_request, SignedHeaders=host, Signature=0"
    );
    let (status, resp) = aws::http(
        "POST",
        &format!("{}/", aws::moto_endpoint()),
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", &format!("AWSGlue.{operation}")),
            ("Authorization", &auth),
        ],
        body.to_string().as_bytes(),
    );
    (status, serde_json::from_slice(&resp).unwrap_or(Value::Null))
}

fn put_object(bucket: &str, key: &str) {
    let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
    let (status, body) = aws::http(
        "PUT",
        &format!("{}/{bucket}/{key}", aws::moto_endpoint()),
        &[
            ("Authorization", auth),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
        b"parquet",
    );
    assert_eq!(status, 200, "put {key}: {}", String::from_utf8_lossy(&body));
}

/// A Hive table as a build leaves it: `columns` (name, type), partition keys, its folder
/// `location`, a partition (and a file) per value in `partitions`, or one file.
pub(crate) fn hive_table(
    region: &str,
    schema: &str,
    table: &str,
    columns: &[(&str, &str)],
    partition_key: Option<&str>,
    location: &str,
    partitions: &[&str],
) {
    let parameters = json!({"EXTERNAL": "TRUE", "classification": "parquet"});
    let key_and_values = (partition_key, partitions);
    glue_table(
        region,
        schema,
        table,
        columns,
        key_and_values,
        location,
        parameters,
    );
}

/// A Glue table with `parameters` (see `hive_table`).
fn glue_table(
    region: &str,
    schema: &str,
    table: &str,
    columns: &[(&str, &str)],
    (partition_key, partitions): (Option<&str>, &[&str]),
    location: &str,
    parameters: Value,
) {
    let _ = glue_status(
        region,
        "CreateDatabase",
        json!({"DatabaseInput": {"Name": schema}}),
    );
    let cols = |c: &[(&str, &str)]| -> Vec<Value> {
        c.iter()
            .map(|(n, t)| json!({"Name": n, "Type": t}))
            .collect()
    };
    let keys: Vec<(&str, &str)> = partition_key.map(|k| (k, "string")).into_iter().collect();
    glue(
        region,
        "CreateTable",
        json!({"DatabaseName": schema, "TableInput": {
            "Name": table,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": parameters,
            "StorageDescriptor": {"Columns": cols(columns), "Location": location},
            "PartitionKeys": cols(&keys),
        }}),
    );
    let (bucket, folder) = location
        .strip_prefix("s3://")
        .and_then(|l| l.split_once('/'))
        .expect("an s3 location");
    match partition_key {
        None => put_object(bucket, &format!("{folder}/part-0.parquet")),
        Some(key) => {
            let inputs: Vec<Value> = partitions
                .iter()
                .map(|v| {
                    put_object(bucket, &format!("{folder}/{key}={v}/part-0.parquet"));
                    json!({"Values": [v], "StorageDescriptor": {
                        "Columns": cols(columns), "Location": format!("{location}/{key}={v}")}})
                })
                .collect();
            glue(
                region,
                "BatchCreatePartition",
                json!({"DatabaseName": schema, "TableName": table, "PartitionInputList": inputs}),
            );
        }
    }
}

/// The partition values of a Glue table, sorted.
fn partition_values(region: &str, schema: &str, table: &str) -> Vec<String> {
    let out = glue(
        region,
        "GetPartitions",
        json!({"DatabaseName": schema, "TableName": table}),
    );
    let mut values: Vec<String> = out["Partitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["Values"][0].as_str().unwrap_or_default().to_string())
        .collect();
    values.sort();
    values
}

fn table_location(region: &str, schema: &str, table: &str) -> Option<String> {
    let (status, out) = glue_status(
        region,
        "GetTable",
        json!({"DatabaseName": schema, "Name": table}),
    );
    (status == 200).then(|| {
        out["Table"]["StorageDescriptor"]["Location"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    })
}

/// The text between `key = '` and the next quote of a CTAS.
fn property(ctas: &str, key: &str) -> String {
    let start = ctas
        .find(&format!("{key} = '"))
        .unwrap_or_else(|| panic!("no {key} in {ctas}"))
        + key.len()
        + 4;
    ctas[start..]
        .split('\'')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Play Athena for the Hive CTAS of tables whose name starts with `prefix`: register each
/// in Glue with columns `id` and `day` (`day` a partition key when the CTAS partitions by
/// it, with `partitions`' values), and its files, until `done`.
fn engine<'s>(
    scope: &'s std::thread::Scope<'s, '_>,
    proxy: &'s Proxy,
    region: &'s str,
    schema: &'s str,
    prefix: &'s str,
    partitions: &'s [&'s str],
    done: &'s AtomicBool,
) {
    scope.spawn(move || {
        let mut seen = HashSet::new();
        let head = format!("create table \"{schema}\".\"{prefix}");
        while !done.load(Ordering::SeqCst) {
            for q in proxy.started_queries() {
                if !q.starts_with(&head) || !seen.insert(q.clone()) {
                    continue;
                }
                let name = q[format!("create table \"{schema}\".\"").len()..]
                    .split('"')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let location = property(&q, "external_location");
                let partitioned = q.contains("partitioned_by = ARRAY['day']");
                let (columns, key): (&[(&str, &str)], _) = if partitioned {
                    (&[("id", "int")], Some("day"))
                } else {
                    (&[("id", "int"), ("day", "string")], None)
                };
                hive_table(region, schema, &name, columns, key, &location, partitions);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    });
}

/// The proxy holds a CTAS of `prefix` tables running for a few polls (about 0.6 s), so the
/// engine thread has registered its table before Strata reads it.
fn hold_ctas(schema: &str, prefix: &str) -> Rule {
    Rule {
        operation: "GetQueryExecution",
        query_marker: Some(format!("create table \"{schema}\".\"{prefix}")),
        times: 6,
        fault: Fault::QueryRunning,
    }
}

/// The Glue and S3 calls since `from`: `glue:Operation` or `s3:METHOD`, with their bodies.
/// A read or write of the build state (athena_reuse.rs checks those), not of a table.
fn build_state(c: &aws::ApiCall) -> bool {
    c.service == "s3" && c.operation.contains("/strata_state/")
}

/// The Glue and S3 calls after the `from`th call, with their bodies; the build state's
/// aside.
fn catalog_calls(proxy: &Proxy, from: usize) -> Vec<(String, Value)> {
    proxy.api_calls()[from..]
        .iter()
        .filter(|c| c.service != "athena" && !build_state(c))
        .map(|c| {
            let op = c.operation.split(' ').next().unwrap_or_default();
            (format!("{}:{op}", c.service), c.body.clone())
        })
        .collect()
}

fn names(calls: &[(String, Value)]) -> Vec<&str> {
    calls.iter().map(|(n, _)| n.as_str()).collect()
}

/// A Hive table's first build is one CTAS with dbt-athena's keys; its rebuild is a CTAS
/// beside it and a swap through Glue: the table takes the new build's storage and
/// partitions, the new build's Glue entry goes, and only the old build's files are deleted.
#[test]
fn a_hive_table_is_built_then_rebuilt_aside_and_swapped_in_through_glue() {
    let region = "eu-south-2";
    let schema = unique("hive");
    let p = TestProject::new("hive_t", "profile: hive_t\n");
    p.write(
        "models/orders.sql",
        "{{ config(materialized='table', table_type='hive', partitioned_by=['day'], \
         bucketed_by=['id'], bucket_count=4, write_compression='snappy') }}\n\
         select 1 as id, '2026-01-02' as day\n",
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![hold_ctas(&schema, "orders__")]);
    let bucket = athena_profile(&p, "hive_t", &proxy.url, region, &schema, "");
    let data = format!("s3://{bucket}/data/{schema}");

    // First build: one CTAS straight into the target; no Glue or S3 call besides the run's.
    p.strata_env(&["build"], AWS_ENV).assert_ok();
    let first = proxy.started_queries();
    assert_eq!(first.len(), 1, "{first:#?}");
    let location = property(&first[0], "external_location");
    let invocation = location
        .strip_prefix(&format!("{data}/orders/"))
        .unwrap_or_else(|| panic!("{}", first[0]))
        .to_string();
    assert_eq!(
        first[0],
        format!(
            "create table \"{schema}\".\"orders\"\nwith (\n    table_type = 'HIVE',\n    \
             is_external = true,\n    external_location = '{location}',\n    \
             partitioned_by = ARRAY['day'],\n    bucketed_by = ARRAY['id'],\n    \
             bucket_count = 4,\n    write_compression = 'SNAPPY',\n    format = 'PARQUET'\n)\n\
             as\n\nselect 1 as id, '2026-01-02' as day\n"
        )
        .trim_end()
    );
    assert_eq!(invocation.len(), 36, "{location}");
    assert_eq!(
        names(&catalog_calls(&proxy, 0)),
        ["glue:CreateDatabase", "glue:GetTables"]
    );

    // The table from an earlier build, and a neighbour folder that is not its own.
    let old = format!("{data}/orders/old-build");
    hive_table(
        region,
        &schema,
        "orders",
        &[("id", "int")],
        Some("day"),
        &old,
        &["2026-01-01", "2026-01-02"],
    );
    put_object(
        &bucket,
        &format!("data/{schema}/orders/old-build-2/keep.parquet"),
    );
    let (queries_before, calls_before) = (proxy.started_queries().len(), proxy.api_calls().len());
    let done = AtomicBool::new(false);
    let parts = ["2026-01-02", "2026-01-03"];
    std::thread::scope(|s| {
        engine(s, &proxy, region, &schema, "orders__", &parts, &done);
        let run = p.strata_env(&["build"], AWS_ENV);
        done.store(true, Ordering::SeqCst);
        run.assert_ok();
    });
    let rebuild = proxy.started_queries()[queries_before..].to_vec();
    assert_eq!(rebuild.len(), 1, "{rebuild:#?}");
    let tmp = rebuild[0]
        .strip_prefix(&format!("create table \"{schema}\".\""))
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string();
    assert!(tmp.starts_with("orders__strata_tmp_"), "{}", rebuild[0]);
    // The new build's files lie under the table's own name, in a folder of their own.
    let new = property(&rebuild[0], "external_location");
    assert!(
        new.starts_with(&format!("{data}/orders/")) && new != location,
        "{new}"
    );
    let calls = catalog_calls(&proxy, calls_before);
    assert_eq!(
        names(&calls),
        [
            "glue:CreateDatabase",
            "glue:GetTables",
            "glue:GetTable",
            "glue:GetTable",
            "glue:GetPartitions",
            "glue:GetPartitions",
            "glue:UpdateTable",
            "glue:BatchDeletePartition",
            "glue:BatchCreatePartition",
            "glue:DeleteTable",
            "s3:GET",
            "s3:POST",
            "s3:GET",
        ],
        "{calls:#?}"
    );
    let body = |op: &str| &calls.iter().find(|(n, _)| n == op).expect("call").1;
    assert_eq!(body("glue:UpdateTable")["TableInput"]["Name"], "orders");
    assert_eq!(
        body("glue:UpdateTable")["TableInput"]["StorageDescriptor"]["Location"],
        new.as_str()
    );
    assert_eq!(
        body("glue:BatchDeletePartition")["PartitionsToDelete"],
        json!([{"Values": ["2026-01-01"]}, {"Values": ["2026-01-02"]}])
    );
    assert_eq!(body("glue:DeleteTable")["Name"], tmp.as_str());
    // After: the table reads the new build, its partitions are the new build's, the new
    // build's own entry is gone, the old build's files are deleted and nothing else.
    assert_eq!(table_location(region, &schema, "orders"), Some(new.clone()));
    assert_eq!(
        partition_values(region, &schema, "orders"),
        ["2026-01-02", "2026-01-03"]
    );
    assert_eq!(table_location(region, &schema, &tmp), None);
    let mut objects = aws::list_objects(&aws::moto_endpoint(), &bucket, &format!("data/{schema}/"));
    objects.sort();
    let new_folder = new.trim_start_matches(&format!("s3://{bucket}/"));
    let mut expected = vec![
        format!("data/{schema}/orders/old-build-2/keep.parquet"),
        format!("{new_folder}/day=2026-01-02/part-0.parquet"),
        format!("{new_folder}/day=2026-01-03/part-0.parquet"),
    ];
    expected.sort();
    assert_eq!(objects, expected);
}

/// With an `external_location` (a folder that is every build's), a rebuild drops the old
/// table first, files and all, and builds into the same folder (dbt-athena's non-ha path).
#[test]
fn a_hive_table_at_an_external_location_is_dropped_then_built_again() {
    let region = "eu-south-2";
    let schema = unique("hivext");
    let p = TestProject::new("hive_x", "profile: hive_x\n");
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    let bucket = athena_profile(&p, "hive_x", &proxy.url, region, &schema, "");
    let folder = format!("s3://{bucket}/ext/orders");
    p.write(
        "models/orders.sql",
        &format!(
            "{{{{ config(materialized='table', table_type='hive', external_location='{folder}/', \
             format='textfile', field_delimiter='|') }}}}\nselect 1 as id\n"
        ),
    );
    hive_table(
        region,
        &schema,
        "orders",
        &[("id", "int")],
        None,
        &folder,
        &[],
    );
    p.strata_env(&["build"], AWS_ENV).assert_ok();
    let queries = proxy.started_queries();
    assert_eq!(queries.len(), 1, "{queries:#?}");
    assert_eq!(property(&queries[0], "external_location"), folder);
    assert!(
        queries[0].contains("    field_delimiter = '|',\n    format = 'TEXTFILE'\n)"),
        "{}",
        queries[0]
    );
    assert!(queries[0].starts_with(&format!("create table \"{schema}\".\"orders\"\n")));
    // The drop (files, then the Glue entry) comes before the CTAS.
    let all: Vec<String> = proxy
        .api_calls()
        .iter()
        .filter(|c| !build_state(c))
        .map(|c| {
            let op = c.operation.split(' ').next().unwrap_or_default();
            format!("{}:{op}", c.service)
        })
        .filter(|c| !c.starts_with("athena:GetQuery"))
        .collect();
    assert_eq!(
        all,
        [
            "glue:CreateDatabase",
            "glue:GetTables",
            "glue:GetTable",
            "s3:GET",
            "s3:POST",
            "s3:GET",
            "glue:DeleteTable",
            "athena:StartQueryExecution",
        ],
    );
    assert!(aws::list_objects(&aws::moto_endpoint(), &bucket, "ext/").is_empty());
}

/// An incremental project on an existing Hive table `events` (partitioned by `day`, with
/// the partitions and files of `existing`), its model writing with `strategy`.
fn incremental_project(
    name: &str,
    strategy: &str,
    existing: &[&str],
) -> (TestProject, Proxy, String, String, &'static str) {
    // Results queued for one test's queries are per region: that test has its own.
    let region = if strategy == "insert_overwrite" {
        "ap-northeast-3"
    } else {
        "eu-south-2"
    };
    let schema = unique(name);
    let p = TestProject::new(name, &format!("profile: {name}\n"));
    p.write(
        "models/events.sql",
        &format!(
            "{{{{ config(materialized='incremental', table_type='hive', \
             incremental_strategy='{strategy}', partitioned_by=['day']) }}}}\n\
             select 1 as id, '2026-01-02' as day\n"
        ),
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![hold_ctas(&schema, "events__")]);
    let bucket = athena_profile(&p, name, &proxy.url, region, &schema, "");
    let old = format!("s3://{bucket}/data/{schema}/events/old-build");
    hive_table(
        region,
        &schema,
        "events",
        &[("id", "int")],
        Some("day"),
        &old,
        existing,
    );
    (p, proxy, schema, bucket, region)
}

/// Run `strata run` with the engine thread playing the CTAS of `events__` tables.
fn run_incremental(p: &TestProject, proxy: &Proxy, region: &str, schema: &str) {
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        engine(s, proxy, region, schema, "events__", &[], &done);
        let run = p.strata_env(&["run"], AWS_ENV);
        done.store(true, Ordering::SeqCst);
        run.assert_ok();
    });
}

/// Check the new rows' temporary table of an incremental run: an unpartitioned Hive CTAS in
/// a folder of its own; returns its name and folder.
fn new_rows_table(ctas: &str, schema: &str, bucket: &str) -> (String, String) {
    let tmp = ctas
        .strip_prefix(&format!("create table \"{schema}\".\""))
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string();
    assert!(tmp.starts_with("events__strata_tmp_"), "{ctas}");
    assert!(ctas.contains("table_type = 'HIVE'"), "{ctas}");
    assert!(!ctas.contains("partitioned_by"), "{ctas}");
    let folder = property(ctas, "external_location");
    assert!(
        folder.starts_with(&format!("s3://{bucket}/data/{schema}/{tmp}/")),
        "{folder}"
    );
    (tmp, folder)
}

/// `append` on a Hive table: the new rows into a temporary Hive table, one INSERT, and the
/// temporary table dropped through Glue and S3 (its files too); the target's partitions and
/// files are untouched.
#[test]
fn a_hive_incremental_append_inserts_and_drops_its_new_rows_table_with_its_files() {
    let (p, proxy, schema, bucket, region) =
        incremental_project("hive_app", "append", &["2026-01-01", "2026-01-02"]);
    run_incremental(&p, &proxy, region, &schema);
    let queries = proxy.started_queries();
    assert_eq!(queries.len(), 2, "{queries:#?}");
    let (tmp, _) = new_rows_table(&queries[0], &schema, &bucket);
    assert_eq!(
        queries[1],
        format!(
            "insert into \"{schema}\".\"events\" (\"id\", \"day\")\nselect \"id\", \"day\" \
             from \"{schema}\".\"{tmp}\""
        ),
    );
    let calls = catalog_calls(&proxy, 0);
    assert_eq!(
        names(&calls),
        [
            "glue:CreateDatabase",
            "glue:GetTables",
            "glue:GetTable", // the new rows' columns
            "glue:GetTable", // the target's
            "glue:GetTable", // the new rows' table, to drop: its folder
            "s3:GET",
            "s3:POST",
            "s3:GET",
            "glue:DeleteTable",
        ],
        "{calls:#?}"
    );
    assert_eq!(calls[8].1["Name"], tmp.as_str());
    assert_eq!(table_location(region, &schema, &tmp), None);
    assert_eq!(
        partition_values(region, &schema, "events"),
        ["2026-01-01", "2026-01-02"]
    );
    let objects = aws::list_objects(&aws::moto_endpoint(), &bucket, &format!("data/{schema}/"));
    assert_eq!(objects.len(), 2, "{objects:#?}");
    assert!(objects.iter().all(|o| o.contains("/events/old-build/day=")));
}

/// `insert_overwrite` (dbt-athena's default on Hive): the partitions the new rows touch
/// (read with one query on their table) are deleted, files and Glue entries, through a
/// GetPartitions expression; the other partitions stay; then the INSERT.
#[test]
fn a_hive_insert_overwrite_deletes_only_the_touched_partitions_then_inserts() {
    let (p, proxy, schema, bucket, region) = incremental_project(
        "hive_ow",
        "insert_overwrite",
        &["2026-01-01", "2026-01-02", "2026-01-03"],
    );
    // The queries' results, in order: the new rows' CTAS, then their partition values.
    aws::preset_results(
        &aws::moto_endpoint(),
        region,
        vec![
            (vec![], vec![]),
            (
                vec!["day:varchar"],
                vec![vec!["2026-01-02"], vec!["2026-01-04"]],
            ),
        ],
    );
    run_incremental(&p, &proxy, region, &schema);
    let queries = proxy.started_queries();
    assert_eq!(queries.len(), 3, "{queries:#?}");
    let (tmp, _) = new_rows_table(&queries[0], &schema, &bucket);
    assert_eq!(
        queries[1],
        format!("select distinct \"day\" from \"{schema}\".\"{tmp}\"")
    );
    assert!(
        queries[2].starts_with(&format!(
            "insert into \"{schema}\".\"events\" (\"id\", \"day\")"
        )),
        "{queries:#?}"
    );
    let calls = catalog_calls(&proxy, 0);
    assert_eq!(
        names(&calls),
        [
            "glue:CreateDatabase",
            "glue:GetTables",
            "glue:GetTable",
            "glue:GetTable",
            "glue:GetPartitions", // the touched ones (one expression)
            "s3:GET",             // 2026-01-02's files
            "s3:POST",
            "s3:GET",
            "glue:BatchDeletePartition",
            "glue:GetTable", // the new rows' table, dropped
            "s3:GET",
            "s3:POST",
            "s3:GET",
            "glue:DeleteTable",
        ],
        "{calls:#?}"
    );
    assert_eq!(
        calls[4].1["Expression"],
        "(day='2026-01-02') or (day='2026-01-04')"
    );
    assert_eq!(
        calls[8].1["PartitionsToDelete"],
        json!([{"Values": ["2026-01-02"]}])
    );
    // The untouched partitions and their files stay; the INSERT (not run by moto) would
    // add 2026-01-02 and 2026-01-04 again.
    assert_eq!(
        partition_values(region, &schema, "events"),
        ["2026-01-01", "2026-01-03"]
    );
    let mut objects = aws::list_objects(&aws::moto_endpoint(), &bucket, &format!("data/{schema}/"));
    objects.sort();
    assert_eq!(
        objects,
        [
            format!("data/{schema}/events/old-build/day=2026-01-01/part-0.parquet"),
            format!("data/{schema}/events/old-build/day=2026-01-03/part-0.parquet"),
        ]
    );
}

/// A seed with `table_type: hive`: loaded with a Hive CTAS; reloaded beside the old one and
/// swapped in through Glue, the old load's files deleted.
#[test]
fn a_hive_seed_is_loaded_with_a_hive_ctas_and_reloaded_by_a_swap() {
    let region = "eu-south-2";
    let schema = unique("hiveseed");
    let p = TestProject::new(
        "hive_s",
        "profile: hive_s\nseeds:\n  hive_s:\n    +table_type: hive\n",
    );
    p.write("seeds/codes.csv", "id,day\n1,a\n2,b\n");
    let proxy = Proxy::start(
        &aws::moto_endpoint(),
        vec![hold_ctas(&schema, "codes__strata_tmp")],
    );
    let bucket = athena_profile(&p, "hive_s", &proxy.url, region, &schema, "");
    p.strata_env(&["seed"], AWS_ENV).assert_ok();
    let first = proxy.started_queries();
    assert_eq!(first.len(), 3, "{first:#?}");
    assert!(first[0].starts_with(&format!(
        "create external table `{schema}`.`codes__strata_csv_"
    )));
    assert!(
        first[1].starts_with(&format!(
            "create table \"{schema}\".\"codes\"\nwith (\n    table_type = 'HIVE',\n    \
             is_external = true,\n    external_location = 's3://{bucket}/data/{schema}/codes/"
        )),
        "{}",
        first[1]
    );
    assert!(first[2].starts_with(&format!("drop table `{schema}`.`codes__strata_csv_")));

    let old = format!("s3://{bucket}/data/{schema}/codes/old-load");
    hive_table(
        region,
        &schema,
        "codes",
        &[("id", "int"), ("day", "string")],
        None,
        &old,
        &[],
    );
    let calls_before = proxy.api_calls().len();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        engine(s, &proxy, region, &schema, "codes__strata_tmp", &[], &done);
        let run = p.strata_env(&["seed"], AWS_ENV);
        done.store(true, Ordering::SeqCst);
        run.assert_ok();
    });
    let reload = proxy.started_queries()[3..].to_vec();
    assert_eq!(reload.len(), 3, "{reload:#?}");
    let new = property(&reload[1], "external_location");
    assert!(reload[1].starts_with(&format!("create table \"{schema}\".\"codes__strata_tmp_")));
    let calls = catalog_calls(&proxy, calls_before);
    assert_eq!(
        names(&calls),
        [
            "glue:CreateDatabase",
            "glue:GetTables",
            "s3:PUT", // the seed file
            "glue:GetTable",
            "glue:GetTable",
            "glue:GetPartitions",
            "glue:GetPartitions",
            "glue:UpdateTable",
            "glue:DeleteTable",
            "s3:GET",
            "s3:POST",
            "s3:GET",
        ],
        "{calls:#?}"
    );
    assert_eq!(table_location(region, &schema, "codes"), Some(new));
    assert!(aws::list_objects(
        &aws::moto_endpoint(),
        &bucket,
        &format!("data/{schema}/codes/old-load/")
    )
    .is_empty());
}

/// What Hive tables cannot do is refused before anything runs: merge and delete+insert
/// (dbt-athena's message), snapshots, and a table type that is neither.
#[test]
fn merge_and_snapshots_on_hive_tables_are_refused() {
    let region = "eu-south-2";
    let (p, proxy, schema, _, _) = incremental_project("hive_no", "merge", &["2026-01-01"]);
    p.strata_env(&["run"], AWS_ENV)
        .assert_code(1)
        .assert_contains("Invalid incremental strategy provided: merge")
        .assert_contains("Expected one of: 'append', 'insert_overwrite', 'microbatch'");
    assert!(
        proxy.started_queries().is_empty(),
        "{:#?}",
        proxy.started_queries()
    );
    assert_eq!(partition_values(region, &schema, "events"), ["2026-01-01"]);

    p.remove("models/events.sql");
    p.write(
        "snapshots/orders_snapshot.sql",
        "{% snapshot orders_snapshot %}\n{{ config(unique_key='id', strategy='check', \
         check_cols='all', table_type='hive') }}\nselect 1 as id\n{% endsnapshot %}\n",
    );
    p.strata_env(&["snapshot"], AWS_ENV)
        .assert_code(1)
        .assert_contains("snapshots of Hive tables (table_type: hive) are not supported");
    assert!(proxy.started_queries().is_empty());

    p.remove("snapshots/orders_snapshot.sql");
    p.write(
        "models/orders.sql",
        "{{ config(materialized='table', table_type='delta') }}\nselect 1 as id\n",
    );
    p.strata_env(&["ls"], AWS_ENV)
        .assert_code(2)
        .assert_contains("config `table_type` is \"delta\": it is `iceberg`");
}

/// A model moved from Iceberg to Hive: its Iceberg table (a folder of its own per build) is
/// replaced by the Hive build's Glue entry, created anew (Glue cannot turn one into the
/// other), and the Iceberg build's files are deleted.
#[test]
fn an_iceberg_table_is_replaced_by_its_hive_rebuild() {
    let region = "eu-south-2";
    let schema = unique("hiveice");
    let p = TestProject::new("hive_i", "profile: hive_i\n");
    p.write(
        "models/orders.sql",
        "{{ config(materialized='table', table_type='hive') }}\nselect 1 as id, 'a' as day\n",
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![hold_ctas(&schema, "orders__")]);
    let bucket = athena_profile(&p, "hive_i", &proxy.url, region, &schema, "");
    let iceberg = format!("s3://{bucket}/data/{schema}/orders/iceberg-build");
    let columns = [("id", "int"), ("day", "string")];
    let parameters = json!({"table_type": "ICEBERG"});
    glue_table(
        region,
        &schema,
        "orders",
        &columns,
        (None, &[]),
        &iceberg,
        parameters,
    );
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        engine(s, &proxy, region, &schema, "orders__", &[], &done);
        let run = p.strata_env(&["build"], AWS_ENV);
        done.store(true, Ordering::SeqCst);
        run.assert_ok();
    });
    let queries = proxy.started_queries();
    assert_eq!(queries.len(), 1, "{queries:#?}");
    let new = property(&queries[0], "external_location");
    let calls = catalog_calls(&proxy, 0);
    assert_eq!(
        names(&calls),
        [
            "glue:CreateDatabase",
            "glue:GetTables",
            "glue:GetTable",
            "glue:GetTable",
            "glue:GetPartitions",
            "glue:DeleteTable",
            "glue:CreateTable",
            "glue:DeleteTable",
            "s3:GET",
            "s3:POST",
            "s3:GET",
        ],
        "{calls:#?}"
    );
    assert_eq!(calls[6].1["TableInput"]["Name"], "orders");
    let (_, table) = glue_status(
        region,
        "GetTable",
        json!({"DatabaseName": schema, "Name": "orders"}),
    );
    assert_eq!(
        table["Table"]["StorageDescriptor"]["Location"],
        new.as_str()
    );
    assert_eq!(table["Table"]["Parameters"]["table_type"], Value::Null);
    let objects = aws::list_objects(&aws::moto_endpoint(), &bucket, &format!("data/{schema}/"));
    let new_folder = new.trim_start_matches(&format!("s3://{bucket}/"));
    assert_eq!(objects, [format!("{new_folder}/part-0.parquet")]);
}

/// An Iceberg table another tool built into `<root>/<table>` (dbt-athena's `schema_table`
/// naming), rebuilt by Strata into `<root>/<table>/<uuid>` and swapped in: the old table's
/// Glue entry goes, but not its folder, which now holds the new table's files. (The test
/// plays Athena's rename, which moto does not run: the backup's Glue entry appears with the
/// old table's location when the rename is sent.)
#[test]
fn dropping_a_replaced_table_keeps_the_files_of_the_table_inside_its_folder() {
    let region = "af-south-1";
    let schema = unique("keep");
    let p = TestProject::new("keep", "profile: keep\n");
    let hold_rename = Rule {
        operation: "GetQueryExecution",
        query_marker: Some(format!("alter table `{schema}`.`orders` rename to")),
        times: 6,
        fault: Fault::QueryRunning,
    };
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![hold_rename]);
    let bucket = athena_profile(&p, "keep", &proxy.url, region, &schema, "");
    p.write(
        "models/orders.sql",
        "{{ config(materialized='table', table_type='iceberg') }}\nselect 1 as id\n",
    );
    // The table as the other tool left it, its files directly in `.../orders/`.
    let old_folder = format!("s3://{bucket}/data/{schema}/orders");
    let parameters = json!({"table_type": "ICEBERG"});
    glue_table(
        region,
        &schema,
        "orders",
        &[("id", "int")],
        (None, &[]),
        &old_folder,
        parameters.clone(),
    );
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let head = format!("alter table `{schema}`.`orders` rename to `{schema}`.`");
            let mut seen = HashSet::new();
            while !done.load(Ordering::SeqCst) {
                for q in proxy.started_queries() {
                    let Some(backup) = q.strip_prefix(&head).map(|r| r.trim_end_matches('`')) else {
                        continue;
                    };
                    if !seen.insert(backup.to_string()) {
                        continue;
                    }
                    glue(region, "CreateTable", json!({"DatabaseName": schema, "TableInput": {
                        "Name": backup, "TableType": "EXTERNAL_TABLE", "Parameters": parameters,
                        "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "int"}], "Location": old_folder}}}));
                    // The new build's files, inside the old folder.
                    put_object(&bucket, &format!("data/{schema}/orders/new-build/part-0.parquet"));
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
        p.strata_env(&["run"], AWS_ENV).assert_ok();
        done.store(true, Ordering::SeqCst);
    });
    // The backup's Glue entry is gone; the new build's file is still there.
    let calls = names(&catalog_calls(&proxy, 0)).join(" ");
    assert!(calls.contains("glue:DeleteTable"), "{calls}");
    let files = aws::list_objects(
        &aws::moto_endpoint(),
        &bucket,
        &format!("data/{schema}/orders/"),
    );
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("new-build/part-0.parquet")),
        "{files:?}"
    );
}
