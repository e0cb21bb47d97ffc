//! Files and paths: reading project files, walking resource folders (minus what
//! `.dbtignore` excludes), fqns and relative paths, checksums.

use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use sha2::{Digest, Sha256};

use super::Project;
use crate::error::{Error, Result};

/// The hex SHA-256 of `text`: a node's checksum (what `state:modified` compares).
pub fn checksum(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A project file's text; the error names the file.
pub(super) fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// The files with one of `exts` under the project folder `dir`, in name order, as (absolute,
/// relative to `dir`) pairs; what `.dbtignore` matches is skipped, folders and all.
pub(super) fn files_under(
    project: &Project,
    dir: &str,
    exts: &[&str],
) -> Result<Vec<(PathBuf, PathBuf)>> {
    // Without `.` parts (`./models`), so `.dbtignore` patterns match paths from the root, as
    // in dbt.
    let dir: PathBuf = Path::new(dir)
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    let base = project.root.join(dir);
    if !base.is_dir() {
        return Ok(Vec::new());
    }
    let ignored = |entry: &walkdir::DirEntry| {
        let is_dir = entry.file_type().is_dir();
        project.ignore.matched(entry.path(), is_dir).is_ignore()
    };
    let mut out = Vec::new();
    let walk = walkdir::WalkDir::new(&base).sort_by_file_name().into_iter();
    for entry in walk.filter_entry(|e| !ignored(e)) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(&base).to_path_buf();
            Error::io(&path, std::io::Error::other(e.to_string()))
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let p = entry.path();
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if exts.contains(&ext) {
            let rel = p.strip_prefix(&base).unwrap_or(p).to_path_buf();
            out.push((p.to_path_buf(), rel));
        }
    }
    Ok(out)
}

/// The project's `.dbtignore` (dbt's name, gitignore syntax); none means nothing is ignored.
pub(super) fn load_ignore(root: &Path) -> Result<Gitignore> {
    let path = root.join(".dbtignore");
    // The error names the file already; the matcher's own message adds the line.
    let error = |err: ignore::Error| {
        let err = match err {
            ignore::Error::WithPath { err, .. } => *err,
            other => other,
        };
        Error::config(".dbtignore", err.to_string())
    };
    let mut builder = GitignoreBuilder::new(root);
    if path.is_file() {
        if let Some(err) = builder.add(&path) {
            return Err(error(err));
        }
    }
    builder.build().map_err(error)
}

pub(super) fn rel_to_root(root: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(root).unwrap_or(p).to_path_buf()
}

pub(super) fn fqn_for(project: &str, rel: &Path, name: &str) -> Vec<String> {
    let mut fqn = vec![project.to_string()];
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            fqn.push(c.as_os_str().to_string_lossy().into_owned());
        }
    }
    fqn.push(name.to_string());
    fqn
}

pub(super) fn stem(rel: &Path) -> String {
    rel.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The folders of a YAML file below the resource path that holds it (`models/staging/x.yml`
/// -> `staging`), the middle of a generic test's fqn as in dbt.
pub(super) fn yaml_folders(project: &Project, yaml: &Path) -> Vec<String> {
    let f = &project.file;
    let roots = f
        .model_paths
        .iter()
        .chain(&f.seed_paths)
        .chain(&f.test_paths);
    let below = roots
        .filter_map(|r| {
            let r: PathBuf = Path::new(r)
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .collect();
            yaml.strip_prefix(&r).ok()
        })
        .min_by_key(|rest| rest.components().count());
    below
        .and_then(Path::parent)
        .map(|dir| {
            dir.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}
