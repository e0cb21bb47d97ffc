//! Slim CI: `--state <dir>` with the `state:` and `result:` selectors compares this project
//! with the artifacts of an earlier run.

use crate::common::{flat, ls_names as names, TestProject};

fn project() -> TestProject {
    let p = TestProject::new("ci", "models:\n  ci:\n    +materialized: table\n");
    p.write("seeds/countries.csv", "code,name\nfr,France\n");
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: land\n    schema: main\n    tables: [{name: raw_events}]\n",
    );
    p.write("macros/money.sql", "{% macro cents(x) %}({{ x }} / 100.0){% endmacro %}\n{% macro unused() %}1{% endmacro %}\n");
    p.write("models/base.sql", "select 1 as id, 250 as amount_cents\n");
    p.write(
        "models/priced.sql",
        "select id, {{ cents('amount_cents') }} as amount from {{ ref('base') }}\n",
    );
    p.write("models/plain.sql", "select id from {{ ref('base') }}\n");
    p.write(
        "models/downstream.sql",
        "select * from {{ ref('plain') }}\n",
    );
    p.write("models/styled.sql", "select 2 as id\n");
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: base\n    columns:\n      - name: id\n        data_tests: [unique]\n",
    );
    p
}

/// Keep this run's artifacts as "production's" in `prod/`.
fn save_state(p: &TestProject) {
    std::fs::create_dir_all(p.path().join("prod")).expect("mkdir");
    for f in ["manifest.json", "run_results.json"] {
        let from = p.path().join("target").join(f);
        if from.exists() {
            std::fs::copy(&from, p.path().join("prod").join(f)).expect("copy");
        }
    }
}

#[test]
fn state_modified_selects_what_a_change_touches() {
    let p = project();
    p.strata(&["build"]).assert_ok();
    save_state(&p);
    let prod = p.path().join("prod").display().to_string();
    let st = ["--state", prod.as_str()];
    // Nothing changed: nothing is modified, everything is old.
    assert_eq!(
        names(&p, &[&["-s", "state:modified"][..], &st].concat()),
        ""
    );
    assert_eq!(names(&p, &[&["-s", "state:new"][..], &st].concat()), "");

    p.write(
        "models/plain.sql",
        "select id, 1 as flag from {{ ref('base') }}\n",
    );
    p.write("models/brand_new.sql", "select 3 as id\n");
    // A config set in YAML: the model's file (its body) stays as it was.
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: base\n    columns:\n      - name: id\n        data_tests: [unique]\n  - name: styled\n    config: {materialized: view}\n",
    );
    p.write("macros/money.sql", "{% macro cents(x) %}({{ x }} / 100.00){% endmacro %}\n{% macro unused() %}1{% endmacro %}\n");
    p.write("seeds/countries.csv", "code,name\nfr,France\nde,Germany\n");
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: land\n    schema: landing\n    tables: [{name: raw_events}]\n",
    );
    let sel = |s: &str| names(&p, &[&["-s", s][..], &st].concat());
    assert_eq!(
        sel("state:modified"),
        "brand_new countries land.raw_events plain priced styled"
    );
    assert_eq!(sel("state:new"), "brand_new");
    assert_eq!(sel("state:modified.body"), "brand_new countries plain");
    assert_eq!(sel("state:modified.configs"), "brand_new styled");
    assert_eq!(sel("state:modified.macros"), "priced");
    assert_eq!(sel("state:unmodified"), "base downstream unique_base_id");
    assert_eq!(sel("state:old,tag:nothing"), "");
    // The usual CI call: what changed and everything below it.
    assert_eq!(
        names(
            &p,
            &[
                &["-s", "state:modified+", "--resource-type", "model"][..],
                &st
            ]
            .concat()
        ),
        "brand_new downstream plain priced styled"
    );
    let r = p.strata(
        &[
            &["build", "-s", "state:modified+", "--exclude", "source:*"][..],
            &st,
        ]
        .concat(),
    );
    r.assert_ok();
    for built in [
        "main.plain",
        "main.downstream",
        "main.brand_new",
        "main.priced",
    ] {
        assert!(r.stdout.contains(built), "{built} not built:\n{}", r.stdout);
    }
    assert!(
        !r.stdout.contains("main.base "),
        "base was built:\n{}",
        r.stdout
    );
    // A relation setting is a `modified.relation` change, not a config one.
    p.write(
        "models/downstream.sql",
        "{{ config(alias='downstream_v2') }}\nselect * from {{ ref('plain') }}\n",
    );
    // (The source moved schema: a relation change too, as dbt reports it.)
    assert_eq!(
        sel("state:modified.relation"),
        "brand_new downstream land.raw_events"
    );
}

