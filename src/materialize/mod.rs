//! Materializations: the order of statements that builds each kind of node. The SQL of each
//! statement comes from the adapter's macro templates (which a project may override).
//!
//! One file per materialization (`view`, `table`, `incremental`, `snapshot`, `seed`, data
//! `test`, `unit_test`), with the steps they share: enforced contracts (`contract`),
//! temporary tables and swaps (`table`), Athena's partition limit (`partition`), Hive tables
//! (`hive`), erased subjects left out of every declared write (`erased`), half-done swaps
//! put back at the start of a run (`swap_repair`).

mod contract;
mod docs;
mod erased;
mod hive;
mod incremental;
mod partition;
mod seed;
mod snapshot;
mod swap_repair;
mod table;
mod test;
pub mod unit_test;
mod view;

pub use snapshot::SnapshotSpec;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use minijinja::value::Value;

use crate::adapters::{Adapter, ExecResult};
use crate::compile::{CompileOptions, Compiler, Relation, RelationKind};
use crate::error::{Error, Result};
use crate::project::{Materialization, Node, Project};
use crate::sql;

/// Relations known to exist, keyed by (schema, identifier), valued by kind.
#[derive(Default)]
pub struct RelationCache(
    Mutex<HashMap<(String, String), RelationKind>>,
    /// Held while a relation that several nodes need is created on first use (the rights
    /// ledger): two nodes creating it at once conflict in DuckDB's catalog.
    tokio::sync::Mutex<()>,
    /// The engine's data versions of the schemas listed, by lowercase schema, as the
    /// listing found them (see `Adapter::list_relations_versioned`).
    Mutex<HashMap<String, HashMap<String, String>>>,
);

impl RelationCache {
    /// Held while creating a relation shared by several nodes; check the cache again
    /// once it is held.
    pub async fn creating(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.1.lock().await
    }

    pub fn kind(&self, rel: &Relation) -> Option<RelationKind> {
        self.0
            .lock()
            .ok()?
            .get(&(rel.schema.to_lowercase(), rel.identifier.to_lowercase()))
            .copied()
    }

    pub fn set(&self, rel: &Relation, kind: Option<RelationKind>) {
        if let Ok(mut m) = self.0.lock() {
            let key = (rel.schema.to_lowercase(), rel.identifier.to_lowercase());
            match kind {
                Some(k) => {
                    m.insert(key, k);
                }
                None => {
                    m.remove(&key);
                }
            }
        }
    }

    /// The tables known in `schema` (lowercase names).
    pub fn tables_in(&self, schema: &str) -> Vec<String> {
        let schema = schema.to_lowercase();
        match self.0.lock() {
            Ok(m) => m
                .iter()
                .filter(|((s, _), kind)| *s == schema && **kind == RelationKind::Table)
                .map(|((_, name), _)| name.clone())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The data versions a listing of `schema` found, if it was listed with them.
    pub fn versions_in(&self, schema: &str) -> Option<HashMap<String, String>> {
        self.2.lock().ok()?.get(&schema.to_lowercase()).cloned()
    }

    pub fn insert_versions(&self, schema: &str, versions: HashMap<String, String>) {
        if let Ok(mut m) = self.2.lock() {
            m.insert(schema.to_lowercase(), versions);
        }
    }

    pub fn insert_all(&self, schema: &str, items: Vec<(String, RelationKind)>) {
        if let Ok(mut m) = self.0.lock() {
            for (name, kind) in items {
                m.insert((schema.to_lowercase(), name.to_lowercase()), kind);
            }
        }
    }
}

/// The arguments of `create_table_as` besides the relation, by dbt's names (its signature is
/// dbt's: `temporary, relation, compiled_code`, so a project or package override written for
/// dbt receives them).
pub(super) fn ctas_args(sql: &str, temporary: bool) -> Vec<(&'static str, Value)> {
    vec![
        ("compiled_code", Value::from(sql)),
        ("temporary", Value::from(temporary)),
    ]
}

/// Everything a materialization needs.
pub struct Materializer<'a> {
    pub project: &'a Project,
    pub compiler: &'a Compiler,
    pub adapter: &'a Arc<dyn Adapter>,
    pub cache: &'a RelationCache,
    pub full_refresh: bool,
    /// A microbatch model's batch being built: `[start, end)` as dbt writes the times.
    pub batch: Option<(String, String)>,
}

/// What building a node did.
#[derive(Debug, Default)]
pub struct Built {
    pub response: ExecResult,
    /// For tests: the number of failing rows, and whether to warn or fail.
    pub failures: Option<u64>,
    pub should_warn: bool,
    pub should_error: bool,
    /// What the build warns about (documented columns the relation lacks).
    pub warnings: Vec<String>,
}

fn rel_value(r: &Relation) -> Value {
    Value::from_object(r.clone())
}

fn strings(v: &[String]) -> Value {
    Value::from(v.to_vec())
}

impl Materializer<'_> {
    /// One template's SQL text for `node` (a query other templates take as input).
    pub(super) fn sql_of(&self, node: &Node, name: &str, args: &[(&str, Value)]) -> Result<String> {
        self.compiler
            .call_macro(node, name, args, CompileOptions::default())
    }

