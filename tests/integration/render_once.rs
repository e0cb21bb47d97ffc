//! Rendering each template once: the parse render is kept for compile when nothing in it can
//! differ at compile time (src/compile/reuse.rs). What matters is that the compiled SQL is the
//! same as rendering again; `STRATA_RENDER_TWICE=1` turns the keeping off to compare.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{copy_tree, reference_copy, repo_root, TestProject};

/// Every file under `dir`, by path relative to it.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(dir).expect("rel");
            let text = std::fs::read_to_string(entry.path()).expect("read");
            out.insert(rel.display().to_string(), text);
        }
    }
    out
}

/// (compiled files, renders kept) for `strata compile`, with or without keeping renders.
fn compile(p: &TestProject, render_twice: bool) -> (BTreeMap<String, String>, usize) {
    let compiled = p.path().join("target/compiled");
    let _ = std::fs::remove_dir_all(&compiled);
    let mut env = vec![("STRATA_PROFILE", "1")];
    if render_twice {
        env.push(("STRATA_RENDER_TWICE", "1"));
    }
    let run = p.strata_env(&["compile"], &env);
    run.assert_ok();
    let kept = run
        .stderr
        .lines()
        .find_map(|l| {
            let rest = l.split("phase parse (").nth(1)?;
            rest.split(' ').next()?.parse::<usize>().ok()
        })
        .unwrap_or_else(|| panic!("no parse phase line:\n{}", run.stderr));
    (tree(&compiled), kept)
}

fn same_sql_either_way(p: &TestProject) -> usize {
    let (twice, none_kept) = compile(p, true);
    assert_eq!(none_kept, 0);
    let (once, kept) = compile(p, false);
    assert!(!once.is_empty());
    assert_eq!(
        once.keys().collect::<Vec<_>>(),
        twice.keys().collect::<Vec<_>>()
    );
    for (path, sql) in &once {
        assert_eq!(
            sql, &twice[path],
            "{path} differs when its parse render is kept"
        );
    }
    kept
}

#[test]
fn the_reference_project_compiles_to_the_same_sql() {
    let p = reference_copy();
    let kept = same_sql_either_way(&p);
    // Most of it is plain refs and tests; bronze reads the warehouse (high_watermark).
    assert!(kept > 50, "only {kept} renders kept");
}

#[test]
fn jaffle_shop_compiles_to_the_same_sql() {
    let p = TestProject::empty();
    copy_tree(&repo_root().join("examples/jaffle_shop"), p.path(), &|_| {
        true
    });
    let kept = same_sql_either_way(&p);
    assert!(kept > 10, "only {kept} renders kept");
}

#[test]
fn what_only_compile_time_knows_is_rendered_again() {
    let p = TestProject::new("once", "");
    // Kept: plain refs, and what is exact at parse time because refs and `this` answer with
    // the relations (checked after parse).
    p.write("models/a.sql", "select 1 as id\n");
    p.write("models/b.sql", "select * from {{ ref('a') }}\n");
    p.write(
        "models/g.sql",
        "{{ config(materialized='ephemeral') }}\nselect 2 as id\n",
    );
    p.write("models/h.sql", "select * from {{ ref('g') }}\n");
    // An ephemeral model known as one before parsing (YAML config) keeps its render, and so
    // does the model that inlines it.
    p.write("models/g2.sql", "select 3 as id\n");
    p.write(
        "models/props.yml",
        "version: 2\nmodels:\n  - name: g2\n    config: {materialized: ephemeral}\n",
    );
    p.write("models/h2.sql", "select * from {{ ref('g2') }}\n");
    // Rendered again: is_incremental(), config read after a config() call, run_query,
    // `execute`.
    p.write(
        "models/c.sql",
        "select '{{ this }}' as me from {{ ref('a') }}\n",
    );
    p.write(
        "models/d.sql",
        "{{ config(materialized='incremental') }}\nselect * from {{ ref('a') }}\n\
         {% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}\n",
    );
    p.write(
        "models/e.sql",
        "select '{{ ref(\"a\").identifier }}' as n\n",
    );
    p.write(
        "models/f.sql",
        "{{ config(alias='eff') }}\nselect '{{ config.get(\"alias\") }}' as alias_name\n",
    );
    p.write(
        "models/q.sql",
        "{% set r = run_query('select 41 + 1') %}\nselect {{ r.rows[0][0] if r else 0 }} as answer\n",
    );
    p.write(
        "models/x.sql",
        "select {{ 1 if execute else 0 }} as executed\n",
    );
    // Kept as well: string work on a ref sees the real relation's text.
    p.write(
        "models/u.sql",
        "select '{{ ref(\"a\") | replace(\'\"\', \'\') | upper }}' as bare\n",
    );
    p.write(
        "models/w.sql",
        "select '{{ \"in \" ~ ref(\"a\") }}' as joined\n",
    );
    let kept = same_sql_either_way(&p);
    // g turns ephemeral in its own file, so the relation h saw at parse time is not the one
    // compile gives it: both render again, like d, f, q and x.
    assert_eq!(kept, 8, "a, b, c, e, u, w, g2 and h2");

    p.strata(&["build"]).assert_ok();
    let me = p.scalar("once", "select me from c");
    assert!(me.contains("\"c\""), "this renders the real relation: {me}");
    assert_eq!(p.scalar("once", "select n from e"), "a");
    assert_eq!(p.scalar("once", "select alias_name from eff"), "eff");
    assert_eq!(p.scalar("once", "select answer from q"), "42");
    assert_eq!(p.scalar("once", "select executed from x"), "1");
    assert_eq!(p.scalar("once", "select id from h"), "2");
    assert_eq!(p.scalar("once", "select id from h2"), "3");
    assert!(p
        .read("target/compiled/once/models/h2.sql")
        .contains("__dbt__cte__g2"));
    let a = p
        .scalar("once", "select me from c")
        .replace("\"c\"", "\"a\"");
    assert_eq!(
        p.scalar("once", "select bare from u"),
        a.replace('"', "").to_uppercase()
    );
    assert_eq!(p.scalar("once", "select joined from w"), format!("in {a}"));
}

