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

/// How many YAML parses the memo keeps (under the folder of the running executable).
fn yaml_entries(p: &TestProject) -> usize {
    let root = p.path().join("target/partial_parse");
    let mut n = 0;
    for build in std::fs::read_dir(&root).expect("partial_parse").flatten() {
        n += std::fs::read_dir(build.path().join("yaml"))
            .expect("yaml memo")
            .count();
    }
    n
}

/// Set every compiled file's modification time a minute back: stats taken within two
/// seconds of the memo's save are not trusted (a same-length write in the same tick would
/// look unchanged), which a test running commands back to back always is.
fn age_compiled(p: &TestProject) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    for entry in walkdir::WalkDir::new(p.path().join("target/compiled")) {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            let f = std::fs::File::options()
                .write(true)
                .open(entry.path())
                .expect("open");
            f.set_modified(then).expect("set mtime");
        }
    }
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
    let yaml_files = yaml_entries(&p);
    assert!(yaml_files > 0, "the YAML parses are kept");

    let second = compile(&p, &[]);
    assert_eq!(hits(&second, "YAML parses"), yaml_files);
    // Blank SQL (comments only) is never parsed, so never remembered either.
    let checkable = files.values().filter(|s| !strata::sql::is_blank(s)).count();
    assert!(checkable > 0);
    assert_eq!(hits(&second, "SQL checks"), checkable, "{}", second.stderr);
    // Just written, the files are read back (see age_compiled); older, a stat will do.
    assert_eq!(hits(&second, "compiled files"), 0);
    age_compiled(&p);
    compile(&p, &[]);
    let third = compile(&p, &[]);
    assert_eq!(hits(&third, "compiled files"), files.len());
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
    assert_eq!(yaml_entries(&p), 1);

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
    age_compiled(&p);
    compile(&p, &[]);
    let path = "target/compiled/memo/models/orders.sql";
    assert_eq!(
        hits(&compile(&p, &[]), "compiled files"),
        1,
        "known from a stat"
    );
    let sql = p.read(path);
    // Same length, another text: the new modification time gives it away.
    let edited: String = sql
        .chars()
        .map(|c| if c == '1' { '7' } else { c })
        .collect();
    assert_ne!(edited, sql);
    p.write(path, &edited);
    let run = compile(&p, &[]);
    assert_eq!(hits(&run, "compiled files"), 0);
    assert_eq!(p.read(path), sql);
    // Removed altogether: written again too.
    std::fs::remove_file(p.path().join(path)).expect("remove");
    compile(&p, &[]);
    assert_eq!(p.read(path), sql);
}

/// JSON keeps the memo's parses; a float read back must be the float YAML gave (a last-digit
/// change renamed a test and changed its SQL).
#[test]
fn floats_in_yaml_come_back_exactly() {
    let p = TestProject::new("memo", "");
    p.write("models/m1.sql", "select 1.602176634e-19 as a\n");
    let mut yaml = String::from("version: 2\nmodels:\n  - name: m1\n    meta:\n");
    for (i, x) in [
        0.1,
        1.602176634e-19,
        6.02214076e23,
        1e300,
        0.30000000000000004,
    ]
    .iter()
    .enumerate()
    {
        yaml.push_str(&format!("      f{i}: {x:e}\n"));
    }
    yaml.push_str("    columns:\n      - name: a\n        tests:\n          - accepted_values: {values: [1.602176634e-19], quote: false}\n");
    p.write("models/schema.yml", &yaml);
    compile(&p, &["--no-partial-parse"]);
    let (files, nodes) = (compiled(&p), manifest(&p));
    compile(&p, &[]);
    let run = compile(&p, &[]);
    assert_eq!(hits(&run, "YAML parses"), 1);
    assert_eq!(compiled(&p), files);
    assert_eq!(manifest(&p), nodes);
}

/// A project that does not load leaves no database behind (as before it connected), its
/// error comes first, and with its only YAML file broken there is nothing to remember.
#[test]
fn a_broken_project_creates_nothing() {
    let p = TestProject::new("memo", "");
    p.write("models/m1.sql", "select 1 as a\n");
    p.write("models/schema.yml", "version: 2\nmodels: [unclosed\n");
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("models/schema.yml");
    assert!(!p.path().join("target/memo.duckdb").exists());
    assert!(!p.path().join("target/partial_parse").exists());
}

/// A compiled file changed in the same timestamp tick as the memo's stat of it (same length,
/// same time) is read back on the next run, and a run of a selection in between does not
/// make that record trusted.
#[test]
fn a_racy_record_stays_untrusted_through_a_selection_run() {
    let p = small_project();
    p.write("models/other.sql", "select 2 as id\n");
    compile(&p, &[]);
    let path = p.path().join("target/compiled/memo/models/orders.sql");
    let sql = std::fs::read_to_string(&path).expect("compiled");
    let mtime = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    let edited: String = sql
        .chars()
        .map(|c| if c == '1' { '7' } else { c })
        .collect();
    assert_ne!(edited, sql);
    std::fs::write(&path, &edited).expect("edit");
    let f = std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open");
    f.set_modified(mtime).expect("same tick");
    drop(f);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    compile(&p, &["--select", "other"]);
    compile(&p, &[]);
    assert_eq!(std::fs::read_to_string(&path).expect("compiled"), sql);
}
