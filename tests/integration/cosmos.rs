//! Astronomer Cosmos drives Strata as its dbt: Airflow 3.3.2 and astronomer-cosmos 1.15.1
//! (scripts/airflow-venv.sh) render examples/airflow/strata_cosmos_dag.py from
//! `strata ls --output json` (LoadMode.DBT_LS) and from the manifest `strata parse` writes
//! (LoadMode.DBT_MANIFEST), and run every task with `strata` as the dbt executable: no shim,
//! no patch on Cosmos's side. Each test prints its task counts.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::{copy_tree, flat, reference_copy, repo_root, TestProject};

fn airflow_python() -> String {
    std::env::var("STRATA_TEST_AIRFLOW_PYTHON").unwrap_or_else(|_| {
        panic!(
            "STRATA_TEST_AIRFLOW_PYTHON is not set: run scripts/test.sh, or \
             `eval \"$(scripts/airflow-venv.sh)\"` first"
        )
    })
}

/// A profiles.yml beside (not inside) the project: one DuckDB file every task shares (Cosmos
/// runs each task in a fresh copy of the project, with its own target path).
fn write_profile(home: &Path, profile: &str) -> std::path::PathBuf {
    let dir = home.join("profiles");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let db = home.join("warehouse.duckdb");
    let path = dir.join("profiles.yml");
    std::fs::write(
        &path,
        format!(
            "{profile}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: '{}'\n      threads: 2\n",
            db.display()
        ),
    )
    .expect("write profiles.yml");
    path
}

/// What a DAG run did: each task's state, and how many tasks registered the relations they
/// built as Airflow assets (Cosmos reads them from run_results.json and the manifest through
/// OpenLineage's dbt processor, which seeds do not take part in).
struct DagRun {
    states: BTreeMap<String, String>,
    tasks_with_assets: usize,
    /// How many times Cosmos ran `strata deps` (it does before each task when the project
    /// lists packages).
    deps_runs: usize,
}

/// Runs the Cosmos DAG over `project` in `load_mode`.
fn run_cosmos(home: &Path, project: &Path, profiles: &Path, load_mode: &str) -> DagRun {
    let airflow_home = home.join("airflow");
    std::fs::create_dir_all(&airflow_home).expect("mkdir");
    let dags = repo_root().join("examples/airflow");
    let python = airflow_python();
    let airflow = |args: &[&str]| {
        let mut cmd = Command::new(&python);
        cmd.args(args)
            .env("AIRFLOW_HOME", &airflow_home)
            .env("AIRFLOW__CORE__DAGS_FOLDER", &dags)
            .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
            .env("STRATA_PROJECT_DIR", project)
            .env("STRATA_PROFILES_YML", profiles)
            .env("STRATA_EXECUTABLE", env!("CARGO_BIN_EXE_strata"))
            .env("STRATA_LOAD_MODE", load_mode)
            .env("STRATA_DAG_ID", "strata_cosmos")
            .env_remove("DBT_TARGET_PATH")
            .env_remove("STRATA_TARGET_PATH");
        let out = cmd.output().expect("run python");
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?} failed:\n{text}");
        text
    };
    airflow(&["-m", "airflow", "db", "migrate"]);
    let runner = repo_root().join("tests/integration/cosmos_run_dag.py");
    let text = airflow(&[
        runner.to_str().expect("utf-8"),
        dags.join("strata_cosmos_dag.py").to_str().expect("utf-8"),
    ]);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("COSMOS_RESULT "))
        .unwrap_or_else(|| panic!("no COSMOS_RESULT line:\n{text}"));
    let states: BTreeMap<String, String> = serde_json::from_str(line).expect("json");
    let failed: Vec<_> = states.iter().filter(|(_, s)| *s != "success").collect();
    assert!(
        failed.is_empty() && !states.is_empty(),
        "every task succeeds; not these: {failed:?}\n{}",
        text.lines()
            .rev()
            .take(80)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    DagRun {
        states,
        tasks_with_assets: text.matches("Outlets: [Asset(").count(),
        deps_runs: text.matches("'deps', '--project-dir'").count(),
    }
}

/// Tasks by kind, as Cosmos names them: `<model>.run`, `<model>.test`, and `<seed>_seed`
/// (`<seed>.seed` when the seed has tests of its own).
fn counts(states: &BTreeMap<String, String>) -> (usize, usize, usize) {
    let ends = |suffix: &str| states.keys().filter(|k| k.ends_with(suffix)).count();
    (ends("_seed") + ends(".seed"), ends(".run"), ends(".test"))
}

