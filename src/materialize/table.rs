//! `table`: one atomic replace where the engine has it; otherwise build under a temporary
//! name and swap it in (a failed build leaves the old table readable).

use minijinja::value::Value;

use super::{rel_value, Built, Materializer};
use crate::adapters::ExecResult;
use crate::compile::{Relation, RelationKind};
use crate::error::Result;
use crate::project::Node;

impl Materializer<'_> {
    /// Build `compiled_sql` (or the seed) into a temporary table, then swap it in so readers
    /// never see a missing table and a failed build leaves the old one.
    pub(super) async fn table(&self, node: &Node, compiled_sql: &str) -> Result<Built> {
        let target = self.target(node)?;
        // One atomic statement where the engine has it (a quarter of the commits), unless
        // the project customises how tables are created.
        if self.batched_partitions(node).is_none()
            && !self.compiler.project_overrides("create_table_as")
        {
            let table = Relation {
                kind: RelationKind::Table,
                ..target.clone()
            };
            let replace = self.render(
                node,
                "replace_table_as",
                &[
                    ("relation", rel_value(&table)),
                    ("sql", Value::from(compiled_sql)),
                ],
            )?;
            if !replace.is_empty() {
                let mut statements = Vec::new();
                if self.cache.kind(&target) == Some(RelationKind::View) {
                    let view = Relation {
                        kind: RelationKind::View,
                        ..target.clone()
                    };
                    statements.extend(self.render(
                        node,
                        "drop_relation",
                        &[("relation", rel_value(&view))],
                    )?);
                }
                statements.extend(replace);
                let response = self.run_all(node, &statements, true).await?;
                self.cache.set(&target, Some(RelationKind::Table));
                return Ok(Built {
                    response,
                    ..Default::default()
                });
            }
        }
        let tmp = self.temp_relation(node, &target, "tmp")?;
        let mut response = self
            .create_table_in_batches(node, &tmp, compiled_sql)
            .await?;
        response.absorb(&self.swap_in(node, &target, &tmp).await?);
        Ok(Built {
            response,
            ..Default::default()
        })
    }

    pub(super) fn temp_relation(
        &self,
        _node: &Node,
        target: &Relation,
        suffix: &str,
    ) -> Result<Relation> {
        let q = self.adapter.dialect().quoting;
        let mut r = target.with_identifier(
            q.as_ref(),
            &format!("{}__strata_{suffix}", target.identifier),
        );
        r.kind = RelationKind::Table;
        Ok(r)
    }

    /// Drop any leftover `tmp`, then create it with `macro_name(relation=tmp, ...)`.
    pub(super) async fn create_temp(
        &self,
        node: &Node,
        tmp: &Relation,
        macro_name: &str,
        args: &[(&str, Value)],
    ) -> Result<ExecResult> {
        let drop = self.render(node, "drop_relation", &[("relation", rel_value(tmp))])?;
        self.run_all(node, &drop, false).await?;
        let mut all = vec![("relation", rel_value(tmp))];
        all.extend(args.iter().cloned());
        let create = self.render(node, macro_name, &all)?;
        match self.run_all(node, &create, false).await {
            Ok(r) => Ok(r),
            Err(e) => {
                let _ = self.run_all(node, &drop, false).await;
                Err(e)
            }
        }
    }

    pub(super) async fn swap_in(
        &self,
        node: &Node,
        target: &Relation,
        tmp: &Relation,
    ) -> Result<ExecResult> {
        let mut statements = Vec::new();
        let mut backup = None;
        if let Some(kind) = self.cache.kind(target) {
            let existing = Relation {
                kind,
                ..target.clone()
            };
            if kind == RelationKind::View {
                statements.extend(self.render(
                    node,
                    "drop_relation",
                    &[("relation", rel_value(&existing))],
                )?);
            } else {
                let b = self.temp_relation(node, target, "backup")?;
                statements.extend(self.render(
                    node,
                    "drop_relation",
                    &[("relation", rel_value(&b))],
                )?);
                statements.extend(self.render(
                    node,
                    "rename_relation",
                    &[
                        ("from_relation", rel_value(&existing)),
                        ("to_relation", rel_value(&b)),
                    ],
                )?);
                backup = Some(b);
            }
        }
        statements.extend(self.render(
            node,
            "rename_relation",
            &[
                ("from_relation", rel_value(tmp)),
                ("to_relation", rel_value(target)),
            ],
        )?);
        let mut response = self.run_all(node, &statements, true).await?;
        self.cache.set(target, Some(RelationKind::Table));
        if let Some(b) = backup {
            // After the swap has committed: the old table is no longer anyone's.
            let drop = self.render(node, "drop_relation", &[("relation", rel_value(&b))])?;
            response.absorb(&self.run_all(node, &drop, false).await?);
        }
        Ok(response)
    }
}
