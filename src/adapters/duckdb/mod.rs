//! The embedded DuckDB engine: the default target, a file under `target/`, no credentials.
//!
//! DuckDB is synchronous; each call runs on tokio's blocking pool with a connection taken
//! from a small pool of clones of one database handle.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use duckdb::types::{TimeUnit, Value as DValue};
use duckdb::Connection;

use super::{quote_literal, Adapter, ColumnInfo, ExecResult, COMMON_MACROS};
use crate::compile::{Dialect, DoubleQuotes, Quoting, Relation, Table};
use crate::error::{Error, Result};
use crate::project::Target;

const DUCKDB_MACROS: &[(&str, &str)] = &[
    ("adapter.sql", include_str!("macros/adapter.sql")),
    ("cross_db.sql", include_str!("macros/cross_db.sql")),
];

type Opener = Box<dyn FnOnce() -> Result<Connection> + Send>;

/// The database handle, the thread still opening it, or how to open it when first needed.
enum Root {
    Opening(Option<std::thread::JoinHandle<Result<Connection>>>),
    Later(Option<Opener>),
    Open(Connection),
}

/// dbt-duckdb's profile keys for DuckDB itself: `config_options:` (given when the database
/// opens: some settings DuckDB takes only then), `extensions:` (installed unless DuckDB has
/// them already, then loaded) and `settings:` (a `SET` each, after the extensions, as
/// dbt-duckdb does; the ones DuckDB keeps per connection again on every pooled connection).
#[derive(Debug, Clone, Default)]
struct Setup {
    /// The profile file, for errors.
    profile: std::path::PathBuf,
    /// `target 'dev'`, for errors.
    target: String,
    config_options: Vec<(String, String)>,
    /// (key, SQL literal).
    settings: Vec<(String, String)>,
    /// (name, repository as SQL: an alias such as `community` bare, a URL or path quoted).
    extensions: Vec<(String, Option<String>)>,
    /// The settings DuckDB would not take for the whole database, found while preparing the
    /// first connection (on the opening thread; shared with the adapter's copy).
    per_connection: Arc<std::sync::OnceLock<Vec<(String, String)>>>,
    /// The profile's `duckdb_threads`, set when the database opens.
    threads: Option<u64>,
}