/// Whatever a template does with a ref's text, a kept render must equal a second render,
/// including when an in-file config() renames the model after others saw its name.
#[test]
fn string_work_on_refs_and_renamed_models_compile_like_a_second_render() {
    let p = TestProject::new("strs", "");
    p.write("models/a.sql", "select 1 as id, 'x' as name\n");
    // A generic test's `model` is a relation, as in dbt (which refuses `model.split`): string
    // work on it goes through `| string`.
    p.write(
        "macros/rel.sql",
        "{% macro rel(x) %}{{ x }}{% endmacro %}\n\
         {% test named(model, column_name) %}\n\
         select * from {{ model }} where '{{ (model | string).split('.') | last }}' = 'nope'\n\
         {% endtest %}\n",
    );
    let cases = [
        ("set_block", "{% set r %}{{ ref('a') }}{% endset %}select '{{ r | replace('\"', '') }}' as v"),
        ("method", "{% set r %}{{ ref('a') }}{% endset %}select '{{ r.replace('\"', '') }}' as v"),
        ("filter_block", "{% filter replace('\"', '') %}select 1 as v from {{ ref('a') }}{% endfilter %}"),
        ("macro_output", "select '{{ rel(ref('a')) | replace('\"', '') }}' as v"),
        ("tojson", "{% set r %}{{ ref('a') }}{% endset %}select 1 as v -- {{ r | tojson }}"),
        ("lower", "{% set r %}{{ ref('a') }}{% endset %}select '{{ r | lower | replace('\"', '') }}' as v"),
        ("length", "{% set r %}{{ ref('a') }}{% endset %}select {{ r | length }} as v"),
        ("slice", "{% set r %}{{ ref('a') }}{% endset %}select '{{ r[:6] | replace('\"', '') }}' as v"),
        ("split", "select '{{ (ref('a') | string).split('.') | last | replace('\"', '') }}' as v"),
        ("contains", "{% set r %}{{ ref('a') }}{% endset %}select {{ 1 if '\"' in r else 0 }} as v"),
        ("iterable", "select {{ 1 if ref('a') is iterable else 0 }} as v"),
        ("model_mapping", "select {{ 1 if model is mapping else 0 }} as v"),
        ("renamed", "{{ config(alias='renamed') }}select 7 as v"),
        ("uses_renamed", "select v from {{ ref('renamed_source') }}"),
        ("renamed_source", "{{ config(alias='elsewhere') }}select 8 as v"),
        // A table by its own file (views by default); a model that reads its kind at parse
        // time saw a view, so it must render again.
        ("a_table", "{{ config(materialized='table') }}select 9 as v"),
        ("kind_of_table", "select '{{ ref('a_table').type }}' as v"),
    ];
    for (name, sql) in cases {
        p.write(&format!("models/{name}.sql"), &format!("{sql}\n"));
    }
    p.write(
        "models/props.yml",
        "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: name\n        tests: [named]\n",
    );
    p.write(
        "tests/this_is_none.sql",
        "select 1 as failure where {{ 'false' if this is none else 'true' }}\n",
    );
    same_sql_either_way(&p);
    let uses = p.read("target/compiled/strs/models/uses_renamed.sql");
    assert!(uses.contains("\"elsewhere\""), "{uses}");
    p.strata(&["build"]).assert_ok();
    assert_eq!(p.scalar("strs", "select v from set_block"), "strs.main.a");
    assert_eq!(p.scalar("strs", "select v from uses_renamed"), "8");
    assert_eq!(p.scalar("strs", "select v from kind_of_table"), "table");
}
