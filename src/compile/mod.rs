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

mod globals;
mod mutable;
pub mod relation;
pub mod reuse;
pub mod table;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use minijinja::value::{from_args, Kwargs, Object, Rest, Value};
use minijinja::{Environment, Error as JError, ErrorKind, State, UndefinedBehavior};
use serde_json::Map;

pub use relation::{DoubleQuotes, Quoting, Relation};
pub use table::Table;

use crate::error::{line_col, Error, Location, Result};
use crate::project::{self, Config, Node, Project, RefCall, ResourceType};

/// What templates may ask the warehouse while compiling: compile-time queries and
/// introspection. Implemented by the executor over the adapter.
pub trait Warehouse: Send + Sync {
    fn run_query(&self, sql: &str) -> std::result::Result<Table, String>;
    fn get_columns(
        &self,
        relation: &Relation,
    ) -> std::result::Result<Vec<(String, String)>, String>;
    /// `Some("table" | "view")` when the relation exists.
    fn get_relation_kind(&self, relation: &Relation)
        -> std::result::Result<Option<String>, String>;
}

/// The adapter facts the compiler needs: its name, its quoting, its built-in macros.
#[derive(Clone)]
pub struct Dialect {
    pub adapter_type: String,
    pub quoting: Arc<dyn Quoting>,
    /// (file name, source) of the adapter's built-in macro templates.
    pub builtin_macros: Vec<(String, String)>,
}

/// Flags visible to templates (`flags.FULL_REFRESH`, ...).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub full_refresh: bool,
    pub which: String,
    /// dbt's `--empty`: `ref()` and `source()` give no rows (a schema-only build).
    pub empty: bool,
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
}

/// Per-render state behind the context functions.
struct RenderCtx {
    execute: bool,
    node_name: String,
    /// A `Relation` object, or none.
    this: Value,
    /// The relations as they were when the render started.
    relations: Arc<Relations>,
    config: Mutex<Config>,
    refs: Mutex<Vec<RefCall>>,
    source_refs: Mutex<Vec<(String, String)>>,
    ephemerals: Mutex<Vec<String>>,
    is_incremental: bool,
    warehouse: Option<Arc<dyn Warehouse>>,
    results: Mutex<HashMap<String, Value>>,
    extra: Vec<(&'static str, Value)>,
    fixtures: Option<Arc<Fixtures>>,
    shared: Arc<Shared>,
}

/// Names copied from a caller's render into a macro's, so macros see `this`, `config` ...
const CONTEXT_NAMES: &[&str] = &[
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
];

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
    /// Parse renders that stand for the compiled SQL, by unique id.
    kept: RwLock<HashMap<String, reuse::Kept>>,
}

fn jerr(msg: impl Into<String>) -> JError {
    JError::new(ErrorKind::InvalidOperation, msg.into())
}

/// Macro definitions are renamed so that calls from inside a macro file also go through
/// the global wrapper (which implements `return()` and project overrides).
fn hide_macro_definitions(source: &str, names: &[String]) -> String {
    let mut out = source.to_string();
    for name in names {
        for lead in ["{% macro ", "{%- macro ", "{%macro "] {
            out = out.replace(&format!("{lead}{name}("), &format!("{lead}__m_{name}("));
        }
    }
    out
}

impl Compiler {
    pub fn new(project: &Project, dialect: &Dialect, flags: Flags) -> Result<Self> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_keep_trailing_newline(true);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        minijinja_contrib::add_to_environment(&mut env);
        env.add_function(mutable::WRAPPER, mutable::wrap);
        env.add_function("namespace", mutable::namespace);
        env.set_formatter(mutable::formatter);

        let vars = Arc::new(project.vars.clone());
        env.add_global("var", globals::var_fn(vars));
        env.add_function("env_var", globals::env_var);
        env.add_function("log", globals::log_fn);
        env.add_function("return", globals::return_fn);
        // A fresh UUID per call (unique storage locations; Strata's, not dbt's).
        env.add_function("new_uuid", || uuid::Uuid::new_v4().to_string());
        env.add_function("fromjson", globals::fromjson);
        env.add_function("tojson", globals::tojson);
        env.add_function("fromyaml", globals::fromyaml);
        env.add_function("toyaml", globals::toyaml);
        env.add_function("local_md5", globals::local_md5);
        env.add_function("zip", globals::zip);
        env.add_function("set", globals::set);
        env.add_function("print", globals::print_fn);
        env.add_function("before_begin", globals::hook_in(false));
        env.add_function("after_commit", globals::hook_in(false));
        env.add_function("in_transaction", globals::hook_in(true));
        env.add_global("exceptions", Value::from_object(globals::Exceptions));
        let now = chrono::Utc::now();
        env.add_global(
            "run_started_at",
            Value::from_object(globals::Timestamp(now)),
        );
        env.add_global(
            "invocation_id",
            Value::from(uuid::Uuid::new_v4().to_string()),
        );
        env.add_global("project_name", Value::from(project.name()));
        // The subject ids the rights engine accepts (rights_valid_subject_id).
        let rights = crate::rights::RightsConfig::from_project(
            project.file.rights.as_ref(),
            &project.file_path,
        )?;
        env.add_global(
            "rights_subject_id_pattern",
            Value::from(rights.subject_id_pattern),
        );
        let mut target = project.target.settings.clone();
        for secret in ["password", "aws_secret_access_key", "token"] {
            target.remove(secret);
        }
        target.insert("name".into(), project.target.name.clone().into());
        target.insert("type".into(), project.target.adapter_type.clone().into());
        target.insert("schema".into(), project.target.schema.clone().into());
        target.insert("database".into(), project.target.database.clone().into());
        target.insert("threads".into(), project.target.threads.unwrap_or(1).into());
        target.insert("profile_name".into(), project.file.profile.clone().into());
        env.add_global("target", Value::from_serialize(&target));
        env.add_global(
            "flags",
            Value::from_serialize(serde_json::json!({
                "FULL_REFRESH": flags.full_refresh,
                "WHICH": flags.which,
                "EMPTY": flags.empty,
            })),
        );
        let docs = Arc::new(project.docs.clone());
        env.add_global(
            "doc",
            Value::from_function(move |name: String| -> std::result::Result<Value, JError> {
                docs.get(&name)
                    .map(|d| Value::from(d.clone()))
                    .ok_or_else(|| jerr(format!("doc('{name}'): no {{% docs {name} %}} block")))
            }),
        );

        // Built-in macros first, then the project's: a project macro replaces a built-in.
        let mut macro_values: HashMap<String, Value> = HashMap::new();
        let mut files: Vec<(String, String, Vec<String>)> = dialect
            .builtin_macros
            .iter()
            .map(|(name, src)| {
                let src = project::rewrite_test_blocks(src);
                let names = project::macro_names(&src);
                (
                    format!("<builtin>/{}/{name}", dialect.adapter_type),
                    src,
                    names,
                )
            })
            .collect();
        let mut project_macros = HashSet::new();
        let mut defined_in: HashMap<&str, &Path> = HashMap::new();
        for f in &project.macro_files {
            // dbt refuses two macros of one name in a project (which one a call reaches
            // would depend on the order files are read).
            for name in &f.macro_names {
                if let Some(first) = defined_in.insert(name, &f.path) {
                    return Err(Error::config(
                        &f.path,
                        format!(
                            "macro '{name}' is defined here and in {}: keep one",
                            first.display()
                        ),
                    ));
                }
            }
            project_macros.extend(f.macro_names.iter().cloned());
            files.push((
                f.template_name.clone(),
                f.source.clone(),
                f.macro_names.clone(),
            ));
        }
        // One template per macro: calling a macro evaluates only its own definition, not
        // the whole file. Padding keeps template line numbers equal to the file's.
        for (file_name, source, _names) in files {
            for (name, block, line) in project::macro_blocks(&source) {
                let template_name = format!("{file_name}#{name}");
                let padded = format!(
                    "{}{}",
                    "\n".repeat(line - 1),
                    mutable::wrap_literals(&hide_macro_definitions(
                        &block,
                        std::slice::from_ref(&name)
                    ))
                );
                env.add_template_owned(template_name.clone(), padded)
                    .map_err(|e| Error::template(&file_name, &e))?;
                let mentions_execute = reuse::mentions_execute(&block);
                let v = macro_function(template_name, name.clone(), mentions_execute);
                env.add_global(name.clone(), v.clone());
                macro_values.insert(name, v);
            }
        }
        let namespace = Value::from_object(globals::MacroNamespace(Arc::new(macro_values)));
        env.add_global("dbt", namespace.clone());
        env.add_global(
            "adapter",
            Value::from_object(AdapterObject {
                adapter_type: dialect.adapter_type.clone(),
                quoting: dialect.quoting.clone(),
            }),
        );

