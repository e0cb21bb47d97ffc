//! `show`: one node compiled as `run` would, or inline SQL, previewed.

use std::sync::Arc;

use super::prepare::{prepare, prime_cache, refused_sql, without_ids};
use minijinja::value::Value;

use crate::compile::{CompileOptions, Table, Warehouse};
use crate::error::{Error, Location, Result};
use crate::project::Node;
use crate::session::{Bridge, Session};

/// Compile one node as `run` would, for `show`.
pub async fn compile_one(session: &Session, id: &str) -> Result<String> {
    let cache = prime_cache(session, &[id.to_string()], false).await?;
    let (_, mut prepared, errors) = prepare(session, &[id.to_string()], cache, false, true).await?;
    if let Some(e) = session.printer.first_error(without_ids(errors)) {
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
    let bridge: Arc<dyn Warehouse> = Arc::new(Bridge::new(
        session.adapter.clone(),
        tokio::runtime::Handle::current(),
    ));
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
    let node = Node::synthetic(session.project.name(), "show");
    let wrapped = session.compiler.call_macro(
        &node,
        "get_limit_subquery_sql",
        &[("sql", Value::from(body)), ("limit", Value::from(limit))],
        CompileOptions::default(),
    )?;
    let r = session.adapter.execute(&wrapped, true).await?;
    Ok(r.table.unwrap_or_default())
}
