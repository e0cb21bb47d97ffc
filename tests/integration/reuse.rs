//! State-aware builds (src/execute/reuse.rs): what is reused equals what a rebuild gives.
//! Two copies of the reference project take the same chain of changes and scheduled runs,
//! one with reuse and one with `--no-reuse`; after each step every table is compared. Where
//! a step changes only data (nothing, a new landing day), the reused build is also compared
//! with a fresh full build. (After a change of an incremental model's logic, neither run
//! equals a full refresh: that takes `--full-refresh`, with or without reuse.)

use crate::common::{reference_copy, Run, TestProject};
use crate::reference_project::{assert_same_tables, Landing};

/// How many seeds and models a run reused, from its node lines.
fn reused(run: &Run) -> usize {
    run.stdout
        .lines()
        .filter(|l| l.contains(" REUSED seed file ") || l.contains(" REUSED sql "))
        .count()
}

/// How many data tests a run reused.
fn tests_reused(run: &Run) -> usize {
    run.stdout
        .lines()
        .filter(|l| l.contains(" REUSED test "))
        .count()
}

fn append(p: &TestProject, rel: &str, text: &str) {
    let path = p.path().join(rel);
    let mut content = std::fs::read_to_string(&path).expect("read");
    content.push_str(text);
    std::fs::write(&path, content).expect("write");
}

fn replace(p: &TestProject, rel: &str, from: &str, to: &str) {
    let path = p.path().join(rel);
    let content = std::fs::read_to_string(&path).expect("read");
    assert!(content.contains(from), "{rel} has no {from:?}");
    std::fs::write(&path, content.replacen(from, to, 1)).expect("write");
}

/// The two copies, run side by side.
struct Pair {
    reusing: TestProject,
    rebuilding: TestProject,
}

impl Pair {
    fn edit(&self, change: impl Fn(&TestProject)) {
        change(&self.reusing);
        change(&self.rebuilding);
    }

    /// `args` on both copies (the rebuilding one with --no-reuse): the reusing run, and
    /// the tables compared.
    fn run(&self, args: &[&str]) -> Run {
        let mut plain = args.to_vec();
        plain.push("--no-reuse");
        let rebuilt = self.rebuilding.strata(&plain);
        rebuilt.assert_ok();
        assert_eq!(
            reused(&rebuilt) + tests_reused(&rebuilt),
            0,
            "--no-reuse reuses nothing"
        );
        let run = self.reusing.strata(args);
        run.assert_ok();
        assert_same_tables(&self.reusing, &self.rebuilding);
        run
    }
}