        let shared = Arc::new(Shared {
            adapter_type: dialect.adapter_type.clone(),
            quoting: dialect.quoting.clone(),
            target: project.target.clone(),
            relations: RwLock::new(Arc::new(HashMap::new())),
            sources: HashMap::new(),
            empty: flags.empty,
        });
        let mut compiler = Compiler {
            env,
            shared,
            project_macros,
            kept: RwLock::new(HashMap::new()),
        };
        compiler.set_sources(project);
        Ok(compiler)
    }

    fn set_sources(&mut self, project: &Project) {
        let q = self.shared.quoting.clone();
        let mut sources = HashMap::new();
        for s in project.sources.values() {
            // dbt-duckdb's convention: a source with `external_location` reads from it.
            let rel = match (
                s.config.str("external_location"),
                self.shared.adapter_type.as_str(),
            ) {
                (Some(loc), "duckdb") => Relation::raw(&s.identifier, loc, "external"),
                _ => Relation::new(
                    q.as_ref(),
                    s.database.as_deref(),
                    &s.schema,
                    &s.identifier,
                    "table",
                ),
            };
            sources.insert((s.source_name.clone(), s.name.clone()), rel);
        }
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.sources = sources;
        }
    }

    /// Whether the project itself defines macro `name` or its adapter-specific variant
    /// (`<type>__name`), overriding the built-in.
    pub fn project_overrides(&self, name: &str) -> bool {
        self.project_macros.contains(name)
            || self
                .project_macros
                .contains(&format!("{}__{name}", self.shared.adapter_type))
    }

    /// Whether compiling `node` needs nothing from the warehouse: its parse render stands and
    /// it inlines no ephemeral model (whose render might).
    pub fn needs_no_warehouse(&self, node: &Node) -> bool {
        let relations = self.relations_snapshot();
        self.with_kept(node, |k| {
            k.ephemerals(|name| relations.get(name).and_then(as_relation))
                .is_some_and(|e| e.is_empty())
        })
        .unwrap_or(false)
    }

    /// `f` over the kept parse render of `node`, if there is one for its current code.
    fn with_kept<T>(&self, node: &Node, f: impl FnOnce(&reuse::Kept) -> T) -> Option<T> {
        let kept = self.kept.read().ok()?;
        kept.get(&node.unique_id)
            .filter(|k| k.checksum == node.checksum)
            .map(f)
    }

    fn relations_snapshot(&self) -> Arc<Relations> {
        self.shared
            .relations
            .read()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// How many nodes' parse renders stand for their compiled SQL.
    pub fn kept(&self) -> usize {
        self.kept.read().map(|k| k.len()).unwrap_or(0)
    }

    pub fn has_macro(&self, name: &str) -> bool {
        self.env.globals().any(|(k, _)| k == name)
    }

    /// Render a YAML text (profiles, source properties) with `var`/`env_var`.
    pub fn render_text(
        env_vars_only: &Path,
        text: &str,
        vars: &Map<String, serde_json::Value>,
    ) -> Result<String> {
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        env.add_global("var", globals::var_fn(Arc::new(vars.clone())));
        env.add_function("env_var", globals::env_var);
        env.render_str(text, ())
            .map_err(|e| Error::template(env_vars_only, &e))
    }

    /// Render every node in parse mode: record refs, sources and in-file config, then resolve
    /// the graph's edges and each relation's name. Errors name the file and line.
    pub fn parse(&self, project: &mut Project) -> Result<()> {
        project::materialize_pending_tests(project)?;
        // Render every node on all cores; each render only reads the project.
        type Parsed = (
            String,
            Config,
            Vec<RefCall>,
            Vec<(String, String)>,
            Option<reuse::Kept>,
        );
        // Each relation's name as the config known before parsing gives it. ref() and `this`
        // answer with these, so a render that ends up with the same relations is the compiled
        // one (checked below, after in-file config has had its say).
        // STRATA_RENDER_TWICE=1 renders every node again at compile time (to compare).
        let keep_renders = std::env::var_os("STRATA_RENDER_TWICE").is_none()
            && self.assign_relations(project).is_ok();
        let speculative = self.relations_snapshot();
        let nodes: Vec<&Node> = project
            .nodes
            .values()
            .filter(|n| n.resource_type != ResourceType::Seed)
            .collect();
        let parsed: Vec<Result<Parsed>> = crate::parallel::map(&nodes, |node| {
            let ctx = self.render_ctx(node, false, None, CompileOptions::default());
            reuse::begin();
            let rendered = self.render_node_code(node, &ctx);
            let mut seen =
                reuse::end().filter(|_| keep_renders && !reuse::mentions_execute(&node.raw_code));
            let sql = match rendered {
                Ok(sql) => sql,
                // As dbt's parser: a call to something undefined does not stop the project;
                // the node fails when it is compiled (only if it is selected).
                Err(e) if defers_to_compile(&e) => {
                    seen = None;
                    String::new()
                }
                Err(e) => return Err(Error::template(&node.original_file_path, &e)),
            };
            let config = ctx.config.lock().map(|c| c.clone()).unwrap_or_default();
            let refs = ctx.refs.lock().map(|r| r.clone()).unwrap_or_default();
            let sources = ctx
                .source_refs
                .lock()
                .map(|s| s.clone())
                .unwrap_or_default();
            let kept = seen.map(|seen| reuse::Kept {
                checksum: node.checksum.clone(),
                sql,
                refs: refs.iter().map(|r| r.name.clone()).collect(),
                seen,
            });
            Ok((node.unique_id.clone(), config, refs, sources, kept))
        });
        let mut kept = HashMap::new();
        for p in parsed {
            let (id, config, refs, sources, k) = p?;
            if let Some(node) = project.nodes.get_mut(&id) {
                node.config = config;
                node.refs = refs;
                node.source_refs = sources;
            }
            if let Some(k) = k {
                kept.insert(id, k);
            }
        }
        // Disabled nodes leave the project, and generic tests declared on them go with them
        // (as in dbt); anything else that refers to one is told it is disabled.
        let mut disabled: HashMap<String, String> = project
            .nodes
            .values()
            .filter(|n| !n.config.enabled())
            .map(|n| (n.unique_id.clone(), n.name.clone()))
            .collect();
        disabled.extend(
            project
                .sources
                .values()
                .filter(|s| !s.config.enabled())
                .map(|s| (s.unique_id.clone(), format!("{}.{}", s.source_name, s.name))),
        );
        project.sources.retain(|_, s| s.config.enabled());
        project.nodes.retain(|_, n| {
            let on_disabled = n
                .test_metadata
                .as_ref()
                .and_then(|t| t.attached_node.as_ref())
                .is_some_and(|a| disabled.contains_key(a));
            n.config.enabled() && !on_disabled
        });
        // A test that refers to a model, seed or source that is disabled or missing is left
        // out with a warning, as in dbt (a relationships test `to:` a disabled model).
        let names: Vec<String> = project
            .nodes
            .values()
            .filter(|n| n.is_relational_kind())
            .map(|n| n.name.clone())
            .collect();
        let dangling: Vec<(String, String)> = project
            .nodes
            .values()
            .filter(|n| n.resource_type == ResourceType::Test)
            .filter_map(|n| {
                let missing = n
                    .refs
                    .iter()
                    .find(|r| project.find_ref(&r.name, r.package.as_deref()).is_none())
                    .map(|r| r.name.clone())
                    .or_else(|| {
                        n.source_refs
                            .iter()
                            .find(|(s, t)| project.find_source(s, t).is_none())
                            .map(|(s, t)| format!("{s}.{t}"))
                    })?;
                let closest = names
                    .iter()
                    .map(|k| (strsim::jaro_winkler(k, &missing), k))
                    .filter(|(score, _)| *score > 0.8)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, k)| format!("; did you mean '{k}'?"))
                    .unwrap_or_default();
                Some((
                    n.unique_id.clone(),
                    format!(
                        "{}: test '{}' refers to '{missing}', which is disabled or not in this \
                         project (the test is left out{closest})",
                        n.original_file_path.display(),
                        n.name
                    ),
                ))
            })
            .collect();
        for (id, warning) in dangling {
            project.nodes.remove(&id);
            project.warnings.push(warning);
        }
        self.render_descriptions(project)?;
        let disabled_names: HashSet<String> = disabled.into_values().collect();
        self.resolve_dependencies(project, &disabled_names)?;
        self.assign_relations(project)?;
        // A kept render stands only if every relation it saw (its refs, its own `this`) is
        // the one compile would give it.
        let parsed = self.relations_snapshot();
        let changes = reuse::Changes::between(&speculative, &parsed);
        kept.retain(|id, k| {
            project
                .nodes
                .get(id)
                .is_some_and(|node| changes.leave_standing(k, &node.name))
        });
        if let Ok(mut k) = self.kept.write() {
            *k = kept;
        }
        Ok(())
    }

    /// Descriptions may use `{{ doc('name') }}` (and other Jinja), as in dbt.
    fn render_descriptions(&self, project: &mut Project) -> Result<()> {
        let render = |path: &Path, text: &mut String| -> Result<()> {
            if text.contains("{{") || text.contains("{%") {
                *text = self
                    .env
                    .render_str(text, ())
                    .map_err(|e| Error::template(path, &e))?;
            }
            Ok(())
        };
        for node in project.nodes.values_mut() {
            let path = node
                .patch_path
                .clone()
                .unwrap_or_else(|| node.original_file_path.clone());
            render(&path, &mut node.description)?;
            for c in &mut node.columns {
                render(&path, &mut c.description)?;
            }
        }
        for source in project.sources.values_mut() {
            let path = source.original_file_path.clone();
            render(&path, &mut source.description)?;
            render(&path, &mut source.source_description)?;
            for c in &mut source.columns {
                render(&path, &mut c.description)?;
            }
        }
        Ok(())
    }

    fn resolve_dependencies(
        &self,
        project: &mut Project,
        disabled: &HashSet<String>,
    ) -> Result<()> {
        let names: Vec<String> = project
            .nodes
            .values()
            .filter(|n| n.is_relational_kind())
            .map(|n| n.name.clone())
            .collect();
        let mut updates = Vec::new();
        let mut dropped = Vec::new();
        for node in project.nodes.values() {
            let mut deps = Vec::new();
            // A unit test depends on its model (the graph runs it before the model).
            if let Some(spec) = project.unit_tests.get(&node.unique_id) {
                match project.find_ref(&spec.model, None) {
                    Some(model) => deps.push(model.unique_id.clone()),
                    None if disabled.contains(&spec.model) => {
                        dropped.push((node.unique_id.clone(), spec.model.clone()));
                    }
                    None => {
                        return Err(Error::config(
                            &node.original_file_path,
                            format!(
                                "unit test '{}' is for model '{}', which is not a model in this \
                                 project",
                                node.name, spec.model
                            ),
                        ))
                    }
                }
            }
            for r in &node.refs {
                match project.find_ref(&r.name, r.package.as_deref()) {
                    Some(target) => deps.push(target.unique_id.clone()),
                    None if disabled.contains(&r.name) => {
                        let mut e = unknown_ref(node, "ref", &r.name, &r.name, &[]);
                        if let Error::Reference { message, .. } = &mut e {
                            *message = format!(
                                "{} '{}' refers to '{}', which is disabled",
                                node.resource_type.as_str(),
                                node.name,
                                r.name
                            );
                        }
                        return Err(e);
                    }
                    None => return Err(unknown_ref(node, "ref", &r.name, &r.name, &names)),
                }
            }
            for (s, t) in &node.source_refs {
                match project.find_source(s, t) {
                    Some(src) => deps.push(src.unique_id.clone()),
                    None => {
                        let known: Vec<String> = project
                            .sources
                            .values()
                            .map(|x| format!("{}.{}", x.source_name, x.name))
                            .collect();
                        return Err(unknown_ref(node, "source", &format!("{s}.{t}"), t, &known));
                    }
                }
            }
            deps.dedup();
            updates.push((node.unique_id.clone(), deps));
        }
        for (id, deps) in updates {
            if let Some(n) = project.nodes.get_mut(&id) {
                n.depends_on = deps;
            }
        }
        for (id, model) in dropped {
            project.nodes.remove(&id);
            project.unit_tests.remove(&id);
            project.warnings.push(format!(
                "unit test '{}' is for model '{model}', which is disabled: the test is left out",
                id.rsplit('.').next().unwrap_or(&id)
            ));
        }
        self.resolve_exposures(project, disabled)
    }

    /// What each exposure depends on, as unique ids. One that depends on a disabled model
    /// leaves with a warning (as a test would); an unknown name is an error.
    fn resolve_exposures(&self, project: &mut Project, disabled: &HashSet<String>) -> Result<()> {
        let mut resolved = Vec::new();
        let mut dropped = Vec::new();
        for e in project.exposures.values() {
            let mut deps = Vec::new();
            let mut missing = None;
            for r in &e.refs {
                match project.find_ref(&r.name, r.package.as_deref()) {
                    Some(n) => deps.push(n.unique_id.clone()),
                    None if disabled.contains(&r.name) => missing = Some(r.name.clone()),
                    None => {
                        return Err(Error::config(
                            &e.original_file_path,
                            format!(
                            "exposure '{}' depends on '{}', which is not a model, seed or snapshot",
                            e.name, r.name
                        ),
                        ))
                    }
                }
            }
            for (s, t) in &e.source_refs {
                match project.find_source(s, t) {
                    Some(src) => deps.push(src.unique_id.clone()),
                    None => {
                        return Err(Error::config(
                            &e.original_file_path,
                            format!(
                                "exposure '{}' depends on source('{s}', '{t}'), which is not \
                                 declared",
                                e.name
                            ),
                        ))
                    }
                }
            }
            match missing {
                Some(name) => dropped.push((e.unique_id.clone(), e.name.clone(), name)),
                None => resolved.push((e.unique_id.clone(), deps)),
            }
        }
        for (id, deps) in resolved {
            if let Some(e) = project.exposures.get_mut(&id) {
                e.depends_on = deps;
            }
        }
        for (id, exposure, model) in dropped {
            project.exposures.remove(&id);
            project.warnings.push(format!(
                "exposure '{exposure}' depends on '{model}', which is disabled: the exposure is left out"
            ));
        }
        Ok(())
    }

    fn assign_relations(&self, project: &Project) -> Result<()> {
        let q = self.shared.quoting.clone();
        let target = &self.shared.target;
        let custom_schema_macro = self.project_macros.contains("generate_schema_name");
        let custom_alias_macro = self.project_macros.contains("generate_alias_name");
        let mut map = HashMap::new();
        for node in project.nodes.values() {
            if !node.is_relational_kind() {
                continue;
            }
            if node.is_ephemeral() {
                let cte = format!("__dbt__cte__{}", node.name);
                map.insert(node.name.clone(), Relation::raw(&cte, &cte, "cte"));
                continue;
            }
            let custom = node.config.str("schema");
            // A snapshot's legacy target_schema is the schema itself (dbt before 1.9).
            let legacy_target = (node.resource_type == ResourceType::Snapshot)
                .then(|| node.config.str("target_schema"))
                .flatten();
            let schema = if let Some(schema) = legacy_target {
                schema.to_string()
            } else if custom_schema_macro {
                self.call_macro_text(
                    "generate_schema_name",
                    node,
                    &[("custom_schema_name", Value::from(custom))],
                )?
                .trim()
                .to_string()
            } else {
                match custom {
                    Some(c) => format!("{}_{}", target.schema, c.trim()),
                    None => target.schema.clone(),
                }
            };
            let alias = if custom_alias_macro {
                self.call_macro_text(
                    "generate_alias_name",
                    node,
                    &[("custom_alias_name", Value::from(node.config.str("alias")))],
                )?
                .trim()
                .to_string()
            } else {
                node.alias().to_string()
            };
            let database = node
                .config
                .str("database")
                .or_else(|| {
                    (node.resource_type == ResourceType::Snapshot)
                        .then(|| node.config.str("target_database"))
                        .flatten()
                })
                .unwrap_or(&target.database);
            let kind = match node.config.materialized() {
                "view" => "view",
                _ => "table",
            };
            map.insert(
                node.name.clone(),
                Relation::new(q.as_ref(), Some(database), &schema, &alias, kind),
            );
        }
        let map: Relations = map
            .into_iter()
            .map(|(k, v)| (k, Value::from_object(v)))
            .collect();
        if let Ok(mut rel) = self.shared.relations.write() {
            *rel = Arc::new(map);
        }
        Ok(())
    }

    fn call_macro_text(&self, name: &str, node: &Node, args: &[(&str, Value)]) -> Result<String> {
        let ctx = self.render_ctx(node, false, None, CompileOptions::default());
        let node_value = model_value(node);
        let mut extra = vec![("node", node_value)];
        extra.extend(args.iter().map(|(k, v)| (*k, v.clone())));
        self.call_macro_with(&ctx, name, &extra, true)
            .map_err(|e| Error::template(&node.original_file_path, &e))
    }

    /// The schema a node with custom schema `custom` lands in: the project's
    /// generate_schema_name when it has one, else dbt's default (`<target>_<custom>`).
    pub fn schema_for(&self, node: &Node, custom: Option<&str>) -> Result<String> {
        if self.project_macros.contains("generate_schema_name") {
            return Ok(self
                .call_macro_text(
                    "generate_schema_name",
                    node,
                    &[("custom_schema_name", Value::from(custom))],
                )?
                .trim()
                .to_string());
        }
        let target = &self.shared.target;
        Ok(match custom {
            Some(c) => format!("{}_{}", target.schema, c.trim()),
            None => target.schema.clone(),
        })
    }

    /// `--defer`: refs to these models and seeds (by name) read the relations an earlier
    /// run built instead of this target's. Parse renders that saw one of them are compiled
    /// again.
    pub fn defer_to(&self, project: &Project, deferred: Vec<(String, Relation)>) {
        let before = self.relations_snapshot();
        let mut after: Relations = (*before).clone();
        for (name, rel) in deferred {
            after.insert(name, Value::from_object(rel));
        }
        let changes = reuse::Changes::between(&before, &after);
        if let Ok(mut kept) = self.kept.write() {
            kept.retain(|id, k| {
                project
                    .nodes
                    .get(id)
                    .is_some_and(|node| changes.leave_standing(k, &node.name))
            });
        }
        if let Ok(mut rel) = self.shared.relations.write() {
            *rel = Arc::new(after);
        }
    }

    /// A relation named as this target quotes names.
    pub fn relation(
        &self,
        database: Option<&str>,
        schema: &str,
        identifier: &str,
        kind: &str,
    ) -> Relation {
        Relation::new(
            self.shared.quoting.as_ref(),
            database,
            schema,
            identifier,
            kind,
        )
    }

    /// An `env_var()` that answers `overrides` first (a unit test's env_vars).
    pub fn env_var_function(overrides: &Map<String, serde_json::Value>) -> Value {
        let overrides = overrides.clone();
        Value::from_function(
            move |state: &State, args: Rest<Value>| -> std::result::Result<Value, JError> {
                if let Some(v) = args
                    .first()
                    .and_then(|n| n.as_str())
                    .and_then(|n| overrides.get(n))
                {
                    return Ok(match v {
                        serde_json::Value::String(s) => Value::from(s.clone()),
                        other => Value::from(other.to_string()),
                    });
                }
                let f = Value::from_function(globals::env_var);
                f.call(state, &args)
            },
        )
    }

    /// A `var()` over the project's vars with `overrides` on top (a unit test's vars).
    pub fn var_function(
        &self,
        project: &Project,
        overrides: &Map<String, serde_json::Value>,
    ) -> Value {
        let mut vars = project.vars.clone();
        vars.extend(overrides.clone());
        globals::var_fn(Arc::new(vars))
    }

    /// The relation a model or seed materializes.
    pub fn relation_of(&self, node_name: &str) -> Option<Relation> {
        self.relations_snapshot()
            .get(node_name)
            .and_then(as_relation)
            .cloned()
    }

    pub fn source_relation(&self, source: &str, table: &str) -> Option<Relation> {
        self.shared
            .sources
            .get(&(source.to_string(), table.to_string()))
            .cloned()
    }

    fn render_ctx(
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
                .get(&node.name)
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
            shared: self.shared.clone(),
        })
    }

    fn context_values(ctx: &Arc<RenderCtx>, node_value: Value) -> BTreeMap<&'static str, Value> {
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
        // Procedures read `rights`; outside a rights run it describes an empty batch.
        let mut rights = BTreeMap::new();
        rights.insert("batch", Value::from("strata_rights_batch"));
        rights.insert("declared", Value::from(Vec::<Value>::new()));
        rights.insert("right_types", Value::from(Vec::<Value>::new()));
        rights.insert("access_path", Value::from(""));
        m.insert("rights", Value::from(rights));
        for (k, v) in &ctx.extra {
            m.insert(k, v.clone());
        }
        m
    }

    fn render_node_code(
        &self,
        node: &Node,
        ctx: &Arc<RenderCtx>,
    ) -> std::result::Result<String, JError> {
        let values = Self::context_values(ctx, model_value(node));
        let name = node.original_file_path.to_string_lossy();
        with_warehouse(ctx.warehouse.clone(), || {
            let code = mutable::wrap_literals(&node.raw_code);
            self.env.render_named_str(&name, &code, values)
        })
    }

    fn call_macro_with(
        &self,
        ctx: &Arc<RenderCtx>,
        name: &str,
        args: &[(&str, Value)],
        pass_node: bool,
    ) -> std::result::Result<String, JError> {
        let model = args
            .iter()
            .find(|(k, _)| *k == "node")
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::from(()));
        let model_arg = model.clone();
        let mut values: BTreeMap<String, Value> = Self::context_values(ctx, model)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let mut call = Vec::new();
        for (k, v) in args.iter().filter(|(k, _)| *k != "node") {
            let var = format!("__arg_{k}");
            // dbt calls generate_schema_name / generate_alias_name by position (their first
            // parameter may have any name); other macros by keyword.
            if pass_node {
                call.push(var.clone());
            } else {
                call.push(format!("{k}={var}"));
            }
            values.insert(var, v.clone());
        }
        // dbt passes the node to `generate_schema_name(custom_schema_name, node)` and its
        // kin; a project macro declared without `node` is called without it (see
        // macro_function).
        if pass_node {
            values.insert("__arg_node".into(), model_arg);
            call.push("node=__arg_node".into());
        }
        let source = format!("{{{{ {name}({}) }}}}", call.join(", "));
        with_warehouse(ctx.warehouse.clone(), || {
            self.env
                .render_named_str(&format!("<call {name}>"), &source, values)
        })
    }

    /// Compile a node for execution: refs become relations, ephemeral parents become CTEs.
    pub fn compile(&self, project: &Project, node: &Node, opts: CompileOptions) -> Result<String> {
        let (sql, ephemerals) = self.render_for_compile(node, &opts)?;
        if ephemerals.is_empty() {
            return Ok(sql);
        }
        let mut ctes: Vec<(String, String)> = Vec::new();
        let mut seen = HashSet::new();
        for name in ephemerals {
            self.collect_ephemeral(project, &name, &opts, &mut ctes, &mut seen)?;
        }
        Ok(inject_ctes(&sql, &ctes))
    }

    /// A node's SQL for execution (without its ephemeral CTEs) and the ephemeral models it
    /// refers to: the kept parse render, or a compile render.
    fn render_for_compile(
        &self,
        node: &Node,
        opts: &CompileOptions,
    ) -> Result<(String, Vec<String>)> {
        if opts.extra.is_empty() && opts.fixtures.is_none() {
            let relations = self.relations_snapshot();
            let kept = self.with_kept(node, |k| {
                k.resolve(|name| relations.get(name).and_then(as_relation))
            });
            if let Some(Some(resolved)) = kept {
                return Ok(resolved);
            }
        }
        let ctx = self.render_ctx(node, true, None, opts.clone());
        let sql = self
            .render_node_code(node, &ctx)
            .map_err(|e| Error::template(&node.original_file_path, &e))?;
        let ephemerals = ctx.ephemerals.lock().map(|e| e.clone()).unwrap_or_default();
        Ok((sql, ephemerals))
    }

    fn collect_ephemeral(
        &self,
        project: &Project,
        name: &str,
        opts: &CompileOptions,
        ctes: &mut Vec<(String, String)>,
        seen: &mut HashSet<String>,
    ) -> Result<()> {
        if !seen.insert(name.to_string()) {
            return Ok(());
        }
        let Some(node) = project.find_ref(name, None) else {
            return Ok(());
        };
        let (sql, inner_ephemerals) = self.render_for_compile(node, opts)?;
        // Parents first, so each CTE only refers to CTEs defined before it.
        for inner in inner_ephemerals {
            self.collect_ephemeral(project, &inner, opts, ctes, seen)?;
        }
        ctes.push((format!("__dbt__cte__{name}"), sql));
        Ok(())
    }

    /// Render a built-in or project macro for a node (materialization SQL templates).
    pub fn call_macro(
        &self,
        node: &Node,
        name: &str,
        args: &[(&str, Value)],
        opts: CompileOptions,
    ) -> Result<String> {
        let ctx = self.render_ctx(node, true, None, opts);
        let mut all = vec![("node", model_value(node))];
        all.extend(args.iter().map(|(k, v)| (*k, v.clone())));
        self.call_macro_with(&ctx, name, &all, false).map_err(|e| {
            Error::template(
                format!("macro {name} (for {})", node.original_file_path.display()),
                &e,
            )
        })
    }

    /// Render text (a model's pre/post hooks) in a node's context.
    pub fn render_for_node(&self, node: &Node, name: &str, text: &str) -> Result<String> {
        let ctx = self.render_ctx(node, true, None, CompileOptions::default());
        let values = Self::context_values(&ctx, model_value(node));
        self.env
            .render_named_str(name, &mutable::wrap_literals(text), values)
            .map_err(|e| Error::template(name, &e))
    }

    /// Render SQL text that may `ref()` ephemeral models (`show --inline`): they are inlined
    /// as CTEs, as in a model.
    pub fn compile_text(
        &self,
        project: &Project,
        name: &str,
        text: &str,
        warehouse: Option<Arc<dyn Warehouse>>,
    ) -> Result<String> {
        let node = Node {
            raw_code: text.to_string(),
            original_file_path: name.into(),
            ..project::Node::synthetic(project.name(), name)
        };
        self.compile(
            project,
            &node,
            CompileOptions {
                warehouse,
                ..Default::default()
            },
        )
    }

    /// Render free text (hooks, `run-operation`) with the full execution context.
    pub fn render_free(
        &self,
        name: &str,
        text: &str,
        warehouse: Option<Arc<dyn Warehouse>>,
    ) -> Result<String> {
        self.render_free_with(name, text, warehouse, Vec::new())
    }

    /// [`render_free`](Self::render_free) with more names in the context (a project hook's
    /// `results`, `schemas`, `database_schemas`).
    pub fn render_free_with(
        &self,
        name: &str,
        text: &str,
        warehouse: Option<Arc<dyn Warehouse>>,
        extra: Vec<(&'static str, Value)>,
    ) -> Result<String> {
        let ctx = Arc::new(RenderCtx {
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
            shared: self.shared.clone(),
        });
        let mut values = Self::context_values(&ctx, Value::from(()));
        values.extend(extra);
        with_warehouse(ctx.warehouse.clone(), || {
            self.env
                .render_named_str(name, &mutable::wrap_literals(text), values)
        })
        .map_err(|e| Error::template(name, &e))
    }

    /// A node as templates see it (`model`, a hook result's `node`).
    pub fn node_value(node: &Node) -> Value {
        model_value(node)
    }
}

