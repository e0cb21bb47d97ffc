//! The embedded DuckDB engine: the default target, a file under `target/`, no credentials.
//!
//! DuckDB is synchronous; each call runs on tokio's blocking pool with a connection taken
//! from a small pool of clones of one database handle.
//!
//! One file per job: the profile's settings (`setup`), opening and the connection pool
//! (`connection`), running a statement and converting values (`query`), the catalog
//! (`catalog`) and rewriting the file after a purge (`compact`); the `Adapter` impl is here.

mod catalog;
mod compact;
mod connection;
mod query;
mod setup;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use duckdb::Connection;

use super::{quote_literal, Adapter, ColumnInfo, ExecResult, COMMON_MACROS};
use crate::compile::{Dialect, DoubleQuotes, Quoting, Relation, RelationKind, StringColumns};
use crate::error::{Error, Result};
pub use connection::file_on_disk;
use connection::Root;
pub use query::to_json;
use query::{column_infos, run};
use setup::Setup;

const DUCKDB_MACROS: &[(&str, &str)] = &[
    ("adapter.sql", include_str!("macros/adapter.sql")),
    ("cross_db.sql", include_str!("macros/cross_db.sql")),
];

/// The database handle (or the thread opening it), the pool of connections cloned from it,
/// and what is running now.
pub struct DuckDbAdapter {
    setup: Setup,
    path: String,
    root: Mutex<Root>,
    pool: Mutex<Vec<Connection>>,
    /// Interrupt handles of the connections running a statement now.
    running: Mutex<Vec<Arc<duckdb::InterruptHandle>>>,
    /// Nanoseconds spent inside DuckDB calls.
    engine_nanos: std::sync::atomic::AtomicU64,
}

/// DuckDB's error in its own words, kept as the source.
fn engine_error(e: duckdb::Error) -> Error {
    Error::engine(e.to_string(), e)
}

/// The adapter lives behind an `Arc`; the trait takes `&self`, so keep one inside.
pub struct SharedDuckDb(Arc<DuckDbAdapter>);

#[async_trait]
impl Adapter for SharedDuckDb {
    fn adapter_type(&self) -> &str {
        "duckdb"
    }

    fn dialect(&self) -> Dialect {
        let builtin_macros = COMMON_MACROS
            .iter()
            .chain(DUCKDB_MACROS)
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
        Dialect {
            adapter_type: "duckdb".into(),
            quoting: Arc::new(DoubleQuotes),
            builtin_macros,
            reads_external_locations: true,
            // dbt's base Column: unsized strings are 256 long.
            string_columns: StringColumns {
                default_size: 256,
                type_of_size: |n| format!("character varying({n})"),
                labels: &[("STRING", "TEXT")],
            },
            event_time_filter: crate::compile::plain_event_time_filter,
        }
    }

    fn reuses_builds(&self) -> bool {
        true
    }

    fn sql_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect + Send + Sync> {
        Box::new(sqlparser::dialect::DuckDbDialect {})
    }

    async fn execute(&self, sql: &str, fetch: bool) -> Result<ExecResult> {
        let sql = sql.to_string();
        self.0.with_conn(move |c| run(c, &sql, &[], fetch)).await
    }

    async fn execute_atomic(&self, statements: &[String]) -> Result<ExecResult> {
        let statements = statements.to_vec();
        self.0
            .with_conn(move |c| {
                c.execute_batch("BEGIN TRANSACTION").map_err(engine_error)?;
                let mut total = ExecResult::default();
                for s in &statements {
                    match run(c, s, &[], false) {
                        Ok(r) => total.absorb(&r),
                        Err(e) => {
                            let _ = c.execute_batch("ROLLBACK");
                            return Err(e);
                        }
                    }
                }
                c.execute_batch("COMMIT").map_err(engine_error)?;
                Ok(total)
            })
            .await
    }

    async fn execute_with_params(
        &self,
        sql: &str,
        params: &[String],
        fetch: bool,
    ) -> Result<ExecResult> {
        let sql = sql.to_string();
        let params = params.to_vec();
        self.0
            .with_conn(move |c| run(c, &sql, &params, fetch))
            .await
    }

    async fn list_schemas(&self, database: &str) -> Result<Vec<String>> {
        self.schemas(database).await
    }

