//! What earlier runs worked out, kept under `<target-path>/partial_parse/` so the work is not
//! done again for an unchanged project (dbt keeps its parse in `target/partial_parse.msgpack`
//! for the same reason; `--no-partial-parse` turns both off):
//!
//! - parsed YAML property files, by a hash of their text (YAML is most of loading a large
//!   project, and one big `schema.yml` is parsed on one core);
//! - compiled SQL that passed the sqlparser check, by a hash of the text, per adapter;
//! - the compiled files written, with a hash of their content, their length and modification
//!   time, so an unchanged file is known from one `stat` instead of being read back.
//!
//! Every entry is keyed by content, and the whole folder by the running executable, so a hit
//! gives the answer the work would give. A missing, stale or unreadable memo only costs time:
//! nothing here fails a command.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// The folder under the target path.
pub const DIR: &str = "partial_parse";

/// The first 128 bits of a SHA-256: content identity, not a security boundary.
pub type Digest = [u8; 16];

pub fn digest(bytes: &[u8]) -> Digest {
    let full = Sha256::digest(bytes);
    let mut d = [0u8; 16];
    d.copy_from_slice(&full[..16]);
    d
}

fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Digest> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut d = [0u8; 16];
    for (i, byte) in d.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(d)
}

/// A file's content hash as last written or read, with what `stat` said then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    digest: Digest,
    len: u64,
    mtime_ns: u128,
}

fn stat(path: &Path) -> Option<(u64, u128)> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?;
    Some((meta.len(), mtime.as_nanos()))
}

/// Memoised results of one project's earlier runs; see the module documentation.
#[derive(Debug, Default)]
pub struct Memo {
    /// `None` when switched off (`--no-partial-parse`).
    dir: Option<PathBuf>,
    /// The adapter the SQL checks were made for (another adapter parses another dialect).
    adapter: String,
    checked: HashSet<Digest>,
    written: HashMap<PathBuf, FileStamp>,
    new_checked: Mutex<Vec<Digest>>,
    new_written: Mutex<Vec<(PathBuf, FileStamp)>>,
    used_yaml: Mutex<HashSet<String>>,
    /// Hits, for `STRATA_PROFILE=1` (what the tests and benchmarks look at).
    pub hits: Hits,
}

#[derive(Debug, Default)]
pub struct Hits {
    pub parses: AtomicUsize,
    pub checks: AtomicUsize,
    pub files: AtomicUsize,
}

impl Hits {
    fn add(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
    }
}

/// Who wrote the memo: another build of strata may parse or check differently.
fn executable_identity() -> String {
    let exe = std::env::current_exe().ok();
    let stamp = exe.as_deref().and_then(stat);
    format!(
        "strata {} {:?}",
        env!("CARGO_PKG_VERSION"),
        stamp.unwrap_or((0, 0))
    )
}

impl Memo {
    /// A memo that remembers nothing and keeps nothing.
    pub fn off() -> Self {
        Memo::default()
    }