fn jaffle_shop(load_mode: &str) {
    let p = TestProject::empty();
    let project = p.path().to_path_buf();
    copy_tree(
        &repo_root().join("examples/jaffle_shop"),
        &project,
        &|rel| !rel.starts_with("target") && rel != Path::new("profiles.yml"),
    );
    let home = tempfile::tempdir().expect("tempdir");
    let profiles = write_profile(home.path(), "jaffle_shop");
    // A local package: Cosmos runs `strata deps` in each task's copy of the project.
    let package = home.path().join("jaffle_extras");
    std::fs::create_dir_all(package.join("macros")).expect("mkdir");
    std::fs::write(
        package.join("dbt_project.yml"),
        "name: jaffle_extras
",
    )
    .expect("write");
    std::fs::write(
        package.join("macros/greeting.sql"),
        "{% macro greeting() %}'hello'{% endmacro %}\n",
    )
    .expect("write");
    p.write(
        "packages.yml",
        &format!("packages:\n  - local: '{}'\n", package.display()),
    );
    p.strata(&["deps"]).assert_ok();
    if load_mode == "dbt_manifest" {
        p.strata(&[
            "parse",
            "--profiles-dir",
            profiles.parent().and_then(Path::to_str).expect("utf-8"),
        ])
        .assert_ok();
    }
    let run = run_cosmos(home.path(), &project, &profiles, load_mode);
    let states = &run.states;
    let (seeds, runs, tests) = counts(states);
    println!(
        "cosmos {load_mode} jaffle_shop: {} tasks ({seeds} seeds, {runs} model runs, {tests} \
         test tasks), all succeeded",
        states.len()
    );
    assert_eq!((seeds, runs, tests), (3, 5, 5), "{states:?}");
    assert_eq!(run.tasks_with_assets, 5, "every model's task, views too");
    assert!(run.deps_runs >= states.len(), "deps ran before each task");
    let db = home.path().join("warehouse.duckdb");
    let customers = p.query_file(
        &db,
        "select customer_id, number_of_orders, customer_lifetime_value from customers order by 1",
    );
    assert_eq!(
        flat(&customers),
        "1,2,40.0|2,1,16.0|3,1,20.0|4,2,7.0|5,1,17.0"
    );
}

#[test]
fn cosmos_runs_jaffle_shop_from_strata_ls() {
    jaffle_shop("dbt_ls");
}

#[test]
fn cosmos_runs_jaffle_shop_from_the_manifest() {
    jaffle_shop("dbt_manifest");
}

/// The reference project (project.yml, with dbt_project.yml beside it for dbt's tools): every
/// seed, model and test as its own task; the rights procedures make no task.
fn reference(load_mode: &str) {
    let p = reference_copy();
    let project = p.path().to_path_buf();
    copy_tree(&repo_root().join("data"), &project.join("data"), &|_| true);
    let home = tempfile::tempdir().expect("tempdir");
    let profiles = write_profile(home.path(), "athena_analytics");
    if load_mode == "dbt_manifest" {
        p.strata(&[
            "parse",
            "--profiles-dir",
            profiles.parent().and_then(Path::to_str).expect("utf-8"),
        ])
        .assert_ok();
    }
    let run = run_cosmos(home.path(), &project, &profiles, load_mode);
    let states = &run.states;
    let (seeds, runs, tests) = counts(states);
    println!(
        "cosmos {load_mode} reference project: {} tasks ({seeds} seeds, {runs} model runs, \
         {tests} test tasks), all succeeded",
        states.len()
    );
    // 3 seeds, 10 incremental and 2 ephemeral models, each with its tests after it.
    assert_eq!((seeds, runs, tests), (3, 12, 15), "{states:?}");
    assert_eq!(run.tasks_with_assets, 10, "every incremental model's task");
    assert!(
        !states
            .keys()
            .any(|t| t.starts_with("access") || t.starts_with("erasure")),
        "procedures make no task: {states:?}"
    );
    let db = home.path().join("warehouse.duckdb");
    let gold = p.query_file(&db, "select count(*) > 0 from gold_time_series");
    assert_eq!(flat(&gold), "true");
}

#[test]
fn cosmos_runs_the_reference_project_from_strata_ls() {
    reference("dbt_ls");
}

#[test]
fn cosmos_runs_the_reference_project_from_the_manifest() {
    reference("dbt_manifest");
}