    /// A template's statements for `node`.
    pub(super) fn render(
        &self,
        node: &Node,
        name: &str,
        args: &[(&str, Value)],
    ) -> Result<Vec<String>> {
        Ok(sql::split_statements(&self.sql_of(node, name, args)?))
    }

    pub(super) async fn run_all(
        &self,
        node: &Node,
        statements: &[String],
        atomic: bool,
    ) -> Result<ExecResult> {
        if statements.is_empty() {
            return Ok(ExecResult::default());
        }
        let r = if atomic && statements.len() > 1 {
            self.adapter.execute_atomic(statements).await
        } else {
            let mut total = ExecResult::default();
            for s in statements {
                let r = self.adapter.execute(s, false).await;
                match r {
                    Ok(r) => total.absorb(&r),
                    Err(e) => return Err(self.annotate(node, e)),
                }
            }
            Ok(total)
        };
        r.map_err(|e| self.annotate(node, e))
    }

    /// Engine errors name the node's compiled SQL so the reader can open it.
    pub(super) fn annotate(&self, node: &Node, e: Error) -> Error {
        e.map_runtime_message(|msg| {
            format!(
                "{msg}\n  compiled SQL: {}",
                compiled_path(self.project, node).display()
            )
        })
    }

    pub(super) fn target(&self, node: &Node) -> Result<Relation> {
        self.compiler
            .relation_of(&node.relation_key())
            .ok_or_else(|| Error::Adapter(format!("no relation for {}", node.unique_id)))
    }

    pub(super) async fn hooks(&self, node: &Node, key: &str) -> Result<()> {
        // dbt's order: pre-hooks outside the transaction (before_begin) run first,
        // post-hooks outside it (after_commit) last; otherwise as listed.
        let mut hooks = crate::project::config::hooks_with_transaction(node.config.get(key));
        hooks.sort_by_key(|(_, transaction)| (key == "pre_hook") == *transaction);
        let hooks: Vec<String> = hooks.into_iter().map(|(sql, _)| sql).collect();
        for (i, hook) in hooks.iter().enumerate() {
            let sql = self.compiler.render_for_node(
                node,
                &format!("{} {key}[{i}]", node.original_file_path.display()),
                hook,
            )?;
            let statements = sql::split_statements(&sql);
            self.run_all(node, &statements, false).await?;
        }
        Ok(())
    }

