//! The ledger: what was answered before (read with the existence check in one query, so a
//! resubmitted request is answered as it was) and recording each answer, started and finished.
//!
//! Every finished answer is final: a request redelivered after a 500 gets the same 500 from
//! the ledger, so no request is answered 500 and later 200 by accident. An operator who has
//! fixed the cause asks for another attempt (`strata rights retry`, a `retry` row): a 500
//! counts as long as the request has more failed answers than retries.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use minijinja::value::Value;

use super::{int_cell, rel, BatchMetrics, RightsEngine};
use crate::error::Result;
use crate::rights::message::{now_epoch, Outcome, RightType, RightsRequest};

pub(super) const REUSED_ID: &str =
    "request_id already used for another request (other guid or right_type)";

/// Answers that settle a request for good (a 500 settles it until an operator retries it).
pub(super) fn is_success(code: &str) -> bool {
    matches!(code, "200" | "201")
}

/// What the ledger holds of one request's failed answers.
#[derive(Default)]
struct Failures {
    answers: usize,
    retries: usize,
    /// The latest failed answer (by finished_at).
    latest: Option<(i64, Outcome)>,
}

/// What the ledger and the declared relations said about the loaded batch.
#[derive(Default)]
pub(super) struct BatchState {
    /// Subjects with rows in a declared relation now.
    with_data: HashSet<String>,
    /// Requests started before: whether the existence check found data then (their rows may
    /// be gone by now).
    started_had_data: HashMap<String, bool>,
    /// Per request id, the keys the batch captured per relation reached through another,
    /// kept with the started row as `<relation> chr(30) <key>` items joined by chr(31).
    pub via_keys: HashMap<String, String>,
    failures: HashMap<String, Failures>,
}

impl BatchState {
    /// Whether each request's subject had data: as when it started, or now.
    pub fn had_data(&self, to_run: &[&RightsRequest]) -> HashMap<String, bool> {
        to_run
            .iter()
            .map(|r| {
                let before = self.started_had_data.get(&r.request_id).copied();
                (
                    r.request_id.clone(),
                    before.unwrap_or(false) || self.with_data.contains(&r.guid),
                )
            })
            .collect()
    }

