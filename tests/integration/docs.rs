//! `strata docs generate` and `docs serve`: catalog.json against dbt-core's, column lineage
//! against hand-checked expectations, and the site in headless Chromium (Debian's chromium,
//! driven by playwright-core: scripts/chromium.sh installs both; docs_site.cjs is the driver).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use serde_json::Value;

use crate::common::{copy_tree, reference_copy, repo_root, TestProject};
use crate::reference_project::Landing;

/// The reference project built on generated landing data, with its docs generated.
fn reference_with_docs() -> (TestProject, tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let landing = Landing::new(tmp.path());
    let vars = format!("{{landing_path: '{}'}}", landing.partial.display());
    let p = reference_copy();
    p.strata(&["build", "--vars", &vars]).assert_ok();
    p.strata(&["docs", "generate", "--static", "--vars", &vars])
        .assert_ok()
        .assert_contains("Catalog written to")
        .assert_contains("Site written to");
    (p, tmp, vars)
}

fn json(p: &TestProject, rel: &str) -> Value {
    serde_json::from_str(&p.read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// catalog.json of jaffle_shop has, for every node and source, the relation type and the
/// columns (names, types, order) `dbt docs generate` wrote with dbt-core 1.12.6 and
/// dbt-duckdb (tests/fixtures/dbt_catalog/record.sh).
#[test]
fn the_catalog_of_jaffle_shop_matches_dbt_docs_generate() {
    let p = TestProject::empty();
    copy_tree(
        &repo_root().join("examples/jaffle_shop"),
        p.path(),
        &|rel| !rel.starts_with("target") && rel.extension().is_none_or(|e| e != "duckdb"),
    );
    p.strata(&["build"]).assert_ok();
    p.strata(&["docs", "generate"]).assert_ok();
    let catalog = json(&p, "target/catalog.json");
    assert_eq!(
        catalog["metadata"]["dbt_schema_version"],
        "https://schemas.getdbt.com/dbt/catalog/v1.json"
    );
    let mut got = serde_json::Map::new();
    for kind in ["nodes", "sources"] {
        for (id, entry) in catalog[kind].as_object().expect(kind) {
            let m = &entry["metadata"];
            let columns: Vec<Value> = entry["columns"]
                .as_object()
                .expect("columns")
                .values()
                .map(|c| serde_json::json!([c["name"], c["type"], c["index"]]))
                .collect();
            got.insert(
                id.clone(),
                serde_json::json!({"type": m["type"], "schema": m["schema"], "name": m["name"],
                                   "database": m["database"], "columns": columns}),
            );
        }
    }
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/fixtures/dbt_catalog/jaffle_shop.json"))
            .expect("expected catalog"),
    )
    .expect("json");
    assert_eq!(Value::Object(got), expected);
}

/// `--empty-catalog` asks the warehouse nothing and lists nothing.
#[test]
fn an_empty_catalog_lists_nothing() {
    let p = TestProject::new("docs_empty", "");
    p.write("models/m.sql", "select 1 as id\n");
    p.strata(&["build"]).assert_ok();
    p.strata(&["docs", "generate", "--empty-catalog", "--no-compile"])
        .assert_ok();
    let catalog = json(&p, "target/catalog.json");
    assert_eq!(catalog["nodes"], serde_json::json!({}));
    // The site still lists the model, without types.
    assert!(p.read("target/docs/index.js").contains("\"name\":\"m\""));
}

/// Each gold column's origins, by the node's name and the column.
fn origins(lineage: &Value, model: &str) -> BTreeMap<String, Vec<String>> {
    let id = format!("model.athena_analytics.{model}");
    lineage["nodes"][&id]["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("{id} has no lineage"))
        .iter()
        .map(|c| {
            let from = c["from"]
                .as_array()
                .expect("from")
                .iter()
                .map(|f| match f["unknown"].as_str() {
                    Some(why) => format!("unknown: {why}"),
                    None => format!(
                        "{}.{}",
                        f["node"]
                            .as_str()
                            .unwrap_or("")
                            .rsplit('.')
                            .next()
                            .unwrap_or(""),
                        f["column"].as_str().unwrap_or("")
                    ),
                })
                .collect();
            (c["name"].as_str().unwrap_or("").to_string(), from)
        })
        .collect()
}

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The reference project's gold columns come from the silver columns a reader of the SQL
/// finds (checked by hand against models/gold/*.sql).
#[test]
fn column_lineage_of_the_reference_gold_models() {
    let (p, _landing, vars) = reference_with_docs();
    let lineage = json(&p, "target/column_lineage.json");
    assert_eq!(lineage["version"], 1);

    let series = origins(&lineage, "gold_time_series");
    assert_eq!(
        series["total_messages"],
        list(&["silver_user_daily.message_count"])
    );
    assert_eq!(
        series["unique_chats"],
        list(&["silver_user_daily.chat_count"])
    );
    // count(*): a row count, from no column.
    assert_eq!(series["active_users"], Vec::<String>::new());
    // A running sum of new users ordered by day: the day is what it reads.
    assert_eq!(series["total_users"], list(&["silver_user_daily.date_col"]));

    let tools = origins(&lineage, "gold_tool_call_breakdown");
    // Through a LATERAL unnest of the tool_usage map.
    assert_eq!(tools["tool_name"], list(&["silver_user_daily.tool_usage"]));
    assert_eq!(tools["call_count"], list(&["silver_user_daily.tool_usage"]));
    assert_eq!(
        tools["tool_category"],
        list(&["tool_catalog.tool_category"])
    );
    assert_eq!(tools["user_count"], list(&["silver_user_daily.user_id"]));

    let active = origins(&lineage, "gold_active_user_breakdown");
    assert_eq!(active["date_col"], list(&["silver_user_daily.date_col"]));
    assert_eq!(active["mau"], list(&["silver_user_daily.user_id"]));

    let silver = origins(&lineage, "silver_user_daily");
    assert_eq!(silver["user_id"], list(&["bronze_chat_events.user_id"]));
    assert_eq!(
        silver["date_col"],
        list(&["bronze_chat_events.partition_date"])
    );

    // The same on the command line, one column or all of a model's.
    p.strata(&[
        "lineage",
        "gold_time_series.total_messages",
        "--vars",
        &vars,
    ])
    .assert_ok()
    .assert_contains("gold_time_series.total_messages <- silver_user_daily.message_count");
    let all = p.strata(&[
        "lineage",
        "gold_time_series",
        "--output",
        "json",
        "--vars",
        &vars,
    ]);
    all.assert_ok();
    let lines: Vec<Value> = all
        .stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), series.len());
    p.strata(&["lineage", "gold_time_series.nope", "--vars", &vars])
        .assert_code(2)
        .assert_contains("has no column 'nope'");
    p.strata(&["lineage", "stg_landing_chat_events", "--vars", &vars])
        .assert_code(2)
        .assert_contains("stg_landing_chat_events is ephemeral")
        .assert_contains("bronze_chat_events");

    // The landing is read by a table function: its columns are not known, and it says so.
    let bronze = origins(&lineage, "bronze_chat_events");
    assert!(
        bronze["event_id"]
            .iter()
            .all(|o| o.starts_with("unknown: ")),
        "{bronze:#?}"
    );
}