fn is_name(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// dbt-duckdb pastes `repo` into `INSTALL x FROM <repo>` as written: a bare alias
/// (`community`, `core_nightly`) or a quoted URL or path. Quotes written into the value are
/// taken as that quoting.
fn repo_sql(repo: &str) -> String {
    let bare = repo.trim().trim_matches(|c| c == '\'' || c == '"');
    if is_name(bare) {
        bare.to_string()
    } else {
        quote_literal(bare)
    }
}

impl Setup {
    fn from_target(target: &Target) -> Result<Self> {
        let mut setup = Setup {
            profile: target
                .profiles_path
                .clone()
                .unwrap_or_else(|| "profiles.yml".into()),
            target: format!("target '{}'", target.name),
            threads: target
                .settings
                .get("duckdb_threads")
                .and_then(|v| v.as_u64()),
            ..Setup::default()
        };
        for (section, into_sql) in [("config_options", false), ("settings", true)] {
            let map = match target.settings.get(section) {
                None | Some(serde_json::Value::Null) => continue,
                Some(serde_json::Value::Object(map)) => map,
                Some(other) => {
                    return Err(setup.error(format!("`{section}:` must be a mapping, not {other}")))
                }
            };
            for (key, value) in map {
                if !is_name(key) {
                    return Err(setup.error(format!(
                        "`{section}:` key '{key}' is not a DuckDB setting name"
                    )));
                }
                let text = match value {
                    serde_json::Value::String(s) if into_sql => quote_literal(s),
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    other => {
                        return Err(setup.error(format!(
                            "`{section}: {key}` must be a string, number or boolean, not {other}"
                        )))
                    }
                };
                let list = if into_sql {
                    &mut setup.settings
                } else {
                    &mut setup.config_options
                };
                list.push((key.clone(), text));
            }
        }
        match target.settings.get("extensions") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Array(items)) => {
                for item in items {
                    let (name, repo) = match item {
                        serde_json::Value::String(name) => (name.as_str(), None),
                        serde_json::Value::Object(map) => (
                            map.get("name").and_then(|v| v.as_str()).unwrap_or_default(),
                            map.get("repo").and_then(|v| v.as_str()).map(repo_sql),
                        ),
                        _ => ("", None),
                    };
                    if !is_name(name) {
                        return Err(setup.error(format!(
                            "`extensions:` items are names (httpfs) or {{name, repo}} maps, not {item}"
                        )));
                    }
                    setup.extensions.push((name.to_string(), repo));
                }
            }
            Some(other) => {
                return Err(setup.error(format!("`extensions:` must be a list, not {other}")))
            }
        }
        Ok(setup)
    }

    fn error(&self, message: String) -> Error {
        Error::config(&self.profile, format!("{}: {message}", self.target))
    }

    /// The options DuckDB takes only when the database opens.
    fn open_config(&self) -> Result<duckdb::Config> {
        let mut config = duckdb::Config::default();
        for (key, value) in &self.config_options {
            config = config
                .with(key, value)
                .map_err(|e| self.error(format!("`config_options: {key}`: {e}")))?;
        }
        Ok(config)
    }

    /// Extensions, then settings, on the database's first connection.
    fn prepare(&self, conn: &Connection) -> Result<()> {
        for (name, repo) in &self.extensions {
            let fail = |e: duckdb::Error| self.error(format!("extension '{name}': {e}"));
            // INSTALL downloads even extensions built into the library: ask first. One
            // already loaded (built in) is used as it is; one only installed is installed
            // again from a `repo:` given, as dbt-duckdb does.
            let (installed, loaded): (bool, bool) = conn
                .query_row(
                    "select count(*) filter (where installed) > 0, count(*) filter (where loaded) > 0 \
                     from duckdb_extensions() where extension_name = ?",
                    [name],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .map_err(fail)?;
            let install = match repo {
                _ if loaded => None,
                Some(repo) => Some(format!("INSTALL {name} FROM {repo}")),
                None => (!installed).then(|| format!("INSTALL {name}")),
            };
            if let Some(install) = install {
                conn.execute(&install, []).map_err(fail)?;
            }
            conn.execute(&format!("LOAD {name}"), []).map_err(fail)?;
        }
        // Settings are set for the whole database where DuckDB allows it, so every later
        // connection starts with them; the ones it keeps per connection only (search_path,
        // enable_progress_bar, ...) are set again on each new connection. lock_configuration
        // goes last, or it would refuse the rest.
        let mut local = Vec::new();
        let (lock, settings): (Vec<_>, Vec<_>) = self
            .settings
            .iter()
            .partition(|(key, _)| key.eq_ignore_ascii_case("lock_configuration"));
        for (key, value) in settings.into_iter().chain(lock) {
            let refused = |e: duckdb::Error| self.error(format!("`settings: {key}`: {e}"));
            if conn
                .execute(&format!("SET GLOBAL {key} = {value}"), [])
                .is_err()
            {
                conn.execute(&format!("SET {key} = {value}"), [])
                    .map_err(refused)?;
                local.push((key.clone(), value.clone()));
            }
        }
        let _ = self.per_connection.set(local);
        Ok(())
    }

    /// Set the per-connection settings on a new connection.
    fn prepare_connection(&self, conn: &Connection) -> Result<()> {
        for (key, value) in self.per_connection.get().into_iter().flatten() {
            conn.execute(&format!("SET {key} = {value}"), [])
                .map_err(|e| self.error(format!("`settings: {key}`: {e}")))?;
        }
        Ok(())
    }
}

fn failed_earlier() -> Error {
    Error::Adapter("DuckDB failed to open earlier".into())
}

impl Root {
    /// Wait for a background open to finish (Opening becomes Open, or its error).
    fn wait_for_open(&mut self) -> Result<()> {
        if let Root::Opening(handle) = self {
            let opened = handle
                .take()
                .ok_or_else(failed_earlier)?
                .join()
                .map_err(|_| Error::Adapter("opening DuckDB panicked".into()))?;
            *self = Root::Open(opened?);
        }
        Ok(())
    }
}

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

