//! Node selection through `strata ls` and `strata run`.

use crate::common::TestProject;

fn project() -> TestProject {
    let p = TestProject::new(
        "sel",
        "models:\n  sel:\n    marts:\n      +materialized: table\n      +tags: [daily]\n",
    );
    p.write("seeds/raw.csv", "id\n1\n");
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: land\n    tables: [{name: events}]\n",
    );
    p.write(
        "models/staging/stg_a.sql",
        "select * from {{ ref('raw') }}\n",
    );
    p.write(
        "models/staging/stg_b.sql",
        "{{ config(tags=['hourly']) }}\nselect * from {{ source('land', 'events') }}\n",
    );
    p.write(
        "models/marts/mart_a.sql",
        "select * from {{ ref('stg_a') }}\n",
    );
    p.write(
        "models/marts/mart_ab.sql",
        "select * from {{ ref('mart_a') }}, {{ ref('stg_b') }}\n",
    );
    p.write("models/other.sql", "select 1 as x\n");
    p.write("models/schema.yml", "version: 2\nmodels:\n  - name: mart_a\n    columns:\n      - name: id\n        tests: [not_null]\n");
    p
}

fn ls(p: &TestProject, args: &[&str]) -> String {
    let mut all = vec!["ls", "--output", "name"];
    all.extend_from_slice(args);
    let r = p.strata(&all);
    r.assert_ok();
    let mut names: Vec<&str> = r.stdout.lines().filter(|l| !l.is_empty()).collect();
    names.sort();
    names.join(" ")
}

#[test]
fn graph_operators() {
    let p = project();
    let m = ["--resource-type", "model"];
    assert_eq!(ls(&p, &[&["-s", "mart_a"][..], &m].concat()), "mart_a");
    assert_eq!(
        ls(&p, &[&["-s", "+mart_a"][..], &m].concat()),
        "mart_a stg_a"
    );
    assert_eq!(
        ls(&p, &[&["-s", "mart_a+"][..], &m].concat()),
        "mart_a mart_ab"
    );
    assert_eq!(
        ls(&p, &[&["-s", "1+mart_ab"][..], &m].concat()),
        "mart_a mart_ab stg_b"
    );
    assert_eq!(
        ls(&p, &[&["-s", "stg_a+1"][..], &m].concat()),
        "mart_a stg_a"
    );
    // @: descendants and all their ancestors.
    assert_eq!(
        ls(&p, &[&["-s", "@stg_b"][..], &m].concat()),
        "mart_a mart_ab stg_a stg_b"
    );
    // With seeds: +mart_a reaches the seed.
    assert_eq!(ls(&p, &["-s", "+mart_a", "--resource-type", "seed"]), "raw");
}

#[test]
fn methods_union_intersection_and_exclude() {
    let p = project();
    let m = ["--resource-type", "model"];
    assert_eq!(
        ls(&p, &[&["-s", "tag:daily"][..], &m].concat()),
        "mart_a mart_ab"
    );
    assert_eq!(
        ls(&p, &[&["-s", "path:models/staging"][..], &m].concat()),
        "stg_a stg_b"
    );
    assert_eq!(
        ls(&p, &[&["-s", "staging"][..], &m].concat()),
        "stg_a stg_b"
    );
    assert_eq!(
        ls(&p, &[&["-s", "config.materialized:table"][..], &m].concat()),
        "mart_a mart_ab"
    );
    assert_eq!(
        ls(&p, &[&["-s", "source:land+"][..], &m].concat()),
        "mart_ab stg_b"
    );
    assert_eq!(ls(&p, &[&["-s", "stg_*"][..], &m].concat()), "stg_a stg_b");
    // space = union, comma = intersection
    assert_eq!(
        ls(&p, &[&["-s", "tag:daily other"][..], &m].concat()),
        "mart_a mart_ab other"
    );
    assert_eq!(
        ls(&p, &[&["-s", "tag:daily,mart_a+"][..], &m].concat()),
        "mart_a mart_ab"
    );
    assert_eq!(
        ls(
            &p,
            &[&["-s", "tag:daily", "--exclude", "mart_ab"][..], &m].concat()
        ),
        "mart_a"
    );
    assert_eq!(ls(&p, &["-s", "resource_type:test"]), "not_null_mart_a_id");
    assert_eq!(ls(&p, &["-s", "resource_type:seed"]), "raw");
    // tests follow the models they test
    assert_eq!(
        ls(&p, &["-s", "mart_a", "--resource-type", "test"]),
        "not_null_mart_a_id"
    );
    assert_eq!(
        ls(
            &p,
            &[
                "-s",
                "mart_a",
                "--exclude",
                "mart_a",
                "--resource-type",
                "test"
            ]
        ),
        ""
    );
}