/// `--state target`: the earlier artifacts are read before this command writes its own.
#[test]
fn state_can_be_the_target_folder_it_overwrites() {
    let p = project();
    p.strata(&["run"]).assert_ok();
    p.write(
        "models/plain.sql",
        "select id, 2 as flag from {{ ref('base') }}\n",
    );
    let target = p.path().join("target").display().to_string();
    let r = p.strata(&["run", "-s", "state:modified", "--state", &target]);
    r.assert_ok();
    assert!(r.stdout.contains("main.plain"), "{}", r.stdout);
    assert!(r.stdout.contains("PASS=1"), "{}", r.stdout);
    // Now target/ holds the edited project: nothing is modified against it.
    let r = p.strata(&["run", "-s", "state:modified", "--state", &target]);
    r.assert_ok().assert_contains("Nothing to do");
}

/// `result:error+` re-runs what failed last time and what it held up (dbt's retry idiom).
#[test]
fn result_selects_by_the_earlier_status() {
    let p = project();
    p.write(
        "models/plain.sql",
        "select id, nonexistent_column from {{ ref('base') }}\n",
    );
    p.strata(&["build"]).assert_code(1);
    save_state(&p);
    let prod = p.path().join("prod").display().to_string();
    let st = ["--state", prod.as_str()];
    assert_eq!(
        names(&p, &[&["-s", "result:error"][..], &st].concat()),
        "plain"
    );
    assert_eq!(
        names(&p, &[&["-s", "result:skipped"][..], &st].concat()),
        "downstream"
    );
    assert_eq!(
        names(&p, &[&["-s", "result:pass"][..], &st].concat()),
        "unique_base_id"
    );
    p.write("models/plain.sql", "select id from {{ ref('base') }}\n");
    let r = p.strata(&[&["build", "-s", "result:error+"][..], &st].concat());
    r.assert_ok();
    assert!(r.stdout.contains("PASS=2"), "{}", r.stdout);
    assert!(r.stdout.contains("main.downstream"), "{}", r.stdout);
}

#[test]
fn state_selectors_need_a_state_folder() {
    let p = project();
    p.strata(&["ls", "-s", "state:modified"])
        .assert_code(2)
        .assert_contains("invalid selector 'state:modified': needs --state <dir>");
    let dir = |d: &str| p.path().join(d).display().to_string();
    std::fs::create_dir_all(p.path().join("empty")).expect("mkdir");
    p.strata(&["ls", "-s", "state:modified", "--state", &dir("empty")])
        .assert_code(2)
        .assert_contains("no manifest.json or run_results.json there");
    p.strata(&["ls", "-s", "state:changed", "--state", &dir("target")])
        .assert_code(2)
        .assert_contains("no manifest.json or run_results.json there");
    p.strata(&["run"]).assert_ok();
    p.strata(&["ls", "-s", "state:changed", "--state", &dir("target")])
        .assert_code(2)
        .assert_contains("'state:changed': expected one of new, old, modified");
    p.write("prod/manifest.json", "{\"nodes\": [1,\n");
    p.strata(&["ls", "-s", "state:new", "--state", &dir("prod")])
        .assert_code(2)
        .assert_contains("manifest.json:");
    // DBT_STATE works as dbt's does.
    let r = p.strata_env(
        &["ls", "--output", "name", "-s", "state:new"],
        &[("DBT_STATE", &dir("target"))],
    );
    r.assert_ok();
    assert_eq!(r.stdout.trim(), "");
}

