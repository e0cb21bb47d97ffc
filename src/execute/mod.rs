//! Running a command: load and parse the project, select nodes, check every compiled SQL
//! statement before anything executes, then build the selection in graph order with up to
//! `--threads` nodes at a time. A failed node skips its descendants; the rest goes on.

pub mod freshness;
pub mod maintain;
pub mod materialize;
pub mod output;
pub mod results;
pub mod unit_test;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::adapters::{self, Adapter};
use crate::compile::{self, CompileOptions, Compiler, Flags, Relation, Table, Warehouse};
use crate::error::{Error, Location, Result};
use crate::graph::selectors_file::Selectors;
use crate::graph::{Graph, IndirectSelection, PreviousState, SelectContext, Selection};
use crate::memo::{self, Digest, Hits};
use crate::project::{self, LoadOptions, Node, Project, ResourceType};
use crate::sql;

use materialize::{compiled_path, Materializer, RelationCache};
use output::{Printer, Tone};
use results::{NodeResult, Status, Timing};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Run,
    Test,
    Seed,
    Build,
    Compile,
    List,
    Snapshot,
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Run => "run",
            Command::Test => "test",
            Command::Seed => "seed",
            Command::Build => "build",
            Command::Compile => "compile",
            Command::List => "ls",
            Command::Snapshot => "snapshot",
        }
    }

    fn resource_types(&self) -> &'static [ResourceType] {
        match self {
            Command::Run => &[ResourceType::Model],
            Command::Test => &[ResourceType::UnitTest, ResourceType::Test],
            Command::Seed => &[ResourceType::Seed],
            Command::Build => &[
                ResourceType::Model,
                ResourceType::Seed,
                ResourceType::Snapshot,
                ResourceType::Test,
                ResourceType::UnitTest,
            ],
            Command::Compile => &[
                ResourceType::Model,
                ResourceType::Snapshot,
                ResourceType::Test,
            ],
            Command::List => &[
                ResourceType::Model,
                ResourceType::Seed,
                ResourceType::Snapshot,
                ResourceType::Test,
                ResourceType::UnitTest,
            ],
            Command::Snapshot => &[ResourceType::Snapshot],
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub select: Vec<String>,
    pub exclude: Vec<String>,
    pub threads: Option<usize>,
    pub full_refresh: bool,
    pub fail_fast: bool,
    /// dbt's `--warn-error`: a test that would warn fails instead.
    pub warn_error: bool,
    /// dbt's `--warn-error-options`: warnings made errors (or kept warnings) by name.
    pub warn_error_options: WarnErrorOptions,
    /// dbt's `--resource-type` / `--exclude-resource-type` (model, seed, test): narrow
    /// what the command acts on.
    /// (`None`: no `--resource-type`; `Some` of no type: types Strata does not have.)
    pub resource_types: Option<Vec<ResourceType>>,
    pub exclude_resource_types: Vec<ResourceType>,
    /// `--selector`: a selection from selectors.yml.
    pub selector: Option<String>,
    /// `--indirect-selection`: which tests come along with the nodes they test.
    pub indirect_selection: IndirectSelection,
    /// `--state`: the earlier run `state:` and `result:` selectors compare with.
    pub state: Option<Arc<PreviousState>>,
    /// `retry`: exactly these nodes (what the previous run did not finish).
    pub retry_ids: Option<BTreeSet<String>>,
}

/// dbt's `--warn-error-options`: `{error: all | [names], warn: [names]}` (the older
/// `include` / `exclude` too). Strata names its selection warnings as dbt does:
/// NoNodesForSelectionCriteria, NothingToDo.
#[derive(Debug, Clone, Default)]
pub struct WarnErrorOptions {
    pub all: bool,
    pub error: Vec<String>,
    pub warn: Vec<String>,
}

impl WarnErrorOptions {
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |m: String| Error::Usage(format!("--warn-error-options: {m}"));
        let v: serde_json::Value = serde_yaml_ng::from_str(text)
            .map_err(|e| bad(format!("not a YAML or JSON mapping: {e}")))?;
        let Some(map) = v.as_object() else {
            return Err(bad("expected a mapping like '{error: all}'".into()));
        };
        if let Some(k) = map
            .keys()
            .find(|k| !["error", "include", "warn", "exclude", "silence"].contains(&k.as_str()))
        {
            return Err(bad(format!("unknown key '{k}' (error, warn, silence)")));
        }
        let names = |keys: &[&str]| -> Result<Vec<String>> {
            let mut out = Vec::new();
            for key in keys {
                match map.get(*key) {
                    None | Some(serde_json::Value::Null) => {}
                    Some(serde_json::Value::String(s)) => out.push(s.clone()),
                    Some(serde_json::Value::Array(a)) => {
                        for n in a {
                            let n = n
                                .as_str()
                                .ok_or_else(|| bad(format!("{key}: names are strings, not {n}")))?;
                            out.push(n.to_string());
                        }
                    }
                    Some(other) => return Err(bad(format!("{key}: expected a list, not {other}"))),
                }
            }
            Ok(out)
        };
        let error = names(&["error", "include"])?;
        let warn = names(&["warn", "exclude"])?;
        let all = error.iter().any(|n| n == "all" || n == "*");
        Ok(WarnErrorOptions { all, error, warn })
    }
}

impl RunOptions {
    /// Whether the warning `event` (dbt's event name) is an error in this invocation.
    pub fn warning_is_error(&self, event: &str) -> bool {
        let kept = self.warn_error_options.warn.iter().any(|n| n == event);
        ((self.warn_error || self.warn_error_options.all) && !kept)
            || self.warn_error_options.error.iter().any(|n| n == event)
    }
}

