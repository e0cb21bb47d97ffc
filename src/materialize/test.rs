//! Data tests: count failing rows (stored first with `store_failures`) against warn_if/error_if.

use minijinja::value::Value;

use super::{rel_value, Built, Materializer};
use crate::adapters::ExecResult;
use crate::compile::{CompileOptions, Relation, RelationKind};
use crate::error::{Error, Result};
use crate::project::Node;

impl Materializer<'_> {
    /// `store_failures` (or `store_failures_as: table | view`): where the test's failing
    /// rows are kept, as dbt names it: `<target schema>_dbt_test__audit` (or the test's
    /// `schema`), the test's file name as the identifier. `None`: not stored.
    pub fn audit_relation(&self, node: &Node) -> Result<Option<Relation>> {
        let stored_as = node
            .config
            .store_failures_as()
            .map_err(|m| Error::config(&node.original_file_path, format!("{}: {m}", node.name)))?;
        let stored_as = match stored_as {
            None => return Ok(None),
            Some("view") => RelationKind::View,
            Some(_) => RelationKind::Table,
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
                statements.extend(if relation.kind == RelationKind::View {
                    self.render(
                        node,
                        "create_view_as",
                        &[
                            ("relation", rel_value(relation)),
                            ("sql", Value::from(compiled_sql)),
                        ],
                    )?
                } else {
                    let mut args = vec![("relation", rel_value(relation))];
                    args.extend(super::ctas_args(compiled_sql, false));
                    self.render(node, "create_table_as", &args)?
                });
                stored = self.run_all(node, &statements, false).await?;
                self.cache.set(relation, Some(relation.kind));
                self.sql_of(
                    node,
                    "select_all_from",
                    &[("relation", rel_value(relation))],
                )?
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
            warnings: Vec::new(),
        })
    }
}
