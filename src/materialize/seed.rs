//! `seed`: the adapter stages the CSV file, a temporary table loads it, and it is swapped in.

use minijinja::value::Value;
use serde_json::json;

use super::{rel_value, Built, Materializer};
use crate::adapters::seed_types;
use crate::error::Result;
use crate::project::Node;

impl Materializer<'_> {
    pub(super) async fn seed(&self, node: &Node) -> Result<Built> {
        let target = self.target(node)?;
        let tmp = self.temp_relation(node, &target, "tmp")?;
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
        let staged = self
            .adapter
            .stage_seed(&path, &target, &column_types)
            .await
            .map_err(|e| self.annotate(node, e))?;
        let mut response = self
            .create_temp(
                node,
                &tmp,
                "load_csv",
                &[
                    ("path", Value::from(staged.location)),
                    ("column_types", Value::from_serialize(&column_types)),
                    ("columns", Value::from_serialize(&staged.columns)),
                ],
            )
            .await?;
        response.absorb(&self.swap_in(node, &target, &tmp).await?);
        // Engines differ in what CREATE TABLE AS reports; count the loaded rows.
        {
            let count = self
                .adapter
                .execute(
                    &self.sql_of(node, "count_rows_sql", &[("relation", rel_value(&target))])?,
                    true,
                )
                .await?;
            response.rows_affected = count.table.and_then(|t| t.rows.first()?.first()?.as_u64());
        }
        Ok(Built {
            response,
            ..Default::default()
        })
    }
}
