//! `table`: one atomic replace where the engine has it; otherwise build straight into a
//! target that does not exist yet, or under a temporary name and swap it in (a failed build
//! leaves the old table readable).

use minijinja::value::Value;

use super::{rel_value, Built, Materializer};
use crate::adapters::ExecResult;
use crate::compile::{Relation, RelationKind};
use crate::error::Result;
use crate::project::Node;

impl Materializer<'_> {
    /// Build `compiled_sql` into the table: replaced in one statement where the engine can,
    /// created in place when there is nothing to replace, else built beside it and swapped
    /// in so readers never see a missing table and a failed build leaves the old one.
    pub(super) async fn table(&self, node: &Node, compiled_sql: &str) -> Result<Built> {
        if let Some(hive) = self.hive(node)? {
            return self.hive_table(node, compiled_sql, hive).await;
        }
        let target = self.target(node)?;
        // One atomic statement where the engine has it (a quarter of the commits), unless
        // the project customises how tables are created.
        if self.batched_partitions(node)?.is_none()
            && !self.compiler.project_overrides("create_table_as")
        {
            if let Some(response) = self.replace_table(node, &target, compiled_sql).await? {
                return Ok(Built {
                    response,
                    ..Default::default()
                });
            }
        }
        let table = Relation {
            kind: RelationKind::Table,
            ..target.clone()
        };
        if self.cache.kind(&target).is_none() {
            // Nothing to keep readable: CTAS straight into the target (dbt-athena's one
            // query for a first build).
            let response = self
                .create_table_in_batches(node, &target, &table, compiled_sql)
                .await?;
            return Ok(Built {
                response,
                ..Default::default()
            });
        }
        let tmp = self.temp_relation(node, &target, "tmp")?;
        let mut response = self
            .create_table_in_batches(node, &target, &tmp, compiled_sql)
            .await?;
        response.absorb(&self.swap_in(node, &target, &tmp).await?);
        Ok(Built {
            response,
            ..Default::default()
        })
    }

    /// The engine's one-statement replace (`replace_table_as`), after dropping a view of the
    /// same name; None where the engine has none (the template renders nothing).
    async fn replace_table(
        &self,
        node: &Node,
        target: &Relation,
        compiled_sql: &str,
    ) -> Result<Option<ExecResult>> {
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
        if replace.is_empty() {
            return Ok(None);
        }
        let mut statements = Vec::new();
        if self.cache.kind(target) == Some(RelationKind::View) {
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
        self.cache.set(target, Some(RelationKind::Table));
        Ok(Some(response))
    }

    /// A table beside `target` for one step (`suffix`: tmp, backup, stage, snapshot), named
    /// by the adapter's `temp_identifier` template (unique per invocation where runs may
    /// overlap).
    pub(super) fn temp_relation(
        &self,
        node: &Node,
        target: &Relation,
        suffix: &str,
    ) -> Result<Relation> {
        // A microbatch batch's tables are its own (name and data folder), as dbt-duckdb
        // names them after the batch.
        let suffix = match &self.batch {
            Some((start, _)) => {
                let digits: String = start
                    .chars()
                    .filter(char::is_ascii_digit)
                    .take(14)
                    .collect();
                format!("{suffix}_{digits}")
            }
            None => suffix.to_string(),
        };
        let identifier = self.sql_of(
            node,
            "temp_identifier",
            &[
                ("identifier", Value::from(target.identifier.as_str())),
                ("suffix", Value::from(suffix)),
            ],
        )?;
        let q = self.adapter.dialect().quoting;
        let mut r = target.with_identifier(q.as_ref(), identifier.trim());
        r.kind = RelationKind::Table;
        Ok(r)
    }

    /// Drop `relation` if the relation cache says it is there (filled from the catalog at
    /// the start of the run, so a leftover of a crashed run is still dropped); nothing to
    /// send otherwise.
    pub(super) async fn drop_if_cached(
        &self,
        node: &Node,
        relation: &Relation,
    ) -> Result<ExecResult> {
        if self.cache.kind(relation).is_none() {
            return Ok(ExecResult::default());
        }
        let response = self.drop_table_of(node, relation).await?;
        self.cache.set(relation, None);
        Ok(response)
    }

    /// Drop `relation`, which this run created, whatever the cache says.
    pub(super) async fn drop_created(
        &self,
        node: &Node,
        relation: &Relation,
    ) -> Result<ExecResult> {
        let response = self.drop_table_of(node, relation).await?;
        self.cache.set(relation, None);
        Ok(response)
    }

    /// Drop a leftover `relation` (when the cache knows one), then create it with
    /// `macro_name(relation=relation, ...)`. A temporary relation is dropped again when a
    /// template of several statements fails half way (one failed statement created
    /// nothing); the target is not, as another run may have created it meanwhile.
    pub(super) async fn create_temp(
        &self,
        node: &Node,
        relation: &Relation,
        macro_name: &str,
        args: &[(&str, Value)],
    ) -> Result<ExecResult> {
        self.drop_if_cached(node, relation).await?;
        let mut all = vec![("relation", rel_value(relation))];
        all.extend(args.iter().cloned());
        let create = self.render(node, macro_name, &all)?;
        match self.run_all(node, &create, false).await {
            Ok(r) => {
                self.cache.set(relation, Some(RelationKind::Table));
                Ok(r)
            }
            Err(e) => {
                let target = self.compiler.relation_of(&node.relation_key());
                let is_target = target.is_some_and(|t| {
                    t.schema.eq_ignore_ascii_case(&relation.schema)
                        && t.identifier.eq_ignore_ascii_case(&relation.identifier)
                });
                if create.len() > 1 && !is_target {
                    let _ = self.drop_created(node, relation).await;
                }
                Err(e)
            }
        }
    }

    /// Rename `tmp` over `target`: a view of that name is dropped, a table is renamed to a
    /// backup first and dropped once the swap is done.
    pub(super) async fn swap_in(
        &self,
        node: &Node,
        target: &Relation,
        tmp: &Relation,
    ) -> Result<ExecResult> {
        let mut statements = Vec::new();
        let mut backup = None;
        let mut response = ExecResult::default();
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
                response.absorb(&self.drop_if_cached(node, &b).await?);
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
        response.absorb(&self.run_all(node, &statements, true).await?);
        self.cache.set(tmp, None);
        self.cache.set(target, Some(RelationKind::Table));
        if let Some(b) = backup {
            // After the swap has committed: the old table is no longer anyone's (its folder
            // may hold the new one's, when another tool built it).
            response.absorb(&self.drop_table_keeping(node, &b, Some(target)).await?);
            self.cache.set(&b, None);
        }
        Ok(response)
    }
}