#[test]
fn run_builds_only_the_selection() {
    let p = project();
    p.strata(&["seed"]).assert_ok();
    p.strata(&["run", "-s", "+mart_a"]).assert_ok();
    let built = p.query(
        "sel",
        "select table_name from information_schema.tables where table_schema='main' order by 1",
    );
    let names: Vec<String> = built.into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(names, vec!["mart_a", "raw", "stg_a"]);
}

#[test]
fn show_prints_rows_of_a_model_or_inline_sql() {
    let p = project();
    p.strata(&["seed"]).assert_ok();
    p.strata(&["run", "-s", "+mart_a"]).assert_ok();
    let r = p.strata(&[
        "show",
        "--inline",
        "select id * 10 as x from {{ ref('mart_a') }}",
        "--limit",
        "1",
    ]);
    r.assert_ok()
        .assert_contains("| x  |")
        .assert_contains("| 10 |");
    p.strata(&["show", "-s", "stg_a"])
        .assert_ok()
        .assert_contains("| id |");
    p.strata(&["show", "-s", "tag:daily"])
        .assert_code(2)
        .assert_contains("exactly one model (2 matched)");
    // A query neither parser takes: DuckDB's message says where.
    p.strata(&["show", "--inline", "select 1 from where"])
        .assert_code(2)
        .assert_contains("syntax error at or near \"where\"");
}

#[test]
fn show_inline_reads_ephemeral_models() {
    let p = TestProject::new("eph", "");
    p.write(
        "models/e.sql",
        "{{ config(materialized='ephemeral') }}\nselect 7 as x\n",
    );
    p.strata(&["show", "--inline", "select x * 2 as y from {{ ref('e') }}"])
        .assert_ok()
        .assert_contains("| 14 |");
}

/// dbt's `.dbtignore`: gitignore patterns from the project root; what they match is not part
/// of the project at all (a ref to it is an unknown ref).
#[test]
fn dbtignore_keeps_files_out_of_the_project() {
    let p = TestProject::new("ign", "");
    p.write("models/keep.sql", "select 1 as x\n");
    p.write("models/scratch/draft.sql", "select * from nowhere where\n");
    p.write("models/old_report.sql", "select 2 as x\n");
    p.write("models/report.sql", "select 3 as x\n");
    p.write("tests/fixtures/expected.sql", "select 'not a test' as x\n");
    p.write(
        "tests/no_rows.sql",
        "select * from {{ ref('keep') }} where x <> 1\n",
    );
    p.write(
        ".dbtignore",
        "# drafts and fixtures\nmodels/scratch/\nold_*.sql\ntests/fixtures/\n",
    );
    let ls = p.strata(&["ls", "--output", "path"]);
    ls.assert_ok();
    let mut paths: Vec<&str> = ls.stdout.lines().collect();
    paths.sort();
    assert_eq!(
        paths,
        ["models/keep.sql", "models/report.sql", "tests/no_rows.sql"]
    );
    p.strata(&["build"]).assert_ok();

    // Without the ignore file the draft is back, and its broken SQL fails the compile.
    p.remove(".dbtignore");
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("models/scratch/draft.sql");
}