/// A value for `model` / `node`: the node's main attributes.
fn model_value(node: &Node) -> Value {
    // Serialised straight from borrowed fields (no intermediate JSON tree), keys in the
    // order the json! literal used to give them.
    #[derive(serde::Serialize)]
    struct ModelView<'a> {
        name: &'a str,
        unique_id: &'a str,
        resource_type: &'a str,
        package_name: &'a str,
        original_file_path: &'a Path,
        path: &'a Path,
        fqn: &'a [String],
        config: &'a Map<String, serde_json::Value>,
        tags: Vec<String>,
        description: &'a str,
        alias: &'a str,
    }
    Value::from_serialize(ModelView {
        name: &node.name,
        unique_id: &node.unique_id,
        resource_type: node.resource_type.as_str(),
        package_name: &node.package_name,
        original_file_path: &node.original_file_path,
        path: &node.path,
        fqn: &node.fqn,
        config: &node.config.0,
        tags: node.config.tags(),
        description: &node.description,
        alias: node.alias(),
    })
}

fn inject_ctes(sql: &str, ctes: &[(String, String)]) -> String {
    let defs: Vec<String> = ctes
        .iter()
        .map(|(name, body)| format!("{name} as (\n{}\n)", body.trim().trim_end_matches(';')))
        .collect();
    let defs = defs.join(",\n");
    // Join an existing leading WITH (after any comments), else start one.
    let skip = crate::sql::leading_trivia_len(sql);
    let (lead, trimmed) = sql.split_at(skip);
    let starts_with_with = trimmed.len() > 4
        && trimmed[..4].eq_ignore_ascii_case("with")
        && trimmed[4..].starts_with(|c: char| c.is_whitespace());
    if starts_with_with {
        let rest = &trimmed[4..];
        let after = rest.trim_start();
        let recursive = after.len() > 9 && after[..9].eq_ignore_ascii_case("recursive");
        if !recursive {
            return format!("{lead}with {defs},{rest}");
        }
    }
    format!("{lead}with {defs}\n{trimmed}")
}

