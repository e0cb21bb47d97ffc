//! `adapter`: `dispatch`, `quote`, `type`, and the warehouse look-ups `get_relation` and
//! `get_columns_in_relation` (through the warehouse of the render on this thread).

use std::sync::Arc;

use minijinja::value::{from_args, Object, Value};
use minijinja::{Error as JError, ErrorKind, State};

use super::refs::relation_arg;
use crate::compile::api::Api;
use crate::compile::registry::MacroRegistry;
use crate::compile::{globals, jerr, reuse, Quoting, Relation, Warehouse};

/// `adapter`: `dispatch`, `quote`, `get_relation`, `get_columns_in_relation`, `type`.
#[derive(Debug)]
pub(in crate::compile) struct AdapterObject {
    pub(in crate::compile) adapter_type: String,
    pub(in crate::compile) quoting: Arc<dyn Quoting>,
    pub(in crate::compile) macros: Arc<MacroRegistry>,
    pub(in crate::compile) api: Arc<Api>,
}

impl AdapterObject {
    /// `adapter.dispatch(name, macro_namespace=None)`, as dbt resolves it: the packages to
    /// search (the root project's `dispatch:` search order for the namespace, else the root
    /// project then the namespace; no namespace: the caller's own names), and in each
    /// `<adapter>__name`, then `default__name`.
    fn dispatch(&self, state: &State, args: &[Value]) -> std::result::Result<Value, JError> {
        let (pos, kwargs) = globals::split_args(args)?;
        let name = pos
            .first()
            .and_then(|v| v.as_str())
            .ok_or_else(|| jerr("adapter.dispatch needs a macro name"))?;
        let namespace: Option<String> = match (pos.get(1), &kwargs) {
            (Some(ns), _) => ns.as_str().map(str::to_string),
            (None, Some(k)) => k.get::<Option<String>>("macro_namespace")?,
            _ => None,
        };
        if let Some(k) = &kwargs {
            if k.has("packages") {
                return Err(jerr(
                    "adapter.dispatch: the `packages` argument is gone (as in dbt 1.x): give \
                     `macro_namespace` and set the search order in the `dispatch:` config",
                ));
            }
        }
        if let Some((ns, macro_name)) = name.split_once('.') {
            return Err(jerr(format!(
                "adapter.dispatch('{name}'): \".\" is not allowed in a macro name; did you \
                 mean adapter.dispatch('{macro_name}', macro_namespace='{ns}')?"
            )));
        }
        let registry = &self.macros;
        let search: Vec<Option<String>> = match &namespace {
            None => vec![None],
            Some(ns) => match registry.search_orders.get(ns) {
                Some(order) => order.iter().cloned().map(Some).collect(),
                None if ns == "dbt" || registry.projects.contains_key(ns) => {
                    vec![Some(registry.root.clone()), Some(ns.clone())]
                }
                None => vec![None],
            },
        };
        let mut searched = Vec::new();
        for package in &search {
            for prefix in [self.adapter_type.as_str(), "default"] {
                let full = format!("{prefix}__{name}");
                let found = match package.as_deref() {
                    None => state.lookup(&full).filter(|m| !m.is_undefined()),
                    Some("dbt") => registry.builtins.get(&full).cloned(),
                    Some(p) => registry.projects.get(p).and_then(|m| m.get(&full)).cloned(),
                };
                if let Some(m) = found {
                    return Ok(m);
                }
                searched.push(match package {
                    Some(p) => format!("'{p}.{full}'"),
                    None => format!("'{full}'"),
                });
            }
        }
        Err(jerr(format!(
            "In dispatch: No macro named '{name}' found within namespace: '{}'\n    \
             Searched for: {}",
            namespace.as_deref().unwrap_or("None"),
            searched.join(", ")
        )))
    }
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
            "dispatch" => self.dispatch(state, args),
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
                            .map(|(name, dtype)| self.api.column(name, dtype))
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

/// dbt's `load_relation(relation)`: `adapter.get_relation` with the relation's parts (none
/// when it does not exist in the warehouse).
pub(in crate::compile) fn load_relation(
    state: &State,
    relation: Value,
) -> std::result::Result<Value, JError> {
    let adapter = state
        .lookup("adapter")
        .ok_or_else(|| jerr("load_relation: no adapter in this context"))?;
    let part = |k: &str| relation.get_attr(k).unwrap_or(Value::from(()));
    let kwargs = minijinja::value::Kwargs::from_iter([
        ("database", part("database")),
        ("schema", part("schema")),
        ("identifier", part("identifier")),
    ]);
    adapter.call_method(state, "get_relation", &[Value::from(kwargs)])
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
pub(in crate::compile) fn with_warehouse<T>(
    warehouse: Option<Arc<dyn Warehouse>>,
    f: impl FnOnce() -> T,
) -> T {
    let prev = CURRENT_WAREHOUSE.with(|w| std::mem::replace(&mut *w.borrow_mut(), warehouse));
    let out = f();
    CURRENT_WAREHOUSE.with(|w| *w.borrow_mut() = prev);
    out
}
