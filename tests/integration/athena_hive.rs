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
    aws::aws_json(
        &aws::moto_endpoint(),
        region,
        "glue",
        &format!("AWSGlue.{operation}"),
        &body,
    )
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
fn hive_table(
    region: &str,
    schema: &str,
    table: &str,
    columns: &[(&str, &str)],
    partition_key: Option<&str>,
    location: &str,
    partitions: &[&str],
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
            "Parameters": {"EXTERNAL": "TRUE", "classification": "parquet"},
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
fn catalog_calls(proxy: &Proxy, from: usize) -> Vec<(String, Value)> {
    proxy.api_calls()[from..]
        .iter()
        .filter(|c| c.service != "athena")
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
    let region = "eu-west-3";
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
    let region = "eu-west-3";
    let schema = unique("hivext");
    let p = TestProject::new("hive_x", "profile: hive_x\n");
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    let bucket = athena_profile(&p, "hive_x", &proxy.url, region, &schema, "");
    let folder = format!("s3://{bucket}/ext/orders");
    p.write(
        "models/orders.sql",
        &format!(
            "{{{{ config(materialized='table', table_type='hive', external_location='{folder}/') }}}}\n\
             select 1 as id\n"
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
    assert!(queries[0].starts_with(&format!("create table \"{schema}\".\"orders\"\n")));
    // The drop (files, then the Glue entry) comes before the CTAS.
    let all: Vec<String> = proxy
        .api_calls()
        .iter()
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
