//! The reference lakehouse at the repository root: it builds, its data generator is
//! deterministic, and incremental runs give exactly what a full refresh gives.

use crate::common::{copy_tree, reference_copy, TestProject};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn generate(out: &Path, days: u32) {
    let status = Command::new("python3")
        .arg(root().join("scripts/gen_landing.py"))
        .args([
            "--out",
            out.to_str().expect("utf-8 path"),
            "--days",
            &days.to_string(),
        ])
        .status()
        .expect("python3");
    assert!(status.success(), "gen_landing.py failed");
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).expect("rel").to_path_buf();
            (rel, std::fs::read(e.path()).expect("read"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_generator_is_deterministic_and_extends_day_by_day() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    generate(&a, 30);
    generate(&b, 30);
    assert_eq!(files(&a), files(&b), "same arguments, same bytes");
    generate(&c, 31);
    let thirty = files(&a);
    let thirty_one: Vec<_> = files(&c)
        .into_iter()
        .filter(|(p, _)| !p.to_string_lossy().contains("ingest_date=2026-01-31"))
        .collect();
    assert_eq!(thirty, thirty_one, "day 31 only adds files");
    // The shipped default set is what the generator makes with its defaults.
    assert_eq!(
        files(&root().join("data/landing")),
        thirty,
        "data/landing is stale: rerun scripts/gen_landing.py"
    );
}

/// 31 generated arrival days, and a landing folder that holds the first 30 of them.
pub(crate) struct Landing {
    pub(crate) all: PathBuf,
    pub(crate) partial: PathBuf,
}

const DAY_31: &str = "ingest_date=2026-01-31";

impl Landing {
    pub(crate) fn new(dir: &Path) -> Self {
        let all = dir.join("landing31");
        generate(&all, 31);
        let partial = dir.join("landing");
        copy_tree(&all, &partial, &|rel| {
            !rel.to_string_lossy().contains(DAY_31)
        });
        Landing { all, partial }
    }

    /// Day 31 arrives (with late events for day 30).
    pub(crate) fn add_day_31(&self) {
        copy_tree(&self.all, &self.partial, &|rel| {
            let r = rel.to_string_lossy();
            rel.as_os_str().is_empty() || r.contains(DAY_31) || !r.contains("ingest_date=")
        });
    }
}

#[test]
fn incremental_runs_equal_a_full_refresh() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let landing = Landing::new(tmp.path());
    let (all, partial) = (&landing.all, &landing.partial);

    let inc = reference_copy();
    let vars = format!("{{landing_path: '{}'}}", partial.display());
    inc.strata(&["build", "--vars", &vars]).assert_ok();
    let before = inc.scalar(
        "athena_analytics",
        "select count(*) from bronze_chat_events",
    );
    // Day 31 arrives (with late events for day 30); the scheduled run picks it up.
    landing.add_day_31();
    inc.strata(&["build", "--vars", &vars]).assert_ok();
    let after = inc.scalar(
        "athena_analytics",
        "select count(*) from bronze_chat_events",
    );
    assert_ne!(before, after, "day 31 must add bronze rows");

    let full = reference_copy();
    let vars_all = format!("{{landing_path: '{}'}}", all.display());
    full.strata(&["build", "--vars", &vars_all]).assert_ok();

    assert_same_tables(&inc, &full);
}

/// Every table of `a`'s database equals the same table in `b`'s (EXCEPT ALL both ways).
pub(crate) fn assert_same_tables(a: &TestProject, b: &TestProject) {
    let tables = a.query(
        "athena_analytics",
        "select table_name from information_schema.tables where table_schema = 'main' \
         and table_name not like 'strata_%' order by 1",
    );
    assert!(tables.len() >= 10, "{tables:?}");
    let conn = duckdb::Connection::open(a.db_path("athena_analytics")).expect("open");
    conn.execute_batch(&format!(
        "attach '{}' as other (read_only)",
        b.db_path("athena_analytics").display()
    ))
    .expect("attach");
    for row in &tables {
        let t = &row[0];
        let diff: i64 = conn
            .query_row(
                &format!(
                    "select (select count(*) from (select * from main.{t} except all select * from other.main.{t}))
                          + (select count(*) from (select * from other.main.{t} except all select * from main.{t}))"
                ),
                [],
                |r| r.get(0),
            )
            .expect("compare");
        let rows: i64 = conn
            .query_row(&format!("select count(*) from main.{t}"), [], |r| r.get(0))
            .expect("count");
        assert_eq!(diff, 0, "table {t}: the two builds differ in {diff} rows");
        assert!(rows > 0, "table {t} is empty");
    }
}

