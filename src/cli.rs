//! The command line: dbt's commands and flags, mapped onto the library. Exit codes follow
//! dbt: 0 everything succeeded, 1 a node failed, 2 the project or the command is broken.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Map, Value};

use crate::artifacts;
use crate::compile::Flags;
use crate::error::{Error, Result};
use crate::execute::output::{LogFormat, Printer};
use crate::execute::{self, Command, RunOptions, Session, WarnErrorOptions};
use crate::graph::{IndirectSelection, PreviousState};
use crate::project::{LoadOptions, ResourceType};

#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    about = "A dbt-style SQL-model runner for DuckDB and Athena"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,

    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// The project folder (holding project.yml or dbt_project.yml) [env: STRATA_PROJECT_DIR,
    /// DBT_PROJECT_DIR] [default: .]
    #[arg(long, global = true)]
    pub project_dir: Option<PathBuf>,
    /// Where to look for profiles.yml before the project folder and ~/.dbt.
    #[arg(long, global = true)]
    pub profiles_dir: Option<PathBuf>,
    /// The target (an output of the project's profile) [env: STRATA_TARGET, DBT_TARGET].
    #[arg(long, short = 't', global = true)]
    pub target: Option<String>,
    /// Variables as YAML or JSON, e.g. '{"start_date": "2026-01-01"}'.
    #[arg(long, global = true)]
    pub vars: Option<String>,
    /// text for people, json (one object per line) for schedulers [env: STRATA_LOG_FORMAT,
    /// DBT_LOG_FORMAT] [default: text].
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Use and keep target/partial_parse/ (the default) [env: STRATA_PARTIAL_PARSE,
    /// DBT_PARTIAL_PARSE].
    #[arg(long, global = true, overrides_with = "no_partial_parse")]
    pub partial_parse: bool,
    /// Work everything out again: neither use nor keep target/partial_parse/ (YAML parses,
    /// SQL checks and compiled files remembered from earlier runs).
    #[arg(long, global = true, overrides_with = "partial_parse")]
    pub no_partial_parse: bool,
    /// Treat warnings as errors: a test that would warn fails, and a project warning (a test
    /// on a missing model, YAML for no model) stops the command [env: STRATA_WARN_ERROR,
    /// DBT_WARN_ERROR].
    #[arg(long, global = true)]
    pub warn_error: bool,
    /// Which warnings are errors, by dbt's event names: '{error: all}' or
    /// '{error: [NoNodesForSelectionCriteria], warn: [...]}' [env: STRATA_WARN_ERROR_OPTIONS,
    /// DBT_WARN_ERROR_OPTIONS].
    #[arg(long, global = true)]
    pub warn_error_options: Option<String>,
    /// The artifacts (manifest.json, run_results.json) of an earlier run, for the `state:`
    /// and `result:` selectors: `--select state:modified+ --state prod-artifacts/`
    /// [env: STRATA_STATE, DBT_STATE].
    #[arg(long, global = true)]
    pub state: Option<PathBuf>,
    /// Which tests come along with the selected nodes: eager (any node they test is
    /// selected), cautious (all are), buildable (all are selected or upstream of the
    /// selection), empty (none) [env: STRATA_INDIRECT_SELECTION, DBT_INDIRECT_SELECTION]
    /// [default: eager].
    #[arg(long, global = true, value_enum)]
    pub indirect_selection: Option<IndirectSelection>,
    /// Read the models and seeds this command does not select from where the --state run
    /// built them, when this target does not have them [env: STRATA_DEFER, DBT_DEFER].
    #[arg(long, global = true)]
    pub defer: bool,
    /// With --defer: read unselected models from the --state run even when this target has
    /// them [env: STRATA_FAVOR_STATE, DBT_FAVOR_STATE].
    #[arg(long, global = true)]
    pub favor_state: bool,
    /// The artifacts --defer reads relations from, when they are not --state's
    /// [env: STRATA_DEFER_STATE, DBT_DEFER_STATE].
    #[arg(long, global = true)]
    pub defer_state: Option<PathBuf>,
}

impl GlobalArgs {
    /// Fill what the command line left out from the environment, as dbt does: Strata's own
    /// variable first, then dbt's (so a scheduler's DBT_TARGET or DBT_PARTIAL_PARSE works).
    pub fn fill_from_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<()> {
        let from_env = |name: &str| env_setting(&var, name);
        if self.project_dir.is_none() {
            self.project_dir = from_env("PROJECT_DIR").map(|(_, v)| PathBuf::from(v));
        }
        if self.target.is_none() {
            self.target = from_env("TARGET").map(|(_, v)| v);
        }
        for (name, flag) in [
            ("DEFER", &mut self.defer),
            ("FAVOR_STATE", &mut self.favor_state),
        ] {
            if !*flag {
                if let Some((key, v)) = from_env(name) {
                    *flag = parse_bool(&v).ok_or_else(|| {
                        Error::Usage(format!("{key}={v:?}: expected true or false"))
                    })?;
                }
            }
        }
        if self.warn_error_options.is_none() {
            self.warn_error_options = from_env("WARN_ERROR_OPTIONS").map(|(_, v)| v);
        }
        if let Some(text) = &self.warn_error_options {
            // `error: all` is --warn-error.
            if WarnErrorOptions::parse(text)?.all {
                self.warn_error = true;
            }
        }
        if self.state.is_none() {
            self.state = from_env("STATE").map(|(_, v)| PathBuf::from(v));
        }
        if self.defer_state.is_none() {
            self.defer_state = from_env("DEFER_STATE").map(|(_, v)| PathBuf::from(v));
        }
        if self.indirect_selection.is_none() {
            if let Some((key, v)) = from_env("INDIRECT_SELECTION") {
                self.indirect_selection = Some(IndirectSelection::parse(&v).ok_or_else(|| {
                    Error::Usage(format!(
                        "{key}={v:?}: expected eager, cautious, buildable or empty"
                    ))
                })?);
            }
        }
        if self.log_format.is_none() {
            if let Some((key, v)) = from_env("LOG_FORMAT") {
                let format = match v.trim().to_ascii_lowercase().as_str() {
                    // dbt's `default` and `debug` are its text log.
                    "text" | "default" | "debug" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(Error::Usage(format!("{key}={v:?}: expected text or json"))),
                };
                self.log_format = Some(format);
            }
        }
        if !self.warn_error {
            if let Some((key, v)) = from_env("WARN_ERROR") {
                self.warn_error = parse_bool(&v)
                    .ok_or_else(|| Error::Usage(format!("{key}={v:?}: expected true or false")))?;
            }
        }
        if !self.partial_parse && !self.no_partial_parse {
            if let Some((key, v)) = from_env("PARTIAL_PARSE") {
                self.no_partial_parse = !parse_bool(&v)
                    .ok_or_else(|| Error::Usage(format!("{key}={v:?}: expected true or false")))?;
            }
        }
        Ok(())
    }
}

