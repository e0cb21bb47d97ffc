//! `seed`: the adapter stages the CSV file and a table loads it: the target itself when there
//! is none yet, else a temporary table that is swapped in.

use std::path::Path;

use minijinja::value::Value;
use serde_json::json;

use super::{Built, Materializer};
use crate::adapters::seed_types;
use crate::compile::{Relation, RelationKind};
use crate::error::{Error, Result};
use crate::project::Node;

impl Materializer<'_> {
    pub(super) async fn seed(&self, node: &Node) -> Result<Built> {
        let target = self.target(node)?;
        let path = self
            .project
            .root_of(&node.package_name)
            .join(&node.original_file_path);
        let path = path.canonicalize().unwrap_or(path);
        // dbt's inferred types, then the seed's `column_types` over them.
        let mut column_types = serde_json::Map::new();
        for (name, column) in seed_types::infer(&path)? {
            let sql_type = self.adapter.seed_column_type(column);
            column_types.insert(name, json!(sql_type));
        }
        if let Some(serde_json::Value::Object(configured)) = node.config.get("column_types") {
            // The engines match column names without case: one entry per column.
            column_types.retain(|name, _| !configured.keys().any(|k| k.eq_ignore_ascii_case(name)));
            column_types.extend(configured.clone());
        }
        let column_types = serde_json::Value::Object(column_types);
        // Nothing to replace: load straight into the target; else beside it, swapped in
        // (a Hive table in a folder not its own per build is dropped first instead, before
        // the upload: the seed's upload folder may lie in that folder).
        let hive = self.hive(node)?;
        if hive.is_some() && self.filters_erased(node) {
            return Err(Error::config(
                &node.original_file_path,
                format!(
                    "{}: a seed that declares personal data cannot be a Hive table (table_type: \
                     hive): erased subjects' rows could not be deleted from it; use \
                     table_type: iceberg",
                    node.name
                ),
            ));
        }
        let (into, swap) = match hive {
            Some(hive) => self.hive_destination(node, &target, hive).await?,
            None if self.cache.kind(&target).is_some() || self.filters_erased(node) => {
                (self.temp_relation(node, &target, "tmp")?, true)
            }
            None => (
                Relation {
                    kind: RelationKind::Table,
                    ..target.clone()
                },
                false,
            ),
        };
        let staged = self
            .adapter
            .stage_seed(&path, &target, &column_types, &node.config)
            .await
            .map_err(|e| self.annotate(node, e))?;
        let mut response = self
            .create_temp(
                node,
                &into,
                "load_csv",
                &[
                    ("path", Value::from(staged.location)),
                    ("column_types", Value::from_serialize(&column_types)),
                    ("columns", Value::from_serialize(&staged.columns)),
                ],
            )
            .await?;
        if swap && hive.is_none() {
            response.absorb(&self.delete_erased(node, &into).await?);
        }
        if swap && hive.is_some() {
            self.hive_swap(node, &target, &into).await?;
        } else if swap {
            response.absorb(&self.swap_in(node, &target, &into).await?);
        }
        // The rows loaded are the file's (dbt counts its agate table's rows the same way;
        // neither engine's response to a CTAS carries a count): no count query.
        let empty = self
            .compiler
            .render_for_node(node, "--empty", "{{ flags.EMPTY }}")?;
        response.rows_affected = Some(if empty.trim().eq_ignore_ascii_case("true") {
            0
        } else {
            csv_rows(&path)?
        });
        Ok(Built {
            response,
            ..Default::default()
        })
    }
}

/// The data rows of the CSV file at `path` (its header not counted).
fn csv_rows(path: &Path) -> Result<u64> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let mut rows = 0;
    for record in reader.records() {
        record.map_err(|e| Error::config(path, format!("not a readable CSV file: {e}")))?;
        rows += 1;
    }
    Ok(rows)
}
