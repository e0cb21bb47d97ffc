//! Opening the database (in the background, or when first needed), the pool of connections
//! cloned from it, running work on tokio's blocking pool, and where the database file is.

use std::path::Path;
use std::sync::{Arc, Mutex};

use duckdb::Connection;

use super::setup::Setup;
use super::{engine_error, DuckDbAdapter, SharedDuckDb};
use crate::error::{Error, Result};
use crate::project::Target;

pub(super) type Opener = Box<dyn FnOnce() -> Result<Connection> + Send>;

/// The database handle, the thread still opening it, or how to open it when first needed.
pub(super) enum Root {
    Opening(Option<std::thread::JoinHandle<Result<Connection>>>),
    Later(Option<Opener>),
    Open(Connection),
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
pub(super) fn open_root(path: &str, setup: &Setup) -> Result<Connection> {
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
        Error::engine(
            format!("cannot open DuckDB database '{path}'{options}: {e}"),
            e,
        )
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
    pub(super) fn opened_root(&self) -> Result<std::sync::MutexGuard<'_, Root>> {
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

    pub(super) fn take_conn(&self) -> Result<Connection> {
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
    pub(super) fn settled(&self) -> bool {
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

    pub(super) fn give_back(&self, conn: Connection) {
        if let Ok(mut p) = self.pool.lock() {
            p.push(conn);
        }
    }

    /// Run `f` with a pooled connection on the blocking pool.
    pub(super) async fn with_conn<T, F>(self: &Arc<Self>, f: F) -> Result<T>
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

    /// The adapter behind an `Arc`, as the `Adapter` trait needs it.
    pub fn shared(self) -> SharedDuckDb {
        SharedDuckDb(Arc::new(self))
    }
}

/// Where the target's database file is, as DuckDB opens it (`~/` is the home folder); `None`
/// in memory.
pub fn file_on_disk(target: &Target) -> Option<std::path::PathBuf> {
    on_disk(target.setting_str("path").unwrap_or(":memory:"))
}

pub(super) fn on_disk(path: &str) -> Option<std::path::PathBuf> {
    if path == ":memory:" {
        return None;
    }
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Some(Path::new(&home).join(rest)),
        _ => Some(path.into()),
    }
}
