//! Materializations: the order of statements that builds each kind of node. The SQL of each
//! statement comes from the adapter's macro templates (which a project may override).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use minijinja::value::Value;
use serde_json::{json, Value as Json};

use crate::adapters::{Adapter, ColumnInfo, ExecResult};
use crate::compile::{CompileOptions, Compiler, Relation};
use crate::error::{Error, Result};
use crate::project::{Node, Project};
use crate::sql;

/// Relations known to exist, keyed by (schema, identifier), valued by kind.
#[derive(Default)]
pub struct RelationCache(Mutex<HashMap<(String, String), String>>);

impl RelationCache {
    pub fn kind(&self, rel: &Relation) -> Option<String> {
        self.0
            .lock()
            .ok()?
            .get(&(rel.schema.to_lowercase(), rel.identifier.to_lowercase()))
            .cloned()
    }

    pub fn set(&self, rel: &Relation, kind: Option<&str>) {
        if let Ok(mut m) = self.0.lock() {
            let key = (rel.schema.to_lowercase(), rel.identifier.to_lowercase());
            match kind {
                Some(k) => {
                    m.insert(key, k.to_string());
                }
                None => {
                    m.remove(&key);
                }
            }
        }
    }

    pub fn insert_all(&self, schema: &str, items: Vec<(String, String)>) {
        if let Ok(mut m) = self.0.lock() {
            for (name, kind) in items {
                m.insert((schema.to_lowercase(), name.to_lowercase()), kind);
            }
        }
    }
}

/// Everything a materialization needs.
pub struct Materializer<'a> {
    pub project: &'a Project,
    pub compiler: &'a Compiler,
    pub adapter: &'a Arc<dyn Adapter>,
    pub cache: &'a RelationCache,
    pub full_refresh: bool,
}

/// What building a node did.
#[derive(Debug, Default)]
pub struct Built {
    pub response: ExecResult,
    /// For tests: the number of failing rows, and whether to warn or fail.
    pub failures: Option<u64>,
    pub should_warn: bool,
    pub should_error: bool,
}

fn rel_value(r: &Relation) -> Value {
    Value::from_object(r.clone())
}

fn strings(v: &[String]) -> Value {
    Value::from(v.to_vec())
}