/// A boolean flag of one command from the environment (`STRATA_<name>`, then `DBT_<name>`).
fn env_flag(name: &str) -> Result<bool> {
    match env_setting(&|key: &str| std::env::var(key).ok(), name) {
        Some((key, v)) => parse_bool(&v)
            .ok_or_else(|| Error::Usage(format!("{key}={v:?}: expected true or false"))),
        None => Ok(false),
    }
}

/// A setting from the environment as dbt reads it: `STRATA_<name>`, then `DBT_<name>`
/// (empty counts as unset); the variable's name comes along for messages.
fn env_setting(var: &impl Fn(&str) -> Option<String>, name: &str) -> Option<(String, String)> {
    [format!("STRATA_{name}"), format!("DBT_{name}")]
        .into_iter()
        .find_map(|key| var(&key).filter(|v| !v.trim().is_empty()).map(|v| (key, v)))
}

/// A boolean as dbt's command line reads one from the environment (click's spellings).
fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" => Some(true),
        "0" | "false" | "f" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Nodes to include (dbt selector syntax).
    #[arg(long, short = 's', num_args = 1.., alias = "models", short_alias = 'm')]
    pub select: Vec<String>,
    /// Nodes to leave out.
    #[arg(long, num_args = 1..)]
    pub exclude: Vec<String>,
    /// A named selection from the project's selectors.yml (instead of --select/--exclude).
    #[arg(long)]
    pub selector: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ExecArgs {
    #[command(flatten)]
    pub selection: SelectArgs,
    /// How many nodes to build at the same time.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Rebuild incremental models and seeds from scratch.
    #[arg(long)]
    pub full_refresh: bool,
    /// Stop at the first failure.
    #[arg(long, short = 'x')]
    pub fail_fast: bool,
    /// Read no rows through ref() and source(): builds every model's shape in seconds, for
    /// CI [env: STRATA_EMPTY, DBT_EMPTY].
    #[arg(long)]
    pub empty: bool,
    /// Only these resource types (model, seed, test).
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub resource_type: Vec<String>,
    /// Leave out these resource types (model, seed, test).
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub exclude_resource_type: Vec<String>,
}

