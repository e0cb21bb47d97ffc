//! The minijinja environment every render shares: its settings and the globals registered
//! once per run (`var`, `env_var`, `target`, `flags`, `doc`, the macros, `adapter` ...).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use minijinja::value::{Rest, Value};
use minijinja::{Environment, Error as JError, State, UndefinedBehavior};
use serde_json::Map;

use super::api::Api;
use super::context::{AdapterObject, PackageScope, CONTEXT_NAMES};
use super::registry::MacroRegistry;
use super::{globals, jerr, macros, mutable, Compiler, Dialect, Flags, Shared};
use crate::error::{Error, Result};
use crate::project::{Project, RightsConfig};

impl Compiler {
    pub fn new(project: &Project, dialect: &Dialect, flags: Flags) -> Result<Self> {
        let mut env = base_environment();
        add_functions(&mut env, project);
        add_run_globals(&mut env, project, &flags)?;
        add_doc(&mut env, project);
        // Built-in macros first, then the project's: a project macro replaces a built-in.
        let registered = macros::add_macros(&mut env, project, dialect)?;
        let registry = Arc::new(registered.registry);
        add_namespaces(&mut env, &registry);
        let package_scopes = package_scopes(project, &registry);
        let api = Arc::new(Api {
            quoting: dialect.quoting.clone(),
            strings: dialect.string_columns,
        });
        env.add_global("api", Value::from_dyn_object(api.clone()));
        env.add_function("load_relation", super::context::load_relation);
        let graph = Arc::new(super::graph_value::GraphGlobal::default());
        env.add_global("graph", Value::from_dyn_object(graph.clone()));
        env.add_global(
            "adapter",
            Value::from_object(AdapterObject {
                adapter_type: dialect.adapter_type.clone(),
                quoting: dialect.quoting.clone(),
                macros: registry,
                api,
            }),
        );

        let shared = Arc::new(Shared {
            adapter_type: dialect.adapter_type.clone(),
            quoting: dialect.quoting.clone(),
            target: project.target.clone(),
            relations: RwLock::new(Arc::new(HashMap::new())),
            sources: HashMap::new(),
            empty: flags.empty,
            event_times: RwLock::new(HashMap::new()),
            event_time_filter: dialect.event_time_filter,
        });
        let mut compiler = Compiler {
            env,
            shared,
            project_macros: registered.root_names,
            graph,
            package_scopes,
            kept: RwLock::new(HashMap::new()),
        };
        compiler.set_sources(project, dialect.reads_external_locations);
        Ok(compiler)
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
}

/// The macro namespaces: `dbt` (the built-ins) and one per project by its name
/// (`dbt_utils.star(...)`, `my_project.helper()`), unless that name is taken by a global.
fn add_namespaces(env: &mut Environment<'static>, registry: &MacroRegistry) {
    let builtins = globals::MacroNamespace(registry.builtins.clone());
    env.add_global("dbt", Value::from_object(builtins));
    for (name, macros) in &registry.projects {
        let taken = env.globals().any(|(k, _)| k == name.as_str());
        if !taken && !CONTEXT_NAMES.contains(&name.as_str()) {
            let namespace = globals::MacroNamespace(macros.clone());
            env.add_global(name.clone(), Value::from_object(namespace));
        }
    }
}

/// Each package's scope for its own nodes: its macros by bare name, and its vars.
fn package_scopes(project: &Project, registry: &MacroRegistry) -> HashMap<String, Value> {
    project
        .packages
        .iter()
        .map(|p| {
            let macros = registry.projects.get(&p.name).cloned().unwrap_or_default();
            let scope = PackageScope {
                macros: Value::from_object(globals::MacroNamespace(macros)),
                var: globals::var_fn(Arc::new(p.vars.clone())),
            };
            (p.name.clone(), Value::from_object(scope))
        })
        .collect()
}

/// Jinja as dbt speaks it: lenient undefined values, no escaping, Python's methods, and
/// list and dict literals that templates may change in place (`mutable`).
fn base_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_unknown_method_callback(|state, value, method, args| {
        if value.is_undefined() {
            // `nope.x()`: a macro namespace (package) or object that does not exist.
            return Err(JError::new(
                minijinja::ErrorKind::UnknownMethod,
                format!(
                    "'{method}' is called on something undefined: no package, macro namespace \
                     or object of that name (check for typos, or install the project's \
                     packages with `strata deps`)"
                ),
            ));
        }
        minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
    });
    minijinja_contrib::add_to_environment(&mut env);
    env.add_function(mutable::WRAPPER, mutable::wrap);
    env.add_function("namespace", mutable::namespace);
    env.set_formatter(mutable::formatter);
    env
}

/// dbt's global functions (`var`, `env_var`, `log`, `return`, `fromjson` ...) and
/// `exceptions`.
fn add_functions(env: &mut Environment<'static>, project: &Project) {
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
    env.add_global("modules", Value::from_object(super::modules::Modules));
}

/// What this run is: `run_started_at`, `invocation_id`, `project_name`, the rights subject
/// id pattern, `target` and `flags`.
fn add_run_globals(env: &mut Environment<'static>, project: &Project, flags: &Flags) -> Result<()> {
    let now = flags.run_started_at.unwrap_or_else(chrono::Utc::now);
    env.add_global(
        "run_started_at",
        Value::from_object(globals::Timestamp(now)),
    );
    let invocation_id = if flags.invocation_id.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        flags.invocation_id.clone()
    };
    env.add_global("invocation_id", Value::from(invocation_id));
    env.add_global("project_name", Value::from(project.name()));
    // The subject ids the rights engine accepts (rights_valid_subject_id).
    let pattern = match &project.rights {
        Some(rights) => rights.subject_id_pattern.clone(),
        None => RightsConfig::default().subject_id_pattern,
    };
    env.add_global("rights_subject_id_pattern", Value::from(pattern));
    env.add_global("target", target_value(project));
    env.add_global(
        "flags",
        Value::from_serialize(serde_json::json!({
            "FULL_REFRESH": flags.full_refresh,
            "WHICH": flags.which,
            "EMPTY": flags.empty,
        })),
    );
    Ok(())
}

/// `target`: the profile's target settings without its secrets.
fn target_value(project: &Project) -> Value {
    let mut target = project.target.settings.clone();
    for secret in [
        "password",
        "aws_secret_access_key",
        "aws_session_token",
        "token",
    ] {
        target.remove(secret);
    }
    target.insert("name".into(), project.target.name.clone().into());
    target.insert("type".into(), project.target.adapter_type.clone().into());
    target.insert("schema".into(), project.target.schema.clone().into());
    target.insert("database".into(), project.target.database.clone().into());
    target.insert("threads".into(), project.target.threads.unwrap_or(1).into());
    target.insert("profile_name".into(), project.file.profile.clone().into());
    Value::from_serialize(&target)
}

/// `doc('name')`: the text of a `{% docs name %}` block.
fn add_doc(env: &mut Environment<'static>, project: &Project) {
    let docs = Arc::new(project.docs.clone());
    env.add_global(
        "doc",
        Value::from_function(move |name: String| -> std::result::Result<Value, JError> {
            docs.get(&name)
                .map(|d| Value::from(d.clone()))
                .ok_or_else(|| jerr(format!("doc('{name}'): no {{% docs {name} %}} block")))
        }),
    );
}
