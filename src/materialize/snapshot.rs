//! Snapshots (dbt's type-2 history) and their settings.

use minijinja::value::Value;
use serde_json::{json, Value as Json};

use super::{rel_value, strings, Built, Materializer};
use crate::adapters::{ColumnInfo, ExecResult};
use crate::compile::{Relation, RelationKind};
use crate::error::{Error, Result};
use crate::project::Node;

impl Materializer<'_> {
    /// A snapshot (dbt's type-2 history): create it on the first run; afterwards stage what
    /// changed next to it, add columns the query gained, and merge.
    pub(super) async fn snapshot(&self, node: &Node, compiled_sql: &str) -> Result<Built> {
        let target = self.target(node)?;
        let spec = SnapshotSpec::of(node)?;
        let common = |args| spec.template_args(compiled_sql, args);
        if self.cache.kind(&target).is_none() {
            let table = Relation {
                kind: RelationKind::Table,
                ..target.clone()
            };
            let create = self.render(
                node,
                "snapshot_create",
                &common(vec![("relation", rel_value(&table))]),
            )?;
            let response = self.run_all(node, &create, true).await?;
            self.cache.set(&target, Some(RelationKind::Table));
            return Ok(Built {
                response,
                ..Default::default()
            });
        }
        let existing = self.adapter.get_columns(&target).await?;
        let has = |cols: &[ColumnInfo], name: &str| {
            cols.iter().any(|c| c.name.eq_ignore_ascii_case(name))
        };
        // The query's columns, read once when check_cols 'all' or new_record needs them.
        let check_all = spec.check_cols.is_none() && spec.strategy == "check";
        let query = if check_all || spec.new_record {
            self.adapter.query_columns(compiled_sql).await?
        } else {
            Vec::new()
        };
        let (check_cols, column_added): (Vec<String>, bool) = match &spec.check_cols {
            Some(cols) => (cols.clone(), false),
            // check_cols: all -> the query's columns; one the snapshot lacks makes every
            // row a new version (dbt), so the new column's values are recorded.
            None if check_all => {
                let added = query.iter().any(|c| !has(&existing, &c.name));
                let cols = query
                    .iter()
                    .filter(|c| !is_meta_column(&c.name) && has(&existing, &c.name))
                    .map(|c| c.name.clone())
                    .collect();
                (cols, added)
            }
            None => (Vec::new(), false),
        };
        // new_record: a deletion row carries the last values of the query's columns (NULL
        // for a column the snapshot does not have yet).
        let deleted_columns: Vec<String> = if spec.new_record {
            let q = self.adapter.dialect().quoting;
            query
                .iter()
                .map(|c| {
                    if has(&existing, &c.name) {
                        format!("snapshotted_data.{}", q.quote(&c.name))
                    } else {
                        format!("null as {}", q.quote(&c.name))
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let staging = self.temp_relation(node, &target, "snapshot")?;
        let mut args = common(vec![
            ("target", rel_value(&target)),
            ("check_cols", strings(&check_cols)),
            (
                "invalidate_hard_deletes",
                Value::from(spec.invalidate_hard_deletes),
            ),
            ("column_added", Value::from(column_added)),
            ("deleted_columns", strings(&deleted_columns)),
        ]);
        args.push(("relation", rel_value(&staging)));
        let mut response = self
            .create_temp(node, &staging, "snapshot_staging", &args)
            .await?;
        let result = self
            .merge_staged(node, &target, &staging, &existing, &spec)
            .await;
        let dropped = self.drop_created(node, &staging).await;
        response.absorb(&result?);
        dropped?;
        response.rows_affected = None;
        Ok(Built {
            response,
            ..Default::default()
        })
    }

    /// Add the columns the query gained since the snapshot was made (dbt), then merge the
    /// staged changes into it.
    async fn merge_staged(
        &self,
        node: &Node,
        target: &Relation,
        staging: &Relation,
        existing: &[ColumnInfo],
        spec: &SnapshotSpec,
    ) -> Result<ExecResult> {
        let has = |cols: &[ColumnInfo], name: &str| {
            cols.iter().any(|c| c.name.eq_ignore_ascii_case(name))
        };
        // Columns the query gained since the snapshot was made are added to it (dbt).
        let staged = self.adapter.get_columns(staging).await?;
        let added: Vec<&ColumnInfo> = staged
            .iter()
            .filter(|c| !has(existing, &c.name))
            .filter(|c| !["dbt_change_type", "dbt_unique_key"].contains(&c.name.as_str()))
            .collect();
        let mut statements = Vec::new();
        if !added.is_empty() {
            let cols: Vec<Json> = added
                .iter()
                .map(|c| json!({"name": c.name, "data_type": c.data_type}))
                .collect();
            statements.extend(self.render(
                node,
                "alter_relation_add_columns",
                &[
                    ("relation", rel_value(target)),
                    ("columns", Value::from_serialize(&cols)),
                ],
            )?);
        }
        let columns: Vec<String> = existing
            .iter()
            .map(|c| c.name.clone())
            .chain(added.iter().map(|c| c.name.clone()))
            .collect();
        statements.extend(self.render(
            node,
            "snapshot_merge",
            &[
                ("target", rel_value(target)),
                ("staging", rel_value(staging)),
                ("columns", strings(&columns)),
                (
                    "valid_to_current",
                    Value::from(spec.valid_to_current.clone()),
                ),
            ],
        )?);
        self.run_all(node, &statements, true).await
    }
}

/// A snapshot's settings, checked when the project is read (as dbt checks them at parse).
pub struct SnapshotSpec {
    strategy: String,
    /// A column name (or expression), or a list of them.
    unique_key: Value,
    /// The timestamp strategy's column.
    updated_at: Option<String>,
    /// The check strategy's columns; None for `all`.
    check_cols: Option<Vec<String>>,
    invalidate_hard_deletes: bool,
    /// dbt_valid_to_current: what marks a current version instead of NULL (SQL).
    valid_to_current: Option<String>,
    /// hard_deletes: new_record (a deletion is a row with dbt_is_deleted = 'True').
    new_record: bool,
}

impl SnapshotSpec {
    /// The arguments every snapshot template gets, after `args`.
    fn template_args<'a>(
        &self,
        compiled_sql: &str,
        mut args: Vec<(&'a str, Value)>,
    ) -> Vec<(&'a str, Value)> {
        args.extend([
            ("sql", Value::from(compiled_sql)),
            ("strategy", Value::from(self.strategy.as_str())),
            ("unique_key", self.unique_key.clone()),
            ("updated_at", Value::from(self.updated_at.clone())),
            (
                "valid_to_current",
                Value::from(self.valid_to_current.clone()),
            ),
            ("new_record", Value::from(self.new_record)),
        ]);
        args
    }

    pub fn of(node: &Node) -> Result<Self> {
        let bad = |m: String| Error::Config {
            path: node.original_file_path.clone(),
            position: None,
            message: format!("snapshot '{}': {m}", node.name),
        };
        let c = &node.config;
        let unique_key = match c.get("unique_key") {
            Some(Json::String(k)) => Value::from(k.as_str()),
            Some(Json::Array(keys)) if !keys.is_empty() && keys.iter().all(Json::is_string) => {
                Value::from_serialize(keys)
            }
            _ => {
                return Err(bad(
                    "needs a unique_key (a column, or a list of columns)".into()
                ))
            }
        };
        let strategy = c.str("strategy").unwrap_or_default().to_string();
        let (updated_at, check_cols) = match strategy.as_str() {
            "timestamp" => match c.str("updated_at") {
                Some(u) => (Some(u.to_string()), None),
                None => return Err(bad("the timestamp strategy needs updated_at".into())),
            },
            // check may still name updated_at: versions then start at its value (dbt).
            "check" => match c.get("check_cols") {
                Some(Json::String(all)) if all == "all" => {
                    (c.str("updated_at").map(String::from), None)
                }
                Some(Json::Array(cols)) if !cols.is_empty() => {
                    let cols: Option<Vec<String>> =
                        cols.iter().map(|c| c.as_str().map(String::from)).collect();
                    (
                        c.str("updated_at").map(String::from),
                        Some(cols.ok_or_else(|| bad("check_cols should name columns".into()))?),
                    )
                }
                _ => {
                    return Err(bad(
                        "the check strategy needs check_cols ('all' or a list)".into()
                    ))
                }
            },
            other => {
                return Err(bad(format!(
                    "strategy {other:?}: expected timestamp or check"
                )))
            }
        };
        // Settings Strata does not carry out are refused rather than ignored: the table
        // would not have what the project expects.
        if c.get("snapshot_meta_column_names").is_some() {
            return Err(bad(
                "snapshot_meta_column_names is not supported: the columns are dbt_scd_id, \
                 dbt_updated_at, dbt_valid_from, dbt_valid_to"
                    .into(),
            ));
        }
        let invalidate_hard_deletes = match c.str("hard_deletes") {
            None | Some("ignore") => c.get("invalidate_hard_deletes") == Some(&Json::Bool(true)),
            Some("invalidate") | Some("new_record") => true,
            Some(other) => {
                return Err(bad(format!(
                    "hard_deletes {other:?}: expected ignore, invalidate or new_record"
                )))
            }
        };
        Ok(SnapshotSpec {
            strategy,
            unique_key,
            updated_at,
            check_cols,
            invalidate_hard_deletes,
            valid_to_current: c.str("dbt_valid_to_current").map(String::from),
            new_record: c.str("hard_deletes") == Some("new_record"),
        })
    }
}

/// The columns a snapshot adds to the query's (dbt's names).
fn is_meta_column(name: &str) -> bool {
    [
        "dbt_scd_id",
        "dbt_updated_at",
        "dbt_valid_from",
        "dbt_valid_to",
    ]
    .iter()
    .any(|m| m.eq_ignore_ascii_case(name))
}
