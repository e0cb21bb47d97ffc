//! Answering a batch of rights requests with a fixed number of statements.
//!
//! For a batch of N requests over R declared relations: one statement loads the batch (ids
//! bound as parameters), one query reads the ledger and checks existence across all
//! relations, one ledger write before and one after, and per procedure R statements plus one
//! verification: 2R + 2 for a batch of erasures, O(R), not O(N x R). Each request still gets
//! its own answer. (A batch holding an ACCESS and an erasure of one subject runs as two, in
//! the order they were sent.)

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use minijinja::value::Value;
use regex::Regex;

use super::config::RightsConfig;
use super::declare::{self, Declared};
use super::message::{now_epoch, Outcome, RightType, RightsRequest, RightsResult};
use crate::adapters::{Adapter, ExecResult};
use crate::compile::{CompileOptions, Compiler, Relation};
use crate::error::{Error, Result};
use crate::project::{Node, Project, ResourceType};
use crate::session::Session;
use crate::sql;

/// Timings of one batch, for the metrics the reference document asks for.
#[derive(Debug, Clone, Default)]
pub struct BatchMetrics {
    pub requests: usize,
    pub statements: usize,
    pub existence_ms: f64,
    pub deletion_ms: f64,
    pub access_ms: f64,
    pub total_ms: f64,
}

pub struct RightsEngine {
    project: Arc<Project>,
    compiler: Arc<Compiler>,
    adapter: Arc<dyn Adapter>,
    pub config: RightsConfig,
    pattern: Regex,
    declared: Vec<Declared>,
    declared_value: Value,
    ledger: Relation,
    batch: Relation,
    purges: Relation,
    anchor: Node,
    procedures: HashMap<RightType, String>,
    statements: AtomicUsize,
}

fn rel(r: &Relation) -> Value {
    Value::from_object(r.clone())
}

