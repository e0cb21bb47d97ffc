//! `lineage MODEL[.COLUMN]`: a model's column lineage on the command line (src/docs/lineage.rs),
//! from its compiled SQL and the warehouse's catalog.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;

use crate::docs::catalog::Catalog;
use crate::docs::lineage::{ColumnLineage, Origin};
use crate::error::{Error, Result};
use crate::execute;
use crate::project::{LoadOptions, ResourceType};
use crate::session::printer::Printer;
use crate::session::Session;

use super::flags_for;

pub(crate) async fn lineage(
    load: &LoadOptions,
    printer: Arc<Printer>,
    wanted: &str,
    output: &str,
) -> Result<i32> {
    let session = Session::open(load, flags_for("lineage"), printer)?;
    let (model, column) = match wanted.split_once('.') {
        Some((m, c)) => (m, Some(c)),
        None => (wanted, None),
    };
    let node = session
        .project
        .nodes
        .values()
        .find(|n| n.resource_type == ResourceType::Model && n.name == model)
        .ok_or_else(|| {
            Error::Usage(format!("lineage: the project has no model named '{model}'"))
        })?;
    if node.is_ephemeral() {
        let readers: Vec<&str> = session
            .project
            .nodes
            .values()
            .filter(|n| n.depends_on.contains(&node.unique_id) && !n.is_ephemeral())
            .filter(|n| n.resource_type == ResourceType::Model)
            .map(|n| n.name.as_str())
            .collect();
        return Err(Error::Usage(format!(
            "lineage: {model} is ephemeral: it is compiled into the models that read it \
             ({}), whose columns' lineage goes through it",
            if readers.is_empty() {
                "none".to_string()
            } else {
                readers.join(", ")
            }
        )));
    }
    let sql = execute::compile_one(&session, &node.unique_id).await?;
    let compiled = HashMap::from([(node.unique_id.clone(), sql)]);
    let catalog = Catalog::read(&session).await?;
    let lineage = ColumnLineage::compute(&session, &compiled, &catalog);
    let columns: Vec<(String, Vec<Origin>)> = lineage
        .columns(&node.unique_id)
        .into_iter()
        .filter(|(name, _)| column.is_none_or(|c| c.eq_ignore_ascii_case(name)))
        .collect();
    if let (Some(c), true) = (column, columns.is_empty()) {
        return Err(Error::Usage(format!(
            "lineage: {model} has no column '{c}' (its columns: {})",
            lineage
                .columns(&node.unique_id)
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for (name, origins) in &columns {
        if output == "json" {
            let from: Vec<_> = origins
                .iter()
                .map(|o| match o {
                    Origin::Column { node, column } => json!({"node": node, "column": column}),
                    Origin::Unknown(why) => json!({"unknown": why}),
                })
                .collect();
            println!(
                "{}",
                json!({"model": node.name, "column": name, "from": from})
            );
        } else {
            let from: Vec<String> = origins.iter().map(|o| lineage.shown(o)).collect();
            let from = match from.is_empty() {
                true => "no column (a constant or a row count)".to_string(),
                false => from.join(", "),
            };
            println!("{}.{name} <- {from}", node.name);
        }
    }
    session.leave();
    Ok(0)
}