/// `.dbtignore` patterns are paths from the project root even when `model-paths` is
/// written `./models` (dbt drops the leading `./`).
#[test]
fn dbtignore_matches_with_dot_slash_model_paths() {
    let p = TestProject::new("ign2", "model-paths: [\"./models\"]\n");
    p.write("models/keep/k.sql", "select 1 as x\n");
    p.write("models/staging/s.sql", "select 2 as x\n");
    p.write(".dbtignore", "models/staging/\n");
    let ls = p.strata(&["ls", "--output", "path"]);
    ls.assert_ok();
    assert_eq!(ls.stdout.lines().collect::<Vec<_>>(), ["models/keep/k.sql"]);
}

/// As in dbt: a generic test inherits its column's tags (and a source's), and
/// `test_type:data` is every data test, singular and generic.
#[test]
fn tests_inherit_column_and_source_tags_and_data_means_all_data_tests() {
    let p = TestProject::new("tt", "");
    p.write("models/m.sql", "select 1 as id\n");
    p.write(
        "tests/one_row.sql",
        "select * from {{ ref('m') }} where false\n",
    );
    p.write(
        "models/s.yml",
        "version: 2\nmodels:\n  - name: m\n    tags: [model_tag]\n    columns:\n      - name: id\n        tags: [col_tag]\n        data_tests: [unique, {not_null: {config: {tags: [own]}}}]\n\
         sources:\n  - name: raw\n    tags: [src_tag]\n    tables:\n      - name: t\n        columns:\n          - name: id\n            data_tests: [unique]\n",
    );
    assert_eq!(ls(&p, &["-s", "tag:col_tag"]), "not_null_m_id unique_m_id");
    assert_eq!(ls(&p, &["-s", "tag:own"]), "not_null_m_id");
    assert_eq!(
        ls(&p, &["-s", "tag:src_tag", "--resource-type", "test"]),
        "source_unique_raw_t_id"
    );
    assert_eq!(
        ls(&p, &["-s", "test_type:data"]),
        "not_null_m_id one_row source_unique_raw_t_id unique_m_id"
    );
    assert_eq!(ls(&p, &["-s", "test_type:singular"]), "one_row");
}

/// dbt's `--resource-type` / `--exclude-resource-type` on build (types Strata does not
/// have, such as unit_test, select nothing).
#[test]
fn build_by_resource_type() {
    let p = TestProject::new("rt", "");
    p.write("seeds/s.csv", "id\n1\n");
    p.write("models/m.sql", "select * from {{ ref('s') }}\n");
    p.write(
        "models/x.yml",
        "version: 2\nmodels:\n  - name: m\n    columns: [{name: id, data_tests: [unique]}]\n",
    );
    let ran = |args: &[&str]| {
        let mut all = vec!["build"];
        all.extend_from_slice(args);
        p.strata(&all).assert_ok();
        let v: serde_json::Value =
            serde_json::from_str(&p.read("target/run_results.json")).expect("json");
        let mut ids: Vec<String> = v["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                r["unique_id"]
                    .as_str()
                    .unwrap_or_default()
                    .split('.')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        ids.sort();
        ids.join(",")
    };
    assert_eq!(ran(&[]), "model,seed,test");
    assert_eq!(ran(&["--resource-type", "seed", "model"]), "model,seed");
    assert_eq!(ran(&["--exclude-resource-type", "test"]), "model,seed");
    assert_eq!(
        ran(&["--exclude-resource-type", "unit_test"]),
        "model,seed,test"
    );
    p.strata(&["build", "--resource-type", "unit_test"])
        .assert_ok()
        .assert_contains("Nothing to do");
    p.strata(&["build", "--resource-type", "widget"])
        .assert_code(2)
        .assert_contains("--resource-type: unknown resource type 'widget'");
    // ls takes the same names.
    assert_eq!(ls(&p, &["--resource-type", "unit_test"]), "");
    assert_eq!(ls(&p, &["--exclude-resource-type", "test", "seed"]), "m");
}
