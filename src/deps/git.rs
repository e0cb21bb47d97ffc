//! git packages through the system `git`, with the commands dbt runs (clients/git.py): a
//! shallow clone (sparse for a subdirectory), a fetch of the one revision, a hard reset to
//! it, and `rev-parse HEAD` for the SHA the lock records. The system git brings the user's
//! credential helpers, SSH keys and proxy settings along, as it does for dbt.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// A revision that is a full commit SHA (dbt's `\b[0-9a-f]{40}\b` at the start).
pub fn is_commit(revision: &str) -> bool {
    let bytes = revision.as_bytes();
    bytes.len() >= 40
        && bytes
            .iter()
            .take(40)
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        && bytes
            .get(40)
            .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
}

/// Standard output of a git command, or its standard error when it fails.
fn git(cwd: &Path, args: &[&str]) -> std::result::Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| format!("cannot run git ({e}); git packages need git installed"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The folder a package is checked out in: dbt's md5 of its name (`url` or
/// `url/subdirectory`), under the downloads folder.
pub fn checkout_dir(downloads: &Path, name: &str) -> PathBuf {
    use md5::Digest;
    let digest = md5::Md5::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    downloads.join(hex)
}

/// Check out `revision` of `url` into `dir` (cloned first when it is not there yet) and
/// return the commit SHA it landed on.
pub fn checkout(
    url: &str,
    dir: &Path,
    revision: &str,
    subdirectory: Option<&str>,
) -> Result<String> {
    if !dir.exists() {
        clone(url, dir, subdirectory)?;
    }
    let failed = |stderr: String| {
        Error::Usage(format!(
            "Error checking out spec='{revision}' for repo {url}\n{stderr}"
        ))
    };
    if is_commit(revision) {
        git(dir, &["fetch", "origin", "--depth", "1", revision]).map_err(failed)?;
    } else {
        git(dir, &["remote", "set-branches", "origin", revision]).map_err(failed)?;
        git(
            dir,
            &["fetch", "origin", "--depth", "1", "--tags", revision],
        )
        .map_err(failed)?;
    }
    let spec = if is_commit(revision) {
        revision.to_string()
    } else {
        let tags = git(dir, &["tag", "--list"]).map_err(failed)?;
        // Tags win over branches of the same name, as in dbt.
        if tags.lines().any(|t| t == revision) {
            format!("tags/{revision}")
        } else {
            format!("origin/{revision}")
        }
    };
    git(dir, &["reset", "--hard", &spec]).map_err(failed)?;
    let sha = git(dir, &["rev-parse", "HEAD"]).map_err(failed)?;
    Ok(sha.trim().to_string())
}

fn clone(url: &str, dir: &Path, subdirectory: Option<&str>) -> Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let cloning = |stderr: String| {
        Error::Usage(format!(
            "Something went wrong while cloning {url}\n{stderr}"
        ))
    };
    let mut args = vec!["clone", "--depth", "1"];
    if subdirectory.is_some() {
        check_sparse_support(parent)?;
        args.extend(["--filter=blob:none", "--sparse"]);
    }
    args.extend([url, folder]);
    git(parent, &args).map_err(cloning)?;
    if let Some(sub) = subdirectory {
        git(dir, &["sparse-checkout", "set", sub]).map_err(cloning)?;
    }
    Ok(())
}

/// `--sparse` came with git 2.25.0.
fn check_sparse_support(cwd: &Path) -> Result<()> {
    let out = git(cwd, &["--version"]).map_err(Error::Usage)?;
    let numbers: Vec<u64> = out
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or("0")
        .split('.')
        .take(3)
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    let version = (
        numbers.first().copied().unwrap_or(0),
        numbers.get(1).copied().unwrap_or(0),
        numbers.get(2).copied().unwrap_or(0),
    );
    if version < (2, 25, 0) {
        return Err(Error::Usage(format!(
            "Please update your git version to pull a dbt package from a subdirectory: your version is {}.{}.{}, >= 2.25.0 needed",
            version.0, version.1, version.2
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_full_sha_is_a_commit() {
        assert!(is_commit("ca4c3d7f9a7fea0dd96a3f17002c6654ff48a03b"));
        assert!(!is_commit("ca4c3d7"));
        assert!(!is_commit("CA4C3D7F9A7FEA0DD96A3F17002C6654FF48A03B"));
        assert!(!is_commit("ca4c3d7f9a7fea0dd96a3f17002c6654ff48a03bx"));
        assert!(!is_commit("main"));
    }
}
