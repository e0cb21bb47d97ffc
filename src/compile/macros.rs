//! Macros as template globals: one template per macro behind a wrapper function (which
//! implements `return()`, `{% call %}` bodies, project overrides and dbt's `node=`), and the
//! calls the runner makes to macros.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{Environment, Error as JError, State};

use super::context::{model_value, scoped_context, with_warehouse, RenderCtx, CONTEXT_NAMES};
use super::registry::MacroRegistry;
use super::{globals, jerr, mutable, reuse, CompileOptions, Compiler, Dialect};
use crate::error::{Error, Result};
use crate::project::{self, jinja_blocks, Node, Project};

/// Every macro, registered once: the adapter's built-ins and the root project's as globals
/// (a root macro replaces a built-in of its name), each package's in its namespace only.
pub(super) struct RegisteredMacros {
    /// The names the root project defines.
    pub(super) root_names: HashSet<String>,
    pub(super) registry: MacroRegistry,
}

pub(super) fn add_macros(
    env: &mut Environment<'static>,
    project: &Project,
    dialect: &Dialect,
) -> Result<RegisteredMacros> {
    let mut builtins = HashMap::new();
    for (name, src) in &dialect.builtin_macros {
        let file_name = format!("<builtin>/{}/{name}", dialect.adapter_type);
        register_file(
            env,
            &file_name,
            &project::rewrite_test_blocks(src),
            &mut builtins,
        )?;
    }
    let root_names = project_macro_names(project)?;
    let mut projects: HashMap<String, HashMap<String, Value>> = HashMap::new();
    for f in &project.macro_files {
        let macros = projects.entry(f.package.clone()).or_default();
        register_file(env, &f.template_name, &f.source, macros)?;
    }
    // Built-ins first, then the root project's: a root macro replaces a built-in.
    let root_macros = projects.remove(project.name()).unwrap_or_default();
    for (name, v) in builtins.iter().chain(root_macros.iter()) {
        env.add_global(name.clone(), v.clone());
    }
    let mut projects: HashMap<String, Arc<HashMap<String, Value>>> = projects
        .into_iter()
        .map(|(name, macros)| (name, Arc::new(macros)))
        .collect();
    for p in &project.packages {
        projects.entry(p.name.clone()).or_default();
    }
    projects.insert(project.name().to_string(), Arc::new(root_macros));
    let search_orders = project
        .file
        .dispatch
        .iter()
        .map(|d| (d.macro_namespace.clone(), d.search_order.clone()))
        .collect();
    Ok(RegisteredMacros {
        root_names,
        registry: MacroRegistry {
            root: project.name().to_string(),
            builtins: Arc::new(builtins),
            projects,
            search_orders,
        },
    })
}

/// One template per macro of a file, each behind a wrapper function added to `macros`:
/// calling a macro evaluates only its own definition, not the whole file. Padding keeps
/// template line numbers equal to the file's.
fn register_file(
    env: &mut Environment<'static>,
    file_name: &str,
    source: &str,
    macros: &mut HashMap<String, Value>,
) -> Result<()> {
    for (name, block, line) in project::macro_blocks(source) {
        let template_name = format!("{file_name}#{name}");
        let catch_all = CatchAll::of(&block);
        let hidden = hide_macro_definitions(&block, std::slice::from_ref(&name));
        let padded = format!(
            "{}{}",
            "\n".repeat(line.saturating_sub(1)),
            mutable::wrap_literals(&catch_all.declare(&hidden))
        );
        env.add_template_owned(template_name.clone(), padded)
            .map_err(|e| Error::template(file_name, &e))?;
        let mentions_execute = reuse::mentions_execute(&block);
        let v = macro_function(template_name, name.clone(), mentions_execute, catch_all);
        macros.insert(name, v);
    }
    Ok(())
}

/// The macros the root project defines. dbt refuses two macros of one name in a project
/// (which one a call reaches would depend on the order files are read); packages are
/// checked each on its own.
fn project_macro_names(project: &Project) -> Result<HashSet<String>> {
    let mut defined_in: HashMap<(&str, &str), &Path> = HashMap::new();
    for f in &project.macro_files {
        for name in &f.macro_names {
            if let Some(first) = defined_in.insert((&f.package, name), &f.path) {
                return Err(Error::config(
                    &f.path,
                    format!(
                        "macro '{name}' is defined here and in {}: keep one",
                        first.display()
                    ),
                ));
            }
        }
    }
    Ok(project
        .macro_files
        .iter()
        .filter(|f| f.package == project.name())
        .flat_map(|f| f.macro_names.iter().cloned())
        .collect())
}

