//! `run-operation`: render and execute one macro call.

use std::sync::Arc;

use crate::compile::Warehouse;
use crate::error::{Error, Result};
use crate::session::{Bridge, Session};
use crate::sql;

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
    let bridge: Arc<dyn Warehouse> = Arc::new(Bridge::new(
        session.adapter.clone(),
        tokio::runtime::Handle::current(),
    ));
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