fn engine_error(e: duckdb::Error) -> Error {
    Error::Adapter(e.to_string())
}

/// A command that ends before the background open has finished (`strata ls` on a new project)
/// must not leave a half-created database file behind: the process exits right after the
/// adapter is dropped, so the drop waits for the open.
impl Drop for DuckDbAdapter {
    fn drop(&mut self) {
        let root = match self.root.get_mut() {
            Ok(root) => root,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Root::Opening(handle) = root {
            if let Some(handle) = handle.take() {
                let _ = handle.join();
            }
        }
    }
}

/// Open the database itself (the first connection): with the profile's `config_options`,
/// `duckdb_threads`, extensions and settings.
fn open_root(path: &str, setup: &Setup) -> Result<Connection> {
    let config = setup.open_config()?;
    let root = if path == ":memory:" {
        Connection::open_in_memory_with_flags(config)
    } else {
        Connection::open_with_flags(path, config)
    }
    .map_err(|e| {
        let options = if setup.config_options.is_empty() {
            String::new()
        } else {
            format!(
                " (with the `config_options:` of {}, {})",
                setup.profile.display(),
                setup.target
            )
        };
        Error::Adapter(format!(
            "cannot open DuckDB database '{path}'{options}: {e}"
        ))
    })?;
    if let Some(threads) = setup.threads {
        root.execute_batch(&format!("SET threads = {threads}"))
            .map_err(engine_error)?;
    }
    setup.prepare(&root)?;
    Ok(root)
}

impl DuckDbAdapter {
    /// Start opening the database on a thread of its own (opening a file with many tables
    /// takes a while), so loading and parsing the project overlap with it; or, when `now` is
    /// false (`strata ls`), only when a statement first needs it.
    pub fn open(target: &Target, now: bool) -> Result<Self> {
        let path = target.setting_str("path").unwrap_or(":memory:").to_string();
        if let Some(file) = on_disk(&path) {
            if let Some(parent) = file.parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
            }
        }
        let setup = Setup::from_target(target)?;
        let opening_setup = setup.clone();
        let opening_path = path.clone();
        let opener = move || open_root(&opening_path, &opening_setup);
        let root = if now {
            // Everything after loading waits for the catalog: the open keeps its core.
            let held = crate::parallel::hold_core();
            Root::Opening(Some(std::thread::spawn(move || {
                let _held = held;
                opener()
            })))
        } else {
            Root::Later(Some(Box::new(opener)))
        };
        Ok(DuckDbAdapter {
            setup,
            path,
            root: Mutex::new(root),
            pool: Mutex::new(Vec::new()),
            running: Mutex::new(Vec::new()),
            engine_nanos: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The database handle, opened (now, or by the thread opening it) and locked.
    fn opened_root(&self) -> Result<std::sync::MutexGuard<'_, Root>> {
        let mut root = self
            .root
            .lock()
            .map_err(|_| Error::Adapter("DuckDB connection lock poisoned".into()))?;
        if let Root::Later(opener) = &mut *root {
            let open = opener.take().ok_or_else(failed_earlier)?;
            *root = Root::Open(open()?);
        }
        root.wait_for_open()?;
        Ok(root)
    }

    fn take_conn(&self) -> Result<Connection> {
        if let Some(c) = self.pool.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(c);
        }
        let root = self.opened_root()?;
        match &*root {
            Root::Open(c) => {
                let conn = c.try_clone().map_err(engine_error)?;
                self.setup.prepare_connection(&conn)?;
                Ok(conn)
            }
            _ => Err(Error::Adapter("DuckDB is not open".into())),
        }
    }

    /// True when closing would only spend time: the open has finished (waited for), nothing
    /// is running, and there is no write-ahead log for the close to fold into the file
    /// (nothing was written, or it is checkpointed already). A file with a log is closed
    /// properly, so the database file alone stays complete (people copy it).
    fn settled(&self) -> bool {
        let Ok(mut root) = self.root.lock() else {
            return false;
        };
        if root.wait_for_open().is_err() {
            return false;
        }
        if self.running.lock().map_or(true, |r| !r.is_empty()) {
            return false;
        }
        match &*root {
            // Ask DuckDB, not the file system: it expands `~` in the path, and attached
            // databases have logs of their own.
            Root::Open(conn) => conn
                .query_row(
                    "select count(*) from pragma_database_size() where wal_size <> '0 bytes'",
                    [],
                    |row| row.get::<_, i64>(0),
                )
                .is_ok_and(|logs| logs == 0),
            _ => true,
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut p) = self.pool.lock() {
            p.push(conn);
        }
    }

