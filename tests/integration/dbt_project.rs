//! A plain dbt project for DuckDB (dbt_project.yml, profiles.yml, seeds, staging views,
//! marts tables, schema.yml with the four generic tests, a doc block) builds unmodified.

use crate::common::{copy_tree, flat, repo_root, TestProject};

#[test]
fn jaffle_shop_builds_unmodified() {
    let p = TestProject::empty();
    copy_tree(&repo_root().join("examples/jaffle_shop"), p.path(), &|_| {
        true
    });
    let r = p.strata(&["build"]);
    r.assert_ok()
        .assert_contains("Found 5 models, 3 seeds, 17 data tests")
        .assert_contains("OK created sql view model main.stg_orders")
        .assert_contains("OK created sql table model main.customers")
        .assert_contains("PASS relationships_orders_customer_id__customer_id__ref_customers_");

    // The profile's path, relative to the project folder.
    let db = p.path().join("jaffle_shop.duckdb");
    let rows = p.query_file(
        &db,
        "select customer_id, number_of_orders, customer_lifetime_value from customers order by customer_id",
    );
    assert_eq!(flat(&rows), "1,2,40.0|2,1,16.0|3,1,20.0|4,2,7.0|5,1,17.0");
    let order4 = p.query_file(
        &db,
        "select coupon_amount, gift_card_amount, amount from orders where order_id = 4",
    );
    assert_eq!(flat(&order4), "25.0,5.0,30.0");
    let kinds = p.query_file(
        &db,
        // Strata's build state (schema strata_state) is its own bookkeeping, not the project's.
        "select table_name, table_type from information_schema.tables \
         where table_schema <> 'strata_state' order by 1",
    );
    assert_eq!(
        flat(&kinds),
        "customers,BASE TABLE|orders,BASE TABLE|raw_customers,BASE TABLE|raw_orders,BASE TABLE|\
         raw_payments,BASE TABLE|stg_customers,VIEW|stg_orders,VIEW|stg_payments,VIEW"
    );

    // Artifacts in dbt's shape.
    let manifest: serde_json::Value =
        serde_json::from_str(&p.read("target/manifest.json")).expect("manifest");
    let status_doc = manifest["nodes"]["model.jaffle_shop.orders"]["columns"]["status"]
        ["description"]
        .as_str()
        .expect("description");
    assert!(
        status_doc.starts_with("Orders can be one of the following statuses:"),
        "{status_doc}"
    );
    assert_eq!(
        manifest["parent_map"]["model.jaffle_shop.customers"],
        serde_json::json!([
            "model.jaffle_shop.stg_customers",
            "model.jaffle_shop.stg_orders",
            "model.jaffle_shop.stg_payments"
        ])
    );
    assert!(manifest["child_map"]["seed.jaffle_shop.raw_orders"]
        .as_array()
        .expect("children")
        .contains(&serde_json::json!("model.jaffle_shop.stg_orders")));
    assert_eq!(
        manifest["nodes"]["model.jaffle_shop.stg_orders"]["config"]["materialized"],
        "view"
    );
    let results: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("results");
    let all = results["results"].as_array().expect("results");
    assert_eq!(all.len(), 25);
    assert!(all
        .iter()
        .all(|r| r["status"] == "success" || r["status"] == "pass"));
    let seed = all
        .iter()
        .find(|r| r["unique_id"] == "seed.jaffle_shop.raw_payments")
        .expect("seed");
    assert_eq!(seed["adapter_response"]["rows_affected"], 8);
    assert!(seed["timing"].as_array().is_some_and(|t| t.len() == 2));
}