impl RightsEngine {
    pub async fn new(session: &Session, config: RightsConfig) -> Result<Self> {
        let project = session.project.clone();
        let pattern = Regex::new(&config.subject_id_pattern).map_err(|e| {
            Error::config(
                &project.file_path,
                format!("rights.subject_id_pattern: {e}"),
            )
        })?;
        let mut declared = declare::declared(&project)?;
        // Relations reached through another one are handled first (see rights_delete).
        let via_targets: HashSet<String> = declared
            .iter()
            .filter_map(|d| d.via.as_ref().map(|v| v.relation.clone()))
            .collect();
        declared.sort_by_key(|d| {
            (
                via_targets.contains(&d.name),
                d.via.is_none(),
                d.name.clone(),
            )
        });
        let compiler = session.compiler.clone();
        let q = session.adapter.dialect().quoting;
        let target = &project.target;
        let mk = |name: &str| {
            Relation::new(
                q.as_ref(),
                Some(&target.database),
                &target.schema,
                name,
                "table",
            )
        };
        let mut items = Vec::new();
        for (i, d) in declared.iter().enumerate() {
            let relation = compiler.relation_of(&d.name).ok_or_else(|| {
                Error::config(&project.file_path, format!("no relation for {}", d.name))
            })?;
            let via = match &d.via {
                Some(v) => {
                    let vr = compiler.relation_of(&v.relation).ok_or_else(|| {
                        Error::config(
                            &project.file_path,
                            format!("no relation for {}", v.relation),
                        )
                    })?;
                    let mut m = BTreeMap::new();
                    m.insert("relation", rel(&vr));
                    m.insert("key", Value::from(v.key.clone()));
                    m.insert("subject_key", Value::from(v.subject_key.clone()));
                    Value::from(m)
                }
                None => Value::from(()),
            };
            let mut m = BTreeMap::new();
            m.insert("name", Value::from(d.name.clone()));
            m.insert("relation", rel(&relation));
            m.insert("key", Value::from(d.key.clone()));
            m.insert("via", via);
            // The batch table's column with the subjects' keys in this relation.
            m.insert("keys_column", Value::from(format!("via_keys_{i}")));
            items.push(Value::from(m));
        }
        let mut procedures = HashMap::new();
        for n in project.nodes.values() {
            if n.resource_type == ResourceType::Model && n.config.materialized() == "procedure" {
                for t in n.config.list("right_types") {
                    let rt = RightType::parse(&t).ok_or_else(|| {
                        Error::config(
                            &n.original_file_path,
                            format!("right_types: unknown right type '{t}'"),
                        )
                    })?;
                    if let Some(other) = procedures.insert(rt, n.unique_id.clone()) {
                        return Err(Error::config(
                            &n.original_file_path,
                            format!(
                                "two procedures answer {}: {other} and {}",
                                rt.as_str(),
                                n.unique_id
                            ),
                        ));
                    }
                }
            }
        }
        let anchor = Node::synthetic(project.name(), "rights");
        let engine = RightsEngine {
            ledger: mk("strata_rights_ledger"),
            // One batch table per process: consumers of one group (or `apply` beside
            // `consume`) never read each other's batch.
            batch: mk(&format!(
                "strata_rights_batch_{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            )),
            purges: mk("strata_rights_purged"),
            project,
            compiler,
            adapter: session.adapter.clone(),
            config,
            pattern,
            declared,
            declared_value: Value::from(items),
            anchor,
            procedures,
            statements: AtomicUsize::new(0),
        };
        engine
            .adapter
            .create_schema(
                &engine.project.target.database,
                &engine.project.target.schema,
            )
            .await?;
        let ddl = engine.render("rights_ledger_ddl", &[("ledger", rel(&engine.ledger))])?;
        engine.run_script(&ddl).await?;
        let ledger_columns = engine.adapter.get_columns(&engine.ledger).await?;
        if !ledger_columns
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case("via_keys"))
        {
            let add = engine.render(
                "rights_ledger_add_via_keys",
                &[("ledger", rel(&engine.ledger))],
            )?;
            engine.run_script(&add).await?;
        }
        // One row per purged erasure (request ids: several can finish in the same second).
        let purge_ddl = engine.render("rights_purged_ddl", &[("purged", rel(&engine.purges))])?;
        engine.run_script(&purge_ddl).await?;
        Ok(engine)
    }

    /// Drop this process's batch table (best effort: a leftover is a few ids, and the ledger
    /// already records every answer).
    pub async fn close(&self) {
        let batch = Relation {
            kind: "table".into(),
            ..self.batch.clone()
        };
        if let Ok(sql_text) = self.render("drop_relation", &[("relation", rel(&batch))]) {
            let _ = self.run_script(&sql_text).await;
        }
    }

    pub fn declared(&self) -> &[Declared] {
        &self.declared
    }

    pub fn valid_guid(&self, guid: &str) -> bool {
        self.pattern.is_match(guid)
    }

    /// Statements sent to the warehouse so far.
    pub fn statement_count(&self) -> usize {
        self.statements.load(Ordering::Relaxed)
    }

    fn render(&self, name: &str, args: &[(&str, Value)]) -> Result<String> {
        self.compiler
            .call_macro(&self.anchor, name, args, CompileOptions::default())
    }

    async fn exec(&self, sql_text: &str, params: &[String], fetch: bool) -> Result<ExecResult> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        if params.is_empty() {
            self.adapter.execute(sql_text, fetch).await
        } else {
            self.adapter
                .execute_with_params(sql_text, params, fetch)
                .await
        }
    }

    async fn run_script(&self, script: &str) -> Result<()> {
        for s in sql::split_statements(script) {
            self.exec(&s, &[], false).await?;
        }
        Ok(())
    }

