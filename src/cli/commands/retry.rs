//! `retry`: read the previous run's run_results.json (target/, or --state) and run its
//! command again on the nodes that errored, failed or were skipped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::cli::args::{ExecArgs, GlobalArgs};
use crate::error::{Error, Result};
use crate::project::ProjectFile;
use crate::session::Command;

/// What `strata retry` takes from the previous run's run_results.json.
pub(crate) struct Retry {
    pub command: Command,
    pub exec: ExecArgs,
    pub ids: BTreeSet<String>,
}

/// The part of run_results.json retry reads. Every field is optional and a field of an
/// unexpected type counts as missing, so an artifact of another dbt version still reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PreviousRun {
    #[serde(deserialize_with = "or_none")]
    args: Option<PreviousArgs>,
    #[serde(deserialize_with = "readable_items")]
    results: Vec<PreviousResult>,
}

/// The previous invocation's arguments (`args` of run_results.json).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PreviousArgs {
    #[serde(deserialize_with = "or_none")]
    which: Option<String>,
    #[serde(deserialize_with = "or_none")]
    target: Option<String>,
    #[serde(deserialize_with = "or_none")]
    vars: Option<Map<String, Value>>,
    #[serde(deserialize_with = "or_none")]
    threads: Option<usize>,
    #[serde(deserialize_with = "or_none")]
    full_refresh: Option<bool>,
}

/// One node's result in the previous run.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PreviousResult {
    #[serde(deserialize_with = "or_none")]
    unique_id: Option<String>,
    #[serde(deserialize_with = "or_none")]
    status: Option<String>,
}

/// A value of the expected type, or `None` when it has another type.
fn or_none<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    Ok(T::deserialize(Value::deserialize(d)?).ok())
}

/// The items of a list that read as `T` (none when it is not a list).
fn readable_items<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    let items = Vec::<Value>::deserialize(Value::deserialize(d)?).unwrap_or_default();
    Ok(items
        .into_iter()
        .filter_map(|item| T::deserialize(item).ok())
        .collect())
}

/// Read the previous run (dbt retry): its command, arguments and the nodes to run again.
/// The previous target and vars apply (vars given now win), as in dbt.
pub(crate) fn previous_run(g: &mut GlobalArgs, threads: Option<usize>) -> Result<Retry> {
    let dir = match &g.state {
        Some(state) => state.clone(),
        None => match &g.target_path {
            Some(path) => PathBuf::from(path),
            None => {
                let file = ProjectFile::load(&ProjectFile::find(Path::new("."))?)?;
                PathBuf::from(file.target_path)
            }
        },
    };
    let path = dir.join("run_results.json");
    let text = std::fs::read_to_string(&path).map_err(|_| {
        Error::Usage(format!(
            "retry: could not find a previous run in '{}' (no run_results.json)",
            dir.display()
        ))
    })?;
    let previous = parse_run_results(&path, &text)?;
    previous.into_retry(g, threads)
}

fn parse_run_results(path: &Path, text: &str) -> Result<PreviousRun> {
    let json: Value = serde_json::from_str(text)
        .map_err(|e| Error::Usage(format!("{}: not a run_results.json: {e}", path.display())))?;
    // JSON that is not an object has no `args`: retry then names no previous command.
    Ok(PreviousRun::deserialize(json).unwrap_or_default())
}