#[test]
fn reused_builds_equal_rebuilds_along_a_chain_of_changes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let landing = Landing::new(tmp.path());
    let vars = format!("{{landing_path: '{}'}}", landing.partial.display());
    let pair = Pair {
        reusing: reference_copy(),
        rebuilding: reference_copy(),
    };
    pair.run(&["build", "--vars", &vars]);
    // The second run compiles the incremental models' incremental SQL: they run again.
    pair.run(&["build", "--vars", &vars]);
    let mut steps = Vec::new();

    // Nothing changed: the 3 seeds and 10 incremental models are reused, tests still run.
    let same = pair.run(&["build", "--vars", &vars]);
    same.assert_contains("REUSED sql incremental model main.gold_time_series");
    assert_eq!(reused(&same), 13, "{}", same.stdout);
    // So are the 73 data tests: they passed over the same inputs.
    assert_eq!(tests_reused(&same), 73, "{}", same.stdout);
    steps.push(("nothing changed", reused(&same)));
    let full = reference_copy();
    full.strata(&["build", "--vars", &vars]).assert_ok();
    assert_same_tables(&pair.reusing, &full);

    // A new landing day: bronze and what reads it rebuild, the seeds stay.
    landing.add_day_31();
    let day = pair.run(&["build", "--vars", &vars]);
    day.assert_contains("REUSED seed file main.tool_catalog");
    assert_eq!(reused(&day), 3, "only the seeds: {}", day.stdout);
    steps.push(("a new landing day", reused(&day)));
    let vars_all = format!("{{landing_path: '{}'}}", landing.all.display());
    let full = reference_copy();
    full.strata(&["build", "--vars", &vars_all]).assert_ok();
    assert_same_tables(&pair.reusing, &full);

    // One more seed row: the seed and what reads it rebuild, the other seeds stay.
    pair.edit(|p| {
        append(
            p,
            "seeds/tool_catalog.csv",
            "zz_new_tool,utility,A tool added later\n",
        )
    });
    let seed = pair.run(&["build", "--vars", &vars]);
    seed.assert_contains("REUSED seed file main.setting_catalog")
        .assert_contains("OK loaded seed file main.tool_catalog");
    steps.push(("a changed seed row", reused(&seed)));

    // Changed model SQL: that model rebuilds, the rest is reused.
    pair.edit(|p| {
        replace(
            p,
            "models/gold/gold_time_series.sql",
            "select",
            "select /* changed */",
        )
    });
    let sql = pair.run(&["build", "--vars", &vars]);
    assert_eq!(reused(&sql), 12, "{}", sql.stdout);
    steps.push(("changed model SQL", reused(&sql)));

    // A changed var: the models whose SQL reads it rebuild.
    let var_vars = format!(
        "{{landing_path: '{}', wau_window_days: 6}}",
        landing.partial.display()
    );
    let var = pair.run(&["build", "--vars", &var_vars]);
    assert!(
        (1..13).contains(&reused(&var)),
        "some reused, not all: {}",
        var.stdout
    );
    steps.push(("a changed var", reused(&var)));

    // A changed macro: everything rebuilds (the project's macros are an input of all).
    pair.edit(|p| append(p, "macros/incremental.sql", "\n{# a comment #}\n"));
    let macro_run = pair.run(&["build", "--vars", &var_vars]);
    assert_eq!(reused(&macro_run), 0, "{}", macro_run.stdout);
    steps.push(("a changed macro", reused(&macro_run)));

    // An erased subject: the rights engine deleted rows outside any build, so what reads
    // the erased relations rebuilds (exempt aggregates included).
    let user = pair.reusing.scalar(
        "athena_analytics",
        "select user_id from bronze_chat_events group by 1 order by count(*) desc, 1 limit 1",
    );
    for p in [&pair.reusing, &pair.rebuilding] {
        p.strata(&[
            "rights",
            "apply",
            "--type",
            "ERASURE",
            "--guid",
            &user,
            "--request-id",
            "erase-1",
            "--vars",
            &var_vars,
        ])
        .assert_ok()
        .assert_contains("\"code\":\"200\"");
    }
    let erased = pair.run(&["build", "--vars", &var_vars]);
    assert_eq!(reused(&erased), 0, "{}", erased.stdout);
    assert_eq!(tests_reused(&erased), 0, "{}", erased.stdout);
    steps.push(("an erased subject", reused(&erased)));

    for (step, n) in steps {
        println!("reuse: {step}: {n} of 13 seeds and models reused");
    }
}

