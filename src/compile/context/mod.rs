//! The per-render context: what a node's template (or a macro it calls) sees besides the
//! environment's globals: `ref`, `source`, `config`, `this`, `model`, `is_incremental`,
//! `run_query`, `statement`, `rights` ... One file per dbt context object or family.

mod adapter;
mod blocks_reuse;
mod config;
mod model;
mod refs;
mod statement;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use minijinja::value::Value;

pub(super) use adapter::{load_relation, with_warehouse, AdapterObject};
pub(super) use model::{model_value, model_value_in_batch};

use super::{reuse, CompileOptions, Compiler, Fixtures, Relation, Relations, Shared, Warehouse};
use crate::project::{Config, Node, RefCall};
use blocks_reuse::BlocksReuse;
use config::ConfigObject;
use refs::{ref_fn, source_fn};
use statement::{load_result_fn, run_query_fn, statement_fn};

/// The context name under which a package's node carries its [`PackageScope`] (into the
/// macros it calls, too).
pub(super) const PACKAGE_SCOPE: &str = "__package_scope";

/// What a package's nodes see besides the globals, as dbt resolves names for them: the
/// package's own macros by bare name (before the root project's) and `var()` over the
/// package's vars.
#[derive(Debug)]
pub(super) struct PackageScope {
    /// A namespace object over the package's macros.
    pub(super) macros: Value,
    pub(super) var: Value,
}

impl minijinja::value::Object for PackageScope {}

/// A render's context from its names: for a package's node, laid over the package's macros
/// (so a bare call reaches the package's macro first, then the root's and the built-ins,
/// which are globals).
pub(super) fn scoped_context<'a>(values: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    let values: Value = values
        .into_iter()
        .map(|(k, v)| (Value::from(k), v))
        .collect();
    let scope = values.get_attr(PACKAGE_SCOPE).ok();
    match scope
        .as_ref()
        .and_then(|s| s.downcast_object_ref::<PackageScope>())
    {
        Some(scope) => minijinja::value::merge_maps([scope.macros.clone(), values]),
        None => values,
    }
}

/// Per-render state behind the context functions.
pub(super) struct RenderCtx {
    pub(super) execute: bool,
    pub(super) node_name: String,
    /// A `Relation` object, or none.
    pub(super) this: Value,
    /// The relations as they were when the render started.
    pub(super) relations: Arc<Relations>,
    pub(super) config: Mutex<Config>,
    pub(super) refs: Mutex<Vec<RefCall>>,
    pub(super) source_refs: Mutex<Vec<(String, String)>>,
    pub(super) ephemerals: Mutex<Vec<String>>,
    pub(super) is_incremental: bool,
    pub(super) warehouse: Option<Arc<dyn Warehouse>>,
    pub(super) results: Mutex<HashMap<String, Value>>,
    pub(super) extra: Vec<(&'static str, Value)>,
    pub(super) fixtures: Option<Arc<Fixtures>>,
    /// A microbatch batch's window (see [`CompileOptions::event_window`]).
    pub(super) event_window: Option<(String, String)>,
    pub(super) shared: Arc<Shared>,
    /// A package's node: its [`PackageScope`] (as a template value); none for the root's.
    pub(super) package: Option<Value>,
}

impl std::fmt::Debug for RenderCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderCtx")
            .field("node", &self.node_name)
            .finish()
    }
}

/// Names copied from a caller's render into a macro's, so macros see `this`, `config` ...
pub(super) const CONTEXT_NAMES: &[&str] = &[
    "ref",
    "source",
    "config",
    "this",
    "model",
    "is_incremental",
    "should_store_failures",
    "execute",
    "run_query",
    "statement",
    "load_result",
    "sql",
    "compiled_code",
    "rights",
    "var",
    PACKAGE_SCOPE,
];

