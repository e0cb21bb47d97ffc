//! run, test, seed, build, snapshot and compile (and `retry`, which becomes one of them):
//! select nodes, then build or compile them in graph order, writing manifest.json and
//! run_results.json.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::artifacts;
use crate::cli::args::{env_flag, resource_types, ExecArgs, GlobalArgs, Settings};
use crate::compile::Flags;
use crate::error::{Error, Result};
use crate::execute;
use crate::graph::PreviousState;
use crate::project::ResourceType;
use crate::rights;
use crate::session::printer::Printer;
use crate::session::results::{NodeResult, RunOutcome};
use crate::session::{phase, Command, RunOptions, Session};

/// Run one of the building commands; `retry_ids` narrows it to the nodes `retry` runs
/// again.
pub(crate) async fn run(
    command: Command,
    exec: ExecArgs,
    retry_ids: Option<BTreeSet<String>>,
    settings: &Settings,
    printer: Arc<Printer>,
) -> Result<i32> {
    if command == Command::Snapshot && exec.full_refresh {
        // A snapshot's history cannot be rebuilt from its query (dbt refuses it too).
        return Err(Error::Usage(
            "snapshot does not take --full-refresh: its history cannot be rebuilt from the \
             query (drop the table to start over)"
                .into(),
        ));
    }
    let empty = exec.empty || env_flag("EMPTY")?;
    let flags = Flags {
        full_refresh: exec.full_refresh,
        which: command.name().into(),
        empty,
        ..Default::default()
    };
    let session = Session::open(&settings.load, flags, printer.clone())?;
    print_startup(&session, &printer);
    let target_dir = session.project.target_dir();
    let mut t = std::time::Instant::now();
    artifacts::write_manifest(&target_dir.join("manifest.json"), &session)?;
    phase("manifest", &mut t);
    let opts = run_options(&exec, retry_ids, settings)?;
    execute::find_stale(&session, &opts).await?;
    let ids = session.select(command, &opts, None)?;
    let args = run_args(command, &opts, &session, &settings.global);
    let results_path = target_dir.join("run_results.json");
    let write_results = |outcome: &RunOutcome| {
        artifacts::write_run_results(&results_path, &session, outcome, &args)
    };
    if settings.global.defer {
        defer_unselected(&session, &ids, settings, &printer).await?;
    }
    if ids.is_empty() {
        return nothing_to_do(&session, command, &opts, &write_results, &printer).await;
    }
    if command == Command::Compile {
        compile_selected(&session, &ids, &exec, &target_dir, &write_results, &printer).await?;
        session.leave();
        return Ok(0);
    }
    // Personal data must be declared before anything is built; `test` also checks the
    // columns the warehouse actually has.
    rights::coverage::check(&session, command == Command::Test).await?;
    let outcome = execute::execute(&session, command, &ids, &opts).await?;
    write_results(&outcome)?;
    execute::print_summary(&session, &outcome);
    if std::env::var_os("STRATA_PROFILE").is_some() {
        eprintln!(
            "engine time: {:.1} ms of {:.1} ms ({} nodes)",
            session.adapter.engine_time().as_secs_f64() * 1000.0,
            outcome.elapsed * 1000.0,
            outcome.results.len()
        );
    }
    session.leave();
    Ok(if outcome.failed() { 1 } else { 0 })
}

/// dbt's opening lines: the version, and the kinds of resources there are (singular or
/// plural).
fn print_startup(session: &Session, printer: &Printer) {
    let p = &session.project;
    printer.info(
        "startup",
        &format!("Running with strata={}", env!("CARGO_PKG_VERSION")),
    );
    let count = |rt: ResourceType| p.nodes.values().filter(|n| n.resource_type == rt).count();
    let macros: usize = p.macro_files.iter().map(|f| f.macro_names.len()).sum();
    let found: Vec<String> = [
        (count(ResourceType::Model), "model"),
        (count(ResourceType::Snapshot), "snapshot"),
        (count(ResourceType::Seed), "seed"),
        (count(ResourceType::Test), "data test"),
        (count(ResourceType::UnitTest), "unit test"),
        (p.sources.len(), "source"),
        (p.exposures.len(), "exposure"),
        (macros, "macro"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}{}", if n == 1 { "" } else { "s" }))
    .collect();
    printer.info("startup", &format!("Found {}", found.join(", ")));
}

/// The building flags on top of the shared selection flags.
fn run_options(
    exec: &ExecArgs,
    retry_ids: Option<BTreeSet<String>>,
    settings: &Settings,
) -> Result<RunOptions> {
    Ok(RunOptions {
        threads: exec.threads,
        full_refresh: exec.full_refresh,
        fail_fast: exec.fail_fast,
        resource_types: if exec.resource_type.is_empty() {
            None
        } else {
            Some(resource_types("--resource-type", &exec.resource_type)?)
        },
        exclude_resource_types: resource_types(
            "--exclude-resource-type",
            &exec.exclude_resource_type,
        )?,
        retry_ids,
        event_window: event_window(exec)?,
        no_reuse: exec.no_reuse || env_flag("NO_REUSE")?,
        ..settings.selection(&exec.selection)
    })
}

/// `--event-time-start` and `--event-time-end` (or their variables): both or neither, the
/// start before the end (dbt's rules and words).
fn event_window(
    exec: &ExecArgs,
) -> Result<Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>> {
    let from_env = |name: &str| {
        [format!("STRATA_{name}"), format!("DBT_{name}")]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    };
    let start = exec
        .event_time_start
        .clone()
        .or_else(|| from_env("EVENT_TIME_START"));
    let end = exec
        .event_time_end
        .clone()
        .or_else(|| from_env("EVENT_TIME_END"));
    let parse = |flag: &str, text: &str| {
        crate::execute::parse_event_time(text).ok_or_else(|| {
            Error::Usage(format!(
                "{flag} '{text}' is not a time (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS or \
                 YYYY-MM-DD HH:MM:SS)"
            ))
        })
    };
    match (start, end) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(Error::Usage(
            "The flag `--event-time-end` was specified, but `--event-time-start` was not. \
             When specifying `--event-time-end`, `--event-time-start` must also be present."
                .into(),
        )),
        (Some(_), None) => Err(Error::Usage(
            "The flag `--event-time-start` was specified, but `--event-time-end` was not. \
             When specifying `--event-time-start`, `--event-time-end` must also be present."
                .into(),
        )),
        (Some(start), Some(end)) => {
            let (start, end) = (
                parse("--event-time-start", &start)?,
                parse("--event-time-end", &end)?,
            );
            if start >= end {
                return Err(Error::Usage(
                    "Value for `--event-time-start` must be less than `--event-time-end`".into(),
                ));
            }
            Ok(Some((start, end)))
        }
    }
}

