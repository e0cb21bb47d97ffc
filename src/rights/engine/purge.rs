//! Making erasures final in storage (`strata rights purge`, and the consumer's deadline
//! check) and removing ACCESS exports past their retention.

use minijinja::value::Value;

use super::{rel, RightsEngine};
use crate::compile::Relation;
use crate::error::{Error, Result};
use crate::rights::message::now_epoch;

/// Erasures answered 200 since the last purge: relations touched, oldest and newest
/// finished_at, and how many.
struct PendingPurge {
    relations: Vec<String>,
    oldest: i64,
    newest: i64,
    count: usize,
}

impl RightsEngine {
    /// Erasures answered 200 since the last purge. The ledger records the relations of each
    /// erasure.
    async fn pending_purge(&self) -> Result<Option<PendingPurge>> {
        let q = self.render(
            "rights_pending_purge_sql",
            &[("ledger", rel(&self.ledger)), ("purges", rel(&self.purges))],
        )?;
        let rows = self
            .exec(&q, &[], true)
            .await?
            .table
            .unwrap_or_default()
            .rows;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut names: Vec<String> = Vec::new();
        let (mut oldest, mut newest, mut count) = (i64::MAX, i64::MIN, 0usize);
        for row in rows {
            for n in row
                .first()
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .split(',')
            {
                if !n.is_empty() && !names.iter().any(|x| x == n) {
                    names.push(n.to_string());
                }
            }
            oldest = oldest.min(row.get(1).and_then(|v| v.as_i64()).unwrap_or(0));
            newest = newest.max(row.get(2).and_then(|v| v.as_i64()).unwrap_or(0));
            count += row.get(3).and_then(|v| v.as_u64()).unwrap_or(0) as usize;
        }
        Ok(Some(PendingPurge {
            relations: names,
            oldest,
            newest,
            count,
        }))
    }

    /// Run the pending purges (`strata rights purge`): rewrite the tables erasures touched so
    /// deleted rows leave storage too (on Iceberg they live on in older snapshots until
    /// OPTIMIZE and VACUUM). Returns how many erasures were purged.
    pub async fn purge(&self) -> Result<usize> {
        let Some(PendingPurge {
            relations: names,
            newest,
            count,
            ..
        }) = self.pending_purge().await?
        else {
            return Ok(0);
        };
        let mut relations = Vec::new();
        let mut properties = Vec::new();
        for name in &names {
            let declared_source = self
                .declared
                .iter()
                .find(|d| &d.name == name && d.source.is_some());
            let Some(r) = (match declared_source {
                Some(d) => d.relation(&self.compiler),
                None => self.compiler.relation_of(name),
            }) else {
                continue;
            };
            let own = self
                .project
                .nodes
                .values()
                .find(|n| &n.name == name)
                .and_then(|n| n.config.get("table_properties").cloned())
                .unwrap_or(serde_json::json!({}));
            relations.push(r);
            properties.push(Value::from_serialize(&own));
        }
        let script = self.render(
            "rights_purge",
            &[
                (
                    "relations",
                    Value::from(relations.iter().map(rel).collect::<Vec<_>>()),
                ),
                ("properties", Value::from(properties)),
            ],
        )?;
        self.run_script(&script).await?;
        // DuckDB: the file is rewritten so freed blocks holding erased rows go with it.
        self.adapter.reclaim_storage().await?;
        // Where the engine keeps history, prove nothing from before the erasures is left
        // before recording the purge (a later purge_if_due tries again otherwise).
        self.verify_purged(&relations, newest).await?;
        // Mark what was pending when the purge started (not erasures finished since).
        let q = self.render(
            "rights_record_purge",
            &[("ledger", rel(&self.ledger)), ("purges", rel(&self.purges))],
        )?;
        self.exec(&q, &[now_epoch().to_string(), newest.to_string()], false)
            .await?;
        Ok(count)
    }

    /// Fail when a purged relation still has snapshots from before `before_epoch` (the
    /// `rights_purge_check_sql` macro says how to count them; engines without history have
    /// none to count).
    async fn verify_purged(&self, relations: &[Relation], before_epoch: i64) -> Result<()> {
        for r in relations {
            let check = self.render(
                "rights_purge_check_sql",
                &[
                    ("relation", rel(r)),
                    ("before_epoch", Value::from(before_epoch)),
                ],
            )?;
            if check.trim().is_empty() {
                continue;
            }
            let left = self
                .exec(&check, &[], true)
                .await?
                .table
                .and_then(|t| {
                    let v = t.rows.first()?.first()?.clone();
                    v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())
                })
                .unwrap_or(0);
            if left > 0 {
                return Err(Error::Adapter(format!(
                    "purge of {r} is incomplete: {left} snapshot(s) from before the erasures \
                     remain (VACUUM keeps snapshots younger than a minute; the next purge \
                     retries)"
                )));
            }
        }
        Ok(())
    }

    /// Delete the ACCESS exports older than `rights.access_retention_hours` (the files their
    /// answers listed) and record them as purged. Returns how many requests' exports went.
    pub async fn sweep_exports(&self) -> Result<usize> {
        let cutoff = now_epoch() - (self.config.access_retention_hours as i64) * 3600;
        let q = self.render(
            "rights_expired_exports_sql",
            &[("ledger", rel(&self.ledger)), ("purges", rel(&self.purges))],
        )?;
        let rows = self
            .exec(&q, &[cutoff.to_string()], true)
            .await?
            .table
            .unwrap_or_default()
            .rows;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut ids = Vec::new();
        let mut files = Vec::new();
        for row in rows {
            let Some(id) = row.first().and_then(|v| v.as_str()) else {
                continue;
            };
            let listed = row.get(1).and_then(|v| v.as_str()).unwrap_or("[]");
            let attachments: Vec<String> = serde_json::from_str(listed).map_err(|e| {
                Error::Adapter(format!(
                    "the ledger's attachments of {id} are not a JSON list ({e}): {listed}"
                ))
            })?;
            files.extend(attachments);
            ids.push(id.to_string());
        }
        self.adapter.delete_files(&files).await?;
        let now = now_epoch().to_string();
        let mut params = Vec::with_capacity(ids.len() * 2);
        for id in &ids {
            params.extend([id.clone(), now.clone()]);
        }
        let q = self.render(
            "rights_record_purged",
            &[
                ("purges", rel(&self.purges)),
                ("rows", Value::from(ids.len())),
            ],
        )?;
        self.exec(&q, &params, false).await?;
        Ok(ids.len())
    }

    /// Purge when the oldest unpurged erasure has used half of `purge_deadline_hours`, so a
    /// consumer that runs at least that often keeps the deadline. Returns erasures purged.
    pub async fn purge_if_due(&self) -> Result<usize> {
        let Some(PendingPurge { oldest, .. }) = self.pending_purge().await? else {
            return Ok(0);
        };
        let half_deadline = (self.config.purge_deadline_hours as i64) * 3600 / 2;
        if now_epoch() - oldest >= half_deadline {
            self.purge().await
        } else {
            Ok(0)
        }
    }
}
