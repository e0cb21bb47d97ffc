//! `strata maintain`: OPTIMIZE (bin-pack small files) and VACUUM (expire snapshots, remove
//! files no snapshot needs) on the selected tables, with their snapshot and file counts
//! before and after. On Iceberg, VACUUM is also what makes erased rows leave storage.

use minijinja::value::Value;

use crate::compile::{CompileOptions, Relation, RelationKind};
use crate::error::{Error, Result};
use crate::project::{Node, ResourceType};
use crate::session::{Command, RunOptions, Session};
use crate::sql;

/// What maintenance did to one table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableReport {
    pub relation: String,
    pub before: Health,
    pub after: Health,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Health {
    pub snapshots: u64,
    pub files: u64,
}

pub struct MaintainOptions {
    pub optimize: bool,
    pub vacuum: bool,
}

fn is_table(node: &Node) -> bool {
    node.is_relational_kind()
        && matches!(
            node.config.materialized(),
            "table" | "incremental" | "seed" | "snapshot"
        )
}

impl Session {
    async fn render_statements(
        &self,
        node: &Node,
        name: &str,
        rel: &Relation,
    ) -> Result<Vec<String>> {
        let text = self.compiler.call_macro(
            node,
            name,
            &[("relation", Value::from_object(rel.clone()))],
            CompileOptions::default(),
        )?;
        Ok(sql::split_statements(&text))
    }

    async fn health(&self, node: &Node, rel: &Relation) -> Result<Health> {
        let mut h = Health::default();
        for stmt in self
            .render_statements(node, "table_health_sql", rel)
            .await?
        {
            let r = self.adapter.execute(&stmt, true).await?;
            let row = r
                .table
                .and_then(|t| t.rows.into_iter().next())
                .unwrap_or_default();
            let num = |v: Option<&serde_json::Value>| {
                v.and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()))
                    .unwrap_or(0)
            };
            h = Health {
                snapshots: num(row.first()),
                files: num(row.get(1)),
            };
        }
        Ok(h)
    }

    /// Maintain every selected table that exists, one after the other (OPTIMIZE and VACUUM
    /// of one table must not overlap, and Athena bills each).
    pub async fn maintain(
        &self,
        select: &RunOptions,
        opts: &MaintainOptions,
    ) -> Result<Vec<TableReport>> {
        let kind = self.adapter.adapter_type().to_string();
        if !["optimize_table", "vacuum_table", "table_health_sql"]
            .iter()
            .all(|m| self.compiler.has_macro(&format!("{kind}__{m}")))
        {
            return Err(Error::Usage(format!(
                "strata maintain needs Iceberg tables: the {kind} target has none (its adapter \
                 defines no {kind}__optimize_table, {kind}__vacuum_table, {kind}__table_health_sql)"
            )));
        }
        let ids = self.select(
            Command::List,
            select,
            Some(&[ResourceType::Model, ResourceType::Seed]),
        )?;
        let mut reports = Vec::new();
        let mut schemas_seen: std::collections::HashMap<String, Vec<(String, RelationKind)>> =
            Default::default();
        for id in ids {
            let Some(node) = self.project.nodes.get(&id) else {
                continue;
            };
            if !is_table(node) {
                continue;
            }
            let Some(rel) = self.compiler.relation_of(&node.relation_key()) else {
                continue;
            };
            if !schemas_seen.contains_key(&rel.schema) {
                let db = rel.database.clone().unwrap_or_default();
                let list = self.adapter.list_relations(&db, &rel.schema).await?;
                schemas_seen.insert(rel.schema.clone(), list);
            }
            let exists = schemas_seen.get(&rel.schema).is_some_and(|l| {
                l.iter().any(|(n, k)| {
                    n.eq_ignore_ascii_case(&rel.identifier) && *k == RelationKind::Table
                })
            });
            if !exists {
                self.printer
                    .info("maintain", &format!("{rel}: not built yet, skipped"));
                continue;
            }
            let before = self
                .health(node, &rel)
                .await
                .map_err(|e| annotate(&rel, e))?;
            let mut steps = Vec::new();
            if opts.optimize {
                steps.push("optimize_table");
            }
            if opts.vacuum {
                steps.push("vacuum_table");
            }
            for step in steps {
                for stmt in self.render_statements(node, step, &rel).await? {
                    self.adapter
                        .execute(&stmt, false)
                        .await
                        .map_err(|e| annotate(&rel, e))?;
                }
            }
            let after = self
                .health(node, &rel)
                .await
                .map_err(|e| annotate(&rel, e))?;
            self.printer.info(
                "maintain",
                &format!(
                    "{rel}: snapshots {} -> {}, data files {} -> {}",
                    before.snapshots, after.snapshots, before.files, after.files
                ),
            );
            reports.push(TableReport {
                relation: rel.to_string(),
                before,
                after,
            });
        }
        Ok(reports)
    }
}

fn annotate(rel: &Relation, e: Error) -> Error {
    e.map_runtime_message(|m| format!("maintaining {rel}: {m}"))
}
