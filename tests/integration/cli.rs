//! The rest of the command line: JSON logs, compile-time queries, run-operation, clean,
//! debug, --fail-fast, vars and two-argument refs.

use crate::common::{flat, hermetic, TestProject};

#[test]
fn json_logs_are_one_object_per_line() {
    let p = TestProject::new("js", "");
    p.write("models/a.sql", "select 1 as x\n");
    p.write(
        "models/b.sql",
        "select * from {{ ref('a') }} where x = 2 / 0\n",
    );
    let r = p.strata(&["run", "--log-format", "json"]);
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let finished: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "node_finished")
        .collect();
    assert_eq!(finished.len(), 2, "{}", r.stdout);
    assert!(finished
        .iter()
        .any(|e| e["node"] == "model.js.a" && e["status"] == "success"));
    assert!(events
        .iter()
        .all(|e| e["ts"].is_string() && e["level"].is_string()));
}

#[test]
fn compile_time_queries_vars_and_two_argument_refs() {
    let p = TestProject::new("q", "vars:\n  cutoff: 2\n");
    p.write("seeds/nums.csv", "n\n1\n2\n3\n4\n");
    p.write(
        "models/picked.sql",
        "{% set rows = run_query('select max(n) as m from ' ~ ref('nums')) %}
{% if execute %}{% set top = rows.columns[0].values()[0] %}{% else %}{% set top = 0 %}{% endif %}
{% call statement('low', fetch_result=True) %}select min(n) from {{ ref('q', 'nums') }}{% endcall %}
{% set low = load_result('low')['data'][0][0] if execute else 0 %}
select {{ top }} as top, {{ low }} as low, {{ var('cutoff') }} as cutoff, {{ var('missing', 9) }} as fallback,
       '{{ target.name }}' as target_name
",
    );
    p.strata(&["build"]).assert_ok();
    assert_eq!(flat(&p.query("q", "select * from picked")), "4,1,2,9,dev");
    p.strata(&["run", "--vars", "{cutoff: 3}"]).assert_ok();
    assert_eq!(p.scalar("q", "select cutoff from picked"), "3");
}

#[test]
fn run_operation_clean_and_debug() {
    let p = TestProject::new("ops", "clean-targets: [target/compiled]\n");
    p.write("models/a.sql", "select 1 as x\n");
    p.write(
        "macros/grant.sql",
        "{% macro make_audit(name) %}{% do run_query('create table ' ~ name ~ ' as select 42 as answer') %}{% endmacro %}\n",
    );
    p.strata(&["run"]).assert_ok();
    p.strata(&["run-operation", "make_audit", "--args", "{name: audit}"])
        .assert_ok();
    assert_eq!(p.scalar("ops", "select answer from audit"), "42");
    p.strata(&["run-operation", "no_such_macro"])
        .assert_code(2)
        .assert_contains("no macro named 'no_such_macro'");
    assert!(p.path().join("target/compiled").exists());
    p.strata(&["clean"]).assert_ok();
    assert!(
        !p.path().join("target/compiled").exists(),
        "clean removes clean-targets"
    );
    assert!(p.db_path("ops").exists(), "and nothing else");
    p.strata(&["debug"])
        .assert_ok()
        .assert_contains("connection: OK (duckdb v1.5")
        .assert_contains("All checks passed!");
}

#[test]
fn fail_fast_stops_scheduling_after_the_first_failure() {
    let p = TestProject::new("ff", "");
    p.write(
        "models/a_bad.sql",
        "{{ config(materialized='table') }}\nselect cast('x' as integer) as v\n",
    );
    for i in 0..6 {
        p.write(&format!("models/m{i}.sql"), "select 1 as v\n");
    }
    let r = p.strata(&["run", "--threads", "1", "--fail-fast"]);
    r.assert_code(1);
    let v: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("json");
    let skipped = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["status"] == "skipped")
        .count();
    assert_eq!(skipped, 6, "{}", r.output());
    // Without --fail-fast the independent models still run.
    p.strata(&["run", "--threads", "1"]).assert_code(1);
    let v: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("json");
    let ok = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["status"] == "success")
        .count();
    assert_eq!(ok, 6);
}