    /// Copy the whole database into a new file and put the copy in the old one's place, so
    /// that deleted rows leave the file: DuckDB keeps freed blocks, with their old bytes,
    /// inside the file for reuse (a checkpoint does not clear them). Every connection is
    /// closed for the swap and the database opened again. The original stays whole until
    /// the copy is complete (the rename is atomic); a copy left by a crash is discarded.
    fn compact(&self) -> Result<bool> {
        let Some(file) = on_disk(&self.path) else {
            return Ok(false);
        };
        // The file itself, not a symbolic link to it (renaming over the link would leave
        // the erased rows in the real file); another hard link would keep them too.
        let file = file.canonicalize().map_err(|e| Error::io(&file, e))?;
        let meta = std::fs::metadata(&file).map_err(|e| Error::io(&file, e))?;
        {
            use std::os::unix::fs::MetadataExt;
            if meta.nlink() > 1 {
                return Err(Error::Adapter(format!(
                    "{} has {} hard links: rewriting it would leave the erased rows in the \
                     others; remove the other links and purge again",
                    file.display(),
                    meta.nlink()
                )));
            }
        }
        let mut root = self.opened_root()?;
        if self.running.lock().map_or(true, |r| !r.is_empty()) {
            return Err(Error::Adapter(
                "cannot rewrite the DuckDB file while statements run".into(),
            ));
        }
        let Root::Open(conn) = &*root else {
            return Err(Error::Adapter("DuckDB is not open".into()));
        };
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let copy = file.with_file_name(format!("{name}.compact"));
        let wal_of = |p: &Path| {
            let mut w = p.as_os_str().to_owned();
            w.push(".wal");
            std::path::PathBuf::from(w)
        };
        for stale in [&copy, &wal_of(&copy)] {
            if stale.exists() {
                std::fs::remove_file(stale).map_err(|e| Error::io(stale, e))?;
            }
        }
        let database: String = conn
            .query_row("select current_database()", [], |r| r.get(0))
            .map_err(engine_error)?;
        let attach = format!(
            "attach {} as strata_compact",
            quote_literal(&copy.to_string_lossy())
        );
        let copied = conn.execute_batch(&format!(
            "{attach}; copy from database {} to strata_compact; detach strata_compact;",
            DoubleQuotes.quote(&database)
        ));
        if let Err(first) = copied {
            // COPY FROM DATABASE copies tables in an order a foreign key can refuse;
            // EXPORT / IMPORT DATABASE orders them by their dependencies.
            let _ = conn.execute_batch("detach database if exists strata_compact");
            let _ = std::fs::remove_file(&copy);
            let export = file.with_file_name(format!("{name}.export"));
            let _ = std::fs::remove_dir_all(&export);
            // One statement at a time: IMPORT reads the exported files when it is parsed.
            let dir = quote_literal(&export.to_string_lossy());
            let imported = [
                format!("export database {dir} (format parquet)"),
                attach.clone(),
                "use strata_compact".to_string(),
                format!("import database {dir}"),
                format!("use {}", DoubleQuotes.quote(&database)),
                "detach strata_compact".to_string(),
            ]
            .iter()
            .try_for_each(|statement| conn.execute_batch(statement));
            let _ = std::fs::remove_dir_all(&export);
            if let Err(second) = imported {
                let _ = conn.execute_batch(&format!("use {}", DoubleQuotes.quote(&database)));
                let _ = conn.execute_batch("detach database if exists strata_compact");
                let _ = std::fs::remove_file(&copy);
                return Err(Error::Adapter(format!(
                    "cannot copy {} to rewrite it: {first}; nor export and import it: {second}",
                    file.display()
                )));
            }
        }
        // The copy is read and written by whoever could the original.
        std::fs::set_permissions(&copy, meta.permissions()).map_err(|e| Error::io(&copy, e))?;
        // Close: pooled clones first, then the database's own connection (DuckDB closes the
        // file when the last one goes, folding in its log).
        if let Ok(mut pool) = self.pool.lock() {
            pool.clear();
        }
        if let Root::Open(conn) = std::mem::replace(&mut *root, Root::Later(None)) {
            conn.close().map_err(|(_, e)| engine_error(e))?;
        }
        std::fs::rename(&copy, &file).map_err(|e| Error::io(&file, e))?;
        let wal = wal_of(&file);
        if wal.exists() {
            std::fs::remove_file(&wal).map_err(|e| Error::io(&wal, e))?;
        }
        *root = Root::Open(open_root(&self.path, &self.setup)?);
        Ok(true)
    }

