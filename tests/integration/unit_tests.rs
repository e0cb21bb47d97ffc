//! Unit tests (dbt 1.8 `unit_tests:`): a model run on fixture rows and compared with the
//! expected rows, before the model is built.

use crate::common::{flat, TestProject};

fn project() -> TestProject {
    let p = TestProject::new("ut", "");
    p.write("seeds/factors.csv", "k,f\na,3\n");
    p.write(
        "models/stg.sql",
        "select 1 as id, 'a@x.com' as email, 10 as amount\n",
    );
    p.write(
        "models/dim.sql",
        "select s.id, s.email, s.amount * {{ var('factor', 2) }} as doubled, s.email like '%@%' as valid, f.f\nfrom {{ ref('stg') }} s left join {{ ref('factors') }} f on true\n",
    );
    p.write(
        "models/ut.yml",
        r#"version: 2
unit_tests:
  - name: doubles
    model: dim
    given:
      - input: ref('stg')
        rows:
          - {id: 1, amount: 5, email: a@b}
          - {id: 2, amount: 7}
      - input: ref('factors')
        format: csv
        rows: |
          k,f
          z,9
    expect:
      rows:
        - {id: 1, doubled: 10, valid: true, f: 9}
        - {id: 2, doubled: 14, valid: null, f: 9}
  - name: with_vars
    model: dim
    overrides:
      vars: {factor: 3}
    given:
      - input: ref('stg')
        rows: [{id: 1, amount: 5}]
      - input: ref('factors')
        rows: []
    expect:
      rows: [{id: 1, doubled: 15, f: null}]
"#,
    );
    p
}

