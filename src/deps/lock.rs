//! `package-lock.yml`: the resolved packages in dbt's shape, and dbt's `sha1_hash` of the
//! declared ones, so a lock written by dbt is honoured by Strata and the other way round.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};

use super::spec::{entries_of, read_yaml_mapping, render_value, Entry, Render};
use super::yaml_out;
use crate::error::{Error, Result};
use crate::python_text::json_dumps_sorted;

pub const LOCK_FILE: &str = "package-lock.yml";

/// dbt's `_create_sha1_hash`: the SHA-1 of the declared entries' contracts, each dumped as
/// Python's sorted JSON, the dumps sorted and joined by newlines.
pub fn sha1_hash(declared: &[Entry]) -> String {
    let mut dumps: Vec<String> = declared
        .iter()
        .map(|e| json_dumps_sorted(&e.contract))
        .collect();
    dumps.sort();
    let digest = Sha1::digest(dumps.join("\n").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One resolved package as the lock records it (`to_dict()` plus `name`).
pub fn lock_document(entries: &[Map<String, Value>], hash: &str) -> String {
    let packages: Vec<Value> = entries.iter().cloned().map(Value::Object).collect();
    yaml_out::dump(&json!({"packages": packages, "sha1_hash": hash}))
}

pub fn lock_path(root: &Path) -> PathBuf {
    root.join(LOCK_FILE)
}

/// The `sha1_hash` a lock file records, if it records one.
pub fn recorded_hash(path: &Path) -> Result<Option<String>> {
    let lock = read_yaml_mapping(path)?;
    Ok(lock
        .get("sha1_hash")
        .and_then(Value::as_str)
        .map(str::to_string))
}

/// The lock's packages (rendered with `--vars` and env vars, as dbt renders them).
pub fn read_lock(path: &Path, render: Render) -> Result<Vec<Entry>> {
    let raw = read_yaml_mapping(path)?;
    let rendered = render_value(&Value::Object(raw.clone()), path, render)?;
    let rendered = rendered.as_object().cloned().unwrap_or_default();
    entries_of(&rendered, Some(&raw), path)
}

/// Write the lock file.
pub fn write_lock(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deps::spec::entries_of;

    /// The declared packages of tests/fixtures/deps/dbt_lock/packages.yml and the hash dbt
    /// 1.12.6 wrote for them (see that folder's README for the command).
    #[test]
    fn the_hash_is_dbts() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deps/dbt_lock");
        let packages: Map<String, Value> = serde_yaml_ng::from_str(
            &std::fs::read_to_string(fixture.join("packages.yml")).unwrap(),
        )
        .unwrap();
        let entries = entries_of(&packages, Some(&packages), Path::new("packages.yml")).unwrap();
        let recorded = recorded_hash(&fixture.join("package-lock.yml"))
            .unwrap()
            .unwrap();
        assert_eq!(sha1_hash(&entries), recorded);
    }

    #[test]
    fn the_hash_changes_with_the_declared_packages() {
        let parse = |yaml: &str| {
            let data: Map<String, Value> = serde_yaml_ng::from_str(yaml).unwrap();
            entries_of(&data, Some(&data), Path::new("p")).unwrap()
        };
        let a = sha1_hash(&parse("packages:\n  - local: ../a\n  - local: ../b\n"));
        let b = sha1_hash(&parse("packages:\n  - local: ../b\n  - local: ../a\n"));
        let c = sha1_hash(&parse("packages:\n  - local: ../c\n  - local: ../a\n"));
        assert_eq!(a, b, "the order of entries does not count");
        assert_ne!(a, c);
    }
}
