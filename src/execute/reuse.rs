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
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Mutex;

use serde_json::Value;

use crate::compile::{Relation, RelationKind};
use crate::materialize::RelationCache;
use crate::project::{Node, Project, ResourceType, Source};
use crate::session::Session;

/// The state table, in a schema of its own (so the target schema holds only the project's
/// relations); one row per relation built, so several targets can share it.
pub const STATE_SCHEMA: &str = "strata_state";
pub const STATE_TABLE: &str = "build_state";

/// The input standing for the rights ledger's erasures.
const LEDGER_INPUT: &str = "strata:rights_ledger";

/// Functions whose result changes from run to run: a model calling one is rebuilt.
const NOT_DETERMINISTIC: &[&str] = &[
    "now",
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "get_current_time",
    "get_current_timestamp",
    "transaction_timestamp",
    "today",
    "random",
    "rand",
    "uuid",
    "gen_random_uuid",
    "uuidv4",
    "uuidv7",
    "nextval",
    "setseed",
    "current_timezone",
];

/// What was recorded of a node's last build.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Recorded {
    sql_hash: String,
    inputs: BTreeMap<String, String>,
    version: String,
    built_at: String,
}

/// One row of the state: a relation (or `test:<id>`), the node that built it, and what.
#[derive(serde::Serialize, serde::Deserialize)]
struct StateRow {
    relation: String,
    node_id: String,
    #[serde(flatten)]
    recorded: Recorded,
}

/// Where the state is kept: a table read and written through SQL, or an object.
enum Store {
    Table(Relation),
    Object(String),
}

/// The state object's format (Athena): `{"rows": [...]}`.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct StateObject {
    rows: Vec<StateRow>,
}

