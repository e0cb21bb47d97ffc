//! Putting one resolved package into the packages-install-path under its project name:
//! local packages as a symlink (a copy where symlinks fail), git checkouts and extracted
//! archives moved into place.

use std::path::{Path, PathBuf};

use super::resolve::Pinned;
use super::Context;
use crate::error::{Error, Result};

/// Install `package` (its metadata fetched again, as dbt does) and return where it went.
pub fn install(package: &mut Pinned, cx: &Context) -> Result<PathBuf> {
    let meta = package.fetch_metadata(cx)?;
    let dest = install_dir(cx, &meta.name)?;
    remove_existing(&dest)?;
    match package {
        Pinned::Local { path } => {
            let source = cx.local_dir(path);
            let source = source.canonicalize().map_err(|e| Error::io(&source, e))?;
            if symlink_dir(&source, &dest).is_err() {
                cx.report
                    .info("Symlinks are not available on this OS, copying dependency.");
                copy_dir(&source, &dest)?;
            }
        }
        Pinned::Git { .. } | Pinned::Tarball { .. } => {
            let fetched = meta
                .fetched
                .ok_or_else(|| Error::Internal("a fetched package has no folder".into()))?;
            move_dir(&fetched, &dest)?;
        }
        Pinned::Hub {
            package: name,
            version,
            ..
        } => {
            let info = cx.hub.version_info(name, version)?;
            let into = cx
                .downloads
                .join(format!("{}.{version}_untarred", name.replace('/', "_")));
            let top = super::resolve::extract_archive(cx, &info.tarball, &meta.name, &into)?;
            move_dir(&top, &dest)?;
        }
    }
    Ok(dest)
}

/// `<packages-install-path>/<name>`, refused when the name leads outside it.
fn install_dir(cx: &Context, name: &str) -> Result<PathBuf> {
    let outside = || {
        Error::Usage(format!(
            "Invalid package name '{name}': resolves outside of the packages-install-path ('{}')",
            cx.install_path_text
        ))
    };
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(std::path::Component::Normal(_)), None) => Ok(cx.install_path.join(name)),
        _ => Err(outside()),
    }
}

fn remove_existing(dest: &Path) -> Result<()> {
    match std::fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(dest).map_err(|e| Error::io(dest, e)),
        Ok(_) => std::fs::remove_file(dest).map_err(|e| Error::io(dest, e)),
        Err(_) => Ok(()),
    }
}

#[cfg(unix)]
fn symlink_dir(source: &Path, dest: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(source, dest)
}

#[cfg(windows)]
fn symlink_dir(source: &Path, dest: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(source, dest)
}

/// Move a folder; across file systems (downloads in /tmp), copy and remove.
fn move_dir(from: &Path, to: &Path) -> Result<()> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    copy_dir(from, to)?;
    std::fs::remove_dir_all(from).map_err(|e| Error::io(from, e))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(from) {
        let entry =
            entry.map_err(|e| Error::config(from, format!("cannot read the package: {e}")))?;
        let rel = entry.path().strip_prefix(from).unwrap_or(Path::new(""));
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| Error::io(&target, e))?;
        } else if entry.file_type().is_symlink() {
            let link = std::fs::read_link(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(&link, &target).map_err(|e| Error::io(&target, e))?;
            #[cfg(not(unix))]
            let _ = link;
        } else {
            std::fs::copy(entry.path(), &target).map_err(|e| Error::io(&target, e))?;
        }
    }
    Ok(())
}