    /// Run `f` with a pooled connection on the blocking pool.
    async fn with_conn<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = this.take_conn()?;
            let handle = conn.interrupt_handle();
            if let Ok(mut r) = this.running.lock() {
                r.push(handle.clone());
            }
            let t = std::time::Instant::now();
            let out = f(&conn);
            this.engine_nanos.fetch_add(
                t.elapsed().as_nanos() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
            if let Ok(mut r) = this.running.lock() {
                r.retain(|h| !Arc::ptr_eq(h, &handle));
            }
            this.give_back(conn);
            out
        })
        .await
        .map_err(|e| Error::Adapter(format!("DuckDB worker failed: {e}")))?
    }
}

/// Where the target's database file is, as DuckDB opens it (`~/` is the home folder); `None`
/// in memory.
pub fn file_on_disk(target: &Target) -> Option<std::path::PathBuf> {
    on_disk(target.setting_str("path").unwrap_or(":memory:"))
}

fn on_disk(path: &str) -> Option<std::path::PathBuf> {
    if path == ":memory:" {
        return None;
    }
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Some(Path::new(&home).join(rest)),
        _ => Some(path.into()),
    }
}

/// The adapter lives behind an `Arc`; the trait takes `&self`, so keep one inside.
pub struct SharedDuckDb(Arc<DuckDbAdapter>);

impl DuckDbAdapter {
    pub fn shared(self) -> SharedDuckDb {
        SharedDuckDb(Arc::new(self))
    }
}

pub fn to_json(v: DValue) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        DValue::Null => J::Null,
        DValue::Boolean(b) => J::Bool(b),
        DValue::TinyInt(i) => J::from(i),
        DValue::SmallInt(i) => J::from(i),
        DValue::Int(i) => J::from(i),
        DValue::BigInt(i) => J::from(i),
        DValue::HugeInt(i) => i64::try_from(i)
            .map(J::from)
            .unwrap_or_else(|_| J::String(i.to_string())),
        DValue::UHugeInt(i) => u64::try_from(i)
            .map(J::from)
            .unwrap_or_else(|_| J::String(i.to_string())),
        DValue::UTinyInt(i) => J::from(i),
        DValue::USmallInt(i) => J::from(i),
        DValue::UInt(i) => J::from(i),
        DValue::UBigInt(i) => J::from(i),
        DValue::Float(f) => serde_json::Number::from_f64(f as f64)
            .map(J::Number)
            .unwrap_or(J::Null),
        DValue::Double(f) => serde_json::Number::from_f64(f)
            .map(J::Number)
            .unwrap_or(J::Null),
        DValue::Decimal(d) => {
            let s = d.to_string();
            s.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(J::Number)
                .unwrap_or(J::String(s))
        }
        DValue::Text(s) | DValue::Enum(s) => J::String(s),
        DValue::Date32(days) => chrono::DateTime::from_timestamp(days as i64 * 86_400, 0)
            .map(|d| J::String(d.format("%Y-%m-%d").to_string()))
            .unwrap_or(J::Null),
        DValue::Timestamp(unit, t) => {
            let micros = match unit {
                TimeUnit::Second => t.saturating_mul(1_000_000),
                TimeUnit::Millisecond => t.saturating_mul(1_000),
                TimeUnit::Microsecond => t,
                TimeUnit::Nanosecond => t / 1_000,
            };
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|d| J::String(d.format("%Y-%m-%d %H:%M:%S%.f").to_string()))
                .unwrap_or(J::Null)
        }
        DValue::List(items) | DValue::Array(items) => {
            J::Array(items.into_iter().map(to_json).collect())
        }
        DValue::Struct(fields) => J::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v.clone())))
                .collect(),
        ),
        DValue::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match to_json(k.clone()) {
                        J::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v.clone()))
                })
                .collect(),
        ),
        DValue::Union(inner) => to_json(*inner),
        other => J::String(format!("{other:?}")),
    }
}

