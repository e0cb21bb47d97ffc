//! `persist_docs` on DuckDB against what dbt-core + dbt-duckdb write for the same project
//! (tests/fixtures/persist_docs, recorded by its record.sh): table, view, column comments,
//! the relation docs switched off for one model, a documented column the table lacks.

use crate::common::{copy_tree, repo_root, TestProject};

fn fixture() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/persist_docs")
}

/// The result of `query` as DuckDB's COPY writes it.
fn copy_csv(db: &std::path::Path, query: &str, out: &std::path::Path) -> String {
    let conn = duckdb::Connection::open(db).expect("open duckdb");
    conn.execute_batch(&format!("copy ({query}) to '{}' (header)", out.display()))
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    std::fs::read_to_string(out).expect("csv")
}

#[test]
fn comments_are_the_ones_dbt_duckdb_writes() {
    let p = TestProject::empty();
    copy_tree(&fixture(), p.path(), &|rel| {
        rel.components()
            .next()
            .is_none_or(|c| c.as_os_str() != "expected")
    });
    p.strata(&["build", "--profiles-dir", "."]).assert_ok();
    // The second build finds every relation, as a scheduled run does (and builds each
    // again, as dbt does: nothing reused).
    let run = p.strata(&["build", "--profiles-dir", ".", "--no-reuse"]);
    run.assert_ok();
    let warning = std::fs::read_to_string(fixture().join("expected/build.log")).expect("log");
    assert!(
        run.output().contains(warning.trim()),
        "{}\nlacks: {warning}",
        run.output()
    );

    let db = p.path().join("persist_docs.duckdb");
    let out = tempfile::tempdir().expect("tempdir");
    let relations = copy_csv(
        &db,
        "select table_name as name, comment from duckdb_tables() where schema_name = 'main' \
         and database_name = 'persist_docs' union all select view_name, comment from \
         duckdb_views() where schema_name = 'main' and database_name = 'persist_docs' and \
         not internal order by all",
        &out.path().join("relations.csv"),
    );
    let columns = copy_csv(
        &db,
        "select table_name as \"table\", column_name as \"column\", comment from \
         duckdb_columns() where schema_name = 'main' and database_name = 'persist_docs' and \
         not internal order by all",
        &out.path().join("columns.csv"),
    );
    let expected = |name: &str| {
        std::fs::read_to_string(fixture().join("expected").join(name)).expect("expected")
    };
    assert_eq!(relations, expected("relations.csv"));
    assert_eq!(columns, expected("columns.csv"));
}