/// `what` is "ref" or "source"; `needle` is the quoted name to locate in the file.
fn unknown_ref(node: &Node, what: &str, name: &str, needle: &str, known: &[String]) -> Error {
    let closest = known
        .iter()
        .map(|k| (strsim::jaro_winkler(k, name), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean '{k}'?)"))
        .unwrap_or_default();
    let (line, column) = node
        .raw_code
        .find(&format!("'{needle}'"))
        .or_else(|| node.raw_code.find(&format!("\"{needle}\"")))
        .map(|i| line_col(&node.raw_code, i))
        .unwrap_or((1, 1));
    Error::Reference {
        location: Location {
            path: node.original_file_path.clone(),
            line,
            column,
        },
        message: format!(
            "{} '{}' refers to {}'{name}', which is not {} in this project{closest}",
            node.resource_type.as_str(),
            node.name,
            if what == "source" { "source " } else { "" },
            if what == "source" {
                "a declared source table"
            } else {
                "a model, seed or snapshot"
            },
        ),
    }
}

/// Errors a parse render leaves to the node's compile: calling a function, macro or method
/// that does not exist, or using an undefined value. Syntax errors and raised compiler
/// errors stop the project at parse, as in dbt.
fn defers_to_compile(e: &JError) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(j) = err.downcast_ref::<JError>() {
            if matches!(
                j.kind(),
                ErrorKind::UnknownFunction | ErrorKind::UnknownMethod | ErrorKind::UndefinedError
            ) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

fn macro_function(template: String, name: String, mentions_execute: bool) -> Value {
    Value::from_function(
        move |state: &State, args: Rest<Value>| -> std::result::Result<Value, JError> {
            if mentions_execute {
                reuse::block();
            }
            let tmpl = state.env().get_template(&template)?;
            let mut ctx: BTreeMap<&str, Value> = BTreeMap::new();
            for n in CONTEXT_NAMES {
                if let Some(v) = state.lookup(n) {
                    ctx.insert(n, v);
                }
            }
            // Evaluating a macro file only defines its macros; its output is empty.
            let captured = tmpl.render_captured(ctx)?;
            let mstate = captured.state();
            let hidden = format!("__m_{name}");
            let m = mstate
                .lookup(&hidden)
                .ok_or_else(|| jerr(format!("macro '{name}' not found in {template}")))?;
            // Only a macro that uses `caller` gets the body (others refuse the keyword, as in
            // Jinja), so a body nobody asks for is not rendered.
            let uses_caller = m.get_attr("caller").is_ok_and(|v| v.is_true());
            let with_body = globals::split_args(&args)?
                .1
                .is_some_and(|k| k.has("caller"));
            let args = if uses_caller {
                with_caller_body(state, &args)?
            } else {
                args.to_vec()
            };
            let args = without_undeclared_node(&m, args)?;
            match m.call(mstate, &args) {
                Ok(v) => Ok(v),
                Err(e) => match globals::take_return(&e) {
                    Some(v) => Ok(v),
                    // minijinja's words for calling the missing `caller`; say what to do.
                    None if uses_caller
                        && !with_body
                        && e.detail() == Some("value of type undefined is not callable") =>
                    {
                        Err(jerr(format!(
                            "macro '{name}' calls caller(): use it as \
                             {{% call {name}(...) %}}...{{% endcall %}}"
                        ))
                        .with_source(e))
                    }
                    None => Err(e),
                },
            }
        },
    )
}

/// The runner calls `generate_schema_name` and `generate_alias_name` with `node=` as dbt
/// does; a project's macro declared without that parameter gets the call without it.
fn without_undeclared_node(m: &Value, args: Vec<Value>) -> std::result::Result<Vec<Value>, JError> {
    let params: Vec<String> = m
        .get_attr("arguments")
        .ok()
        .and_then(|a| a.try_iter().ok())
        .map(|it| it.filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let declared = params.iter().any(|p| p == "node");
    let (pos, kwargs) = globals::split_args(&args)?;
    match kwargs {
        Some(k) if !declared && k.has("node") => {
            let rest: Vec<(String, Value)> = k
                .args()
                .filter(|name| *name != "node")
                .map(|name| Ok((name.to_string(), k.peek::<Value>(name)?)))
                .collect::<std::result::Result<_, JError>>()?;
            let mut out = pos;
            // dbt passes the node by position: a macro whose parameter after the given ones
            // has another name (`generate_schema_name(schema_override, nd)`) gets it there.
            if params.len() > out.len() {
                out.push(k.peek::<Value>("node")?);
            }
            if !rest.is_empty() {
                out.push(Value::from(minijinja::value::Kwargs::from_iter(rest)));
            }
            Ok(out)
        }
        _ => Ok(args),
    }
}

/// `{% call my_macro() %}body{% endcall %}`: the body (`caller`) belongs to the calling
/// template's state, and each macro runs in a state of its own, where minijinja cannot call
/// it. So the body is rendered here, in the caller's state, before the macro runs, and
/// `caller()` returns that text. Unlike dbt, the body is rendered once and first, even if the
/// macro calls `caller()` twice, late, or only on one branch: what the body does (a
/// `run_query`, a `ref`) happens once, before the macro's own statements. `caller(args)` is
/// refused.
fn with_caller_body(state: &State, args: &[Value]) -> std::result::Result<Vec<Value>, JError> {
    let (positional, Some(kwargs)) = globals::split_args(args)? else {
        return Ok(args.to_vec());
    };
    let Ok(caller) = kwargs.peek::<Value>("caller") else {
        return Ok(args.to_vec());
    };
    let body = caller.call(state, &[])?;
    let mut pairs: Vec<(String, Value)> = Vec::new();
    for key in kwargs.args() {
        if key == "caller" {
            let body = body.clone();
            let f = move |rest: Rest<Value>| -> std::result::Result<Value, JError> {
                if rest.is_empty() {
                    Ok(body.clone())
                } else {
                    Err(jerr("caller() takes no arguments in Strata"))
                }
            };
            pairs.push((key.to_string(), Value::from_function(f)));
        } else {
            pairs.push((key.to_string(), kwargs.peek::<Value>(key)?));
        }
    }
    let mut out = positional;
    out.push(Value::from(Kwargs::from_iter(pairs)));
    Ok(out)
}

fn ref_fn(ctx: Arc<RenderCtx>) -> Value {
    Value::from_function(
        move |args: Rest<Value>| -> std::result::Result<Value, JError> {
            let (pos, _kwargs) = globals::split_args(&args)?;
            let strs: Vec<String> = pos
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let (package, name) = match strs.as_slice() {
                [name] => (None, name.clone()),
                [package, name] => (Some(package.clone()), name.clone()),
                _ => {
                    return Err(jerr(
                        "ref() takes a model name, or a package and a model name",
                    ))
                }
            };
            if !ctx.execute {
                if let Ok(mut refs) = ctx.refs.lock() {
                    refs.push(RefCall {
                        package,
                        name: name.clone(),
                    });
                }
            }
            if let Some(f) = ctx.fixtures.as_ref().and_then(|f| f.refs.get(&name)) {
                return Ok(Value::from_object(f.clone()));
            }
            // While parsing, the relation as known before parsing ([`Compiler::parse`] checks
            // it later); an unknown name is reported after parsing, with its file and line.
            let Some(rel) = ctx.relations.get(&name).cloned() else {
                if ctx.execute {
                    return Err(jerr(format!("ref('{name}'): no such model or seed")));
                }
                reuse::block();
                let q = &ctx.shared.quoting;
                let placeholder = Relation::new(q.as_ref(), None, "__ref__", &name, "table");
                return Ok(Value::from_object(placeholder));
            };
            if as_relation(&rel).is_some_and(|r| r.kind == "cte") {
                if let Ok(mut e) = ctx.ephemerals.lock() {
                    if !e.contains(&name) {
                        e.push(name);
                    }
                }
            }
            Ok(limited(&ctx.shared, rel))
        },
    )
}

/// With `--empty`, what `ref()`/`source()` give reads no rows (dbt's render_limited); its
/// name parts stay for macros that look the relation up.
fn limited(shared: &Shared, rel: Value) -> Value {
    match as_relation(&rel) {
        Some(r) if shared.empty => Value::from_object(r.selecting_nothing()),
        _ => rel,
    }
}

fn source_fn(ctx: Arc<RenderCtx>) -> Value {
    Value::from_function(
        move |source: String, table: String| -> std::result::Result<Value, JError> {
            if !ctx.execute {
                if let Ok(mut s) = ctx.source_refs.lock() {
                    s.push((source.clone(), table.clone()));
                }
            }
            let key = (source.clone(), table.clone());
            if let Some(f) = ctx.fixtures.as_ref().and_then(|f| f.sources.get(&key)) {
                return Ok(Value::from_object(f.clone()));
            }
            // Sources are known before parsing, so parsing sees the final relation; an unknown
            // one is reported after parsing, with its file and line.
            if let Some(rel) = ctx.shared.sources.get(&(source.clone(), table.clone())) {
                return Ok(limited(&ctx.shared, Value::from_object(rel.clone())));
            }
            if ctx.execute {
                return Err(jerr(format!(
                    "source('{source}', '{table}'): no such source table"
                )));
            }
            reuse::block();
            let q = &ctx.shared.quoting;
            Ok(Value::from_object(Relation::new(
                q.as_ref(),
                None,
                &source,
                &table,
                "table",
            )))
        },
    )
}

fn run_query_fn(ctx: Arc<RenderCtx>) -> Value {
    Value::from_function(move |sql: String| -> std::result::Result<Value, JError> {
        reuse::block();
        if !ctx.execute {
            return Ok(Value::from(()));
        }
        let wh = ctx
            .warehouse
            .as_ref()
            .ok_or_else(|| jerr("run_query: no warehouse connection in this command"))?;
        wh.run_query(&sql).map(Table::into_value).map_err(jerr)
    })
}

/// `{% call statement('name', fetch_result=True) %}select ...{% endcall %}`.
fn statement_fn(ctx: Arc<RenderCtx>) -> Value {
    Value::from_function(
        move |state: &State, args: Rest<Value>| -> std::result::Result<Value, JError> {
            reuse::block();
            let (pos, kwargs) = globals::split_args(&args)?;
            let name = pos.first().and_then(|v| v.as_str().map(str::to_string));
            let kwargs =
                kwargs.unwrap_or_else(|| Kwargs::from_iter(std::iter::empty::<(&str, Value)>()));
            let fetch: bool = kwargs.get::<Option<bool>>("fetch_result")?.unwrap_or(false);
            let caller: Value = kwargs.get("caller")?;
            let _ = kwargs.get::<Option<Value>>("auto_begin");
            let sql = caller.call(state, &[])?.to_string();
            if !ctx.execute {
                return Ok(Value::from(""));
            }
            let wh = ctx
                .warehouse
                .as_ref()
                .ok_or_else(|| jerr("statement: no warehouse connection in this command"))?;
            let table = wh.run_query(&sql).map_err(jerr)?;
            if let Some(name) = name {
                let data: Vec<Value> = table
                    .rows
                    .iter()
                    .map(|r| Value::from(r.iter().map(Value::from_serialize).collect::<Vec<_>>()))
                    .collect();
                let mut result = BTreeMap::new();
                result.insert("data", Value::from(if fetch { data } else { Vec::new() }));
                result.insert("table", table.into_value());
                result.insert("response", Value::from("OK"));
                if let Ok(mut r) = ctx.results.lock() {
                    r.insert(name, Value::from(result));
                }
            }
            Ok(Value::from(""))
        },
    )
}

fn load_result_fn(ctx: Arc<RenderCtx>) -> Value {
    Value::from_function(move |name: String| -> Value {
        reuse::block();
        ctx.results
            .lock()
            .ok()
            .and_then(|r| r.get(&name).cloned())
            .unwrap_or(Value::from(()))
    })
}

/// `config(...)` records in-file config at parse time; `config.get(k, default)` reads it.
#[derive(Debug)]
struct ConfigObject(Arc<RenderCtx>);

impl std::fmt::Debug for RenderCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderCtx")
            .field("node", &self.node_name)
            .finish()
    }
}

impl Object for ConfigObject {
    fn call(
        self: &Arc<Self>,
        _state: &State,
        args: &[Value],
    ) -> std::result::Result<Value, JError> {
        let (pos, kwargs) = globals::split_args(args)?;
        let mut overlay = Map::new();
        if let Some(first) = pos.first() {
            if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(first) {
                overlay.extend(m);
            }
        }
        if let Some(kw) = kwargs {
            for key in kw.args() {
                let v: Value = kw.get(key)?;
                let json = serde_json::to_value(&v).map_err(|e| jerr(e.to_string()))?;
                overlay.insert(key.to_string(), json);
            }
        }
        if !self.0.execute {
            reuse::config_written();
            if let Ok(mut c) = self.0.config.lock() {
                c.merge(&overlay);
            }
        }
        Ok(Value::from(""))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State,
        method: &str,
        args: &[Value],
    ) -> std::result::Result<Value, JError> {
        match method {
            "get" | "require" => reuse::config_read(),
            _ => reuse::block(),
        }
        let config = self.0.config.lock().map(|c| c.clone()).unwrap_or_default();
        match method {
            "get" => {
                let (key, default): (String, Option<Value>) = from_args(args)?;
                let key = project::config::normalise_key(&key);
                // dbt's config always holds a materialization (the default is a view).
                if key == "materialized" {
                    return Ok(Value::from(config.materialized()));
                }
                Ok(config
                    .get(&key)
                    .map(Value::from_serialize)
                    .or(default)
                    .unwrap_or(Value::from(())))
            }
            "require" => {
                let (key,): (String,) = from_args(args)?;
                config
                    .get(&project::config::normalise_key(&key))
                    .map(Value::from_serialize)
                    .ok_or_else(|| {
                        jerr(format!(
                            "config '{key}' is required for '{}'",
                            self.0.node_name
                        ))
                    })
            }
            "set" => {
                let (key, value): (String, Value) = from_args(args)?;
                let json = serde_json::to_value(&value).map_err(|e| jerr(e.to_string()))?;
                if let Ok(mut c) = self.0.config.lock() {
                    c.set(&key, json);
                }
                Ok(Value::from(""))
            }
            _ => Err(JError::new(
                ErrorKind::UnknownMethod,
                format!("config has no method '{method}'"),
            )),
        }
    }
}

/// `adapter`: `dispatch`, `quote`, `get_relation`, `get_columns_in_relation`, `type`.
#[derive(Debug)]
struct AdapterObject {
    adapter_type: String,
    quoting: Arc<dyn Quoting>,
}

impl std::fmt::Debug for dyn Quoting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Quoting")
    }
}