/// A relation's key among the engine's data versions.
fn engine_key(relation: &Relation) -> (String, String) {
    (
        relation.schema.to_lowercase(),
        relation.identifier.to_lowercase(),
    )
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

fn hex_digest(text: &str) -> String {
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

    /// The rows of the state as last saved.
    async fn read_rows(&self, session: &Session) -> crate::error::Result<Vec<StateRow>> {
        match &self.store {
            Store::Object(uri) => Ok(match session.adapter.read_object(uri).await? {
                Some(bytes) => {
                    serde_json::from_slice::<StateObject>(&bytes)
                        .map_err(|e| {
                            crate::error::Error::Adapter(format!("the build state {uri}: {e}"))
                        })?
                        .rows
                }
                None => Vec::new(),
            }),
            Store::Table(table) => {
                let sql = format!(
                    "select relation, node_id, sql_hash, inputs, version, built_at from {}",
                    table.rendered
                );
                let result = session.adapter.execute(&sql, true).await?;
                let rows = result.table.map(|t| t.rows).unwrap_or_default();
                Ok(rows
                    .into_iter()
                    .map(|row| {
                        let text = |i: usize| {
                            row.get(i)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string()
                        };
                        StateRow {
                            relation: text(0),
                            node_id: text(1),
                            recorded: Recorded {
                                sql_hash: text(2),
                                inputs: serde_json::from_str(&text(3)).unwrap_or_default(),
                                version: text(4),
                                built_at: text(5),
                            },
                        }
                    })
                    .collect())
            }
        }
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

    /// Record this run's builds in the state table (one delete and one insert).
    pub(super) async fn save(&self, session: &Session) -> crate::error::Result<()> {
        let built = std::mem::take(
            &mut *self
                .built
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if !self.on || built.is_empty() {
            return Ok(());
        }
        let table = match &self.store {
            Store::Table(table) => table,
            Store::Object(uri) => {
                // Read again: another run may have saved since this one started. A row it
                // left for a relation this run built is replaced; the others stay.
                let mut rows = self.read_rows(session).await?;
                let replaced: std::collections::HashSet<&str> =
                    built.iter().map(|(r, _, _)| r.as_str()).collect();
                rows.retain(|row| !replaced.contains(row.relation.as_str()));
                rows.extend(
                    built
                        .into_iter()
                        .map(|(relation, node_id, recorded)| StateRow {
                            relation,
                            node_id,
                            recorded,
                        }),
                );
                rows.sort_by(|a, b| a.relation.cmp(&b.relation));
                let bytes = serde_json::to_vec_pretty(&StateObject { rows }).map_err(|e| {
                    crate::error::Error::Adapter(format!("the build state {uri}: {e}"))
                })?;
                return session.adapter.write_object(uri, bytes).await;
            }
        };
        let t = &table.rendered;
        let adapter = &session.adapter;
        let database = table.database.clone().unwrap_or_default();
        adapter.create_schema(&database, STATE_SCHEMA).await?;
        adapter
            .execute(
                &format!(
                    "create table if not exists {t} (relation varchar, node_id varchar, \
                     sql_hash varchar, inputs varchar, version varchar, built_at varchar)"
                ),
                false,
            )
            .await?;
        let marks = vec!["?"; built.len()].join(", ");
        let relations: Vec<String> = built.iter().map(|(r, _, _)| r.clone()).collect();
        adapter
            .execute_with_params(
                &format!("delete from {t} where relation in ({marks})"),
                &relations,
                false,
            )
            .await?;
        let rows = vec!["(?, ?, ?, ?, ?, ?)"; built.len()].join(", ");
        let mut params = Vec::with_capacity(built.len() * 6);
        for (relation, id, r) in built {
            params.push(relation);
            params.push(id);
            params.push(r.sql_hash);
            params.push(serde_json::to_string(&r.inputs).unwrap_or_default());
            params.push(r.version);
            params.push(r.built_at);
        }
        adapter
            .execute_with_params(&format!("insert into {t} values {rows}"), &params, false)
            .await?;
        Ok(())
    }
}

/// Whether building the node again over the same inputs leaves its relation as it is: true
/// of tables, seeds and snapshots, and of incremental models that replace what they write
/// (merge or delete+insert on a unique key, insert_overwrite). An append (the default
/// without a unique key) adds its rows again unless its SQL filters what is loaded, which
/// only the model's author knows: `reuse: true` says so.
fn rerun_changes_nothing(node: &Node, adapter: &dyn crate::adapters::Adapter) -> bool {
    if node.config.materialized() != "incremental" {
        return true;
    }
    let unique_key = !node.config.list("unique_key").is_empty();
    let partitioned = !node.config.list("partitioned_by").is_empty()
        || !node.config.list("partition_by").is_empty();
    let strategy = node
        .config
        .str("incremental_strategy")
        .unwrap_or_else(|| adapter.default_incremental_strategy(unique_key, partitioned));
    match strategy {
        "merge" | "delete+insert" => unique_key,
        "insert_overwrite" => partitioned,
        _ => false,
    }
}

/// A model's `build_after` (as dbt's `freshness: {build_after: ...}`, or directly in its
/// config): `{count, period: minute|hour|day, updates_on: any|all}`. With new upstream
/// data, the model keeps its last build until `count` periods have passed since it, and,
/// with `updates_on: all`, until every input has new data. Returns why it waits, or None
/// when it is due.
fn waits(node: &Node, inputs: &BTreeMap<String, String>, recorded: &Recorded) -> Option<String> {
    let build_after = node
        .config
        .get("build_after")
        .or_else(|| node.config.get("freshness")?.get("build_after"))?;
    let count = build_after
        .get("count")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let unit = match build_after.get("period").and_then(Value::as_str) {
        Some("minute") => 60,
        Some("hour") => 3600,
        Some("day") => 86_400,
        _ => return None,
    };
    let changed: Vec<&String> = inputs
        .iter()
        .filter(|(k, v)| recorded.inputs.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    // An erasure does not wait: what it deleted must not stand in what reads it.
    if changed.iter().any(|k| *k == LEDGER_INPUT) {
        return None;
    }
    let changed = changed.len();
    let all = build_after.get("updates_on").and_then(Value::as_str) == Some("all");
    if all && changed < inputs.len() {
        return Some(format!(
            "{changed} of {} inputs have new data (build_after.updates_on: all)",
            inputs.len()
        ));
    }
    let built = chrono::DateTime::parse_from_rfc3339(&recorded.built_at).ok()?;
    let due = built + chrono::Duration::seconds((count * unit) as i64);
    if chrono::Utc::now() < due {
        return Some(format!(
            "new upstream data waits until {} (build_after: {count} x {}s since the build at {})",
            due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            unit,
            recorded.built_at
        ));
    }
    None
}

/// The engine's data versions of every schema the project's relations and sources are in
/// (from the run's catalog listing where it has the schema), or None where the engine keeps
/// none. A schema that cannot be read has none: its relations are rebuilt.
async fn engine_versions(
    session: &Session,
    cache: &RelationCache,
) -> Option<HashMap<(String, String), String>> {
    let target = &session.project.target;
    // The target schema is always listed before a run; without versions for it, the
    // engine keeps none.
    cache.versions_in(&target.schema)?;
    // Each schema once, whichever database its relations name.
    let mut schemas = std::collections::BTreeMap::new();
    let mut add = |r: Relation| {
        schemas
            .entry(r.schema.to_lowercase())
            .or_insert((r.database.unwrap_or_default(), r.schema));
    };
    for node in session.project.nodes.values() {
        if let Some(r) = session.compiler.relation_of(&node.relation_key()) {
            add(r);
        }
    }
    for source in session.project.sources.values() {
        if let Some(r) = session
            .compiler
            .source_relation(&source.source_name, &source.name)
        {
            add(r);
        }
    }
    schemas
        .entry(target.schema.to_lowercase())
        .or_insert((target.database.clone(), target.schema.clone()));
    let mut versions = HashMap::new();
    for (key, (database, schema)) in schemas {
        let read = match cache.versions_in(&schema) {
            Some(listed) => Some(listed),
            None => session
                .adapter
                .list_relations_versioned(&database, &schema)
                .await
                .ok()
                .and_then(|(_, v)| v),
        };
        for (identifier, version) in read.unwrap_or_default() {
            versions.insert((key.clone(), identifier), version);
        }
    }
    Some(versions)
}

/// Views and ephemeral models store no data: theirs is a function of their inputs'.
fn derives_its_data(node: &Node) -> bool {
    node.resource_type == ResourceType::Model
        && matches!(node.config.materialized(), "view" | "ephemeral")
}

fn derived_version(node: &Node, inputs: &BTreeMap<String, String>) -> String {
    let inputs = serde_json::to_string(inputs).unwrap_or_default();
    hex_digest(&format!(
        "{}\u{1f}{}\u{1f}{inputs}",
        node.unique_id, node.checksum
    ))
}

/// The macros of the project and its packages, and Strata's version (its built-in
/// materializations): a change to any of them rebuilds everything.
fn environment(project: &Project) -> String {
    let mut text = String::from(env!("CARGO_PKG_VERSION"));
    for f in &project.macro_files {
        text.push('\u{1f}');
        text.push_str(&f.template_name);
        text.push('\u{1f}');
        text.push_str(&f.source);
    }
    hex_digest(&text)
}

/// Whether the compiled SQL calls a function whose result changes between runs.
pub fn reads_the_clock(sql: &str) -> bool {
    use sqlparser::ast::{visit_expressions, Expr};
    let dialect = sqlparser::dialect::GenericDialect {};
    let Ok(statements) = sqlparser::parser::Parser::parse_sql(&dialect, sql) else {
        // Unparsed SQL: look for the names in the text (never reuse on a guess).
        let lower = sql.to_lowercase();
        return NOT_DETERMINISTIC.iter().any(|f| lower.contains(f));
    };
    let found = visit_expressions(&statements, |expr| match expr {
        Expr::Function(f)
            if NOT_DETERMINISTIC.contains(&f.name.to_string().to_lowercase().as_str()) =>
        {
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    });
    found.is_break()
}

/// A file source's version: the files under the paths its external location names, with
/// their sizes and modification times. Anything else counts as changed in every run.
fn source_version(project: &Project, source: &Source, run_id: &str) -> String {
    let changed = || format!("changed:{run_id}");
    let Some(location) = source
        .config
        .get("external_location")
        .and_then(Value::as_str)
    else {
        return changed();
    };
    let paths = quoted_paths(location);
    if paths.is_empty() || paths.iter().any(|p| p.contains("://")) {
        return changed();
    }
    let mut listing = Vec::new();
    for path in paths {
        // Everything under the part of the path before its first wildcard.
        let base: String = path
            .split('/')
            .take_while(|part| !part.contains(['*', '?', '[', '{']))
            .collect::<Vec<_>>()
            .join("/");
        let root = project.root.join(if base.is_empty() { "." } else { &base });
        for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
            let Ok(entry) = entry else {
                return changed();
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(meta) = entry.metadata() else {
                return changed();
            };
            let modified = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            listing.push(format!(
                "{}\u{1f}{}\u{1f}{modified}",
                entry.path().display(),
                meta.len()
            ));
        }
        if !root.exists() {
            listing.push(format!("{}: missing", root.display()));
        }
    }
    hex_digest(&listing.join("\n"))
}

/// The quoted strings of an external location that name files (`'data/x/*.jsonl'`).
fn quoted_paths(location: &str) -> Vec<String> {
    location
        .split('\'')
        .skip(1)
        .step_by(2)
        .filter(|s| s.contains('/') && !s.contains(' ') && Path::new(s).extension().is_some())
        .map(str::to_string)
        .collect()
}

/// The rights ledger's erasures so far (their count and the newest), or "none".
async fn ledger_version(session: &Session) -> String {
    let target = &session.project.target;
    let ledger = session.compiler.relation(
        Some(&target.database),
        &target.schema,
        crate::project::rights::LEDGER_TABLE,
        RelationKind::Table,
    );
    let sql = format!(
        "select count(*), max(request_id) from {} where right_type in ('ERASURE', 'SA_WITHDRAW')",
        ledger.rendered
    );
    // No erasure yet reads the same whether the ledger exists or not: the first build,
    // which creates it, must not make the next one rebuild everything.
    match session.adapter.execute(&sql, true).await {
        Ok(r) => r
            .table
            .and_then(|t| t.rows.into_iter().next())
            .filter(|row| row.first().and_then(Value::as_i64) != Some(0))
            .map(|row| format!("{row:?}"))
            .unwrap_or_else(|| "none".into()),
        Err(_) => "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_and_randomness_are_found_in_the_ast() {
        assert!(reads_the_clock("select now() as t"));
        assert!(reads_the_clock(
            "select * from x where created_at > current_timestamp - interval '1' day"
        ));
        assert!(reads_the_clock("select random() as r"));
        assert!(!reads_the_clock("select 'now()' as text, count(*) from x"));
        assert!(!reads_the_clock("select created_at from x"));
    }

    #[test]
    fn file_paths_come_from_the_quoted_strings() {
        let location = "read_blob('data/landing/chat_events/*/*.jsonl') where x = 'a b'";
        assert_eq!(
            quoted_paths(location),
            vec!["data/landing/chat_events/*/*.jsonl".to_string()]
        );
    }
}
