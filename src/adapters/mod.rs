//! The `Adapter` trait: one interface for the embedded DuckDB engine and for Athena.
//!
//! It is written for the slow, remote, billed case: every statement reports rows affected,
//! bytes scanned and the engine's query id where there is one; relations and columns come
//! from the adapter (a catalog API for Athena); running work can be cancelled.

pub mod athena;
pub mod duckdb;
pub mod keys;
pub mod seed_types;
mod targets;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::compile::{Dialect, Relation, RelationKind, Table};
use crate::error::{Error, Result};
use crate::project::{Config, Target};
pub use targets::{default_target, TARGET_RULES};

/// What one statement (or one atomic group of statements) did.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ExecResult {
    pub rows_affected: Option<u64>,
    pub bytes_scanned: Option<u64>,
    pub query_id: Option<String>,
    /// Time the engine reports having spent (Athena's EngineExecutionTimeInMillis).
    pub engine_ms: Option<u64>,
    /// Short engine response (`OK`, `CREATE`, `INSERT 12`...).
    pub message: String,
    #[serde(skip)]
    pub table: Option<Table>,
}

impl ExecResult {
    /// Sum counts over several statements of one node.
    pub fn absorb(&mut self, other: &ExecResult) {
        fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            }
        }
        self.rows_affected = add(self.rows_affected, other.rows_affected);
        self.bytes_scanned = add(self.bytes_scanned, other.bytes_scanned);
        self.engine_ms = add(self.engine_ms, other.engine_ms);
        if other.query_id.is_some() {
            self.query_id = other.query_id.clone();
        }
        if !other.message.is_empty() {
            self.message = other.message.clone();
        }
    }
}

/// A column as the warehouse describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: String,
}

/// A relation as the warehouse describes it, for catalog.json (`strata docs generate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogRelation {
    pub schema: String,
    pub name: String,
    /// dbt's names: `BASE TABLE` or `VIEW`.
    pub kind: String,
    pub comment: Option<String>,
    pub owner: Option<String>,
    /// The columns in the relation's order (Athena: a Hive table's partition keys last).
    pub columns: Vec<CatalogColumn>,
    /// What else the engine keeps of it (Athena: the table format, partitioning, Iceberg
    /// properties), as (id, label, value).
    pub stats: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogColumn {
    pub name: String,
    pub data_type: String,
    pub comment: Option<String>,
}

/// What `persist_docs` writes to the warehouse after a build: the model's description (with
/// `persist_docs.relation`) and its documented columns' (with `persist_docs.columns`).
#[derive(Debug, Clone, Default)]
pub struct RelationDocs {
    pub relation: Option<TableDocs>,
    pub columns: Option<Vec<ColumnDoc>>,
}

#[derive(Debug, Clone, Default)]
pub struct TableDocs {
    pub description: String,
    /// What dbt-athena also keeps as Glue table parameters: the model's `meta`, then its
    /// unique_id, materialization and the project's name and version.
    pub parameters: Vec<(String, serde_json::Value)>,
}

#[derive(Debug, Clone, Default)]
pub struct ColumnDoc {
    /// The column's name as documented (and as the relation spells it).
    pub name: String,
    pub description: String,
    pub meta: serde_json::Map<String, serde_json::Value>,
}

/// The one literal-quoting function of the adapters: a SQL string literal (for the few
/// values that cannot travel as parameters: paths, ids over Athena's parameter limit).
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Write locks an adapter holds for a caller ([`Adapter::lock_writes`]); empty where the
/// engine needs none.
#[derive(Default)]
pub struct WriteLock(pub Option<Box<dyn std::any::Any + Send + Sync>>);

#[async_trait]
pub trait Adapter: Send + Sync {
    fn adapter_type(&self) -> &str;

    /// Quoting and built-in macro templates, for the compiler.
    fn dialect(&self) -> Dialect;

    /// The sqlparser dialect used to check compiled SQL before it is sent.
    fn sql_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect + Send + Sync>;

    /// Does the engine's own parser accept `sql` (parsing only, nothing runs)? Asked when
    /// sqlparser refuses compiled SQL: sqlparser does not know every engine's syntax
    /// (DuckDB's list comprehensions, `**`, `#1`, ...). `None`: the engine cannot say without
    /// running it, so sqlparser's refusal stands.
    fn parses(&self, _sql: &str) -> Option<std::result::Result<(), String>> {
        None
    }

    /// Run one statement; with `fetch`, return its rows.
    async fn execute(&self, sql: &str, fetch: bool) -> Result<ExecResult>;

    /// Run statements as one unit: in a transaction where the engine has them, otherwise in
    /// order, stopping at the first failure.
    async fn execute_atomic(&self, statements: &[String]) -> Result<ExecResult>;

