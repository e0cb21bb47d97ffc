//! dbt packages end to end: `strata deps && strata build` on tests/fixtures/packages/shop (a
//! root project using a utility package of our own writing, `acme_utils`, and its transitive
//! package `acme_dates`), compared with what `dbt deps && dbt build` (dbt-core 1.12.6 +
//! dbt-duckdb 1.11.1) gave on the same projects: every node's status, the manifest's package
//! facts, every relation and every table's rows, and the errors of the cases under
//! errors/. tests/fixtures/packages/record.sh made the expected files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{copy_tree, hermetic, repo_root, Run, TestProject};

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/packages")
}

fn expected(rel: &str) -> String {
    let path = fixtures().join("expected").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixture projects (without the expected files) in a temporary folder, laid out as in
/// the repository: `packages.yml` paths such as `../acme_utils` resolve there too.
fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixtures(), dir.path(), &|rel| {
        let top = rel.components().next().map(|c| c.as_os_str());
        !top.is_some_and(|t| t == "expected" || t == "record.sh")
    });
    dir
}

/// strata run from inside `project` (profiles.yml's DuckDB path is relative to it).
fn strata_in(project: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.args(args)
        .current_dir(project)
        .env("NO_COLOR", "1")
        .env("HOME", project)
        .env("DBT_PROFILES_DIR", project);
    hermetic(&mut cmd);
    let out = cmd.output().expect("run strata");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `target/run_results.json` as record.sh writes it: `unique_id,status,failures`, sorted.
fn run_results_csv(project: &Path) -> String {
    let text =
        std::fs::read_to_string(project.join("target/run_results.json")).expect("run_results");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let mut rows: Vec<String> = json["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let failures = match &r["failures"] {
                serde_json::Value::Null => String::new(),
                v => v.to_string(),
            };
            format!(
                "{},{},{failures}",
                r["unique_id"].as_str().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default()
            )
        })
        .collect();
    rows.sort();
    format!("unique_id,status,failures\n{}\n", rows.join("\n"))
}