/// dbt calls `generate_schema_name(custom_schema_name, node)` and
/// `generate_alias_name(custom_alias_name, node)` with the node; older overrides declare no
/// `node` and are called without it.
#[test]
fn schema_and_alias_macros_get_the_node() {
    let p = TestProject::new("names", "models:\n  names:\n    +materialized: table\n");
    p.write("seeds/s.csv", "id\n1\n");
    p.write("models/x_m.sql", "select 1 as id\n");
    p.write(
        "models/other.sql",
        "{{ config(schema='extra') }}\nselect 2 as id\n",
    );
    p.write(
        "macros/names.sql",
        "{% macro generate_schema_name(custom_schema_name, node) -%}\n\
         {%- if node.resource_type == 'seed' -%}seeds\n\
         {%- elif custom_schema_name is none -%}{{ target.schema }}\n\
         {%- else -%}{{ custom_schema_name | trim }}{%- endif -%}\n\
         {%- endmacro %}\n\
         {% macro generate_alias_name(custom_alias_name=none, node=none) -%}\n\
         {%- if node.name.startswith('x_') -%}{{ node.name[2:] }}\n\
         {%- else -%}{{ custom_alias_name or node.name }}{%- endif -%}\n\
         {%- endmacro %}\n",
    );
    p.strata(&["build"]).assert_ok();
    let tables = "select table_schema || '.' || table_name from information_schema.tables \
                  where table_schema <> 'strata_state' order by 1";
    assert_eq!(
        flat(&p.query("names", tables)),
        "extra.other|main.m|seeds.s"
    );

    let old = TestProject::new("old", "");
    old.write("models/a.sql", "{{ config(schema='x') }}\nselect 1 as id\n");
    old.write(
        "macros/names.sql",
        "{% macro generate_schema_name(custom_schema_name) -%}fixed{%- endmacro %}\n",
    );
    old.strata(&["run"]).assert_ok();
    assert_eq!(flat(&old.query("old", tables)), "fixed.a");

    // dbt passes the arguments by position (any parameter name), and dbt's defaults are
    // there to fall back on.
    let pos = TestProject::new("pos", "");
    pos.write("seeds/s.csv", "id\n1\n");
    pos.write("models/a.sql", "{{ config(schema='x') }}\nselect 1 as id\n");
    pos.write(
        "macros/names.sql",
        "{% macro generate_schema_name(schema_name, node) -%}\n\
         {%- if node.resource_type == 'seed' -%}raw\n\
         {%- else -%}{{ default__generate_schema_name(schema_name, node) }}{%- endif -%}\n\
         {%- endmacro %}\n",
    );
    pos.strata(&["build"]).assert_ok();
    assert_eq!(flat(&pos.query("pos", tables)), "main_x.a|raw.s");
    // The node comes by position too, whatever the parameter's name.
    pos.write(
        "macros/names.sql",
        "{% macro generate_schema_name(schema_override, nd) -%}\n\
         {%- if nd.resource_type == 'seed' -%}raw2{%- else -%}{{ target.schema }}{%- endif -%}\n\
         {%- endmacro %}\n",
    );
    pos.strata(&["build"]).assert_ok();
    assert_eq!(
        flat(&pos.query(
            "pos",
            "select table_schema || '.' || table_name from information_schema.tables \
             where table_schema in ('main', 'raw2') order by 1"
        )),
        "main.a|raw2.s"
    );
}