/// dbt's resource type names for --resource-type / --exclude-resource-type (types Strata
/// does not have, such as unit_test or snapshot, select nothing).
fn resource_types(flag: &str, names: &[String]) -> Result<Vec<ResourceType>> {
    names
        .iter()
        .filter_map(|n| match n.as_str() {
            "model" => Some(Ok(ResourceType::Model)),
            "seed" => Some(Ok(ResourceType::Seed)),
            "snapshot" => Some(Ok(ResourceType::Snapshot)),
            "unit_test" => Some(Ok(ResourceType::UnitTest)),
            "test" | "data_test" => Some(Ok(ResourceType::Test)),
            "source" | "analysis" | "exposure" | "metric" | "saved_query" | "semantic_model"
            | "function" => None,
            other => Some(Err(Error::Usage(format!(
                "{flag}: unknown resource type '{other}'"
            )))),
        })
        .collect()
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Build models.
    Run(ExecArgs),
    /// Run data tests.
    Test(ExecArgs),
    /// Load CSV seeds into tables.
    Seed(ExecArgs),
    /// Seeds, models and tests in graph order; what sits below a failure is skipped.
    Build(ExecArgs),
    /// Record changes of the snapshots' queries (type-2 history tables).
    Snapshot(ExecArgs),
    /// Render models and tests to target/compiled and check their SQL, without running them.
    Compile(ExecArgs),
    /// List the selected nodes.
    #[command(alias = "list")]
    Ls {
        #[command(flatten)]
        selection: SelectArgs,
        /// Only these resource types (model, seed, test, source).
        #[arg(long, num_args = 1.., value_delimiter = ',')]
        resource_type: Vec<String>,
        /// Leave out these resource types.
        #[arg(long, num_args = 1.., value_delimiter = ',')]
        exclude_resource_type: Vec<String>,
        /// name, path, selector or json.
        #[arg(long, short = 'o', default_value = "selector")]
        output: String,
        /// With `--output json`: only these keys (dbt's --output-keys).
        #[arg(long, num_args = 1.., value_delimiter = ',')]
        output_keys: Vec<String>,
    },
    /// Source commands: `strata source freshness`.
    Source {
        #[command(subcommand)]
        command: SourceCmd,
    },
    /// Compile a model (or inline SQL) and print the rows it returns.
    Show {
        #[command(flatten)]
        selection: SelectArgs,
        /// SQL to run instead of a model (Jinja works: `select * from {{ ref('x') }}`).
        #[arg(long, conflicts_with = "select")]
        inline: Option<String>,
        /// How many rows to print.
        #[arg(long, default_value_t = 5)]
        limit: usize,
    },
    /// Run the previous run, build, test, seed or snapshot again from where it failed: the
    /// nodes that errored, failed or were skipped (target/run_results.json, or --state),
    /// with that command's target, vars and --full-refresh.
    Retry {
        /// How many nodes to build at the same time (instead of the previous run's).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Remove the project's clean-targets.
    Clean,
    /// Show the project, the target and whether the engine answers.
    Debug,
    /// Data-subject rights: answer requests (apply, consume) and purge erased rows.
    #[command(subcommand)]
    Rights(RightsCmd),
    /// Compact and expire snapshots of the selected Iceberg tables (OPTIMIZE ... BIN_PACK,
    /// VACUUM), printing snapshot and data-file counts before and after.
    Maintain {
        #[command(flatten)]
        selection: SelectArgs,
        /// Only VACUUM.
        #[arg(long)]
        skip_optimize: bool,
        /// Only OPTIMIZE.
        #[arg(long)]
        skip_vacuum: bool,
    },
    /// Run a macro.
    RunOperation {
        macro_name: String,
        /// Arguments as YAML or JSON.
        #[arg(long)]
        args: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SourceCmd {
    /// How long ago each source was loaded, against its freshness thresholds; writes
    /// target/sources.json. Exit 1 when one is stale (past error_after) or cannot be read.
    #[command(alias = "snapshot-freshness")]
    Freshness {
        #[command(flatten)]
        selection: SelectArgs,
        /// Where to write the results instead of target/sources.json.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RightsCmd {
    /// Answer one request without Kafka and print the result message.
    Apply {
        /// ACCESS, ERASURE or SA_WITHDRAW.
        #[arg(long = "type")]
        right_type: String,
        #[arg(long)]
        guid: String,
        /// Defaults to a new UUID.
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Answer requests from Kafka until stopped (SIGTERM finishes the batch in progress).
    Consume {
        /// Kafka bootstrap servers (default: rights.brokers in project.yml).
        #[arg(long)]
        brokers: Option<String>,
        #[arg(long)]
        request_topic: Option<String>,
        #[arg(long)]
        result_topic: Option<String>,
        #[arg(long)]
        dead_letter_topic: Option<String>,
        #[arg(long)]
        group_id: Option<String>,
        #[arg(long)]
        batch_size: Option<usize>,
        /// How long to wait for a batch to fill after its first message.
        #[arg(long)]
        batch_wait_ms: Option<u64>,
        /// Exit after this many seconds without a message (for cron and Airflow runs).
        #[arg(long)]
        idle_exit_seconds: Option<u64>,
        /// Serve Prometheus metrics on 127.0.0.1:PORT (default: rights.metrics_port).
        #[arg(long)]
        metrics_port: Option<u16>,
    },
    /// Publish requests (JSON lines on stdin) to the request topic: for operators and tests.
    Submit {
        #[arg(long)]
        brokers: Option<String>,
        #[arg(long)]
        request_topic: Option<String>,
    },
    /// Rewrite the tables erasures touched, so deleted rows leave storage (Iceberg: OPTIMIZE
    /// and VACUUM; DuckDB: a fresh copy of the file), and delete ACCESS exports past
    /// `rights.access_retention_hours`.
    Purge,
    /// List the relations that declare personal data and how each reaches the subject.
    Declared,
}

/// Parse `--vars` / `--args`: YAML or JSON mapping.
pub fn parse_mapping(flag: &str, text: Option<&str>) -> Result<Map<String, Value>> {
    let Some(text) = text else {
        return Ok(Map::new());
    };
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let v: Value = serde_yaml_ng::from_str(text)
        .map_err(|e| Error::Usage(format!("{flag}: not a YAML or JSON mapping: {e}")))?;
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(Error::Usage(format!(
            "{flag}: expected a mapping like '{{key: value}}'"
        ))),
    }
}

fn load_options(g: &GlobalArgs) -> Result<LoadOptions> {
    Ok(LoadOptions {
        project_dir: PathBuf::from("."),
        profiles_dir: g.profiles_dir.clone(),
        target: g.target.clone(),
        cli_vars: parse_mapping("--vars", g.vars.as_deref())?,
        no_partial_parse: g.no_partial_parse,
        warn_error: g.warn_error,
    })
}

/// Run the command line; returns the process exit code.
pub fn main_with(mut cli: Cli) -> i32 {
    let env = cli.global.fill_from_env(|key| std::env::var(key).ok());
    let printer = Arc::new(Printer::new(cli.global.log_format.unwrap_or_default()));
    match env.and_then(|()| run(cli, printer.clone())) {
        Ok(code) => code,
        Err(e) => {
            printer.error("fatal", &format!("error: {e}"));
            2
        }
    }
}

fn run(cli: Cli, printer: Arc<Printer>) -> Result<i32> {
    // Paths inside a project (sources' external locations, the DuckDB file) are relative to
    // the project folder, as in dbt; run from there.
    let dir = cli.global.project_dir.as_deref().unwrap_or(Path::new("."));
    let dir = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    // Paths given relative to where strata was started are resolved before the move.
    let started_in = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let mut global = cli.global.clone();
    for p in [
        &mut global.profiles_dir,
        &mut global.state,
        &mut global.defer_state,
    ]
    .into_iter()
    .flatten()
    {
        if p.is_relative() {
            *p = started_in.join(&*p);
        }
    }
    std::env::set_current_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Adapter(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(dispatch(cli.command, global, printer))
}

/// The selection flags every selecting command shares.
fn selection_options(
    sel: &SelectArgs,
    g: &GlobalArgs,
    state: &Option<Arc<PreviousState>>,
) -> RunOptions {
    RunOptions {
        select: sel.select.clone(),
        exclude: sel.exclude.clone(),
        selector: sel.selector.clone(),
        indirect_selection: g.indirect_selection.unwrap_or_default(),
        state: state.clone(),
        warn_error: g.warn_error,
        warn_error_options: g
            .warn_error_options
            .as_deref()
            .and_then(|t| WarnErrorOptions::parse(t).ok())
            .unwrap_or_default(),
        ..Default::default()
    }
}

/// What `strata retry` takes from the previous run's run_results.json.
struct Retry {
    command: Command,
    exec: ExecArgs,
    ids: std::collections::BTreeSet<String>,
}

/// Read the previous run (dbt retry): its command, arguments and the nodes to run again.
/// The previous target and vars apply (vars given now win), as in dbt.
fn previous_run(g: &mut GlobalArgs, threads: Option<usize>) -> Result<Retry> {
    let dir = match &g.state {
        Some(state) => state.clone(),
        None => {
            let file = crate::project::ProjectFile::load(&crate::project::ProjectFile::find(
                Path::new("."),
            )?)?;
            PathBuf::from(file.target_path)
        }
    };
    let path = dir.join("run_results.json");
    let text = std::fs::read_to_string(&path).map_err(|_| {
        Error::Usage(format!(
            "retry: could not find a previous run in '{}' (no run_results.json)",
            dir.display()
        ))
    })?;
    let previous: Value = serde_json::from_str(&text)
        .map_err(|e| Error::Usage(format!("{}: not a run_results.json: {e}", path.display())))?;
    let args = &previous["args"];
    let which = args["which"].as_str().unwrap_or_default();
    let command = match which {
        "run" => Command::Run,
        "test" => Command::Test,
        "seed" => Command::Seed,
        "build" => Command::Build,
        "snapshot" => Command::Snapshot,
        "compile" => Command::Compile,
        other => {
            return Err(Error::Usage(format!(
                "retry: the previous command ({other:?}) is not one retry runs again (run, \
                 test, seed, build, snapshot, compile)"
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
    let ids = previous["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["status"].as_str().is_some_and(|s| retryable.contains(&s)))
        .filter_map(|r| r["unique_id"].as_str().map(String::from))
        .filter(|id| !id.starts_with("operation."))
        .collect();
    if g.target.is_none() {
        g.target = args["target"].as_str().map(String::from);
    }
    if g.vars.is_none() {
        if let Some(vars) = args["vars"].as_object().filter(|v| !v.is_empty()) {
            g.vars = Some(Value::Object(vars.clone()).to_string());
        }
    }
    let exec = ExecArgs {
        threads: threads.or_else(|| args["threads"].as_u64().map(|t| t as usize)),
        full_refresh: args["full_refresh"].as_bool().unwrap_or(false),
        ..Default::default()
    };
    Ok(Retry { command, exec, ids })
}

async fn dispatch(cmd: Cmd, mut g: GlobalArgs, printer: Arc<Printer>) -> Result<i32> {
    let (cmd, retry) = match cmd {
        Cmd::Retry { threads } => {
            let r = previous_run(&mut g, threads)?;
            let cmd = match r.command {
                Command::Test => Cmd::Test(r.exec.clone()),
                Command::Seed => Cmd::Seed(r.exec.clone()),
                Command::Build => Cmd::Build(r.exec.clone()),
                Command::Snapshot => Cmd::Snapshot(r.exec.clone()),
                Command::Compile => Cmd::Compile(r.exec.clone()),
                _ => Cmd::Run(r.exec.clone()),
            };
            (cmd, Some(r.ids))
        }
        other => (other, None),
    };
    let load = load_options(&g)?;
    // Read before this command writes its own artifacts: `--state target/` is allowed.
    let state = match &g.state {
        Some(dir) => Some(Arc::new(PreviousState::load(dir)?)),
        None => None,
    };
    let (command, exec) = match cmd {
        Cmd::Run(a) => (Command::Run, a),
        Cmd::Test(a) => (Command::Test, a),
        Cmd::Seed(a) => (Command::Seed, a),
        Cmd::Build(a) => (Command::Build, a),
        Cmd::Snapshot(a) => (Command::Snapshot, a),
        Cmd::Compile(a) => (Command::Compile, a),
        Cmd::Ls {
            selection,
            resource_type,
            exclude_resource_type,
            output,
            output_keys,
        } => {
            return list(
                &load,
                printer,
                selection_options(&selection, &g, &state),
                (resource_type, exclude_resource_type),
                &output,
                &output_keys,
            );
        }
        Cmd::Show {
            selection,
            inline,
            limit,
        } => {
            let opts = selection_options(&selection, &g, &state);
            return show(&load, printer, opts, inline, limit).await;
        }
        Cmd::Clean => return clean(&load, &printer),
        // Turned into the previous command above.
        Cmd::Retry { .. } => return Err(Error::Usage("retry: nothing to retry".into())),
        Cmd::Source {
            command: SourceCmd::Freshness { selection, output },
        } => {
            let opts = selection_options(&selection, &g, &state);
            return source_freshness(&load, printer, opts, output).await;
        }
        Cmd::Rights(r) => return rights(&load, printer, r).await,
        Cmd::Debug => return debug(&load, printer).await,
        Cmd::Maintain {
            selection,
            skip_optimize,
            skip_vacuum,
        } => {
            let session = Session::open(
                &load,
                Flags {
                    full_refresh: false,
                    which: "maintain".into(),
                    ..Default::default()
                },
                printer.clone(),
            )?;
            let opts = selection_options(&selection, &g, &state);
            let what = execute::maintain::MaintainOptions {
                optimize: !skip_optimize,
                vacuum: !skip_vacuum,
            };
            let reports = session.maintain(&opts, &what).await?;
            printer.info(
                "maintain",
                &format!("Maintained {} table(s).", reports.len()),
            );
            return Ok(0);
        }
        Cmd::RunOperation { macro_name, args } => {
            let args = parse_mapping("--args", args.as_deref())?;
            let session = Session::open(
                &load,
                Flags {
                    full_refresh: false,
                    which: "run-operation".into(),
                    ..Default::default()
                },
                printer.clone(),
            )?;
            let sql = execute::run_operation(&session, &macro_name, &args).await?;
            if !sql.trim().is_empty() {
                printer.info("run_operation", sql.trim());
            }
            return Ok(0);
        }
    };
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
    };
    let session = Session::open(&load, flags, printer.clone())?;
    let p = &session.project;
    printer.info(
        "startup",
        &format!("Running with strata={}", env!("CARGO_PKG_VERSION")),
    );
    let count = |rt: ResourceType| p.nodes.values().filter(|n| n.resource_type == rt).count();
    // dbt's line: the kinds there are, singular or plural.
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
    let target_dir = p.target_dir();
    let mut t = std::time::Instant::now();
    artifacts::write_manifest(&target_dir.join("manifest.json"), &session)?;
    execute::phase("manifest", &mut t);
    let opts = RunOptions {
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
        retry_ids: retry,
        ..selection_options(&exec.selection, &g, &state)
    };
    let ids = session.select(command, &opts, None)?;
    let args = run_args(command, &opts, &load, &g);
    let results_path = target_dir.join("run_results.json");
    let write_results = |outcome: &execute::RunOutcome| {
        artifacts::write_run_results(&results_path, &session, outcome, &args)
    };
    if g.defer {
        let defer_state = match &g.defer_state {
            Some(dir) => Some(Arc::new(PreviousState::load(dir)?)),
            None => state.clone(),
        };
        let Some(state) = &defer_state else {
            return Err(Error::Usage(
                "--defer needs --state <dir> (or --defer-state): the artifacts of the run to \
                 read unselected models from"
                    .into(),
            ));
        };
        let n = session.defer(&ids, state, g.favor_state).await?;
        printer.info(
            "defer",
            &format!("Deferred {n} unselected model(s) and seed(s) to the --state run's relations"),
        );
    }
    if ids.is_empty() {
        // The personal-data check does not depend on there being nodes to run.
        if matches!(command, Command::Test | Command::Compile | Command::Build) {
            execute::check_coverage(&session, command != Command::Compile).await?;
        }
        // dbt rewrites run_results.json with no results: a later `result:` selection or an
        // uploaded artifact must not see the previous run's.
        write_results(&execute::RunOutcome::of(Vec::new(), 0.0))?;
        let msg = "Nothing to do. Try checking your model configs and model specification args";
        if opts.warning_is_error("NothingToDo") {
            return Err(Error::Usage(format!(
                "{msg} (a warning, made an error by --warn-error)"
            )));
        }
        printer.warn("nothing_to_do", msg);
        return Ok(0);
    }
    if command == Command::Compile {
        let started = std::time::Instant::now();
        let n = execute::compile_only(&session, &ids, exec.full_refresh).await?;
        // dbt's compile writes run_results.json too: every selected node compiled.
        let compiled = ids
            .iter()
            .map(|id| execute::results::NodeResult::compiled(id))
            .collect();
        write_results(&execute::RunOutcome::of(
            compiled,
            started.elapsed().as_secs_f64(),
        ))?;
        printer.info(
            "compiled",
            &format!(
                "Compiled {n} nodes into {}",
                target_dir.join("compiled").display()
            ),
        );
        session.leave();
        return Ok(0);
    }
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

/// The invocation's arguments as run_results.json records them.
fn run_args(command: Command, opts: &RunOptions, load: &LoadOptions, g: &GlobalArgs) -> Value {
    json!({
        "which": command.name(), "select": opts.select, "exclude": opts.exclude,
        "full_refresh": opts.full_refresh, "threads": opts.threads, "vars": load.cli_vars,
        "target": g.target,
    })
}

fn list(
    load: &LoadOptions,
    printer: Arc<Printer>,
    opts: RunOptions,
    (types, excluded): (Vec<String>, Vec<String>),
    output: &str,
    output_keys: &[String],
) -> Result<i32> {
    let session = Session::open_offline(
        load,
        Flags {
            full_refresh: false,
            which: "ls".into(),
            ..Default::default()
        },
        printer,
    )?;
    let mut rts = resource_types("--resource-type", &types)?;
    let mut want_sources = types.is_empty() || types.iter().any(|t| t == "source");
    if types.is_empty() {
        rts = vec![
            ResourceType::Model,
            ResourceType::Seed,
            ResourceType::Snapshot,
            ResourceType::Test,
            ResourceType::UnitTest,
        ];
    }
    let left_out = resource_types("--exclude-resource-type", &excluded)?;
    rts.retain(|t| !left_out.contains(t));
    if excluded.iter().any(|t| t == "source") {
        want_sources = false;
    }
    let want_exposures = (types.is_empty() || types.iter().any(|t| t == "exposure"))
        && !excluded.iter().any(|t| t == "exposure");
    let chosen = session.resolve_selection(&opts)?;
    let mut ids = session.nodes_in(chosen.as_ref(), Command::List, &opts, Some(&rts));
    if want_sources {
        ids.extend(
            session
                .project
                .sources
                .keys()
                .filter(|k| chosen.as_ref().is_none_or(|c| c.contains(*k)))
                .cloned(),
        );
    }
    if want_exposures {
        ids.extend(
            session
                .project
                .exposures
                .keys()
                .filter(|k| chosen.as_ref().is_none_or(|c| c.contains(*k)))
                .cloned(),
        );
    }
    // dbt lists in unique_id order, nodes, sources and exposures together.
    ids.sort();
    if ids.is_empty() {
        if opts.warning_is_error("NoNodesSelected") {
            return Err(Error::Usage(
                "No nodes selected! (a warning, made an error by --warn-error)".into(),
            ));
        }
        session
            .printer
            .warn("no_nodes_selected", "No nodes selected!");
    }
    // dbt's keys for `--output json` (or the --output-keys asked for).
    let keep = |mut v: Value| -> String {
        const DBT_KEYS: &[&str] = &[
            "name",
            "resource_type",
            "package_name",
            "original_file_path",
            "unique_id",
            "alias",
            "config",
            "tags",
            "depends_on",
            "source_name",
        ];
        if let Value::Object(m) = &mut v {
            if output_keys.is_empty() {
                m.retain(|k, _| DBT_KEYS.contains(&k.as_str()));
            } else {
                // In the order asked for, as dbt prints them.
                let mut ordered = Map::new();
                for k in output_keys {
                    if let Some(value) = m.remove(k) {
                        ordered.insert(k.clone(), value);
                    }
                }
                *m = ordered;
            }
        }
        v.to_string()
    };
    let mut out = String::new();
    for id in &ids {
        let unit_test = session
            .project
            .nodes
            .get(id)
            .filter(|n| n.resource_type == ResourceType::UnitTest);
        let line = if let Some(n) = unit_test {
            match output {
                "name" => n.name.clone(),
                "path" => n.original_file_path.display().to_string(),
                "json" => keep(json!({"name": n.name, "resource_type": "unit_test",
                    "package_name": n.package_name, "original_file_path": n.original_file_path,
                    "unique_id": n.unique_id,
                    "depends_on": {"macros": [], "nodes": n.depends_on},
                    "config": {"tags": n.config.tags(), "meta": n.config.get("meta").cloned().unwrap_or(json!({})), "enabled": true},
                    "fqn": n.fqn})),
                _ => format!("unit_test:{}.{}", session.project.name(), n.name),
            }
        } else if let Some(n) = session.project.nodes.get(id) {
            match output {
                "name" => n.name.clone(),
                "path" => n.original_file_path.display().to_string(),
                "json" => {
                    let alias = match session.compiler.relation_of(&n.name) {
                        Some(r) if n.is_relational() => r.identifier,
                        _ => n
                            .path
                            .file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_else(|| n.name.clone()),
                    };
                    let mut config = n.config.0.clone();
                    config
                        .entry("materialized")
                        .or_insert_with(|| n.config.materialized().into());
                    config.entry("enabled").or_insert(Value::Bool(true));
                    keep(
                        json!({"name": n.name, "resource_type": n.resource_type.as_str(),
                        "package_name": n.package_name, "original_file_path": n.original_file_path,
                        "unique_id": n.unique_id, "alias": alias, "config": config,
                        "tags": n.config.tags(), "fqn": n.fqn, "path": n.path,
                        "depends_on": {"macros": [], "nodes": n.depends_on}}),
                    )
                }
                _ => n.fqn.join("."),
            }
        } else if let Some(s) = session.project.sources.get(id) {
            match output {
                "name" => format!("{}.{}", s.source_name, s.name),
                "path" => s.original_file_path.display().to_string(),
                "json" => keep(json!({"name": s.name, "source_name": s.source_name,
                    "resource_type": "source", "package_name": session.project.name(),
                    "original_file_path": s.original_file_path, "unique_id": s.unique_id,
                    "config": s.config.0, "tags": s.tags, "fqn": s.fqn})),
                _ => format!("source:{}", s.fqn.join(".")),
            }
        } else if let Some(e) = session.project.exposures.get(id) {
            let tags = &e.spec.tags;
            match output {
                "name" => e.name.clone(),
                "path" => e.original_file_path.display().to_string(),
                "json" => keep(json!({"name": e.name, "resource_type": "exposure",
                    "package_name": session.project.name(),
                    "original_file_path": e.original_file_path, "unique_id": e.unique_id,
                    "tags": tags, "config": {"enabled": true, "tags": tags, "meta": e.spec.meta},
                    "depends_on": {"macros": [], "nodes": e.depends_on}, "fqn": e.fqn})),
                // dbt names the package and the exposure here, not the whole fqn.
                _ => format!("exposure:{}.{}", session.project.name(), e.name),
            }
        } else {
            continue;
        };
        out.push_str(&line);
        out.push('\n');
    }
    print!("{out}");
    Ok(0)
}

async fn source_freshness(
    load: &LoadOptions,
    printer: Arc<Printer>,
    opts: RunOptions,
    output: Option<PathBuf>,
) -> Result<i32> {
    let session = Session::open(
        load,
        Flags {
            full_refresh: false,
            which: "freshness".into(),
            ..Default::default()
        },
        printer.clone(),
    )?;
    let started = std::time::Instant::now();
    let chosen = session.resolve_selection(&opts)?;
    let ids: Vec<String> = session
        .project
        .sources
        .keys()
        .filter(|id| chosen.as_ref().is_none_or(|c| c.contains(*id)))
        .cloned()
        .collect();
    let results = execute::freshness::check(&session, &ids).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let path = output.unwrap_or_else(|| session.project.target_dir().join("sources.json"));
    artifacts::write_json(
        &path,
        &execute::freshness::sources_json(&session, &results, elapsed),
    )?;
    if results.is_empty() {
        printer.info(
            "no_nodes",
            "Nothing to do: no selected source has freshness to check (freshness with \
             warn_after or error_after, and a loaded_at_field).",
        );
        return Ok(0);
    }
    printer.info(
        "finished",
        &format!(
            "Finished running {} sources in {elapsed:.2}s.",
            results.len()
        ),
    );
    for r in results.iter().filter(|r| r.failed()) {
        let why = r.message.as_deref().unwrap_or("stale: past error_after");
        printer.error("freshness_error", &format!("{}: {why}", r.unique_id));
    }
    let warned = results.iter().any(|r| r.status == "warn");
    let failed = results.iter().any(|r| r.failed()) || (opts.warn_error && warned);
    Ok(i32::from(failed))
}

async fn show(
    load: &LoadOptions,
    printer: Arc<Printer>,
    opts: RunOptions,
    inline: Option<String>,
    limit: usize,
) -> Result<i32> {
    let session = Session::open(
        load,
        Flags {
            full_refresh: false,
            which: "show".into(),
            ..Default::default()
        },
        printer.clone(),
    )?;
    let (label, sql_text) = match inline {
        Some(text) => (
            "inline query".to_string(),
            execute::render_inline(&session, &text).await?,
        ),
        None => {
            let ids = session.select(
                Command::Compile,
                &opts,
                Some(&[ResourceType::Model, ResourceType::Snapshot]),
            )?;
            let [id] = ids.as_slice() else {
                return Err(Error::Usage(format!(
                    "show: --select must name exactly one model or snapshot ({} matched); or use --inline",
                    ids.len()
                )));
            };
            let node = &session.project.nodes[id];
            (node.name.clone(), execute::compile_one(&session, id).await?)
        }
    };
    let table = execute::preview(&session, &sql_text, limit).await?;
    printer.info("show", &format!("Previewing {label}:"));
    print!("{}", format_table(&table));
    Ok(0)
}

/// Rows as an aligned text table.
pub fn format_table(table: &crate::compile::Table) -> String {
    let cell = |v: &Value| match v {
        Value::Null => "NULL".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect();
    let mut widths: Vec<usize> = table.columns.iter().map(|c| c.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |\n", parts.join(" | "))
    };
    let mut out = line(&table.columns);
    out.push_str(&format!(
        "|{}|\n",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    ));
    for r in &rows {
        out.push_str(&line(r));
    }
    out
}

async fn rights(load: &LoadOptions, printer: Arc<Printer>, cmd: RightsCmd) -> Result<i32> {
    use crate::rights::{RightsConfig, RightsEngine};
    let session = Session::open(
        load,
        Flags {
            full_refresh: false,
            which: "rights".into(),
            ..Default::default()
        },
        printer.clone(),
    )?;
    let config = RightsConfig::from_project(
        session.project.file.rights.as_ref(),
        &session.project.file_path,
    )?;
    let engine = RightsEngine::new(&session, config).await?;
    // Requests are answered only once what the warehouse holds is covered.
    let answers = matches!(cmd, RightsCmd::Apply { .. } | RightsCmd::Consume { .. });
    let outcome = if answers {
        match crate::rights::declare::check_warehouse(&session, &engine.config, engine.declared())
            .await
        {
            Ok(()) => rights_with(&engine, &printer, cmd).await,
            Err(e) => Err(e),
        }
    } else {
        rights_with(&engine, &printer, cmd).await
    };
    // This process's batch table goes, whatever happened.
    engine.close().await;
    outcome
}

async fn rights_with(
    engine: &crate::rights::RightsEngine,
    printer: &Arc<Printer>,
    cmd: RightsCmd,
) -> Result<i32> {
    use crate::rights::{message, RightsRequest};
    match cmd {
        RightsCmd::Apply {
            right_type,
            guid,
            request_id,
        } => {
            let payload = json!({
                "request_id": request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                "guid": guid,
                "right_type": right_type,
                "created_at": message::now_epoch(),
            });
            let bytes = serde_json::to_vec(&payload).map_err(|e| Error::Usage(e.to_string()))?;
            let result = match message::parse_request(&bytes, &|g| engine.valid_guid(g)) {
                Ok(req) => {
                    let (mut results, _) = engine
                        .process(std::slice::from_ref::<RightsRequest>(&req))
                        .await?;
                    results
                        .pop()
                        .ok_or_else(|| Error::Adapter("no result".into()))?
                }
                Err(m) => m
                    .answer(&engine.config.service_name)
                    .ok_or_else(|| Error::Usage(m.reason.clone()))?,
            };
            println!(
                "{}",
                serde_json::to_string(&result).map_err(|e| Error::Adapter(e.to_string()))?
            );
            Ok(if result.result.code == "500" { 1 } else { 0 })
        }
        RightsCmd::Consume {
            brokers,
            request_topic,
            result_topic,
            dead_letter_topic,
            group_id,
            batch_size,
            batch_wait_ms,
            idle_exit_seconds,
            metrics_port,
        } => {
            use crate::rights::consumer::{consume, ConsumeOptions};
            let c = &engine.config;
            let brokers = brokers.or_else(|| c.brokers.clone()).ok_or_else(|| {
                Error::Usage("rights consume: no brokers (give --brokers or set rights.brokers in project.yml)".into())
            })?;
            let opts = ConsumeOptions {
                brokers,
                request_topic: request_topic.unwrap_or_else(|| c.request_topic.clone()),
                result_topic: result_topic.unwrap_or_else(|| c.result_topic.clone()),
                dead_letter_topic: dead_letter_topic.unwrap_or_else(|| c.dead_letter_topic.clone()),
                group_id: group_id.unwrap_or_else(|| c.group_id.clone()),
                batch_size: batch_size.unwrap_or(c.batch_size).max(1),
                batch_wait: std::time::Duration::from_millis(
                    batch_wait_ms.unwrap_or(c.batch_wait_ms),
                ),
                idle_exit: idle_exit_seconds.map(std::time::Duration::from_secs),
                security_protocol: c.security_protocol.clone(),
                sasl_mechanism: c.sasl_mechanism.clone(),
                aws_region: c.aws_region.clone(),
                session_timeout_ms: c.session_timeout_ms,
                metrics_port: metrics_port.or(c.metrics_port),
            };
            let stats = consume(engine, &opts, printer).await?;
            printer.info(
                "rights_done",
                &format!(
                    "Answered {} requests in {} batches ({} dead-lettered) in {:.1}s",
                    stats.requests,
                    stats.batches,
                    stats.dead_lettered,
                    stats.elapsed.as_secs_f64()
                ),
            );
            Ok(0)
        }
        RightsCmd::Submit {
            brokers,
            request_topic,
        } => {
            let c = &engine.config;
            let brokers = brokers.or_else(|| c.brokers.clone()).ok_or_else(|| {
                Error::Usage(
                    "rights submit: no brokers (give --brokers or set rights.brokers)".into(),
                )
            })?;
            let topic = request_topic.unwrap_or_else(|| c.request_topic.clone());
            let n =
                crate::rights::consumer::submit(&brokers, &topic, std::io::stdin().lock()).await?;
            printer.info(
                "rights_submit",
                &format!("Published {n} requests to {topic}"),
            );
            Ok(0)
        }
        RightsCmd::Purge => {
            let n = engine.purge().await?;
            printer.info("purge", &format!("Purged the tables of {n} erasures"));
            let swept = engine.sweep_exports().await?;
            printer.info(
                "exports_removed",
                &format!("Removed the ACCESS exports of {swept} requests (past their retention)"),
            );
            Ok(0)
        }
        RightsCmd::Declared => {
            for d in engine.declared() {
                match &d.via {
                    Some(v) => println!(
                        "{}: {} via {}.{} -> {}",
                        d.name, d.key, v.relation, v.key, v.subject_key
                    ),
                    None => println!("{}: {}", d.name, d.key),
                }
            }
            Ok(0)
        }
    }
}

fn clean(load: &LoadOptions, printer: &Printer) -> Result<i32> {
    let path = crate::project::ProjectFile::find(&load.project_dir)?;
    let file = crate::project::ProjectFile::load(&path)?;
    for t in file.clean_targets() {
        let p = load.project_dir.join(&t);
        let canonical_root = load
            .project_dir
            .canonicalize()
            .map_err(|e| Error::io(&load.project_dir, e))?;
        // Never delete outside the project.
        match p.canonicalize() {
            Ok(c) if c.starts_with(&canonical_root) && c != canonical_root => {
                std::fs::remove_dir_all(&c).map_err(|e| Error::io(&c, e))?;
                printer.info("clean", &format!("Cleaned {t}/"));
            }
            Ok(_) => {
                return Err(Error::Usage(format!(
                    "clean-targets: '{t}' is not inside the project"
                )))
            }
            Err(_) => printer.info("clean", &format!("{t}/ does not exist")),
        }
    }
    Ok(0)
}

async fn debug(load: &LoadOptions, printer: Arc<Printer>) -> Result<i32> {
    let session = Session::open(
        load,
        Flags {
            full_refresh: false,
            which: "debug".into(),
            ..Default::default()
        },
        printer.clone(),
    )?;
    let p = &session.project;
    printer.info(
        "debug",
        &format!("strata version: {}", env!("CARGO_PKG_VERSION")),
    );
    printer.info(
        "debug",
        &format!("project: {} ({})", p.name(), p.file_path.display()),
    );
    match &p.target.profiles_path {
        Some(path) => printer.info("debug", &format!("profiles.yml: {}", path.display())),
        None => printer.info("debug", "profiles.yml: none (embedded DuckDB default)"),
    }
    printer.info(
        "debug",
        &format!(
            "target: {} (type {}, database {}, schema {})",
            p.target.name, p.target.adapter_type, p.target.database, p.target.schema
        ),
    );
    match session.adapter.describe().await {
        Ok(d) => {
            printer.info("debug", &format!("connection: OK ({d})"));
            printer.info("debug", "All checks passed!");
            Ok(0)
        }
        Err(e) => {
            printer.error("debug", &format!("connection: FAILED: {e}"));
            Ok(1)
        }
    }
}
