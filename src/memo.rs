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
//! Every entry is keyed by content, and kept in a folder named after the running executable
//! (another build may parse or check differently; its folder is removed), so a hit gives the
//! answer the work would give. A missing, stale or unreadable memo only costs time: nothing
//! here fails a command.

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

/// A file stat taken less than this before the memo was saved is not trusted: a later write
/// in the same timestamp tick (1 ns to 2 s, by filesystem) could leave length and time as
/// they were (git's "racily clean" entries). Such files are read back and compared instead.
const RACY_NS: u128 = 2_000_000_000;

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
    /// The lists of earlier runs, read when compiling first asks (`strata ls` never does).
    lists: std::sync::OnceLock<Lists>,
    /// The folder exists and is ours (created on the first write, so a project that fails to
    /// load leaves nothing behind).
    ready: std::sync::OnceLock<bool>,
    new_checked: Mutex<Vec<Digest>>,
    new_written: Mutex<Vec<(PathBuf, FileStamp)>>,
    used_yaml: Mutex<HashSet<String>>,
    /// Hits, for `STRATA_PROFILE=1` (what the tests and benchmarks look at).
    pub hits: Hits,
}

/// What earlier runs checked and wrote.
#[derive(Debug, Default)]
struct Lists {
    checked: HashSet<Digest>,
    written: HashMap<PathBuf, FileStamp>,
    /// When `written` was saved (its file's modification time).
    written_at: u128,
}

impl Lists {
    fn read(dir: &Path, adapter: &str) -> Self {
        let checked = std::fs::read(dir.join(format!("checked_sql.{adapter}")))
            .map(|bytes| {
                bytes
                    .chunks_exact(16)
                    .filter_map(|c| c.try_into().ok())
                    .collect()
            })
            .unwrap_or_default();
        let written_path = dir.join("written");
        let written = std::fs::read_to_string(&written_path)
            .map(|text| text.lines().filter_map(parse_written_line).collect())
            .unwrap_or_default();
        let written_at = stat(&written_path).map_or(0, |(_, t)| t);
        Lists {
            checked,
            written,
            written_at,
        }
    }

    fn trusted(&self, s: &FileStamp) -> bool {
        s.mtime_ns + RACY_NS < self.written_at
    }
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

/// Who writes the memo, as a folder name: another build of strata may parse or check
/// differently.
fn executable_identity() -> String {
    let exe = std::env::current_exe().ok();
    let stamp = exe.as_deref().and_then(stat);
    let who = format!(
        "strata {} {:?}",
        env!("CARGO_PKG_VERSION"),
        stamp.unwrap_or((0, 0))
    );
    hex(&digest(who.as_bytes()))
}

impl Memo {
    /// A memo that remembers nothing and keeps nothing.
    pub fn off() -> Self {
        Memo::default()
    }

    /// Open the memo under `target_dir` for `adapter` (nothing is written until a run has
    /// something to keep).
    pub fn open(target_dir: &Path, adapter: &str) -> Self {
        Memo {
            dir: Some(target_dir.join(DIR).join(executable_identity())),
            adapter: adapter.to_string(),
            ..Memo::default()
        }
    }

    fn lists(&self) -> &Lists {
        self.lists.get_or_init(|| match &self.dir {
            Some(dir) => Lists::read(dir, &self.adapter),
            None => Lists::default(),
        })
    }

    /// The folder to write into: created on first use, the folders of other executables
    /// removed (a process of another build still running keeps writing into its own).
    fn ready_dir(&self) -> Option<&Path> {
        let dir = self.dir.as_deref()?;
        let ready = *self.ready.get_or_init(|| {
            if dir.join("yaml").is_dir() {
                return true;
            }
            if let Some(parent) = dir.parent() {
                if let Ok(entries) = std::fs::read_dir(parent) {
                    for entry in entries.flatten() {
                        let path = entry.path();
                        if path.is_dir() {
                            let _ = std::fs::remove_dir_all(path);
                        } else {
                            let _ = std::fs::remove_file(path);
                        }
                    }
                }
            }
            std::fs::create_dir_all(dir.join("yaml")).is_ok()
        });
        ready.then_some(dir)
    }

    pub fn is_on(&self) -> bool {
        self.dir.is_some()
    }

