//! Rendering: the minijinja environment with dbt's context, in two modes.
//!
//! * **parse** renders every node once with `execute = false` to learn its in-file `config()`
//!   and its `ref()`/`source()` calls (which make the graph);
//! * **compile** renders a node for execution: refs become relations, `is_incremental()`
//!   answers from the warehouse, `run_query` runs, ephemeral models are inlined as CTEs.
//!   A node whose parse render cannot differ from its compile render is not rendered again:
//!   its parse output is kept ([`reuse`]).
//!
//! Macros (the project's and the adapter's built-in SQL templates) are environment globals;
//! a project macro overrides a built-in of the same name.
//!
//! Layout, one job per file: `env` sets up the environment, `macros` wraps and calls
//! macros, `context/` holds the per-render context objects (`ref`, `config`, `adapter` ...),
//! `naming` names relations, `parse` is the parse pass, `render` the compile-mode renders,
//! `ctes` splices ephemeral models in as CTEs.

mod api;
mod context;
mod ctes;
mod env;
mod globals;
mod graph_value;
mod macros;
mod modules;
mod mutable;
mod naming;
mod parse;
mod registry;
pub mod relation;
mod render;
pub mod reuse;
pub mod table;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use minijinja::value::Value;
use minijinja::{Environment, Error as JError, ErrorKind};

pub use relation::{DoubleQuotes, Quoting, Relation, RelationKind};
pub use table::Table;

use crate::project;

/// What templates may ask the warehouse while compiling: compile-time queries and
/// introspection. Implemented by the executor over the adapter.
pub trait Warehouse: Send + Sync {
    fn run_query(&self, sql: &str) -> std::result::Result<Table, String>;
    fn get_columns(
        &self,
        relation: &Relation,
    ) -> std::result::Result<Vec<(String, String)>, String>;
    /// `Some(Table | View)` when the relation exists.
    fn get_relation_kind(
        &self,
        relation: &Relation,
    ) -> std::result::Result<Option<RelationKind>, String>;
}

/// The adapter facts the compiler needs: its name, its quoting, its built-in macros.
#[derive(Clone)]
pub struct Dialect {
    pub adapter_type: String,
    pub quoting: Arc<dyn Quoting>,
    /// (file name, source) of the adapter's built-in macro templates.
    pub builtin_macros: Vec<(String, String)>,
    /// A source with an `external_location` config reads from that location (a file path
    /// or a table function) instead of its schema and identifier (dbt-duckdb's convention).
    pub reads_external_locations: bool,
    /// How dbt's `Column` of this adapter names string types (`column.data_type`).
    pub string_columns: StringColumns,
    /// A microbatch batch's filter on an input's event-time column (field, start, end), as
    /// the adapter's dbt relation renders it.
    pub event_time_filter: fn(&str, &str, &str) -> String,
}

/// dbt's filter of a microbatch input: `field >= 'start' and field < 'end'` (dbt-core's,
/// dbt-duckdb's).
pub fn plain_event_time_filter(field: &str, start: &str, end: &str) -> String {
    format!("{field} >= '{start}' and {field} < '{end}'")
}

/// An adapter's string column types, as its dbt `Column` class has them.
#[derive(Debug, Clone, Copy)]
pub struct StringColumns {
    /// `string_size()` of a string column declared without a size.
    pub default_size: u32,
    /// `string_type(size)`.
    pub type_of_size: fn(u32) -> String,
    /// `Column.translate_type`: type labels spelt as this adapter spells them (upper case).
    pub labels: &'static [(&'static str, &'static str)],
}

/// Flags visible to templates (`flags.FULL_REFRESH`, ...).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub full_refresh: bool,
    pub which: String,
    /// dbt's `--empty`: `ref()` and `source()` give no rows (a schema-only build).
    pub empty: bool,
    /// The run's `invocation_id` and `run_started_at` (the session's own, which
    /// run_results.json records; a new one when empty).
    pub invocation_id: String,
    pub run_started_at: Option<chrono::DateTime<chrono::Utc>>,
}

type Relations = HashMap<String, Value>;

fn as_relation(v: &Value) -> Option<&Relation> {
    v.downcast_object_ref::<Relation>()
}

struct Shared {
    adapter_type: String,
    quoting: Arc<dyn Quoting>,
    target: project::Target,
    /// model/seed name -> its relation, as a template value (a `Relation` object; cloning it
    /// is a reference count). Replaced whole, so a render reads one consistent snapshot.
    relations: RwLock<Arc<Relations>>,
    /// (source, table) -> relation.
    sources: HashMap<(String, String), Relation>,
    /// `--empty`: refs and sources render as empty subqueries.
    empty: bool,
    /// The `event_time` column of each model, seed and source that has one (by relation key;
    /// sources as `source.table`), known once parsing is done: a microbatch batch filters
    /// what it reads from them.
    event_times: RwLock<HashMap<String, String>>,
    event_time_filter: fn(&str, &str, &str) -> String,
}

/// Options for compiling one node for execution.
#[derive(Clone, Default)]
pub struct CompileOptions {
    pub is_incremental: bool,
    pub warehouse: Option<Arc<dyn Warehouse>>,
    /// Further context names (the rights procedures get `rights`; a unit test `var`).
    pub extra: Vec<(&'static str, Value)>,
    /// Unit tests: what `ref('name')`, `source('s', 't')` and `this` give instead (the
    /// fixtures' CTEs).
    pub fixtures: Option<Arc<Fixtures>>,
    /// A microbatch batch, `[start, end)` as dbt writes the times into SQL: inputs with an
    /// `event_time` are read for that window only.
    pub event_window: Option<(String, String)>,
}

/// The relations a unit test puts in place of the model's inputs.
#[derive(Debug, Default)]
pub struct Fixtures {
    pub refs: HashMap<String, Relation>,
    pub sources: HashMap<(String, String), Relation>,
    pub this: Option<Relation>,
}

pub struct Compiler {
    env: Environment<'static>,
    shared: Arc<Shared>,
    project_macros: HashSet<String>,
    /// The `graph` global, filled once parsing is done.
    graph: Arc<graph_value::GraphGlobal>,
    /// By package name: what that package's nodes see (a `context::PackageScope`).
    package_scopes: HashMap<String, Value>,
    /// Parse renders that stand for the compiled SQL, by unique id.
    kept: RwLock<HashMap<String, reuse::Kept>>,
}

fn jerr(msg: impl Into<String>) -> JError {
    JError::new(ErrorKind::InvalidOperation, msg.into())
}

/// A template called a method `what` (an object of dbt's context) does not have.
fn unknown_method(what: &str, method: &str) -> JError {
    JError::new(
        ErrorKind::UnknownMethod,
        format!("{what} has no method '{method}'"),
    )
}
