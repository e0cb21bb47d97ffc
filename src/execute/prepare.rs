//! The static phase of a run: compile each node, check its SQL with sqlparser (and the
//! engine's parser where sqlparser does not know the syntax), write it under
//! target/compiled. Nothing executes here.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::adapters::Adapter;
use crate::compile::{CompileOptions, Compiler, Relation, RelationKind, Warehouse};
use crate::error::{Error, Location, Result};
use crate::materialize::{compiled_path, Materializer, RelationCache};
use crate::memo::{self, Digest};
use crate::project::{Materialization, Node, Project, ResourceType};
use crate::session::{Bridge, Session};
use crate::sql;

/// One node's SQL after the static-check phase.
#[derive(Clone)]
pub(super) struct Prepared {
    pub(super) sql: String,
    /// The render queried the warehouse: compile again right before execution.
    pub(super) recompile: bool,
}

/// Compile `node` for execution (on a blocking thread: templates may query the warehouse).
/// What compiling a node for execution needs.
pub(super) struct Compiling<'a> {
    pub(super) project: &'a Project,
    pub(super) compiler: &'a Compiler,
    pub(super) adapter: &'a Arc<dyn Adapter>,
    pub(super) cache: &'a RelationCache,
    pub(super) full_refresh: bool,
}

pub(super) fn is_incremental_now(
    node: &Node,
    rel: Option<&Relation>,
    cache: &RelationCache,
    full_refresh: bool,
) -> bool {
    let forced = node.config.get("full_refresh").and_then(|v| v.as_bool());
    let refresh = match forced {
        Some(f) => f,
        None => full_refresh,
    };
    node.config.materialization() == Materialization::Incremental
        && !refresh
        && rel.is_some_and(|r| cache.kind(r) == Some(RelationKind::Table))
}

pub(super) fn compile_node(
    c: &Compiling<'_>,
    node: &Node,
    handle: tokio::runtime::Handle,
    defer_queries: bool,
) -> Result<Prepared> {
    let Compiling {
        project,
        compiler,
        adapter,
        cache,
        full_refresh,
    } = *c;
    let rel = compiler.relation_of(&node.relation_key());
    let bridge = Arc::new(Bridge::new(adapter.clone(), handle));
    let opts = CompileOptions {
        is_incremental: is_incremental_now(node, rel.as_ref(), cache, full_refresh),
        warehouse: Some(bridge.clone() as Arc<dyn Warehouse>),
        ..Default::default()
    };
    match compiler.compile(project, node, opts) {
        Ok(sql) => Ok(Prepared {
            sql,
            recompile: bridge.used(),
        }),
        // Before the run, a template that queries the warehouse may read what upstream nodes
        // have not built yet: compile (and check) it again right before it runs.
        Err(_) if defer_queries && bridge.used() => Ok(Prepared {
            sql: String::new(),
            recompile: true,
        }),
        Err(e) => Err(e),
    }
}

/// Parse compiled SQL with the adapter's sqlparser dialect; errors point into the compiled file.
/// `digest` is the text's hash: SQL that passed before (same text, same adapter) passes again.
pub(super) fn check_sql(
    project: &Project,
    adapter: &dyn Adapter,
    node: &Node,
    sql_text: &str,
    digest: &Digest,
) -> Result<()> {
    if node.resource_type == ResourceType::Seed
        || project.memo.was_checked(digest)
        || sql::is_blank(sql_text)
    {
        return Ok(());
    }
    if let Some((f, message)) = refused_sql(adapter, sql_text) {
        return Err(Error::SqlParse {
            location: Location {
                path: compiled_path(project, node),
                line: f.line,
                column: f.column,
            },
            dialect: adapter.adapter_type().to_string(),
            message: format!(
                "{message} (model source: {})",
                node.original_file_path.display()
            ),
        });
    }
    project.memo.record_checked(*digest);
    Ok(())
}

/// Where sqlparser refuses `sql_text` and the engine's own parser does not overrule it
/// (sqlparser does not know all of every engine's syntax): where, and why.
pub(super) fn refused_sql(
    adapter: &dyn Adapter,
    sql_text: &str,
) -> Option<(sql::ParseFailure, String)> {
    let dialect = adapter.sql_dialect();
    let f = sql::check(dialect.as_ref(), sql_text).err()?;
    let message = match adapter.parses(sql_text) {
        Some(Ok(())) => return None,
        Some(Err(engine)) => format!("{engine} (sqlparser: {})", f.message),
        None => f.message.clone(),
    };
    Some((f, message))
}

/// Write the node's compiled SQL (`digest` is the text's hash) unless the file holds it.
pub(super) fn write_compiled(
    project: &Project,
    node: &Node,
    sql_text: &str,
    digest: &Digest,
) -> Result<()> {
    let path = compiled_path(project, node);
    // Rewriting an unchanged file costs a flush on ext4 (truncate + write); skip it. The memo
    // knows most files from a stat; others are read back and compared.
    if project.memo.holds(&path, digest) {
        return Ok(());
    }
    if !std::fs::read(&path).is_ok_and(|old| old == sql_text.as_bytes()) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::write(&path, sql_text).map_err(|e| Error::io(&path, e))?;
    }
    project.memo.record_written(&path, *digest);
    Ok(())
}

