//! Erasure enforced at write time: in a project with a `rights:` section, every write of a
//! relation that declares personal data (`meta.personal_data.subject_key`) leaves out the
//! rows of subjects the rights ledger holds as erased or being erased, in the statement that
//! writes them (the query a table, incremental model or snapshot is built from; a seed's
//! rows before it is swapped in). Without it, a model reading landing data without the
//! project's own filter, a snapshot, a seed, or a build that computed its rows before an
//! erasure, could bring an erased subject back.

use std::collections::BTreeMap;

use minijinja::value::Value;

use super::{rel_value, Materializer};
use crate::adapters::ExecResult;
use crate::compile::{Relation, RelationKind};
use crate::error::{Error, Result};
use crate::project::personal_data::{declaration, PersonalData, Via};
use crate::project::rights::LEDGER_TABLE;
use crate::project::Node;

/// What a declared node's writes are filtered by: the declaration as the rights macros
/// take it (`d`), and the ledger.
struct ErasureFilter {
    declared: Value,
    ledger: Relation,
}

impl Materializer<'_> {
    /// `node`'s erasure filter, or `None` when it declares no subject (or the project has no
    /// `rights:` section). The ledger is created when it is not there yet, so the filter
    /// always reads one.
    async fn erasure_filter(&self, node: &Node) -> Result<Option<ErasureFilter>> {
        if self.project.rights.is_none() {
            return Ok(None);
        }
        // An invalid declaration is reported by the rights checks, with its file.
        let Ok(Some(pd)) = declaration(&node.config) else {
            return Ok(None);
        };
        let Some(key) = pd.subject_key else {
            return Ok(None);
        };
        let mut d = BTreeMap::new();
        d.insert("name", Value::from(node.name.clone()));
        d.insert("key", Value::from(key));
        d.insert("via", self.via_value(node, pd.via.as_ref())?);
        d.insert("raw_text", Value::from(pd.raw_text.clone()));
        d.insert(
            "via_names",
            Value::from(
                pd.via
                    .as_ref()
                    .map(|v| self.reached_alike(v))
                    .unwrap_or_default(),
            ),
        );
        let target = &self.project.target;
        let q = self.adapter.dialect().quoting;
        let ledger = Relation::new(
            q.as_ref(),
            Some(&target.database),
            &target.schema,
            LEDGER_TABLE,
            RelationKind::Table,
        );
        if self.cache.kind(&ledger).is_none() {
            // One node creates it; the others, waiting here, find it made.
            let _creating = self.cache.creating().await;
            if self.cache.kind(&ledger).is_none() {
                let ddl =
                    self.render(node, "rights_ledger_ddl", &[("ledger", rel_value(&ledger))])?;
                self.run_all(node, &ddl, false).await?;
                self.cache.set(&ledger, Some(RelationKind::Table));
            }
        }
        Ok(Some(ErasureFilter {
            declared: Value::from(d),
            ledger,
        }))
    }

    /// `via` as the rights macros take it: {relation, key, subject_key}, or none.
    fn via_value(&self, node: &Node, via: Option<&Via>) -> Result<Value> {
        let Some(v) = via else {
            return Ok(Value::from(()));
        };
        let relation = self.compiler.relation_of(&v.relation).ok_or_else(|| {
            Error::config(
                &node.original_file_path,
                format!(
                    "{}: personal_data.via.relation '{}' is not a model or seed",
                    node.name, v.relation
                ),
            )
        })?;
        let mut m = BTreeMap::new();
        m.insert("relation", rel_value(&relation));
        m.insert("key", Value::from(v.key.clone()));
        m.insert("subject_key", Value::from(v.subject_key.clone()));
        Ok(Value::from(m))
    }

    /// The declared relations reached through the same relation and key as `via`: the
    /// keys an erasure captured for any of them are the subject's in each.
    fn reached_alike(&self, via: &Via) -> Vec<String> {
        let mut names: Vec<String> = self
            .project
            .nodes
            .values()
            .filter(|n| {
                matches!(declaration(&n.config), Ok(Some(PersonalData { via: Some(other), .. }))
                    if other.relation == via.relation && other.key == via.key)
            })
            .map(|n| n.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The query `node` is built from, without erased subjects' rows when it declares
    /// personal data.
    pub(super) async fn without_erased(&self, node: &Node, sql: &str) -> Result<String> {
        let Some(f) = self.erasure_filter(node).await? else {
            return Ok(sql.to_string());
        };
        self.sql_of(
            node,
            "rights_write_filter",
            &[
                ("sql", Value::from(sql)),
                ("d", f.declared),
                ("ledger", rel_value(&f.ledger)),
            ],
        )
    }

    /// Delete erased subjects' rows from `relation`, a declared seed loaded beside its
    /// target (before it is swapped in).
    pub(super) async fn delete_erased(
        &self,
        node: &Node,
        relation: &Relation,
    ) -> Result<ExecResult> {
        let Some(f) = self.erasure_filter(node).await? else {
            return Ok(ExecResult::default());
        };
        let delete = self.render(
            node,
            "rights_delete_erased",
            &[
                ("relation", rel_value(relation)),
                ("d", f.declared),
                ("ledger", rel_value(&f.ledger)),
            ],
        )?;
        self.run_all(node, &delete, false).await
    }

    /// A failed build of a filtered node whose error names its subject column: most likely
    /// the column the declaration names is not one the model has (the filter is added at run
    /// time: target/compiled does not show it).
    pub(super) fn explain_erasure_filter(&self, node: &Node, e: Error) -> Error {
        if !self.filters_erased(node) {
            return e;
        }
        let Ok(Some(PersonalData {
            subject_key: Some(key),
            ..
        })) = declaration(&node.config)
        else {
            return e;
        };
        if !e.to_string().to_lowercase().contains(&key.to_lowercase()) {
            return e;
        }
        let declared_in = node
            .patch_path
            .as_ref()
            .unwrap_or(&node.original_file_path)
            .display()
            .to_string();
        super::table::with_note(
            e,
            &format!(
                "the build leaves out erased subjects' rows by the column '{key}' \
                 (meta.personal_data.subject_key of {}, in {declared_in}): the model's query \
                 must have that column (the filter is added when the model is built, so the \
                 compiled SQL does not show it)",
                node.name
            ),
        )
    }

    /// Whether `node`'s writes are filtered (a declared seed then always loads beside its
    /// target, so no erased row is ever in the target).
    pub(super) fn filters_erased(&self, node: &Node) -> bool {
        self.project.rights.is_some()
            && matches!(declaration(&node.config), Ok(Some(pd)) if pd.subject_key.is_some())
    }
}
