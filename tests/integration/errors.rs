//! Broken projects get a clear error with file, line and column, exit code 2, and nothing
//! executes.

use crate::common::TestProject;

fn nothing_built(p: &TestProject, project: &str) {
    let db = p.db_path(project);
    if db.exists() {
        let n = p.scalar(
            project,
            "select count(*) from information_schema.tables where table_schema = 'main'",
        );
        assert_eq!(n, "0", "nothing may be built");
    }
}

#[test]
fn a_cycle_names_its_path() {
    let p = TestProject::new("cyc", "");
    p.write("models/a.sql", "select * from {{ ref('c') }}\n");
    p.write("models/b.sql", "select * from {{ ref('a') }}\n");
    p.write("models/c.sql", "select * from {{ ref('b') }}\n");
    p.write("models/d.sql", "select 1 as x\n");
    let r = p.strata(&["run"]);
    r.assert_code(2).assert_contains(
        "dependency cycle: a (models/a.sql) -> b (models/b.sql) -> c (models/c.sql) -> a (models/a.sql)",
    );
    nothing_built(&p, "cyc");
}

#[test]
fn an_unknown_ref_names_file_line_and_the_closest_model() {
    let p = TestProject::new("refs", "");
    p.write("models/customers.sql", "select 1 as id\n");
    p.write(
        "models/orders.sql",
        "select 1 as id\n\nfrom {{ ref('customer') }}\n",
    );
    p.strata(&["compile"]).assert_code(2).assert_contains(
        "models/orders.sql:3:13: model 'orders' refers to 'customer', which is not a model, seed or snapshot in this project (did you mean 'customers'?)",
    );
    let p2 = TestProject::new("srcs", "");
    p2.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: raw\n    tables: [{name: events}]\n",
    );
    p2.write(
        "models/m.sql",
        "select * from {{ source('raw', 'event') }}\n",
    );
    p2.strata(&["compile"])
        .assert_code(2)
        .assert_contains("refers to source 'raw.event'")
        .assert_contains("did you mean 'raw.events'?");
}

#[test]
fn bad_yaml_gives_file_line_and_column() {
    let p = TestProject::new("yml", "");
    p.write("models/m.sql", "select 1 as id\n");
    p.write("models/schema.yml", "version: 2\nmodels:\n  - name: m\n    columns:\n      - name: id\n     description: bad indent\n");
    let r = p.strata(&["run"]);
    r.assert_code(2).assert_contains("models/schema.yml:6:");
    let p = TestProject::empty();
    p.write("project.yml", "name: x\nmodels: [unclosed\n");
    p.strata(&["run"])
        .assert_code(2)
        .assert_contains("error: project.yml:2:9: invalid YAML");
}

#[test]
fn a_jinja_error_points_into_the_template() {
    let p = TestProject::new("jinja", "");
    p.write("models/m.sql", "select 1 as id\n-- line 2\n{% if %}\n");
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("models/m.sql:3: template error: syntax error");
    p.write(
        "models/m.sql",
        "select 1\n{{ exceptions.raise_compiler_error('no good') }}\n",
    );
    p.strata(&["run"])
        .assert_code(2)
        .assert_contains("models/m.sql:2")
        .assert_contains("no good");
    p.write("models/m.sql", "select {{ var('missing_var') }}\n");
    p.strata(&["run"])
        .assert_code(2)
        .assert_contains("required var 'missing_var' not found");
}

#[test]
fn sql_that_does_not_parse_is_reported_before_anything_runs() {
    let p = TestProject::new("parse", "models:\n  parse:\n    +materialized: table\n");
    p.write("models/good.sql", "select 1 as x\n");
    p.write("models/bad.sql", "select 1 as x\nfrom t where x = = 1\n");
    let r = p.strata(&["run"]);
    r.assert_code(2)
        .assert_contains("target/compiled/parse/models/bad.sql:2:")
        .assert_contains("compiled SQL does not parse (duckdb dialect)")
        .assert_contains("syntax error at or near \"=\"");
    nothing_built(&p, "parse");
}

/// A model calling a macro that does not exist does not stop runs that do not select it
/// (dbt's parser lets it through too); a run that selects it stops before anything is
/// executed, naming the file and line.
#[test]
fn an_unknown_macro_only_stops_runs_that_select_its_model() {
    let p = TestProject::new("um", "");
    p.write("models/ok.sql", "select 1 as id\n");
    p.write("models/down.sql", "select * from {{ ref('ok') }}\n");
    p.write("models/v.sql", "select {{ nosuch_macro() }} as a\n");
    p.strata(&["run", "-s", "ok+"]).assert_ok();
    p.strata(&["ls"]).assert_ok().assert_contains("um.v");
    p.strata(&["run"])
        .assert_code(2)
        .assert_contains("models/v.sql:1")
        .assert_contains("unknown function");
}

