//! Answering a batch of rights requests with a fixed number of statements.
//!
//! For a batch of N requests over R declared relations: one statement loads the batch (ids
//! bound as parameters), one query reads the ledger and checks existence across all
//! relations, one ledger write before and one after, and per procedure R statements plus one
//! verification: 2R + 2 for a batch of erasures, O(R), not O(N x R). Each request still gets
//! its own answer. (A batch holding an ACCESS and an erasure of one subject runs as two, in
//! the order they were sent.)
//!
//! This file holds the engine and its setup; the jobs are in `batch` (a batch from requests
//! to answers), `ledger` (what was answered before, and recording answers), `procedures`
//! (the procedure models that erase and export) and `purge` (making erasures final in
//! storage, removing old exports) and `retry` (an operator's second attempt at a failed request).

mod batch;
mod ledger;
mod procedures;
mod purge;
mod retry;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use minijinja::value::Value;
use regex::Regex;

use super::declare::{self, Declared};
use super::message::RightType;
use crate::adapters::{Adapter, ExecResult};
use crate::compile::{CompileOptions, Compiler, Relation, RelationKind};
use crate::error::{Error, Result, YamlStep};
use crate::project::{Node, Project, ResourceType, RightsConfig};
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

/// A result cell holding an integer: a JSON number (DuckDB) or its text (Athena).
fn int_cell(v: Option<&serde_json::Value>) -> Option<i64> {
    let v = v?;
    v.as_i64().or_else(|| v.as_str()?.parse().ok())
}

impl RightsEngine {
    pub async fn new(session: &Session, config: RightsConfig) -> Result<Self> {
        let project = session.project.clone();
        let pattern = subject_id_pattern(&project, &config)?;
        let declared = declared_in_order(&project)?;
        let compiler = session.compiler.clone();
        let declared_value = declared_items(&project, &compiler, &declared)?;
        let procedures = procedures_by_right_type(&project)?;
        let q = session.adapter.dialect().quoting;
        let target = &project.target;
        let mk = |name: &str| {
            Relation::new(
                q.as_ref(),
                Some(&target.database),
                &target.schema,
                name,
                RelationKind::Table,
            )
        };
        let anchor = Node::synthetic(project.name(), "rights");
        let engine = RightsEngine {
            ledger: mk(crate::project::rights::LEDGER_TABLE),
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
            declared_value,
            anchor,
            procedures,
            statements: AtomicUsize::new(0),
        };
        engine.create_bookkeeping_tables().await?;
        Ok(engine)
    }

    /// The schema, the ledger (with the columns older ledgers lack) and the table of
    /// purged requests.
    async fn create_bookkeeping_tables(&self) -> Result<()> {
        self.adapter
            .create_schema(&self.project.target.database, &self.project.target.schema)
            .await?;
        let ddl = self.render("rights_ledger_ddl", &[("ledger", rel(&self.ledger))])?;
        self.run_script(&ddl).await?;
        let ledger_columns = self.adapter.get_columns(&self.ledger).await?;
        for column in ["via_keys", "source"] {
            if !ledger_columns
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(column))
            {
                let add = self.render(
                    "rights_ledger_add_column",
                    &[
                        ("ledger", rel(&self.ledger)),
                        ("column", Value::from(column)),
                    ],
                )?;
                self.run_script(&add).await?;
            }
        }
        // One row per purged erasure (request ids: several can finish in the same second).
        let purge_ddl = self.render("rights_purged_ddl", &[("purged", rel(&self.purges))])?;
        self.run_script(&purge_ddl).await
    }

    /// Drop this process's batch table (best effort: a leftover is a few ids, and the ledger
    /// already records every answer).
    pub async fn close(&self) {
        let batch = Relation {
            kind: RelationKind::Table,
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
}

/// `rights.subject_id_pattern`, compiled.
fn subject_id_pattern(project: &Project, config: &RightsConfig) -> Result<Regex> {
    Regex::new(&config.subject_id_pattern).map_err(|e| {
        Error::config(
            &project.file_path,
            format!("rights.subject_id_pattern: {e}"),
        )
        .at_yaml_key_of_file(
            &project.file_path,
            &[YamlStep::Key("rights"), YamlStep::Key("subject_id_pattern")],
        )
    })
}

/// The declared relations, those reached through another one first (see rights_delete).
fn declared_in_order(project: &Project) -> Result<Vec<Declared>> {
    let mut declared = declare::declared(project)?;
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
    Ok(declared)
}

/// The declared relations as the rights macros take them (`declared`): name, relation, key,
/// `via` and the batch table's column with the subjects' keys in it.
fn declared_items(project: &Project, compiler: &Compiler, declared: &[Declared]) -> Result<Value> {
    let relation_of = |name: &str| {
        compiler
            .relation_of(name)
            .ok_or_else(|| Error::config(&project.file_path, format!("no relation for {name}")))
    };
    let mut items = Vec::new();
    for (i, d) in declared.iter().enumerate() {
        let relation = d.relation(compiler).ok_or_else(|| {
            Error::config(&project.file_path, format!("no relation for {}", d.name))
        })?;
        let via = match &d.via {
            Some(v) => {
                let vr = relation_of(&v.relation)?;
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
        m.insert("raw_text", Value::from(d.raw_text.clone()));
        // The batch table's column with the subjects' keys in this relation.
        m.insert("keys_column", Value::from(format!("via_keys_{i}")));
        items.push(Value::from(m));
    }
    Ok(Value::from(items))
}

/// The procedure model answering each right type (`materialized='procedure'`, `right_types`).
fn procedures_by_right_type(project: &Project) -> Result<HashMap<RightType, String>> {
    let mut procedures = HashMap::new();
    for n in project.nodes.values() {
        if n.resource_type != ResourceType::Model || n.config.materialized() != "procedure" {
            continue;
        }
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
    Ok(procedures)
}
