//! Running a command: load and parse the project, select nodes, check every compiled SQL
//! statement before anything executes, then build the selection in graph order with up to
//! `--threads` nodes at a time. A failed node skips its descendants; the rest goes on.
//!
//! The stages of a run, one file each: [`prepare`] (compile, check, write compiled SQL),
//! [`schedule`] (graph order, threads, skips), [`node`] (one node's materialization and its
//! result), [`hooks`] (on-run-start/end), [`summary`] (the closing lines). `show`,
//! `run-operation`, `source freshness` and `maintain` have their own files.

pub mod freshness;
mod hooks;
pub mod maintain;
mod microbatch;
mod node;
mod operation;
mod prepare;
mod reuse;
mod schedule;
mod show;
mod summary;

pub use microbatch::parse_time as parse_event_time;
pub use operation::run_operation;
pub use show::{compile_one, preview, render_inline};
pub use summary::{human_bytes, print_summary};

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use crate::adapters::Adapter;
use crate::compile::Compiler;
use crate::error::Result;
use crate::materialize::{Materializer, RelationCache};
use crate::memo::Hits;
use crate::project::{Materialization, Project};
use crate::session::printer::Printer;
use crate::session::results::{NodeResult, RunOutcome};
use crate::session::{phase, shutdown_signal, Command, RunOptions, Session};
use hooks::{hook_context, run_project_hooks};
use prepare::{prepare, prime_cache, without_ids, Prepared};
use schedule::{execution_deps, schedule};

/// State shared by the tasks of one run.
struct RunState {
    session: SessionRef,
    cache: RelationCache,
    full_refresh: bool,
    warn_error: bool,
    prepared: HashMap<String, Prepared>,
    /// `--event-time-start` / `--event-time-end`: the microbatch window of this run.
    event_window: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
    /// When the run started: a microbatch model's batches end with it.
    started: chrono::DateTime<chrono::Utc>,
    /// What may be reused instead of rebuilt, and what this run built (reuse.rs).
    reuse: reuse::Reuse,
}

#[derive(Clone)]
struct SessionRef {
    project: Arc<Project>,
    compiler: Arc<Compiler>,
    adapter: Arc<dyn Adapter>,
    printer: Arc<Printer>,
}

impl RunState {
    fn materializer(&self) -> Materializer<'_> {
        Materializer {
            project: &self.session.project,
            compiler: &self.session.compiler,
            adapter: &self.session.adapter,
            cache: &self.cache,
            full_refresh: self.full_refresh,
            batch: None,
        }
    }
}

/// Compile only (`strata compile`): writes target/compiled and checks the SQL.
pub async fn compile_only(session: &Session, ids: &[String], full_refresh: bool) -> Result<usize> {
    let mut t = Instant::now();
    // Nodes whose parse render stands need nothing from the warehouse: compile them while
    // it opens (a large DuckDB file takes a tenth of a second) and lists its relations.
    let (early, late): (Vec<String>, Vec<String>) = ids.iter().cloned().partition(|id| {
        session
            .project
            .nodes
            .get(id)
            .is_some_and(|n| session.compiler.needs_no_warehouse(n))
    });
    let (cache, early) = tokio::join!(
        prime_cache(session, &late, false),
        prepare(
            session,
            &early,
            RelationCache::default(),
            full_refresh,
            false
        )
    );
    phase("catalog + compile of nodes that need none", &mut t);
    let (_, early_prepared, mut errors) = early?;
    let (_, late_prepared, late_errors) =
        prepare(session, &late, cache?, full_refresh, false).await?;
    let hits = &session.project.memo.hits;
    let compiled = format!(
        "compile+check+write ({} SQL checks and {} compiled files from partial_parse)",
        Hits::get(&hits.checks),
        Hits::get(&hits.files)
    );
    phase(&compiled, &mut t);
    session.save_memo();
    // Report in node order, as if all had compiled in one pass.
    errors.extend(late_errors);
    let position: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    errors.sort_by_key(|(id, _)| position.get(id.as_str()).copied().unwrap_or(usize::MAX));
    if let Some(e) = session.printer.first_error(without_ids(errors)) {
        return Err(e);
    }
    Ok(early_prepared.len() + late_prepared.len())
}