#[test]
fn maintain_on_duckdb_says_it_needs_iceberg_tables() {
    let p = TestProject::new("maint_duck", "");
    p.write(
        "models/t.sql",
        "{{ config(materialized='table') }}\nselect 1 as id\n",
    );
    p.strata(&["run"]).assert_ok();
    let run = p.strata(&["maintain"]);
    assert_ne!(run.code, 0, "{}", run.output());
    run.assert_contains("strata maintain needs Iceberg tables: the duckdb target has none");
}

/// dbt's `log()`: `info=True` by keyword (the usual spelling) or by position prints the
/// message; without it nothing is printed.
#[test]
fn log_prints_with_info_by_keyword_or_position() {
    let p = TestProject::new("logs", "");
    p.write(
        "models/a.sql",
        "{{ log('keyword info', info=True) }}{{ log('positional info', True) }}\
         {{ log('debug only') }}select 1 as id\n",
    );
    let run = p.strata(&["compile"]);
    run.assert_ok()
        .assert_contains("keyword info")
        .assert_contains("positional info");
    assert!(!run.output().contains("debug only"), "{}", run.output());
    p.write("models/a.sql", "{{ log('x', infos=True) }}select 1 as id\n");
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("infos");
}

/// Quick commands exit at once, while the DuckDB file they started opening in the
/// background is still being created; it must not be left half-written (the next command
/// used to fail with "not a valid DuckDB database file"). Timing-dependent, so repeated.
/// `ls` needs no warehouse and does not open (or create) one at all, as `dbt ls`.
#[test]
fn a_quick_command_leaves_no_half_created_database() {
    for _ in 0..20 {
        let p = TestProject::new("quick", "");
        p.write("models/a.sql", "select 1 as id\n");
        p.write("macros/noop.sql", "{% macro noop() %}{% endmacro %}\n");
        p.strata(&["ls"]).assert_ok();
        assert!(!p.db_path("quick").exists(), "ls created the database");
        // run-operation of a macro that asks nothing of the warehouse exits as soon as it
        // has rendered it, while the database is still being created.
        p.strata(&["run-operation", "noop"]).assert_ok();
        p.strata(&["run"]).assert_ok();
    }
}

/// `{% call my_macro() %}body{% endcall %}` on a project macro: `caller()` inside the macro
/// gives the body (it failed with "template state went away").
#[test]
fn call_blocks_reach_project_macros() {
    let p = TestProject::new("calls", "");
    p.write(
        "macros/wrap.sql",
        "{% macro wrap(alias) %}select *, '{{ alias }}' as tag from ({{ caller() }}) as {{ alias }}{% endmacro %}\n\
         {% macro twice() %}{{ caller() }} union all {{ caller() }}{% endmacro %}\n",
    );
    p.write(
        "models/a.sql",
        "{% call wrap('sub') %}select 1 as id{% endcall %}\n",
    );
    p.write(
        "models/b.sql",
        "{% call twice() %}select id from {{ ref('a') }}{% endcall %}\n",
    );
    p.strata(&["build"]).assert_ok();
    assert_eq!(p.scalar("calls", "select tag from a where id = 1"), "sub");
    assert_eq!(p.scalar("calls", "select count(*) from b"), "2");
}