/// What docs_site.cjs saw of the site `spec` names; it asserts the page had no console
/// error and no failed request.
fn open_site(node_path: &str, spec: &Value) -> Value {
    let out = std::process::Command::new("node")
        .arg(repo_root().join("tests/integration/docs_site.cjs"))
        .arg(spec.to_string())
        .env("STRATA_TEST_NODE_PATH", node_path)
        .output()
        .expect("node");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let seen: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("driver output: {e}\n{stderr}"));
    assert_eq!(seen["errors"], serde_json::json!([]), "{spec}\n{stderr}");
    seen
}

/// The site of the reference project in headless Chromium, from file:// with no server:
/// no console error or failed request, every model in the lineage drawing, a click opens a
/// model's page with the columns and types DuckDB reports and their origins, the search
/// finds a column, the selector box draws a selection. Writes a screenshot of the lineage.
#[test]
fn the_reference_site_works_in_headless_chromium() {
    let node_path = std::env::var("STRATA_TEST_NODE_PATH").unwrap_or_else(|_| {
        panic!("STRATA_TEST_NODE_PATH is not set: run scripts/test.sh, or `eval \"$(scripts/chromium.sh)\"` first")
    });
    let (p, _landing, _) = reference_with_docs();
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("docs-lineage.png");
    let _ = std::fs::remove_file(&screenshot);
    let spec = serde_json::json!({
        "url": format!("file://{}", p.path().join("target/index.html").display()),
        "open": "gold_time_series",
        "search": "message_count",
        "select": "+gold_time_series",
        "screenshot": screenshot,
    });
    let seen = open_site(&node_path, &spec);

    // Every model of the project is drawn, by name.
    let manifest = json(&p, "target/manifest.json");
    let drawn: Vec<&str> = seen["drawn"]
        .as_array()
        .expect("drawn")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let models: Vec<&str> = manifest["nodes"]
        .as_object()
        .expect("nodes")
        .values()
        .filter(|n| n["resource_type"] == "model")
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert!(models.len() >= 10, "{models:?}");
    for m in &models {
        assert!(
            drawn.contains(m),
            "{m} is not in the lineage drawing: {drawn:?}"
        );
    }

    // The model's page: its columns with DuckDB's types, in order, and their origins.
    assert_eq!(seen["title"], "gold_time_series");
    let columns: Vec<(String, String, String)> = seen["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|row| {
            let cell = |i: usize| row[i].as_str().unwrap_or("").trim().to_string();
            (cell(0), cell(1), cell(4))
        })
        .collect();
    let duckdb = p.query(
        "athena_analytics",
        "select column_name, data_type from information_schema.columns \
         where table_name = 'gold_time_series' order by ordinal_position",
    );
    let typed: Vec<(String, String)> = columns
        .iter()
        .map(|(n, t, _)| (n.clone(), t.clone()))
        .collect();
    let expected: Vec<(String, String)> = duckdb
        .iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    assert_eq!(typed, expected);
    let total = columns
        .iter()
        .find(|(n, _, _)| n == "total_messages")
        .expect("total_messages");
    assert_eq!(total.2, "silver_user_daily.message_count");

    // The search finds a column by name.
    let hits: Vec<&str> = seen["search"]
        .as_array()
        .expect("search")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        hits.iter()
            .any(|h| h.starts_with("column message_count of silver_user_daily")),
        "{hits:?}"
    );

    // The selector box: the model and everything upstream, nothing beside it.
    let selected: Vec<&str> = seen["selected"]
        .as_array()
        .expect("selected")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for name in [
        "gold_time_series",
        "silver_user_daily",
        "bronze_chat_events",
    ] {
        assert!(selected.contains(&name), "{name} not in {selected:?}");
    }
    assert!(
        !selected.contains(&"gold_tool_call_breakdown"),
        "{selected:?}"
    );

    // --static: the same site in one file, a node's page with no file to load.
    let spec = serde_json::json!({
        "url": format!("file://{}", p.path().join("target/static_index.html").display()),
        "hash": "#!/node/model.athena_analytics.gold_time_series",
        "wait": "#columns tr td",
    });
    let one_file = open_site(&node_path, &spec);
    assert!(
        one_file["drawn"]
            .as_array()
            .is_some_and(|d| d.iter().any(|n| n == "silver_user_daily")),
        "{one_file}"
    );

    let png = std::fs::metadata(&screenshot).expect("a screenshot");
    assert!(png.len() > 10_000, "{} bytes", png.len());
    println!(
        "lineage screenshot: {} (drawn in {} ms)",
        screenshot.display(),
        seen["ms"]
    );
}