/// As in dbt: a disabled model takes the generic tests declared on it along; YAML for a
/// model that does not exist is a warning; `data_tests:` in the project file configures
/// tests; generic tests may live in `tests/generic/`.
#[test]
fn disabled_models_stray_properties_project_test_config_and_generic_test_folder() {
    let p = TestProject::new("dis", "data_tests:\n  dis:\n    +severity: warn\n");
    p.write("models/kept.sql", "select 1 as id union all select 3\n");
    p.write(
        "models/gone.sql",
        "{{ config(enabled=false) }}\nselect 1 as id\n",
    );
    p.write(
        "tests/generic/is_even.sql",
        "{% test is_even(model, column_name) %}\n\
         select * from {{ model }} where {{ column_name }} % 2 <> 0\n\
         {% endtest %}\n",
    );
    p.write(
        "models/s.yml",
        "version: 2\nmodels:\n\
         \x20 - name: gone\n    columns: [{name: id, data_tests: [unique]}]\n\
         \x20 - name: not_a_model\n    description: left behind by a rename\n\
         \x20 - name: kept\n    columns: [{name: id, data_tests: [is_even]}]\n",
    );
    let r = p.strata(&["build"]);
    r.assert_code(0)
        .assert_contains("[WARNING]: models/s.yml: properties for 'not_a_model'")
        .assert_contains("WARN 2 is_even_kept_id");
    assert!(!r.output().contains("unique_gone_id"), "{}", r.output());
    assert!(
        !p.path().join("target/compiled/dis/tests/generic").exists(),
        "a generic test definition is not a singular test"
    );

    // A relationships test `to:` the disabled model, and a disabled source's test, are left
    // out (with a warning for the first), as dbt does.
    p.write(
        "models/more.yml",
        "version: 2\nmodels:\n  - name: kept\n    columns: [{name: id, data_tests: [{relationships: {to: ref('gone'), field: id}}]}]\n\
         sources:\n  - name: raw\n    tables:\n      - name: t\n        config: {enabled: false}\n        columns: [{name: id, data_tests: [unique]}]\n",
    );
    let r = p.strata(&["build"]);
    r.assert_code(0)
        .assert_contains("refers to 'gone', which is disabled or not in this project");
    // --warn-error (dbt's flag, before or after the command, or DBT_WARN_ERROR) makes the
    // warning stop the command, as dbt does.
    p.strata(&["--warn-error", "ls"])
        .assert_code(2)
        .assert_contains("made an error by --warn-error");
    p.strata(&["build", "--warn-error"]).assert_code(2);
    p.strata_env(&["ls"], &[("DBT_WARN_ERROR", "true")])
        .assert_code(2);
    assert!(
        !r.output().contains("source_unique_raw_t_id"),
        "{}",
        r.output()
    );
    p.remove("models/more.yml");

    p.write("models/uses_gone.sql", "select * from {{ ref('gone') }}\n");
    p.strata(&["build"])
        .assert_code(2)
        .assert_contains("model 'uses_gone' refers to 'gone', which is disabled");
}

/// Generic tests get dbt's names, unique_ids, file names and fqns (tools and selectors use
/// them): compared with the manifest dbt-core 1.12.6 wrote for the same jaffle_shop
/// (tests/golden/dbt_jaffle_shop_tests.json: unique_id, name, path, fqn), and with the ids
/// dbt gave two source tests.
#[test]
fn generic_test_names_and_ids_match_dbt() {
    let p = TestProject::empty();
    copy_tree(&repo_root().join("examples/jaffle_shop"), p.path(), &|_| {
        true
    });
    p.strata(&["compile"]).assert_ok();
    let manifest: serde_json::Value =
        serde_json::from_str(&p.read("target/manifest.json")).expect("manifest");
    let mut ours: Vec<serde_json::Value> = manifest["nodes"]
        .as_object()
        .expect("nodes")
        .iter()
        .filter(|(_, n)| n["resource_type"] == "test")
        .map(|(id, n)| serde_json::json!([id, n["name"], n["path"], n["fqn"]]))
        .collect();
    ours.sort_by_key(|v| v[0].as_str().unwrap_or_default().to_string());
    let dbt: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/golden/dbt_jaffle_shop_tests.json"))
            .expect("golden"),
    )
    .expect("json");
    assert_eq!(ours, dbt);
    assert!(p
        .path()
        .join("target/compiled/jaffle_shop/models/schema.yml/accepted_values_orders_1ce6ab157c285f7cd2ac656013faf758.sql")
        .exists());

    let s = TestProject::new("p4", "");
    s.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: rawsrc\n    tables:\n      - name: data\n        \
         columns:\n          - name: id\n            data_tests: [unique, not_null]\n",
    );
    let ls = s.strata(&["ls", "--resource-type", "test", "--output", "json"]);
    ls.assert_ok();
    for id in [
        "test.p4.source_unique_rawsrc_data_id.904915b382",
        "test.p4.source_not_null_rawsrc_data_id.dec04d042c",
    ] {
        ls.assert_contains(id);
    }
}