/// A loaded, parsed project with its engine: what every command starts from.
pub struct Session {
    pub project: Arc<Project>,
    pub compiler: Arc<Compiler>,
    pub adapter: Arc<dyn Adapter>,
    pub graph: Arc<Graph>,
    pub printer: Arc<Printer>,
    pub started: chrono::DateTime<chrono::Utc>,
    pub invocation_id: String,
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
        let mut project = project::open(load, &Compiler::render_text)?;
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
        let compiler = Compiler::new(&project, &adapter.dialect(), flags)?;
        phase("environment", &mut t);
        compiler.parse(&mut project)?;
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
                materialize::SnapshotSpec::of(node)?;
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
            started: chrono::Utc::now(),
            invocation_id: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// The nodes a command acts on, parents before children. Tests follow the nodes they test
    /// (indirect selection, dbt's eager by default: a test is in when any node it tests is
    /// selected).
    pub fn select(
        &self,
        cmd: Command,
        opts: &RunOptions,
        types: Option<&[ResourceType]>,
    ) -> Result<Vec<String>> {
        let chosen = self.resolve_selection(opts)?;
        Ok(self.nodes_in(chosen.as_ref(), cmd, opts, types))
    }

    /// The nodes of `chosen` (all when `None`) the command acts on, in graph order.
    pub fn nodes_in(
        &self,
        chosen: Option<&BTreeSet<String>>,
        cmd: Command,
        opts: &RunOptions,
        types: Option<&[ResourceType]>,
    ) -> Vec<String> {
        let types = types.unwrap_or(cmd.resource_types());
        self.graph
            .topo_order()
            .into_iter()
            .filter(|id| chosen.is_none_or(|c| c.contains(id)))
            .filter(|id| {
                self.project.nodes.get(id).is_some_and(|n| {
                    types.contains(&n.resource_type)
                        && opts
                            .resource_types
                            .as_ref()
                            .is_none_or(|only| only.contains(&n.resource_type))
                        && !opts.exclude_resource_types.contains(&n.resource_type)
                })
            })
            .collect()
    }

    /// The nodes and sources `--select`/`--exclude`, `--selector` or the project's default
    /// selector choose; `None` when nothing narrows the selection (everything).
    pub fn resolve_selection(&self, opts: &RunOptions) -> Result<Option<BTreeSet<String>>> {
        if let Some(ids) = &opts.retry_ids {
            return Ok(Some(ids.clone()));
        }
        // The file is read (and checked) on every command, as dbt does.
        let file = self.selectors(opts.indirect_selection)?;
        let selection = match &opts.selector {
            Some(name) => {
                if !opts.select.is_empty() || !opts.exclude.is_empty() {
                    self.printer.warn(
                        "selector_overrides",
                        "The --select and --exclude arguments are being ignored because \
                         --selector is provided",
                    );
                }
                let Some(file) = &file else {
                    return Err(Error::Usage(format!(
                        "--selector {name}: the project has no selectors.yml"
                    )));
                };
                Some(file.get(name)?.clone())
            }
            None => {
                match Selection::from_cli(&opts.select, &opts.exclude, opts.indirect_selection)? {
                    Some(s) => Some(s),
                    None => match file.as_ref().and_then(|f| f.default_selection()) {
                        Some((name, s)) => {
                            self.printer.note(
                                "default_selector",
                                &format!("Using default selector {name}"),
                            );
                            Some(s.clone())
                        }
                        None => None,
                    },
                }
            }
        };
        let Some(selection) = selection else {
            return Ok(None);
        };
        let ctx = SelectContext {
            project: &self.project,
            graph: &self.graph,
            state: opts.state.as_deref(),
            selectors: file.as_ref(),
        };
        let mut unmatched = Vec::new();
        let chosen = selection.resolve(&ctx, &mut unmatched)?;
        for word in unmatched {
            let msg = format!("The selection criterion '{word}' does not match any enabled nodes");
            if opts.warning_is_error("NoNodesForSelectionCriteria") {
                return Err(Error::Usage(format!(
                    "{msg} (a warning, made an error by --warn-error)"
                )));
            }
            self.printer.warn("no_nodes_for_selection", &msg);
        }
        Ok(Some(chosen))
    }

    /// dbt's `--defer`: the models and seeds a command does not select are read where the
    /// `--state` run built them, when this target has no such relation (or always, with
    /// `favor_state`). Slim CI builds the changed models in its own schema on top of
    /// production's. Returns how many were deferred.
    pub async fn defer(
        &self,
        selected: &[String],
        state: &PreviousState,
        favor_state: bool,
    ) -> Result<usize> {
        let selected: HashSet<&str> = selected.iter().map(String::as_str).collect();
        let mut listed: HashMap<(String, String), HashSet<String>> = HashMap::new();
        let mut deferred = Vec::new();
        for node in self.project.nodes.values() {
            if selected.contains(node.unique_id.as_str()) || node.is_ephemeral() {
                continue;
            }
            let Some((database, schema, identifier, is_view)) = state.relation_of(&node.unique_id)
            else {
                continue;
            };
            let Some(current) = self.compiler.relation_of(&node.name) else {
                continue;
            };
            if !favor_state {
                let db = current.database.clone().unwrap_or_default();
                let key = (db.clone(), current.schema.clone());
                if !listed.contains_key(&key) {
                    // A schema that does not exist yet holds nothing.
                    let names = self
                        .adapter
                        .list_relations(&db, &current.schema)
                        .await
                        .unwrap_or_default();
                    let names = names.into_iter().map(|(n, _)| n.to_lowercase()).collect();
                    listed.insert(key.clone(), names);
                }
                if listed[&key].contains(&current.identifier.to_lowercase()) {
                    continue;
                }
            }
            let kind = if is_view { "view" } else { "table" };
            let rel = self.compiler.relation(database, schema, identifier, kind);
            deferred.push((node.name.clone(), rel));
        }
        let n = deferred.len();
        self.compiler.defer_to(&self.project, deferred);
        Ok(n)
    }

    /// The project's selectors.yml, rendered with `var()`/`env_var()` as dbt does.
    fn selectors(&self, mode: IndirectSelection) -> Result<Option<Selectors>> {
        let vars = &self.project.vars;
        Selectors::load(&self.project.root, mode, &|path, text| {
            Compiler::render_text(path, text, vars)
        })
    }
}

