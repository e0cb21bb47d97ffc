//! Project hooks (`on-run-start`, `on-run-end`) and the context dbt gives them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::compile::{Compiler, Warehouse};
use crate::error::{Error, Result};
use crate::session::results::NodeResult;
use crate::session::{Bridge, Session};
use crate::sql;

/// What dbt gives project hooks: `schemas` and `database_schemas` the run writes to
/// (`pairs`: database, schema), and (on-run-end) `results`, one per node: status, message,
/// failures, execution_time, adapter_response and the node.
pub(super) fn hook_context(
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
                    "bytes_scanned": r.adapter.bytes_scanned,
                    "query_id": r.adapter.query_id,
                })),
            );
            // dbt's RunResult.timing: the compile and execute steps, ISO timestamps.
            m.insert(
                "timing",
                J::from_serialize(
                    r.timing
                        .iter()
                        .map(|t| {
                            serde_json::json!({"name": t.name, "started_at": t.started_at,
                                               "completed_at": t.completed_at})
                        })
                        .collect::<Vec<_>>(),
                ),
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

pub(super) async fn run_hooks(
    session: &Session,
    name: &str,
    hooks: &[String],
    context: Vec<(&'static str, minijinja::value::Value)>,
) -> Result<()> {
    for (i, hook) in hooks.iter().enumerate() {
        let compiler = session.compiler.clone();
        let bridge: Arc<dyn Warehouse> = Arc::new(Bridge::new(
            session.adapter.clone(),
            tokio::runtime::Handle::current(),
        ));
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

/// Run project hooks; a failure is printed and added to `errors` (the run goes on, as dbt's
/// does, and fails at the end).
pub(super) async fn run_project_hooks(
    session: &Session,
    name: &str,
    hooks: &[String],
    context: Vec<(&'static str, minijinja::value::Value)>,
    errors: &mut Vec<String>,
) {
    if let Err(e) = run_hooks(session, name, hooks, context).await {
        session.printer.error("hook_failed", &format!("error: {e}"));
        errors.push(e.to_string());
    }
}
