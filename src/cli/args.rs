//! The command line's arguments: the clap types, and their check into [`Settings`], with
//! every STRATA_/DBT_ environment fallback read in this one file.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::graph::{IndirectSelection, PreviousState};
use crate::project::{LoadOptions, ResourceType};
use crate::session::printer::LogFormat;
use crate::session::{RunOptions, WarnErrorOptions};

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
    /// The profile of profiles.yml to use, instead of the project's `profile:` (as in dbt,
    /// no environment variable sets it: STRATA_PROFILE turns on phase timings).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// The target (an output of the profile) [env: STRATA_TARGET, DBT_TARGET].
    #[arg(long, short = 't', global = true)]
    pub target: Option<String>,
    /// Where artifacts, compiled SQL and the default DuckDB file go, instead of the project's
    /// `target-path` (relative to the project folder) [env: STRATA_TARGET_PATH,
    /// DBT_TARGET_PATH].
    #[arg(long, global = true)]
    pub target_path: Option<String>,
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
    /// Neither check the project's and packages' `require-dbt-version` against the dbt
    /// version Strata follows, nor filter hub versions by theirs [env:
    /// STRATA_VERSION_CHECK=false, DBT_VERSION_CHECK=false].
    #[arg(long, global = true)]
    pub no_version_check: bool,
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
        let text = |v: &str| Some(v.to_string());
        let path = |v: &str| Some(PathBuf::from(v));
        if self.project_dir.is_none() {
            self.project_dir = env_setting(&var, "PROJECT_DIR", "", path)?;
        }
        if self.target.is_none() {
            self.target = env_setting(&var, "TARGET", "", text)?;
        }
        if self.target_path.is_none() {
            self.target_path = env_setting(&var, "TARGET_PATH", "", text)?;
        }
        for (name, flag) in [
            ("DEFER", &mut self.defer),
            ("FAVOR_STATE", &mut self.favor_state),
        ] {
            if !*flag {
                if let Some(on) = env_bool(&var, name)? {
                    *flag = on;
                }
            }
        }
        if self.warn_error_options.is_none() {
            self.warn_error_options = env_setting(&var, "WARN_ERROR_OPTIONS", "", text)?;
        }
        if let Some(text) = &self.warn_error_options {
            // `error: all` is --warn-error.
            if WarnErrorOptions::parse(text)?.all {
                self.warn_error = true;
            }
        }
        if !self.no_version_check && env_bool(&var, "VERSION_CHECK")? == Some(false) {
            self.no_version_check = true;
        }
        if self.state.is_none() {
            self.state = env_setting(&var, "STATE", "", path)?;
        }
        if self.defer_state.is_none() {
            self.defer_state = env_setting(&var, "DEFER_STATE", "", path)?;
        }
        if self.indirect_selection.is_none() {
            self.indirect_selection = env_setting(
                &var,
                "INDIRECT_SELECTION",
                "eager, cautious, buildable or empty",
                IndirectSelection::parse,
            )?;
        }
        if self.log_format.is_none() {
            self.log_format = env_setting(&var, "LOG_FORMAT", "text or json", log_format)?;
        }
        if !self.warn_error {
            if let Some(on) = env_bool(&var, "WARN_ERROR")? {
                self.warn_error = on;
            }
        }
        if !self.partial_parse && !self.no_partial_parse {
            if let Some(on) = env_bool(&var, "PARTIAL_PARSE")? {
                self.no_partial_parse = !on;
            }
        }
        Ok(())
    }
}