/// The bridge from synchronous template rendering to the async adapter. `used` records
/// whether a render queried the warehouse (then it is compiled again just before it runs).
struct Bridge {
    adapter: Arc<dyn Adapter>,
    handle: tokio::runtime::Handle,
    used: AtomicBool,
}

impl Warehouse for Bridge {
    fn run_query(&self, sql: &str) -> std::result::Result<Table, String> {
        self.used.store(true, Ordering::Relaxed);
        let r = self
            .handle
            .block_on(self.adapter.execute(sql, true))
            .map_err(|e| e.to_string())?;
        Ok(r.table.unwrap_or_default())
    }

    fn get_columns(
        &self,
        relation: &Relation,
    ) -> std::result::Result<Vec<(String, String)>, String> {
        self.used.store(true, Ordering::Relaxed);
        let cols = self
            .handle
            .block_on(self.adapter.get_columns(relation))
            .map_err(|e| e.to_string())?;
        Ok(cols.into_iter().map(|c| (c.name, c.data_type)).collect())
    }

    fn get_relation_kind(
        &self,
        relation: &Relation,
    ) -> std::result::Result<Option<String>, String> {
        self.used.store(true, Ordering::Relaxed);
        let db = relation.database.clone().unwrap_or_default();
        let list = self
            .handle
            .block_on(self.adapter.list_relations(&db, &relation.schema))
            .map_err(|e| e.to_string())?;
        Ok(list
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&relation.identifier))
            .map(|(_, k)| k))
    }
}

/// One node's SQL after the static-check phase.
#[derive(Clone)]
struct Prepared {
    sql: String,
    /// The render queried the warehouse: compile again right before execution.
    recompile: bool,
}

/// State shared by the tasks of one run.
struct RunState {
    session: SessionRef,
    cache: RelationCache,
    full_refresh: bool,
    warn_error: bool,
    prepared: HashMap<String, Prepared>,
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
        }
    }
}

fn is_incremental_now(
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
    node.config.materialized() == "incremental"
        && !refresh
        && rel.is_some_and(|r| cache.kind(r).as_deref() == Some("table"))
}

/// Compile `node` for execution (on a blocking thread: templates may query the warehouse).
/// What compiling a node for execution needs.
struct Compiling<'a> {
    project: &'a Project,
    compiler: &'a Compiler,
    adapter: &'a Arc<dyn Adapter>,
    cache: &'a RelationCache,
    full_refresh: bool,
}

fn compile_node(
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
    let rel = compiler.relation_of(&node.name);
    let bridge = Arc::new(Bridge {
        adapter: adapter.clone(),
        handle,
        used: AtomicBool::new(false),
    });
    let opts = CompileOptions {
        is_incremental: is_incremental_now(node, rel.as_ref(), cache, full_refresh),
        warehouse: Some(bridge.clone() as Arc<dyn Warehouse>),
        ..Default::default()
    };
    match compiler.compile(project, node, opts) {
        Ok(sql) => Ok(Prepared {
            sql,
            recompile: bridge.used.load(Ordering::Relaxed),
        }),
        // Before the run, a template that queries the warehouse may read what upstream nodes
        // have not built yet: compile (and check) it again right before it runs.
        Err(_) if defer_queries && bridge.used.load(Ordering::Relaxed) => Ok(Prepared {
            sql: String::new(),
            recompile: true,
        }),
        Err(e) => Err(e),
    }
}