    async fn list_relations(
        &self,
        database: &str,
        schema: &str,
    ) -> Result<Vec<(String, RelationKind)>> {
        self.relations(database, schema).await
    }

    async fn query_columns(&self, sql: &str) -> Result<Vec<ColumnInfo>> {
        let describe =
            format!("describe (select * from (\n{sql}\n) as strata_contract_probe where false)");
        let r = self
            .0
            .with_conn(move |c| run(c, &describe, &[], true))
            .await?;
        Ok(column_infos(r))
    }

    async fn get_columns(&self, relation: &Relation) -> Result<Vec<ColumnInfo>> {
        self.columns(relation).await
    }

    async fn catalog(
        &self,
        database: &str,
        schemas: &[String],
    ) -> Result<Vec<super::CatalogRelation>> {
        SharedDuckDb::catalog(self, database, schemas).await
    }

    /// dbt-duckdb's statements: `comment on table|view` when the description is not empty,
    /// `comment on column` for each documented column.
    async fn persist_docs(
        &self,
        relation: &Relation,
        docs: &crate::adapters::RelationDocs,
    ) -> Result<Vec<String>> {
        let mut statements = Vec::new();
        if let Some(table) = docs.relation.as_ref().filter(|t| !t.description.is_empty()) {
            let kind = if relation.kind == RelationKind::View {
                "view"
            } else {
                "table"
            };
            statements.push(format!(
                "comment on {kind} {relation} is {}",
                quote_literal(&table.description)
            ));
        }
        for column in docs.columns.iter().flatten() {
            statements.push(format!(
                "comment on column {relation}.{} is {}",
                DoubleQuotes.quote(&column.name),
                quote_literal(&column.description)
            ));
        }
        if !statements.is_empty() {
            self.execute_atomic(&statements).await?;
        }
        Ok(Vec::new())
    }

    async fn create_schema(&self, database: &str, schema: &str) -> Result<()> {
        let q = DoubleQuotes;
        let sql = format!(
            "create schema if not exists {}.{}",
            q.quote(database),
            q.quote(schema)
        );
        self.execute(&sql, false).await.map(|_| ())
    }

    async fn cancel_all(&self) {
        if let Ok(r) = self.0.running.lock() {
            for h in r.iter() {
                h.interrupt();
            }
        }
    }

    fn may_exit_without_closing(&self) -> bool {
        self.0.settled()
    }

    fn parses(&self, sql: &str) -> Option<std::result::Result<(), String>> {
        // json_serialize_sql parses without binding: no table needs to exist. Statements it
        // does not serialize (PIVOT, DELETE, ...) parsed before it said so.
        let conn = self.0.take_conn().ok()?;
        let out = conn.query_row("select json_serialize_sql(?::varchar)", [sql], |r| {
            r.get::<_, String>(0)
        });
        self.0.give_back(conn);
        let parsed: SerializedSql = serde_json::from_str(&out.ok()?).ok()?;
        if parsed.error && parsed.error_type == "parser" {
            let message = parsed.error_message.as_deref().unwrap_or("syntax error");
            Some(Err(message.to_string()))
        } else {
            Some(Ok(()))
        }
    }

    fn owns_database(&self) -> bool {
        true
    }

    async fn reclaim_storage(&self) -> Result<bool> {
        let this = self.0.clone();
        tokio::task::spawn_blocking(move || this.compact())
            .await
            .map_err(|e| Error::Adapter(format!("DuckDB worker failed: {e}")))?
    }

    fn engine_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(
            self.0
                .engine_nanos
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    async fn describe(&self) -> Result<String> {
        let r = self.execute("select version()", true).await?;
        let version = r
            .table
            .and_then(|t| t.rows.into_iter().next())
            .and_then(|row| row.into_iter().next())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        Ok(format!("duckdb {version} at {}", self.0.path))
    }
}

/// What DuckDB's `json_serialize_sql` says of a statement it could not serialize (the
/// statement itself, when it could, is not read).
#[derive(serde::Deserialize)]
struct SerializedSql {
    #[serde(default)]
    error: bool,
    #[serde(default)]
    error_type: String,
    #[serde(default)]
    error_message: Option<String>,
}
