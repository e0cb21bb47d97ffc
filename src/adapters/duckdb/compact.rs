//! Rewriting the database file so deleted rows leave it (after a rights purge).

use std::path::{Path, PathBuf};

use duckdb::Connection;

use super::connection::{on_disk, open_root, Root};
use super::{engine_error, DuckDbAdapter};
use crate::adapters::quote_literal;
use crate::compile::{DoubleQuotes, Quoting};
use crate::error::{Error, Result};

impl DuckDbAdapter {
    /// Copy the whole database into a new file and put the copy in the old one's place, so
    /// that deleted rows leave the file: DuckDB keeps freed blocks, with their old bytes,
    /// inside the file for reuse (a checkpoint does not clear them). Every connection is
    /// closed for the swap and the database opened again. The original stays whole until
    /// the copy is complete (the rename is atomic); a copy left by a crash is discarded.
    pub(super) fn compact(&self) -> Result<bool> {
        let Some(file) = on_disk(&self.path) else {
            return Ok(false);
        };
        let (file, meta) = the_only_link(&file)?;
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
        for stale in [&copy, &wal_of(&copy)] {
            if stale.exists() {
                std::fs::remove_file(stale).map_err(|e| Error::io(stale, e))?;
            }
        }
        copy_database(conn, &file, &copy)?;
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
}

/// The file itself, not a symbolic link to it (renaming over the link would leave the erased
/// rows in the real file), with its metadata; another hard link would keep them too, so one
/// is refused.
fn the_only_link(file: &Path) -> Result<(PathBuf, std::fs::Metadata)> {
    use std::os::unix::fs::MetadataExt;
    let file = file.canonicalize().map_err(|e| Error::io(file, e))?;
    let meta = std::fs::metadata(&file).map_err(|e| Error::io(&file, e))?;
    if meta.nlink() > 1 {
        return Err(Error::Adapter(format!(
            "{} has {} hard links: rewriting it would leave the erased rows in the \
             others; remove the other links and purge again",
            file.display(),
            meta.nlink()
        )));
    }
    Ok((file, meta))
}

/// DuckDB's write-ahead log of the database file `p`.
fn wal_of(p: &Path) -> PathBuf {
    let mut w = p.as_os_str().to_owned();
    w.push(".wal");
    PathBuf::from(w)
}

/// Copy the open database (`file`) into a new database file `copy`: with COPY FROM DATABASE,
/// or, when that fails, with EXPORT and IMPORT DATABASE. Nothing of the copy is left after an
/// error.
fn copy_database(conn: &Connection, file: &Path, copy: &Path) -> Result<()> {
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
    let Err(first) = copied else {
        return Ok(());
    };
    // COPY FROM DATABASE copies tables in an order a foreign key can refuse;
    // EXPORT / IMPORT DATABASE orders them by their dependencies.
    let _ = conn.execute_batch("detach database if exists strata_compact");
    let _ = std::fs::remove_file(copy);
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
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
        let _ = std::fs::remove_file(copy);
        // The source is the error that ended the attempt; the message names both.
        return Err(Error::engine(
            format!(
                "cannot copy {} to rewrite it: {first}; nor export and import it: {second}",
                file.display()
            ),
            second,
        ));
    }
    Ok(())
}