/// Ensure schemas exist and learn which relations are there already.
pub(super) async fn prime_cache(
    session: &Session,
    ids: &[String],
    create: bool,
) -> Result<RelationCache> {
    let cache = RelationCache::default();
    let mut schemas: BTreeSet<(String, String)> = BTreeSet::new();
    schemas.insert((
        session.project.target.database.clone(),
        session.project.target.schema.clone(),
    ));
    for id in ids {
        if let Some(n) = session.project.nodes.get(id) {
            if let Some(r) = session.compiler.relation_of(&n.relation_key()) {
                if r.kind != RelationKind::Cte {
                    schemas.insert((r.database.clone().unwrap_or_default(), r.schema.clone()));
                }
            }
        }
    }
    for (db, schema) in schemas {
        if create {
            session.adapter.create_schema(&db, &schema).await?;
        }
        let (rels, versions) = session
            .adapter
            .list_relations_versioned(&db, &schema)
            .await?;
        cache.insert_all(&schema, rels);
        if let Some(versions) = versions {
            cache.insert_versions(&schema, versions);
        }
    }
    if create {
        repair_half_done_swaps(session, ids, &cache).await?;
    }
    Ok(cache)
}

/// A run that builds puts back what a crashed run's swap left half done (a table missing,
/// its backup there) before anything compiles, so `is_incremental()` and the build see the
/// old table. Reads only the cache just filled.
async fn repair_half_done_swaps(
    session: &Session,
    ids: &[String],
    cache: &RelationCache,
) -> Result<()> {
    let materializer = Materializer {
        project: &session.project,
        compiler: &session.compiler,
        adapter: &session.adapter,
        cache,
        full_refresh: false,
        batch: None,
    };
    let nodes: Vec<&Node> = ids
        .iter()
        .filter_map(|id| session.project.nodes.get(id))
        .collect();
    let warnings = materializer
        .repair_half_done_swaps(&nodes, &session.invocation_id)
        .await?;
    for warning in warnings {
        session.printer.warn("half_done_swap_repaired", &warning);
    }
    Ok(())
}

/// The static phase: compile each node, check its SQL, write it under target/compiled.
/// Returns every error found (with its node's id, in node order), so one run reports them
/// all; nothing has executed.
pub(super) async fn prepare(
    session: &Session,
    ids: &[String],
    cache: RelationCache,
    full_refresh: bool,
    keep_sql: bool,
) -> Result<(
    RelationCache,
    HashMap<String, Prepared>,
    Vec<(String, Error)>,
)> {
    let project = session.project.clone();
    let compiler = session.compiler.clone();
    let adapter = session.adapter.clone();
    let ids = ids.to_vec();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let nodes: Vec<&Node> = ids
            .iter()
            .filter_map(|id| project.nodes.get(id))
            // Seeds load files; unit tests compile their model on fixtures when they run.
            .filter(|n| {
                !matches!(n.resource_type, ResourceType::Seed | ResourceType::UnitTest)
                    && !n.is_ephemeral()
            })
            .collect();
        let outcomes = crate::parallel::map(&nodes, |node| -> Result<Prepared> {
            let c = Compiling {
                project: &project,
                compiler: &compiler,
                adapter: &adapter,
                cache: &cache,
                full_refresh,
            };
            let p = compile_node(&c, node, handle.clone(), true)?;
            if p.recompile && p.sql.is_empty() {
                return Ok(p); // deferred: compiled and checked right before it runs
            }
            let digest = memo::digest(p.sql.as_bytes());
            write_compiled(&project, node, &p.sql, &digest)?;
            match check_sql(&project, adapter.as_ref(), node, &p.sql, &digest) {
                // What the warehouse answered before upstream nodes are built (no columns
                // yet) may make SQL that does not parse: it is compiled again before it runs.
                Err(_) if p.recompile => {
                    return Ok(Prepared {
                        sql: String::new(),
                        recompile: true,
                    })
                }
                checked => checked?,
            }
            // `compile` only writes the SQL: do not hold every node's text until the end.
            Ok(if keep_sql {
                p
            } else {
                Prepared {
                    sql: String::new(),
                    ..p
                }
            })
        });
        let mut prepared = HashMap::new();
        let mut errors = Vec::new();
        for (node, outcome) in nodes.iter().zip(outcomes) {
            match outcome {
                Ok(p) => {
                    prepared.insert(node.unique_id.clone(), p);
                }
                Err(e) => errors.push((node.unique_id.clone(), e)),
            }
        }
        (cache, prepared, errors)
    })
    .await
    .map_err(|e| Error::Internal(format!("compile worker failed: {e}")))
    .map(Ok)?
}

pub(super) fn without_ids(errors: Vec<(String, Error)>) -> Vec<Error> {
    errors.into_iter().map(|(_, e)| e).collect()
}

/// Run `compile` on a blocking thread: compiling may query the warehouse, which it does
/// through a bridge that blocks on the runtime.
pub(super) async fn off_thread<T: Send + 'static>(
    state: &Arc<super::RunState>,
    node: &Node,
    compile: impl FnOnce(&super::RunState, &Node, tokio::runtime::Handle) -> crate::error::Result<T>
        + Send
        + 'static,
) -> crate::error::Result<T> {
    let st = state.clone();
    let id = node.unique_id.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let node = st
            .session
            .project
            .nodes
            .get(&id)
            .ok_or_else(|| Error::Internal(format!("{id} left the project mid-run")))?;
        compile(&st, node, handle)
    })
    .await
    .map_err(|e| Error::Internal(format!("compile task failed: {e}")))?
}
