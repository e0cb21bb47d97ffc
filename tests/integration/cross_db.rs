//! The `dbt.` cross-database macros that dbt packages call (tests/fixtures/cross_db, one
//! model per theme) against what dbt itself makes of the same project: on DuckDB every
//! table's rows and column types after `strata build`, equal to dbt-duckdb's; on Athena each
//! model's SQL from `strata compile` (moto on 127.0.0.1), equal to dbt-athena's but for
//! whitespace. tests/fixtures/cross_db/README.md says how the expected files were made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{aws, copy_tree, repo_root, TestProject};

/// Static test credentials for moto, and no instance-metadata lookups.
const AWS_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// Where Strata's Athena SQL differs from dbt-athena's on purpose: (model, dbt-athena's text,
/// Strata's text), whitespace-normalized. Strata's Athena tables are Iceberg, which takes
/// microsecond timestamps only, so `type_timestamp` is timestamp(6) (dbt-athena: timestamp).
const ATHENA_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "types",
        "'timestamp' as timestamp_name",
        "'timestamp(6)' as timestamp_name",
    ),
    (
        "types",
        "as timestamp) as timestamp_value",
        "as timestamp(6)) as timestamp_value",
    ),
];

fn fixture_dir() -> PathBuf {
    repo_root().join("tests/fixtures/cross_db")
}

/// The fixture project without its expected files and recording script.
fn fixture_copy() -> TestProject {
    let p = TestProject::empty();
    copy_tree(&fixture_dir(), p.path(), &|rel| {
        let top = rel.components().next().map(|c| c.as_os_str());
        !top.is_some_and(|t| t == "expected" || t == "record_expected.sh")
    });
    p
}

/// `name.ext` files of `dir` by stem, with their text.
fn files_by_stem(dir: &Path, ext: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == ext) {
            let stem = path
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("read");
            out.insert(stem, text);
        }
    }
    out
}

/// Every table of the DuckDB file as the recording script writes it: `<table>.csv` by
/// DuckDB's COPY (rows in `order by all`), and `columns.csv` with each column's type.
fn write_tables_as_csv(db: &Path, out: &Path) {
    std::fs::create_dir_all(out).expect("mkdir");
    let conn = duckdb::Connection::open(db).expect("open duckdb");
    let mut stmt = conn
        .prepare(
            "select table_name from information_schema.tables where table_schema = 'main' \
             order by 1",
        )
        .expect("prepare");
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("tables")
        .map(|t| t.expect("table"))
        .collect();
    for t in &tables {
        let file = out.join(format!("{t}.csv"));
        conn.execute_batch(&format!(
            "copy (select * from main.{t} order by all) to '{}' (header)",
            file.display()
        ))
        .unwrap_or_else(|e| panic!("{t}: {e}"));
    }
    conn.execute_batch(&format!(
        "copy (select table_name, column_name, data_type from information_schema.columns \
         where table_schema = 'main' order by table_name, ordinal_position) to '{}' (header)",
        out.join("columns.csv").display()
    ))
    .expect("columns");
}

#[test]
fn duckdb_tables_match_dbt_duckdb() {
    let p = fixture_copy();
    p.strata(&["build"]).assert_ok();
    let actual_dir = p.path().join("actual");
    write_tables_as_csv(&p.path().join("cross_db.duckdb"), &actual_dir);
    let actual = files_by_stem(&actual_dir, "csv");
    let expected = files_by_stem(&fixture_dir().join("expected/duckdb"), "csv");
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the tables Strata built differ from dbt's"
    );
    let differing: Vec<String> = expected
        .iter()
        .filter(|(name, text)| actual.get(*name) != Some(*text))
        .map(|(name, text)| format!("{name}.csv\n  dbt:\n{text}  strata:\n{}", actual[name]))
        .collect();
    assert!(
        differing.is_empty(),
        "{} of {} files differ from dbt-duckdb's:\n{}",
        differing.len(),
        expected.len(),
        differing.join("\n")
    );
}

/// Whitespace runs as one space, none inside brackets or before commas.
fn normalize(sql: &str) -> String {
    let spaced = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let open = regex::Regex::new(r"([(\[]) ").expect("regex");
    let close = regex::Regex::new(r" ([)\],])").expect("regex");
    let spaced = open.replace_all(&spaced, "$1");
    close.replace_all(&spaced, "$1").into_owned()
}

/// Strata's Athena target against moto, in a bucket of its own.
fn athena_profile(p: &TestProject) {
    let endpoint = aws::moto_endpoint();
    let bucket = format!("cross-db-{}", uuid::Uuid::new_v4().simple());
    aws::create_bucket(&endpoint, &bucket);
    p.write(
        "profiles.yml",
        &format!(
            "cross_db:\n  target: athena\n  outputs:\n    athena:\n      type: athena\n      \
             region_name: us-east-1\n      endpoint_url: {endpoint}\n      \
             s3_staging_dir: s3://{bucket}/results/\n      s3_data_dir: s3://{bucket}/data/\n      \
             database: awsdatacatalog\n      schema: cross_db\n      work_group: primary\n      \
             threads: 1\n      poll_interval: 0.01\n"
        ),
    );
}

#[test]
fn athena_sql_matches_dbt_athena() {
    let p = fixture_copy();
    athena_profile(&p);
    // empty_array: compiled on its own below.
    p.strata_env(&["compile", "--exclude", "empty_array"], AWS_ENV)
        .assert_ok();
    // Strata's SQL check (sqlparser) refuses Trino's `array(integer)` type in a cast, so this
    // compile fails after writing the file; the file is compared all the same.
    p.strata_env(&["compile", "-s", "empty_array"], AWS_ENV);

    let compiled_dir = p.path().join("target/compiled/cross_db/models");
    let actual = files_by_stem(&compiled_dir, "sql");
    let mut expected = files_by_stem(&fixture_dir().join("expected/athena"), "sql");
    for (model, dbt_text, strata_text) in ATHENA_DIFFERENCES {
        let sql = expected.get_mut(*model).expect("model");
        let normalized = normalize(sql);
        assert!(
            normalized.contains(dbt_text),
            "{model}: dbt-athena's SQL no longer has {dbt_text:?}: update ATHENA_DIFFERENCES"
        );
        *sql = normalized.replace(dbt_text, strata_text);
    }

    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the models Strata compiled differ from the expected ones"
    );
    let differing: Vec<String> = expected
        .iter()
        .filter(|(name, text)| normalize(&actual[*name]) != normalize(text))
        .map(|(name, text)| {
            format!(
                "{name}.sql\n  dbt-athena: {}\n  strata:     {}",
                normalize(text),
                normalize(&actual[name])
            )
        })
        .collect();
    assert!(
        differing.is_empty(),
        "{} of {} models differ from dbt-athena's SQL:\n{}",
        differing.len(),
        expected.len(),
        differing.join("\n")
    );
}