    /// Does a failed `execute_atomic` undo the unit's earlier statements (a transaction)?
    /// Where it does not, a caller that needs all or nothing undoes them itself (the table
    /// swap renames the backup back).
    fn atomic_units_roll_back(&self) -> bool {
        true
    }

    /// Does this engine keep the build state that lets a run reuse unchanged relations
    /// (execute/reuse.rs)?
    fn reuses_builds(&self) -> bool {
        false
    }

    /// Relations in a schema, with the data versions the engine itself keeps for them,
    /// which every write replaces (Athena: an Iceberg table's `metadata_location` in Glue),
    /// by lowercase identifier, from the same listing. `None`: the engine keeps none, and a
    /// relation Strata built counts as holding what its last build left.
    async fn list_relations_versioned(
        &self,
        database: &str,
        schema: &str,
    ) -> Result<(
        Vec<(String, RelationKind)>,
        Option<std::collections::HashMap<String, String>>,
    )> {
        Ok((self.list_relations(database, schema).await?, None))
    }

    /// One relation's data version as
    /// [`list_relations_versioned`](Adapter::list_relations_versioned) has it.
    async fn data_version(&self, _relation: &Relation) -> Result<Option<String>> {
        Ok(None)
    }

    /// Where the build state lives when not in a table read through SQL: an object-store
    /// URI (Athena: S3, so a run that rebuilds nothing sends no query).
    fn build_state_object(&self) -> Option<String> {
        None
    }

    /// An object's bytes (`build_state_object`); `None` when there is no such object.
    async fn read_object(&self, uri: &str) -> Result<Option<Vec<u8>>> {
        Err(Error::Adapter(format!(
            "{} cannot read {uri}: it keeps no objects",
            self.adapter_type()
        )))
    }

    /// Write an object (`build_state_object`), replacing it.
    async fn write_object(&self, uri: &str, _bytes: Vec<u8>) -> Result<()> {
        Err(Error::Adapter(format!(
            "{} cannot write {uri}: it keeps no objects",
            self.adapter_type()
        )))
    }

    /// Run one statement with `?` placeholders bound to `params` (never spliced into SQL).
    async fn execute_with_params(
        &self,
        sql: &str,
        params: &[String],
        fetch: bool,
    ) -> Result<ExecResult>;

    /// The schemas (Athena: Glue databases) of a database; empty where the adapter cannot
    /// list them.
    async fn list_schemas(&self, _database: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Relations in a schema: (identifier, `Table` | `View`).
    async fn list_relations(
        &self,
        database: &str,
        schema: &str,
    ) -> Result<Vec<(String, RelationKind)>>;

    async fn get_columns(&self, relation: &Relation) -> Result<Vec<ColumnInfo>>;

    /// Every table and view of `schemas` (case-insensitive) in `database`, with columns,
    /// in one read of the catalog (`strata docs generate`).
    async fn catalog(&self, database: &str, schemas: &[String]) -> Result<Vec<CatalogRelation>>;

    async fn create_schema(&self, database: &str, schema: &str) -> Result<()>;

    /// Write a built relation's descriptions where the engine keeps them (DuckDB: COMMENT
    /// ON; Athena: the Glue table). Returns warnings (what the engine could not keep).
    async fn persist_docs(&self, relation: &Relation, docs: &RelationDocs) -> Result<Vec<String>>;

    /// Engine settings of a node applied to the relation it built (Athena: dbt-athena's Lake
    /// Formation tags). Nothing by default.
    async fn after_build(&self, _relation: &Relation, _config: &Config) -> Result<()> {
        Ok(())
    }

    /// Keep other processes from writing `relations` until [`unlock_writes`]: a build of a
    /// relation with personal data against an erasure of it (see athena/lock.rs). Nothing
    /// by default: on DuckDB the database file's lock keeps processes apart.
    ///
    /// [`unlock_writes`]: Adapter::unlock_writes
    async fn lock_writes(&self, _relations: &[Relation], _purpose: &str) -> Result<WriteLock> {
        Ok(WriteLock::default())
    }

    /// Release what [`lock_writes`](Adapter::lock_writes) took (best effort: a lock that
    /// cannot be released expires).
    async fn unlock_writes(&self, _lock: WriteLock) {}

    /// Stop every statement still running (Ctrl-C, SIGTERM).
    async fn cancel_all(&self);

    /// A line for `strata debug`.
    async fn describe(&self) -> Result<String>;

    /// Time spent inside the engine's statements so far (to tell runner overhead apart).
    fn engine_time(&self) -> std::time::Duration;

    /// The columns (names and the engine's types) a query returns, without running it for
    /// its rows: model contracts compare them with the YAML. By default a `where false`
    /// query whose result reports its types.
    async fn query_columns(&self, sql: &str) -> Result<Vec<ColumnInfo>> {
        let probe = format!("select * from (\n{sql}\n) as strata_contract_probe where false");
        let table = self.execute(&probe, true).await?.table.unwrap_or_default();
        if table.column_types.len() != table.columns.len() {
            return Err(crate::error::Error::Adapter(
                "this engine does not report the types of a query's columns".into(),
            ));
        }
        Ok(table
            .columns
            .into_iter()
            .zip(table.column_types)
            .map(|(name, data_type)| ColumnInfo { name, data_type })
            .collect())
    }

    /// May the process end without closing the adapter? Only when closing would do nothing
    /// the exit does not (waits for a connection still being opened).
    fn may_exit_without_closing(&self) -> bool {
        false
    }

    /// Make rows deleted so far unreadable in storage, beyond what the `rights_purge` macro
    /// did (DuckDB keeps freed blocks, old bytes and all, inside its file). Returns whether
    /// anything was rewritten. No other statement may run meanwhile.
    async fn reclaim_storage(&self) -> Result<bool> {
        Ok(false)
    }

    /// Is the whole database the project's own (DuckDB: its file), rather than a catalog
    /// shared with others? Then every schema in it is the project's, and the rights check
    /// looks in all of them for tables that could hold a subject's rows.
    fn owns_database(&self) -> bool {
        false
    }

    /// Does the engine write query results to files only under an object-store prefix
    /// (Athena's UNLOAD: `s3://`), never to a local folder? Then ACCESS exports need an
    /// object-store `rights.access_path`.
    fn writes_files_only_to_object_store(&self) -> bool {
        false
    }

    /// The incremental strategy of a model that names none, as the engine's dbt adapter
    /// chooses it: dbt-core's and dbt-duckdb's `delete+insert` with a unique key, else
    /// `append`.
    fn default_incremental_strategy(
        &self,
        has_unique_key: bool,
        _partitioned: bool,
    ) -> &'static str {
        if has_unique_key {
            "delete+insert"
        } else {
            "append"
        }
    }

