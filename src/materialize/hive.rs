//! Hive tables (dbt-athena's `table_type: hive`): SQL can neither rename them nor drop their
//! files, so a rebuild is built aside and swapped in through the catalog (the adapter's
//! `swap_hive_table`), drops go through the adapter (files, then the catalog entry), and an
//! incremental `insert_overwrite` deletes the partitions its new rows touch before inserting.
//! A table whose folder is not its own per build (`external_location`, a naming without
//! `unique`) is dropped and built again, as dbt-athena does.

use super::partition::is_too_many_partitions;
use super::{rel_value, strings, Built, Materializer};
use crate::adapters::{ExecResult, HiveTable};
use crate::compile::{Relation, RelationKind};
use crate::error::{Error, Result};
use crate::project::Node;

impl Materializer<'_> {
    /// The node's Hive tables (None: it builds the engine's own tables).
    pub(super) fn hive(&self, node: &Node) -> Result<Option<HiveTable>> {
        self.adapter
            .hive_table(&node.config)
            .map_err(|e| Error::Config {
                path: node.original_file_path.clone(),
                position: None,
                message: e.to_string(),
            })
    }

    /// Drop a table this run created or replaces: through the adapter for a Hive table
    /// (its files too) or where the adapter drops built tables through its catalog, else
    /// with the `drop_relation` template.
    pub(super) async fn drop_table_of(
        &self,
        node: &Node,
        relation: &Relation,
    ) -> Result<ExecResult> {
        self.drop_table_keeping(node, relation, None).await
    }

    /// [`drop_table_of`](Self::drop_table_of), keeping the files of `keep` (the table a
    /// backup was swapped out of) where the engine deletes a dropped table's folder.
    pub(super) async fn drop_table_keeping(
        &self,
        node: &Node,
        relation: &Relation,
        keep: Option<&Relation>,
    ) -> Result<ExecResult> {
        if self.hive(node)?.is_none() {
            let dropped = self
                .adapter
                .drop_built_table(relation, keep)
                .await
                .map_err(|e| self.annotate(node, e))?;
            if dropped {
                return Ok(ExecResult::default());
            }
            let drop = self.render(node, "drop_relation", &[("relation", rel_value(relation))])?;
            return self.run_all(node, &drop, false).await;
        }
        self.adapter
            .drop_hive_table(relation)
            .await
            .map_err(|e| self.annotate(node, e))?;
        Ok(ExecResult::default())
    }

    /// Where a Hive build of `target` goes, and whether it is then swapped in: the target
    /// itself when there is none (a view of that name is dropped first), or when its folder
    /// is not its own per build (then the old table is dropped first, files and all, as
    /// dbt-athena does: the new build writes into that folder); otherwise a temporary table
    /// beside it.
    pub(super) async fn hive_destination(
        &self,
        node: &Node,
        target: &Relation,
        hive: HiveTable,
    ) -> Result<(Relation, bool)> {
        let table = Relation {
            kind: RelationKind::Table,
            ..target.clone()
        };
        match self.cache.kind(target) {
            None => Ok((table, false)),
            Some(RelationKind::View) => {
                let view = Relation {
                    kind: RelationKind::View,
                    ..target.clone()
                };
                let drop = self.render(node, "drop_relation", &[("relation", rel_value(&view))])?;
                self.run_all(node, &drop, false).await?;
                self.cache.set(target, None);
                Ok((table, false))
            }
            Some(_) if !hive.unique_location => {
                self.drop_table_of(node, &table).await?;
                self.cache.set(target, None);
                Ok((table, false))
            }
            Some(_) => Ok((self.temp_relation(node, target, "tmp")?, true)),
        }
    }

    /// Swap the complete build `tmp` in for `target` through the catalog.
    pub(super) async fn hive_swap(
        &self,
        node: &Node,
        target: &Relation,
        tmp: &Relation,
    ) -> Result<()> {
        self.adapter
            .swap_hive_table(target, tmp)
            .await
            .map_err(|e| {
                self.annotate(
                    node,
                    e.map_runtime_message(|m| {
                        format!(
                            "{m}\n  (the new build is kept in {tmp}: check {target}, then drop it)"
                        )
                    }),
                )
            })?;
        self.cache.set(tmp, None);
        self.cache.set(target, Some(RelationKind::Table));
        Ok(())
    }

    /// `table` of a Hive table: CTAS into the target, or beside it and swapped in.
    pub(super) async fn hive_table(
        &self,
        node: &Node,
        compiled_sql: &str,
        hive: HiveTable,
    ) -> Result<Built> {
        let target = self.target(node)?;
        let (into, swap) = self.hive_destination(node, &target, hive).await?;
        let response = self
            .create_table_in_batches(node, &target, &into, compiled_sql)
            .await?;
        if swap {
            self.hive_swap(node, &target, &into).await?;
        }
        Ok(Built {
            response,
            ..Default::default()
        })
    }

    /// `incremental` into an existing Hive table: the new rows into a temporary Hive table;
    /// `insert_overwrite` (the default, as dbt-athena's) first deletes the partitions they
    /// touch, files and catalog entries (not atomic, as in dbt-athena: a failed insert leaves
    /// those partitions empty); then one INSERT (in partition batches when Athena refuses
    /// it whole); the temporary table is dropped, files and all.
    pub(super) async fn hive_incremental(
        &self,
        node: &Node,
        target: &Relation,
        compiled_sql: &str,
    ) -> Result<Built> {
        let mut partitions = node.config.list("partitioned_by");
        if partitions.is_empty() {
            partitions = node.config.list("partition_by");
        }
        let strategy = node.config.str("incremental_strategy");
        let config_error = |message: String| Error::Config {
            path: node.original_file_path.clone(),
            position: None,
            message,
        };
        let mut warnings = Vec::new();
        let overwrite = match strategy.unwrap_or("insert_overwrite") {
            "append" => false,
            "insert_overwrite" if partitions.is_empty() => {
                if strategy.is_some() {
                    warnings.push(format!(
                        "{}: insert_overwrite without partitioned_by appends the new rows \
                         (as dbt-athena does); say incremental_strategy 'append'",
                        node.original_file_path.display()
                    ));
                }
                false
            }
            "insert_overwrite" => true,
            "microbatch" => {
                return Err(config_error(
                    "incremental_strategy 'microbatch' is not supported on Hive tables yet \
                     (dbt-athena overwrites each batch's partitions); use insert_overwrite"
                        .into(),
                ))
            }
            other => {
                return Err(config_error(format!(
                    "Invalid incremental strategy provided: {other}\n    Expected one of: \
                     'append', 'insert_overwrite', 'microbatch' (dbt-athena's strategies of a \
                     Hive table; merge and delete+insert need table_type: iceberg)"
                )))
            }
        };
        let tmp = self.increment_relation(node, target).await?;
        let mut response = self
            .create_temp(
                node,
                &tmp,
                "create_table_as",
                &super::ctas_args(compiled_sql, true),
            )
            .await?;
        let written = async {
            let (dest, alters) = self.schema_change(node, target, &tmp).await?;
            let mut r = self.run_all(node, &alters, false).await?;
            if overwrite {
                r.absorb(
                    &self
                        .adapter
                        .delete_hive_partitions_of(target, &tmp, &partitions)
                        .await
                        .map_err(|e| self.annotate(node, e))?,
                );
            }
            r.absorb(&self.hive_insert(node, target, &tmp, &dest).await?);
            Ok::<_, Error>(r)
        }
        .await;
        let dropped = self.drop_table_of(node, &tmp).await;
        self.cache.set(&tmp, None);
        response.absorb(&written?);
        dropped?;
        Ok(Built {
            response,
            warnings,
            ..Default::default()
        })
    }

    /// INSERT the rows of `tmp` into `target`: whole, or in batches of partitions when
    /// Athena refuses it for the partitions it opens (or `force_batch`).
    async fn hive_insert(
        &self,
        node: &Node,
        target: &Relation,
        tmp: &Relation,
        dest: &[String],
    ) -> Result<ExecResult> {
        let write_from = |source: &Relation| -> Result<Vec<String>> {
            self.render(
                node,
                "get_incremental_append_sql",
                &[
                    ("target", rel_value(target)),
                    ("source", rel_value(source)),
                    ("dest_columns", strings(dest)),
                ],
            )
        };
        let batching = self.batched_partitions(node)?;
        if !batching.as_ref().is_some_and(|b| b.force) {
            match self.run_all(node, &write_from(tmp)?, false).await {
                Err(e) if batching.is_some() && is_too_many_partitions(&e) => {}
                other => return other,
            }
        }
        let Some(batching) = batching else {
            return Ok(ExecResult::default());
        };
        let (cols, limit) = (&batching.cols, batching.limit);
        let source_sql = self.sql_of(node, "select_all_from", &[("relation", rel_value(tmp))])?;
        let (n, mut written) = self
            .partition_batches(node, &source_sql, cols, limit)
            .await?;
        for batch in 0..n {
            let sql = self.batch_sql(node, &source_sql, cols, batch, limit)?;
            let source = Relation::raw(&tmp.identifier, &format!("(\n{sql}\n)"), RelationKind::Cte);
            written.absorb(&self.run_all(node, &write_from(&source)?, false).await?);
        }
        Ok(written)
    }
}
