//! `target/partial_parse/` (src/memo.rs): what a run remembers for the next one. A remembered
//! answer must be the answer the work gives: the same compiled files and manifest, and every
//! edit seen (YAML, SQL, a compiled file changed by hand).

use crate::common::{reference_copy, Run, TestProject};
use std::collections::BTreeMap;

/// The count in a `STRATA_PROFILE=1` phase line: `... (<n> <what> ...`.
fn hits(run: &Run, what: &str) -> usize {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("phase "))
        .find_map(|l| {
            let before = l.split(&format!(" {what}")).next()?;
            before.rsplit(['(', ' ']).next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no '{what}' count in:\n{}", run.stderr))
}

fn compile(p: &TestProject, extra: &[&str]) -> Run {
    let mut args = vec!["compile"];
    args.extend_from_slice(extra);
    let run = p.strata_env(&args, &[("STRATA_PROFILE", "1")]);
    run.assert_ok();
    run
}

/// Every compiled file, by path under target/compiled.
fn compiled(p: &TestProject) -> BTreeMap<String, String> {
    let dir = p.path().join("target/compiled");
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(&dir) {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(&dir).expect("rel");
            let text = std::fs::read_to_string(entry.path()).expect("read");
            out.insert(rel.display().to_string(), text);
        }
    }
    out
}

/// manifest.json without what differs on every invocation.
fn manifest(p: &TestProject) -> serde_json::Value {
    let mut m: serde_json::Value =
        serde_json::from_str(&p.read("target/manifest.json")).expect("manifest.json");
    m.as_object_mut().expect("object").remove("metadata");
    m
}

#[test]
fn an_unchanged_project_is_remembered_and_compiles_the_same() {
    let p = reference_copy();
    compile(&p, &["--no-partial-parse"]);
    assert!(
        !p.path().join("target/partial_parse").exists(),
        "--no-partial-parse keeps nothing"
    );
    let (files, nodes) = (compiled(&p), manifest(&p));

    let first = compile(&p, &[]);
    assert_eq!(hits(&first, "YAML parses"), 0);
    assert_eq!(hits(&first, "SQL checks"), 0);
    let yaml_files = std::fs::read_dir(p.path().join("target/partial_parse/yaml"))
        .expect("yaml memo")
        .count();
    assert!(yaml_files > 0, "the YAML parses are kept");

    let second = compile(&p, &[]);
    assert_eq!(hits(&second, "YAML parses"), yaml_files);
    // Blank SQL (comments only) is never parsed, so never remembered either.
    let checkable = files.values().filter(|s| !strata::sql::is_blank(s)).count();
    assert!(checkable > 0);
    assert_eq!(hits(&second, "SQL checks"), checkable, "{}", second.stderr);
    assert_eq!(hits(&second, "compiled files"), files.len());
    assert_eq!(compiled(&p), files, "same compiled SQL as without the memo");
    assert_eq!(manifest(&p), nodes, "same manifest as without the memo");
}

fn small_project() -> TestProject {
    let p = TestProject::new("memo", "");
    p.write("models/orders.sql", "select 1 as id, 'open' as status\n");
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: orders\n    description: first words\n",
    );
    p
}

fn description(p: &TestProject) -> String {
    manifest(p)["nodes"]["model.memo.orders"]["description"]
        .as_str()
        .expect("description")
        .to_string()
}

#[test]
fn an_edited_yaml_file_is_parsed_again() {
    let p = small_project();
    compile(&p, &[]);
    assert_eq!(description(&p), "first words");
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: orders\n    description: second words\n",
    );
    let run = compile(&p, &[]);
    assert_eq!(hits(&run, "YAML parses"), 0);
    assert_eq!(description(&p), "second words");
    // The first text's parse is gone; the second one is kept.
    let kept = std::fs::read_dir(p.path().join("target/partial_parse/yaml"))
        .expect("yaml memo")
        .count();
    assert_eq!(kept, 1);

    // Broken YAML after a good parse still names the file and line.
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: orders\n    description: [unclosed\n",
    );
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("models/schema.yml:4:");
}

#[test]
fn edited_sql_is_checked_again() {
    let p = small_project();
    compile(&p, &[]);
    p.write("models/orders.sql", "select 1 as id,, 'open' as status\n");
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("target/compiled/memo/models/orders.sql");
    // Back to the text that passed: known, not parsed again.
    p.write("models/orders.sql", "select 1 as id, 'open' as status\n");
    let run = compile(&p, &[]);
    assert_eq!(hits(&run, "SQL checks"), 1);
}

#[test]
fn a_compiled_file_changed_by_hand_is_written_again() {
    let p = small_project();
    compile(&p, &[]);
    let path = "target/compiled/memo/models/orders.sql";
    let sql = p.read(path);
    p.write(path, "select 'edited by hand'\n");
    let run = compile(&p, &[]);
    assert_eq!(hits(&run, "compiled files"), 0);
    assert_eq!(p.read(path), sql);
    // Removed altogether: written again too.
    std::fs::remove_file(p.path().join(path)).expect("remove");
    compile(&p, &[]);
    assert_eq!(p.read(path), sql);
}