/// Execute the selected nodes (run, test, seed, build).
pub async fn execute(
    session: &Session,
    cmd: Command,
    ids: &[String],
    opts: &RunOptions,
) -> Result<RunOutcome> {
    let started = Instant::now();
    let executable = executable_nodes(&session.project, ids);
    let creates = cmd != Command::Test;
    let cache = prime_cache(session, &executable, creates).await?;
    let (cache, prepared, errors) =
        prepare(session, &executable, cache, opts.full_refresh, true).await?;
    session.save_memo();
    if let Some(e) = session.printer.first_error(without_ids(errors)) {
        return Err(e);
    }
    // Reuse applies to building commands; --full-refresh and --no-reuse rebuild everything
    // and record it, so a later run compares with what they built.
    let reuse = if cmd != Command::Test && session.adapter.reuses_builds() {
        reuse::Reuse::load(session, &cache, !opts.full_refresh && !opts.no_reuse).await
    } else {
        reuse::Reuse::off(session)
    };
    let state = Arc::new(RunState {
        session: SessionRef {
            project: session.project.clone(),
            compiler: session.compiler.clone(),
            adapter: session.adapter.clone(),
            printer: session.printer.clone(),
        },
        cache,
        full_refresh: opts.full_refresh,
        warn_error: opts.warn_error,
        prepared,
        event_window: opts.event_window,
        started: session.started,
        reuse,
    });

    let schemas = written_schemas(session, &state, &executable).await?;

    // As dbt: a failing on-run-start hook skips every node, on-run-end still runs, and the
    // command fails (exit 1) with what happened written to run_results.json.
    let mut hook_errors = Vec::new();
    let start_hooks = project_hooks(&session.project, |f| f.on_run_start.list());
    let context = hook_context(session, &schemas, &[]);
    run_project_hooks(
        session,
        "on-run-start",
        &start_hooks,
        context,
        &mut hook_errors,
    )
    .await;

    let deps = execution_deps(session, &executable, cmd == Command::Build);
    let threads = opts
        .threads
        .or(session.project.target.threads)
        .unwrap_or(4)
        .max(1);
    session.printer.info(
        "concurrency",
        &format!(
            "Concurrency: {threads} thread{} (target='{}')",
            if threads == 1 { "" } else { "s" },
            session.project.target.name
        ),
    );

    let start_failed = !hook_errors.is_empty();
    let scheduler = async {
        if start_failed {
            executable
                .iter()
                .map(|id| NodeResult::skipped(id, "skipped: an on-run-start hook failed".into()))
                .collect()
        } else {
            schedule(
                state.clone(),
                executable.clone(),
                deps,
                threads,
                opts.fail_fast,
            )
            .await
        }
    };
    let (results, interrupted) = tokio::select! {
        r = scheduler => (r, false),
        _ = shutdown_signal() => {
            session.printer.error("interrupted", "interrupted: cancelling running statements");
            session.adapter.cancel_all().await;
            (Vec::new(), true)
        }
    };
    // What this run built, for the next one to reuse; a run that cannot record it has still
    // built what it built (the next run rebuilds instead of reusing).
    if let Err(e) = state.reuse.save(session).await {
        session.printer.warn(
            "reuse_state",
            &format!("could not record the build state: {e}"),
        );
    }
    // As dbt: a failing on-run-end hook fails the command (exit 1), but what the nodes did
    // is still reported and written to run_results.json.
    if !interrupted {
        let end_hooks = project_hooks(&session.project, |f| f.on_run_end.list());
        let context = hook_context(session, &schemas, &results);
        run_project_hooks(session, "on-run-end", &end_hooks, context, &mut hook_errors).await;
    }
    Ok(RunOutcome {
        results,
        elapsed: started.elapsed().as_secs_f64(),
        interrupted,
        hook_errors,
    })
}