/// The package facts of every manifest node, as record.sh writes them.
fn nodes_csv(project: &Path) -> String {
    let text = std::fs::read_to_string(project.join("target/manifest.json")).expect("manifest");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let nodes = json["nodes"].as_object().expect("nodes");
    let mut rows: BTreeMap<String, String> = BTreeMap::new();
    for (id, n) in nodes {
        let c = &n["config"];
        let list = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut tags = list(&c["tags"]);
        tags.sort();
        let severity = if n["resource_type"] == "test" {
            c["severity"].as_str().unwrap_or_default().to_string()
        } else {
            String::new()
        };
        rows.insert(
            id.clone(),
            format!(
                "{id},{},{},{},{},{},{severity}",
                n["package_name"].as_str().unwrap_or_default(),
                list(&n["fqn"]).join("."),
                n["original_file_path"].as_str().unwrap_or_default(),
                c["materialized"].as_str().unwrap_or_default(),
                tags.join(";"),
            ),
        );
    }
    let body: Vec<&String> = rows.values().collect();
    format!(
        "unique_id,package_name,fqn,original_file_path,materialized,tags,severity\n{}\n",
        body.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// The relations of the DuckDB file, and each one's rows as DuckDB's COPY writes them (in
/// `order by all`), by name, with `columns` holding every column's type: what record.sh
/// dumped from dbt's file.
fn relations_and_tables(db: &Path, out: &Path) -> (String, BTreeMap<String, String>) {
    std::fs::create_dir_all(out).expect("mkdir");
    let conn = duckdb::Connection::open(db).expect("open duckdb");
    let mut stmt = conn
        .prepare(
            "select table_schema, table_name, table_type from information_schema.tables \
             where table_catalog = 'shop' and table_schema <> 'strata_state' order by all",
        )
        .expect("prepare");
    let relations: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("relations")
        .map(|r| r.expect("relation"))
        .collect();
    let mut listing = String::from("schema,name,type\n");
    let mut tables = BTreeMap::new();
    // Every column's type (seeds' inferred types show here), as `columns.csv`.
    let mut types = conn
        .prepare(
            "select table_name, column_name, data_type from information_schema.columns \
             where table_catalog = 'shop' and table_schema <> 'strata_state' \
             order by table_name, ordinal_position",
        )
        .expect("prepare");
    let columns: Vec<String> = types
        .query_map([], |r| {
            Ok(format!(
                "{},{},{}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?
            ))
        })
        .expect("columns")
        .map(|r| r.expect("column"))
        .collect();
    tables.insert(
        "columns".to_string(),
        format!("table,column,type\n{}\n", columns.join("\n")),
    );
    for (schema, name, kind) in &relations {
        listing.push_str(&format!("{schema},{name},{kind}\n"));
        let file = out.join(format!("{name}.csv"));
        conn.execute_batch(&format!(
            "copy (select * from \"{schema}\".\"{name}\" order by all) to '{}' \
             (header, delimiter ',')",
            file.display()
        ))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        tables.insert(name.clone(), std::fs::read_to_string(&file).expect("csv"));
    }
    (listing, tables)
}

#[test]
fn deps_and_build_give_what_dbt_gives() {
    let dir = fixture_copy();
    let shop = dir.path().join("shop");
    strata_in(&shop, &["deps"]).assert_ok();
    // Both packages installed, under their project names (acme_dates is transitive).
    for name in ["acme_utils", "acme_dates"] {
        let installed = shop.join("dbt_packages").join(name).join("dbt_project.yml");
        assert!(installed.is_file(), "{} not installed", installed.display());
    }
    // `package:` selects a package's nodes.
    let ls = strata_in(
        &shop,
        &[
            "ls",
            "-s",
            "package:acme_utils",
            "--resource-type",
            "model",
            "--output",
            "name",
        ],
    );
    ls.assert_ok();
    assert_eq!(
        ls.stdout.lines().collect::<Vec<_>>(),
        ["pkg_model", "pkg_summary"]
    );
    // dbt's build has failing tests (and so exits 1); so does Strata's.
    let build = strata_in(&shop, &["build"]);
    build.assert_code(1);

    assert_eq!(
        run_results_csv(&shop),
        expected("run_results.csv"),
        "node statuses differ from dbt's\n{}",
        build.output()
    );
    assert_eq!(
        nodes_csv(&shop),
        expected("nodes.csv"),
        "manifest facts differ"
    );
    let (relations, tables) =
        relations_and_tables(&shop.join("shop.duckdb"), &dir.path().join("actual"));
    assert_eq!(relations, expected("relations.csv"));
    // Each table's rows (tables/<name>.csv) and every column's type (columns.csv).
    let expected_of = |name: &str| match name {
        "columns" => expected("columns.csv"),
        table => expected(&format!("tables/{table}.csv")),
    };
    let differing: Vec<String> = tables
        .iter()
        .filter(|(name, text)| **text != expected_of(name))
        .map(|(name, text)| format!("{name}.csv\n  dbt:\n{}  strata:\n{text}", expected_of(name)))
        .collect();
    assert!(
        differing.is_empty(),
        "{} of {} tables differ from dbt's:\n{}",
        differing.len(),
        tables.len(),
        differing.join("\n")
    );
}

/// The same project with acme_utils as a `git:` package (a repository made here, tagged,
/// reached by a file:// URL): `strata deps` checks the tag out and the build is dbt's again.
#[test]
fn a_git_package_builds_as_the_local_one_did() {
    let dir = fixture_copy();
    let repo = dir.path().join("acme_utils");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
            .args(["-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(&repo)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "acme_utils"]);
    git(&["tag", "v1.0.0"]);
    let shop = dir.path().join("shop");
    std::fs::write(
        shop.join("packages.yml"),
        format!(
            "packages:\n  - git: \"file://{}\"\n    revision: v1.0.0\n",
            repo.display()
        ),
    )
    .expect("write packages.yml");
    strata_in(&shop, &["deps"]).assert_ok();
    let lock = std::fs::read_to_string(shop.join("package-lock.yml")).expect("lock");
    assert!(lock.contains("revision: "), "{lock}");
    assert!(
        !lock.contains("revision: v1.0.0"),
        "the lock pins the commit: {lock}"
    );
    // A clone, not a link to the folder.
    let installed = shop.join("dbt_packages/acme_utils");
    assert!(!installed.is_symlink() && installed.join("dbt_project.yml").is_file());
    let build = strata_in(&shop, &["build"]);
    build.assert_code(1);
    assert_eq!(
        run_results_csv(&shop),
        expected("run_results.csv"),
        "node statuses differ from dbt's\n{}",
        build.output()
    );
}

/// Each error case: Strata fails where dbt fails, with dbt's facts in its words.
#[test]
fn package_errors_name_what_went_wrong() {
    let dir = fixture_copy();
    let case = |name: &str| dir.path().join("errors").join(name);

    // Listed but not installed: say to run deps (dbt: "Run \"dbt deps\"").
    strata_in(&case("not_installed"), &["build"])
        .assert_code(2)
        .assert_contains("packages.yml:1:1")
        .assert_contains("1 package(s)")
        .assert_contains("Run `strata deps`");

    // A dispatch that finds nothing lists every name it tried, as dbt does.
    let p = case("dispatch_missing");
    strata_in(&p, &["deps"]).assert_ok();
    strata_in(&p, &["build"]).assert_contains(
        "In dispatch: No macro named 'no_such_macro' found within namespace: 'err_pkg'\n    \
         Searched for: 'err_dispatch_missing.duckdb__no_such_macro', \
         'err_dispatch_missing.default__no_such_macro', 'err_pkg.duckdb__no_such_macro', \
         'err_pkg.default__no_such_macro'",
    );

    // A two-argument ref to a model the package does not have.
    let p = case("missing_package_ref");
    strata_in(&p, &["deps"]).assert_ok();
    let r = strata_in(&p, &["build"]);
    assert_ne!(r.code, 0, "{}", r.output());
    r.assert_contains("models/refs_missing.sql")
        .assert_contains("missing");

    // A namespace no package has: the model fails, naming its file and line. (dbt fails the
    // model when it runs; Strata compiles every selected node before it runs any, and stops
    // there.)
    let r = strata_in(&case("unknown_namespace"), &["build"]);
    assert_ne!(r.code, 0, "{}", r.output());
    r.assert_contains("models/calls_nope.sql:2")
        .assert_contains("no package, macro namespace or object of that name");

    // A package macro raising a compiler error fails the model that called it, naming the
    // package's file and line and the model (before anything runs, as above).
    let p = case("package_raises");
    strata_in(&p, &["deps"]).assert_ok();
    let r = strata_in(&p, &["build"]);
    assert_ne!(r.code, 0, "{}", r.output());
    r.assert_contains("dbt_packages/err_pkg/macros/checks.sql:8")
        .assert_contains("err_pkg.column_count cannot read the columns of the ephemeral model")
        .assert_contains("models/columns_of_eph.sql");

    // A package's own `local:` path resolves from the root project, as in dbt: acme_utils'
    // `../acme_dates` is looked for beside this project, where there is none.
    let r = strata_in(&case("transitive_path"), &["deps"]);
    r.assert_code(2)
        .assert_contains("transitive_path/../acme_dates")
        .assert_contains("no dbt_project.yml");

    // A bare generic test name that only a package defines: from the root it is unknown
    // (the package's test is `err_pkg.has_rows`), as in dbt.
    let p = case("bare_package_test");
    strata_in(&p, &["deps"]).assert_ok();
    let r = strata_in(&p, &["build"]);
    assert_ne!(r.code, 0, "{}", r.output());
    r.assert_contains("models/schema.yml")
        .assert_contains("test_has_rows is unknown");
}

/// `require-dbt-version` of a package (and of the root) is checked against the dbt version
/// Strata follows, with the file and line; `--no-version-check` (or DBT_VERSION_CHECK=false)
/// turns the check off.
#[test]
fn require_dbt_version_is_checked_unless_turned_off() {
    let dir = TestProject::empty();
    dir.write("root/dbt_project.yml", "name: root\nprofile: root\n");
    dir.write(
        "root/profiles.yml",
        "root:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: dev.duckdb}\n",
    );
    dir.write("root/packages.yml", "packages:\n  - local: ../old_pkg\n");
    dir.write("root/models/m.sql", "select 1 as x\n");
    dir.write(
        "old_pkg/dbt_project.yml",
        "name: old_pkg\nrequire-dbt-version: [\">=1.3.0\", \"<1.10.0\"]\n",
    );
    let root = dir.path().join("root");
    strata_in(&root, &["deps"]).assert_ok();
    strata_in(&root, &["build"])
        .assert_code(2)
        .assert_contains("dbt_packages/old_pkg/dbt_project.yml:2:1")
        .assert_contains("not supported with the 'old_pkg' package")
        .assert_contains("['>=1.3.0', '<1.10.0']")
        .assert_contains("--no-version-check");
    strata_in(&root, &["build", "--no-version-check"]).assert_ok();

    // The root project's own range too.
    dir.write(
        "root/dbt_project.yml",
        "name: root\nprofile: root\nrequire-dbt-version: '>=2.0.0'\n",
    );
    strata_in(&root, &["build", "--no-version-check"]).assert_ok();
    strata_in(&root, &["build"])
        .assert_code(2)
        .assert_contains("dbt_project.yml:3:1")
        .assert_contains("'root' package");
}

/// A package's on-run-start hooks run too, before the root project's (dbt orders hooks by
/// package name with the root last).
#[test]
fn package_hooks_run_before_the_root_projects() {
    let dir = TestProject::empty();
    dir.write(
        "root/dbt_project.yml",
        "name: root\nprofile: root\non-run-start:\n  - \"create or replace table root_saw as \
         select count(*) as n from pkg_hook_ran\"\n",
    );
    dir.write(
        "root/profiles.yml",
        "root:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: dev.duckdb}\n",
    );
    dir.write("root/packages.yml", "packages:\n  - local: ../hook_pkg\n");
    dir.write("root/models/m.sql", "select 1 as x\n");
    dir.write(
        "hook_pkg/dbt_project.yml",
        "name: hook_pkg\non-run-start:\n  - \"create or replace table pkg_hook_ran as select 1 as x\"\n",
    );
    let root = dir.path().join("root");
    strata_in(&root, &["deps"]).assert_ok();
    strata_in(&root, &["run"]).assert_ok();
    let conn = duckdb::Connection::open(root.join("dev.duckdb")).expect("open");
    let n: i64 = conn
        .query_row("select n from root_saw", [], |r| r.get(0))
        .expect("root hook ran after the package's");
    assert_eq!(n, 1);
}

/// `graph.nodes` as packages iterate it, once parsing has linked the nodes. Expected text from
/// dbt-core 1.12.6 + dbt-duckdb 1.11.1 on the same project (`dbt build`, then
/// target/compiled/gr/models/b.sql).
#[test]
fn graph_lists_the_projects_nodes_as_dbt_does() {
    let dir = TestProject::empty();
    dir.write("dbt_project.yml", "name: gr\nprofile: gr\n");
    dir.write(
        "profiles.yml",
        "gr:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: gr.duckdb}\n",
    );
    dir.write("models/a.sql", "select 1 as id\n");
    dir.write(
        "models/b.sql",
        "{%- set models = [] -%}\n\
         {%- for n in graph.nodes.values() | selectattr(\"resource_type\", \"equalto\", \"model\") -%}\n\
         {%- do models.append(n.name ~ ':' ~ (n.depends_on.nodes | length)) -%}\n\
         {%- endfor -%}\n\
         select '{{ models | sort | join(\",\") }}' as models from {{ ref('a') }}\n",
    );
    strata_in(dir.path(), &["build"]).assert_ok();
    let compiled = std::fs::read_to_string(dir.path().join("target/compiled/gr/models/b.sql"))
        .expect("compiled b");
    // (dbt's Jinja drops the file's last newline; Strata keeps it.)
    assert_eq!(
        compiled.trim_end(),
        "select 'a:0,b:1' as models from \"gr\".\"main\".\"a\""
    );
}

/// Editing a package's macro makes `state:modified` select the models that call it, through
/// `adapter.dispatch` too (dbt counts a dispatched macro's implementations as called).
#[test]
fn a_changed_package_macro_selects_its_callers() {
    let dir = fixture_copy();
    let shop = dir.path().join("shop");
    strata_in(&shop, &["deps"]).assert_ok();
    strata_in(&shop, &["build"]).assert_code(1);
    let state = dir.path().join("state");
    std::fs::rename(shop.join("target"), &state).expect("keep the run's artifacts");
    let macro_file = dir.path().join("acme_utils/macros/sql/deduplicate.sql");
    let text = std::fs::read_to_string(&macro_file).expect("read");
    assert!(
        text.contains("row_number() over"),
        "fixture changed: {text}"
    );
    std::fs::write(
        &macro_file,
        text.replace("row_number() over", "row_number()  over"),
    )
    .expect("write");
    let state_arg = state.to_string_lossy().into_owned();
    let args = [
        "ls",
        "-s",
        "state:modified",
        "--state",
        &state_arg,
        "--resource-type",
        "model",
        "--output",
        "name",
    ];
    let ls = strata_in(&shop, &args);
    ls.assert_ok();
    assert_eq!(
        ls.stdout.lines().collect::<Vec<_>>(),
        ["latest_order_status", "latest_order_status_portable"]
    );
}

/// Packages removed from packages.yml: the lock `strata deps` wrote for them asks for nothing
/// any more (a build does not demand `strata deps` for packages nobody lists).
#[test]
fn a_lock_left_from_removed_packages_asks_for_nothing() {
    let dir = fixture_copy();
    let shop = dir.path().join("shop");
    strata_in(&shop, &["deps"]).assert_ok();
    assert!(shop.join("package-lock.yml").is_file());
    std::fs::remove_dir_all(shop.join("dbt_packages")).expect("remove packages");
    // Still listed: the lock names what is missing.
    strata_in(&shop, &["ls"])
        .assert_code(2)
        .assert_contains("package-lock.yml:")
        .assert_contains("Following packages were not found: acme_utils, acme_dates");
    // No longer listed: a project whose packages.yml lists none, with that lock, loads.
    let p = dir.path().join("plain");
    std::fs::create_dir_all(p.join("models")).expect("mkdir");
    std::fs::write(p.join("dbt_project.yml"), "name: plain\n").expect("write");
    std::fs::write(p.join("models/m.sql"), "select 1 as x\n").expect("write");
    std::fs::copy(shop.join("package-lock.yml"), p.join("package-lock.yml")).expect("copy");
    std::fs::write(p.join("packages.yml"), "packages: []\n").expect("write");
    strata_in(&p, &["ls", "--output", "name"]).assert_ok();
}
