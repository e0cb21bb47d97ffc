//! Engines that limit the partitions one statement writes (Athena: 100): count them and
//! write in batches.

use minijinja::value::Value;

use super::{rel_value, strings, Materializer};
use crate::adapters::ExecResult;
use crate::compile::{CompileOptions, Relation};
use crate::error::{Error, Result};
use crate::project::Node;

impl Materializer<'_> {
    /// The partition columns of a node, when the adapter limits partitions per write and
    /// they are plain columns (a transform like `day(ts)` is not batched).
    pub(super) fn batched_partitions(&self, node: &Node) -> Option<(Vec<String>, usize)> {
        let limit = self.adapter.max_partitions_per_write()?;
        let cols = node.config.list("partitioned_by");
        let plain = cols
            .iter()
            .all(|c| c.chars().all(|ch| ch.is_alphanumeric() || ch == '_'));
        (!cols.is_empty() && plain).then_some((cols, limit))
    }

    /// How many batches of `limit` partitions the rows of `sql` fall into (1 when they fit).
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

    /// CTAS `sql` into `tmp`; where the engine limits the partitions one statement writes
    /// and the rows have more, compute them once into an unpartitioned staging table, create
    /// `tmp` with its first batch of partitions and insert the others batch by batch, so no
    /// statement exceeds the limit and the model's SQL runs once.
    pub(super) async fn create_table_in_batches(
        &self,
        node: &Node,
        tmp: &Relation,
        sql: &str,
    ) -> Result<ExecResult> {
        let mut counted = ExecResult::default();
        let batches = match self.batched_partitions(node) {
            Some((cols, limit)) => {
                let (n, r) = self.partition_batches(node, sql, &cols, limit).await?;
                counted = r;
                (n > 1).then_some((cols, limit, n))
            }
            None => None,
        };
        let Some((cols, limit, n)) = batches else {
            let mut r = self
                .create_temp(node, tmp, "create_table_as", &[("sql", Value::from(sql))])
                .await?;
            r.absorb(&counted);
            return Ok(r);
        };
        let stage = self.temp_relation(node, tmp, "stage")?;
        let mut response = self
            .create_temp(
                node,
                &stage,
                "create_table_as",
                &[("sql", Value::from(sql)), ("temporary", Value::from(true))],
            )
            .await?;
        response.absorb(&counted);
        let staged = self.sql_of(node, "select_all_from", &[("relation", rel_value(&stage))])?;
        let result = async {
            let first = self.batch_sql(node, &staged, &cols, 0, limit)?;
            let mut r = self
                .create_temp(node, tmp, "create_table_as", &[("sql", Value::from(first))])
                .await?;
            for batch in 1..n {
                let rows = self.batch_sql(node, &staged, &cols, batch, limit)?;
                let insert = self.sql_of(
                    node,
                    "insert_into_from",
                    &[("relation", rel_value(tmp)), ("sql", Value::from(rows))],
                )?;
                match self.run_all(node, &[insert], false).await {
                    Ok(x) => r.absorb(&x),
                    Err(e) => {
                        let _ = self.drop_created(node, tmp).await;
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
