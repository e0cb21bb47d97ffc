//! `table`: one atomic replace where the engine has it; otherwise build straight into a
//! target that does not exist yet, or under a temporary name and swap it in (a failed build
//! leaves the old table readable).

use minijinja::value::Value;

use super::{rel_value, Built, Materializer};
use crate::adapters::ExecResult;
use crate::compile::{Relation, RelationKind};
use crate::error::{Error, Result};
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
    /// backup first and dropped once the swap is done. Where a failed unit is not rolled
    /// back (Athena has no transactions), the two renames run one by one and a failed second
    /// one renames the backup back: the target is missing only between the renames.
    pub(super) async fn swap_in(
        &self,
        node: &Node,
        target: &Relation,
        tmp: &Relation,
    ) -> Result<ExecResult> {
        let mut set_aside = Vec::new();
        let mut backup = None;
        let mut response = ExecResult::default();
        if let Some(kind) = self.cache.kind(target) {
            let existing = Relation {
                kind,
                ..target.clone()
            };
            if kind == RelationKind::View {
                set_aside.extend(self.render(
                    node,
                    "drop_relation",
                    &[("relation", rel_value(&existing))],
                )?);
            } else {
                let b = self.temp_relation(node, target, "backup")?;
                response.absorb(&self.drop_if_cached(node, &b).await?);
                set_aside.extend(self.render(node, "rename_relation", &renaming(&existing, &b))?);
                backup = Some(b);
            }
        }
        let move_in = self.render(node, "rename_relation", &renaming(tmp, target))?;
        match &backup {
            Some(b) if !self.adapter.atomic_units_roll_back() => {
                response.absorb(&self.run_all(node, &set_aside, true).await?);
                self.cache.set(target, None);
                self.cache.set(b, Some(RelationKind::Table));
                match self.run_all(node, &move_in, true).await {
                    Ok(r) => response.absorb(&r),
                    Err(e) => return Err(self.put_back(node, target, b, tmp, e).await),
                }
            }
            // One unit: a transaction undoes the first rename when the second fails.
            _ => {
                set_aside.extend(move_in);
                response.absorb(&self.run_all(node, &set_aside, true).await?);
            }
        }
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

    /// After `tmp` could not be renamed over `target` (`failure`), the old table, set aside
    /// as `backup`, is renamed back. The error returned says so, or, when that failed too,
    /// which table holds the old rows (the next run of the model renames it back).
    async fn put_back(
        &self,
        node: &Node,
        target: &Relation,
        backup: &Relation,
        tmp: &Relation,
        failure: Error,
    ) -> Error {
        let rename = self.render(node, "rename_relation", &renaming(backup, target));
        let renamed = match &rename {
            Ok(statements) => self.run_all(node, statements, true).await,
            Err(e) => Err(Error::Adapter(e.to_string())),
        };
        let (t, b) = (plain_name(target), plain_name(backup));
        let note = match renamed {
            Ok(_) => {
                self.cache.set(backup, None);
                self.cache.set(target, Some(RelationKind::Table));
                // The new rows are not wanted any more; a failed drop only leaves a leftover.
                let _ = self.drop_created(node, tmp).await;
                format!(
                    "the old table was put back: {b} was renamed back to {t}, which holds the \
                     rows of its last build"
                )
            }
            Err(e) => {
                let how = rename.map(|s| s.join("; ")).unwrap_or_default();
                format!(
                    "putting the old table back failed too ({e}): the old rows are in table \
                     {b}. If {t} is missing, rename {b} back ({how}), or run the model again: \
                     a run puts such a backup back before it builds"
                )
            }
        };
        with_note(failure, &note)
    }
}

/// The arguments of `rename_relation` from `from` to `to`.
pub(super) fn renaming(from: &Relation, to: &Relation) -> [(&'static str, Value); 2] {
    [
        ("from_relation", rel_value(from)),
        ("to_relation", rel_value(to)),
    ]
}

/// `schema.identifier`, as a message names a table.
pub(super) fn plain_name(r: &Relation) -> String {
    format!("{}.{}", r.schema, r.identifier)
}

/// `e` with `note` added to its message (an engine error keeps its source).
pub(super) fn with_note(e: Error, note: &str) -> Error {
    match e {
        Error::Adapter(_) | Error::Engine { .. } => {
            e.map_runtime_message(|message| format!("{message}\n  {note}"))
        }
        other => Error::Adapter(format!("{other}\n  {note}")),
    }
}