/// `docs serve` serves the target folder on 127.0.0.1, and nothing outside it.
#[test]
fn docs_serve_serves_the_target_folder_only() {
    let p = TestProject::new("docs_serve", "");
    p.write("models/m.sql", "select 1 as id\n");
    p.strata(&["build"]).assert_ok();
    // Nothing to serve before `docs generate`: said so, nothing listens.
    p.strata(&["docs", "serve", "--no-browser"])
        .assert_code(2)
        .assert_contains("run `strata docs generate` first");
    p.strata(&["docs", "generate"]).assert_ok();
    let mut child = p
        .command(&["docs", "serve", "--port", "0", "--no-browser"], &[])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("docs serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("docs serve printed no address")
            .expect("line");
        if let Some(at) = line.find("http://") {
            break line[at..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        }
    };
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    let get = |path: &str| -> (String, String) {
        let mut s = std::net::TcpStream::connect(&address).expect("connect");
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        let status = text.lines().next().unwrap_or("").to_string();
        (status, text)
    };
    let (status, page) = get("/");
    assert!(status.contains("200"), "{status}");
    assert!(page.contains("<title>docs_serve</title>"), "{page}");
    let (status, index) = get("/docs/index.js");
    assert!(
        status.contains("200") && index.contains("STRATA_DOCS"),
        "{status}"
    );
    let (status, _) = get("/../profiles.yml");
    assert!(status.contains("404"), "{status}");
    let (status, _) = get("/docs/%2e%2e/%2e%2e/models/m.sql");
    assert!(status.contains("404"), "{status}");
    let _ = child.kill();
    let _ = child.wait();
}

/// On Athena the catalog comes from Glue: columns with Glue's types and comments, a Hive
/// table's partition keys last, the table's description and owner, and its format and
/// Iceberg properties as stats. `--no-compile` sends no query.
#[test]
fn the_athena_catalog_comes_from_glue() {
    use crate::athena::{athena_profile, unique, AWS_ENV};
    use crate::common::aws;
    let endpoint = aws::moto_endpoint();
    let region = "ap-south-2";
    let raw = unique("raw");
    // The database first (glue_iceberg_table makes it), then the table described in full.
    aws::glue_iceberg_table(&endpoint, region, &raw, "placeholder", &[("x", "int")]);
    aws::aws_json(
        &endpoint,
        region,
        "glue",
        "AWSGlue.CreateTable",
        &serde_json::json!({"DatabaseName": raw, "TableInput": {
            "Name": "events",
            "Description": "Raw events",
            "Owner": "ingest",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"table_type": "ICEBERG",
                           "metadata_location": "s3://lake/raw/events/metadata/00001.metadata.json",
                           "write.format.default": "parquet"},
            "StorageDescriptor": {"Columns": [
                {"Name": "id", "Type": "bigint", "Comment": "event id"},
                {"Name": "payload", "Type": "string"}],
                "Location": "s3://lake/raw/events"},
            "PartitionKeys": [{"Name": "day", "Type": "date"}],
        }}),
    );
    let p = TestProject::new("athena_docs", "profile: athena_docs\n");
    p.write(
        "models/sources.yml",
        &format!("version: 2\nsources:\n  - name: raw\n    schema: {raw}\n    tables:\n      - name: events\n"),
    );
    p.write(
        "models/m.sql",
        "select id from {{ source('raw', 'events') }}\n",
    );
    let proxy = aws::Proxy::start(&endpoint, vec![]);
    athena_profile(&p, "athena_docs", &proxy.url, region, &unique("docs"), "");
    p.strata_env(&["docs", "generate", "--no-compile"], AWS_ENV)
        .assert_ok();
    assert_eq!(proxy.started_queries(), Vec::<String>::new());
    let catalog = json(&p, "target/catalog.json");
    let events = &catalog["sources"]["source.athena_docs.raw.events"];
    assert_eq!(events["metadata"]["type"], "BASE TABLE");
    assert_eq!(events["metadata"]["comment"], "Raw events");
    assert_eq!(events["metadata"]["owner"], "ingest");
    let columns: Vec<(String, String, u64)> = events["columns"]
        .as_object()
        .expect("columns")
        .values()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_string(),
                c["type"].as_str().unwrap_or("").to_string(),
                c["index"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        columns,
        [
            ("id".to_string(), "bigint".to_string(), 1),
            ("payload".to_string(), "string".to_string(), 2),
            ("day".to_string(), "date".to_string(), 3),
        ]
    );
    assert_eq!(events["columns"]["id"]["comment"], "event id");
    let stats = &events["stats"];
    assert_eq!(stats["table_type"]["value"], "ICEBERG");
    assert_eq!(stats["partition_keys"]["value"], "day");
    assert_eq!(stats["write.format.default"]["value"], "parquet");
    assert_eq!(stats["has_stats"]["value"], true);
}