/// Parse compiled SQL with the adapter's sqlparser dialect; errors point into the compiled file.
/// `digest` is the text's hash: SQL that passed before (same text, same adapter) passes again.
fn check_sql(
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
fn refused_sql(adapter: &dyn Adapter, sql_text: &str) -> Option<(sql::ParseFailure, String)> {
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
fn write_compiled(project: &Project, node: &Node, sql_text: &str, digest: &Digest) -> Result<()> {
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

/// The outcome of a command over its selected nodes.
pub struct RunOutcome {
    pub results: Vec<NodeResult>,
    pub elapsed: f64,
    pub interrupted: bool,
    /// Project hooks that failed (their errors name the hook; the nodes'
    /// results still stand and are written).
    pub hook_errors: Vec<String>,
}

impl RunOutcome {
    /// Results that ran to the end (no hooks failed, nothing interrupted).
    pub fn of(results: Vec<NodeResult>, elapsed: f64) -> Self {
        RunOutcome {
            results,
            elapsed,
            interrupted: false,
            hook_errors: Vec::new(),
        }
    }

    pub fn failed(&self) -> bool {
        self.interrupted
            || !self.hook_errors.is_empty()
            || self.results.iter().any(|r| r.status.is_failure())
    }
}

/// `model::test`, as dbt prints a unit test.
fn unit_test_label(node: &Node) -> String {
    let model = node
        .fqn
        .iter()
        .rev()
        .nth(1)
        .map(String::as_str)
        .unwrap_or("");
    format!("{model}::{}", node.name)
}

fn describe(compiler: &Compiler, node: &Node) -> String {
    let rel = compiler
        .relation_of(&node.name)
        .map(|r| format!("{}.{}", r.schema, r.identifier))
        .unwrap_or_else(|| node.name.clone());
    match node.resource_type {
        ResourceType::Model => format!("sql {} model {rel}", node.config.materialized()),
        ResourceType::Seed => format!("seed file {rel}"),
        ResourceType::Snapshot => format!("snapshot {rel}"),
        ResourceType::Test => format!("test {}", node.name),
        ResourceType::UnitTest => format!("unit_test {}", unit_test_label(node)),
        ResourceType::Operation => node.name.clone(),
    }
}

/// Ensure schemas exist and learn which relations are there already.
async fn prime_cache(session: &Session, ids: &[String], create: bool) -> Result<RelationCache> {
    let cache = RelationCache::default();
    let mut schemas: BTreeSet<(String, String)> = BTreeSet::new();
    schemas.insert((
        session.project.target.database.clone(),
        session.project.target.schema.clone(),
    ));
    for id in ids {
        if let Some(n) = session.project.nodes.get(id) {
            if let Some(r) = session.compiler.relation_of(&n.name) {
                if r.kind != "cte" {
                    schemas.insert((r.database.clone().unwrap_or_default(), r.schema.clone()));
                }
            }
        }
    }
    for (db, schema) in schemas {
        if create {
            session.adapter.create_schema(&db, &schema).await?;
        }
        let rels = session.adapter.list_relations(&db, &schema).await?;
        cache.insert_all(&schema, rels);
    }
    Ok(cache)
}

/// The static phase: compile each node, check its SQL, write it under target/compiled.
/// Returns every error found (with its node's id, in node order), so one run reports them
/// all; nothing has executed.
async fn prepare(
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
            check_sql(&project, adapter.as_ref(), node, &p.sql, &digest)?;
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
    .map_err(|e| Error::Adapter(format!("compile worker failed: {e}")))
    .map(Ok)?
}

/// The personal-data coverage check, for projects with a `rights:` section. `from_warehouse` reads each built relation's columns
/// (after a build); otherwise the YAML columns are used.
pub async fn check_coverage(session: &Session, from_warehouse: bool) -> Result<()> {
    // Only projects that handle data-subject rights (a `rights:` section) are held to it;
    // a plain dbt project with a user_id column builds as it does in dbt.
    if session.project.file.rights.is_none() {
        return Ok(());
    }
    let settings = crate::rights::RightsConfig::from_project(
        session.project.file.rights.as_ref(),
        &session.project.file_path,
    )?;
    let mut columns: HashMap<String, Vec<String>> = HashMap::new();
    for node in session.project.nodes.values() {
        let mut cols: Vec<String> = node.columns.iter().map(|c| c.name.clone()).collect();
        if from_warehouse && node.is_relational() {
            if let Some(r) = session.compiler.relation_of(&node.name) {
                if let Ok(found) = session.adapter.get_columns(&r).await {
                    cols.extend(found.into_iter().map(|c| c.name));
                }
            }
        }
        if !cols.is_empty() {
            columns.insert(node.unique_id.clone(), cols);
        }
    }
    let errors =
        crate::rights::declare::coverage(&session.project, &settings.subject_columns, &|n| {
            columns.get(&n.unique_id).cloned()
        });
    match first_error(errors, &session.printer) {
        Some(e) => Err(e),
        None => crate::rights::declare::declared(&session.project).map(|_| ()),
    }
}

/// Compile only (`strata compile`): writes target/compiled and checks the SQL.
pub async fn compile_only(session: &Session, ids: &[String], full_refresh: bool) -> Result<usize> {
    let mut t = Instant::now();
    check_coverage(session, false).await?;
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
    if let Some(e) = first_error(without_ids(errors), &session.printer) {
        return Err(e);
    }
    Ok(early_prepared.len() + late_prepared.len())
}

fn without_ids(errors: Vec<(String, Error)>) -> Vec<Error> {
    errors.into_iter().map(|(_, e)| e).collect()
}

fn first_error(errors: Vec<Error>, printer: &Printer) -> Option<Error> {
    let n = errors.len();
    let mut iter = errors.into_iter();
    let first = iter.next()?;
    for e in iter {
        printer.error("compile_error", &e.to_string());
    }
    if n > 1 {
        printer.error(
            "compile_error",
            &format!("{n} nodes failed to compile; nothing was executed"),
        );
    }
    Some(first)
}

/// Execute the selected nodes (run, test, seed, build).
pub async fn execute(
    session: &Session,
    cmd: Command,
    ids: &[String],
    opts: &RunOptions,
) -> Result<RunOutcome> {
    let started = Instant::now();
    // Ephemerals are inlined; procedures run only as rights requests (`strata rights`).
    let executable: Vec<String> = ids
        .iter()
        .filter(|id| {
            session
                .project
                .nodes
                .get(*id)
                .is_some_and(|n| !n.is_ephemeral() && n.config.materialized() != "procedure")
        })
        .cloned()
        .collect();
    let creates = cmd != Command::Test;
    // Personal data must be declared before anything is built; `test` also checks the
    // columns the warehouse actually has.
    check_coverage(session, cmd == Command::Test).await?;
    let cache = prime_cache(session, &executable, creates).await?;
    let (cache, prepared, errors) =
        prepare(session, &executable, cache, opts.full_refresh, true).await?;
    session.save_memo();
    if let Some(e) = first_error(without_ids(errors), &session.printer) {
        return Err(e);
    }
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
    });

    // The schemas the run writes to (the hooks' `schemas`): its relations', and those
    // store_failures writes to, which are made now, once, before tests run side by side (two
    // tests creating one schema at the same time conflict in DuckDB's catalog).
    let mut schemas: BTreeSet<(String, String)> = BTreeSet::new();
    {
        let m = state.materializer();
        for id in &executable {
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
                .relation_of(&node.name)
                .filter(|_| node.is_relational())
            {
                schemas.insert((r.database.clone().unwrap_or_default(), r.schema));
            }
        }
    }

    // As dbt: a failing on-run-start hook skips every node, on-run-end still runs, and the
    // command fails (exit 1) with what happened written to run_results.json.
    let mut hook_errors = Vec::new();
    if let Err(e) = run_hooks(
        session,
        "on-run-start",
        &session.project.file.on_run_start.list(),
        hook_context(session, &schemas, &[]),
    )
    .await
    {
        session.printer.error("hook_failed", &format!("error: {e}"));
        hook_errors.push(e.to_string());
    }

    let deps = execution_deps(session, &executable, cmd == Command::Build);
    let threads = opts
        .threads
        .or(session.project.target.threads)
        .unwrap_or(4)
        .max(1);

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
    // As dbt: a failing on-run-end hook fails the command (exit 1), but what the nodes did
    // is still reported and written to run_results.json.
    if !interrupted {
        if let Err(e) = run_hooks(
            session,
            "on-run-end",
            &session.project.file.on_run_end.list(),
            hook_context(session, &schemas, &results),
        )
        .await
        {
            session.printer.error("hook_failed", &format!("error: {e}"));
            hook_errors.push(e.to_string());
        }
    }
    Ok(RunOutcome {
        results,
        elapsed: started.elapsed().as_secs_f64(),
        interrupted,
        hook_errors,
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// What dbt gives project hooks: `schemas` and `database_schemas` the run writes to
/// (`pairs`: database, schema), and (on-run-end) `results`, one per node: status, message,
/// failures, execution_time, adapter_response and the node.
fn hook_context(
    session: &Session,
    pairs: &BTreeSet<(String, String)>,
    results: &[NodeResult],
) -> Vec<(&'static str, minijinja::value::Value)> {
    use minijinja::value::Value as J;
    let schemas: BTreeSet<&String> = pairs.iter().map(|(_, s)| s).collect();
    let results: Vec<J> = results
        .iter()
        .map(|r| {
            let node = session
                .project
                .nodes
                .get(&r.unique_id)
                .map(Compiler::node_value)
                .unwrap_or_else(|| J::from(()));
            let mut m: BTreeMap<&str, J> = BTreeMap::new();
            m.insert("status", J::from(r.status.as_str()));
            m.insert("message", J::from(r.message.clone()));
            m.insert("failures", J::from(r.failures));
            m.insert("execution_time", J::from(r.execution_time));
            m.insert("thread_id", J::from(r.thread_id.clone()));
            m.insert(
                "adapter_response",
                J::from_serialize(serde_json::json!({
                    "rows_affected": r.adapter.rows_affected,
                    "query_id": r.adapter.query_id,
                })),
            );
            m.insert("node", node);
            J::from(m)
        })
        .collect();
    vec![
        (
            "schemas",
            J::from(
                schemas
                    .into_iter()
                    .map(|s| J::from(s.as_str()))
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "database_schemas",
            J::from(
                pairs
                    .iter()
                    .map(|(d, s)| J::from(vec![J::from(d.as_str()), J::from(s.as_str())]))
                    .collect::<Vec<_>>(),
            ),
        ),
        ("results", J::from(results)),
    ]
}

async fn run_hooks(
    session: &Session,
    name: &str,
    hooks: &[String],
    context: Vec<(&'static str, minijinja::value::Value)>,
) -> Result<()> {
    for (i, hook) in hooks.iter().enumerate() {
        let compiler = session.compiler.clone();
        let bridge: Arc<dyn Warehouse> = Arc::new(Bridge {
            adapter: session.adapter.clone(),
            handle: tokio::runtime::Handle::current(),
            used: AtomicBool::new(false),
        });
        let label = format!("{name}[{i}]");
        let text = hook.clone();
        let label2 = label.clone();
        let extra = context.clone();
        let sql_text = tokio::task::spawn_blocking(move || {
            compiler.render_free_with(&label2, &text, Some(bridge), extra)
        })
        .await
        .map_err(|e| Error::Adapter(e.to_string()))??;
        for stmt in sql::split_statements(&sql_text) {
            session
                .adapter
                .execute(&stmt, false)
                .await
                .map_err(|e| Error::Adapter(format!("{label}: {e}")))?;
        }
    }
    Ok(())
}

/// For each node to execute, the nodes it waits for: its nearest executed ancestors (through
/// unselected and ephemeral nodes). In `build`, a model's children also wait for its tests.
fn execution_deps(
    session: &Session,
    ids: &[String],
    build: bool,
) -> HashMap<String, BTreeSet<String>> {
    let set: HashSet<&String> = ids.iter().collect();
    let mut deps: HashMap<String, BTreeSet<String>> = HashMap::new();
    for id in ids {
        let mut found = BTreeSet::new();
        let mut stack = session.graph.parents(id);
        let mut seen = HashSet::new();
        while let Some(p) = stack.pop() {
            if !seen.insert(p.clone()) {
                continue;
            }
            if set.contains(&p) {
                found.insert(p);
            } else {
                stack.extend(session.graph.parents(&p));
            }
        }
        deps.insert(id.clone(), found);
    }
    if build {
        // dbt's rule: a child waits for a test on its parent only when every node the test
        // reads is upstream of that child (so no test can wait on the child in turn).
        let mut ancestors: HashMap<&String, BTreeSet<String>> = HashMap::new();
        let is_test = |id: &String| {
            session
                .project
                .nodes
                .get(id)
                .is_some_and(|n| n.resource_type == ResourceType::Test)
        };
        // Sources are never executed, so their tests are found through the graph: a model
        // that selects from a tested source waits for the source's tests too.
        // (through ephemeral and other unexecuted parents, as the nearest executed
        // ancestors are found above)
        let sources_of = |id: &String| -> BTreeSet<String> {
            let mut out = BTreeSet::new();
            let mut stack = session.graph.parents(id);
            let mut seen = HashSet::new();
            while let Some(p) = stack.pop() {
                if !seen.insert(p.clone()) {
                    continue;
                }
                if session.project.sources.contains_key(&p) {
                    out.insert(p);
                } else if !set.contains(&p) {
                    stack.extend(session.graph.parents(&p));
                }
            }
            out
        };
        for t in ids.iter().filter(|id| is_test(id)) {
            let mut read: BTreeSet<String> = deps.get(t).cloned().unwrap_or_default();
            read.extend(sources_of(t));
            if read.is_empty() {
                continue;
            }
            for child in ids.iter().filter(|c| !is_test(c)) {
                let waits_on_tested = deps
                    .get(child)
                    .is_some_and(|d| d.iter().any(|p| read.contains(p)))
                    || sources_of(child).iter().any(|s| read.contains(s));
                if !waits_on_tested {
                    continue;
                }
                let up = ancestors
                    .entry(child)
                    .or_insert_with(|| session.graph.ancestors(child, None));
                if read.iter().all(|r| up.contains(r)) {
                    if let Some(d) = deps.get_mut(child) {
                        d.insert(t.clone());
                    }
                }
            }
        }
    }
    deps
}

async fn schedule(
    state: Arc<RunState>,
    order: Vec<String>,
    deps: HashMap<String, BTreeSet<String>>,
    threads: usize,
    fail_fast: bool,
) -> Vec<NodeResult> {
    let total = order.len();
    let position: HashMap<&String, usize> =
        order.iter().enumerate().map(|(i, id)| (id, i)).collect();
    let mut waiting: HashMap<String, usize> =
        deps.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    let mut dependents: HashMap<String, Vec<String>> = HashMap::new();
    for (child, parents) in &deps {
        for p in parents {
            dependents.entry(p.clone()).or_default().push(child.clone());
        }
    }
    let mut ready: BTreeSet<(usize, String)> = order
        .iter()
        .filter(|id| waiting.get(*id).copied().unwrap_or(0) == 0)
        .map(|id| (position[id], id.clone()))
        .collect();
    let mut results: HashMap<String, NodeResult> = HashMap::new();
    let mut running = tokio::task::JoinSet::new();
    let mut started = 0usize;
    let mut stop = false;

    loop {
        while !stop && running.len() < threads {
            let Some(first) = ready.iter().next().cloned() else {
                break;
            };
            ready.remove(&first);
            let (_, id) = first;
            started += 1;
            let st = state.clone();
            let index = started;
            running.spawn(async move { run_node(st, id, index, total).await });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let result = match joined {
            Ok(r) => r,
            Err(e) => {
                // A panicking node task must not take the run down with it.
                let mut r = NodeResult::skipped("unknown", format!("internal error: {e}"));
                r.status = Status::Error;
                r
            }
        };
        let id = result.unique_id.clone();
        let failed = result.status.is_failure();
        results.insert(id.clone(), result);
        if failed {
            if fail_fast {
                stop = true;
            }
            // Skip everything downstream, transitively.
            let mut stack = dependents.get(&id).cloned().unwrap_or_default();
            while let Some(d) = stack.pop() {
                if results.contains_key(&d) {
                    continue;
                }
                started += 1;
                let node_desc = describe_id(&state, &d);
                state.session.printer.node_finished(
                    started,
                    total,
                    &d,
                    "skipped",
                    &format!("SKIP {node_desc}"),
                    "SKIP",
                    Tone::Warn,
                    0.0,
                    Some("skipped: an upstream node failed"),
                );
                results.insert(
                    d.clone(),
                    NodeResult::skipped(&d, format!("skipped because {id} failed")),
                );
                ready.retain(|(_, r)| r != &d);
                stack.extend(dependents.get(&d).cloned().unwrap_or_default());
            }
        } else {
            for d in dependents.get(&id).cloned().unwrap_or_default() {
                if results.contains_key(&d) {
                    continue;
                }
                if let Some(w) = waiting.get_mut(&d) {
                    *w = w.saturating_sub(1);
                    if *w == 0 {
                        ready.insert((position[&d], d.clone()));
                    }
                }
            }
        }
    }
    // --fail-fast leaves the rest unstarted.
    for id in &order {
        if !results.contains_key(id) {
            results.insert(
                id.clone(),
                NodeResult::skipped(id, "skipped: --fail-fast stopped the run".into()),
            );
        }
    }
    order.iter().filter_map(|id| results.remove(id)).collect()
}

fn describe_id(state: &RunState, id: &str) -> String {
    match state.session.project.nodes.get(id) {
        Some(n) => describe(&state.session.compiler, n),
        None => id.to_string(),
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

async fn run_node(state: Arc<RunState>, id: String, index: usize, total: usize) -> NodeResult {
    let s = &state.session;
    let Some(node) = s.project.nodes.get(&id) else {
        return NodeResult::skipped(&id, "node vanished".into());
    };
    let desc = describe(&s.compiler, node);
    s.printer.node_started(index, total, &id, &desc);
    let t0 = Instant::now();
    let compile_started = now_rfc3339();

    // Compile again right before running when the template read the warehouse.
    let mut prepared = state.prepared.get(&id).cloned();
    if prepared.as_ref().is_some_and(|p| p.recompile) {
        let st = state.clone();
        let nid = id.clone();
        let handle = tokio::runtime::Handle::current();
        let r = tokio::task::spawn_blocking(move || {
            let n = &st.session.project.nodes[&nid];
            let c = Compiling {
                project: &st.session.project,
                compiler: &st.session.compiler,
                adapter: &st.session.adapter,
                cache: &st.cache,
                full_refresh: st.full_refresh,
            };
            compile_node(&c, n, handle, false)
        })
        .await;
        match r {
            Ok(Ok(p)) => {
                let digest = memo::digest(p.sql.as_bytes());
                let _ = write_compiled(&s.project, node, &p.sql, &digest);
                if let Err(e) = check_sql(&s.project, s.adapter.as_ref(), node, &p.sql, &digest) {
                    return finish_error(&state, node, index, total, &desc, t0, e, Some(p.sql));
                }
                prepared = Some(p);
            }
            Ok(Err(e)) => return finish_error(&state, node, index, total, &desc, t0, e, None),
            Err(e) => {
                return finish_error(
                    &state,
                    node,
                    index,
                    total,
                    &desc,
                    t0,
                    Error::Adapter(e.to_string()),
                    None,
                )
            }
        }
    }
    let compile_done = now_rfc3339();
    let sql_text = prepared.map(|p| p.sql).unwrap_or_default();
    let m = state.materializer();
    let outcome = match node.resource_type {
        ResourceType::Test => m.test(node, &sql_text).await,
        ResourceType::UnitTest => m.unit_test(node).await,
        _ => m.build(node, &sql_text).await,
    };
    let exec_done = now_rfc3339();
    let timing = vec![
        Timing {
            name: "compile",
            started_at: compile_started,
            completed_at: compile_done.clone(),
        },
        Timing {
            name: "execute",
            started_at: compile_done,
            completed_at: exec_done,
        },
    ];
    let built = match outcome {
        Ok(b) => b,
        Err(e) => return finish_error(&state, node, index, total, &desc, t0, e, Some(sql_text)),
    };
    // Over its scan budget: the model fails, and its result still says what it scanned.
    if let Err(e) = materialize::check_scan_budget(node, &built.response) {
        let mut r = finish_error(&state, node, index, total, &desc, t0, e, Some(sql_text));
        r.adapter = built.response;
        return r;
    }
    let secs = t0.elapsed().as_secs_f64();
    let relation_name = s
        .compiler
        .relation_of(&node.name)
        .filter(|r| r.kind != "cte")
        .map(|r| r.rendered);
    let (status, headline, badge, tone, message) = if node.resource_type == ResourceType::UnitTest {
        let label = unit_test_label(node);
        match built.failures.unwrap_or(0) {
            0 => (
                Status::Pass,
                format!("PASS {label}"),
                "PASS".into(),
                Tone::Good,
                "PASS".into(),
            ),
            n => (
                Status::Fail,
                format!("FAIL {n} {label}"),
                format!("FAIL {n}"),
                Tone::Bad,
                built.response.message.clone(),
            ),
        }
    } else if node.resource_type == ResourceType::Test {
        let n = built.failures.unwrap_or(0);
        let severity = node
            .config
            .str("severity")
            .unwrap_or("error")
            .to_lowercase();
        let cond = node.config.str("error_if").unwrap_or("!= 0");
        if severity == "error" && built.should_error {
            (
                Status::Fail,
                format!("FAIL {n} {}", node.name),
                format!("FAIL {n}"),
                Tone::Bad,
                format!(
                    "Got {n} result{}, configured to fail if {cond}",
                    if n == 1 { "" } else { "s" }
                ),
            )
        } else if state.warn_error && built.should_warn {
            (
                Status::Fail,
                format!("FAIL {n} {}", node.name),
                format!("FAIL {n}"),
                Tone::Bad,
                format!(
                    "Got {n} result{}, configured to warn if {} (a failure with --warn-error)",
                    if n == 1 { "" } else { "s" },
                    node.config.str("warn_if").unwrap_or("!= 0")
                ),
            )
        } else if built.should_warn {
            (
                Status::Warn,
                format!("WARN {n} {}", node.name),
                format!("WARN {n}"),
                Tone::Warn,
                format!(
                    "Got {n} result{}, configured to warn if {}",
                    if n == 1 { "" } else { "s" },
                    node.config.str("warn_if").unwrap_or("!= 0")
                ),
            )
        } else {
            (
                Status::Pass,
                format!("PASS {}", node.name),
                "PASS".into(),
                Tone::Good,
                "PASS".into(),
            )
        }
    } else {
        let verb = match node.resource_type {
            ResourceType::Seed => "loaded",
            ResourceType::Snapshot => "snapshotted",
            _ => "created",
        };
        let mut badge = match (node.resource_type, built.response.rows_affected) {
            (ResourceType::Seed, Some(n)) => format!("INSERT {n}"),
            _ => "OK".to_string(),
        };
        // Athena bills by bytes scanned: show them where the engine reports them.
        if let Some(bytes) = built.response.bytes_scanned {
            badge.push_str(&format!(", {} scanned", human_bytes(bytes)));
        }
        (
            Status::Success,
            // dbt: "START snapshot s.x", then "OK snapshotted s.x".
            format!(
                "OK {verb} {}",
                desc.strip_prefix("snapshot ").unwrap_or(&desc)
            ),
            badge,
            Tone::Good,
            built.response.message.clone(),
        )
    };
    s.printer.node_finished(
        index,
        total,
        &id,
        status.as_str(),
        &headline,
        &badge,
        tone,
        secs,
        Some(&message),
    );
    NodeResult {
        unique_id: id.clone(),
        status,
        message: Some(message),
        failures: built.failures,
        execution_time: secs,
        timing,
        thread_id: format!("Thread-{}", (index - 1) % 64 + 1),
        adapter: built.response,
        compiled_code: Some(sql_text),
        relation_name,
    }
}

#[allow(clippy::too_many_arguments)]
fn finish_error(
    state: &RunState,
    node: &Node,
    index: usize,
    total: usize,
    desc: &str,
    t0: Instant,
    e: Error,
    sql_text: Option<String>,
) -> NodeResult {
    let secs = t0.elapsed().as_secs_f64();
    let what = match node.resource_type {
        ResourceType::Seed => format!("ERROR loading {desc}"),
        ResourceType::Test => format!("ERROR {}", node.name),
        ResourceType::UnitTest => format!("ERROR {}", unit_test_label(node)),
        ResourceType::Snapshot => format!(
            "ERROR snapshotting {}",
            desc.strip_prefix("snapshot ").unwrap_or(desc)
        ),
        _ => format!("ERROR creating {desc}"),
    };
    let message = e.to_string();
    state.session.printer.node_finished(
        index,
        total,
        &node.unique_id,
        "error",
        &what,
        "ERROR",
        Tone::Bad,
        secs,
        Some(&message),
    );
    NodeResult {
        unique_id: node.unique_id.clone(),
        status: Status::Error,
        message: Some(message),
        failures: None,
        execution_time: secs,
        timing: Vec::new(),
        thread_id: format!("Thread-{}", (index - 1) % 64 + 1),
        adapter: Default::default(),
        compiled_code: sql_text,
        relation_name: state
            .session
            .compiler
            .relation_of(&node.name)
            .map(|r| r.rendered),
    }
}

/// dbt's closing lines: what ran, the failures in full, and the counts.
/// Bytes in the units Athena's console uses (1 KB = 1024 bytes).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub fn print_summary(session: &Session, outcome: &RunOutcome) {
    let p = &session.printer;
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &outcome.results {
        if let Some(n) = session.project.nodes.get(&r.unique_id) {
            let k = match n.resource_type {
                ResourceType::Model => format!("{} model", n.config.materialized()),
                ResourceType::Test => "data test".to_string(),
                ResourceType::Seed => "seed".to_string(),
                ResourceType::Snapshot => "snapshot".to_string(),
                ResourceType::UnitTest => "unit test".to_string(),
                ResourceType::Operation => "hook".to_string(),
            };
            *kinds.entry(k).or_default() += 1;
        }
    }
    let what: Vec<String> = kinds
        .iter()
        .map(|(k, n)| format!("{n} {k}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    p.info("summary", "");
    p.info(
        "summary",
        &format!(
            "Finished running {} in {:.2}s.",
            what.join(", "),
            outcome.elapsed
        ),
    );
    let scanned: Vec<u64> = outcome
        .results
        .iter()
        .filter_map(|r| r.adapter.bytes_scanned)
        .collect();
    if !scanned.is_empty() {
        let engine_ms: u64 = outcome
            .results
            .iter()
            .filter_map(|r| r.adapter.engine_ms)
            .sum();
        p.info(
            "summary",
            &format!(
                "Scanned {} in {:.1}s of engine time.",
                human_bytes(scanned.iter().sum()),
                engine_ms as f64 / 1000.0
            ),
        );
    }
    let count = |s: Status| outcome.results.iter().filter(|r| r.status == s).count();
    // A failed on-run-end hook is an error of the run, as dbt counts it.
    let hook_errors = outcome.hook_errors.len();
    let errors = count(Status::Error) + count(Status::Fail) + hook_errors;
    let warns = count(Status::Warn);
    if outcome.interrupted {
        p.error("summary", "Interrupted: running statements were cancelled.");
    } else if errors == 0 {
        p.info("summary", "Completed successfully");
    } else {
        p.error(
            "summary",
            &format!(
                "Completed with {errors} error{} and {warns} warning{}:",
                if errors == 1 { "" } else { "s" },
                if warns == 1 { "" } else { "s" }
            ),
        );
        for e in &outcome.hook_errors {
            p.error("failure", &format!("  Error in {e}"));
        }
        for r in outcome.results.iter().filter(|r| r.status.is_failure()) {
            let Some(n) = session.project.nodes.get(&r.unique_id) else {
                continue;
            };
            let kind = if r.status == Status::Fail {
                "Failure"
            } else {
                "Error"
            };
            p.error(
                "failure",
                &format!(
                    "  {kind} in {} {} ({})",
                    n.resource_type.as_str(),
                    n.name,
                    n.original_file_path.display()
                ),
            );
            if let Some(m) = &r.message {
                for line in m.lines() {
                    p.error("failure", &format!("    {line}"));
                }
            }
            if r.status == Status::Fail {
                p.error(
                    "failure",
                    &format!(
                        "    compiled code at {}",
                        compiled_path(&session.project, n).display()
                    ),
                );
            }
        }
    }
    p.info(
        "summary",
        &format!(
            "Done. PASS={} WARN={} ERROR={} SKIP={} TOTAL={}",
            count(Status::Pass) + count(Status::Success),
            warns,
            errors,
            count(Status::Skipped),
            outcome.results.len() + hook_errors
        ),
    );
}

/// Compile one node as `run` would, for `show`.
pub async fn compile_one(session: &Session, id: &str) -> Result<String> {
    let cache = prime_cache(session, &[id.to_string()], false).await?;
    let (_, mut prepared, errors) = prepare(session, &[id.to_string()], cache, false, true).await?;
    if let Some(e) = first_error(without_ids(errors), &session.printer) {
        return Err(e);
    }
    prepared
        .remove(id)
        .map(|p| p.sql)
        .ok_or_else(|| Error::Usage(format!("{id} has no SQL to show")))
}

/// Render inline SQL (with the project's refs and macros) for `show --inline`.
pub async fn render_inline(session: &Session, text: &str) -> Result<String> {
    let compiler = session.compiler.clone();
    let bridge: Arc<dyn Warehouse> = Arc::new(Bridge {
        adapter: session.adapter.clone(),
        handle: tokio::runtime::Handle::current(),
        used: AtomicBool::new(false),
    });
    let text = text.to_string();
    let project = session.project.clone();
    tokio::task::spawn_blocking(move || {
        compiler.compile_text(&project, "inline query", &text, Some(bridge))
    })
    .await
    .map_err(|e| Error::Adapter(e.to_string()))?
}

/// The first `limit` rows of a query.
pub async fn preview(session: &Session, sql_text: &str, limit: usize) -> Result<Table> {
    if let Some((f, message)) = refused_sql(session.adapter.as_ref(), sql_text) {
        return Err(Error::SqlParse {
            location: Location {
                path: "<show>".into(),
                line: f.line,
                column: f.column,
            },
            dialect: session.adapter.adapter_type().to_string(),
            message,
        });
    }
    let body = sql_text.trim().trim_end_matches(';');
    let wrapped = format!("select * from (\n{body}\n) as strata_show limit {limit}");
    let r = session.adapter.execute(&wrapped, true).await?;
    Ok(r.table.unwrap_or_default())
}

/// Render and execute `{{ macro(args) }}` for `run-operation`.
pub async fn run_operation(
    session: &Session,
    macro_name: &str,
    args: &serde_json::Map<String, serde_json::Value>,
) -> Result<String> {
    if !session.compiler.has_macro(macro_name) {
        return Err(Error::Usage(format!(
            "run-operation: no macro named '{macro_name}'"
        )));
    }
    let mut call = Vec::new();
    for (k, v) in args {
        call.push(format!(
            "{k}=fromjson({})",
            serde_json::to_string(&v.to_string()).unwrap_or_default()
        ));
    }
    let text = format!("{{{{ {macro_name}({}) }}}}", call.join(", "));
    let compiler = session.compiler.clone();
    let bridge: Arc<dyn Warehouse> = Arc::new(Bridge {
        adapter: session.adapter.clone(),
        handle: tokio::runtime::Handle::current(),
        used: AtomicBool::new(false),
    });
    let name = format!("run-operation {macro_name}");
    let sql_text =
        tokio::task::spawn_blocking(move || compiler.render_free(&name, &text, Some(bridge)))
            .await
            .map_err(|e| Error::Adapter(e.to_string()))??;
    for stmt in sql::split_statements(&sql_text) {
        session.adapter.execute(&stmt, false).await?;
    }
    Ok(sql_text)
}

pub use compile::Flags as CompileFlags;