    /// A YAML file's parse: the one an earlier run kept for this text, or `parse(text)`,
    /// then kept (as JSON: exact for what YAML gives, and fast to read). The text is hashed
    /// once (schema files run to megabytes), and not at all with the memo off.
    pub fn parsed_or<T, E>(
        &self,
        text: &str,
        parse: impl FnOnce(&str) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        T: DeserializeOwned + Serialize,
    {
        let Some(dir) = self.dir.as_ref() else {
            return parse(text);
        };
        let name = format!("{}.json", hex(&digest(text.as_bytes())));
        let kept = std::fs::read(dir.join("yaml").join(&name))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        if let Some(value) = kept {
            self.use_yaml(name);
            Hits::add(&self.hits.parses);
            return Ok(value);
        }
        let value = parse(text)?;
        if let (Some(dir), Ok(json)) = (self.ready_dir(), serde_json::to_vec(&value)) {
            if write_atomically(&dir.join("yaml").join(&name), &json).is_ok() {
                self.use_yaml(name);
            }
        }
        Ok(value)
    }

    fn use_yaml(&self, name: String) {
        if let Ok(mut used) = self.used_yaml.lock() {
            used.insert(name);
        }
    }

    /// Drop remembered parses no file of this project has any more (edited or removed).
    pub fn forget_unused_parses(&self) {
        let Some(dir) = &self.dir else { return };
        if !dir.is_dir() {
            return;
        }
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
        let hit = self.lists().checked.contains(sql);
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
    /// One `stat`: a file edited or replaced since has another length or modification time
    /// (stats taken too close to the memo's save are not trusted, see [`RACY_NS`]).
    pub fn holds(&self, path: &Path, content: &Digest) -> bool {
        let lists = self.lists();
        let hit = match lists.written.get(path) {
            Some(s) if s.digest == *content && lists.trusted(s) => {
                stat(path) == Some((s.len, s.mtime_ns))
            }
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
        let lists = self.lists();
        if lists
            .written
            .get(path)
            .is_some_and(|s| *s == stamp && lists.trusted(s))
        {
            return;
        }
        if let Ok(mut new) = self.new_written.lock() {
            new.push((path.to_path_buf(), stamp));
        }
    }

    /// Write what this run learned. `limit` bounds the checked-SQL list (old entries are
    /// dropped when it would grow past it, so edits do not pile up forever).
    pub fn save(&self, limit: usize) {
        if self.dir.is_none() {
            return;
        }
        let lists = self.lists();
        let new_checked = self
            .new_checked
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        let fresh: Vec<Digest> = new_checked
            .into_iter()
            .filter(|d| !lists.checked.contains(d))
            .collect();
        if !fresh.is_empty() {
            let Some(dir) = self.ready_dir() else { return };
            let keep_old = lists.checked.len() + fresh.len() <= limit;
            let mut bytes = Vec::with_capacity(16 * (lists.checked.len() + fresh.len()));
            if keep_old {
                for d in &lists.checked {
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
            let Some(dir) = self.ready_dir() else { return };
            // Files this run did not look at stay remembered while they exist (a run of a
            // selection) and only if trusted already: saving now moves the save time on, which
            // would make a racy record look old enough without anyone having read the file.
            let touched: HashSet<&Path> = new_written.iter().map(|(p, _)| p.as_path()).collect();
            let mut all: HashMap<PathBuf, FileStamp> = lists
                .written
                .iter()
                .filter(|(p, s)| touched.contains(p.as_path()) || (lists.trusted(s) && p.exists()))
                .map(|(p, s)| (p.clone(), *s))
                .collect();
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

    /// Write `text` to `path` with a modification time `secs_ago` in the past.
    fn write_aged(path: &Path, text: &str, secs_ago: u64) {
        std::fs::write(path, text).unwrap();
        let then = SystemTime::now() - std::time::Duration::from_secs(secs_ago);
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(then).unwrap();
    }

    #[test]
    fn remembers_checks_parses_and_files_across_opens() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        let file = tmp.path().join("a.sql");
        write_aged(&file, "select 1", 60);
        let sql = digest(b"select 1");

        let parses = std::cell::Cell::new(0);
        let parse = |_: &str| -> Result<Vec<String>, ()> {
            parses.set(parses.get() + 1);
            Ok(vec!["a".to_string()])
        };
        let memo = Memo::open(&target, "duckdb");
        assert!(!memo.was_checked(&sql));
        assert_eq!(memo.parsed_or("- a", parse), Ok(vec!["a".to_string()]));
        assert_eq!(parses.get(), 1, "nothing kept yet: parsed");
        memo.record_checked(sql);
        memo.record_written(&file, sql);
        memo.save(100);

        let memo = Memo::open(&target, "duckdb");
        assert!(memo.was_checked(&sql));
        assert!(memo.holds(&file, &sql));
        assert!(!memo.holds(&file, &digest(b"other")));
        assert_eq!(memo.parsed_or("- a", parse), Ok(vec!["a".to_string()]));
        assert_eq!(parses.get(), 1, "the kept parse was used");
        // Checks are per adapter: Athena's dialect is another parser.
        assert!(!Memo::open(&target, "athena").was_checked(&sql));

        // A file changed behind the memo's back is not taken for the one it saw.
        write_aged(&file, "select 10", 60);
        assert!(!memo.holds(&file, &sql));
    }

    #[test]
    fn a_file_stat_taken_just_before_saving_is_not_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        let file = tmp.path().join("a.sql");
        std::fs::write(&file, "select 1").unwrap();
        let sql = digest(b"select 1");
        let memo = Memo::open(&target, "duckdb");
        memo.record_written(&file, sql);
        memo.save(100);
        // Same length, same timestamp tick: only reading would tell; so it is read.
        let memo = Memo::open(&target, "duckdb");
        assert!(!memo.holds(&file, &sql));
        // Recorded again once the file is old enough, it is trusted from then on.
        write_aged(&file, "select 1", 60);
        memo.record_written(&file, sql);
        memo.save(100);
        assert!(Memo::open(&target, "duckdb").holds(&file, &sql));
    }

    #[test]
    fn a_memo_from_another_executable_is_thrown_away() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        let sql = digest(b"select 1");
        let other = target.join(DIR).join("0123456789abcdef0123456789abcdef");
        std::fs::create_dir_all(other.join("yaml")).unwrap();
        std::fs::write(other.join("checked_sql.duckdb"), sql).unwrap();
        let memo = Memo::open(&target, "duckdb");
        assert!(
            !memo.was_checked(&sql),
            "another build's checks are not ours"
        );
        memo.record_checked(digest(b"select 2"));
        memo.save(100);
        assert!(!other.exists(), "the other build's folder is removed");
        assert!(Memo::open(&target, "duckdb").was_checked(&digest(b"select 2")));
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
        let parses = std::cell::Cell::new(0);
        let parse = |_: &str| -> Result<Vec<String>, ()> {
            parses.set(parses.get() + 1);
            Ok(vec!["a".to_string()])
        };
        assert!(memo.parsed_or("- a", parse).is_ok());
        assert!(memo.parsed_or("- a", parse).is_ok());
        assert_eq!(parses.get(), 2, "nothing kept: parsed each time");
        assert!(!memo.is_on());
    }
}