/// `ls` lists what dbt lists, in dbt's order (tests/golden/dbt_jaffle_shop_ls.txt is
/// dbt-core 1.12.6's `dbt ls` of the same project), and `--output json` carries dbt's keys
/// (or those of --output-keys).
#[test]
fn ls_matches_dbt() {
    let p = TestProject::empty();
    copy_tree(&repo_root().join("examples/jaffle_shop"), p.path(), &|_| {
        true
    });
    let ls = p.strata(&["ls"]);
    ls.assert_ok();
    let dbt = std::fs::read_to_string(repo_root().join("tests/golden/dbt_jaffle_shop_ls.txt"))
        .expect("golden");
    assert_eq!(ls.stdout, dbt);

    let json = p.strata(&[
        "ls",
        "-s",
        "orders",
        "--resource-type",
        "model",
        "--output",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(json.stdout.trim()).expect("one object");
    assert_eq!(v["alias"], "orders");
    assert_eq!(v["package_name"], "jaffle_shop");
    assert_eq!(
        v["depends_on"]["nodes"],
        serde_json::json!([
            "model.jaffle_shop.stg_orders",
            "model.jaffle_shop.stg_payments"
        ])
    );
    assert_eq!(v["config"]["materialized"], "table");
    let keys = p.strata(&[
        "ls",
        "-s",
        "orders",
        "--resource-type",
        "model",
        "--output",
        "json",
        "--output-keys",
        "unique_id,name",
    ]);
    assert_eq!(
        keys.stdout.trim(),
        r#"{"unique_id":"model.jaffle_shop.orders","name":"orders"}"#,
        "the keys in the order asked for"
    );
}

/// Jinja2's mutable lists and dicts, as dbt macros use them: `{% do cols.append(x) %}`,
/// `{% do cfg.update({...}) %}`, then `config(**cfg)`; errors keep the file's lines.
#[test]
fn lists_and_dicts_change_in_place_as_in_jinja2() {
    let p = TestProject::new("mut", "");
    p.write(
        "macros/columns.sql",
        "{% macro suffixed(names, suffix) %}\n  {% set out = [] %}\n  {% for n in names %}\n    {% do out.append(n ~ suffix) %}\n  {% endfor %}\n  {{ return(out) }}\n{% endmacro %}\n",
    );
    p.write(
        "models/m.sql",
        "{% set cfg = {'materialized': 'table'} %}\n{% do cfg.update({'tags': ['nightly']}) %}\n{{ config(**cfg) }}\n{% set cols = suffixed(['a', 'b'], '_x') %}\n{% do cols.extend(['c_x']) %}\nselect {% for c in cols %}1 as {{ c }}{{ ',' if not loop.last }} {% endfor %}\n",
    );
    p.strata(&["run"]).assert_ok();
    assert_eq!(
        flat(&p.query("mut", "select * from main.m")),
        "1,1,1",
        "three columns"
    );
    assert_eq!(
        flat(&p.query(
            "mut",
            "select column_name from information_schema.columns where table_name = 'm' order by 1"
        )),
        "a_x|b_x|c_x"
    );
    assert_eq!(
        flat(&p.query(
            "mut",
            "select table_type from information_schema.tables where table_name = 'm'"
        )),
        "BASE TABLE"
    );
    let r = p.strata(&["ls", "-s", "tag:nightly", "--output", "name"]);
    r.assert_ok();
    assert_eq!(r.stdout.trim(), "m");
    // An error after a wrapped literal still points at its own line.
    p.write(
        "models/m.sql",
        "{% set cols = [\n  'a'\n] %}\n{% do cols.remove('zz') %}\nselect 1\n",
    );
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("models/m.sql:4");
}

/// The dbt_utils-style patterns: lists inside namespace() and dicts, setdefault(...).append,
/// grouping into a dict of lists in a macro, a list made by `+`; lists and dicts print as
/// Python prints them.
#[test]
fn nested_and_computed_lists_change_in_place_and_print_as_python() {
    let p = TestProject::new("mut2", "");
    p.write(
        "macros/group.sql",
        "{% macro group_by_prefix(names) %}\n{% set groups = {} %}\n{% for n in names %}\n  {% set key = n[:1] %}\n  {% if key in groups %}{% do groups[key].append(n) %}{% else %}{% do groups.update({key: [n]}) %}{% endif %}\n{% endfor %}\n{{ return(groups) }}\n{% endmacro %}\n",
    );
    p.write(
        "models/m.sql",
        "{% set ns = namespace(items=[]) %}{% for i in range(3) %}{% do ns.items.append(i) %}{% endfor %}\
         {% set d = {} %}{% do d.setdefault('a', []).append(1) %}{% do d.setdefault('a', []).append(3) %}\
         {% set nested = {'a': []} %}{% do nested['a'].append('x') %}\
         {% set more = ns.items + [9] %}{% do more.append(10) %}\
         {% set g = group_by_prefix(['ab', 'ac', 'b']) %}\
         select '{{ ns.items }}' as ns_items, $${{ d }}$$ as d, $${{ nested }}$$ as nested, '{{ more | join(\",\") }}' as more, $${{ g }}$$ as g\n",
    );
    p.strata(&["run"]).assert_ok();
    assert_eq!(
        flat(&p.query("mut2", "select * from main.m")),
        "[0, 1, 2],{'a': [1, 3]},{'a': ['x']},0,1,2,9,10,{'a': ['ab', 'ac'], 'b': ['b']}"
    );
}

/// profiles.yml, dbt_project.yml and selectors.yml as PyYAML writes them (Jinja in single
/// quotes, the quotes inside doubled) load as dbt-core loads them: the YAML parsed first,
/// then each value rendered. Expected: tests/fixtures/pyyaml_quoting/expected.json, from
/// its record.sh (dbt-core 1.12.6 + dbt-duckdb 1.11.1).
#[test]
fn yaml_written_by_pyyaml_loads_as_in_dbt() {
    let fixture = repo_root().join("tests/fixtures/pyyaml_quoting");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture.join("expected.json")).expect("expected.json"),
    )
    .expect("json");
    let p = TestProject::empty();
    copy_tree(&fixture, p.path(), &|path| {
        !path.ends_with("expected.json") && !path.ends_with("record.sh")
    });
    let env = [("YQ_TABLE", "yes"), ("YQ_THREADS", "2")];
    let run = p.strata_env(&["run", "--profiles-dir", "."], &env);
    run.assert_ok().assert_contains(&format!(
        "Concurrency: {} threads (target='dev')",
        expected["threads"]
    ));
    let manifest: serde_json::Value =
        serde_json::from_str(&p.read("target/manifest.json")).expect("manifest");
    let m = &manifest["nodes"]["model.yq.m"];
    assert_eq!(m["config"]["materialized"], expected["materialized"]);
    assert_eq!(m["config"]["tags"], expected["tags"]);
    assert_eq!(m["config"]["meta"], expected["meta"]);
    assert_eq!(
        p.read("target/compiled/yq/models/m.sql").trim_end(),
        expected["compiled_code"].as_str().expect("text")
    );
    let ls = p.strata_env(
        &[
            "ls",
            "--profiles-dir",
            ".",
            "--selector",
            "chosen",
            "--output",
            "name",
        ],
        &env,
    );
    ls.assert_ok();
    let mut names: Vec<&str> = ls.stdout.split_whitespace().collect();
    names.sort();
    assert_eq!(serde_json::json!(names), expected["selector_chosen"]);
}
