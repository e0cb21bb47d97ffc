//! A temporary project folder, the real `strata` binary, and the DuckDB file it writes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod aws;
pub mod broker;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn copy_tree(from: &Path, to: &Path, keep: &dyn Fn(&Path) -> bool) {
    let walk = walkdir::WalkDir::new(from).into_iter();
    // Folders that are not kept are not walked either (a checkout may hold a large target/).
    for entry in walk.filter_entry(|e| keep(e.path().strip_prefix(from).expect("rel"))) {
        let entry = entry.expect("walk");
        let rel = entry.path().strip_prefix(from).expect("rel");
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// The reference project as a user's checkout has it, `.dbtignore` and the Rust test files
/// it hides included, without git's and cargo's folders, the shipped landing data (the tests
/// generate their own) or the crate's sources.
pub fn reference_copy() -> TestProject {
    let p = TestProject::empty();
    copy_tree(&repo_root(), p.path(), &|rel| {
        let top = rel.components().next().map(|c| c.as_os_str());
        !top.is_some_and(|t| [".git", "target", "data", "src"].iter().any(|x| t == *x))
    });
    p
}

/// The variables through which the caller's environment would steer strata (its own and
/// dbt's spellings), removed so a test sees only what it sets.
pub fn hermetic(cmd: &mut Command) {
    for name in [
        "PROFILES_DIR",
        "PROJECT_DIR",
        "TARGET",
        "LOG_FORMAT",
        "PARTIAL_PARSE",
        "WARN_ERROR",
        "TARGET_PATH",
    ] {
        cmd.env_remove(format!("STRATA_{name}"))
            .env_remove(format!("DBT_{name}"));
    }
}

pub struct TestProject {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success:\n{}", self.output());
        self
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "expected exit {code}:\n{}", self.output());
        self
    }

    #[track_caller]
    pub fn assert_contains(&self, needle: &str) -> &Self {
        assert!(
            self.output().contains(needle),
            "expected {needle:?} in:\n{}",
            self.output()
        );
        self
    }
}

impl TestProject {
    /// A project named `name` with the given project.yml body appended to `name:`.
    pub fn new(name: &str, extra_yml: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = TestProject { dir };
        p.write("project.yml", &format!("name: {name}\n{extra_yml}"));
        p
    }

    pub fn empty() -> Self {
        TestProject {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
        self
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.dir.path().join(rel)).expect("remove");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn strata(&self, args: &[&str]) -> Run {
        self.strata_env(args, &[])
    }

    /// Run strata with extra environment variables.
    pub fn strata_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        let out = self.command(args, envs).output().expect("run strata");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The strata command for this project, not started.
    pub fn command(&self, args: &[&str], envs: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
        cmd.args(args)
            .arg("--project-dir")
            .arg(self.dir.path())
            .env("NO_COLOR", "1")
            .env("HOME", self.dir.path());
        hermetic(&mut cmd);
        cmd.envs(envs.iter().copied());
        cmd
    }

    pub fn db_path(&self, project: &str) -> PathBuf {
        self.dir
            .path()
            .join("target")
            .join(format!("{project}.duckdb"))
    }

    /// Rows of `sql` against the project's default DuckDB file, every value as text
    /// (NULL as "NULL"), in the query's order.
    pub fn query(&self, project: &str, sql: &str) -> Vec<Vec<String>> {
        self.query_file(&self.db_path(project), sql)
    }

    pub fn query_file(&self, db: &Path, sql: &str) -> Vec<Vec<String>> {
        let conn = duckdb::Connection::open(db).expect("open duckdb");
        let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let mut rows = stmt.query([]).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let n = rows.as_ref().map(|s| s.column_count()).unwrap_or(0);
        let mut out = Vec::new();
        while let Some(row) = rows.next().expect("row") {
            let mut r = Vec::new();
            for i in 0..n {
                let v: duckdb::types::Value = row.get(i).expect("value");
                r.push(match strata::adapters::duckdb::to_json(v) {
                    serde_json::Value::Null => "NULL".to_string(),
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                });
            }
            out.push(r);
        }
        out
    }

    pub fn scalar(&self, project: &str, sql: &str) -> String {
        self.query(project, sql)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .unwrap_or_else(|| panic!("no rows: {sql}"))
    }
}

/// What `strata ls --output name` lists with `args`, sorted, space-separated.
pub fn ls_names(p: &TestProject, args: &[&str]) -> String {
    let mut all = vec!["ls", "--output", "name"];
    all.extend_from_slice(args);
    let r = p.strata(&all);
    r.assert_ok();
    let mut names: Vec<&str> = r.stdout.lines().filter(|l| !l.is_empty()).collect();
    names.sort();
    names.join(" ")
}

/// rows as a compact string for assertions: "1,a|2,b"
pub fn flat(rows: &[Vec<String>]) -> String {
    rows.iter()
        .map(|r| r.join(","))
        .collect::<Vec<_>>()
        .join("|")
}

/// The erasure (ERASURE, SA_WITHDRAW) and ACCESS procedures, as a project writes them.
pub fn write_rights_procedures(p: &TestProject) {
    p.write(
        "models/rights/erasure.sql",
        "{{ config(materialized='procedure', right_types=['ERASURE', 'SA_WITHDRAW']) }}\n\
         {{ rights_delete(rights.batch, rights.declared, rights.right_types) }}\n",
    );
    p.write(
        "models/rights/access.sql",
        "{{ config(materialized='procedure', right_types=['ACCESS']) }}\n\
         {{ rights_export(rights.batch, rights.declared, rights.right_types, rights.access_path) }}\n",
    );
}

pub const PROJECT_YML: &str = "models:\n  gdpr:\n    +materialized: table\n";

/// A small project with personal data in a seed and two models, the two procedures, and a
/// `rights:` section (`rights_yml`, or an empty one); already built.
pub fn rights_project(rights_yml: &str) -> TestProject {
    let rights_yml = if rights_yml.is_empty() {
        "rights: {}\n"
    } else {
        rights_yml
    };
    let p = TestProject::new("gdpr", &format!("{PROJECT_YML}{rights_yml}"));
    p.write(
        "seeds/events.csv",
        "user_id,chat_id,msg\nu1,c1,hello\nu1,c2,again\nu2,c3,hi\nu3,c4,yo\nu2,c3,more\n",
    );
    p.write(
        "models/user_daily.sql",
        "select user_id, count(*) as n from {{ ref('events') }} group by 1\n",
    );
    p.write(
        "models/chat_daily.sql",
        "select chat_id, count(*) as n from {{ ref('events') }} group by 1\n",
    );
    p.write(
        "models/totals.sql",
        "select count(*) as n from {{ ref('events') }}\n",
    );
    write_rights_procedures(&p);
    p.write(
        "models/schema.yml",
        r#"version: 2
models:
  - name: user_daily
    meta: {personal_data: {subject_key: user_id}}
    columns: [{name: user_id}, {name: n}]
  - name: chat_daily
    meta:
      personal_data:
        subject_key: chat_id
        via: {relation: events, key: chat_id, subject_key: user_id}
  - name: totals
    meta: {personal_data: {exempt: "one count over everyone"}}
seeds:
  - name: events
    meta: {personal_data: {subject_key: user_id}}
    columns: [{name: user_id}, {name: chat_id}, {name: msg}]
"#,
    );
    p.strata(&["build"]).assert_ok();
    p
}
