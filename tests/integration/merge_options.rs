//! The keys that shape an incremental merge, on DuckDB against what dbt-core + dbt-duckdb
//! give for the same project (tests/fixtures/merge_options, recorded by its record.sh):
//! `merge_update_columns`, `merge_exclude_columns`, `merge_update_condition`,
//! `merge_insert_condition`, `merge_update_set_expressions` and `incremental_predicates`
//! (merge and delete+insert).

use crate::common::{copy_tree, repo_root, TestProject};

fn fixture() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/merge_options")
}

/// Each model's rows as DuckDB's COPY writes them, sorted by all columns.
fn table_csv(db: &std::path::Path, name: &str, out: &std::path::Path) -> String {
    let conn = duckdb::Connection::open(db).expect("open duckdb");
    let file = out.join(format!("{name}.csv"));
    conn.execute_batch(&format!(
        "copy (select * from main.\"{name}\" order by all) to '{}' (header)",
        file.display()
    ))
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    std::fs::read_to_string(&file).expect("csv")
}

#[test]
fn merge_keys_give_the_rows_dbt_duckdb_gives() {
    let p = TestProject::empty();
    copy_tree(&fixture(), p.path(), &|rel| {
        let top = rel.components().next().map(|c| c.as_os_str());
        !top.is_some_and(|t| t == "expected" || t == "changes")
    });
    p.strata(&["build", "--profiles-dir", "."]).assert_ok();
    std::fs::copy(
        fixture().join("changes/orders.csv"),
        p.path().join("seeds/orders.csv"),
    )
    .expect("copy the changed seed");
    p.strata(&["seed", "--profiles-dir", "."]).assert_ok();
    let run = p.strata(&["run", "--profiles-dir", "."]);
    run.assert_ok();
    // Every key is honoured: none is warned about or refused.
    assert!(!run.output().contains("[WARNING]"), "{}", run.output());

    let out = tempfile::tempdir().expect("tempdir");
    let db = p.path().join("merge_options.duckdb");
    let mut differ = Vec::new();
    for entry in std::fs::read_dir(fixture().join("expected")).expect("expected/") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_string();
        let expected = std::fs::read_to_string(&path).expect("expected csv");
        let actual = table_csv(&db, &name, out.path());
        if expected != actual {
            differ.push(format!("{name}:\n-- dbt\n{expected}-- strata\n{actual}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

/// A merge cannot both name the columns to update and the ones not to (dbt's words); a
/// column to update that the table lacks is named.
#[test]
fn merge_update_columns_are_checked() {
    let p = TestProject::empty();
    copy_tree(&fixture(), p.path(), &|rel| {
        let top = rel.components().next().map(|c| c.as_os_str());
        !top.is_some_and(|t| t == "expected" || t == "changes")
    });
    p.strata(&["build", "--profiles-dir", "."]).assert_ok();
    p.write(
        "models/update_columns.sql",
        "{{ config(merge_update_columns=['status'], merge_exclude_columns=['note']) }}\n\
         select * from {{ ref('orders') }}\n",
    );
    p.strata(&["run", "--profiles-dir", ".", "--select", "update_columns"])
        .assert_code(1)
        .assert_contains("Model cannot specify merge_update_columns and merge_exclude_columns");
    p.write(
        "models/update_columns.sql",
        "{{ config(merge_update_columns=['state']) }}\nselect * from {{ ref('orders') }}\n",
    );
    p.strata(&["run", "--profiles-dir", ".", "--select", "update_columns"])
        .assert_code(1)
        .assert_contains("merge_update_columns names 'state', which is not a column");
}