#[test]
fn unit_tests_compare_the_model_on_fixtures_with_the_expected_rows() {
    let p = project();
    let r = p.strata(&["build"]);
    r.assert_ok()
        .assert_contains("START unit_test dim::doubles")
        .assert_contains("PASS dim::with_vars")
        .assert_contains("PASS=5");
    // The fixtures' types are the real inputs' (id INTEGER, email VARCHAR, f BIGINT).
    let compiled = p.read("target/compiled/ut/models/ut.yml/models/doubles.sql");
    assert!(
        compiled.contains(r#"cast(5 as INTEGER) as "amount""#),
        "{compiled}"
    );
    assert!(
        compiled.contains(r#"cast(null as VARCHAR) as "email""#),
        "{compiled}"
    );
    let r = p.strata(&["ls", "--resource-type", "unit_test"]);
    assert_eq!(
        r.stdout.trim(),
        "unit_test:ut.doubles\nunit_test:ut.with_vars"
    );
    // `run` does not run them; `test -s dim` does (they come with their model).
    p.strata(&["run"]).assert_ok().assert_contains("TOTAL=2");
    p.strata(&["test", "-s", "dim"])
        .assert_ok()
        .assert_contains("PASS=2");
    p.strata(&["test", "-s", "test_type:unit"])
        .assert_ok()
        .assert_contains("PASS=2");
}

#[test]
fn a_failing_unit_test_shows_the_difference_and_skips_its_model() {
    let p = project();
    p.strata(&["build"]).assert_ok();
    // The model changes; the expectation does not.
    p.write(
        "models/dim.sql",
        "select s.id, s.email, s.amount * 2 + 1 as doubled, s.email like '%@%' as valid, f.f\nfrom {{ ref('stg') }} s left join {{ ref('factors') }} f on true\n",
    );
    let r = p.strata(&["build", "-s", "dim"]);
    r.assert_code(1)
        .assert_contains("FAIL 2 dim::doubles")
        .assert_contains("actual differs from expected:")
        .assert_contains("+  | 1 | 10 | true | 9 |")
        .assert_contains("-  | 1 | 11 | true | 9 |")
        .assert_contains("SKIP");
    // The model was not rebuilt.
    assert_eq!(flat(&p.query("ut", "select doubled from main.dim")), "20");
    // Mistakes are named.
    p.write(
        "models/ut.yml",
        "version: 2\nunit_tests:\n  - name: t\n    model: dim\n    given: [{input: ref('stg'), rows: [{id: 1}]}, {input: ref('factors'), rows: []}]\n    expect: {rows: [{no_such: 1}]}\n",
    );
    p.strata(&["test"]).assert_code(1).assert_contains(
        "unit test 't': expect names column 'no_such', which model 'dim' does not return",
    );
    p.write(
        "models/ut.yml",
        "version: 2\nunit_tests:\n  - name: t\n    model: nope\n    given: []\n    expect: {rows: []}\n",
    );
    p.strata(&["ls"])
        .assert_code(2)
        .assert_contains("unit test 't' is for model 'nope', which is not a model in this project");
}

/// From the review against dbt: fixture files are not singular tests, every input needs
/// rows, an empty expectation means no rows, a fixture column the input lacks is refused,
/// sources without a database are read, `unit_test:` selects, env_vars overrides apply.
#[test]
fn unit_test_inputs_are_checked_as_dbt_checks_them() {
    let p = TestProject::new("ut2", "");
    p.write("seeds/raw_orders.csv", "id,amount\n1,10\n");
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: raw\n    schema: main\n    tables: [{name: raw_orders}]\n",
    );
    p.write(
        "models/orders.sql",
        "select id, amount * 2 as doubled, '{{ env_var('MY_ENV', 'dflt') }}' as e from {{ source('raw', 'raw_orders') }}\n",
    );
    p.write(
        "tests/fixtures/expected_orders.sql",
        "select 1 as id, 10 as doubled\n",
    );
    p.write(
        "models/ut.yml",
        "version: 2\nunit_tests:\n  - name: from_file\n    model: orders\n    overrides: {env_vars: {MY_ENV: hello}}\n    given:\n      - input: source('raw', 'raw_orders')\n        rows: [{id: 1, amount: 5}]\n    expect:\n      format: sql\n      fixture: expected_orders\n  - name: nothing_in\n    model: orders\n    given:\n      - input: source('raw', 'raw_orders')\n        rows: []\n    expect: {rows: []}\n  - name: env\n    model: orders\n    overrides: {env_vars: {MY_ENV: hello}}\n    given:\n      - input: source('raw', 'raw_orders')\n        rows: [{id: 1}]\n    expect: {rows: [{e: hello}]}\n",
    );
    // The source is the seed's table: load it first (nothing links the two in the graph).
    p.strata(&["seed"]).assert_ok();
    let r = p.strata(&["build"]);
    // The seed, unchanged since `seed` loaded it, is reused.
    r.assert_ok()
        .assert_contains("PASS=4")
        .assert_contains("REUSED=1");
    assert!(
        !r.stdout.contains("expected_orders"),
        "a fixture ran as a test:\n{}",
        r.stdout
    );
    assert_eq!(
        crate::common::ls_names(&p, &["-s", "unit_test:nothing*"]),
        "nothing_in"
    );
    p.write(
        "models/ut.yml",
        "version: 2\nunit_tests:\n  - name: no_input\n    model: orders\n    given: []\n    expect: {rows: [{id: 1}]}\n  - name: bad_col\n    model: orders\n    given:\n      - input: source('raw', 'raw_orders')\n        rows: [{nope: 1}]\n    expect: {rows: []}\n",
    );
    p.strata(&["test"])
        .assert_code(1)
        .assert_contains(
            "model 'orders' reads source('raw', 'raw_orders'), which the test gives no rows for",
        )
        .assert_contains(
            "invalid column name 'nope' in the fixture for source('raw', 'raw_orders')",
        );
    // An override Strata does not carry out is refused, not ignored.
    p.write(
        "models/ut.yml",
        "version: 2\nunit_tests:\n  - name: m\n    model: orders\n    overrides: {macros: {cents: 42}}\n    given:\n      - input: source('raw', 'raw_orders')\n        rows: [{id: 1}]\n    expect: {rows: [{id: 1}]}\n",
    );
    p.strata(&["test"])
        .assert_code(1)
        .assert_contains("overrides.macros.cents: only is_incremental can be overridden");
}
