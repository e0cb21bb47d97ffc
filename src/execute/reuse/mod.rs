//! State-aware builds. A model, seed or snapshot is reused instead of rebuilt (status
//! REUSED) when all of these hold since its last successful build by Strata:
//! - its compiled SQL, config and relation are the same, and so are the project's macros;
//! - every input holds the same data version;
//! - its SQL reads no clock or random source (unless its config says `reuse: true`).
//!
//! A view is recreated only when its SQL changed. Its data version, like an ephemeral
//! model's, is derived from its inputs', so it never blocks reuse downstream.
//!
//! Data versions:
//! - relations Strata built: recorded in the warehouse, a row per relation, so a decision
//!   holds from CI, cron or a laptop alike (DuckDB: table `strata_state.build_state`;
//!   Athena: a JSON object in S3, read with no query);
//! - where the engine keeps a version of its own that every write replaces (Athena: an
//!   Iceberg table's `metadata_location` in Glue), that version, for sources and built
//!   relations alike: a relation is reused only while it holds what its last build left;
//! - file sources: their files' paths, sizes and modification times;
//! - anything that cannot be read (a DuckDB table source, a Hive table, a remote path):
//!   changed, every run.
//!
//! In a project with a `rights:` section the ledger's erasures are an input of every node:
//! an erasure deletes rows outside any build.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::Value;

use crate::compile::{Relation, RelationKind};
use crate::materialize::RelationCache;
use crate::project::{Node, Project, ResourceType};
use crate::session::Session;

/// The state table, in a schema of its own (so the target schema holds only the project's
/// relations); one row per relation built, so several targets can share it.
pub const STATE_SCHEMA: &str = "strata_state";
pub const STATE_TABLE: &str = "build_state";

/// The input standing for the rights ledger's erasures.
pub(super) const LEDGER_INPUT: &str = "strata:rights_ledger";

mod rules;
mod store;
mod versions;

pub use rules::reads_the_clock;
use rules::{rerun_changes_nothing, waits};
use store::Store;
use versions::{
    derived_version, derives_its_data, engine_key, engine_versions, environment, ledger_version,
    source_version,
};

/// What was recorded of a node's last build.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Recorded {
    sql_hash: String,
    inputs: BTreeMap<String, String>,
    version: String,
    built_at: String,
}

/// Whether a node runs, and why.
pub(super) enum Decision {
    Build(String),
    Reuse(String),
}

/// "new data in a, b": the inputs whose versions differ from the last build's.
fn new_data(inputs: &BTreeMap<String, String>, recorded: &Recorded) -> String {
    let changed: Vec<&str> = inputs
        .iter()
        .filter(|(k, v)| recorded.inputs.get(*k) != Some(*v))
        .map(|(k, _)| match k.as_str() {
            LEDGER_INPUT => "the rights ledger (an erasure)",
            id => id.rsplit('.').next().unwrap_or(id),
        })
        .collect();
    match changed.is_empty() {
        // The same inputs, fewer or more of them: the node's SQL changed its refs.
        true => "its inputs changed".into(),
        false => format!("new data in {}", changed.join(", ")),
    }
}

pub(super) struct Reuse {
    on: bool,
    /// Whether anything may be reused this run: not under --full-refresh or --no-reuse,
    /// which still record what they build (a later run must see the new data versions).
    may_reuse: bool,
    /// `--empty`: nothing is reused, and what is built is recorded as never to be reused
    /// (a relation without rows must not stand in for a build).
    shapes_only: bool,
    store: Store,
    /// The engine's own data versions, read before the run (None: it keeps none).
    engine: Option<HashMap<(String, String), String>>,
    run_id: String,
    /// Everything outside a node's own SQL that shapes what its build does.
    environment: String,
    recorded: HashMap<String, Recorded>,
    /// Data versions as they stand in this run (sources, and nodes as they finish).
    current: Mutex<HashMap<String, String>>,
    /// Rows to record at the end of the run: relation, node, what was built.
    built: Mutex<Vec<(String, String, Recorded)>>,
    /// Each node's relation as rendered (the state table's key).
    relations: HashMap<String, String>,
}