/// `--profiles-dir` relative to where strata was started (it was resolved after moving into
/// the project folder, so the profile was silently not found and the default target used).
#[test]
fn a_relative_profiles_dir_is_read_from_where_strata_started() {
    let p = TestProject::empty();
    p.write("proj/project.yml", "name: rel\nprofile: rel\n");
    p.write("proj/models/a.sql", "select 1 as id\n");
    p.write(
        "profs/profiles.yml",
        "rel:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: from_profile.duckdb\n",
    );
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_strata"));
    hermetic(&mut cmd);
    let out = cmd
        .args(["run", "--project-dir", "proj", "--profiles-dir", "profs"])
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .env("HOME", p.path())
        .output()
        .expect("strata runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(p.path().join("proj/from_profile.duckdb").exists(), "{text}");
    assert!(!p.path().join("proj/target/rel.duckdb").exists(), "{text}");
}

/// A call block whose macro never calls `caller()` on that branch: the body is not rendered
/// when the macro does not use `caller` at all (a ref in it would make a false cycle).
#[test]
fn a_call_body_is_not_rendered_for_a_macro_without_caller() {
    let p = TestProject::new("nocaller", "");
    p.write(
        "macros/m.sql",
        "{% macro plain() %}select 1 as id{% endmacro %}\n",
    );
    p.write(
        "models/a.sql",
        "{% call plain() %}select * from {{ ref('b') }}{% endcall %}\n",
    );
    p.write("models/b.sql", "select * from {{ ref('a') }}\n");
    // As in Jinja, a call block on a macro without `caller` is refused; not a cycle.
    let run = p.strata(&["compile"]);
    assert_eq!(run.code, 2, "{}", run.output());
    run.assert_contains("caller");
    assert!(!run.output().contains("cycle"), "{}", run.output());
}

/// A macro that calls caller() used without a call block says how to use it (minijinja's
/// own words were "value of type undefined is not callable").
#[test]
fn a_caller_macro_without_a_call_block_says_how_to_call_it() {
    let p = TestProject::new("nobody", "");
    p.write(
        "macros/wrap.sql",
        "{% macro wrap() %}select * from ({{ caller() }}) t{% endmacro %}\n",
    );
    p.write("models/a.sql", "{{ wrap() }}\n");
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("models/a.sql:1")
        .assert_contains(
            "macro 'wrap' calls caller(): use it as {% call wrap(...) %}...{% endcall %}",
        );
}

/// Commands that wrote nothing end without closing DuckDB (faster); one that wrote closes it,
/// so the database file alone, without its write-ahead log, holds everything built. Also
/// with a `~` path, which DuckDB expands and the file system does not.
#[test]
fn the_database_file_alone_holds_what_a_build_wrote() {
    for (path, file) in [
        ("", "target/whole.duckdb"),
        ("~/home.duckdb", "home.duckdb"),
    ] {
        let p = TestProject::new("whole", "profile: whole\n");
        if !path.is_empty() {
            p.write(
                "profiles.yml",
                &format!("whole:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: \"{path}\"\n"),
            );
        }
        p.write("models/orders.sql", "select 1 as id, 'open' as status\n");
        p.write(
            "models/totals.sql",
            "select count(*) as n from {{ ref('orders') }}\n",
        );
        p.write(
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: totals\n    config: {materialized: table}\n    columns:\n      - name: n\n        tests: [not_null]\n",
        );
        p.strata(&["build"]).assert_ok();
        let db = p.path().join(file);
        let no_log = || {
            std::fs::read_dir(p.path().join(file).parent().expect("folder"))
                .expect("list")
                .flatten()
                .all(|e| !e.file_name().to_string_lossy().contains(".wal"))
        };
        assert!(no_log(), "a write-ahead log was left behind ({file})");
        assert!(!p.path().join("~").exists(), "a folder named ~ was created");
        let copy = p.path().join("copy.duckdb");
        std::fs::copy(&db, &copy).expect("copy the database file");
        assert_eq!(p.query_file(&copy, "select n from totals"), vec![vec!["1"]]);

        // compile and test write nothing: still no log, and the file still opens.
        p.strata(&["compile"]).assert_ok();
        p.strata(&["test"]).assert_ok();
        assert!(no_log(), "{file}");
        assert_eq!(
            p.query_file(&db, "select count(*) from orders"),
            vec![vec!["1"]]
        );
    }
}

/// dbt-duckdb's profile keys: `config_options:` when the database opens, `extensions:`
/// loaded (json is built into the library: no download), `settings:` after them, the
/// per-connection ones (search_path) on every pooled connection models run on; problems
/// name the profile and the key.
#[test]
fn duckdb_profile_settings_and_extensions() {
    let p = TestProject::new("tuned", "profile: tuned\n");
    let profile = |extra: &str| {
        format!("tuned:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: tuned.duckdb\n{extra}")
    };
    p.write(
        "profiles.yml",
        &profile(concat!(
            "      config_options:\n        allow_unsigned_extensions: true\n",
            // json is built in: used as it is, whatever the repository.
            "      extensions:\n        - {name: json, repo: 'http://127.0.0.1:9'}\n",
            // lock_configuration first in the file, applied last; search_path is kept per
            // connection (set again on each), the others for the whole database.
            "      settings:\n        lock_configuration: true\n        default_order: DESC\n        search_path: main\n        threads: 2\n",
        )),
    );
    p.write(
        "models/m.sql",
        concat!(
            "{{ config(materialized='table') }}\n",
            "select current_setting('allow_unsigned_extensions')::varchar as unsigned_ok,\n",
            "  current_setting('default_order') as ord, current_setting('search_path') as path,\n",
            "  current_setting('threads')::varchar as threads, json_extract('{\"a\": 7}', '$.a')::int as a\n",
        ),
    );
    p.strata(&["run", "--threads", "3"]).assert_ok();
    assert_eq!(
        p.query_file(
            &p.path().join("tuned.duckdb"),
            "select unsigned_ok, ord, path, threads, a from m"
        ),
        vec![vec!["true", "DESC", "main", "2", "7"]]
    );

    // An extension from a repository (a closed local port: nothing leaves the machine) that
    // cannot be installed says which one, and where it was asked for.
    p.write(
        "profiles.yml",
        &profile(
            "      extensions:\n        - {name: no_such_extension, repo: 'http://127.0.0.1:9'}\n",
        ),
    );
    p.strata(&["run"])
        .assert_code(2)
        .assert_contains("profiles.yml")
        .assert_contains("extension 'no_such_extension'");

    // A value DuckDB refuses names the key.
    p.write(
        "profiles.yml",
        &profile("      settings:\n        threads: lots\n"),
    );
    p.strata(&["run"])
        .assert_code(2)
        .assert_contains("`settings: threads`");

    p.write(
        "profiles.yml",
        &profile("      settings:\n        \"memory_limit; drop table m\": 1GB\n"),
    );
    p.strata(&["run"])
        .assert_code(2)
        .assert_contains("profiles.yml")
        .assert_contains("not a DuckDB setting name");

    // Shapes dbt-duckdb would not take either are refused with what was expected.
    p.write(
        "profiles.yml",
        &profile("      settings:\n        memory_limit: [1GB]\n"),
    );
    p.strata(&["run"])
        .assert_code(2)
        .assert_contains("`settings: memory_limit` must be a string, number or boolean");
    p.write("profiles.yml", &profile("      extensions: httpfs\n"));
    p.strata(&["run"])
        .assert_code(2)
        .assert_contains("`extensions:` must be a list");
}

/// What dbt reads from the environment when the command line says nothing (schedulers set
/// DBT_TARGET or DBT_PARTIAL_PARSE): Strata's own name first, then dbt's, the flag over both.
#[test]
fn the_environment_fills_in_target_log_format_partial_parse_and_project_dir() {
    let p = TestProject::new("envs", "profile: envs\n");
    p.write(
        "profiles.yml",
        "envs:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: dev.duckdb\n    ci:\n      type: duckdb\n      path: ci.duckdb\n",
    );
    p.write("models/m.sql", "select '{{ target.name }}' as t\n");
    let compiled_target = |args: &[&str], envs: &[(&str, &str)]| {
        let mut all = vec!["compile"];
        all.extend_from_slice(args);
        p.strata_env(&all, envs).assert_ok();
        p.read("target/compiled/envs/models/m.sql")
    };
    assert!(compiled_target(&[], &[]).contains("'dev'"));
    assert!(compiled_target(&[], &[("DBT_TARGET", "ci")]).contains("'ci'"));
    assert!(
        compiled_target(&[], &[("DBT_TARGET", "ci"), ("STRATA_TARGET", "dev")]).contains("'dev'")
    );
    assert!(compiled_target(&["-t", "ci"], &[("STRATA_TARGET", "dev")]).contains("'ci'"));

    let json = p.strata_env(&["compile"], &[("DBT_LOG_FORMAT", "json")]);
    json.assert_ok();
    assert!(
        json.stdout
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{}",
        json.stdout
    );
    let text = p.strata_env(
        &["compile", "--log-format", "text"],
        &[("DBT_LOG_FORMAT", "json")],
    );
    assert!(
        !text.stdout.trim_start().starts_with('{'),
        "{}",
        text.stdout
    );
    // dbt's `debug` is a text log too: a scheduler's DBT_LOG_FORMAT=debug must not break us.
    let debug = p.strata_env(&["compile"], &[("DBT_LOG_FORMAT", "debug")]);
    debug.assert_ok();
    assert!(
        !debug.stdout.trim_start().starts_with('{'),
        "{}",
        debug.stdout
    );
    p.strata_env(&["compile"], &[("DBT_LOG_FORMAT", "xml")])
        .assert_code(2)
        .assert_contains("DBT_LOG_FORMAT=\"xml\": expected text or json");

    let memo = p.path().join("target/partial_parse");
    let forget = || std::fs::remove_dir_all(&memo).ok();
    forget();
    p.strata_env(&["compile"], &[("DBT_PARTIAL_PARSE", "false")])
        .assert_ok();
    assert!(!memo.exists(), "DBT_PARTIAL_PARSE=false keeps nothing");
    p.strata_env(
        &["compile", "--partial-parse"],
        &[("DBT_PARTIAL_PARSE", "0")],
    )
    .assert_ok();
    assert!(memo.exists(), "--partial-parse wins over the environment");
    forget();
    p.strata(&["compile", "--partial-parse", "--no-partial-parse"])
        .assert_ok();
    assert!(!memo.exists(), "the last of the two flags wins");
    p.strata_env(&["compile"], &[("DBT_PARTIAL_PARSE", "True")])
        .assert_ok();
    assert!(memo.exists());
    p.strata_env(&["compile"], &[("DBT_PARTIAL_PARSE", "perhaps")])
        .assert_code(2)
        .assert_contains("DBT_PARTIAL_PARSE=\"perhaps\": expected true or false");
    p.strata_env(&["compile"], &[("DBT_WARN_ERROR", "sometimes")])
        .assert_code(2)
        .assert_contains("DBT_WARN_ERROR=\"sometimes\": expected true or false");

    // No --project-dir: DBT_PROJECT_DIR names the project.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_strata"));
    hermetic(&mut cmd);
    let out = cmd
        .args(["compile", "-t", "ci"])
        .current_dir(std::env::temp_dir())
        .env("NO_COLOR", "1")
        .env("HOME", p.path())
        .env("DBT_PROJECT_DIR", p.path())
        .output()
        .expect("strata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(p.read("target/compiled/envs/models/m.sql").contains("'ci'"));
}

/// dbt's `--empty` (and DBT_EMPTY): every model is built with its columns and no rows, refs
/// and sources read as empty subqueries, seeds load no rows, tests run.
#[test]
fn empty_builds_the_shape_of_every_model() {
    let p = TestProject::new("shape", "");
    p.write("seeds/raw.csv", "id,name\n1,a\n2,b\n");
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: landed\n    schema: main\n    tables: [{name: raw}]\n",
    );
    p.write("models/v.sql", "select id, name from {{ ref('raw') }}\n");
    p.write(
        "models/t.sql",
        "{{ config(materialized='table') }}\nselect v.id, s.name from {{ ref('v') }} v join {{ source('landed', 'raw') }} s using (id)\n",
    );
    p.write(
        "models/i.sql",
        "{{ config(materialized='incremental', unique_key='id') }}\nselect * from {{ ref('t') }}\n",
    );
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: t\n    columns:\n      - name: id\n        data_tests: [not_null]\n",
    );
    p.strata(&["build", "--empty"])
        .assert_ok()
        .assert_contains("PASS=5");
    let count = |rel: &str| p.scalar("shape", &format!("select count(*) from main.{rel}"));
    for rel in ["raw", "v", "t", "i"] {
        assert_eq!(count(rel), "0", "{rel}");
    }
    assert_eq!(
        flat(&p.query("shape", "select column_name, data_type from information_schema.columns where table_name = 'i' order by ordinal_position")),
        // A seed's whole numbers are `integer`, as dbt-duckdb makes them.
        "id,INTEGER|name,VARCHAR"
    );
    let compiled = p.read("target/compiled/shape/models/t.sql");
    assert!(
        compiled.contains(r#"(select * from "shape"."main"."v" where false limit 0) v"#)
            && compiled.contains(r#"(select * from "main"."raw" where false limit 0) s"#),
        "{compiled}"
    );
    // Without it, the same relations fill up.
    p.strata(&["build"]).assert_ok();
    assert_eq!(count("i"), "2");
    let r = p.strata_env(&["build", "--full-refresh"], &[("DBT_EMPTY", "true")]);
    r.assert_ok();
    assert_eq!(count("i"), "0");
}

/// `retry` (dbt retry): the previous command again, only for what errored, failed or was
/// skipped, with that run's vars; nothing to retry when it passed.
#[test]
fn retry_runs_the_unfinished_part_of_the_previous_run() {
    let p = TestProject::new("rt", "");
    p.write("models/ok.sql", "select 1 as id\n");
    p.write(
        "models/broken.sql",
        "select {{ var('col') }} from {{ ref('ok') }}\n",
    );
    p.write("models/after.sql", "select * from {{ ref('broken') }}\n");
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: after\n    columns:\n      - name: id\n        data_tests: [not_null]\n",
    );
    p.strata(&["build", "--vars", "{col: no_such_column}"])
        .assert_code(1)
        .assert_contains("PASS=1 WARN=0 ERROR=1 SKIP=2");
    p.strata(&["retry"])
        .assert_code(1)
        .assert_contains("PASS=0 WARN=0 ERROR=1 SKIP=2");
    // The previous vars come along unless given again.
    let r = p.strata(&["retry", "--vars", "{col: id}"]);
    r.assert_ok()
        .assert_contains("PASS=3 WARN=0 ERROR=0 SKIP=0");
    assert!(
        !r.stdout.contains("main.ok "),
        "ok ran again:\n{}",
        r.stdout
    );
    p.strata(&["retry"])
        .assert_ok()
        .assert_contains("Nothing to do");
    p.remove("target/run_results.json");
    p.strata(&["retry"])
        .assert_code(2)
        .assert_contains("retry: could not find a previous run in 'target'");
}

/// Templates see the run's own `invocation_id` and `run_started_at`: the ones
/// run_results.json records (dbt has one of each per invocation).
#[test]
fn templates_and_run_results_share_the_invocation_id() {
    let p = TestProject::new("inv", "");
    p.write(
        "models/a.sql",
        "{{ config(materialized='table') }}\nselect '{{ invocation_id }}' as invocation_id, \
         '{{ run_started_at }}' as started\n",
    );
    p.strata(&["run"]).assert_ok();
    let v: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("run_results");
    let recorded = v["metadata"]["invocation_id"]
        .as_str()
        .expect("invocation_id");
    assert_eq!(recorded.len(), 36, "{recorded}");
    assert_eq!(
        p.scalar("inv", "select invocation_id from main.a"),
        recorded
    );
    // `run_started_at` renders as Python's str() of the time, and is this run's: at most a
    // minute before run_results.json was written.
    let started = p.scalar("inv", "select started from main.a");
    let started = chrono::DateTime::parse_from_str(&started, "%Y-%m-%d %H:%M:%S%.6f%:z")
        .unwrap_or_else(|e| panic!("{started}: {e}"));
    let generated = v["metadata"]["generated_at"].as_str().unwrap_or("");
    let generated = chrono::DateTime::parse_from_rfc3339(generated).expect("generated_at");
    let before = generated - started;
    assert!(
        before >= chrono::TimeDelta::zero() && before <= chrono::TimeDelta::seconds(60),
        "{started} vs {generated}"
    );
}

/// `compile` writes run_results.json as dbt does (every compiled node a success), so a
/// later `result:` selection reads this invocation, not an older one.
#[test]
fn compile_writes_run_results() {
    let p = TestProject::new("cr", "");
    p.write("models/a.sql", "select 1 as id\n");
    p.write("models/b.sql", "select * from {{ ref('a') }}\n");
    p.strata(&["compile"]).assert_ok();
    let v: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("run_results");
    let mut got: Vec<(String, String)> = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap_or("").to_string(),
                r["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("model.cr.a".to_string(), "success".to_string()),
            ("model.cr.b".to_string(), "success".to_string())
        ]
    );
    assert_eq!(v["args"]["which"], "compile");
}