/// A setting from the environment as dbt reads it, the one way every STRATA_/DBT_ fallback
/// is read: `STRATA_<name>`, then `DBT_<name>` (empty counts as unset), turned into a value
/// by `parse`; a value `parse` refuses is a usage error naming the variable and what was
/// `expected`.
fn env_setting<T>(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    expected: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>> {
    let found = [format!("STRATA_{name}"), format!("DBT_{name}")]
        .into_iter()
        .find_map(|key| var(&key).filter(|v| !v.trim().is_empty()).map(|v| (key, v)));
    let Some((key, v)) = found else {
        return Ok(None);
    };
    match parse(&v) {
        Some(value) => Ok(Some(value)),
        None => Err(Error::Usage(format!("{key}={v:?}: expected {expected}"))),
    }
}

/// A boolean setting from the environment (click's spellings).
fn env_bool(var: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<bool>> {
    env_setting(var, name, "true or false", parse_bool)
}

/// A boolean flag of one command from the process environment (`STRATA_<name>`, then
/// `DBT_<name>`), read only by the commands that take it.
pub(crate) fn env_flag(name: &str) -> Result<bool> {
    Ok(env_bool(&|key: &str| std::env::var(key).ok(), name)?.unwrap_or(false))
}

/// A boolean as dbt's command line reads one from the environment (click's spellings).
fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" => Some(true),
        "0" | "false" | "f" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

/// A log format as STRATA_LOG_FORMAT / DBT_LOG_FORMAT name it.
fn log_format(v: &str) -> Option<LogFormat> {
    match v.trim().to_ascii_lowercase().as_str() {
        // dbt's `default` and `debug` are its text log.
        "text" | "default" | "debug" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
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
    /// Microbatch models build batches from this time (inclusive; UTC, YYYY-MM-DD or
    /// YYYY-MM-DD[T ]HH:MM:SS) [env: STRATA_EVENT_TIME_START, DBT_EVENT_TIME_START].
    #[arg(long)]
    pub event_time_start: Option<String>,
    /// ... up to this time (exclusive) [env: STRATA_EVENT_TIME_END, DBT_EVENT_TIME_END].
    #[arg(long)]
    pub event_time_end: Option<String>,
    /// Rebuild every selected model, seed and snapshot, even those whose SQL and inputs did
    /// not change since their last build (which are otherwise reused) [env:
    /// STRATA_NO_REUSE].
    #[arg(long)]
    pub no_reuse: bool,
}

/// dbt's resource type names for --resource-type / --exclude-resource-type (types Strata

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
    /// The documentation site: `strata docs generate`, `strata docs serve`.
    Docs {
        #[command(subcommand)]
        command: DocsCmd,
    },
    /// The upstream columns each column of a model is computed from (column lineage, from
    /// its compiled SQL): `strata lineage MODEL` or `strata lineage MODEL.COLUMN`.
    Lineage {
        /// A model's name, or MODEL.COLUMN for one column.
        model: String,
        /// text or json.
        #[arg(long, short = 'o', default_value = "text")]
        output: String,
    },
    /// Load the project and write target/manifest.json, without the warehouse.
    Parse,
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
    /// Install the packages of packages.yml / dependencies.yml (hub, git, local, tarball)
    /// into the packages-install-path, pinned in package-lock.yml, as `dbt deps` does.
    Deps(DepsArgs),
    /// Run a macro.
    RunOperation {
        macro_name: String,
        /// Arguments as YAML or JSON.
        #[arg(long)]
        args: Option<String>,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct DepsArgs {
    /// Resolve the packages again even when package-lock.yml matches the packages file.
    #[arg(long)]
    pub upgrade: bool,
    /// Only write package-lock.yml; install nothing.
    #[arg(long)]
    pub lock: bool,
    /// Add a package to packages.yml first: NAME@VERSION (a version with commas is a
    /// range list, e.g. dbt-labs/dbt_utils@>=1.0.0,<2.0.0).
    #[arg(long, value_name = "NAME@VERSION")]
    pub add_package: Option<String>,
    /// Where --add-package's package comes from.
    #[arg(long, value_enum, default_value = "hub")]
    pub source: DepsSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DepsSource {
    #[default]
    Hub,
    Git,
    Local,
}

/// The environment `deps` reads, as dbt names it (Strata's spelling first).
pub(crate) struct DepsEnv {
    /// STRATA_PACKAGE_HUB_URL / DBT_PACKAGE_HUB_URL, else hub.getdbt.com.
    pub hub_url: String,
    /// DBT_DOWNLOADS_DIR: where downloads go (kept); else a temporary folder.
    pub downloads_dir: Option<PathBuf>,
    /// DBT_HTTP_TIMEOUT (seconds) for tarball downloads, 10 by default.
    pub http_timeout: std::time::Duration,
    /// REQUESTS_CA_BUNDLE (what dbt's HTTP library reads), else SSL_CERT_FILE: root
    /// certificates for a hub mirror behind an internal CA.
    pub ca_bundle: Option<PathBuf>,
}

pub(crate) fn deps_env() -> Result<DepsEnv> {
    let var = |key: &str| std::env::var(key).ok();
    let seconds = |v: &str| {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|s| *s > 0.0 && s.is_finite())
    };
    let timeout = env_setting(&var, "HTTP_TIMEOUT", "a number of seconds", seconds)?;
    Ok(DepsEnv {
        hub_url: crate::deps::hub_url(var),
        downloads_dir: env_setting(&var, "DOWNLOADS_DIR", "", |v| Some(PathBuf::from(v)))?,
        http_timeout: std::time::Duration::from_secs_f64(timeout.unwrap_or(10.0)),
        ca_bundle: ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"]
            .into_iter()
            .find_map(|k| var(k).filter(|v| !v.trim().is_empty()))
            .map(PathBuf::from),
    })
}

#[derive(Debug, Subcommand)]
pub enum DocsCmd {
    /// Write target/catalog.json (the warehouse's tables, views, columns and types),
    /// target/manifest.json, target/column_lineage.json and the site: target/index.html,
    /// which opens from file:// with no server and no network.
    Generate {
        /// Do not compile the nodes first (the pages show no compiled SQL).
        #[arg(long)]
        no_compile: bool,
        /// Write a catalog with nothing in it, without asking the warehouse.
        #[arg(long)]
        empty_catalog: bool,
        /// Also write target/static_index.html: the whole site in one file.
        #[arg(long = "static")]
        one_file: bool,
    },
    /// Serve the target folder (run `docs generate` first).
    Serve {
        /// The port to listen on.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Do not open a browser.
        #[arg(long)]
        no_browser: bool,
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
    /// Run a request the ledger answered 500 once more, after its cause is fixed; print the
    /// new result and publish it to the result topic (when brokers are known). A request
    /// redelivered after a 500 is otherwise answered 500 again from the ledger.
    Retry {
        /// The request_id of the failed request.
        request_id: String,
        /// Kafka bootstrap servers (default: rights.brokers in project.yml).
        #[arg(long)]
        brokers: Option<String>,
        #[arg(long)]
        result_topic: Option<String>,
        /// Only print the new result; publish nothing.
        #[arg(long)]
        no_publish: bool,
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

/// dbt's resource type names for --resource-type / --exclude-resource-type (types Strata
/// does not have, such as unit_test or snapshot, select nothing).
pub(crate) fn resource_types(flag: &str, names: &[String]) -> Result<Vec<ResourceType>> {
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

/// The global flags once the environment filled them in and they were checked: what every
/// command reads. Built after `retry` took the previous run's target and vars.
pub(crate) struct Settings {
    pub global: GlobalArgs,
    pub load: LoadOptions,
    /// `--state`, read before this command writes its own artifacts (`--state target/`
    /// is allowed).
    pub state: Option<Arc<PreviousState>>,
    pub warn_error_options: WarnErrorOptions,
}

impl Settings {
    pub fn new(global: GlobalArgs) -> Result<Self> {
        let load = LoadOptions {
            project_dir: PathBuf::from("."),
            profiles_dir: global.profiles_dir.clone(),
            profile: global.profile.clone(),
            target: global.target.clone(),
            target_path: global.target_path.clone(),
            cli_vars: parse_mapping("--vars", global.vars.as_deref())?,
            no_partial_parse: global.no_partial_parse,
            warn_error: global.warn_error,
            version_check: !global.no_version_check,
        };
        let state = match &global.state {
            Some(dir) => Some(Arc::new(PreviousState::load(dir)?)),
            None => None,
        };
        // Checked by `GlobalArgs::fill_from_env` already.
        let warn_error_options = global
            .warn_error_options
            .as_deref()
            .and_then(|t| WarnErrorOptions::parse(t).ok())
            .unwrap_or_default();
        Ok(Settings {
            global,
            load,
            state,
            warn_error_options,
        })
    }

    /// The selection flags every selecting command shares.
    pub fn selection(&self, sel: &SelectArgs) -> RunOptions {
        RunOptions {
            select: sel.select.clone(),
            exclude: sel.exclude.clone(),
            selector: sel.selector.clone(),
            indirect_selection: self.global.indirect_selection.unwrap_or_default(),
            state: self.state.clone(),
            warn_error: self.global.warn_error,
            warn_error_options: self.warn_error_options.clone(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(vars: &[(&str, &str)], argv: &[&str]) -> Result<GlobalArgs> {
        let mut global = Cli::parse_from(argv).global;
        let vars: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        global.fill_from_env(|key| vars.get(key).cloned())?;
        Ok(global)
    }

    #[test]
    fn strata_variables_win_over_dbt_ones_and_empty_counts_as_unset() {
        let g = filled(
            &[
                ("STRATA_TARGET", " "),
                ("DBT_TARGET", "prod"),
                ("STRATA_LOG_FORMAT", "debug"),
                ("DBT_LOG_FORMAT", "json"),
                ("DBT_PARTIAL_PARSE", "off"),
                ("STRATA_DEFER", "yes"),
            ],
            &["strata", "ls"],
        )
        .unwrap();
        assert_eq!(g.target.as_deref(), Some("prod"));
        assert_eq!(g.log_format, Some(LogFormat::Text));
        assert!(g.no_partial_parse);
        assert!(g.defer);
    }

    #[test]
    fn the_command_line_wins_over_the_environment() {
        let g = filled(
            &[("STRATA_TARGET", "prod"), ("DBT_PARTIAL_PARSE", "false")],
            &["strata", "ls", "--target", "dev", "--partial-parse"],
        )
        .unwrap();
        assert_eq!(g.target.as_deref(), Some("dev"));
        assert!(!g.no_partial_parse);
    }

    #[test]
    fn a_bad_value_names_the_variable_and_what_was_expected() {
        let err = |key: &str, value: &str| {
            filled(&[(key, value)], &["strata", "ls"])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err("DBT_WARN_ERROR", "maybe")
            .contains("DBT_WARN_ERROR=\"maybe\": expected true or false"));
        assert!(err("STRATA_LOG_FORMAT", "xml")
            .contains("STRATA_LOG_FORMAT=\"xml\": expected text or json"));
        assert!(err("STRATA_INDIRECT_SELECTION", "bad").contains(
            "STRATA_INDIRECT_SELECTION=\"bad\": expected eager, cautious, buildable or empty"
        ));
    }

    #[test]
    fn warn_error_options_error_all_is_warn_error() {
        let g = filled(
            &[("DBT_WARN_ERROR_OPTIONS", "{error: all}")],
            &["strata", "ls"],
        )
        .unwrap();
        assert!(g.warn_error);
    }
}