    /// Take in one row of `rights_batch_state`; answers replayed from the ledger (or refused
    /// for a reused id) go into `outcomes`.
    fn read_row(
        &mut self,
        row: &[serde_json::Value],
        by_id: &HashMap<&str, &RightsRequest>,
        via_names: &[&str],
        outcomes: &mut HashMap<String, Outcome>,
    ) {
        let s = |i: usize| {
            row.get(i)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let flag = |i: usize| row.get(i).and_then(|v| v.as_bool()).unwrap_or(false);
        let rid = s(0);
        if flag(7) {
            self.with_data.insert(s(1));
        }
        if !self.via_keys.contains_key(&rid) {
            // The captured keys are columns 11.., one per relation reached through another.
            let items: Vec<String> = via_names
                .iter()
                .enumerate()
                .flat_map(|(i, name)| {
                    s(11 + i)
                        .split('\u{1f}')
                        .filter(|k| !k.is_empty())
                        .map(|k| format!("{name}\u{1e}{k}"))
                        .collect::<Vec<_>>()
                })
                .collect();
            self.via_keys.insert(rid.clone(), items.join("\u{1f}"));
        }
        let phase = s(2);
        if phase == "retry" {
            self.failures.entry(rid).or_default().retries += 1;
            return;
        }
        // As the batch table's `answered` (rights_batch_rows): only started and
        // finished rows count.
        if !matches!(phase.as_str(), "started" | "finished") {
            return;
        }
        // The ledger knows this id from another request: the batch table marked it
        // answered, so no procedure touches its subject.
        if by_id
            .get(rid.as_str())
            .is_some_and(|r| s(8) != r.guid || s(9) != r.right_type.as_str())
        {
            outcomes.insert(rid, Outcome::error(REUSED_ID));
            return;
        }
        if phase == "started" {
            let had = self.started_had_data.entry(rid).or_insert(false);
            *had |= flag(3);
            return;
        }
        let outcome = Outcome {
            code: s(4),
            reason: s(5),
            attachments: serde_json::from_str(&s(6)).unwrap_or_default(),
        };
        if is_success(&outcome.code) {
            outcomes.entry(rid).or_insert(outcome);
        } else {
            let finished_at = int_cell(row.get(10)).unwrap_or(0);
            let f = self.failures.entry(rid).or_default();
            f.answers += 1;
            if f.latest.as_ref().is_none_or(|(at, _)| finished_at >= *at) {
                f.latest = Some((finished_at, outcome));
            }
        }
    }

    /// After every row: a request whose failed answers outnumber its retries is answered
    /// with its latest failure again.
    fn settle_failures(&mut self, outcomes: &mut HashMap<String, Outcome>) {
        for (rid, f) in self.failures.drain() {
            if f.answers > f.retries {
                if let Some((_, o)) = f.latest {
                    outcomes.entry(rid).or_insert(o);
                }
            }
        }
    }
}

impl RightsEngine {
    /// Ask the ledger and the declared relations about the loaded batch in one query:
    /// requests finished before are answered as before (into `outcomes`; a 500 unless an
    /// operator asked for a retry since); started ones keep what the existence check said the
    /// first time.
    pub(super) async fn batch_state(
        &self,
        unique: &[&RightsRequest],
        outcomes: &mut HashMap<String, Outcome>,
        metrics: &mut BatchMetrics,
    ) -> Result<BatchState> {
        let t = Instant::now();
        let all_types = [RightType::Access, RightType::Erasure, RightType::SaWithdraw];
        let names: Vec<&str> = all_types.iter().map(|t| t.as_str()).collect();
        let q = self.render(
            "rights_batch_state",
            &[
                ("batch", rel(&self.batch)),
                ("ledger", rel(&self.ledger)),
                ("declared", self.declared_value.clone()),
                ("right_types", Value::from(names)),
            ],
        )?;
        let rows = self
            .exec(&q, &[], true)
            .await?
            .table
            .unwrap_or_default()
            .rows;
        metrics.existence_ms += t.elapsed().as_secs_f64() * 1000.0;
        let by_id: HashMap<&str, &RightsRequest> =
            unique.iter().map(|r| (r.request_id.as_str(), *r)).collect();
        let via_names: Vec<&str> = self
            .declared
            .iter()
            .filter(|d| d.via.is_some())
            .map(|d| d.name.as_str())
            .collect();
        let mut state = BatchState::default();
        for row in &rows {
            state.read_row(row, &by_id, &via_names, outcomes);
        }
        state.settle_failures(outcomes);
        Ok(state)
    }

    /// Record `rows` in the ledger at `phase` (`started` or `finished`), in one statement.
    pub(super) async fn write_ledger(
        &self,
        phase: &str,
        rows: &[(&RightsRequest, &Outcome)],
        had: &HashMap<String, bool>,
        via_keys: &HashMap<String, String>,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut params = Vec::with_capacity(rows.len() * 13);
        let now = now_epoch().to_string();
        for (r, o) in rows {
            params.extend([
                r.request_id.clone(),
                r.guid.clone(),
                r.right_type.as_str().to_string(),
                phase.to_string(),
                had.get(&r.request_id).copied().unwrap_or(false).to_string(),
                o.code.clone(),
                o.reason.clone(),
                serde_json::to_string(&o.attachments).unwrap_or_else(|_| "[]".into()),
                self.declared
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                r.created_at.to_string(),
                now.clone(),
                via_keys.get(&r.request_id).cloned().unwrap_or_default(),
                r.source.clone(),
            ]);
        }
        let q = self.render(
            "rights_ledger_insert",
            &[
                ("ledger", rel(&self.ledger)),
                ("rows", Value::from(rows.len())),
            ],
        )?;
        self.exec(&q, &params, false).await?;
        Ok(())
    }
}
