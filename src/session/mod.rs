//! A loaded, parsed project with its engine (the [`Session`] every command starts from),
//! what the command was asked ([`options`]), which nodes it acts on ([`selection`]), how it
//! talks to the user ([`printer`]) and what each node came to ([`results`]).

mod bridge;
pub mod options;
pub mod printer;
pub mod results;
mod selection;
mod signal;

use std::sync::Arc;
use std::time::Instant;

pub use bridge::Bridge;
pub use options::{Command, RunOptions, WarnErrorOptions};
pub use signal::shutdown_signal;

use crate::adapters::{self, Adapter};
use crate::compile::{Compiler, Flags};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::memo::Hits;
use crate::project::{self, LoadOptions, Project, ResourceType};
use printer::Printer;

/// A loaded, parsed project with its engine: what every command starts from.
pub struct Session {
    pub project: Arc<Project>,
    pub compiler: Arc<Compiler>,
    pub adapter: Arc<dyn Adapter>,
    pub graph: Arc<Graph>,
    pub printer: Arc<Printer>,
    pub started: chrono::DateTime<chrono::Utc>,
    pub invocation_id: String,
    /// What a build would run rather than reuse, with why (`reuse:stale`), once computed
    /// (`execute::find_stale`).
    pub stale: std::sync::OnceLock<std::collections::BTreeMap<String, String>>,
}

/// With STRATA_PROFILE set, print how long each phase took (for benchmarks and profiling).
pub fn phase(name: &str, since: &mut Instant) {
    if std::env::var_os("STRATA_PROFILE").is_some() {
        eprintln!(
            "phase {name}: {:.1} ms",
            since.elapsed().as_secs_f64() * 1000.0
        );
    }
    *since = Instant::now();
}

impl Session {
    /// End the command without tearing the session down when that is safe: the OS frees the
    /// memory and releases the database file faster than dropping every tree and closing the
    /// engine (about 20 ms of a 0.23 s compile of 1,000 models). Committed work is in the
    /// database file already; see [`Adapter::may_exit_without_closing`].
    pub fn leave(self) {
        if self.adapter.may_exit_without_closing() {
            std::mem::forget(self);
        }
    }

    /// Keep what compiling taught the memo for the next run (best effort; once per command).
    pub fn save_memo(&self) {
        // Room for every node's SQL a few times over: edits add entries, old ones go.
        self.project.memo.save(3 * self.project.nodes.len() + 1000);
    }

    pub fn open(load: &LoadOptions, flags: Flags, printer: Arc<Printer>) -> Result<Self> {
        Self::open_with(load, flags, printer, true)
    }

    /// A session for commands that read the project only (`ls`): the warehouse is opened
    /// only if something asks it.
    pub fn open_offline(load: &LoadOptions, flags: Flags, printer: Arc<Printer>) -> Result<Self> {
        Self::open_with(load, flags, printer, false)
    }

    fn open_with(
        load: &LoadOptions,
        flags: Flags,
        printer: Arc<Printer>,
        open_warehouse: bool,
    ) -> Result<Self> {
        let mut t = Instant::now();
        let warn_error = load.warn_error;
        let mut project = project::open(load, &Compiler::render_text, &adapters::TARGET_RULES)?;
        // An existing database file starts opening (on its own thread) before the files are
        // read; a new one is created only once the project has loaded. Either way a broken
        // project is reported before a connection problem.
        let early = (open_warehouse && adapters::has_database_to_open(&project.target))
            .then(|| adapters::connect(&project.target, true));
        phase("project file, profile", &mut t);
        project::load_files(&mut project, &Compiler::render_text)?;
        let adapter = match early {
            Some(connected) => connected?,
            None => adapters::connect(&project.target, open_warehouse)?,
        };
        let hits = &project.memo.hits;
        let load = format!(
            "load ({} YAML parses from partial_parse)",
            Hits::get(&hits.parses)
        );
        phase(&load, &mut t);
        // One invocation id and start time, for templates and for run_results.json.
        let started = chrono::Utc::now();
        let invocation_id = uuid::Uuid::new_v4().to_string();
        let flags = Flags {
            invocation_id: invocation_id.clone(),
            run_started_at: Some(started),
            ..flags
        };
        let compiler = Compiler::new(&project, &adapter.dialect(), flags)?;
        phase("environment", &mut t);
        compiler.parse(&mut project)?;
        // Every config key honoured, refused or warned about, once in-file config is known.
        let key_warnings = adapters::keys::check(&project)?;
        project.warnings.extend(key_warnings);
        if let (true, Some(w)) = (warn_error, project.warnings.first()) {
            return Err(Error::Usage(format!(
                "{w} (a warning, made an error by --warn-error)"
            )));
        }
        for w in &project.warnings {
            printer.warn("project_warning", w);
        }
        let rendered_once = format!("parse ({} renders kept for compile)", compiler.kept());
        phase(&rendered_once, &mut t);
        // Snapshot settings are checked before anything runs (dbt: at parse).
        for node in project.nodes.values() {
            if node.resource_type == ResourceType::Snapshot {
                crate::materialize::SnapshotSpec::of(node)?;
            }
        }
        let graph = Graph::build(&project)?;
        phase("graph", &mut t);
        Ok(Session {
            project: Arc::new(project),
            compiler: Arc::new(compiler),
            adapter,
            graph: Arc::new(graph),
            printer,
            started,
            invocation_id,
            stale: std::sync::OnceLock::new(),
        })
    }
}