/// The flags and variables Cosmos passes to every command: `--profile` picks the profile
/// over the project's, `--target-path` / DBT_TARGET_PATH move the artifacts (and the default
/// DuckDB file), and run_results.json records what readers such as OpenLineage open.
#[test]
fn profile_and_target_path_as_cosmos_passes_them() {
    let p = TestProject::new("tp", "profile: main_profile\n");
    p.write(
        "models/v.sql",
        "{{ config(materialized='view') }}\nselect 1 as x\n",
    );
    p.write(
        "models/t.sql",
        "{{ config(materialized='table') }}\nselect * from range(3) r(x)\n",
    );
    p.write(
        "profiles.yml",
        "main_profile:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: main.duckdb}\n\
         other:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: other.duckdb}\n",
    );
    p.strata(&["run", "--profile", "other", "--target-path", "out"])
        .assert_ok();
    assert!(
        p.path().join("other.duckdb").is_file(),
        "--profile other's file"
    );
    assert!(!p.path().join("main.duckdb").exists());
    let results: serde_json::Value =
        serde_json::from_str(&p.read("out/run_results.json")).expect("run_results.json");
    assert!(!p.path().join("target/run_results.json").exists());
    let root = p.path().canonicalize().expect("canonical");
    assert_eq!(results["args"]["profile"], "other");
    assert_eq!(
        results["args"]["profiles_dir"],
        root.display().to_string(),
        "{}",
        results["args"]
    );
    assert_eq!(
        results["args"]["target_path"],
        root.join("out").display().to_string()
    );
    for r in results["results"].as_array().expect("results") {
        let response = r["adapter_response"].as_object().expect("an object");
        assert!(
            response.values().all(|v| !v.is_null()),
            "no null keys, as dbt writes them: {response:?}"
        );
        match r["unique_id"].as_str() {
            Some("model.tp.t") => assert_eq!(response["rows_affected"], 3, "{response:?}"),
            Some("model.tp.v") => assert!(!response.contains_key("rows_affected")),
            other => panic!("unexpected node {other:?}"),
        }
    }

    // DBT_TARGET_PATH, as Cosmos sets it for each task.
    p.strata_env(&["compile"], &[("DBT_TARGET_PATH", "from_env")])
        .assert_ok();
    assert!(p.path().join("from_env/manifest.json").is_file());

    p.strata(&["run", "--profile", "missing"])
        .assert_code(2)
        .assert_contains("--profile missing: no such profile (profiles: main_profile, other)");
}

/// A folder with project.yml and dbt_project.yml: Strata reads project.yml, and refuses to
/// run when dbt_project.yml (the same project for dbt's tools) says something else.
#[test]
fn dbt_project_yml_beside_project_yml_must_agree() {
    let p = TestProject::new(
        "twin",
        "vars: {days: 7}\nrights: {subject_columns: [user_id]}\n",
    );
    p.write("models/m.sql", "select {{ var('days') }} as days\n");
    p.write("dbt_project.yml", "name: twin\nvars: {days: 7}\n");
    p.strata(&["compile"]).assert_ok();
    p.write("dbt_project.yml", "name: twin\nvars:\n  days: 28\n");
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("dbt_project.yml:2:1: `vars` differs from project.yml's");
    p.write(
        "dbt_project.yml",
        "name: twin\nvars: {days: 7}\nrights: {subject_columns: [user_id]}\n",
    );
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("`rights:` is Strata's own section: keep it in project.yml only");
}
