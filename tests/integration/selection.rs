//! Node selection through `strata ls` and `strata run`.

use crate::common::{ls_names as ls, TestProject};

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
        .assert_contains("exactly one model or snapshot (2 matched)");
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

/// a <- b, a relationships test from b to a (two parents), one test on each model.
fn tested_pair() -> TestProject {
    let p = TestProject::new("pair", "");
    p.write("models/a.sql", "select 1 as id\n");
    p.write("models/b.sql", "select id from {{ ref('a') }}\n");
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n        data_tests: [not_null]\n  - name: b\n    columns:\n      - name: id\n        data_tests:\n          - unique\n          - relationships: {to: ref('a'), field: id}\n",
    );
    p
}

const REL: &str = "relationships_b_id__id__ref_a_";

/// dbt's `--indirect-selection` (and DBT_INDIRECT_SELECTION): which tests come along.
#[test]
fn indirect_selection_modes() {
    let p = tested_pair();
    let tests = |args: &[&str]| ls(&p, &[args, &["--resource-type", "test"]].concat());
    // eager: any parent selected.
    assert_eq!(tests(&["-s", "a"]), format!("not_null_a_id {REL}"));
    // cautious: every parent selected, also when they come from two selectors.
    assert_eq!(
        tests(&["-s", "a", "--indirect-selection", "cautious"]),
        "not_null_a_id"
    );
    assert_eq!(
        tests(&["-s", "a", "b", "--indirect-selection", "cautious"]),
        format!("not_null_a_id {REL} unique_b_id")
    );
    // buildable: parents selected or upstream of the selection (a is upstream of b).
    assert_eq!(
        tests(&["-s", "b", "--indirect-selection", "cautious"]),
        "unique_b_id"
    );
    assert_eq!(
        tests(&["-s", "b", "--indirect-selection", "buildable"]),
        format!("{REL} unique_b_id")
    );
    assert_eq!(tests(&["-s", "a", "--indirect-selection", "empty"]), "");
    // Excluding a model takes its tests along, the two-parent one too (eager).
    assert_eq!(tests(&["-s", "a", "b", "--exclude", "a"]), "unique_b_id");
    assert_eq!(tests(&["--exclude", "b"]), "not_null_a_id");
    // From the environment, as dbt reads it.
    let r = p.strata_env(
        &[
            "ls",
            "--output",
            "name",
            "-s",
            "a",
            "--resource-type",
            "test",
        ],
        &[("DBT_INDIRECT_SELECTION", "cautious")],
    );
    r.assert_ok();
    assert_eq!(r.stdout.trim(), "not_null_a_id");
    p.strata_env(&["ls"], &[("DBT_INDIRECT_SELECTION", "lazy")])
        .assert_code(2)
        .assert_contains("DBT_INDIRECT_SELECTION=\"lazy\": expected eager, cautious");
    // And it changes what `test` runs.
    p.strata(&["run"]).assert_ok();
    let r = p.strata(&["test", "-s", "a", "--indirect-selection", "cautious"]);
    r.assert_ok();
    assert!(
        r.stdout.contains("not_null_a_id") && !r.stdout.contains(REL),
        "{}",
        r.stdout
    );
}