impl Compiler {
    /// Whether the project itself defines macro `name` or its adapter-specific variant
    /// (`<type>__name`), overriding the built-in.
    pub fn project_overrides(&self, name: &str) -> bool {
        self.project_macros.contains(name)
            || self
                .project_macros
                .contains(&format!("{}__{name}", self.shared.adapter_type))
    }

    pub fn has_macro(&self, name: &str) -> bool {
        self.env.globals().any(|(k, _)| k == name)
    }

    pub(super) fn call_macro_text(
        &self,
        name: &str,
        node: &Node,
        args: &[(&str, Value)],
    ) -> Result<String> {
        let ctx = self.render_ctx(node, false, None, CompileOptions::default());
        let node_value = model_value(node);
        let mut extra = vec![("node", node_value)];
        extra.extend(args.iter().map(|(k, v)| (*k, v.clone())));
        self.call_macro_with(&ctx, name, &extra, true)
            .map_err(|e| Error::template(&node.original_file_path, &e))
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
        let values = scoped_context(values.iter().map(|(k, v)| (k.as_str(), v.clone())));
        with_warehouse(ctx.warehouse.clone(), || {
            self.env
                .render_named_str(&format!("<call {name}>"), &source, values)
        })
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
}

/// Macro definitions are renamed so that calls from inside a macro file also go through
/// the global wrapper (which implements `return()` and project overrides). Only real
/// `{% macro %}` tags are renamed (any spacing or whitespace control), not text in raw blocks
/// or comments.
fn hide_macro_definitions(source: &str, names: &[String]) -> String {
    let mut out = String::with_capacity(source.len());
    let mut copied = 0;
    for tag in jinja_blocks::tags(source) {
        let defined = tag
            .args
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or_default();
        if tag.name != "macro" || !names.iter().any(|n| n == defined) {
            continue;
        }
        out.push_str(source.get(copied..tag.args_start).unwrap_or_default());
        out.push_str("__m_");
        copied = tag.args_start;
    }
    out.push_str(source.get(copied..).unwrap_or_default());
    out
}

/// Jinja2's catch-all arguments: a macro whose body mentions `kwargs` takes keyword
/// arguments it does not declare (as a dict), one that mentions `varargs` extra positional
/// ones (as a list). minijinja refuses both, so such a macro gets them declared as
/// parameters (last, defaulting to none) and its wrapper packs the extras into them.
#[derive(Debug, Clone, Copy, Default)]
struct CatchAll {
    kwargs: bool,
    varargs: bool,
}

impl CatchAll {
    fn of(block: &str) -> Self {
        let mut out = CatchAll::default();
        for code in jinja_blocks::tokens(block).filter_map(|t| t.code(block)) {
            let words = code.split(|c: char| !(c.is_alphanumeric() || c == '_'));
            for word in words {
                out.kwargs |= word == "kwargs";
                out.varargs |= word == "varargs";
            }
        }
        out
    }

    /// The (hidden) macro's header with the catch-all parameters added.
    fn declare(self, hidden: &str) -> String {
        if !self.kwargs && !self.varargs {
            return hidden.to_string();
        }
        let Some(tag) = jinja_blocks::tags(hidden).find(|t| t.name == "macro") else {
            return hidden.to_string();
        };
        // The parameter list ends at the tag's last `)`.
        let Some(close) = tag.args.rfind(')') else {
            return hidden.to_string();
        };
        let open = tag.args.find('(').unwrap_or(close);
        let params = tag.args.get(open + 1..close).unwrap_or_default();
        let declares = |word: &str| {
            params
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|w| w == word)
        };
        let mut extra: Vec<&str> = Vec::new();
        if self.varargs && !declares("varargs") {
            extra.push("varargs=none");
        }
        if self.kwargs && !declares("kwargs") {
            extra.push("kwargs=none");
        }
        if extra.is_empty() {
            return hidden.to_string();
        }
        let comma = if params.trim().is_empty() { "" } else { ", " };
        let at = tag.args_start + close;
        format!(
            "{}{comma}{}{}",
            hidden.get(..at).unwrap_or_default(),
            extra.join(", "),
            hidden.get(at..).unwrap_or_default()
        )
    }

