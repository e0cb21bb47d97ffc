//! `incremental`: new rows into a temporary table, then append, merge, delete+insert or
//! insert_overwrite, after `on_schema_change`.

use minijinja::value::Value;
use serde_json::json;

use super::partition::is_too_many_partitions;
use super::{rel_value, strings, Built, Materializer};
use crate::adapters::{ColumnInfo, ExecResult};
use crate::compile::{Relation, RelationKind};
use crate::error::{Error, Result};
use crate::project::Node;

impl Materializer<'_> {
    pub(super) async fn incremental(&self, node: &Node, compiled_sql: &str) -> Result<Built> {
        let target = self.target(node)?;
        let existing = self.cache.kind(&target);
        let full_refresh = self.full_refresh
            && node.config.get("full_refresh").and_then(|v| v.as_bool()) != Some(false)
            || node.config.get("full_refresh").and_then(|v| v.as_bool()) == Some(true);
        if existing != Some(RelationKind::Table) || full_refresh {
            return self.table(node, compiled_sql).await;
        }
        if self.hive(node)?.is_some() {
            return self.hive_incremental(node, &target, compiled_sql).await;
        }
        let unique_key = node.config.list("unique_key");
        let mut partitions = node.config.list("partitioned_by");
        if partitions.is_empty() {
            partitions = node.config.list("partition_by");
        }
        let strategy = node
            .config
            .str("incremental_strategy")
            .map(str::to_string)
            .unwrap_or_else(|| {
                self.adapter
                    .default_incremental_strategy(!unique_key.is_empty(), !partitions.is_empty())
                    .into()
            });
        let config_error = |message: String| Error::Config {
            path: node.original_file_path.clone(),
            position: None,
            message,
        };
        match strategy.as_str() {
            "merge" | "delete+insert" if unique_key.is_empty() => {
                return Err(config_error(format!("incremental_strategy '{strategy}' needs a unique_key")))
            }
            "insert_overwrite" if partitions.is_empty() => {
                return Err(config_error(
                    "incremental_strategy 'insert_overwrite' needs partitioned_by (the partition columns to replace)".into(),
                ))
            }
            "append" | "merge" | "delete+insert" | "insert_overwrite" | "microbatch" => {}
            other => {
                return Err(config_error(format!(
                    "unknown incremental_strategy '{other}' (append, merge, delete+insert, insert_overwrite, microbatch)"
                )))
            }
        }

        let tmp = self.increment_relation(node, &target).await?;
        let mut response = self
            .create_temp(
                node,
                &tmp,
                "create_table_as",
                &super::ctas_args(compiled_sql, true),
            )
            .await?;
        let result = self
            .apply_increment(node, &target, &tmp, &strategy, &unique_key, &partitions)
            .await;
        if result.is_err() && self.cache.kind(&tmp).is_some() {
            let _ = self.drop_created(node, &tmp).await;
        }
        response.absorb(&result?);
        Ok(Built {
            response,
            ..Default::default()
        })
    }

    /// Write the new rows staged in `tmp` into `target` with `strategy`, after the schema
    /// change, and drop `tmp`.
    pub(super) async fn apply_increment(
        &self,
        node: &Node,
        target: &Relation,
        tmp: &Relation,
        strategy: &str,
        unique_key: &[String],
        partitions: &[String],
    ) -> Result<ExecResult> {
        let (dest, mut statements) = self.schema_change(node, target, tmp).await?;
        let (macro_name, mut args): (&str, Vec<(&str, Value)>) = match strategy {
            "append" => ("get_incremental_append_sql", vec![]),
            "merge" => (
                "get_incremental_merge_sql",
                vec![("unique_key", strings(unique_key))],
            ),
            "delete+insert" => (
                "get_incremental_delete_insert_sql",
                vec![("unique_key", strings(unique_key))],
            ),
            "microbatch" => {
                let (start, end) = self.batch.clone().ok_or_else(|| {
                    Error::Internal(format!("{}: a microbatch write without a batch", node.name))
                })?;
                let event_time = node.config.str("event_time").unwrap_or_default();
                (
                    "get_incremental_microbatch_sql",
                    vec![
                        ("unique_key", strings(unique_key)),
                        ("event_time", Value::from(event_time)),
                        ("batch_start", Value::from(start)),
                        ("batch_end", Value::from(end)),
                    ],
                )
            }
            _ => (
                "get_incremental_insert_overwrite_sql",
                vec![("partition_by", strings(partitions))],
            ),
        };
        args.push(("dest_columns", strings(&dest)));
        let write_from = |source: &Relation| -> Result<Vec<String>> {
            let mut all = vec![("target", rel_value(target)), ("source", rel_value(source))];
            all.extend(args.iter().cloned());
            self.render(node, macro_name, &all)
        };

        // Appends and partition overwrites split by partition where the engine limits
        // partitions per write; merge and delete+insert match keys across partitions, so
        // they run whole.
        let batching = match strategy {
            "append" | "insert_overwrite" => self.batched_partitions(node)?,
            _ => None,
        };
        let Some(batching) = batching else {
            // One atomic unit where the engine has transactions; the new rows' table goes
            // after it.
            statements.extend(write_from(tmp)?);
            let mut response = self.run_all(node, &statements, true).await?;
            response.absorb(&self.drop_created(node, tmp).await?);
            return Ok(response);
        };
        // The engine limits partitions (and has no transactions): the schema change first,
        // so a write refused for its partitions can be sent again in batches.
        let mut response = self.run_all(node, &statements, true).await?;
        let whole = if batching.force {
            None
        } else {
            match self.run_all(node, &write_from(tmp)?, true).await {
                Err(e) if is_too_many_partitions(&e) => None,
                other => Some(other?),
            }
        };
        let written = match whole {
            Some(written) => written,
            None => {
                // The new rows are staged in `tmp` already: count their partitions there.
                let (cols, limit) = (&batching.cols, batching.limit);
                let source_sql =
                    self.sql_of(node, "select_all_from", &[("relation", rel_value(tmp))])?;
                let (n, mut written) = self
                    .partition_batches(node, &source_sql, cols, limit)
                    .await?;
                let mut batches = Vec::new();
                for batch in 0..n {
                    let sql = self.batch_sql(node, &source_sql, cols, batch, limit)?;
                    let source =
                        Relation::raw(&tmp.identifier, &format!("(\n{sql}\n)"), RelationKind::Cte);
                    batches.extend(write_from(&source)?);
                }
                written.absorb(&self.run_all(node, &batches, true).await?);
                written
            }
        };
        response.absorb(&written);
        response.absorb(&self.drop_created(node, tmp).await?);
        Ok(response)
    }

    /// The table the new rows go to: beside the target, or in the model's `temp_schema`
    /// (dbt-athena's key), which is created when missing, as dbt-athena does on each run.
    pub(super) async fn increment_relation(
        &self,
        node: &Node,
        target: &Relation,
    ) -> Result<Relation> {
        let tmp = self.temp_relation(node, target, "tmp")?;
        let Some(schema) = node.config.str("temp_schema").filter(|s| !s.is_empty()) else {
            return Ok(tmp);
        };
        let database = tmp.database.clone().unwrap_or_default();
        self.adapter
            .create_schema(&database, schema)
            .await
            .map_err(|e| self.annotate(node, e))?;
        let q = self.adapter.dialect().quoting;
        Ok(Relation::new(
            q.as_ref(),
            tmp.database.as_deref(),
            schema,
            &tmp.identifier,
            RelationKind::Table,
        ))
    }
    /// `on_schema_change`: the statements that bring `target`'s columns in line with the new
    /// rows in `tmp` (ignore, fail, append_new_columns, sync_all_columns), and the columns
    /// the increment then writes.
    pub(super) async fn schema_change(
        &self,
        node: &Node,
        target: &Relation,
        tmp: &Relation,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let new_cols = self.adapter.get_columns(tmp).await?;
        let old_cols = self.adapter.get_columns(target).await?;
        let has = |cols: &[ColumnInfo], name: &str| {
            cols.iter().any(|c| c.name.eq_ignore_ascii_case(name))
        };
        let added: Vec<&ColumnInfo> = new_cols
            .iter()
            .filter(|c| !has(&old_cols, &c.name))
            .collect();
        let removed: Vec<&ColumnInfo> = old_cols
            .iter()
            .filter(|c| !has(&new_cols, &c.name))
            .collect();
        let on_change = node.config.str("on_schema_change").unwrap_or("ignore");
        let mut statements = Vec::new();
        // Add or drop `cols` (nothing when there are none).
        let alter_columns = |macro_name: &str, cols: &[&ColumnInfo]| -> Result<Vec<String>> {
            if cols.is_empty() {
                return Ok(Vec::new());
            }
            let args = [
                ("relation", rel_value(target)),
                ("columns", col_values(cols)),
            ];
            self.render(node, macro_name, &args)
        };
        let dest: Vec<String> = match on_change {
            "ignore" => old_cols.iter().map(|c| c.name.clone()).collect(),
            "fail" => {
                if !added.is_empty() || !removed.is_empty() {
                    let names = |v: &[&ColumnInfo]| v.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
                    return Err(Error::Adapter(format!(
                        "the columns of incremental model '{}' changed and on_schema_change is 'fail' \
                         (new: [{}]; removed: [{}]); run with --full-refresh or choose \
                         append_new_columns / sync_all_columns",
                        node.name,
                        names(&added),
                        names(&removed)
                    )));
                }
                old_cols.iter().map(|c| c.name.clone()).collect()
            }
            "append_new_columns" => {
                statements.extend(alter_columns("alter_relation_add_columns", &added)?);
                old_cols
                    .iter()
                    .filter(|c| has(&new_cols, &c.name))
                    .map(|c| c.name.clone())
                    .chain(added.iter().map(|c| c.name.clone()))
                    .collect()
            }
            "sync_all_columns" => {
                statements.extend(alter_columns("alter_relation_add_columns", &added)?);
                statements.extend(alter_columns("alter_relation_drop_columns", &removed)?);
                for c in &new_cols {
                    let changed = old_cols
                        .iter()
                        .find(|o| o.name.eq_ignore_ascii_case(&c.name))
                        .is_some_and(|o| !o.data_type.eq_ignore_ascii_case(&c.data_type));
                    if changed {
                        statements.extend(self.render(
                            node,
                            "alter_column_type",
                            &[
                                ("relation", rel_value(target)),
                                ("column_name", Value::from(c.name.clone())),
                                ("new_type", Value::from(c.data_type.clone())),
                            ],
                        )?);
                    }
                }
                new_cols.iter().map(|c| c.name.clone()).collect()
            }
            other => {
                return Err(Error::Config {
                    path: node.original_file_path.clone(),
                    position: None,
                    message: format!(
                        "unknown on_schema_change '{other}' (ignore, fail, append_new_columns, sync_all_columns)"
                    ),
                })
            }
        };
        Ok((dest, statements))
    }
}

/// Columns as the alter templates take them: `{name, data_type}` each.
fn col_values(cols: &[&ColumnInfo]) -> Value {
    Value::from_serialize(
        cols.iter()
            .map(|c| json!({"name": c.name, "data_type": c.data_type}))
            .collect::<Vec<_>>(),
    )
}