pub(super) fn hex_digest(text: &str) -> String {
    crate::memo::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Reuse {
    /// Off: every node runs, and nothing is recorded.
    pub(super) fn off(session: &Session) -> Self {
        Self::empty(session, false)
    }

    fn empty(session: &Session, on: bool) -> Self {
        let target = &session.project.target;
        let table = session.compiler.relation(
            Some(&target.database),
            STATE_SCHEMA,
            STATE_TABLE,
            RelationKind::Table,
        );
        Reuse {
            on,
            may_reuse: on,
            shapes_only: session.compiler.empty_run(),
            store: match session.adapter.build_state_object() {
                Some(uri) => Store::Object(uri),
                None => Store::Table(table),
            },
            engine: None,
            run_id: session.invocation_id.clone(),
            environment: environment(&session.project),
            recorded: HashMap::new(),
            current: Mutex::new(HashMap::new()),
            built: Mutex::new(Vec::new()),
            relations: session
                .project
                .nodes
                .values()
                .filter_map(|n| match n.resource_type {
                    // A data test has no relation: its row is keyed by its id.
                    ResourceType::Test => {
                        Some((n.unique_id.clone(), format!("test:{}", n.unique_id)))
                    }
                    _ if n.is_relational() => {
                        let r = session.compiler.relation_of(&n.relation_key())?;
                        Some((n.unique_id.clone(), r.rendered))
                    }
                    _ => None,
                })
                .collect(),
        }
    }

    /// The recorded state and the sources' data versions, read once before the run;
    /// `may_reuse` false rebuilds everything and still records it.
    pub(super) async fn load(session: &Session, cache: &RelationCache, may_reuse: bool) -> Self {
        let mut reuse = Self::empty(session, true);
        reuse.may_reuse = may_reuse;
        // No state yet (or state that cannot be read): nothing is reused.
        for row in reuse.read_rows(session).await.unwrap_or_default() {
            reuse.recorded.insert(row.relation, row.recorded);
        }
        reuse.engine = engine_versions(session, cache).await;
        let mut current = HashMap::new();
        for source in session.project.sources.values() {
            let engine = reuse.engine.as_ref().and_then(|versions| {
                let relation = session
                    .compiler
                    .source_relation(&source.source_name, &source.name)?;
                versions.get(&engine_key(&relation)).cloned()
            });
            // An external location is read only where the engine reads one (DuckDB); on
            // Athena the source is a Glue table whatever its config says.
            let version = match engine {
                Some(v) => v,
                None if session.adapter.dialect().reads_external_locations => {
                    source_version(&session.project, source, &reuse.run_id)
                }
                None => format!("changed:{}", reuse.run_id),
            };
            current.insert(source.unique_id.clone(), version);
        }
        if session.project.rights.is_some() {
            // Where the engine versions tables, the ledger's version is read with the rest
            // (no query): any request recorded since counts as a change.
            let version = match &reuse.engine {
                Some(versions) => {
                    let target = &session.project.target;
                    let key = (
                        target.schema.to_lowercase(),
                        crate::project::rights::LEDGER_TABLE.to_string(),
                    );
                    versions.get(&key).cloned().unwrap_or_else(|| "none".into())
                }
                None => ledger_version(session).await,
            };
            current.insert(LEDGER_INPUT.to_string(), version);
        }
        reuse.current = Mutex::new(current);
        reuse
    }

    fn lock_current(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The data version of `id` as it stands now in this run.
    fn version_of(&self, project: &Project, id: &str, depth: usize) -> String {
        if let Some(v) = self.lock_current().get(id) {
            return v.clone();
        }
        let Some(node) = project.nodes.get(id) else {
            return format!("unknown:{}", self.run_id);
        };
        if derives_its_data(node) && depth < 256 {
            let inputs = self.inputs_of(project, node, depth + 1);
            return derived_version(node, &inputs);
        }
        match self.recorded_of(node) {
            Some(r) => r.version.clone(),
            None => format!("unknown:{}", self.run_id),
        }
    }

    /// What was recorded of the last build of `node`'s relation.
    fn recorded_of(&self, node: &Node) -> Option<&Recorded> {
        let relation = self.relations.get(&node.unique_id)?;
        self.recorded.get(relation)
    }

    fn inputs_of(&self, project: &Project, node: &Node, depth: usize) -> BTreeMap<String, String> {
        let mut inputs: BTreeMap<String, String> = node
            .depends_on
            .iter()
            .map(|d| (d.clone(), self.version_of(project, d, depth)))
            .collect();
        if let Some(v) = self.lock_current().get(LEDGER_INPUT) {
            inputs.insert(LEDGER_INPUT.to_string(), v.clone());
        }
        inputs
    }

    /// Whether `node` runs. `sql` is its compiled SQL (a seed's is empty).
    pub(super) fn decide(
        &self,
        project: &Project,
        node: &Node,
        sql: &str,
        cache: &RelationCache,
        relation: Option<&Relation>,
        adapter: &dyn crate::adapters::Adapter,
    ) -> Decision {
        if node.resource_type == ResourceType::Test {
            return self.decide_test(project, node, sql);
        }
        let build = |why: &str| Decision::Build(why.to_string());
        if !self.may_reuse {
            return build("--no-reuse or --full-refresh");
        }
        if self.shapes_only {
            return build("--empty builds are never reused");
        }
        if !matches!(
            node.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
        ) {
            return build("always runs");
        }
        let own = node.config.get("reuse").and_then(Value::as_bool);
        if own == Some(false) {
            return build("reuse: false");
        }
        let Some(recorded) = self.recorded_of(node) else {
            return build("no build recorded");
        };
        if recorded.sql_hash != self.sql_hash(node, sql, relation) {
            return build("its SQL, config or the project's macros changed");
        }
        // Parsing the SQL is the costly check: only for a node that could be reused.
        if own != Some(true) {
            if !rerun_changes_nothing(node, adapter) {
                return build("an append adds its rows again (reuse: true says it may not)");
            }
            if reads_the_clock(sql) {
                return build("its SQL reads the clock or a random source");
            }
        }
        let Some(relation) = relation.filter(|r| cache.kind(r).is_some()) else {
            return build("its relation is missing");
        };
        // Where the engine versions its relations, the relation must still hold what the
        // last build left: a write from outside Strata is undone by building again.
        if let Some(versions) = &self.engine {
            if !derives_its_data(node)
                && versions.get(&engine_key(relation)) != Some(&recorded.version)
            {
                return build("its relation was written since its last build");
            }
        }
        if derives_its_data(node) {
            self.lock_current().remove(&node.unique_id);
            return Decision::Reuse(format!("SQL unchanged since {}", recorded.built_at));
        }
        let inputs = self.inputs_of(project, node, 0);
        let reason = if inputs == recorded.inputs {
            format!("inputs and SQL unchanged since {}", recorded.built_at)
        } else {
            match waits(node, &inputs, recorded) {
                Some(reason) => reason,
                None => return Decision::Build(new_data(&inputs, recorded)),
            }
        };
        self.lock_current()
            .insert(node.unique_id.clone(), recorded.version.clone());
        Decision::Reuse(reason)
    }

    /// A data test is reused when it passed last time with the same SQL over inputs of the
    /// same data versions: its result would be the same. A test that failed or warned runs
    /// again (its rows are worth seeing).
    fn decide_test(&self, project: &Project, node: &Node, sql: &str) -> Decision {
        let build = |why: &str| Decision::Build(why.to_string());
        if !self.may_reuse {
            return build("--no-reuse or --full-refresh");
        }
        if self.shapes_only {
            return build("--empty builds are never reused");
        }
        if node.config.get("reuse").and_then(Value::as_bool) == Some(false) {
            return build("reuse: false");
        }
        let Some(recorded) = self.recorded_of(node) else {
            return build("no run recorded");
        };
        if recorded.version != "pass" {
            return build(&format!("its last run ended {}", recorded.version));
        }
        if recorded.sql_hash != self.sql_hash(node, sql, None) {
            return build("its SQL, config or the project's macros changed");
        }
        if reads_the_clock(sql) {
            return build("its SQL reads the clock or a random source");
        }
        let inputs = self.inputs_of(project, node, 0);
        if inputs != recorded.inputs {
            return Decision::Build(new_data(&inputs, recorded));
        }
        Decision::Reuse(format!(
            "passed over the same inputs since {}",
            recorded.built_at
        ))
    }

    /// After a Build decision that is not carried out (`reuse:stale` decides without
    /// building): what reads the node must count it as new data, as after a build.
    pub(super) fn would_build(&self, node: &Node) {
        if node.is_relational() && !derives_its_data(node) {
            self.lock_current()
                .insert(node.unique_id.clone(), format!("stale:{}", self.run_id));
        }
    }

    /// After a data test ran: its outcome, for the next run to reuse a pass.
    pub(super) fn tested(&self, project: &Project, node: &Node, sql: &str, status: &str) {
        if !self.on || self.shapes_only || node.resource_type != ResourceType::Test {
            return;
        }
        let Some(key) = self.relations.get(&node.unique_id) else {
            return;
        };
        let recorded = Recorded {
            sql_hash: self.sql_hash(node, sql, None),
            inputs: self.inputs_of(project, node, 0),
            version: status.to_string(),
            built_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        self.built
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((key.clone(), node.unique_id.clone(), recorded));
    }

    fn sql_hash(&self, node: &Node, sql: &str, relation: Option<&Relation>) -> String {
        let config = serde_json::to_string(node.config.entries()).unwrap_or_default();
        let relation = relation.map(|r| r.rendered.as_str()).unwrap_or_default();
        hex_digest(&format!(
            "{}\u{1f}{}\u{1f}{sql}\u{1f}{config}\u{1f}{relation}\u{1f}{}",
            node.unique_id, node.checksum, self.environment
        ))
    }

    /// After a successful build: the node's new data version, recorded at the end. Where
    /// the engine versions relations, it is the engine's (read now, as the build left it);
    /// without one the relation is never reused.
    pub(super) async fn built(
        &self,
        project: &Project,
        node: &Node,
        sql: &str,
        relation: Option<&Relation>,
        adapter: &dyn crate::adapters::Adapter,
    ) {
        if !self.on || !node.is_relational() {
            return;
        }
        let inputs = self.inputs_of(project, node, 0);
        let own = || hex_digest(&format!("{}\u{1f}{}", self.run_id, node.unique_id));
        let version = if derives_its_data(node) {
            derived_version(node, &inputs)
        } else if self.engine.is_some() {
            // A Hive table has no version (its files can change with no trace in the
            // catalog): not worth a lookup.
            let hive = adapter.hive_table(&node.config).ok().flatten().is_some();
            match relation.filter(|_| !hive) {
                Some(r) => match adapter.data_version(r).await {
                    Ok(Some(v)) => v,
                    _ => format!("unversioned:{}", own()),
                },
                None => format!("unversioned:{}", own()),
            }
        } else {
            own()
        };
        if !derives_its_data(node) {
            self.lock_current()
                .insert(node.unique_id.clone(), version.clone());
        }
        let sql_hash = match self.shapes_only {
            true => format!("empty:{}", self.run_id),
            false => self.sql_hash(node, sql, relation),
        };
        let recorded = Recorded {
            sql_hash,
            inputs,
            version,
            built_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        let Some(relation) = self.relations.get(&node.unique_id) else {
            return;
        };
        self.built
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((relation.clone(), node.unique_id.clone(), recorded));
    }

    /// After a failed build: what reads the node must run again.
    pub(super) fn failed(&self, node: &Node) {
        if !self.on {
            return;
        }
        self.lock_current()
            .insert(node.unique_id.clone(), format!("failed:{}", self.run_id));
        // A test that errored must not be reused from an earlier pass.
        if let (ResourceType::Test, Some(key)) =
            (node.resource_type, self.relations.get(&node.unique_id))
        {
            let recorded = Recorded {
                sql_hash: String::new(),
                inputs: BTreeMap::new(),
                version: "error".into(),
                built_at: String::new(),
            };
            self.built
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((key.clone(), node.unique_id.clone(), recorded));
        }
    }
}
