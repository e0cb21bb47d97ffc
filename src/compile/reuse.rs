//! Rendering each template once.
//!
//! `parse` renders every node to find its refs and in-file config; `compile` used to render it
//! again with the real relations. Most models render the same both times, except for their
//! `ref()`s, so the parse render is kept, with each `ref()` written as a marker, and compile
//! only swaps the markers for relations. A render is kept only when nothing in it could come
//! out differently at compile time: anything that reads the warehouse, `execute`, `this`,
//! `model`, `is_incremental()`, a relation's attributes, or config a `config()` call changed.
//! Those uses are noticed while rendering (on this thread) and the node is rendered again.

use std::cell::Cell;
use std::collections::HashMap;

use crate::compile::Relation;

#[derive(Clone, Copy, Default)]
struct Watch {
    active: bool,
    blocked: bool,
    config_read: bool,
    config_written: bool,
}

thread_local! {
    static WATCH: Cell<Watch> = const { Cell::new(Watch { active: false, blocked: false, config_read: false, config_written: false }) };
}

fn update(f: impl FnOnce(&mut Watch)) {
    WATCH.with(|w| {
        let mut v = w.get();
        if v.active {
            f(&mut v);
            w.set(v);
        }
    });
}

/// Start watching a parse render on this thread.
pub fn begin() {
    WATCH.with(|w| {
        w.set(Watch {
            active: true,
            ..Watch::default()
        })
    });
}

/// Stop watching; whether the render's output can stand for the compiled one.
pub fn end() -> bool {
    WATCH.with(|w| {
        let v = w.replace(Watch::default());
        v.active && !v.blocked && !(v.config_read && v.config_written)
    })
}

/// Something in the render depends on what only compile time knows.
pub fn block() {
    update(|w| w.blocked = true);
}

/// `config.get`/`config.require`: unsafe only together with a `config()` call in the same
/// render (the value read may be the one before the call).
pub fn config_read() {
    update(|w| w.config_read = true);
}

pub fn config_written() {
    update(|w| w.config_written = true);
}

const OPEN: char = '\u{1}';
const CLOSE: char = '\u{2}';

/// What `{{ ref(...) }}` writes while parsing: `r` and the index of the ref call, between two
/// control characters that SQL text does not contain. (The letter makes a case-changing
/// filter over a macro's output spoil the marker, which then falls back to a compile render.)
pub fn marker(index: usize) -> String {
    format!("{OPEN}r{index}{CLOSE}")
}

/// A parse render kept for compile.
#[derive(Debug)]
pub struct Kept {
    /// The checksum of the code it was rendered from.
    pub checksum: String,
    pub sql: String,
    /// The names of the `ref()` calls, in call order (markers index into it).
    pub refs: Vec<String>,
}

impl Kept {
    /// The compiled SQL, and the ephemeral models it refers to (in call order, as a compile
    /// render records them). None when a marker cannot be resolved (a template that changed
    /// the marker text, or an unknown model): the caller renders again and reports properly.
    pub fn resolve(&self, relations: &HashMap<String, Relation>) -> Option<(String, Vec<String>)> {
        let mut out = String::with_capacity(self.sql.len() + 32 * self.refs.len());
        let mut rest = self.sql.as_str();
        while let Some(start) = rest.find(OPEN) {
            out.push_str(&rest[..start]);
            let after = &rest[start + OPEN.len_utf8()..];
            let end = after.find(CLOSE)?;
            let index: usize = after[..end].strip_prefix('r')?.parse().ok()?;
            let rel = relations.get(self.refs.get(index)?)?;
            out.push_str(&rel.rendered);
            rest = &after[end + CLOSE.len_utf8()..];
        }
        if rest.contains(CLOSE) {
            return None;
        }
        out.push_str(rest);
        let mut ephemerals: Vec<String> = Vec::new();
        for name in &self.refs {
            let rel = relations.get(name)?;
            if rel.kind == "cte" && !ephemerals.contains(name) {
                ephemerals.push(name.clone());
            }
        }
        Some((out, ephemerals))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::DoubleQuotes;

    fn relations() -> HashMap<String, Relation> {
        let mut m = HashMap::new();
        m.insert(
            "a".to_string(),
            Relation::new(&DoubleQuotes, None, "main", "a", "table"),
        );
        m.insert(
            "e".to_string(),
            Relation::new(&DoubleQuotes, None, "main", "__dbt__cte__e", "cte"),
        );
        m
    }

    fn kept(sql: String, refs: &[&str]) -> Kept {
        Kept {
            checksum: String::new(),
            sql,
            refs: refs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn markers_become_relations_and_ephemerals_are_listed() {
        let sql = format!("select * from {} join {} using (id)", marker(0), marker(1));
        let (out, eph) = kept(sql, &["a", "e"])
            .resolve(&relations())
            .expect("resolves");
        assert_eq!(
            out,
            r#"select * from "main"."a" join "main"."__dbt__cte__e" using (id)"#
        );
        assert_eq!(eph, ["e"]);
    }

    #[test]
    fn a_damaged_marker_or_unknown_model_is_not_resolved() {
        let upper = format!("select * from {}", marker(0)).to_uppercase();
        assert!(kept(upper, &["a"]).resolve(&relations()).is_none());
        let broken = format!("select * from {}", marker(0).replace('\u{2}', ""));
        assert!(kept(broken, &["a"]).resolve(&relations()).is_none());
        assert!(kept(format!("select * from {}", marker(3)), &["a"])
            .resolve(&relations())
            .is_none());
        assert!(kept(format!("select * from {}", marker(0)), &["nope"])
            .resolve(&relations())
            .is_none());
    }

    #[test]
    fn the_watch_blocks_on_warehouse_use_and_on_config_read_after_write() {
        begin();
        assert!(end(), "nothing happened: reusable");
        begin();
        config_read();
        assert!(end(), "a read alone is fine");
        begin();
        config_read();
        config_written();
        assert!(!end());
        begin();
        block();
        assert!(!end());
        block(); // outside a watch: no effect
        begin();
        assert!(end());
    }
}
