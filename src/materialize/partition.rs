//! Engines that limit the partitions one statement writes (Athena: 100). As dbt-athena does,
//! a write is tried whole first; only when the engine refuses it for opening too many
//! partitions (or the model sets `force_batch`) are the rows staged once, their partitions
//! counted on the stage, and written `partitions_limit` partitions per statement. The
//! model's SQL runs once either way.

use minijinja::value::Value;

use super::{rel_value, strings, Materializer};
use crate::adapters::ExecResult;
use crate::compile::{CompileOptions, Relation};
use crate::error::{Error, Result};
use crate::project::Node;

/// What Athena (Trino) says when one statement would write more partitions than it may.
const TOO_MANY_PARTITIONS: &str = "TOO_MANY_OPEN_PARTITIONS";

/// Whether `e` is the engine refusing a write for the partitions it opens.
pub(super) fn is_too_many_partitions(e: &Error) -> bool {
    e.to_string().contains(TOO_MANY_PARTITIONS)
}

/// How a node's partitioned writes are split when the engine limits them.
pub(super) struct Batching {
    /// The partition columns (plain column names).
    pub cols: Vec<String>,
    /// Partitions per statement (`partitions_limit`).
    pub limit: usize,
    /// `force_batch`: batch at once, without trying one statement first.
    pub force: bool,
}

impl Materializer<'_> {
    /// How the writes of `node` are batched, when the adapter limits partitions per write
    /// and the partition columns are plain columns (a transform like `day(ts)` is not
    /// batched). dbt-athena's `partitions_limit` and `force_batch` are checked here.
    pub(super) fn batched_partitions(&self, node: &Node) -> Result<Option<Batching>> {
        let Some(engine_limit) = self.adapter.max_partitions_per_write() else {
            return Ok(None);
        };
        let bad = |message: String| Error::Config {
            path: node.original_file_path.clone(),
            position: None,
            message,
        };
        let limit = match node.config.get("partitions_limit") {
            None | Some(serde_json::Value::Null) => engine_limit,
            Some(v) => match v.as_u64().and_then(|n| usize::try_from(n).ok()) {
                Some(n) if n >= 1 => n,
                _ => {
                    return Err(bad(format!(
                        "model '{}': partitions_limit must be a whole number of partitions, \
                         1 or more, not {v} (it is how many partitions one statement writes \
                         when a write is split; the default is {engine_limit})",
                        node.name
                    )))
                }
            },
        };
        let force = match node.config.get("force_batch") {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(v) => {
                return Err(bad(format!(
                    "model '{}': force_batch must be true or false, not {v}",
                    node.name
                )))
            }
        };
        let cols = node.config.list("partitioned_by");
        let plain = cols
            .iter()
            .all(|c| c.chars().all(|ch| ch.is_alphanumeric() || ch == '_'));
        Ok((!cols.is_empty() && plain).then_some(Batching { cols, limit, force }))
    }

    /// How many batches of `limit` partitions the rows of `sql` (a staged table's rows:
    /// counting them does not run the model again) fall into (1 when they fit).
    pub(super) async fn partition_batches(
        &self,
        node: &Node,
        sql: &str,
        partitions: &[String],
        limit: usize,
    ) -> Result<(usize, ExecResult)> {
        let count_sql = self.compiler.call_macro(
            node,
            "partition_count_sql",
            &[
                ("sql", Value::from(sql)),
                ("partition_by", strings(partitions)),
            ],
            CompileOptions::default(),
        )?;
        let mut r = self
            .adapter
            .execute(&count_sql, true)
            .await
            .map_err(|e| self.annotate(node, e))?;
        // Engines return the count as a number or, like Athena, as text.
        let n = r
            .table
            .take()
            .and_then(|t| {
                let v = t.rows.first()?.first()?.clone();
                v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())
            })
            .unwrap_or(0) as usize;
        r.rows_affected = None;
        Ok((n.div_ceil(limit.max(1)).max(1), r))
    }

    pub(super) fn batch_sql(
        &self,
        node: &Node,
        sql: &str,
        partitions: &[String],
        batch: usize,
        limit: usize,
    ) -> Result<String> {
        self.compiler.call_macro(
            node,
            "partition_batch_sql",
            &[
                ("sql", Value::from(sql)),
                ("partition_by", strings(partitions)),
                ("batch", Value::from(batch)),
                ("batch_size", Value::from(limit)),
            ],
            CompileOptions::default(),
        )
    }

    /// CTAS `sql` into `into` (the target, or a temporary table beside `target`) in one
    /// statement; where the engine limits the partitions one statement writes and refuses
    /// it for that (or `force_batch`), write it in batches instead
    /// (`create_staged_in_batches`).
    pub(super) async fn create_table_in_batches(
        &self,
        node: &Node,
        target: &Relation,
        into: &Relation,
        sql: &str,
    ) -> Result<ExecResult> {
        let batching = self.batched_partitions(node)?;
        if let Some(b) = batching.as_ref().filter(|b| b.force) {
            return self
                .create_staged_in_batches(node, target, into, sql, b)
                .await;
        }
        let whole = self
            .create_temp(node, into, "create_table_as", &super::ctas_args(sql, false))
            .await;
        match (whole, &batching) {
            (Err(e), Some(b)) if is_too_many_partitions(&e) => {
                self.create_staged_in_batches(node, target, into, sql, b)
                    .await
            }
            (Err(e), None) if is_too_many_partitions(&e) => Err(e.map_runtime_message(|m| {
                format!(
                    "{m}\n  (Strata splits a write by partition only for plain partition \
                     columns; with a transform in partitioned_by, write fewer partitions \
                     per run)"
                )
            })),
            (whole, _) => whole,
        }
    }

    /// Compute the rows once into an unpartitioned staging table, count their partitions
    /// there, create `into` with the first `limit` partitions and insert the others batch
    /// by batch, so no statement exceeds the limit and the model's SQL runs once.
    async fn create_staged_in_batches(
        &self,
        node: &Node,
        target: &Relation,
        into: &Relation,
        sql: &str,
        batching: &Batching,
    ) -> Result<ExecResult> {
        let Batching { cols, limit, .. } = batching;
        let limit = *limit;
        let stage = self.temp_relation(node, target, "stage")?;
        let mut response = self
            .create_temp(
                node,
                &stage,
                "create_table_as",
                &super::ctas_args(sql, true),
            )
            .await?;
        let staged = self.sql_of(node, "select_all_from", &[("relation", rel_value(&stage))])?;
        let result = async {
            let (n, counted) = self.partition_batches(node, &staged, cols, limit).await?;
            let first = self.batch_sql(node, &staged, cols, 0, limit)?;
            let mut r = self
                .create_temp(
                    node,
                    into,
                    "create_table_as",
                    &super::ctas_args(&first, false),
                )
                .await?;
            r.absorb(&counted);
            for batch in 1..n {
                let rows = self.batch_sql(node, &staged, cols, batch, limit)?;
                let insert = self.sql_of(
                    node,
                    "insert_into_from",
                    &[("relation", rel_value(into)), ("sql", Value::from(rows))],
                )?;
                match self.run_all(node, &[insert], false).await {
                    Ok(x) => r.absorb(&x),
                    Err(e) => {
                        // Half the partitions is no table: drop what this run created.
                        let _ = self.drop_created(node, into).await;
                        return Err(e);
                    }
                }
            }
            Ok::<_, Error>(r)
        }
        .await;
        let dropped = self.drop_created(node, &stage).await;
        response.absorb(&result?);
        response.absorb(&dropped?);
        Ok(response)
    }
}