impl Materializer<'_> {
    fn render(&self, node: &Node, name: &str, args: &[(&str, Value)]) -> Result<Vec<String>> {
        let text = self
            .compiler
            .call_macro(node, name, args, CompileOptions::default())?;
        Ok(sql::split_statements(&text))
    }

    async fn run_all(
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
    fn annotate(&self, node: &Node, e: Error) -> Error {
        match e {
            Error::Adapter(msg) => Error::Adapter(format!(
                "{msg}\n  compiled SQL: {}",
                compiled_path(self.project, node).display()
            )),
            other => other,
        }
    }

    fn target(&self, node: &Node) -> Result<Relation> {
        self.compiler
            .relation_of(&node.name)
            .ok_or_else(|| Error::Adapter(format!("no relation for {}", node.unique_id)))
    }

    async fn hooks(&self, node: &Node, key: &str) -> Result<()> {
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
        let built = match node.config.materialized() {
            "view" => self.view(node, compiled_sql).await?,
            "table" => self.table(node, compiled_sql).await?,
            "incremental" => self.incremental(node, compiled_sql).await?,
            "seed" => self.seed(node).await?,
            "snapshot" => self.snapshot(node, compiled_sql).await?,
            "ephemeral" => Built::default(),
            other => {
                return Err(Error::Config {
                    path: node.original_file_path.clone(),
                    message: format!(
                        "unknown materialization '{other}' (view, table, incremental, ephemeral)"
                    ),
                })
            }
        };
        self.hooks(node, "post_hook").await?;
        Ok(built)
    }

    async fn view(&self, node: &Node, compiled_sql: &str) -> Result<Built> {
        let target = self.target(node)?;
        let mut statements = Vec::new();
        if let Some(kind) = self.cache.kind(&target) {
            if kind != "view" {
                let existing = Relation {
                    kind,
                    ..target.clone()
                };
                statements.extend(self.render(
                    node,
                    "drop_relation",
                    &[("relation", rel_value(&existing))],
                )?);
            }
        }
        let view = Relation {
            kind: "view".into(),
            ..target.clone()
        };
        statements.extend(self.render(
            node,
            "create_view_as",
            &[
                ("relation", rel_value(&view)),
                ("sql", Value::from(compiled_sql)),
            ],
        )?);
        let mut response = self.run_all(node, &statements, true).await?;
        response.rows_affected = None;
        self.cache.set(&target, Some("view"));
        Ok(Built {
            response,
            ..Default::default()
        })
    }

    /// Build `compiled_sql` (or the seed) into a temporary table, then swap it in so readers
    /// never see a missing table and a failed build leaves the old one.
    async fn table(&self, node: &Node, compiled_sql: &str) -> Result<Built> {
        let target = self.target(node)?;
        // One atomic statement where the engine has it (a quarter of the commits), unless
        // the project customises how tables are created.
        if self.batched_partitions(node).is_none()
            && !self.compiler.project_overrides("create_table_as")
        {
            let table = Relation {
                kind: "table".into(),
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
                if self.cache.kind(&target).as_deref() == Some("view") {
                    let view = Relation {
                        kind: "view".into(),
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
                self.cache.set(&target, Some("table"));
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

    async fn seed(&self, node: &Node) -> Result<Built> {
        let target = self.target(node)?;
        let tmp = self.temp_relation(node, &target, "tmp")?;
        let path = self.project.root.join(&node.original_file_path);
        let path = path.canonicalize().unwrap_or(path);
        let column_types = node
            .config
            .get("column_types")
            .cloned()
            .unwrap_or(json!({}));
        let staged = self
            .adapter
            .stage_seed(&path, &target, &column_types)
            .await
            .map_err(|e| self.annotate(node, e))?;
        let mut response = self
            .create_temp(
                node,
                &tmp,
                "load_csv",
                &[
                    ("path", Value::from(staged.location)),
                    ("column_types", Value::from_serialize(&column_types)),
                    ("columns", Value::from_serialize(&staged.columns)),
                ],
            )
            .await?;
        response.absorb(&self.swap_in(node, &target, &tmp).await?);
        // Engines differ in what CREATE TABLE AS reports; count the loaded rows.
        {
            let count = self
                .adapter
                .execute(&format!("select count(*) from {target}"), true)
                .await?;
            response.rows_affected = count.table.and_then(|t| t.rows.first()?.first()?.as_u64());
        }
        Ok(Built {
            response,
            ..Default::default()
        })
    }

    /// A unit test: the model on fixture rows, compared with the expected rows.
    pub async fn unit_test(&self, node: &Node) -> Result<Built> {
        super::unit_test::run(self, node).await
    }

    /// An enforced contract (`contract: {enforced: true}`): the query's columns must be the
    /// YAML's, by name and type, before anything is built. Types are compared as the engine
    /// names them: the contract's are read from `select cast(null as <type>) ...`, so
    /// `int` and `integer` agree (dbt's method).
    async fn check_contract(&self, node: &Node, compiled_sql: &str) -> Result<()> {
        let enforced = node
            .config
            .get("contract")
            .and_then(|c| c.get("enforced"))
            .and_then(Json::as_bool)
            .unwrap_or(false);
        if !enforced || node.resource_type == crate::project::ResourceType::Seed {
            return Ok(());
        }
        let config_error = |m: String| Error::Config {
            path: node.original_file_path.clone(),
            message: format!("model '{}': {m}", node.name),
        };
        if !matches!(node.config.materialized(), "table" | "view" | "incremental") {
            return Err(config_error(format!(
                "a contract is enforced on table, view and incremental models, not {}",
                node.config.materialized()
            )));
        }
        let untyped: Vec<&str> = node
            .columns
            .iter()
            .filter(|c| c.data_type.as_deref().is_none_or(|t| t.trim().is_empty()))
            .map(|c| c.name.as_str())
            .collect();
        if node.columns.is_empty() || !untyped.is_empty() {
            return Err(config_error(format!(
                "contracted models require data_type to be defined for each column; \
                 missing for: {}",
                if untyped.is_empty() {
                    "(no columns declared)".to_string()
                } else {
                    untyped.join(", ")
                }
            )));
        }
        let q = self.adapter.dialect().quoting;
        let declared = node
            .columns
            .iter()
            .map(|c| {
                let t = c.data_type.as_deref().unwrap_or_default();
                format!("cast(null as {t}) as {}", q.quote(&c.name))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let expected = self
            .adapter
            .query_columns(&format!("select {declared}"))
            .await
            .map_err(|e| self.annotate(node, e))?;
        let actual = self
            .adapter
            .query_columns(compiled_sql)
            .await
            .map_err(|e| self.annotate(node, e))?;
        let find = |cols: &[ColumnInfo], name: &str| {
            cols.iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .map(|c| c.data_type.clone())
        };
        let mut rows = Vec::new();
        for c in &expected {
            match find(&actual, &c.name) {
                None => rows.push((
                    c.name.clone(),
                    String::new(),
                    c.data_type.clone(),
                    "missing in definition",
                )),
                Some(t) if !t.eq_ignore_ascii_case(&c.data_type) => {
                    rows.push((c.name.clone(), t, c.data_type.clone(), "data type mismatch"))
                }
                Some(_) => {}
            }
        }
        for c in &actual {
            if find(&expected, &c.name).is_none() {
                rows.push((
                    c.name.clone(),
                    c.data_type.clone(),
                    String::new(),
                    "missing in contract",
                ));
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        // dbt's table, columns padded to their widest cell.
        let header = [
            "column_name",
            "definition_type",
            "contract_type",
            "mismatch_reason",
        ];
        let cells: Vec<[String; 4]> = rows
            .into_iter()
            .map(|(n, d, c, w)| [n, d, c, w.to_string()])
            .collect();
        let width = |i: usize| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..4).map(width).collect();
        let line = |r: [&str; 4]| {
            let padded: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            format!("| {} |", padded.join(" | "))
        };
        let mut table = line(header);
        let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        table.push_str(&format!("\n| {} |", dashes.join(" | ")));
        for r in &cells {
            table.push('\n');
            table.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
        }
        Err(Error::Adapter(format!(
            "This model has an enforced contract that failed.\nPlease ensure the name, \
             data_type, and number of columns in your contract match the columns in your \
             model's definition.\n\n{table}"
        )))
    }

    /// A snapshot (dbt's type-2 history): create it on the first run; afterwards stage what
    /// changed next to it, add columns the query gained, and merge.
    async fn snapshot(&self, node: &Node, compiled_sql: &str) -> Result<Built> {
        let target = self.target(node)?;
        let spec = SnapshotSpec::of(node)?;
        let common = |mut args: Vec<(&'static str, Value)>| {
            args.extend([
                ("sql", Value::from(compiled_sql)),
                ("strategy", Value::from(spec.strategy.as_str())),
                ("unique_key", spec.unique_key.clone()),
                ("updated_at", Value::from(spec.updated_at.clone())),
                (
                    "valid_to_current",
                    Value::from(spec.valid_to_current.clone()),
                ),
                ("new_record", Value::from(spec.new_record)),
            ]);
            args
        };
        if self.cache.kind(&target).is_none() {
            let table = Relation {
                kind: "table".into(),
                ..target.clone()
            };
            let create = self.render(
                node,
                "snapshot_create",
                &common(vec![("relation", rel_value(&table))]),
            )?;
            let response = self.run_all(node, &create, true).await?;
            self.cache.set(&target, Some("table"));
            return Ok(Built {
                response,
                ..Default::default()
            });
        }
        let existing = self.adapter.get_columns(&target).await?;
        let is_meta = |name: &str| {
            [
                "dbt_scd_id",
                "dbt_updated_at",
                "dbt_valid_from",
                "dbt_valid_to",
            ]
            .iter()
            .any(|m| m.eq_ignore_ascii_case(name))
        };
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
                    .filter(|c| !is_meta(&c.name) && has(&existing, &c.name))
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
        let result = async {
            // Columns the query gained since the snapshot was made are added to it (dbt).
            let staged = self.adapter.get_columns(&staging).await?;
            let added: Vec<&ColumnInfo> = staged
                .iter()
                .filter(|c| !has(&existing, &c.name))
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
                        ("relation", rel_value(&target)),
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
                    ("target", rel_value(&target)),
                    ("staging", rel_value(&staging)),
                    ("columns", strings(&columns)),
                    (
                        "valid_to_current",
                        Value::from(spec.valid_to_current.clone()),
                    ),
                ],
            )?);
            self.run_all(node, &statements, true).await
        }
        .await;
        let drop = self.render(node, "drop_relation", &[("relation", rel_value(&staging))])?;
        let dropped = self.run_all(node, &drop, false).await;
        response.absorb(&result?);
        dropped?;
        response.rows_affected = None;
        Ok(Built {
            response,
            ..Default::default()
        })
    }

    fn temp_relation(&self, _node: &Node, target: &Relation, suffix: &str) -> Result<Relation> {
        let q = self.adapter.dialect().quoting;
        let mut r = target.with_identifier(
            q.as_ref(),
            &format!("{}__strata_{suffix}", target.identifier),
        );
        r.kind = "table".into();
        Ok(r)
    }

    /// Drop any leftover `tmp`, then create it with `macro_name(relation=tmp, ...)`.
    async fn create_temp(
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

    async fn swap_in(&self, node: &Node, target: &Relation, tmp: &Relation) -> Result<ExecResult> {
        let mut statements = Vec::new();
        let mut backup = None;
        if let Some(kind) = self.cache.kind(target) {
            let existing = Relation {
                kind: kind.clone(),
                ..target.clone()
            };
            if kind == "view" {
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
        self.cache.set(target, Some("table"));
        if let Some(b) = backup {
            // After the swap has committed: the old table is no longer anyone's.
            let drop = self.render(node, "drop_relation", &[("relation", rel_value(&b))])?;
            response.absorb(&self.run_all(node, &drop, false).await?);
        }
        Ok(response)
    }

    /// The partition columns of a node, when the adapter limits partitions per write and
    /// they are plain columns (a transform like `day(ts)` is not batched).
    fn batched_partitions(&self, node: &Node) -> Option<(Vec<String>, usize)> {
        let limit = self.adapter.max_partitions_per_write()?;
        let cols = node.config.list("partitioned_by");
        let plain = cols
            .iter()
            .all(|c| c.chars().all(|ch| ch.is_alphanumeric() || ch == '_'));
        (!cols.is_empty() && plain).then_some((cols, limit))
    }

    /// How many batches of `limit` partitions the rows of `sql` fall into (1 when they fit).
    async fn partition_batches(
        &self,
        node: &Node,
        sql: &str,
        partitions: &[String],
        limit: usize,
    ) -> Result<(usize, ExecResult)> {
        let count_sql = self.compiler.call_macro(
            node,
            "partition_count_sql",
            &[
                ("sql", Value::from(sql)),
                ("partition_by", strings(partitions)),
            ],
            CompileOptions::default(),
        )?;
        let mut r = self
            .adapter
            .execute(&count_sql, true)
            .await
            .map_err(|e| self.annotate(node, e))?;
        // Engines return the count as a number or, like Athena, as text.
        let n = r
            .table
            .take()
            .and_then(|t| {
                let v = t.rows.first()?.first()?.clone();
                v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())
            })
            .unwrap_or(0) as usize;
        Ok((n.div_ceil(limit.max(1)).max(1), r))
    }

    fn batch_sql(
        &self,
        node: &Node,
        sql: &str,
        partitions: &[String],
        batch: usize,
        limit: usize,
    ) -> Result<String> {
        self.compiler.call_macro(
            node,
            "partition_batch_sql",
            &[
                ("sql", Value::from(sql)),
                ("partition_by", strings(partitions)),
                ("batch", Value::from(batch)),
                ("batch_size", Value::from(limit)),
            ],
            CompileOptions::default(),
        )
    }

    /// CTAS `sql` into `tmp`; where the engine limits the partitions one statement writes
    /// and the rows have more, compute them once into an unpartitioned staging table, create
    /// `tmp` with its first batch of partitions and insert the others batch by batch, so no
    /// statement exceeds the limit and the model's SQL runs once.
    async fn create_table_in_batches(
        &self,
        node: &Node,
        tmp: &Relation,
        sql: &str,
    ) -> Result<ExecResult> {
        let mut counted = ExecResult::default();
        let batches = match self.batched_partitions(node) {
            Some((cols, limit)) => {
                let (n, r) = self.partition_batches(node, sql, &cols, limit).await?;
                counted = r;
                (n > 1).then_some((cols, limit, n))
            }
            None => None,
        };
        let Some((cols, limit, n)) = batches else {
            let mut r = self
                .create_temp(node, tmp, "create_table_as", &[("sql", Value::from(sql))])
                .await?;
            r.absorb(&counted);
            return Ok(r);
        };
        let stage = self.temp_relation(node, tmp, "stage")?;
        let mut response = self
            .create_temp(
                node,
                &stage,
                "create_table_as",
                &[("sql", Value::from(sql)), ("temporary", Value::from(true))],
            )
            .await?;
        response.absorb(&counted);
        let drop_stage = self.render(node, "drop_relation", &[("relation", rel_value(&stage))])?;
        let staged = format!("select * from {stage}");
        let result = async {
            let first = self.batch_sql(node, &staged, &cols, 0, limit)?;
            let mut r = self
                .create_temp(node, tmp, "create_table_as", &[("sql", Value::from(first))])
                .await?;
            for batch in 1..n {
                let rows = self.batch_sql(node, &staged, &cols, batch, limit)?;
                let insert = format!("insert into {tmp}\n{rows}");
                match self.run_all(node, &[insert], false).await {
                    Ok(x) => r.absorb(&x),
                    Err(e) => {
                        let drop =
                            self.render(node, "drop_relation", &[("relation", rel_value(tmp))])?;
                        let _ = self.run_all(node, &drop, false).await;
                        return Err(e);
                    }
                }
            }
            Ok::<_, Error>(r)
        }
        .await;
        let dropped = self.run_all(node, &drop_stage, false).await;
        response.absorb(&result?);
        response.absorb(&dropped?);
        Ok(response)
    }

    async fn incremental(&self, node: &Node, compiled_sql: &str) -> Result<Built> {
        let target = self.target(node)?;
        let existing = self.cache.kind(&target);
        let full_refresh = self.full_refresh
            && node.config.get("full_refresh").and_then(|v| v.as_bool()) != Some(false)
            || node.config.get("full_refresh").and_then(|v| v.as_bool()) == Some(true);
        if existing.as_deref() != Some("table") || full_refresh {
            return self.table(node, compiled_sql).await;
        }
        let unique_key = node.config.list("unique_key");
        let strategy = node
            .config
            .str("incremental_strategy")
            .map(str::to_string)
            .unwrap_or_else(|| {
                if unique_key.is_empty() {
                    "append".into()
                } else {
                    "delete+insert".into()
                }
            });
        let mut partitions = node.config.list("partitioned_by");
        if partitions.is_empty() {
            partitions = node.config.list("partition_by");
        }
        let config_error = |message: String| Error::Config {
            path: node.original_file_path.clone(),
            message,
        };
        match strategy.as_str() {
            "merge" | "delete+insert" if unique_key.is_empty() => {
                return Err(config_error(format!("incremental_strategy '{strategy}' needs a unique_key")))
            }
            "insert_overwrite" if partitions.is_empty() => {
                return Err(config_error(
                    "incremental_strategy 'insert_overwrite' needs partitioned_by (the partition columns to replace)".into(),
                ))
            }
            "append" | "merge" | "delete+insert" | "insert_overwrite" => {}
            other => {
                return Err(config_error(format!(
                    "unknown incremental_strategy '{other}' (append, merge, delete+insert, insert_overwrite)"
                )))
            }
        }

        let tmp = self.temp_relation(node, &target, "tmp")?;
        let mut response = self
            .create_temp(
                node,
                &tmp,
                "create_table_as",
                &[
                    ("sql", Value::from(compiled_sql)),
                    ("temporary", Value::from(true)),
                ],
            )
            .await?;
        let result = self
            .apply_increment(node, &target, &tmp, &strategy, &unique_key, &partitions)
            .await;
        if result.is_err() {
            let drop = self.render(node, "drop_relation", &[("relation", rel_value(&tmp))])?;
            let _ = self.run_all(node, &drop, false).await;
        }
        response.absorb(&result?);
        Ok(Built {
            response,
            ..Default::default()
        })
    }

    async fn apply_increment(
        &self,
        node: &Node,
        target: &Relation,
        tmp: &Relation,
        strategy: &str,
        unique_key: &[String],
        partitions: &[String],
    ) -> Result<ExecResult> {
        let new_cols = self.adapter.get_columns(tmp).await?;
        let old_cols = self.adapter.get_columns(target).await?;
        let has = |cols: &[ColumnInfo], name: &str| {
            cols.iter().any(|c| c.name.eq_ignore_ascii_case(name))
        };
        let added: Vec<&ColumnInfo> = new_cols
            .iter()
            .filter(|c| !has(&old_cols, &c.name))
            .collect();
        let removed: Vec<&ColumnInfo> = old_cols
            .iter()
            .filter(|c| !has(&new_cols, &c.name))
            .collect();
        let on_change = node.config.str("on_schema_change").unwrap_or("ignore");
        let mut statements = Vec::new();
        let col_values = |cols: &[&ColumnInfo]| {
            Value::from_serialize(
                cols.iter()
                    .map(|c| json!({"name": c.name, "data_type": c.data_type}))
                    .collect::<Vec<_>>(),
            )
        };
        let dest: Vec<String> = match on_change {
            "ignore" => old_cols.iter().map(|c| c.name.clone()).collect(),
            "fail" => {
                if !added.is_empty() || !removed.is_empty() {
                    let names = |v: &[&ColumnInfo]| v.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
                    return Err(Error::Adapter(format!(
                        "the columns of incremental model '{}' changed and on_schema_change is 'fail' \
                         (new: [{}]; removed: [{}]); run with --full-refresh or choose \
                         append_new_columns / sync_all_columns",
                        node.name,
                        names(&added),
                        names(&removed)
                    )));
                }
                old_cols.iter().map(|c| c.name.clone()).collect()
            }
            "append_new_columns" => {
                if !added.is_empty() {
                    statements.extend(self.render(
                        node,
                        "alter_relation_add_columns",
                        &[("relation", rel_value(target)), ("columns", col_values(&added))],
                    )?);
                }
                old_cols
                    .iter()
                    .filter(|c| has(&new_cols, &c.name))
                    .map(|c| c.name.clone())
                    .chain(added.iter().map(|c| c.name.clone()))
                    .collect()
            }
            "sync_all_columns" => {
                if !added.is_empty() {
                    statements.extend(self.render(
                        node,
                        "alter_relation_add_columns",
                        &[("relation", rel_value(target)), ("columns", col_values(&added))],
                    )?);
                }
                if !removed.is_empty() {
                    statements.extend(self.render(
                        node,
                        "alter_relation_drop_columns",
                        &[("relation", rel_value(target)), ("columns", col_values(&removed))],
                    )?);
                }
                for c in &new_cols {
                    let changed = old_cols
                        .iter()
                        .find(|o| o.name.eq_ignore_ascii_case(&c.name))
                        .is_some_and(|o| !o.data_type.eq_ignore_ascii_case(&c.data_type));
                    if changed {
                        statements.extend(self.render(
                            node,
                            "alter_column_type",
                            &[
                                ("relation", rel_value(target)),
                                ("column_name", Value::from(c.name.clone())),
                                ("new_type", Value::from(c.data_type.clone())),
                            ],
                        )?);
                    }
                }
                new_cols.iter().map(|c| c.name.clone()).collect()
            }
            other => {
                return Err(Error::Config {
                    path: node.original_file_path.clone(),
                    message: format!(
                        "unknown on_schema_change '{other}' (ignore, fail, append_new_columns, sync_all_columns)"
                    ),
                })
            }
        };
        let (macro_name, args): (&str, Vec<(&str, Value)>) = match strategy {
            "append" => ("get_incremental_append_sql", vec![]),
            "merge" => (
                "get_incremental_merge_sql",
                vec![("unique_key", strings(unique_key))],
            ),
            "delete+insert" => (
                "get_incremental_delete_insert_sql",
                vec![("unique_key", strings(unique_key))],
            ),
            _ => (
                "get_incremental_insert_overwrite_sql",
                vec![("partition_by", strings(partitions))],
            ),
        };
        // Appends and partition overwrites split by partition where the engine limits
        // partitions per write; merge and delete+insert match keys across partitions, so
        // they run whole.
        let batching = match (strategy, self.batched_partitions(node)) {
            ("append" | "insert_overwrite", Some((cols, limit))) => {
                let source_sql = format!("select * from {tmp}");
                let (n, _) = self
                    .partition_batches(node, &source_sql, &cols, limit)
                    .await?;
                (n > 1).then_some((cols, limit, n, source_sql))
            }
            _ => None,
        };
        let sources: Vec<Relation> = match &batching {
            None => vec![tmp.clone()],
            Some((cols, limit, n, source_sql)) => (0..*n)
                .map(|batch| {
                    let sql = self.batch_sql(node, source_sql, cols, batch, *limit)?;
                    Ok(Relation::raw(
                        &tmp.identifier,
                        &format!("(\n{sql}\n)"),
                        "cte",
                    ))
                })
                .collect::<Result<_>>()?,
        };
        for source in &sources {
            let mut all = vec![("target", rel_value(target)), ("source", rel_value(source))];
            all.extend(args.iter().cloned());
            all.push(("dest_columns", strings(&dest)));
            statements.extend(self.render(node, macro_name, &all)?);
        }
        statements.extend(self.render(node, "drop_relation", &[("relation", rel_value(tmp))])?);
        self.run_all(node, &statements, true).await
    }

    /// `store_failures` (or `store_failures_as: table | view`): where the test's failing
    /// rows are kept, as dbt names it: `<target schema>_dbt_test__audit` (or the test's
    /// `schema`), the test's file name as the identifier. `None`: not stored.
    pub fn audit_relation(&self, node: &Node) -> Result<Option<Relation>> {
        let stored_as = node
            .config
            .store_failures_as()
            .map_err(|m| Error::config(&node.original_file_path, format!("{}: {m}", node.name)))?;
        let Some(stored_as) = stored_as else {
            return Ok(None);
        };
        let target = &self.project.target;
        // dbt: the test's schema config (default dbt_test__audit) through
        // generate_schema_name, the project's own if it has one.
        let custom = node.config.str("schema").unwrap_or("dbt_test__audit");
        let schema = self.compiler.schema_for(node, Some(custom))?;
        let identifier = node
            .config
            .str("alias")
            .map(str::to_string)
            .or_else(|| {
                node.path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| node.name.clone());
        let q = self.adapter.dialect().quoting;
        Ok(Some(Relation::new(
            q.as_ref(),
            Some(&target.database),
            &schema,
            &identifier,
            stored_as,
        )))
    }

    /// Run a data test: count the failing rows and compare with warn_if / error_if. With
    /// store_failures, the failing rows are written to the audit relation first and counted
    /// from there.
    pub async fn test(&self, node: &Node, compiled_sql: &str) -> Result<Built> {
        let audit = self.audit_relation(node)?;
        let mut stored = ExecResult::default();
        let counted_sql = match &audit {
            Some(relation) => {
                // The run made the audit schema and listed it before tests started
                // (execute): the cache knows what stands there.
                let mut statements = Vec::new();
                if let Some(kind) = self.cache.kind(relation) {
                    let old = Relation {
                        kind,
                        ..relation.clone()
                    };
                    statements.extend(self.render(
                        node,
                        "drop_relation",
                        &[("relation", rel_value(&old))],
                    )?);
                }
                let create = if relation.kind == "view" {
                    "create_view_as"
                } else {
                    "create_table_as"
                };
                statements.extend(self.render(
                    node,
                    create,
                    &[
                        ("relation", rel_value(relation)),
                        ("sql", Value::from(compiled_sql)),
                    ],
                )?);
                stored = self.run_all(node, &statements, false).await?;
                self.cache.set(relation, Some(&relation.kind));
                format!("select * from {relation}")
            }
            None => compiled_sql.to_string(),
        };
        let compiled_sql = counted_sql.as_str();
        let limit = node
            .config
            .get("limit")
            .cloned()
            .map(|v| Value::from_serialize(&v));
        let sql = self.compiler.call_macro(
            node,
            "get_test_sql",
            &[
                ("main_sql", Value::from(compiled_sql)),
                (
                    "fail_calc",
                    Value::from(node.config.str("fail_calc").unwrap_or("count(*)")),
                ),
                (
                    "warn_if",
                    Value::from(node.config.str("warn_if").unwrap_or("!= 0")),
                ),
                (
                    "error_if",
                    Value::from(node.config.str("error_if").unwrap_or("!= 0")),
                ),
                ("limit", limit.unwrap_or(Value::from(()))),
            ],
            CompileOptions::default(),
        )?;
        let response = self
            .adapter
            .execute(&sql, true)
            .await
            .map_err(|e| self.annotate(node, e))?;
        let row = response
            .table
            .as_ref()
            .and_then(|t| t.rows.first().cloned())
            .unwrap_or_default();
        let failures = row
            .first()
            .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64)));
        let flag = |i: usize| row.get(i).and_then(|v| v.as_bool()).unwrap_or(false);
        let mut response = ExecResult {
            table: None,
            ..response
        };
        response.absorb(&stored);
        Ok(Built {
            failures: Some(failures.unwrap_or(0)),
            should_warn: flag(1),
            should_error: flag(2),
            response,
        })
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
        .join(project.name())
        .join(rel)
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
    pub fn of(node: &Node) -> Result<Self> {
        let bad = |m: String| Error::Config {
            path: node.original_file_path.clone(),
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