/// `--selector` reads selectors.yml (union, intersection, exclude, selector references,
/// graph flags, per-selector indirect_selection, `default: true`).
#[test]
fn selectors_file() {
    let p = tested_pair();
    p.write(
        "models/c.sql",
        "{{ config(tags=['nightly']) }}\nselect * from {{ ref('b') }}\n",
    );
    p.write(
        "selectors.yml",
        r#"
selectors:
  - name: upstream_of_c
    definition:
      method: fqn
      value: c
      parents: true
      indirect_selection: empty
  - name: b_and_below_but_not_c
    definition:
      union:
        - "b+"
        - exclude:
            - tag: nightly
  - name: c_and_upstream
    default: true
    definition:
      intersection:
        - selector: upstream_of_c
        - method: fqn
          value: a
          children: true
"#,
    );
    assert_eq!(ls(&p, &["--selector", "upstream_of_c"]), "a b c");
    assert_eq!(
        ls(&p, &["--selector", "b_and_below_but_not_c"]),
        format!("b {REL} unique_b_id")
    );
    // With no selection the default selector applies; --select replaces it.
    assert_eq!(ls(&p, &[]), "a b c");
    assert_eq!(ls(&p, &["-s", "a"]), format!("a not_null_a_id {REL}"));
    // run uses it too.
    p.strata(&["run", "-s", "a"]).assert_ok();
    let r = p.strata(&["run", "--selector", "b_and_below_but_not_c"]);
    r.assert_ok().assert_contains("model main.b");
    assert!(!r.stdout.contains("main.c "), "{}", r.stdout);
    p.strata(&["ls", "--selector", "nope"])
        .assert_code(2)
        .assert_contains("--selector nope: no selector of that name in selectors.yml (it has: b_and_below_but_not_c, c_and_upstream, upstream_of_c)");
    // As dbt: --selector wins over --select/--exclude, with a warning.
    let r = p.strata(&[
        "ls",
        "--output",
        "name",
        "--selector",
        "upstream_of_c",
        "-s",
        "a",
    ]);
    r.assert_ok().assert_contains(
        "[WARNING]: The --select and --exclude arguments are being ignored because --selector is provided",
    );
    assert_eq!(
        r.stdout.split_whitespace().collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    // The default selector is named on standard error, not in the listing.
    let r = p.strata(&["ls", "--output", "name"]);
    assert!(
        r.stderr.contains("Using default selector c_and_upstream"),
        "{}",
        r.stderr
    );
    p.write("selectors.yml", "selectors:\n  - name: x\n    definition:\n      union: [a, {exclude: [b]}, {exclude: [c]}]\n");
    p.strata(&["ls"]).assert_code(2).assert_contains(
        "selectors.yml: selector 'x': more than one `exclude` in one `union` list",
    );
}

/// dbt warns about a selection word that matches nothing; --warn-error makes it an error.
#[test]
fn a_selector_that_matches_nothing_is_reported() {
    let p = tested_pair();
    let r = p.strata(&["ls", "-s", "a", "tag:nothing_has_it"]);
    r.assert_ok();
    assert!(
        r.stderr.contains("[WARNING]: The selection criterion 'tag:nothing_has_it' does not match any enabled nodes"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("pair.a"), "{}", r.stdout);
    p.strata(&["--warn-error", "run", "-s", "tag:nothing_has_it"])
        .assert_code(2)
        .assert_contains("made an error by --warn-error");
}

/// Exposures: listed as dbt lists them and selectable (`+exposure:x` builds what a
/// dashboard reads); nothing runs them.
#[test]
fn exposures_are_listed_and_select_what_they_read() {
    let p = project();
    p.write(
        "models/marts/exposures.yml",
        "version: 2\nexposures:\n  - name: kpis\n    type: dashboard\n    owner: {name: Data, email: d@example.com}\n    tags: [bi]\n    depends_on:\n      - ref('mart_a')\n      - \"source('land', 'events')\"\n  - name: retired\n    type: notebook\n    owner: {email: d@example.com}\n    config: {enabled: false}\n    depends_on: [ref('other')]\n",
    );
    let r = p.strata(&["ls", "--resource-type", "exposure"]);
    r.assert_ok();
    assert_eq!(r.stdout.trim(), "exposure:sel.kpis");
    assert_eq!(
        ls(
            &p,
            &["-s", "+exposure:kpis", "--resource-type", "model", "seed"]
        ),
        "mart_a raw stg_a"
    );
    assert_eq!(ls(&p, &["-s", "tag:bi"]), "kpis");
    assert_eq!(ls(&p, &["-s", "path:models/marts/exposures.yml"]), "kpis");
    assert_eq!(
        ls(&p, &["-s", "mart_a+", "--resource-type", "exposure"]),
        "kpis"
    );
    assert_eq!(
        ls(
            &p,
            &[
                "-s",
                "+exposure:kpis",
                "--exclude-resource-type",
                "exposure",
                "test",
                "source"
            ]
        ),
        "mart_a raw stg_a"
    );
    let r = p.strata(&["build", "-s", "+exposure:kpis"]);
    r.assert_ok().assert_contains("PASS=4"); // raw, stg_a, mart_a, its not_null test
    let manifest: serde_json::Value =
        serde_json::from_str(&p.read("target/manifest.json")).expect("manifest");
    let e = &manifest["exposures"]["exposure.sel.kpis"];
    assert_eq!(
        e["depends_on"]["nodes"],
        serde_json::json!(["model.sel.mart_a", "source.sel.land.events"])
    );
    assert_eq!(e["fqn"], serde_json::json!(["sel", "marts", "kpis"]));
    assert_eq!(e["owner"]["email"], "d@example.com");
    assert!(manifest["exposures"].get("exposure.sel.retired").is_none());
    // A name that is no model is an error naming the file; a disabled one a warning.
    p.write(
        "models/marts/exposures.yml",
        "version: 2\nexposures:\n  - name: kpis\n    type: dashboard\n    owner: {email: d@example.com}\n    depends_on: [ref('mart_typo')]\n",
    );
    p.strata(&["ls"])
        .assert_code(2)
        .assert_contains("models/marts/exposures.yml")
        .assert_contains(
            "exposure 'kpis' depends on 'mart_typo', which is not a model, seed or snapshot",
        );
    p.write(
        "models/marts/exposures.yml",
        "version: 2\nexposures:\n  - name: kpis\n    type: dashboard\n    owner: {email: d@example.com}\n    depends_on: [mart_a]\n",
    );
    p.strata(&["ls"])
        .assert_code(2)
        .assert_contains("depends_on entry \"mart_a\" is not ref('...')");
    p.write(
        "models/other.sql",
        "{{ config(enabled=false) }}\nselect 1 as x\n",
    );
    p.write(
        "models/marts/exposures.yml",
        "version: 2\nexposures:\n  - name: kpis\n    type: dashboard\n    owner: {email: d@example.com}\n    depends_on: [ref('other')]\n",
    );
    let r = p.strata(&["ls", "--resource-type", "exposure"]);
    r.assert_ok()
        .assert_contains("exposure 'kpis' depends on 'other', which is disabled");
    assert_eq!(r.stdout.trim(), "");
}

/// As dbt: nothing to run is a warning (an error under --warn-error or
/// --warn-error-options), and run_results.json is rewritten with no results.
#[test]
fn nothing_to_do_is_reported_and_run_results_rewritten() {
    let p = tested_pair();
    p.strata(&["build"]).assert_ok();
    let results = |p: &TestProject| -> usize {
        let v: serde_json::Value =
            serde_json::from_str(&p.read("target/run_results.json")).expect("run_results");
        v["results"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(results(&p), 5);
    // `a` is a model: `test -s a,resource_type:model` selects nothing to test.
    let r = p.strata(&[
        "test",
        "-s",
        "a,resource_type:model",
        "--indirect-selection",
        "empty",
    ]);
    r.assert_ok().assert_contains(
        "[WARNING]: Nothing to do. Try checking your model configs and model specification args",
    );
    assert_eq!(results(&p), 0);
    p.strata(&[
        "--warn-error",
        "test",
        "-s",
        "a",
        "--indirect-selection",
        "empty",
    ])
    .assert_code(2)
    .assert_contains("Nothing to do");
    p.strata(&[
        "test",
        "-s",
        "a",
        "--indirect-selection",
        "empty",
        "--warn-error-options",
        "{error: [NothingToDo]}",
    ])
    .assert_code(2);
    // Named warnings can stay warnings under error: all.
    p.strata(&[
        "ls",
        "-s",
        "nosuch",
        "--warn-error-options",
        "{error: all, warn: [NoNodesForSelectionCriteria, NoNodesSelected]}",
    ])
    .assert_ok()
    .assert_contains("[WARNING]: No nodes selected!");
    p.strata(&["ls", "-s", "nosuch", "--warn-error-options", "{error: all}"])
        .assert_code(2);
    p.strata(&["ls", "--warn-error-options", "{errors: all}"])
        .assert_code(2)
        .assert_contains("--warn-error-options: unknown key 'errors'");
}

/// `path:`/`file:` reach generic tests by the YAML that defines them, and a YAML path the
/// nodes it describes (dbt's patch path).
#[test]
fn path_selects_by_yaml_too() {
    let p = tested_pair();
    assert_eq!(
        ls(
            &p,
            &["-s", "file:schema.yml", "--indirect-selection", "empty"]
        ),
        format!("not_null_a_id {REL} unique_b_id")
    );
    assert_eq!(
        ls(
            &p,
            &[
                "-s",
                "path:models/schema.yml",
                "--indirect-selection",
                "empty"
            ]
        ),
        format!("a b not_null_a_id {REL} unique_b_id")
    );
}

/// Exposures take tags and meta from their config and the project file's exposures:
/// tree; their type and owner are checked; depends_on may name unique ids.
#[test]
fn exposure_config_and_checks() {
    let p = TestProject::new("ex", "exposures:\n  ex:\n    +tags: [from_project]\n");
    p.write("models/a.sql", "select 1 as id\n");
    p.write(
        "models/exposures.yml",
        "version: 2\nexposures:\n  - name: board\n    type: ml\n    owner: {name: DS}\n    config: {tags: [ml], meta: {team: ds}}\n    depends_on: [model.ex.a]\n",
    );
    assert_eq!(ls(&p, &["-s", "tag:ml"]), "board");
    assert_eq!(ls(&p, &["-s", "tag:from_project"]), "board");
    assert_eq!(ls(&p, &["-s", "+exposure:board"]), "a board");
    p.write(
        "models/exposures.yml",
        "version: 2\nexposures:\n  - name: board\n    type: nope\n    owner: {name: DS}\n    depends_on: [ref('a')]\n",
    );
    p.strata(&["ls"])
        .assert_code(2)
        .assert_contains("exposure 'board': type \"nope\": expected one of dashboard, notebook, analysis, ml, application");
    p.write(
        "models/exposures.yml",
        "version: 2\nexposures:\n  - name: board\n    type: dashboard\n    owner: {}\n    depends_on: [ref('a')]\n",
    );
    p.strata(&["ls"])
        .assert_code(2)
        .assert_contains("exposure 'board': owner needs a name or an email");
}