/// The invocation's arguments as run_results.json records them (and `retry` reads them
/// back), with the paths resolved as dbt records them: readers such as OpenLineage's dbt
/// processor open `<profiles_dir>/profiles.yml` from here.
fn run_args(command: Command, opts: &RunOptions, session: &Session, g: &GlobalArgs) -> Value {
    let project = &session.project;
    let absolute = |p: &Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let mut args = json!({
        "which": command.name(), "select": opts.select, "exclude": opts.exclude,
        "full_refresh": opts.full_refresh, "threads": opts.threads, "vars": project.cli_vars,
        "target": g.target, "profile": g.profile,
        "project_dir": absolute(&project.root),
        "target_path": absolute(&project.target_dir()),
    });
    let profiles_dir = project
        .target
        .profiles_path
        .as_deref()
        .and_then(Path::parent);
    if let (Some(dir), Some(map)) = (profiles_dir, args.as_object_mut()) {
        map.insert("profiles_dir".into(), Value::String(absolute(dir)));
    }
    args
}

/// `--defer`: read the models and seeds not selected from the --state run's relations.
async fn defer_unselected(
    session: &Session,
    ids: &[String],
    settings: &Settings,
    printer: &Printer,
) -> Result<()> {
    let defer_state = match &settings.global.defer_state {
        Some(dir) => Some(Arc::new(PreviousState::load(dir)?)),
        None => settings.state.clone(),
    };
    let Some(state) = &defer_state else {
        return Err(Error::Usage(
            "--defer needs --state <dir> (or --defer-state): the artifacts of the run to \
             read unselected models from"
                .into(),
        ));
    };
    let n = session
        .defer(ids, state, settings.global.favor_state)
        .await?;
    printer.info(
        "defer",
        &format!("Deferred {n} unselected model(s) and seed(s) to the --state run's relations"),
    );
    Ok(())
}

/// An empty selection: the checks that do not need nodes, an empty run_results.json, and
/// dbt's warning (an error under --warn-error).
async fn nothing_to_do(
    session: &Session,
    command: Command,
    opts: &RunOptions,
    write_results: &dyn Fn(&RunOutcome) -> Result<()>,
    printer: &Printer,
) -> Result<i32> {
    // The personal-data check does not depend on there being nodes to run.
    if matches!(command, Command::Test | Command::Compile | Command::Build) {
        rights::coverage::check(session, command != Command::Compile).await?;
    }
    // dbt rewrites run_results.json with no results: a later `result:` selection or an
    // uploaded artifact must not see the previous run's.
    write_results(&RunOutcome::of(Vec::new(), 0.0))?;
    let msg = "Nothing to do. Try checking your model configs and model specification args";
    if opts.warning_is_error("NothingToDo") {
        return Err(Error::Usage(format!(
            "{msg} (a warning, made an error by --warn-error)"
        )));
    }
    printer.warn("nothing_to_do", msg);
    Ok(0)
}

/// `compile`: render and check the selected nodes into target/compiled, running nothing.
async fn compile_selected(
    session: &Session,
    ids: &[String],
    exec: &ExecArgs,
    target_dir: &Path,
    write_results: &dyn Fn(&RunOutcome) -> Result<()>,
    printer: &Printer,
) -> Result<()> {
    let started = std::time::Instant::now();
    rights::coverage::check(session, false).await?;
    let n = execute::compile_only(session, ids, exec.full_refresh).await?;
    // dbt's compile writes run_results.json too: every selected node compiled.
    let compiled = ids.iter().map(|id| NodeResult::compiled(id)).collect();
    write_results(&RunOutcome::of(compiled, started.elapsed().as_secs_f64()))?;
    printer.info(
        "compiled",
        &format!(
            "Compiled {n} nodes into {}",
            target_dir.join("compiled").display()
        ),
    );
    Ok(())
}
