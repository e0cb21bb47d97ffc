//! Where each macro comes from (the built-ins, the root project, each package), for the
//! namespaces (`dbt_utils.star`, `dbt.hash`) and `adapter.dispatch`'s search.

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::value::Value;

/// Macro wrappers by where they come from, for namespaces (`dbt_utils.star`, `dbt.hash`)
/// and `adapter.dispatch`'s search.
#[derive(Debug, Default)]
pub(super) struct MacroRegistry {
    pub(super) root: String,
    /// The adapter's built-in macros: the `dbt` namespace.
    pub(super) builtins: Arc<HashMap<String, Value>>,
    /// Each project's macros (the root's and every package's), by project name.
    pub(super) projects: HashMap<String, Arc<HashMap<String, Value>>>,
    /// The root project's `dispatch:` search orders, by macro namespace.
    pub(super) search_orders: HashMap<String, Vec<String>>,
}