    fn guids(r: &ExecResult) -> HashSet<String> {
        r.table
            .as_ref()
            .map(|t| {
                t.rows
                    .iter()
                    .filter_map(|row| row.first()?.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn subjects_with_data(&self, types: &[RightType]) -> Result<HashSet<String>> {
        let names: Vec<String> = types.iter().map(|t| t.as_str().to_string()).collect();
        let q = self.render(
            "rights_subjects_with_data",
            &[
                ("batch", rel(&self.batch)),
                ("declared", self.declared_value.clone()),
                ("right_types", Value::from(names)),
            ],
        )?;
        Ok(Self::guids(&self.exec(&q, &[], true).await?))
    }

    /// Compile and run the procedure model answering `rt`.
    async fn run_procedure(
        &self,
        rt: RightType,
        types: &[RightType],
        access_dir: Option<&str>,
    ) -> Result<()> {
        let id = self.procedures.get(&rt).ok_or_else(|| {
            Error::Usage(format!(
                "no procedure answers {}: add a model under models/rights/ with \
                 config(materialized='procedure', right_types=['{}'])",
                rt.as_str(),
                rt.as_str()
            ))
        })?;
        let node = &self.project.nodes[id];
        let mut ctx = BTreeMap::new();
        ctx.insert("batch", rel(&self.batch));
        ctx.insert("declared", self.declared_value.clone());
        ctx.insert(
            "right_types",
            Value::from(types.iter().map(|t| t.as_str()).collect::<Vec<_>>()),
        );
        ctx.insert("access_path", Value::from(access_dir.unwrap_or_default()));
        let opts = CompileOptions {
            extra: vec![("rights", Value::from(ctx))],
            ..Default::default()
        };
        let text = self.compiler.compile(&self.project, node, opts)?;
        let statements = sql::split_statements(&text);
        self.statements
            .fetch_add(statements.len(), Ordering::Relaxed);
        if rt.deletes() {
            self.adapter.execute_atomic(&statements).await?;
        } else {
            for s in &statements {
                self.adapter.execute(s, false).await?;
            }
        }
        Ok(())
    }

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

        // One answer per request_id: the first occurrence decides, exact repeats get the
        // same answer, and a reused id carrying another subject or right type gets an error
        // (never the first request's answer: that would report an erasure that did not run).
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
        // Load the batch, then ask the ledger and the declared relations in one query:
        // requests finished with a final answer (200, 201) are answered as before; a failed
        // one runs again; started ones keep what the existence check said the first time
        // (their rows may be gone by now).
        let mut started_had_data: HashMap<String, bool> = HashMap::new();
        let mut with_data: HashSet<String> = HashSet::new();
        self.load_batch(unique).await?;
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
        // The keys the batch captured per relation reached through another (columns 10..),
        // kept with the started row as `<relation> chr(30) <key>` items joined by chr(31).
        let via_names: Vec<&str> = self
            .declared
            .iter()
            .filter(|d| d.via.is_some())
            .map(|d| d.name.as_str())
            .collect();
        let mut via_keys: HashMap<String, String> = HashMap::new();
        for row in rows {
            let s = |i: usize| {
                row.get(i)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let flag = |i: usize| row.get(i).and_then(|v| v.as_bool()).unwrap_or(false);
            let rid = s(0);
            if flag(7) {
                with_data.insert(s(1));
            }
            if !via_keys.contains_key(&rid) {
                let items: Vec<String> = via_names
                    .iter()
                    .enumerate()
                    .flat_map(|(i, name)| {
                        s(10 + i)
                            .split('\u{1f}')
                            .filter(|k| !k.is_empty())
                            .map(|k| format!("{name}\u{1e}{k}"))
                            .collect::<Vec<_>>()
                    })
                    .collect();
                via_keys.insert(rid.clone(), items.join("\u{1f}"));
            }
            let phase = s(2);
            // As the batch table's `answered` (rights_batch_rows): only started and
            // finished rows count.
            if !matches!(phase.as_str(), "started" | "finished") {
                continue;
            }
            // The ledger knows this id from another request: the batch table marked it
            // answered, so no procedure touches its subject.
            if by_id
                .get(rid.as_str())
                .is_some_and(|r| s(8) != r.guid || s(9) != r.right_type.as_str())
            {
                outcomes.insert(rid, Outcome::error(REUSED_ID));
                continue;
            }
            match phase.as_str() {
                "finished" if is_final(&s(4)) => {
                    let attachments: Vec<String> = serde_json::from_str(&s(6)).unwrap_or_default();
                    outcomes.entry(rid).or_insert(Outcome {
                        code: s(4),
                        reason: s(5),
                        attachments,
                    });
                }
                "started" => {
                    let had = started_had_data.entry(rid).or_insert(false);
                    *had |= flag(3);
                }
                _ => {}
            }
        }
        let to_run: Vec<&RightsRequest> = unique
            .iter()
            .copied()
            .filter(|r| !outcomes.contains_key(&r.request_id))
            .collect();
        if to_run.is_empty() {
            return Ok(());
        }
        let had: HashMap<String, bool> = to_run
            .iter()
            .map(|r| {
                let before = started_had_data.get(&r.request_id).copied();
                (
                    r.request_id.clone(),
                    before.unwrap_or(false) || with_data.contains(&r.guid),
                )
            })
            .collect();
        let fresh = self
            .execute_batch(&to_run, unique, &had, &via_keys, metrics)
            .await;
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
        // Record what was answered (failures too: the answer says what happened, and a
        // resubmission runs again because only 200 and 201 are final).
        let finished: Vec<(&RightsRequest, &Outcome)> = to_run
            .iter()
            .filter_map(|r| outcomes.get(&r.request_id).map(|o| (*r, o)))
            .collect();
        self.write_ledger("finished", &finished, &had, &HashMap::new())
            .await
    }

    async fn write_ledger(
        &self,
        phase: &str,
        rows: &[(&RightsRequest, &Outcome)],
        had: &HashMap<String, bool>,
        via_keys: &HashMap<String, String>,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut params = Vec::with_capacity(rows.len() * 12);
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
            ]);
        }
        let row = "(?, ?, ?, ?, cast(? as boolean), ?, ?, ?, ?, cast(? as bigint), \
                   cast(? as bigint), nullif(?, ''))";
        let q = format!(
            "insert into {} (request_id, guid, right_type, phase, had_data, code, reason, \
             attachments, relations, created_at, finished_at, via_keys) values {}",
            self.ledger,
            vec![row; rows.len()].join(", ")
        );
        self.exec(&q, &params, false).await?;
        Ok(())
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

    /// Answer the unanswered requests of the loaded batch (`to_run`, a part of `unique`).
    async fn execute_batch(
        &self,
        to_run: &[&RightsRequest],
        unique: &[&RightsRequest],
        had: &HashMap<String, bool>,
        via_keys: &HashMap<String, String>,
        metrics: &mut BatchMetrics,
    ) -> Result<HashMap<String, Outcome>> {
        let has = |r: &RightsRequest| had.get(&r.request_id).copied().unwrap_or(false);
        let pending = Outcome {
            code: String::new(),
            reason: String::new(),
            attachments: Vec::new(),
        };
        let rows: Vec<(&RightsRequest, &Outcome)> = to_run.iter().map(|r| (*r, &pending)).collect();
        self.write_ledger("started", &rows, had, via_keys).await?;

        let mut outcomes = HashMap::new();
        for r in to_run {
            if !has(r) {
                outcomes.insert(r.request_id.clone(), Outcome::no_data());
            }
        }

        // ERASURE and SA_WITHDRAW: delete, then prove nothing is left.
        let deleting: Vec<&&RightsRequest> = to_run
            .iter()
            .filter(|r| r.right_type.deletes() && has(r))
            .collect();
        if !deleting.is_empty() {
            let t = Instant::now();
            let types: Vec<RightType> = {
                let mut v: Vec<RightType> = deleting.iter().map(|r| r.right_type).collect();
                v.sort_by_key(|t| t.as_str());
                v.dedup();
                v
            };
            // Both delete types share one procedure run when one model answers both.
            let mut by_proc: BTreeMap<String, Vec<RightType>> = BTreeMap::new();
            for t in &types {
                by_proc
                    .entry(self.procedures.get(t).cloned().unwrap_or_default())
                    .or_default()
                    .push(*t);
            }
            let mut failure: HashMap<RightType, String> = HashMap::new();
            for group in by_proc.values() {
                if let Err(e) = self.run_procedure(group[0], group, None).await {
                    for t in group {
                        failure.insert(*t, e.to_string());
                    }
                }
            }
            let remaining = self.subjects_with_data(&types).await?;
            for r in deleting {
                let o = if let Some(e) = failure.get(&r.right_type) {
                    Outcome::error(format!("deletion failed: {e}"))
                } else if remaining.contains(&r.guid) {
                    Outcome::error("rows of the subject remain after deletion")
                } else {
                    Outcome::success(Vec::new())
                };
                outcomes.insert(r.request_id.clone(), o);
            }
            metrics.deletion_ms += t.elapsed().as_secs_f64() * 1000.0;
        }

        // ACCESS: export each declared relation's rows, one folder per subject.
        let accessing: Vec<&&RightsRequest> = to_run
            .iter()
            .filter(|r| r.right_type == RightType::Access && has(r))
            .collect();
        if !accessing.is_empty() {
            let t = Instant::now();
            let dir = self.export_location()?;
            match self
                .run_procedure(RightType::Access, &[RightType::Access], Some(&dir))
                .await
            {
                Ok(()) => {
                    let all_files = self.adapter.list_files(&dir).await?;
                    let index: HashMap<&str, usize> = unique
                        .iter()
                        .enumerate()
                        .map(|(i, r)| (r.request_id.as_str(), i))
                        .collect();
                    for r in accessing {
                        let no = index
                            .get(r.request_id.as_str())
                            .copied()
                            .unwrap_or(usize::MAX);
                        let files = exported_files(&all_files, no);
                        outcomes.insert(r.request_id.clone(), Outcome::success(files));
                    }
                }
                Err(e) => {
                    for r in accessing {
                        outcomes.insert(
                            r.request_id.clone(),
                            Outcome::error(format!("export failed: {e}")),
                        );
                    }
                }
            }
            metrics.access_ms += t.elapsed().as_secs_f64() * 1000.0;
        }
        Ok(outcomes)
    }

    /// A new, empty place for one batch's ACCESS exports: a folder under `rights.access_path`
    /// (relative to the project), or a prefix under it when it is an `s3://` URI (Athena's
    /// UNLOAD writes there).
    fn export_location(&self) -> Result<String> {
        let base = &self.config.access_path;
        let id = uuid::Uuid::new_v4().to_string();
        if base.starts_with("s3://") {
            return Ok(format!("{}/{id}", base.trim_end_matches('/')));
        }
        if self.adapter.adapter_type() == "athena" {
            return Err(Error::config(
                &self.project.file_path,
                format!(
                    "rights.access_path is '{base}': on the athena target ACCESS exports go to S3, \
                     so it must be an s3:// prefix"
                ),
            ));
        }
        let dir = self.project.root.join(base).join(id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let dir = dir.canonicalize().map_err(|e| Error::io(&dir, e))?;
        Ok(dir.to_string_lossy().into_owned())
    }

    /// Erasures answered 200 since the last purge: (relations touched, oldest finished_at,
    /// newest finished_at, count). The ledger records the relations of each erasure.
    async fn pending_purge(&self) -> Result<Option<(Vec<String>, i64, i64, usize)>> {
        let q = format!(
            "select relations, min(finished_at), max(finished_at), count(*) from {ledger} \
             where phase = 'finished' and code = '200' and right_type in ('ERASURE', 'SA_WITHDRAW') \
               and request_id not in (select request_id from {purges}) \
             group by relations",
            ledger = self.ledger,
            purges = self.purges
        );
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
        Ok(Some((names, oldest, newest, count)))
    }

    /// Run the pending purges (`strata rights purge`): rewrite the tables erasures touched so
    /// deleted rows leave storage too (on Iceberg they live on in older snapshots until
    /// OPTIMIZE and VACUUM). Returns how many erasures were purged.
    pub async fn purge(&self) -> Result<usize> {
        let Some((names, _, newest, count)) = self.pending_purge().await? else {
            return Ok(0);
        };
        let mut relations = Vec::new();
        let mut properties = Vec::new();
        for name in &names {
            let Some(r) = self.compiler.relation_of(name) else {
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
        for r in &relations {
            let check = self.render(
                "rights_purge_check_sql",
                &[("relation", rel(r)), ("before_epoch", Value::from(newest))],
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
        // Mark what was pending when the purge started (not erasures finished since).
        let q = format!(
            "insert into {purges} select distinct request_id, cast(? as bigint) from {ledger} \
             where phase = 'finished' and code = '200' and right_type in ('ERASURE', 'SA_WITHDRAW') \
               and finished_at <= cast(? as bigint) and request_id not in (select request_id from {purges})",
            purges = self.purges,
            ledger = self.ledger
        );
        self.exec(&q, &[now_epoch().to_string(), newest.to_string()], false)
            .await?;
        Ok(count)
    }

    /// Delete the ACCESS exports older than `rights.access_retention_hours` (the files their
    /// answers listed) and record them as purged. Returns how many requests' exports went.
    pub async fn sweep_exports(&self) -> Result<usize> {
        let cutoff = now_epoch() - (self.config.access_retention_hours as i64) * 3600;
        let q = format!(
            "select request_id, attachments from {ledger} \
             where phase = 'finished' and code = '200' and right_type = 'ACCESS' \
               and finished_at <= cast(? as bigint) \
               and request_id not in (select request_id from {purges})",
            ledger = self.ledger,
            purges = self.purges
        );
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
        let q = format!(
            "insert into {} values {}",
            self.purges,
            vec!["(?, cast(? as bigint))"; ids.len()].join(", ")
        );
        self.exec(&q, &params, false).await?;
        Ok(ids.len())
    }

    /// Purge when the oldest unpurged erasure has used half of `purge_deadline_hours`, so a
    /// consumer that runs at least that often keeps the deadline. Returns erasures purged.
    pub async fn purge_if_due(&self) -> Result<usize> {
        let Some((_, oldest, _, _)) = self.pending_purge().await? else {
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

const REUSED_ID: &str = "request_id already used for another request (other guid or right_type)";

/// Answers that end a request: a resubmission of it is answered from the ledger. Anything
/// else (a failure) runs again when the request comes again.
fn is_final(code: &str) -> bool {
    matches!(code, "200" | "201")
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

/// The files written for subject `no` (under a `subject_no=<no>` folder), sorted.
fn exported_files(all: &[String], no: usize) -> Vec<String> {
    let part = format!("subject_no={no}");
    let mut files: Vec<String> = all
        .iter()
        .filter(|f| f.split('/').any(|c| c == part))
        .cloned()
        .collect();
    files.sort();
    files
}