    /// Open the memo under `target_dir` for `adapter`; a memo written by another executable
    /// is thrown away.
    pub fn open(target_dir: &Path, adapter: &str) -> Self {
        let dir = target_dir.join(DIR);
        let identity = executable_identity();
        let stamp_path = dir.join("identity");
        let same = std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == identity);
        if !same {
            let _ = std::fs::remove_dir_all(&dir);
            if std::fs::create_dir_all(dir.join("yaml")).is_err()
                || write_atomically(&stamp_path, identity.as_bytes()).is_err()
            {
                // Not writable (a read-only checkout): work as if switched off.
                return Memo::off();
            }
        }
        let checked_file = dir.join(format!("checked_sql.{adapter}"));
        let checked = std::fs::read(checked_file)
            .map(|bytes| {
                bytes
                    .chunks_exact(16)
                    .filter_map(|c| c.try_into().ok())
                    .collect()
            })
            .unwrap_or_default();
        let written = std::fs::read_to_string(dir.join("written"))
            .map(|text| text.lines().filter_map(parse_written_line).collect())
            .unwrap_or_default();
        Memo {
            dir: Some(dir),
            adapter: adapter.to_string(),
            checked,
            written,
            ..Memo::default()
        }
    }

    pub fn is_on(&self) -> bool {
        self.dir.is_some()
    }

    /// A YAML file's parse from an earlier run, if its text was parsed before.
    pub fn parsed<T: DeserializeOwned>(&self, text: &str) -> Option<T> {
        let dir = self.dir.as_ref()?;
        let name = format!("{}.json", hex(&digest(text.as_bytes())));
        let bytes = std::fs::read(dir.join("yaml").join(&name)).ok()?;
        let value = serde_json::from_slice(&bytes).ok()?;
        if let Ok(mut used) = self.used_yaml.lock() {
            used.insert(name);
        }
        Hits::add(&self.hits.parses);
        Some(value)
    }

    /// Remember a YAML file's parse (as JSON: exact for what YAML gives, and fast to read).
    pub fn keep_parsed<T: Serialize>(&self, text: &str, parsed: &T) {
        let Some(dir) = &self.dir else { return };
        let name = format!("{}.json", hex(&digest(text.as_bytes())));
        if let Ok(json) = serde_json::to_vec(parsed) {
            if write_atomically(&dir.join("yaml").join(&name), &json).is_ok() {
                if let Ok(mut used) = self.used_yaml.lock() {
                    used.insert(name);
                }
            }
        }
    }

    /// Drop remembered parses no file of this project has any more (edited or removed).
    pub fn forget_unused_parses(&self) {
        let Some(dir) = &self.dir else { return };
        let Ok(used) = self.used_yaml.lock() else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(dir.join("yaml")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !used.contains(name.to_string_lossy().as_ref()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Did this exact SQL pass the check before?
    pub fn was_checked(&self, sql: &Digest) -> bool {
        let hit = self.checked.contains(sql);
        if hit {
            Hits::add(&self.hits.checks);
        }
        hit
    }

    pub fn record_checked(&self, sql: Digest) {
        if self.dir.is_none() {
            return;
        }
        if let Ok(mut new) = self.new_checked.lock() {
            new.push(sql);
        }
    }

    /// Does `path` still hold the content with hash `content`, as this memo last saw it?
    /// One `stat`: a file edited or replaced since has another length or modification time.
    pub fn holds(&self, path: &Path, content: &Digest) -> bool {
        let hit = match self.written.get(path) {
            Some(s) if s.digest == *content => stat(path) == Some((s.len, s.mtime_ns)),
            _ => false,
        };
        if hit {
            Hits::add(&self.hits.files);
        }
        hit
    }

    /// `path` now holds the content with hash `content` (just written, or read and compared).
    pub fn record_written(&self, path: &Path, content: Digest) {
        if self.dir.is_none() {
            return;
        }
        let Some((len, mtime_ns)) = stat(path) else {
            return;
        };
        let stamp = FileStamp {
            digest: content,
            len,
            mtime_ns,
        };
        if self.written.get(path) == Some(&stamp) {
            return;
        }
        if let Ok(mut new) = self.new_written.lock() {
            new.push((path.to_path_buf(), stamp));
        }
    }

    /// Write what this run learned. `limit` bounds the checked-SQL list (old entries are
    /// dropped when it would grow past it, so edits do not pile up forever).
    pub fn save(&self, limit: usize) {
        let Some(dir) = &self.dir else { return };
        let new_checked = self
            .new_checked
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        let fresh: Vec<Digest> = new_checked
            .into_iter()
            .filter(|d| !self.checked.contains(d))
            .collect();
        if !fresh.is_empty() {
            let keep_old = self.checked.len() + fresh.len() <= limit;
            let mut bytes = Vec::with_capacity(16 * (self.checked.len() + fresh.len()));
            if keep_old {
                for d in &self.checked {
                    bytes.extend_from_slice(d);
                }
            }
            let mut seen = HashSet::new();
            for d in fresh.iter().filter(|d| seen.insert(**d)) {
                bytes.extend_from_slice(d);
            }
            let _ = write_atomically(&dir.join(format!("checked_sql.{}", self.adapter)), &bytes);
        }
        let new_written = self
            .new_written
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        if !new_written.is_empty() {
            let mut all = self.written.clone();
            all.extend(new_written);
            let mut text = String::with_capacity(all.len() * 96);
            for (path, s) in &all {
                // Paths are the project's own file names; one that is not UTF-8 or holds a
                // line break is simply not remembered.
                let Some(p) = path.to_str().filter(|p| !p.contains('\n')) else {
                    continue;
                };
                text.push_str(&format!(
                    "{} {} {} {p}\n",
                    hex(&s.digest),
                    s.len,
                    s.mtime_ns
                ));
            }
            let _ = write_atomically(&dir.join("written"), text.as_bytes());
        }
    }
}

fn parse_written_line(line: &str) -> Option<(PathBuf, FileStamp)> {
    let mut parts = line.splitn(4, ' ');
    let digest = unhex(parts.next()?)?;
    let len = parts.next()?.parse().ok()?;
    let mtime_ns = parts.next()?.parse().ok()?;
    let path = PathBuf::from(parts.next()?);
    Some((
        path,
        FileStamp {
            digest,
            len,
            mtime_ns,
        },
    ))
}

/// Write to a temporary name and rename, so a reader (another strata process) sees the old
/// file or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_round_trip_through_hex() {
        let d = digest(b"select 1");
        assert_eq!(unhex(&hex(&d)), Some(d));
        assert_eq!(unhex("zz"), None);
        assert_ne!(digest(b"select 1"), digest(b"select 2"));
    }

    #[test]
    fn remembers_checks_parses_and_files_across_opens() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        let file = tmp.path().join("a.sql");
        std::fs::write(&file, "select 1").unwrap();
        let sql = digest(b"select 1");

        let memo = Memo::open(&target, "duckdb");
        assert!(!memo.was_checked(&sql));
        assert_eq!(memo.parsed::<Vec<String>>("- a"), None);
        memo.record_checked(sql);
        memo.record_written(&file, sql);
        memo.keep_parsed("- a", &vec!["a".to_string()]);
        memo.save(100);

        let memo = Memo::open(&target, "duckdb");
        assert!(memo.was_checked(&sql));
        assert!(memo.holds(&file, &sql));
        assert!(!memo.holds(&file, &digest(b"other")));
        assert_eq!(memo.parsed::<Vec<String>>("- a"), Some(vec!["a".into()]));
        // Checks are per adapter: Athena's dialect is another parser.
        assert!(!Memo::open(&target, "athena").was_checked(&sql));

        // A file changed behind the memo's back is not taken for the one it saw.
        std::fs::write(&file, "select 10").unwrap();
        assert!(!memo.holds(&file, &sql));
    }

    #[test]
    fn a_memo_from_another_executable_is_thrown_away() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        let sql = digest(b"select 1");
        let memo = Memo::open(&target, "duckdb");
        memo.record_checked(sql);
        memo.save(100);
        std::fs::write(target.join(DIR).join("identity"), "strata 0.0.0 (1, 2)").unwrap();
        assert!(!Memo::open(&target, "duckdb").was_checked(&sql));
    }

    #[test]
    fn the_checked_list_starts_over_past_its_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        let memo = Memo::open(&target, "duckdb");
        for i in 0..3u8 {
            memo.record_checked(digest(&[i]));
        }
        memo.save(4);
        let memo = Memo::open(&target, "duckdb");
        memo.record_checked(digest(b"new one"));
        memo.record_checked(digest(b"and another"));
        memo.save(4);
        let memo = Memo::open(&target, "duckdb");
        assert!(memo.was_checked(&digest(b"new one")));
        assert!(!memo.was_checked(&digest(&[0])));
    }

    #[test]
    fn switched_off_it_keeps_nothing() {
        let memo = Memo::off();
        memo.keep_parsed("- a", &vec!["a".to_string()]);
        assert_eq!(memo.parsed::<Vec<String>>("- a"), None);
        assert!(!memo.is_on());
    }
}
