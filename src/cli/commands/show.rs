//! `show`: compile one model (or inline SQL), run it and print the first rows as a table.

use std::sync::Arc;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::execute;
use crate::project::{LoadOptions, ResourceType};
use crate::session::printer::Printer;
use crate::session::{Command, RunOptions, Session};

use super::flags_for;

pub(crate) async fn show(
    load: &LoadOptions,
    printer: Arc<Printer>,
    opts: RunOptions,
    inline: Option<String>,
    limit: usize,
) -> Result<i32> {
    let session = Session::open(load, flags_for("show"), printer.clone())?;
    let (label, sql_text) = match inline {
        Some(text) => (
            "inline query".to_string(),
            execute::render_inline(&session, &text).await?,
        ),
        None => {
            let ids = session.select(
                Command::Compile,
                &opts,
                Some(&[ResourceType::Model, ResourceType::Snapshot]),
            )?;
            let [id] = ids.as_slice() else {
                return Err(Error::Usage(format!(
                    "show: --select must name exactly one model or snapshot ({} matched); or use --inline",
                    ids.len()
                )));
            };
            let node = &session.project.nodes[id];
            (node.name.clone(), execute::compile_one(&session, id).await?)
        }
    };
    let table = execute::preview(&session, &sql_text, limit).await?;
    printer.info("show", &format!("Previewing {label}:"));
    print!("{}", format_table(&table));
    Ok(0)
}

/// Rows as an aligned text table.
pub fn format_table(table: &crate::compile::Table) -> String {
    let cell = |v: &Value| match v {
        Value::Null => "NULL".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = table
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect();
    let mut widths: Vec<usize> = table.columns.iter().map(|c| c.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |\n", parts.join(" | "))
    };
    let mut out = line(&table.columns);
    out.push_str(&format!(
        "|{}|\n",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    ));
    for r in &rows {
        out.push_str(&line(r));
    }
    out
}