/// `build_after`: with new upstream data a model keeps its last build until it is due (and,
/// with `updates_on: all`, until every input has new data); `--no-reuse` builds it anyway.
#[test]
fn build_after_keeps_the_last_build_until_it_is_due() {
    let p = TestProject::new("ba", "");
    p.write("data/a.csv", "id\n1\n");
    p.write("data/b.csv", "id\n10\n");
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: a\n        config: {external_location: \"read_csv('data/a.csv')\"}\n      - name: b\n        config: {external_location: \"read_csv('data/b.csv')\"}\n",
    );
    let both = "select id from {{ source('raw', 'a') }} union all select id from {{ source('raw', 'b') }}\n";
    p.write(
        "models/plain.sql",
        &format!("{{{{ config(materialized='table') }}}}\n{both}"),
    );
    p.write(
        "models/hourly.sql",
        &format!(
            "{{{{ config(materialized='table', freshness={{'build_after': {{'count': 1, 'period': 'hour'}}}}) }}}}\n{both}"
        ),
    );
    p.write(
        "models/on_all.sql",
        &format!(
            "{{{{ config(materialized='table', build_after={{'count': 0, 'period': 'hour', 'updates_on': 'all'}}) }}}}\n{both}"
        ),
    );
    p.strata(&["build"]).assert_ok();
    let rows = |t: &str| p.scalar("ba", &format!("select count(*) from {t}"));

    p.write("data/a.csv", "id\n1\n2\n");
    let r = p.strata(&["build"]);
    r.assert_ok()
        .assert_contains("OK created sql table model main.plain")
        .assert_contains("REUSED sql table model main.hourly")
        .assert_contains("new upstream data waits until")
        .assert_contains("REUSED sql table model main.on_all")
        .assert_contains("1 of 2 inputs have new data (build_after.updates_on: all)");
    assert_eq!(
        (rows("plain"), rows("hourly"), rows("on_all")),
        ("3".into(), "2".into(), "2".into())
    );

    p.write("data/b.csv", "id\n10\n20\n");
    let r = p.strata(&["build"]);
    r.assert_ok()
        .assert_contains("OK created sql table model main.on_all")
        .assert_contains("REUSED sql table model main.hourly");
    assert_eq!((rows("on_all"), rows("hourly")), ("4".into(), "2".into()));

    p.strata(&["build", "--no-reuse"]).assert_ok();
    assert_eq!(rows("hourly"), "4");

    // A misspelt period is refused, not taken for "no delay".
    p.write(
        "models/on_all.sql",
        &format!("{{{{ config(materialized='table', build_after={{'count': 1, 'period': 'hours'}}) }}}}\n{both}"),
    );
    p.strata(&["build"])
        .assert_code(2)
        .assert_contains("build_after takes {count: <whole number>, period: minute | hour | day");
}

/// `--no-reuse` and `--full-refresh` rebuild everything and still record it: the next run
/// compares with what they built (a full refresh can change a table whose inputs did not).
#[test]
fn rebuilding_runs_record_what_they_built() {
    let p = TestProject::new("rec", "");
    p.write("seeds/s.csv", "id\n1\n2\n");
    p.write(
        "models/m.sql",
        "{{ config(materialized='table') }}\nselect count(*) as n from {{ ref('s') }}\n",
    );
    p.strata(&["build", "--no-reuse"]).assert_ok();
    let next = p.strata(&["build"]);
    next.assert_ok()
        .assert_contains("REUSED seed file main.s")
        .assert_contains("REUSED sql table model main.m");
    p.strata(&["build", "--full-refresh"]).assert_ok();
    p.strata(&["build"])
        .assert_ok()
        .assert_contains("REUSED sql table model main.m");
}