/// Erase two users, then the scheduled build with a new day: every table equals a full
/// refresh of all the data on a copy with the same ledger, all data tests pass, and no
/// declared table holds a row of the erased users (late events cannot bring them back).
#[test]
fn erasure_then_incremental_build_equals_a_full_refresh() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let landing = Landing::new(tmp.path());
    let (all, partial) = (&landing.all, &landing.partial);

    let inc = reference_copy();
    let vars = format!("{{landing_path: '{}'}}", partial.display());
    inc.strata(&["build", "--vars", &vars]).assert_ok();
    // Two users with events on day 30 (so day 31's late events include theirs).
    let users = inc.query(
        "athena_analytics",
        "select user_id from bronze_chat_events where partition_date = date '2026-01-30' group by 1 order by count(*) desc, 1 limit 2",
    );
    assert_eq!(users.len(), 2);
    for (i, u) in users.iter().enumerate() {
        let r = inc.strata(&[
            "rights",
            "apply",
            "--type",
            "ERASURE",
            "--guid",
            &u[0],
            "--request-id",
            &format!("erase-{i}"),
            "--vars",
            &vars,
        ]);
        r.assert_ok().assert_contains("\"code\":\"200\"");
    }
    // The full-refresh side starts from the same database, ledger included.
    let full = reference_copy();
    std::fs::create_dir_all(full.path().join("target")).expect("mkdir");
    std::fs::copy(
        inc.db_path("athena_analytics"),
        full.db_path("athena_analytics"),
    )
    .expect("copy db");

    landing.add_day_31();
    inc.strata(&["build", "--vars", &vars]).assert_ok();
    let vars_all = format!("{{landing_path: '{}'}}", all.display());
    full.strata(&["build", "--full-refresh", "--vars", &vars_all])
        .assert_ok();
    assert_same_tables(&inc, &full);

    for u in &users {
        for (table, column) in [
            ("bronze_chat_events", "user_id"),
            ("bronze_reasoning_steps", "user_id"),
            ("bronze_quarantined_events", "user_id"),
            ("silver_user_daily", "user_id"),
            ("silver_room_daily", "user_id"),
            ("silver_message_daily", "user_id"),
            ("silver_active_user_setting_daily", "user_id"),
        ] {
            let n = inc.scalar(
                "athena_analytics",
                &format!("select count(*) from {table} where {column} = '{}'", u[0]),
            );
            assert_eq!(n, "0", "{table} still holds rows of erased user {}", u[0]);
        }
    }
}

/// The checkout as shipped: tests/ is also cargo's folder and holds the golden Athena SQL,
/// which `.dbtignore` keeps out of the project. (Without it, `strata build` at the root
/// failed on two tests with one name.)
#[test]
fn the_checkout_holds_only_its_own_singular_tests() {
    let p = reference_copy();
    assert!(
        p.path().join("tests/golden/athena/compiled").is_dir(),
        "the copy must hold the golden files for this test to mean anything"
    );
    let mut expected: Vec<String> = std::fs::read_dir(root().join("tests"))
        .expect("tests/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .map(|p| format!("tests/{}", p.file_name().expect("name").to_string_lossy()))
        .collect();
    expected.sort();
    assert!(expected.len() >= 5, "{expected:?}");

    let ls = p.strata(&["ls", "--resource-type", "test", "--output", "path"]);
    ls.assert_ok();
    let mut singular: Vec<String> = ls
        .stdout
        .lines()
        .filter(|l| l.ends_with(".sql"))
        .map(str::to_string)
        .collect();
    singular.sort();
    assert_eq!(singular, expected);
    p.strata(&["compile"]).assert_ok();
}