impl Compiler {
    pub(super) fn render_ctx(
        &self,
        node: &Node,
        execute: bool,
        this: Option<Relation>,
        opts: CompileOptions,
    ) -> Arc<RenderCtx> {
        let relations = self.relations_snapshot();
        let fixture_this = opts.fixtures.as_ref().and_then(|f| f.this.clone());
        let this = match this.or(fixture_this) {
            Some(rel) => Value::from_object(rel),
            None => relations
                .get(&node.relation_key())
                .cloned()
                .unwrap_or(Value::from(())),
        };
        Arc::new(RenderCtx {
            execute,
            node_name: node.name.clone(),
            this,
            relations,
            config: Mutex::new(node.config.clone()),
            refs: Mutex::new(Vec::new()),
            source_refs: Mutex::new(Vec::new()),
            ephemerals: Mutex::new(Vec::new()),
            is_incremental: opts.is_incremental,
            warehouse: opts.warehouse,
            results: Mutex::new(HashMap::new()),
            extra: opts.extra,
            fixtures: opts.fixtures,
            event_window: opts.event_window,
            shared: self.shared.clone(),
            package: self.package_scopes.get(&node.package_name).cloned(),
        })
    }

    /// The context of free text (hooks, `run-operation`): no node, nothing parsed.
    pub(super) fn free_render_ctx(
        &self,
        name: &str,
        warehouse: Option<Arc<dyn Warehouse>>,
    ) -> Arc<RenderCtx> {
        Arc::new(RenderCtx {
            execute: true,
            node_name: name.to_string(),
            this: Value::from(()),
            relations: self.relations_snapshot(),
            config: Mutex::new(Config::default()),
            refs: Mutex::new(Vec::new()),
            source_refs: Mutex::new(Vec::new()),
            ephemerals: Mutex::new(Vec::new()),
            is_incremental: false,
            warehouse,
            results: Mutex::new(HashMap::new()),
            extra: Vec::new(),
            fixtures: None,
            event_window: None,
            shared: self.shared.clone(),
            package: None,
        })
    }

    pub(super) fn context_values(
        ctx: &Arc<RenderCtx>,
        node_value: Value,
    ) -> BTreeMap<&'static str, Value> {
        let mut m = BTreeMap::new();
        m.insert("ref", ref_fn(ctx.clone()));
        m.insert("source", source_fn(ctx.clone()));
        m.insert("config", Value::from_object(ConfigObject(ctx.clone())));
        m.insert("this", ctx.this.clone());
        if ctx.execute {
            m.insert("model", node_value);
        } else {
            // Parse sees the node's config before its in-file config() calls.
            m.insert("model", Value::from_object(BlocksReuse(node_value)));
        }
        let inc = ctx.is_incremental;
        m.insert(
            "is_incremental",
            Value::from_function(move || {
                reuse::block();
                inc
            }),
        );
        m.insert("execute", Value::from(ctx.execute));
        // dbt's should_store_failures(): the node's store_failures / store_failures_as.
        let of = ctx.clone();
        m.insert(
            "should_store_failures",
            // (known before parsing for generic tests, and config() calls above it in a
            // singular test have updated it: a parse render that used it stands)
            Value::from_function(move || {
                of.config
                    .lock()
                    .is_ok_and(|c| matches!(c.store_failures_as(), Ok(Some(_))))
            }),
        );
        m.insert("run_query", run_query_fn(ctx.clone()));
        m.insert("statement", statement_fn(ctx.clone()));
        m.insert("load_result", load_result_fn(ctx.clone()));
        m.insert("rights", empty_rights());
        if let Some(package) = &ctx.package {
            if let Some(scope) = package.downcast_object_ref::<PackageScope>() {
                m.insert("var", scope.var.clone());
            }
            m.insert(PACKAGE_SCOPE, package.clone());
        }
        for (k, v) in &ctx.extra {
            m.insert(k, v.clone());
        }
        m
    }
}

/// `rights` outside a rights run (procedures read it): it describes an empty batch.
fn empty_rights() -> Value {
    let mut rights = BTreeMap::new();
    rights.insert("batch", Value::from("strata_rights_batch"));
    rights.insert("declared", Value::from(Vec::<Value>::new()));
    rights.insert("right_types", Value::from(Vec::<Value>::new()));
    rights.insert("access_path", Value::from(""));
    Value::from(rights)
}