/// Run one statement on `conn`; fetch rows when asked.
fn run(conn: &Connection, sql: &str, params: &[String], fetch: bool) -> Result<ExecResult> {
    let mut stmt = conn.prepare(sql).map_err(engine_error)?;
    let bind = duckdb::params_from_iter(params.iter());
    if !fetch {
        let n = stmt.execute(bind).map_err(engine_error)?;
        return Ok(ExecResult {
            rows_affected: Some(n as u64),
            message: "OK".into(),
            ..Default::default()
        });
    }
    let mut rows = stmt.query(bind).map_err(engine_error)?;
    let columns = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
    let mut table = Table {
        columns: columns.clone(),
        ..Table::default()
    };
    while let Some(row) = rows.next().map_err(engine_error)? {
        let mut out = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            let v: DValue = row.get(i).map_err(engine_error)?;
            out.push(to_json(v));
        }
        table.rows.push(out);
    }
    Ok(ExecResult {
        rows_affected: Some(table.rows.len() as u64),
        message: "OK".into(),
        table: Some(table),
        ..Default::default()
    })
}

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
        }
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
        let params = vec![database.to_string()];
        let r = self
            .0
            .with_conn(move |c| {
                run(
                    c,
                    "select schema_name from information_schema.schemata where catalog_name = ? \
                     and schema_name not in ('information_schema', 'pg_catalog')",
                    &params,
                    true,
                )
            })
            .await?;
        Ok(r.table
            .map(|t| {
                t.rows
                    .into_iter()
                    .filter_map(|row| Some(row.first()?.as_str()?.to_string()))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn list_relations(&self, database: &str, schema: &str) -> Result<Vec<(String, String)>> {
        let params = vec![database.to_string(), schema.to_string()];
        let r = self
            .0
            .with_conn(move |c| {
                run(
                    c,
                    "select table_name, case when table_type = 'VIEW' then 'view' else 'table' end \
                     from information_schema.tables where table_catalog = ? and table_schema = ?",
                    &params,
                    true,
                )
            })
            .await?;
        Ok(r.table
            .map(|t| {
                t.rows
                    .into_iter()
                    .filter_map(|row| {
                        let name = row.first()?.as_str()?.to_string();
                        let kind = row.get(1)?.as_str()?.to_string();
                        Some((name, kind))
                    })
                    .collect()
            })
            .unwrap_or_default())
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
        // A relation named without its database (a source without `database:`) is in the
        // current one.
        let params = vec![
            relation.database.clone().unwrap_or_default(),
            relation.schema.clone(),
            relation.identifier.clone(),
        ];
        let r = self
            .0
            .with_conn(move |c| {
                run(
                    c,
                    "select column_name, data_type from information_schema.columns \
                     where table_catalog = coalesce(nullif(?, ''), current_database()) \
                       and table_schema = ? and table_name = ? \
                     order by ordinal_position",
                    &params,
                    true,
                )
            })
            .await?;
        Ok(column_infos(r))
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
        let json: serde_json::Value = serde_json::from_str(&out.ok()?).ok()?;
        if json["error"].as_bool() == Some(true) && json["error_type"] == "parser" {
            let message = json["error_message"].as_str().unwrap_or("syntax error");
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

/// (name, type) rows, as DESCRIBE and information_schema.columns return them.
fn column_infos(r: ExecResult) -> Vec<ColumnInfo> {
    r.table
        .map(|t| {
            t.rows
                .into_iter()
                .filter_map(|row| {
                    Some(ColumnInfo {
                        name: row.first()?.as_str()?.to_string(),
                        data_type: row.get(1)?.as_str()?.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}