/// `--defer`: a CI target builds only what changed and reads the rest from production's
/// relations (from the --state manifest), unless it has them itself (or `--favor-state`).
#[test]
fn defer_reads_unselected_models_from_the_state_run() {
    let p = TestProject::new("ci", "profile: ci\n");
    p.write(
        "profiles.yml",
        "ci:\n  target: prod\n  outputs:\n    prod: {type: duckdb, path: target/wh.duckdb, schema: prod}\n    ci: {type: duckdb, path: target/wh.duckdb, schema: ci}\n",
    );
    p.write("models/base.sql", "select 1 as id\n");
    p.write(
        "models/plain.sql",
        "select id, '{{ target.name }}' as built_in from {{ ref('base') }}\n",
    );
    p.write(
        "models/downstream.sql",
        "select id, built_in from {{ ref('plain') }}\n",
    );
    p.strata(&["run", "--target", "prod"]).assert_ok();
    save_state(&p);
    let prod = p.path().join("prod").display().to_string();
    p.write(
        "models/downstream.sql",
        "select id, built_in, 2 as version from {{ ref('plain') }}\n",
    );
    let ci = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--target",
            "ci",
            "-s",
            "state:modified",
            "--state",
            &prod,
        ];
        args.extend_from_slice(extra);
        p.strata(&args)
    };
    // Without --defer the CI schema lacks plain.
    ci(&[]).assert_code(1);
    ci(&["--defer"])
        .assert_ok()
        .assert_contains("Deferred 2 unselected");
    assert!(
        p.read("target/compiled/ci/models/downstream.sql")
            .contains(r#""wh"."prod"."plain""#),
        "{}",
        p.read("target/compiled/ci/models/downstream.sql")
    );
    let db = p.path().join("target/wh.duckdb");
    let built =
        |p: &TestProject| flat(&p.query_file(&db, "select built_in, version from ci.downstream"));
    assert_eq!(built(&p), "prod,2");
    // Only the selected model landed in the CI schema.
    assert_eq!(
        flat(&p.query_file(
            &db,
            "select table_name from information_schema.tables where table_schema = 'ci' order by 1"
        )),
        "downstream"
    );
    // Once CI has its own plain, that one is read; --favor-state reads production's anyway.
    p.strata(&[
        "run", "--target", "ci", "-s", "plain", "--defer", "--state", &prod,
    ])
    .assert_ok();
    ci(&["--defer"]).assert_ok();
    assert_eq!(built(&p), "ci,2");
    ci(&["--defer", "--favor-state"]).assert_ok();
    assert_eq!(built(&p), "prod,2");
    p.strata(&["run", "--target", "ci", "--defer"])
        .assert_code(2)
        .assert_contains("--defer needs --state <dir>");
    // --defer-state names the deferral's artifacts apart from --state (dbt's flag).
    p.strata(&[
        "run",
        "--target",
        "ci",
        "-s",
        "downstream",
        "--defer",
        "--favor-state",
        "--defer-state",
        &prod,
    ])
    .assert_ok();
    assert_eq!(built(&p), "prod,2");
}

/// Exposures are new, old and modified too (what they read, how they are described).
#[test]
fn state_compares_exposures() {
    let p = project();
    let exposure = |url: &str| {
        format!("version: 2\nexposures:\n  - name: board\n    type: dashboard\n    url: {url}\n    owner: {{email: d@example.com}}\n    depends_on: [ref('plain')]\n")
    };
    p.write("models/exposures.yml", &exposure("https://bi/1"));
    p.strata(&["run"]).assert_ok();
    save_state(&p);
    let prod = p.path().join("prod").display().to_string();
    let sel = |s: &str| {
        names(
            &p,
            &["-s", s, "--state", &prod, "--resource-type", "exposure"],
        )
    };
    assert_eq!(sel("state:modified"), "");
    assert_eq!(sel("state:old"), "board");
    p.write("models/exposures.yml", &exposure("https://bi/2"));
    assert_eq!(sel("state:modified"), "board");
    assert_eq!(sel("state:unmodified"), "");
}
