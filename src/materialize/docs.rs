//! `persist_docs`: after a build, the model's description and its documented columns'
//! descriptions written where the engine keeps them (the adapter's `persist_docs`), as
//! dbt-duckdb and dbt-athena do: `persist_docs: {relation: true, columns: true}`.

use serde_json::Value;

use super::{Built, Materializer};
use crate::adapters::{ColumnDoc, RelationDocs, TableDocs};
use crate::error::Result;
use crate::project::Node;

/// `persist_docs.<key>` is on (dbt's `persist_relation_docs()` / `persist_column_docs()`).
fn asks(node: &Node, key: &str) -> bool {
    match node.config.get("persist_docs").and_then(|p| p.get(key)) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

impl Materializer<'_> {
    pub(super) async fn persist_docs(&self, node: &Node, built: &mut Built) -> Result<()> {
        let relation = asks(node, "relation");
        let columns = asks(node, "columns") && !node.columns.is_empty();
        if !relation && !columns {
            return Ok(());
        }
        let target = self.target(node)?;
        let mut docs = RelationDocs::default();
        if relation {
            let mut parameters: Vec<(String, Value)> = match node.config.get("meta") {
                Some(Value::Object(meta)) => {
                    meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
                }
                _ => Vec::new(),
            };
            let identity = [
                ("unique_id", Value::from(node.unique_id.clone())),
                ("materialized", Value::from(node.config.materialized())),
                ("dbt_project_name", Value::from(self.project.name())),
                (
                    "dbt_project_version",
                    self.project.file.version.clone().unwrap_or(Value::Null),
                ),
            ];
            for (key, value) in identity {
                parameters.retain(|(k, _)| k != key);
                parameters.push((key.to_string(), value));
            }
            docs.relation = Some(TableDocs {
                description: node.description.clone(),
                parameters,
            });
        }
        if columns {
            // A documented column the relation lacks (names compared without case, as dbt's
            // validate_doc_columns does) is named in a warning; the comments go to the
            // columns spelt exactly as documented (as dbt-duckdb and dbt-athena write them).
            let existing = self.adapter.get_columns(&target).await?;
            let mut missing = Vec::new();
            let mut present = Vec::new();
            for column in &node.columns {
                if existing.iter().any(|e| e.name == column.name) {
                    present.push(ColumnDoc {
                        name: column.name.clone(),
                        description: column.description.clone(),
                        meta: column.meta.clone(),
                    });
                } else if !existing
                    .iter()
                    .any(|e| e.name.eq_ignore_ascii_case(&column.name))
                {
                    missing.push(column.name.as_str());
                }
            }
            if !missing.is_empty() {
                built.warnings.push(format!(
                    "In relation {target}: The following columns are specified in the schema \
                     but are not present in the database: {}",
                    missing.join(", ")
                ));
            }
            docs.columns = Some(present);
        }
        let warnings = self
            .adapter
            .persist_docs(&target, &docs)
            .await
            .map_err(|e| self.annotate(node, e))?;
        built.warnings.extend(warnings);
        Ok(())
    }
}