/// sqlparser does not know all of DuckDB's syntax; what DuckDB's own parser accepts builds
/// (dbt sends it unchecked), and only what DuckDB refuses stops the run.
#[test]
fn duckdb_syntax_sqlparser_does_not_know_still_builds() {
    let p = TestProject::new("ddb", "models:\n  ddb:\n    +materialized: table\n");
    p.write(
        "models/base.sql",
        "select 1 as a, 10 as b union all select 2, 20\n",
    );
    let models = [
        ("comprehension", "select [x * 2 for x in [1, 2, 3]] as l"),
        ("power", "select 2 ** 3 as p"),
        ("positional", "select #1 from {{ ref('base') }}"),
        ("glob", "select 'abc' glob 'a*' as g"),
        ("sampled", "select * from {{ ref('base') }} using sample 100%"),
        (
            "as_of",
            "select l.a, r.b from {{ ref('base') }} as l asof join {{ ref('base') }} as r on l.a >= r.a",
        ),
    ];
    for (name, sql) in models {
        p.write(&format!("models/{name}.sql"), &format!("{sql}\n"));
    }
    p.strata(&["run"]).assert_ok();
    assert_eq!(p.scalar("ddb", "select p from power"), "8.0");
    assert_eq!(p.scalar("ddb", "select count(*) from as_of"), "2");
}

#[test]
fn exit_codes_follow_dbt() {
    let p = TestProject::new("codes", "");
    p.write("models/m.sql", "select 1 as x\n");
    p.strata(&["run"]).assert_code(0);
    p.strata(&["run", "-s", "tag:nothing"])
        .assert_code(0)
        .assert_contains("Nothing to do");
    p.strata(&["run", "-s", "bogus_method:x"])
        .assert_code(2)
        .assert_contains("unknown selector method");
    p.strata(&["run", "--vars", "[1, 2]"])
        .assert_code(2)
        .assert_contains("--vars");
    let none = TestProject::empty();
    none.strata(&["run"])
        .assert_code(2)
        .assert_contains("no project.yml or dbt_project.yml");
}

#[test]
fn a_bad_dbtignore_pattern_names_the_file_and_line() {
    let p = TestProject::new("ign", "");
    p.write("models/a.sql", "select 1 as x\n");
    p.write(
        ".dbtignore",
        "# scratch work\nmodels/scratch/\nmodels/[z-a].sql\n",
    );
    let r = p.strata(&["compile"]);
    r.assert_code(2)
        .assert_contains(".dbtignore")
        .assert_contains("line 3");
    nothing_built(&p, "ign");
}

/// Errors of several files come in file order: the first broken YAML file is the one
/// reported, even when a later file cannot be read at all.
#[test]
fn the_first_broken_yaml_file_is_the_one_reported() {
    let p = TestProject::new("yamls", "");
    p.write("models/m.sql", "select 1 as id\n");
    p.write(
        "models/a.yml",
        "version: 2\nmodels:\n  - name: m\n    columns: [\n",
    );
    std::fs::write(p.path().join("models/z.yml"), b"\xff\xfe not utf-8").expect("write");
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("models/a.yml");
    nothing_built(&p, "yamls");
}

/// With several broken nodes, `compile` names the first in node order (some are compiled
/// while the warehouse opens, the rest after it).
#[test]
fn compile_reports_the_first_broken_node_first() {
    let p = TestProject::new("order", "");
    p.write(
        "models/a_late.sql",
        "{% if execute %}{{ nope() }}{% endif %}select 1 as id\n",
    );
    p.write("models/b_early.sql", "selec 1 as id frm\n");
    let run = p.strata(&["compile"]);
    run.assert_code(2);
    let output = run.output();
    let fatal = output
        .lines()
        .find(|l| l.contains("  error: "))
        .unwrap_or("");
    assert!(fatal.contains("models/a_late.sql"), "{output}");
}

/// An error inside a project macro points at the macro's file and line, and names the model
/// that called it (it used to give the model's file with the macro's line number).
#[test]
fn an_error_in_a_macro_names_the_macro_file_line_and_caller() {
    let p = TestProject::new("macro_err", "");
    p.write(
        "macros/helpers.sql",
        "{% macro fine() %}1{% endmacro %}\n\n{% macro broken() %}\n  {{ nope() }}\n{% endmacro %}\n",
    );
    p.write(
        "models/z.sql",
        "select {{ fine() }} as a, {{ broken() }} as b\n",
    );
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("macros/helpers.sql:4: template error")
        .assert_contains("(in macro broken, called from models/z.sql)");
    nothing_built(&p, "macro_err");
}

