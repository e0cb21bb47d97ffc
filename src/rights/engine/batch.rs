//! A batch from requests to answers: one answer per request id, runs that keep an ACCESS and
//! an erasure of one subject in order, and per run the batch table, the ledger's replies and
//! the procedures for the rest.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use minijinja::value::Value;

use super::ledger::REUSED_ID;
use super::{rel, BatchMetrics, RightsEngine};
use crate::error::Result;
use crate::rights::message::{now_epoch, Outcome, RightsRequest, RightsResult};
use crate::sql;

/// The requests of a batch with distinct ids, and the answers settled before any SQL runs.
struct Deduplicated<'a> {
    /// First occurrences with a valid subject id, in the order sent.
    unique: Vec<&'a RightsRequest>,
    /// Answers by request id (invalid subject ids so far).
    outcomes: HashMap<String, Outcome>,
    /// Positions of requests that reuse an id for another subject or right type.
    reused: HashSet<usize>,
}

impl RightsEngine {
    /// Answer a batch. Every request gets exactly one result; one bad request never fails
    /// the others; a request already answered is answered again from the ledger.
    pub async fn process(
        &self,
        requests: &[RightsRequest],
    ) -> Result<(Vec<RightsResult>, BatchMetrics)> {
        let t0 = Instant::now();
        let before = self.statement_count();
        let mut metrics = BatchMetrics {
            requests: requests.len(),
            ..Default::default()
        };
        let service = self.config.service_name.clone();
        let result_of = |r: &RightsRequest, outcome: Outcome| RightsResult {
            request_id: r.request_id.clone(),
            guid: r.guid.clone(),
            right_type: r.right_type.as_str().to_string(),
            service_name: service.clone(),
            result: outcome,
            created_at: r.created_at,
            finished_at: now_epoch(),
        };
        let Deduplicated {
            unique,
            mut outcomes,
            reused,
        } = self.deduplicate(requests);

        // An ACCESS and an erasure of the same subject run in the order they were sent: the
        // batch is cut where one would otherwise overtake the other.
        for segment in in_order_segments(&unique) {
            self.process_segment(&segment, &mut outcomes, &mut metrics)
                .await?;
        }

        let results = requests
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let o = if reused.contains(&i) {
                    Outcome::error(REUSED_ID)
                } else {
                    outcomes
                        .get(&r.request_id)
                        .cloned()
                        .unwrap_or_else(|| Outcome::error("not processed"))
                };
                result_of(r, o)
            })
            .collect();
        metrics.statements = self.statement_count() - before;
        metrics.total_ms = t0.elapsed().as_secs_f64() * 1000.0;
        Ok((results, metrics))
    }

    /// One answer per request_id: the first occurrence decides, exact repeats get the same
    /// answer, and a reused id carrying another subject or right type gets an error (never
    /// the first request's answer: that would report an erasure that did not run).
    fn deduplicate<'a>(&self, requests: &'a [RightsRequest]) -> Deduplicated<'a> {
        let mut unique: Vec<&RightsRequest> = Vec::new();
        let mut first: HashMap<&str, &RightsRequest> = HashMap::new();
        let mut outcomes: HashMap<String, Outcome> = HashMap::new();
        let mut reused: HashSet<usize> = HashSet::new();
        for (i, r) in requests.iter().enumerate() {
            match first.get(r.request_id.as_str()) {
                Some(f) if f.guid != r.guid || f.right_type != r.right_type => {
                    reused.insert(i);
                }
                Some(_) => {}
                None => {
                    first.insert(&r.request_id, r);
                    if self.valid_guid(&r.guid) {
                        unique.push(r);
                    } else {
                        outcomes.insert(r.request_id.clone(), Outcome::error("invalid guid"));
                    }
                }
            }
        }
        Deduplicated {
            unique,
            outcomes,
            reused,
        }
    }

    /// Answer requests with distinct ids (no subject both exported and erased): load them as
    /// the batch, answer replays from the ledger, run the rest.
    async fn process_segment(
        &self,
        unique: &[&RightsRequest],
        outcomes: &mut HashMap<String, Outcome>,
        metrics: &mut BatchMetrics,
    ) -> Result<()> {
        if unique.is_empty() {
            return Ok(());
        }
        self.load_batch(unique).await?;
        let state = self.batch_state(unique, outcomes, metrics).await?;
        let to_run: Vec<&RightsRequest> = unique
            .iter()
            .copied()
            .filter(|r| !outcomes.contains_key(&r.request_id))
            .collect();
        if to_run.is_empty() {
            return Ok(());
        }
        let had = state.had_data(&to_run);
        // Erasures hold the write locks of every declared relation from their `started` row
        // to their proof, so no build writes rows it computed before them after them.
        let lock = if to_run.iter().any(|r| r.right_type.deletes()) {
            Some(self.lock_declared(to_run.len()).await?)
        } else {
            None
        };
        let fresh = self
            .execute_batch(&to_run, unique, &had, &state.via_keys, metrics)
            .await;
        if let Some(lock) = lock {
            self.adapter.unlock_writes(lock).await;
        }
        match fresh {
            Ok(map) => outcomes.extend(map),
            Err(e) => {
                for r in &to_run {
                    outcomes.insert(
                        r.request_id.clone(),
                        Outcome::error(format!("batch failed: {e}")),
                    );
                }
            }
        }
        // Record what was answered, failures too: a redelivery gets the same answer, and an
        // operator's retry (`strata rights retry`) is what runs a failed request again.
        let finished: Vec<(&RightsRequest, &Outcome)> = to_run
            .iter()
            .filter_map(|r| outcomes.get(&r.request_id).map(|o| (*r, o)))
            .collect();
        self.write_ledger("finished", &finished, &had, &HashMap::new())
            .await
    }

    /// The write locks of every declared relation (see `Adapter::lock_writes`).
    async fn lock_declared(&self, requests: usize) -> Result<crate::adapters::WriteLock> {
        let relations: Vec<crate::compile::Relation> = self
            .declared
            .iter()
            .filter_map(|d| d.relation(&self.compiler))
            .collect();
        self.adapter
            .lock_writes(
                &relations,
                &format!("erasure of {requests} requests by the rights engine"),
            )
            .await
    }

    /// (Re)create the batch table from the unique requests: ids travel as bound parameters
    /// only; `subject_no` is the request's position in `unique`.
    async fn load_batch(&self, unique: &[&RightsRequest]) -> Result<()> {
        let mut params = Vec::with_capacity(unique.len() * 4);
        for (i, r) in unique.iter().enumerate() {
            params.extend([
                r.request_id.clone(),
                r.guid.clone(),
                r.right_type.as_str().to_string(),
                i.to_string(),
            ]);
        }
        let load = self.render(
            "rights_load_batch",
            &[
                ("batch", rel(&self.batch)),
                ("n", Value::from(unique.len())),
                ("ledger", rel(&self.ledger)),
                ("declared", self.declared_value.clone()),
            ],
        )?;
        // Engines without CREATE OR REPLACE need a DROP first: only the last statement
        // carries the placeholders.
        let statements = sql::split_statements(&load);
        if let Some((last, before)) = statements.split_last() {
            for s in before {
                self.exec(s, &[], false).await?;
            }
            self.exec(last, &params, false).await?;
        }
        Ok(())
    }
}

/// Split requests into runs that keep their order: a new run starts where a subject's ACCESS
/// would share a batch with its erasure (the batch runs deletions before exports).
fn in_order_segments<'a>(requests: &[&'a RightsRequest]) -> Vec<Vec<&'a RightsRequest>> {
    let mut segments: Vec<Vec<&RightsRequest>> = Vec::new();
    let mut current: Vec<&RightsRequest> = Vec::new();
    // Per subject in the current run: (exported, erased).
    let mut kinds: HashMap<&str, (bool, bool)> = HashMap::new();
    for r in requests {
        let (exported, erased) = kinds.get(r.guid.as_str()).copied().unwrap_or_default();
        let conflict = if r.right_type.deletes() {
            exported
        } else {
            erased
        };
        if conflict {
            segments.push(std::mem::take(&mut current));
            kinds.clear();
        }
        let k = kinds.entry(r.guid.as_str()).or_default();
        if r.right_type.deletes() {
            k.1 = true;
        } else {
            k.0 = true;
        }
        current.push(r);
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}