    /// `args` with what the macro does not declare packed into `varargs` / `kwargs`.
    fn pack(self, m: &Value, args: Vec<Value>) -> std::result::Result<Vec<Value>, JError> {
        if !self.kwargs && !self.varargs {
            return Ok(args);
        }
        let declared: Vec<String> = m
            .get_attr("arguments")
            .ok()
            .and_then(|a| a.try_iter().ok())
            .map(|it| it.filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let own: Vec<&String> = declared
            .iter()
            .filter(|p| !matches!(p.as_str(), "kwargs" | "varargs"))
            .collect();
        let (mut positional, kwargs) = globals::split_args(&args)?;
        let extra_positional = if self.varargs && positional.len() > own.len() {
            positional.split_off(own.len())
        } else {
            Vec::new()
        };
        let mut named: Vec<(String, Value)> = Vec::new();
        let mut extra_named: BTreeMap<String, Value> = BTreeMap::new();
        if let Some(k) = &kwargs {
            for key in k.args() {
                let value = k.peek::<Value>(key)?;
                if self.kwargs && key != "caller" && !own.iter().any(|p| p.as_str() == key) {
                    extra_named.insert(key.to_string(), value);
                } else {
                    named.push((key.to_string(), value));
                }
            }
        }
        if self.varargs {
            named.push(("varargs".into(), Value::from(extra_positional)));
        }
        if self.kwargs {
            named.push(("kwargs".into(), Value::from(extra_named)));
        }
        positional.push(Value::from(Kwargs::from_iter(named)));
        Ok(positional)
    }
}

fn macro_function(
    template: String,
    name: String,
    mentions_execute: bool,
    catch_all: CatchAll,
) -> Value {
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
            let captured = tmpl.render_captured(scoped_context(ctx))?;
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
            let args = catch_all.pack(&m, args)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_definitions_are_hidden_behind_wrappers() {
        let src =
            "{% macro a(x) %}{{ b(x) }}{% endmacro %}{%- macro b(y) -%}{{ y }}{%- endmacro %}";
        let out = hide_macro_definitions(src, &["a".into(), "b".into()]);
        assert!(out.contains("{% macro __m_a(x) %}{{ b(x) }}"));
        assert!(out.contains("{%- macro __m_b(y)"));
        assert_eq!(
            hide_macro_definitions("{%macro a() %}", &["a".into()]),
            "{%macro __m_a() %}"
        );
    }

    #[test]
    fn macros_that_mention_kwargs_or_varargs_declare_them() {
        let declared = |src: &str| CatchAll::of(src).declare(src);
        assert_eq!(
            declared("{% macro t(model, cols=[]) %}{{ kwargs.get('x') }}{% endmacro %}"),
            "{% macro t(model, cols=[], kwargs=none) %}{{ kwargs.get('x') }}{% endmacro %}"
        );
        assert_eq!(
            declared("{%- macro f() -%}{{ varargs | join(',') }}{%- endmacro %}"),
            "{%- macro f(varargs=none) -%}{{ varargs | join(',') }}{%- endmacro %}"
        );
        // A macro that declares one itself keeps its own.
        let own = "{% macro k(a, kwargs={}) %}{{ kwargs }}{% endmacro %}";
        assert_eq!(declared(own), own);
        // Only Jinja code counts: the word in SQL text or a comment does not.
        let plain = "{% macro p(a) %}select kwargs from t {# varargs #}{% endmacro %}";
        assert_eq!(declared(plain), plain);
    }

    #[test]
    fn any_spelling_of_a_macro_tag_is_hidden_but_not_raw_text_or_comments() {
        let names = ["x".to_string()];
        assert_eq!(
            hide_macro_definitions("{%+ macro x() %}{% endmacro %}", &names),
            "{%+ macro __m_x() %}{% endmacro %}"
        );
        assert_eq!(
            hide_macro_definitions("{%  macro x() %}{% endmacro %}", &names),
            "{%  macro __m_x() %}{% endmacro %}"
        );
        let raw = "{% raw %}{% macro x() %}{% endraw %}{# {% macro x() %} #}";
        assert_eq!(hide_macro_definitions(raw, &names), raw);
        // Another macro whose name starts the same is not renamed.
        let other = "{% macro xy() %}{% endmacro %}";
        assert_eq!(hide_macro_definitions(other, &names), other);
    }
}
