//! State-aware builds on Athena (src/execute/reuse.rs): a relation's data version is its
//! Iceberg `metadata_location` in Glue, which every commit replaces, and the build state is
//! a JSON object in S3. moto runs no SQL: the proxy plays what Athena's statements do to the
//! Glue catalog (`Proxy::with_catalog_effects`), and the test commits new snapshots to the
//! source tables through Glue, as another engine writing them would.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::athena::{athena_profile, check_golden, normalize, unique, AWS_ENV};
use crate::common::aws::{self, Proxy};
use crate::common::TestProject;

const REGION: &str = "eu-north-1";

/// A commit to `db.table` by another engine: a new Iceberg metadata file.
fn commit(db: &str, table: &str, n: u32) {
    let endpoint = aws::moto_endpoint();
    let got = aws::aws_json(
        &endpoint,
        REGION,
        "glue",
        "AWSGlue.GetTable",
        &json!({"DatabaseName": db, "Name": table}),
    );
    let mut input = aws::table_input(&got["Table"]);
    input["Parameters"]["metadata_location"] = json!(format!(
        "s3://lake/{db}/{table}/metadata/{n:05}-outside.metadata.json"
    ));
    aws::aws_json(
        &endpoint,
        REGION,
        "glue",
        "AWSGlue.UpdateTable",
        &json!({"DatabaseName": db, "TableInput": input}),
    );
}

/// Each node's status in the last run's run_results.json.
fn statuses(p: &TestProject) -> BTreeMap<String, String> {
    let results: Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("run_results.json");
    results["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let id = r["unique_id"].as_str().unwrap_or("");
            let name = id.split('.').next_back().unwrap_or(id);
            let name = if id.starts_with("test.") {
                "test".to_string()
            } else {
                name.to_string()
            };
            (name, r["status"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

fn expect(p: &TestProject, pairs: &[(&str, &str)]) {
    let want: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(statuses(p), want);
}

#[test]
fn athena_reuses_iceberg_tables_until_their_snapshots_change() {
    let endpoint = aws::moto_endpoint();
    let raw = unique("raw");
    for table in ["events", "customers"] {
        aws::glue_iceberg_table(&endpoint, REGION, &raw, table, &[("id", "int")]);
        commit(&raw, table, 1);
    }
    let p = TestProject::new("athena_reuse", "profile: athena_reuse\n");
    p.write(
        "models/sources.yml",
        &format!(
            "version: 2\nsources:\n  - name: raw\n    schema: {raw}\n    tables:\n      - name: events\n      - name: customers\n"
        ),
    );
    p.write("seeds/countries.csv", "code,name\nSE,Sweden\n");
    p.write(
        "models/stg_events.sql",
        "select id from {{ source('raw', 'events') }}\n",
    );
    p.write(
        "models/events_daily.sql",
        "{{ config(materialized='table') }}\nselect count(*) as n from {{ ref('stg_events') }}\n",
    );
    p.write(
        "models/customer_list.sql",
        "{{ config(materialized='table') }}\nselect id from {{ source('raw', 'customers') }}\n",
    );
    p.write(
        "models/report.sql",
        "{{ config(materialized='table') }}\nselect e.n, c.name from {{ ref('events_daily') }} as e \
         cross join {{ ref('countries') }} as c\n",
    );
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: report\n    columns:\n      - name: n\n        tests: [not_null]\n",
    );
    let proxy = Proxy::start(&endpoint, vec![]).with_catalog_effects();
    let schema = unique("reuse");
    let bucket = athena_profile(&p, "athena_reuse", &proxy.url, REGION, &schema, "");
    let build = |args: &[&str]| {
        let before = proxy.started_queries().len();
        let calls_before = proxy.api_calls().len();
        let mut all = vec!["build", "--threads", "1"];
        all.extend_from_slice(args);
        p.strata_env(&all, AWS_ENV).assert_ok();
        let statements: Vec<String> = proxy.started_queries()[before..].to_vec();
        let calls: Vec<String> = proxy.api_calls()[calls_before..]
            .iter()
            .map(|c| format!("{} {}", c.service, c.operation))
            .collect();
        (statements, calls)
    };
    let golden = |statements: &[String]| -> String {
        normalize(
            &statements
                .iter()
                .map(|s| format!("{};\n\n", s.trim_end()))
                .collect::<String>(),
        )
        .replace(&bucket, "<bucket>")
        .replace(&schema, "<schema>")
        .replace(&raw, "<raw>")
    };

    // A first build builds everything and records it in S3, next to the data.
    let (first, _) = build(&[]);
    expect(
        &p,
        &[
            ("countries", "success"),
            ("stg_events", "success"),
            ("events_daily", "success"),
            ("customer_list", "success"),
            ("report", "success"),
            ("test", "pass"),
        ],
    );
    let state = aws::list_objects(&endpoint, &bucket, "data/strata_state/");
    assert_eq!(
        state,
        vec![format!("data/strata_state/{schema}/build_state.json")]
    );

    // Nothing changed: nothing is sent to Athena. The state is read from S3 and the
    // versions from Glue (one GetTables listing per schema, one GetObject).
    let (second, calls) = build(&[]);
    expect(
        &p,
        &[
            ("countries", "reused"),
            ("stg_events", "reused"),
            ("events_daily", "reused"),
            ("customer_list", "reused"),
            ("report", "reused"),
            ("test", "reused"),
        ],
    );
    assert!(second.is_empty(), "{second:#?}");
    let reads: Vec<&String> = calls
        .iter()
        .filter(|c| !c.starts_with("athena") && !c.starts_with("sts"))
        .collect();
    let reads: String = reads.iter().map(|c| format!("{c}\n")).collect();
    check_golden(
        "athena/reuse_nothing_changed_calls.txt",
        &reads
            .replace(&bucket, "<bucket>")
            .replace(&schema, "<schema>"),
    );

    // A new snapshot of one source: only what reads it is rebuilt.
    commit(&raw, "customers", 2);
    let (third, _) = build(&[]);
    expect(
        &p,
        &[
            ("countries", "reused"),
            ("stg_events", "reused"),
            ("events_daily", "reused"),
            ("customer_list", "success"),
            ("report", "reused"),
            ("test", "reused"),
        ],
    );
    check_golden("athena/reuse_after_one_snapshot.sql", &golden(&third));
    println!(
        "statements sent: first build {}, nothing changed {}, one source's new snapshot {}",
        first.len(),
        second.len(),
        third.len()
    );
    assert!(third.len() < first.len() / 2, "{third:#?}");

    // A write to a built table from outside Strata: it is built again (undoing the write),
    // and what reads it after it.
    commit(&schema, "events_daily", 3);
    build(&[]);
    expect(
        &p,
        &[
            ("countries", "reused"),
            ("stg_events", "reused"),
            ("events_daily", "success"),
            ("customer_list", "reused"),
            ("report", "success"),
            ("test", "pass"),
        ],
    );

    // --no-reuse rebuilds everything, and what it built is reused after it.
    build(&["--no-reuse"]);
    expect(
        &p,
        &[
            ("countries", "success"),
            ("stg_events", "success"),
            ("events_daily", "success"),
            ("customer_list", "success"),
            ("report", "success"),
            ("test", "pass"),
        ],
    );
    let (after, _) = build(&[]);
    assert!(after.is_empty(), "{after:#?}");
}