impl Object for AdapterObject {
    fn call_method(
        self: &Arc<Self>,
        state: &State,
        method: &str,
        args: &[Value],
    ) -> std::result::Result<Value, JError> {
        match method {
            "dispatch" => {
                let (pos, _kw) = globals::split_args(args)?;
                let name = pos
                    .first()
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| jerr("adapter.dispatch needs a macro name"))?;
                for prefix in [self.adapter_type.as_str(), "default"] {
                    if let Some(m) = state.lookup(&format!("{prefix}__{name}")) {
                        if !m.is_undefined() {
                            return Ok(m);
                        }
                    }
                }
                Err(jerr(format!(
                    "adapter.dispatch('{name}'): no macro {}__{name} or default__{name}",
                    self.adapter_type
                )))
            }
            "quote" => {
                let (ident,): (String,) = from_args(args)?;
                Ok(Value::from(self.quoting.quote(&ident)))
            }
            "type" => Ok(Value::from(self.adapter_type.clone())),
            "get_relation" | "get_columns_in_relation" => {
                reuse::block();
                let rel = relation_arg(method, args, self.quoting.as_ref())?;
                let ctx = warehouse_of(state)?;
                let Some(ctx) = ctx else {
                    return Ok(if method == "get_relation" {
                        Value::from(())
                    } else {
                        Value::from(Vec::<Value>::new())
                    });
                };
                if method == "get_relation" {
                    let kind = ctx.get_relation_kind(&rel).map_err(jerr)?;
                    Ok(match kind {
                        Some(k) => Value::from_object(Relation { kind: k, ..rel }),
                        None => Value::from(()),
                    })
                } else {
                    let cols = ctx.get_columns(&rel).map_err(jerr)?;
                    Ok(Value::from(
                        cols.into_iter()
                            .map(|(name, dtype)| {
                                let mut m = BTreeMap::new();
                                m.insert("name", Value::from(name.clone()));
                                m.insert("column", Value::from(name));
                                m.insert("data_type", Value::from(dtype.clone()));
                                m.insert("dtype", Value::from(dtype));
                                Value::from(m)
                            })
                            .collect::<Vec<_>>(),
                    ))
                }
            }
            _ => Err(JError::new(
                ErrorKind::UnknownMethod,
                format!("adapter has no method '{method}'"),
            )),
        }
    }
}

