//! The command line: dbt's commands and flags, mapped onto the library. Exit codes follow
//! dbt: 0 everything succeeded, 1 a node failed, 2 the project or the command is broken.
//!
//! `args` turns the raw arguments and their STRATA_/DBT_ environment fallbacks into checked
//! settings; `commands` has one module per command, and `dispatch` hands the settings to one.

mod args;
mod commands;

use std::path::Path;
use std::sync::Arc;

pub use args::{
    parse_mapping, Cli, Cmd, DepsArgs, DepsSource, DocsCmd, ExecArgs, GlobalArgs, RightsCmd,
    SelectArgs, SourceCmd,
};
pub use commands::show::format_table;

use crate::error::{Error, Result};
use crate::execute::maintain::MaintainOptions;
use crate::session::printer::Printer;
use crate::session::Command;
use args::Settings;
use commands::ls::TypeFilter;
use commands::{
    build, clean, debug, deps, docs, lineage, ls, maintain, parse, retry, rights, run_operation,
    show, source,
};

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

/// Move into the project folder and run the command there.
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

/// Hand the command to its module.
async fn dispatch(cmd: Cmd, mut global: GlobalArgs, printer: Arc<Printer>) -> Result<i32> {
    // `retry` becomes the previous command; it reads that run's target and vars before
    // the settings are checked.
    if let Cmd::Retry { threads } = cmd {
        let previous = retry::previous_run(&mut global, threads)?;
        let settings = Settings::new(global)?;
        let ids = Some(previous.ids);
        return build::run(previous.command, previous.exec, ids, &settings, printer).await;
    }
    let s = Settings::new(global)?;
    let load = &s.load;
    match cmd {
        Cmd::Run(a) => build::run(Command::Run, a, None, &s, printer).await,
        Cmd::Test(a) => build::run(Command::Test, a, None, &s, printer).await,
        Cmd::Seed(a) => build::run(Command::Seed, a, None, &s, printer).await,
        Cmd::Build(a) => build::run(Command::Build, a, None, &s, printer).await,
        Cmd::Snapshot(a) => build::run(Command::Snapshot, a, None, &s, printer).await,
        Cmd::Compile(a) => build::run(Command::Compile, a, None, &s, printer).await,
        Cmd::Ls {
            selection,
            resource_type,
            exclude_resource_type,
            output,
            output_keys,
        } => {
            let filter = TypeFilter {
                types: resource_type,
                excluded: exclude_resource_type,
            };
            let opts = s.selection(&selection);
            ls::list(load, printer, opts, filter, &output, &output_keys).await
        }
        Cmd::Show {
            selection,
            inline,
            limit,
        } => show::show(load, printer, s.selection(&selection), inline, limit).await,
        Cmd::Clean => clean::clean(load, &printer),
        Cmd::Parse => parse::parse(load, printer),
        Cmd::Docs { command } => docs::docs(load, printer, command).await,
        Cmd::Lineage { model, output } => lineage::lineage(load, printer, &model, &output).await,
        Cmd::Deps(a) => deps::deps(load, &printer, a),
        // Turned into the previous command above.
        Cmd::Retry { .. } => Err(Error::Usage("retry: nothing to retry".into())),
        Cmd::Source {
            command: SourceCmd::Freshness { selection, output },
        } => source::freshness(load, printer, s.selection(&selection), output).await,
        Cmd::Rights(r) => rights::rights(load, printer, r).await,
        Cmd::Debug => debug::debug(load, printer).await,
        Cmd::Maintain {
            selection,
            skip_optimize,
            skip_vacuum,
        } => {
            let what = MaintainOptions {
                optimize: !skip_optimize,
                vacuum: !skip_vacuum,
            };
            maintain::maintain(load, printer, s.selection(&selection), what).await
        }
        Cmd::RunOperation { macro_name, args } => {
            run_operation::run_operation(load, printer, &macro_name, args.as_deref()).await
        }
    }
}