/// As dbt 1.12: two tests of one name, or two macros of one name, are refused (which one
/// runs would otherwise be an accident of reading order).
#[test]
fn two_tests_or_two_macros_of_one_name_are_refused() {
    let p = TestProject::new("dup", "");
    p.write("models/a.sql", "select 1 as id\n");
    p.write(
        "models/s.yml",
        "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n        data_tests: [unique, {unique: {config: {severity: warn}}}]\n",
    );
    p.strata(&["ls"])
        .assert_code(2)
        .assert_contains("models/s.yml")
        .assert_contains("two data tests are named 'unique_a_id'");
    p.remove("models/s.yml");
    p.write("macros/one.sql", "{% macro twice() %}1{% endmacro %}\n");
    p.write(
        "tests/generic/two.sql",
        "{% macro twice() %}2{% endmacro %}\n",
    );
    p.strata(&["ls"])
        .assert_code(2)
        .assert_contains("macro 'twice' is defined here and in");
    // A definition inside a Jinja comment is no definition.
    p.write(
        "tests/generic/two.sql",
        "{# old: {% macro twice() %}2{% endmacro %} #}\n",
    );
    p.strata(&["ls"]).assert_ok();

    // Two different tests that happen to share a name are fine (dbt builds them): only the
    // same test twice (same name and arguments, one unique_id) is refused.
    let q = TestProject::new("same", "");
    q.write("models/orders.sql", "select 1 as customer_id\n");
    q.write("models/orders_customer.sql", "select 1 as id\n");
    q.write(
        "models/s.yml",
        "version: 2\nmodels:\n  - name: orders\n    columns: [{name: customer_id, data_tests: [not_null]}]\n\
         \x20 - name: orders_customer\n    columns: [{name: id, data_tests: [not_null]}]\n",
    );
    q.strata(&["build"]).assert_ok().assert_contains("PASS=4");
}

#[test]
fn a_bad_strftime_pattern_is_an_error_not_a_panic() {
    let p = TestProject::new("dates", "");
    p.write(
        "models/m.sql",
        "select '{{ run_started_at.strftime(\"%Q\") }}' as started\n",
    );
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("models/m.sql")
        .assert_contains("strftime: '%Q' is not a valid date format");
}

#[test]
fn multibyte_text_after_with_takes_the_ephemeral_ctes() {
    let p = TestProject::new("cyrillic", "");
    p.write(
        "models/eph.sql",
        "{{ config(materialized='ephemeral') }}\nselect 1 as id\n",
    );
    p.write(
        "models/m.sql",
        "with пользователи as (select * from {{ ref('eph') }})\nselect * from пользователи\n",
    );
    p.strata(&["compile"]).assert_ok();
    let compiled = p.read("target/compiled/cyrillic/models/m.sql");
    assert!(
        compiled.starts_with("with __dbt__cte__eph as (\nselect 1 as id\n), пользователи as ("),
        "{compiled}"
    );
}

/// Each engine names the target from its profile output (the adapters' rules): an Athena
/// output needs a schema, said before any file of the project is read; DuckDB's database is
/// the file's stem and its schema `main` by default.
#[test]
fn a_profile_output_is_named_by_its_engine() {
    let p = TestProject::new("prof", "profile: prof\n");
    p.write("models/m.sql", "select {{ broken\n");
    p.write(
        "profiles.yml",
        "prof:\n  target: dev\n  outputs:\n    dev:\n      type: athena\n      region_name: eu-west-1\n    local:\n      type: duckdb\n      path: wh/store.duckdb\n",
    );
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("profiles.yml:4:5: target 'dev' has no `schema:`");
    p.write("models/m.sql", "select 1 as x\n");
    p.strata(&["debug", "--target", "local"])
        .assert_ok()
        .assert_contains("target: local (type duckdb, database store, schema main)");
}

#[test]
fn config_errors_about_a_yaml_key_give_its_line_and_column() {
    let p = TestProject::empty();
    p.write("project.yml", "# a project\nname: ''\n");
    p.strata(&["run"])
        .assert_code(2)
        .assert_contains("error: project.yml:2:1: `name` must not be empty");

    let p = TestProject::new("tests_yml", "");
    p.write("models/m.sql", "select 1 as id\n");
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: m\n    columns:\n      - name: id\n        data_tests:\n          - unique\n          - accepted_values: [a, b]\n",
    );
    p.strata(&["run"])
        .assert_code(2)
        .assert_contains("models/schema.yml:8:13: test 'accepted_values' needs a map of arguments");

    let p = TestProject::new("exposed", "");
    p.write("models/a.sql", "select 1 as id\n");
    p.write(
        "models/exposures.yml",
        "version: 2\nexposures:\n  - name: board\n    type: nope\n    owner: {name: DS}\n",
    );
    p.strata(&["ls"]).assert_code(2).assert_contains(
        "models/exposures.yml:4:5: exposure 'board': type \"nope\": expected one of",
    );

    let p = TestProject::new("profiled", "profile: prof\n");
    p.write("models/a.sql", "select 1 as id\n");
    p.write(
        "profiles.yml",
        "prof:\n  target: dev\n  outputs:\n    dev:\n      path: x.duckdb\n",
    );
    p.strata(&["ls"])
        .assert_code(2)
        .assert_contains("profiles.yml:4:5: target 'dev' has no `type:`");

    // A key written in flow style is not looked for: the error names the file only.
    let p = TestProject::new("flow", "");
    p.write("models/m.sql", "select 1 as id\n");
    p.write(
        "models/schema.yml",
        "version: 2\nmodels: [{name: m, data_tests: [{accepted_values: [a]}]}]\n",
    );
    p.strata(&["run"]).assert_code(2).assert_contains(
        "error: models/schema.yml: test 'accepted_values' needs a map of arguments",
    );
}
