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
    // Kept: plain refs, an ephemeral model and the model that inlines it.
    p.write("models/a.sql", "select 1 as id\n");
    p.write("models/b.sql", "select * from {{ ref('a') }}\n");
    p.write(
        "models/g.sql",
        "{{ config(materialized='ephemeral') }}\nselect 2 as id\n",
    );
    p.write("models/h.sql", "select * from {{ ref('g') }}\n");
    // Rendered again: `this`, is_incremental(), a relation's attribute, config read after a
    // config() call, run_query, and `execute`.
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
    // Rendered again too: a ref turned into a string other than by {{ }} (a filter, `~`),
    // whose text would differ once it is the real relation.
    p.write(
        "models/u.sql",
        "select '{{ ref(\"a\") | replace(\'\"\', \'\') | upper }}' as bare\n",
    );
    p.write(
        "models/w.sql",
        "select '{{ \"in \" ~ ref(\"a\") }}' as joined\n",
    );
    let kept = same_sql_either_way(&p);
    assert_eq!(kept, 4, "a, b, g and h only");

    p.strata(&["build"]).assert_ok();
    let me = p.scalar("once", "select me from c");
    assert!(me.contains("\"c\""), "this renders the real relation: {me}");
    assert_eq!(p.scalar("once", "select n from e"), "a");
    assert_eq!(p.scalar("once", "select alias_name from eff"), "eff");
    assert_eq!(p.scalar("once", "select answer from q"), "42");
    assert_eq!(p.scalar("once", "select executed from x"), "1");
    assert_eq!(p.scalar("once", "select id from h"), "2");
    let a = p
        .scalar("once", "select me from c")
        .replace("\"c\"", "\"a\"");
    assert_eq!(
        p.scalar("once", "select bare from u"),
        a.replace('"', "").to_uppercase()
    );
    assert_eq!(p.scalar("once", "select joined from w"), format!("in {a}"));
}
