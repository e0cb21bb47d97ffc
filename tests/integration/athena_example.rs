//! examples/athena_shop, a dbt-athena project as teams write them (Hive by default, an
//! Iceberg merge with dbt-athena's options, an external location, Lake Formation tags and
//! grants, persist_docs), built unchanged on the `athena` target against the AWS emulator:
//! its statements and its Glue, S3, Lake Formation and STS calls are golden.

use crate::athena::{check_golden, unique, AWS_ENV};
use crate::athena_hive::hive_table;
use crate::common::aws::{self, Proxy};
use crate::common::{copy_tree, repo_root, TestProject};

#[test]
fn the_dbt_athena_example_builds_with_the_expected_statements_and_calls() {
    let region = "il-central-1";
    let schema = unique("shop");
    let bucket = schema.replace('_', "-");
    aws::create_bucket(&aws::moto_endpoint(), &bucket);
    let p = TestProject::empty();
    copy_tree(
        &repo_root().join("examples/athena_shop"),
        p.path(),
        &|rel| !rel.starts_with("target"),
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    // The example's profile, pointed at the emulator (through the recording proxy).
    let profile = p.read("profiles.yml");
    p.write(
        "profiles.yml",
        &format!(
            "{profile}      endpoint_url: {}\n      poll_interval: 0.01\n      \
             retry_base_delay: 0.01\n",
            proxy.url
        ),
    );
    let env: Vec<(&str, String)> = vec![
        ("ATHENA_REGION", region.to_string()),
        ("ATHENA_STAGING_DIR", format!("s3://{bucket}/results/")),
        ("ATHENA_DATA_DIR", format!("s3://{bucket}/data/")),
        ("ATHENA_SCHEMA", schema.clone()),
    ];
    // The Lake Formation tag the project uses, and the marts as an earlier build left them.
    let (status, body) = aws::http(
        "POST",
        &format!("{}/CreateLFTag", aws::moto_endpoint()),
        &[(
            "Authorization",
            &format!(
                "AWS4-HMAC-SHA256 Credential=test/20260101/{region}/lakeformation/aws4_request, \
                 SignedHeaders=host, Signature=0"
            ),
        )],
        serde_json::json!({"TagKey": "domain", "TagValues": ["sales"]})
            .to_string()
            .as_bytes(),
    );
    assert!(
        status == 200 || String::from_utf8_lossy(&body).contains("AlreadyExists"),
        "{status}"
    );
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        region,
        &schema,
        "customers",
        &[
            ("customer_id", "int"),
            ("name", "string"),
            ("country", "string"),
            ("orders", "bigint"),
            ("last_order_date", "date"),
        ],
    );
    hive_table(
        region,
        &schema,
        "orders_daily",
        &[("orders", "bigint"), ("amount", "double")],
        Some("order_date"),
        &format!("s3://{bucket}/data/orders_daily/earlier"),
        &["2024-01-01"],
    );
    let exports = format!("s3://{bucket}/exports/status_counts");
    hive_table(
        region,
        &schema,
        "status_counts",
        &[("status", "string"), ("orders", "bigint")],
        None,
        &exports,
        &[],
    );

    // moto answers GetResourceLFTags only for a table it has tags for (real Lake Formation
    // answers with none): the marts carry their tag from the earlier build.
    for table in ["customers", "orders_daily", "status_counts"] {
        let (status, body) = aws::http(
            "POST",
            &format!("{}/AddLFTagsToResource", aws::moto_endpoint()),
            &[(
                "Authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential=test/20260101/{region}/lakeformation/aws4_request, \
                     SignedHeaders=host, Signature=0"
                ),
            )],
            serde_json::json!({"Resource": {"Table": {"DatabaseName": schema, "Name": table}},
                "LFTags": [{"TagKey": "domain", "TagValues": ["sales"]}]})
            .to_string()
            .as_bytes(),
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }

    let vars = format!("{{status_counts_location: '{exports}/'}}");
    let mut envs: Vec<(&str, &str)> = AWS_ENV.to_vec();
    envs.extend(env.iter().map(|(k, v)| (*k, v.as_str())));
    let run = p.strata_env(&["build", "--threads", "1", "--vars", &vars], &envs);
    run.assert_ok();
    // dbt-athena's default strategy, used as dbt-athena projects do: the one warning says
    // that DuckDB's default differs.
    assert_eq!(
        run.output().matches("[WARNING]").count(),
        1,
        "{}",
        run.output()
    );
    run.assert_contains(
        "1 partitioned incremental model(s) (models/marts/orders_daily.sql) name no \
         `incremental_strategy`",
    );

    // Names that change from run to run.
    let tmp = regex::Regex::new(r"__strata_(tmp|backup|csv|stage)_[0-9a-f]{8}").expect("regex");
    let uuid = regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        .expect("regex");
    let stable = |text: &str| -> String {
        let text = tmp.replace_all(text, "__strata_${1}_<run>");
        uuid.replace_all(&text, "<uuid>")
            .replace(&schema, "<schema>")
            .replace(&bucket, "<bucket>")
    };
    let statements: String = proxy
        .started_queries()
        .iter()
        .map(|q| format!("{};\n\n", stable(q).trim_end()))
        .collect();
    check_golden("athena/athena_shop/build_statements.sql", &statements);
    // Every call but the query polls, in order: where the build goes besides SQL.
    let calls: String = proxy
        .api_calls()
        .iter()
        .filter(|c| c.operation != "GetQueryExecution" && c.operation != "GetQueryResults")
        .map(|c| {
            let operation = c.operation.split(' ').next().unwrap_or("");
            format!("{} {operation}\n", c.service)
        })
        .collect();
    check_golden("athena/athena_shop/api_calls.txt", &calls);

    // What the goldens show, said outright.
    assert!(statements.contains("table_type = 'HIVE'"), "{statements}");
    assert!(statements.contains("merge into \"<schema>\".\"customers\" as target"));
    assert!(statements.contains("when matched and (src.orders = 0) then delete"));
    assert!(statements.contains("and (target.country is not null))"));
    assert!(statements.contains("\"orders\" = src.\"orders\" + target.\"orders\""));
    assert!(statements.contains(&format!("external_location = '{}'", stable(&exports))));
    for call in [
        "lakeformation AddLFTagsToResource",
        "lakeformation CreateDataCellsFilter",
        "lakeformation BatchGrantPermissions",
        "glue UpdateTable",
        "glue DeleteTable",
    ] {
        assert!(calls.contains(call), "no {call} in\n{calls}");
    }
}