impl PreviousRun {
    fn into_retry(self, g: &mut GlobalArgs, threads: Option<usize>) -> Result<Retry> {
        let args = self.args.unwrap_or_default();
        let which = args.which.unwrap_or_default();
        let command = match which.as_str() {
            "run" => Command::Run,
            "test" => Command::Test,
            "seed" => Command::Seed,
            "build" => Command::Build,
            "snapshot" => Command::Snapshot,
            "compile" => Command::Compile,
            other => {
                return Err(Error::Usage(format!(
                    "retry: the previous command ({other:?}) is not one retry runs again \
                     (run, test, seed, build, snapshot, compile)"
                )))
            }
        };
        let mut retryable = vec![
            "error",
            "fail",
            "skipped",
            "runtime error",
            "partial success",
        ];
        if g.warn_error {
            retryable.push("warn");
        }
        let ids = self
            .results
            .into_iter()
            .filter(|r| r.status.as_deref().is_some_and(|s| retryable.contains(&s)))
            .filter_map(|r| r.unique_id)
            .filter(|id| !id.starts_with("operation."))
            .collect();
        if g.target.is_none() {
            g.target = args.target;
        }
        if g.vars.is_none() {
            if let Some(vars) = args.vars.filter(|v| !v.is_empty()) {
                g.vars = Some(Value::Object(vars).to_string());
            }
        }
        let exec = ExecArgs {
            threads: threads.or(args.threads),
            full_refresh: args.full_refresh.unwrap_or(false),
            ..Default::default()
        };
        Ok(Retry { command, exec, ids })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn global() -> GlobalArgs {
        crate::cli::Cli::parse_from(["strata", "retry"]).global
    }

    fn retry_of(text: &str, g: &mut GlobalArgs) -> Result<Retry> {
        parse_run_results(Path::new("run_results.json"), text)?.into_retry(g, None)
    }

    #[test]
    fn reads_dbt_run_results() {
        let text = r#"{"metadata": {"dbt_version": "1.8.0"}, "elapsed_time": 1.5,
            "results": [
              {"unique_id": "model.p.a", "status": "error", "timing": []},
              {"unique_id": "model.p.b", "status": "success"},
              {"unique_id": "test.p.c", "status": "fail"},
              {"unique_id": "test.p.w", "status": "warn"},
              {"unique_id": "operation.p.hook", "status": "error"}],
            "args": {"which": "build", "target": "prod", "vars": {"day": "2026-01-01"},
                     "threads": 4, "full_refresh": true, "select": ["a"]}}"#;
        let mut g = global();
        let r = retry_of(text, &mut g).unwrap();
        assert_eq!(r.command, Command::Build);
        assert_eq!(
            r.ids.into_iter().collect::<Vec<_>>(),
            ["model.p.a", "test.p.c"]
        );
        assert_eq!(r.exec.threads, Some(4));
        assert!(r.exec.full_refresh);
        assert_eq!(g.target.as_deref(), Some("prod"));
        assert_eq!(g.vars.as_deref(), Some(r#"{"day":"2026-01-01"}"#));
    }

    #[test]
    fn flags_given_now_win_and_warn_error_retries_warnings() {
        let text = r#"{"results": [{"unique_id": "test.p.w", "status": "warn"}],
            "args": {"which": "test", "target": "prod", "vars": {"x": 1}, "threads": 4}}"#;
        let mut g = crate::cli::Cli::parse_from([
            "strata",
            "retry",
            "--target",
            "dev",
            "--vars",
            "{y: 2}",
            "--warn-error",
        ])
        .global;
        let r = parse_run_results(Path::new("run_results.json"), text)
            .unwrap()
            .into_retry(&mut g, Some(2))
            .unwrap();
        assert_eq!(r.command, Command::Test);
        assert_eq!(r.exec.threads, Some(2));
        assert_eq!(r.ids.into_iter().collect::<Vec<_>>(), ["test.p.w"]);
        assert_eq!(g.target.as_deref(), Some("dev"));
        assert_eq!(g.vars.as_deref(), Some("{y: 2}"));
    }

    #[test]
    fn fields_of_another_type_count_as_missing() {
        let text = r#"{"args": {"which": "compile", "threads": "x", "target": 5,
                "vars": [1], "full_refresh": "y"},
            "results": [{"unique_id": "model.p.a", "status": "fail"}, 7,
                {"unique_id": 5, "status": "error"}, {"status": "error"},
                {"unique_id": "model.p.b", "status": 7}]}"#;
        let mut g = global();
        let r = retry_of(text, &mut g).unwrap();
        assert_eq!(r.command, Command::Compile);
        assert_eq!(r.ids.into_iter().collect::<Vec<_>>(), ["model.p.a"]);
        assert_eq!(r.exec.threads, None);
        assert!(!r.exec.full_refresh);
        assert_eq!(g.target, None);
        assert_eq!(g.vars, None);
    }

    #[test]
    fn names_a_command_it_does_not_run_again() {
        let err = |text: &str| retry_of(text, &mut global()).err().unwrap().to_string();
        assert!(err(r#"{"args": {"which": "ls"}}"#).contains(
            "retry: the previous command (\"ls\") is not one retry runs again (run, test, \
             seed, build, snapshot, compile)"
        ));
        assert!(err("{}").contains("the previous command (\"\")"));
        assert!(err("5").contains("the previous command (\"\")"));
        assert!(err("not json").contains("run_results.json: not a run_results.json: "));
    }
}