    /// The most partitions one CTAS or INSERT may write (Athena: 100); the materializations
    /// split larger writes into batches of partitions.
    fn max_partitions_per_write(&self) -> Option<usize> {
        None
    }

    /// The files under `location` (a local folder, or an object-store prefix for remote
    /// engines), as paths or URIs: where ACCESS exports are found after they ran.
    async fn list_files(&self, location: &str) -> Result<Vec<String>> {
        let mut files: Vec<String> = walkdir::WalkDir::new(location)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| e.path().to_string_lossy().into_owned())
            .collect();
        files.sort();
        Ok(files)
    }

    /// Delete files [`list_files`](Self::list_files) named (ACCESS exports past their
    /// retention); one already gone is not an error. Returns how many were deleted.
    async fn delete_files(&self, files: &[String]) -> Result<usize> {
        let mut deleted = 0;
        for f in files {
            let path = std::path::Path::new(f);
            match std::fs::remove_file(path) {
                Ok(()) => deleted += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(path, e)),
            }
            // Folders left empty (subject, relation, batch) go too; others stay.
            let mut dir = path.parent();
            for _ in 0..3 {
                match dir {
                    Some(d) if std::fs::remove_dir(d).is_ok() => dir = d.parent(),
                    _ => break,
                }
            }
        }
        Ok(deleted)
    }

    /// The SQL type of a seed column dbt inferred as `column` (dbt's SQL adapters' names;
    /// an adapter whose dbt plugin names them otherwise says so).
    fn seed_column_type(&self, column: seed_types::SeedColumn) -> &'static str {
        use seed_types::SeedColumn;
        match column {
            SeedColumn::Number { decimals: false } => "integer",
            SeedColumn::Number { decimals: true } => "float8",
            SeedColumn::Date => "date",
            SeedColumn::DateTime => "timestamp",
            SeedColumn::Boolean => "boolean",
            SeedColumn::Text => "text",
        }
    }

    /// Whether the node's tables are Hive tables (dbt-athena's `table_type: hive`), which
    /// SQL can neither rename nor drop with their files: the materializations then replace,
    /// drop and overwrite them through the methods below. None (the default): the engine's
    /// own tables. An error names a config the engine refuses for Hive tables.
    fn hive_table(&self, _config: &Config) -> Result<Option<HiveTable>> {
        Ok(None)
    }

    /// Drop a table this run built aside (a temporary, staging or backup table) through the
    /// catalog where that saves a queued query (Athena: its files, then its Glue entry, as
    /// dbt-athena drops tables); the files of `keep` (the table a backup was swapped out of)
    /// stay even when they lie inside the dropped table's folder. `false`: not done here,
    /// the `drop_relation` template is run instead.
    async fn drop_built_table(
        &self,
        _relation: &Relation,
        _keep: Option<&Relation>,
    ) -> Result<bool> {
        Ok(false)
    }

    /// Drop a Hive table this run built or replaces: its files, then its catalog entry.
    async fn drop_hive_table(&self, relation: &Relation) -> Result<()> {
        Err(no_hive_tables(relation))
    }

    /// Replace the Hive table `target` by `new` (a complete build beside it, whose files are
    /// the table's own folder): the target takes the new build's definition and partitions,
    /// `new`'s catalog entry goes, then the old build's files.
    async fn swap_hive_table(&self, target: &Relation, _new: &Relation) -> Result<()> {
        Err(no_hive_tables(target))
    }

    /// Delete the partitions of the Hive table `target` that the rows of `source` fall in
    /// (`partition_by`): their files and catalog entries, before the rows are inserted.
    async fn delete_hive_partitions_of(
        &self,
        target: &Relation,
        _source: &Relation,
        _partition_by: &[String],
    ) -> Result<ExecResult> {
        Err(no_hive_tables(target))
    }

    /// Make a seed's CSV file readable by the engine (Athena: upload it to S3) and say where
    /// the `load_csv` macro finds it.
    async fn stage_seed(
        &self,
        csv: &std::path::Path,
        _relation: &Relation,
        _column_types: &serde_json::Value,
        _config: &Config,
    ) -> Result<SeedFile> {
        Ok(SeedFile {
            location: csv.to_string_lossy().into_owned(),
            columns: Vec::new(),
        })
    }
}