/// `model` while parsing: compile time sees the node's final config, so reading it means the
/// parse render is not kept. Type tests (`is mapping`) see what compile time sees.
#[derive(Debug)]
struct BlocksReuse(Value);

impl Object for BlocksReuse {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        use minijinja::value::{ObjectRepr, ValueKind};
        match self.0.kind() {
            ValueKind::Map => ObjectRepr::Map,
            ValueKind::Seq => ObjectRepr::Seq,
            _ => ObjectRepr::Plain,
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        reuse::block();
        match self.0.try_iter() {
            Ok(items) => minijinja::value::Enumerator::Values(items.collect()),
            Err(_) => minijinja::value::Enumerator::NonEnumerable,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        reuse::block();
        self.0.get_item(key).ok().filter(|v| !v.is_undefined())
    }

    fn call_method(
        self: &Arc<Self>,
        state: &State,
        method: &str,
        args: &[Value],
    ) -> std::result::Result<Value, JError> {
        reuse::block();
        self.0.call_method(state, method, args)
    }

    fn is_true(self: &Arc<Self>) -> bool {
        reuse::block();
        self.0.is_true()
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        reuse::block();
        write!(f, "{}", self.0)
    }
}

fn relation_arg(
    method: &str,
    args: &[Value],
    q: &dyn Quoting,
) -> std::result::Result<Relation, JError> {
    let (pos, kw) = globals::split_args(args)?;
    if method == "get_columns_in_relation" {
        let v = pos
            .first()
            .ok_or_else(|| jerr("get_columns_in_relation needs a relation"))?;
        let get = |k: &str| {
            v.get_attr(k)
                .ok()
                .and_then(|x| x.as_str().map(str::to_string))
        };
        let schema = get("schema").unwrap_or_default();
        let identifier = get("identifier").unwrap_or_default();
        return Ok(Relation::new(
            q,
            get("database").as_deref(),
            &schema,
            &identifier,
            "table",
        ));
    }
    let mut vals: Vec<Option<String>> =
        pos.iter().map(|v| v.as_str().map(str::to_string)).collect();
    if let Some(kw) = kw {
        for (i, k) in ["database", "schema", "identifier"].iter().enumerate() {
            if let Ok(Some(v)) = kw.get::<Option<String>>(k) {
                if vals.len() <= i {
                    vals.resize(i + 1, None);
                }
                vals[i] = Some(v);
            }
        }
    }
    let db = vals.first().cloned().flatten();
    let schema = vals.get(1).cloned().flatten().unwrap_or_default();
    let ident = vals.get(2).cloned().flatten().unwrap_or_default();
    Ok(Relation::new(q, db.as_deref(), &schema, &ident, "table"))
}

/// The warehouse of the render `state` belongs to, reached through its `run_query` closure's
/// context. Kept simple: the thread-local set by the executor while it compiles.
fn warehouse_of(_state: &State) -> std::result::Result<Option<Arc<dyn Warehouse>>, JError> {
    Ok(CURRENT_WAREHOUSE.with(|w| w.borrow().clone()))
}

thread_local! {
    static CURRENT_WAREHOUSE: std::cell::RefCell<Option<Arc<dyn Warehouse>>> = const { std::cell::RefCell::new(None) };
}

/// Make `adapter.get_relation`/`get_columns_in_relation` reach `warehouse` on this thread.
fn with_warehouse<T>(warehouse: Option<Arc<dyn Warehouse>>, f: impl FnOnce() -> T) -> T {
    let prev = CURRENT_WAREHOUSE.with(|w| std::mem::replace(&mut *w.borrow_mut(), warehouse));
    let out = f();
    CURRENT_WAREHOUSE.with(|w| *w.borrow_mut() = prev);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctes_join_an_existing_with() {
        let ctes = vec![("__dbt__cte__a".to_string(), "select 1 as x".to_string())];
        assert_eq!(
            inject_ctes("with b as (select 2) select * from b", &ctes),
            "with __dbt__cte__a as (\nselect 1 as x\n), b as (select 2) select * from b"
        );
        assert_eq!(
            inject_ctes("-- note\nwith b as (select 2) select 1", &ctes),
            "-- note\nwith __dbt__cte__a as (\nselect 1 as x\n), b as (select 2) select 1"
        );
        assert_eq!(
            inject_ctes("select * from __dbt__cte__a", &ctes),
            "with __dbt__cte__a as (\nselect 1 as x\n)\nselect * from __dbt__cte__a"
        );
    }

    #[test]
    fn macro_definitions_are_hidden_behind_wrappers() {
        let src =
            "{% macro a(x) %}{{ b(x) }}{% endmacro %}{%- macro b(y) -%}{{ y }}{%- endmacro %}";
        let out = hide_macro_definitions(src, &["a".into(), "b".into()]);
        assert!(out.contains("{% macro __m_a(x) %}{{ b(x) }}"));
        assert!(out.contains("{%- macro __m_b(y)"));
    }
}