/// A run's hooks of one kind, as dbt orders them: each installed package's (by package
/// name), then the root project's.
fn project_hooks(
    project: &crate::project::Project,
    of: impl Fn(&crate::project::ProjectFile) -> Vec<String>,
) -> Vec<String> {
    let mut packages: Vec<&crate::project::Package> = project.packages.iter().collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hooks: Vec<String> = packages.iter().flat_map(|p| of(&p.file)).collect();
    hooks.extend(of(&project.file));
    hooks
}

/// The schemas the run writes to (the hooks' `schemas`): its relations', and those
/// store_failures writes to, which are made now, once, before tests run side by side (two
/// tests creating one schema at the same time conflict in DuckDB's catalog).
async fn written_schemas(
    session: &Session,
    state: &RunState,
    executable: &[String],
) -> Result<BTreeSet<(String, String)>> {
    let mut schemas: BTreeSet<(String, String)> = BTreeSet::new();
    let m = state.materializer();
    for id in executable {
        let Some(node) = session.project.nodes.get(id) else {
            continue;
        };
        if let Some(r) = m.audit_relation(node)? {
            let database = r.database.clone().unwrap_or_default();
            if schemas.insert((database.clone(), r.schema.clone())) {
                session.adapter.create_schema(&database, &r.schema).await?;
                // What the schema holds, for the tests to replace without a lookup each.
                let found = session.adapter.list_relations(&database, &r.schema).await?;
                state.cache.insert_all(&r.schema, found);
            }
        } else if let Some(r) = session
            .compiler
            .relation_of(&node.relation_key())
            .filter(|_| node.is_relational())
        {
            schemas.insert((r.database.clone().unwrap_or_default(), r.schema));
        }
    }
    Ok(schemas)
}

/// The nodes a run executes: ephemerals are inlined, and procedures run only as rights
/// requests (`strata rights`).
/// `reuse:stale`: the models, seeds, snapshots and data tests a build would run rather
/// than reuse, with why, decided as a build decides, in graph order, with nothing run (a
/// node that would be built counts as new data for what reads it). Computed once per
/// command, when its selection names `reuse:`.
pub async fn find_stale(session: &Session, opts: &RunOptions) -> Result<()> {
    if session.stale.get().is_some() || !session.selection_uses(opts, "reuse")? {
        return Ok(());
    }
    if !session.adapter.reuses_builds() {
        return Err(crate::error::Error::Usage(format!(
            "reuse:stale: the {} adapter keeps no build state",
            session.adapter.adapter_type()
        )));
    }
    let ids = session.nodes_in(None, Command::Build, &RunOptions::default(), None);
    let executable = executable_nodes(&session.project, &ids);
    let cache = prime_cache(session, &executable, false).await?;
    let (cache, prepared, errors) = prepare(session, &executable, cache, false, true).await?;
    if let Some(e) = session.printer.first_error(without_ids(errors)) {
        return Err(e);
    }
    let reuse = reuse::Reuse::load(session, &cache, !opts.full_refresh && !opts.no_reuse).await;
    let mut stale = std::collections::BTreeMap::new();
    for id in &executable {
        let Some(node) = session.project.nodes.get(id) else {
            continue;
        };
        let sql = prepared.get(id).map(|p| p.sql.as_str()).unwrap_or_default();
        let relation = session.compiler.relation_of(&node.relation_key());
        let decision = reuse.decide(
            &session.project,
            node,
            sql,
            &cache,
            relation.as_ref(),
            session.adapter.as_ref(),
        );
        if let reuse::Decision::Build(why) = decision {
            reuse.would_build(node);
            stale.insert(id.clone(), why);
        }
    }
    let _ = session.stale.set(stale);
    Ok(())
}

fn executable_nodes(project: &Project, ids: &[String]) -> Vec<String> {
    ids.iter()
        .filter(|id| {
            project.nodes.get(*id).is_some_and(|n| {
                !n.is_ephemeral() && n.config.materialization() != Materialization::Procedure
            })
        })
        .cloned()
        .collect()
}