/// `ls --select reuse:stale` names what the next build runs rather than reuses, with why,
/// building nothing: after a seed row changes, exactly the nodes the build then runs.
#[test]
fn ls_reuse_stale_lists_what_the_next_build_runs_and_why() {
    let p = reference_copy();
    let tmp = tempfile::tempdir().expect("tempdir");
    let landing = Landing::new(tmp.path());
    let vars = format!("{{landing_path: '{}'}}", landing.partial.display());
    // The second build settles what the first could not record as reusable: incremental
    // models compile to their incremental SQL from then on.
    p.strata(&["build", "--vars", &vars]).assert_ok();
    // `how`: `--select reuse:stale`, or a named selector that uses it.
    let listed_by =
        |p: &TestProject, how: [&str; 2]| -> std::collections::BTreeMap<String, String> {
            let run = p.strata(&[
                "ls",
                how[0],
                how[1],
                "--output",
                "json",
                "--output-keys",
                "unique_id,stale_reason",
                "--vars",
                &vars,
            ]);
            run.assert_ok();
            run.stdout
                .lines()
                .filter(|l| l.starts_with('{'))
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).expect("json line");
                    (
                        v["unique_id"].as_str().unwrap_or("").to_string(),
                        v["stale_reason"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        };
    let stale = |p: &TestProject| listed_by(p, ["--select", "reuse:stale"]);
    assert!(stale(&p)
        .get("model.athena_analytics.bronze_chat_events")
        .is_some_and(|why| why == "its SQL, config or the project's macros changed"));
    p.strata(&["build", "--vars", &vars]).assert_ok();
    // Nothing changed since: nothing is stale.
    assert_eq!(stale(&p), Default::default());

    replace(
        &p,
        "seeds/tool_catalog.csv",
        "Web search",
        "Web search (v2)",
    );
    let listed = stale(&p);
    assert_eq!(
        listed
            .get("seed.athena_analytics.tool_catalog")
            .map(String::as_str),
        Some("its SQL, config or the project's macros changed"),
        "{listed:#?}"
    );
    assert!(
        listed
            .iter()
            .any(|(id, why)| id.starts_with("model.") && why.contains("new data in tool_catalog")),
        "{listed:#?}"
    );
    // The same through selectors.yml (a selector naming another that uses the method).
    p.write(
        "selectors.yml",
        "selectors:\n  - name: stale\n    definition: {method: reuse, value: stale}\n  \
         - name: to_rebuild\n    definition: {method: selector, value: stale}\n",
    );
    assert_eq!(listed_by(&p, ["--selector", "to_rebuild"]), listed);
    p.remove("selectors.yml");
    p.strata(&["ls", "--select", "reuse:fresh", "--vars", &vars])
        .assert_code(2)
        .assert_contains("the reuse method takes one value: stale");
    // ls built nothing: the build that follows runs exactly what ls listed.
    p.strata(&["build", "--vars", &vars]).assert_ok();
    let results: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("run_results.json");
    let ran: std::collections::BTreeSet<String> = results["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["status"] != "reused")
        .filter_map(|r| r["unique_id"].as_str().map(str::to_string))
        .collect();
    let listed: std::collections::BTreeSet<String> = listed.into_keys().collect();
    assert_eq!(listed, ran);
    assert!(listed.len() < 60, "{listed:#?}");
}

/// Every table of every schema but Strata's state in database `a` equals the same table in
/// `b` (EXCEPT ALL both ways; floating-point columns to 9 decimals, as a parallel `avg`
/// sums in no fixed order); returns how many tables were compared.
fn same_tables(a: &std::path::Path, b: &std::path::Path) -> usize {
    let conn = duckdb::Connection::open(a).expect("open");
    conn.execute_batch(&format!("attach '{}' as other (read_only)", b.display()))
        .expect("attach");
    let mut stmt = conn
        .prepare(
            "select table_schema, table_name from information_schema.tables \
             where table_catalog = current_database() and table_schema <> 'strata_state' \
             and table_type = 'BASE TABLE' order by 1, 2",
        )
        .expect("prepare");
    let tables: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    for (schema, table) in &tables {
        let t = format!("\"{schema}\".\"{table}\"");
        let mut cols = conn
            .prepare(
                "select column_name, data_type from information_schema.columns \
                 where table_catalog = current_database() and table_schema = ? \
                 and table_name = ? order by ordinal_position",
            )
            .expect("prepare");
        let columns: Vec<String> = cols
            .query_map([schema, table], |r| {
                let (name, kind): (String, String) = (r.get(0)?, r.get(1)?);
                Ok(match kind.as_str() {
                    "DOUBLE" | "FLOAT" | "REAL" => format!("round(\"{name}\", 9)"),
                    _ => format!("\"{name}\""),
                })
            })
            .expect("columns")
            .map(|r| r.expect("column"))
            .collect();
        let list = columns.join(", ");
        let diff: i64 = conn
            .query_row(
                &format!(
                    "select (select count(*) from (select {list} from {t} except all select {list} from other.{t}))
                          + (select count(*) from (select {list} from other.{t} except all select {list} from {t}))"
                ),
                [],
                |r| r.get(0),
            )
            .expect("compare");
        assert_eq!(diff, 0, "table {t}: the two builds differ in {diff} rows");
    }
    tables.len()
}

/// The chain of changes on a small instance of the benchmark project (40 models): after
/// each step the build with reuse equals the one with `--no-reuse`, table by table, and
/// reuses what it should.
#[test]
fn reused_builds_equal_rebuilds_on_the_benchmark_project() {
    let generator = crate::common::repo_root().join("tests/fixtures/bench_project/gen_project.py");
    let copies = [TestProject::empty(), TestProject::empty()];
    for p in &copies {
        let out = std::process::Command::new("python3")
            .arg(&generator)
            .args(["--models", "40", "--rows", "300", "--quiet", "--out"])
            .arg(p.path())
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let [reusing, rebuilding] = &copies;
    let db = |p: &TestProject| p.path().join("warehouse.duckdb");
    let step = |name: &str, change: &dyn Fn(&TestProject)| -> Run {
        change(reusing);
        change(rebuilding);
        rebuilding.strata(&["build", "--no-reuse"]).assert_ok();
        let run = reusing.strata(&["build"]);
        run.assert_ok();
        let compared = same_tables(&db(reusing), &db(rebuilding));
        assert!(compared >= 30, "{name}: {compared} tables compared");
        println!(
            "benchmark project, {name}: {} of 42 seeds and models reused",
            reused(&run)
        );
        run
    };
    step("first build", &|_| {});
    step("second build", &|_| {});
    let nothing = step("nothing changed", &|_| {});
    assert_eq!(reused(&nothing), 42, "{}", nothing.stdout);

    let seed = step("one seed row changed", &|p| {
        let path = p.path().join("seeds/raw_reasoning_steps.csv");
        let text = std::fs::read_to_string(&path).expect("read");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let last = lines.pop().expect("a row");
        let mut fields: Vec<String> = last.split(',').map(str::to_string).collect();
        let tokens: i64 = fields[4].parse().expect("tokens");
        fields[4] = (tokens + 1).to_string();
        lines.push(fields.join(","));
        std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    });
    let after_seed = reused(&seed);
    assert!(after_seed > 0 && after_seed < 42, "{}", seed.stdout);
    seed.assert_contains("OK loaded seed file main.raw_reasoning_steps");

    let sql = step("one model's SQL changed", &|p| {
        replace(
            p,
            "models/silver/slv_activity_0008.sql",
            "/ 2.0 as score",
            "/ 4.0 as score",
        );
    });
    assert!(reused(&sql) >= 30, "{}", sql.stdout);
    sql.assert_contains("OK created sql table model main.slv_activity_0008");

    let macro_ = step("a macro changed", &|p| {
        replace(
            p,
            "macros/safe_divide.sql",
            "/ ({{ denominator }}) end",
            "/ ({{ denominator }}) * 2 end",
        );
    });
    assert_eq!(reused(&macro_), 0, "{}", macro_.stdout);

    let schema = step("the target's schema changed", &|p| {
        replace(
            p,
            "profiles.yml",
            "threads: 4",
            "threads: 4\n      schema: analytics",
        );
    });
    assert_eq!(reused(&schema), 0, "{}", schema.stdout);
    // Its incremental models run their incremental SQL once, as after any first build.
    step("the new schema's second build", &|_| {});
    let again = step("nothing changed in the new schema", &|_| {});
    assert_eq!(reused(&again), 42, "{}", again.stdout);
}
