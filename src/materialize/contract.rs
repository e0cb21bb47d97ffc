//! Enforced model contracts: the query's columns against the YAML's, before anything is built.

use minijinja::value::Value;
use serde_json::Value as Json;

use super::Materializer;
use crate::adapters::ColumnInfo;
use crate::error::{Error, Result};
use crate::project::{Materialization, Node};

impl Materializer<'_> {
    /// An enforced contract (`contract: {enforced: true}`): the query's columns must be the
    /// YAML's, by name and type, before anything is built. Types are compared as the engine
    /// names them: the contract's are read from `select cast(null as <type>) ...`, so
    /// `int` and `integer` agree (dbt's method).
    pub(super) async fn check_contract(&self, node: &Node, compiled_sql: &str) -> Result<()> {
        let enforced = node
            .config
            .get("contract")
            .and_then(|c| c.get("enforced"))
            .and_then(Json::as_bool)
            .unwrap_or(false);
        if !enforced || node.resource_type == crate::project::ResourceType::Seed {
            return Ok(());
        }
        let config_error = |m: String| Error::Config {
            path: node.original_file_path.clone(),
            position: None,
            message: format!("model '{}': {m}", node.name),
        };
        if !matches!(
            node.config.materialization(),
            Materialization::Table | Materialization::View | Materialization::Incremental
        ) {
            return Err(config_error(format!(
                "a contract is enforced on table, view and incremental models, not {}",
                node.config.materialized()
            )));
        }
        let untyped: Vec<&str> = node
            .columns
            .iter()
            .filter(|c| c.data_type.as_deref().is_none_or(|t| t.trim().is_empty()))
            .map(|c| c.name.as_str())
            .collect();
        if node.columns.is_empty() || !untyped.is_empty() {
            return Err(config_error(format!(
                "contracted models require data_type to be defined for each column; \
                 missing for: {}",
                if untyped.is_empty() {
                    "(no columns declared)".to_string()
                } else {
                    untyped.join(", ")
                }
            )));
        }
        let declared: Vec<serde_json::Value> = node
            .columns
            .iter()
            .map(|c| {
                let t = c.data_type.as_deref().unwrap_or_default();
                serde_json::json!({"name": c.name, "data_type": t})
            })
            .collect();
        let probe = self.sql_of(
            node,
            "get_empty_schema_sql",
            &[("columns", Value::from_serialize(&declared))],
        )?;
        let expected = self
            .adapter
            .query_columns(&probe)
            .await
            .map_err(|e| self.annotate(node, e))?;
        let actual = self
            .adapter
            .query_columns(compiled_sql)
            .await
            .map_err(|e| self.annotate(node, e))?;
        let rows = mismatches(&expected, &actual);
        if rows.is_empty() {
            return Ok(());
        }
        let table = mismatch_table(rows);
        Err(Error::Adapter(format!(
            "This model has an enforced contract that failed.\nPlease ensure the name, \
             data_type, and number of columns in your contract match the columns in your \
             model's definition.\n\n{table}"
        )))
    }
}

/// One row of dbt's mismatch table: column, its type in the query, in the contract, why.
type Mismatch = (String, String, String, &'static str);

/// Where the query's columns (`actual`) differ from the contract's (`expected`), by name
/// (case-insensitive) and type, in dbt's order: the contract's columns first.
fn mismatches(expected: &[ColumnInfo], actual: &[ColumnInfo]) -> Vec<Mismatch> {
    let find = |cols: &[ColumnInfo], name: &str| {
        cols.iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .map(|c| c.data_type.clone())
    };
    let mut rows = Vec::new();
    for c in expected {
        match find(actual, &c.name) {
            None => rows.push((
                c.name.clone(),
                String::new(),
                c.data_type.clone(),
                "missing in definition",
            )),
            Some(t) if !t.eq_ignore_ascii_case(&c.data_type) => {
                rows.push((c.name.clone(), t, c.data_type.clone(), "data type mismatch"))
            }
            Some(_) => {}
        }
    }
    for c in actual {
        if find(expected, &c.name).is_none() {
            rows.push((
                c.name.clone(),
                c.data_type.clone(),
                String::new(),
                "missing in contract",
            ));
        }
    }
    rows
}

/// dbt's table of mismatches, columns padded to their widest cell.
fn mismatch_table(rows: Vec<Mismatch>) -> String {
    let header = [
        "column_name",
        "definition_type",
        "contract_type",
        "mismatch_reason",
    ];
    let cells: Vec<[String; 4]> = rows
        .into_iter()
        .map(|(n, d, c, w)| [n, d, c, w.to_string()])
        .collect();
    let width = |i: usize| {
        cells
            .iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..4).map(width).collect();
    let line = |r: [&str; 4]| {
        let padded: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    let mut table = line(header);
    let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    table.push_str(&format!("\n| {} |", dashes.join(" | ")));
    for r in &cells {
        table.push('\n');
        table.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
    }
    table
}