    pub async fn build(&self, node: &Node, compiled_sql: &str) -> Result<Built> {
        self.check_contract(node, compiled_sql).await?;
        self.hooks(node, "pre_hook").await?;
        // A relation with personal data is written under its write lock, from the statement
        // that computes its rows to the one that writes them: an erasure cannot come between.
        let lock = if self.filters_erased(node) {
            let target = self.target(node)?;
            Some(
                self.adapter
                    .lock_writes(&[target], &format!("build of {}", node.unique_id))
                    .await
                    .map_err(|e| self.annotate(node, e))?,
            )
        } else {
            None
        };
        let built = self.materialize(node, compiled_sql).await;
        if let Some(lock) = lock {
            self.adapter.unlock_writes(lock).await;
        }
        let mut built = built.map_err(|e| self.explain_erasure_filter(node, e))?;
        self.hooks(node, "post_hook").await?;
        if !node.is_ephemeral() {
            // dbt-athena's order: Lake Formation tags, then the docs.
            let target = self.target(node)?;
            self.adapter
                .after_build(&target, &node.config)
                .await
                .map_err(|e| self.annotate(node, e))?;
            self.persist_docs(node, &mut built).await?;
        }
        Ok(built)
    }

    /// The statements of `node`'s materialization.
    async fn materialize(&self, node: &Node, compiled_sql: &str) -> Result<Built> {
        let built = match node.config.materialization() {
            Materialization::View => self.view(node, compiled_sql).await?,
            Materialization::Table => {
                let sql = self.without_erased(node, compiled_sql).await?;
                self.table(node, &sql).await?
            }
            Materialization::Incremental => {
                let sql = self.without_erased(node, compiled_sql).await?;
                self.incremental(node, &sql).await?
            }
            Materialization::Seed => self.seed(node).await?,
            Materialization::Snapshot if self.hive(node)?.is_some() => {
                return Err(Error::Config {
                    path: node.original_file_path.clone(),
                    position: None,
                    message: "snapshots of Hive tables (table_type: hive) are not supported \
                              yet: dbt-athena rebuilds the whole snapshot table on each run \
                              (its history is absent meanwhile); set table_type: iceberg \
                              (one MERGE per run)"
                        .into(),
                })
            }
            Materialization::Snapshot => {
                let sql = self.without_erased(node, compiled_sql).await?;
                self.snapshot(node, &sql).await?
            }
            Materialization::Ephemeral => Built::default(),
            _ => {
                let other = node.config.materialized();
                return Err(Error::Config {
                    path: node.original_file_path.clone(),
                    position: None,
                    message: format!(
                        "unknown materialization '{other}' (view, table, incremental, ephemeral)"
                    ),
                });
            }
        };
        Ok(built)
    }

    /// A unit test: the model on fixture rows, compared with the expected rows.
    pub async fn unit_test(&self, node: &Node) -> Result<Built> {
        unit_test::run(self, node).await
    }
}

/// `max_bytes_scanned` (model config): fail the model when its statements scanned more.
pub fn check_scan_budget(node: &Node, response: &ExecResult) -> Result<()> {
    let Some(value) = node.config.get("max_bytes_scanned") else {
        return Ok(());
    };
    let Some(budget) = value.as_u64() else {
        return Err(Error::Config {
            path: node.original_file_path.clone(),
            position: None,
            message: format!(
                "max_bytes_scanned must be a whole number of bytes, not {value} \
                 (to stop a query before it scans too much, set the work group's \
                 BytesScannedCutoffPerQuery)"
            ),
        });
    };
    match response.bytes_scanned {
        Some(scanned) if scanned > budget => Err(Error::Adapter(format!(
            "{} scanned {scanned} bytes, more than its max_bytes_scanned budget of {budget} \
             (the statements ran; raise the budget or make the model read less)",
            node.name
        ))),
        _ => Ok(()),
    }
}

/// Where a node's compiled SQL is written: `target/compiled/<project>/<original path>`.
pub fn compiled_path(project: &Project, node: &Node) -> std::path::PathBuf {
    // Generic and unit tests live in YAML, snapshots several to a file: dbt writes them
    // below the file's name.
    let rel = if node.resource_type == crate::project::ResourceType::Snapshot {
        node.original_file_path.join(format!("{}.sql", node.name))
    } else if node.test_metadata.is_some()
        || node.resource_type == crate::project::ResourceType::UnitTest
    {
        node.original_file_path.join(&node.path)
    } else {
        node.original_file_path.clone()
    };
    project
        .target_dir()
        .join("compiled")
        .join(&node.package_name)
        .join(rel)
}