/// A model's Hive tables, as the engine builds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HiveTable {
    /// Does each build write into a folder of its own (no `external_location`, an
    /// `s3_data_naming` with `unique`)? Then a rebuild is built aside and swapped in;
    /// otherwise the old table is dropped first (its folder is the new build's).
    pub unique_location: bool,
}

fn no_hive_tables(relation: &Relation) -> Error {
    Error::Adapter(format!(
        "{relation}: this engine builds no Hive tables (table_type: hive is an Athena setting)"
    ))
}

/// A seed file where the engine reads it, with its columns and types when the engine
/// cannot infer them itself.
#[derive(Debug, Clone)]
pub struct SeedFile {
    pub location: String,
    pub columns: Vec<ColumnInfo>,
}

/// Is there a database file to open, which takes a while when large (its catalog and table
/// statistics are read)? Then connecting is worth starting before the project's files load.
pub fn has_database_to_open(target: &Target) -> bool {
    target.adapter_type == "duckdb" && duckdb::file_on_disk(target).is_some_and(|p| p.is_file())
}

/// Connect to the target's engine.
/// The adapter for `target`. With `open_now` an embedded database starts opening at once (in
/// the background); without it, when a statement first needs it (`strata ls` needs none).
pub fn connect(target: &Target, open_now: bool) -> Result<Arc<dyn Adapter>> {
    match target.adapter_type.as_str() {
        "duckdb" => Ok(Arc::new(
            duckdb::DuckDbAdapter::open(target, open_now)?.shared(),
        )),
        "athena" => Ok(Arc::new(athena::AthenaAdapter::open(target)?)),
        other => Err(Error::Usage(format!(
            "target '{}' has type '{other}', which this build of strata cannot run (supported: duckdb, athena)",
            target.name
        ))),
    }
}

/// Macros every adapter shares: the dispatching entry points the runner calls, the generic
/// tests, and the test wrapper. Adapters implement `<type>__name` or `default__name`.
pub const COMMON_MACROS: &[(&str, &str)] = &[
    (
        "materializations.sql",
        include_str!("macros/materializations.sql"),
    ),
    ("tests.sql", include_str!("macros/tests.sql")),
    ("cross_db.sql", include_str!("macros/cross_db.sql")),
    (
        "cross_db_strings.sql",
        include_str!("macros/cross_db_strings.sql"),
    ),
    (
        "cross_db_dates.sql",
        include_str!("macros/cross_db_dates.sql"),
    ),
    (
        "cross_db_sets.sql",
        include_str!("macros/cross_db_sets.sql"),
    ),
    ("rights.sql", include_str!("macros/rights.sql")),
    ("freshness.sql", include_str!("macros/freshness.sql")),
    ("snapshot.sql", include_str!("macros/snapshot.sql")),
    ("merge.sql", include_str!("macros/merge.sql")),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// What the rights engine asked with `adapter_type() == "duckdb"` before: a DuckDB file is
    /// the project's own, and exports go to local folders.
    #[test]
    fn duckdb_owns_its_database_and_writes_local_files() {
        let mut target = default_target("p", "target");
        target.settings.insert("path".into(), ":memory:".into());
        let Ok(adapter) = connect(&target, false) else {
            panic!("an in-memory DuckDB target connects");
        };
        assert!(adapter.owns_database());
        assert!(!adapter.writes_files_only_to_object_store());
    }
}
