//! Package archives (`.tar.gz` from the hub or a `tarball:` URL): extracted into a folder with
//! no entry allowed outside it, and the single top folder they must hold found.

use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::{Error, Result};

/// Extract the gzip'd tar `bytes` (from `url`) into `into`, refusing any entry or link that
/// would land outside it.
pub fn extract(bytes: &[u8], into: &Path, url: &str) -> Result<()> {
    std::fs::create_dir_all(into).map_err(|e| Error::io(into, e))?;
    let bad = |what: String| Error::Usage(format!("the package archive from {url} {what}"));
    let mut archive = tar::Archive::new(GzDecoder::new(bytes));
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("cannot be read: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("cannot be read: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| bad(format!("has an unreadable path: {e}")))?
            .into_owned();
        if !stays_inside(&path) {
            return Err(bad(format!(
                "holds '{}', outside the package folder (path traversal refused)",
                path.display()
            )));
        }
        if let Ok(Some(target)) = entry.link_name() {
            let base = path.parent().unwrap_or(Path::new(""));
            if target.is_absolute() || !stays_inside(&base.join(&target)) {
                return Err(bad(format!(
                    "links '{}' to '{}', outside the package folder (path traversal refused)",
                    path.display(),
                    target.display()
                )));
            }
        }
        entry
            .unpack_in(into)
            .map_err(|e| bad(format!("cannot be extracted ({}): {e}", path.display())))?;
    }
    Ok(())
}

/// A relative path that never climbs above where it starts.
fn stays_inside(path: &Path) -> bool {
    let mut depth: usize = 0;
    for c in path.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// The one folder an extracted package holds, or dbt's error.
pub fn single_top_folder(extracted: &Path, url: &str, name: &str) -> Result<PathBuf> {
    let children: Vec<PathBuf> = std::fs::read_dir(extracted)
        .map_err(|e| Error::io(extracted, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    match children.as_slice() {
        [only] if only.is_dir() => Ok(only.clone()),
        _ => Err(Error::Usage(format!(
            "Incorrect structure for package extracted from {url}.The extracted package needs to follow the structure {name}/<package_contents>."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, text) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            // set_path refuses `..`; write the name bytes directly as a hostile archive would.
            let name = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, text.as_bytes()).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn a_package_extracts_and_its_top_folder_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = archive(&[
            ("pkg-1.0.0/dbt_project.yml", "name: pkg\n"),
            ("pkg-1.0.0/macros/m.sql", "x"),
        ]);
        extract(&bytes, dir.path(), "http://x/p.tgz").unwrap();
        let top = single_top_folder(dir.path(), "http://x/p.tgz", "pkg").unwrap();
        assert_eq!(top.file_name().unwrap(), "pkg-1.0.0");
        assert!(top.join("macros/m.sql").is_file());
    }

    #[test]
    fn path_traversal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = archive(&[("pkg/../../evil.txt", "x")]);
        let err = extract(&bytes, &dir.path().join("in"), "http://x/p.tgz")
            .unwrap_err()
            .to_string();
        assert!(err.contains("path traversal refused"), "{err}");
        assert!(!dir.path().join("evil.txt").exists());
    }

    #[test]
    fn two_top_folders_are_dbts_incorrect_structure() {
        let dir = tempfile::tempdir().unwrap();
        extract(&archive(&[("a/x", "1"), ("b/y", "2")]), dir.path(), "u").unwrap();
        let err = single_top_folder(dir.path(), "u", "t")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Incorrect structure for package extracted from u."),
            "{err}"
        );
    }
}
