//! Rendering each template once.
//!
//! `parse` renders every node to find its refs and in-file config; `compile` used to render it
//! again. Parse now renders with the relations as the config known before parsing names them,
//! and a render is kept for compile when (a) nothing in it could come out differently at
//! compile time, and (b) after parsing, every relation it saw is still the same (an in-file
//! `config(alias=...)` can rename one). (a) is watched while rendering, on this thread: the
//! warehouse, `execute`, `model`, `is_incremental()`, config read after a `config()` call
//! block keeping; (b) is checked in `Compiler::parse`.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use minijinja::Value;

use crate::compile::{Relation, RelationKind};

#[derive(Clone, Copy, Default)]
struct Watch {
    active: bool,
    blocked: bool,
    config_read: bool,
    config_written: bool,
    kind_read: bool,
}

thread_local! {
    static WATCH: Cell<Watch> = const { Cell::new(Watch { active: false, blocked: false, config_read: false, config_written: false, kind_read: false }) };
}

/// What a watched render that can be kept depended on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Whether it read a relation's kind (`type`, `is_view`, ...), not just its name.
    pub kind_read: bool,
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

/// Stop watching; what the render depended on when its output can stand for the compiled
/// one (given the same relations), None when it cannot.
pub fn end() -> Option<Seen> {
    WATCH.with(|w| {
        let v = w.replace(Watch::default());
        let reusable = v.active && !v.blocked && !(v.config_read && v.config_written);
        reusable.then_some(Seen {
            kind_read: v.kind_read,
        })
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

/// A relation's kind was read.
pub fn kind_read() {
    update(|w| w.kind_read = true);
}

/// A parse render kept for compile.
#[derive(Debug)]
pub struct Kept {
    /// The checksum of the code it was rendered from.
    pub checksum: String,
    pub sql: String,
    /// The names of the `ref()` calls, in call order.
    pub refs: Vec<String>,
    pub seen: Seen,
}

impl Kept {
    /// The ephemeral models it refers to, in call order (as a compile render records them).
    /// None when a ref is not a model any more: the caller renders again and reports it.
    pub fn ephemerals<'a>(
        &self,
        relation: impl Fn(&str) -> Option<&'a Relation>,
    ) -> Option<Vec<String>> {
        let mut ephemerals: Vec<String> = Vec::new();
        for name in &self.refs {
            let rel = relation(name)?;
            if rel.kind == RelationKind::Cte && !ephemerals.contains(name) {
                ephemerals.push(name.clone());
            }
        }
        Some(ephemerals)
    }

    /// The compiled SQL and its ephemeral models (see [`Kept::ephemerals`]).
    pub fn resolve<'a>(
        &self,
        relation: impl Fn(&str) -> Option<&'a Relation>,
    ) -> Option<(String, Vec<String>)> {
        Some((self.sql.clone(), self.ephemerals(relation)?))
    }
}

/// What parsing changed in the relations the renders saw: in-file config can rename a model
/// (alias, schema, database, ephemeral) or change only its kind (view or table).
pub struct Changes<'a> {
    renamed: HashSet<&'a str>,
    rekinded: HashSet<&'a str>,
}

impl<'a> Changes<'a> {
    /// Compare relations (template values holding `Relation`s) before and after parsing.
    pub fn between(before: &'a HashMap<String, Value>, after: &'a HashMap<String, Value>) -> Self {
        let relation = |v: &'a Value| v.downcast_object_ref::<Relation>();
        let mut changes = Changes {
            renamed: HashSet::new(),
            rekinded: HashSet::new(),
        };
        for name in before.keys().chain(after.keys()) {
            let a = before.get(name).and_then(relation);
            match (a, after.get(name).and_then(relation)) {
                (Some(a), Some(b)) if a.same_name(b) => {
                    if a.kind != b.kind {
                        changes.rekinded.insert(name);
                    }
                }
                _ => {
                    changes.renamed.insert(name);
                }
            }
        }
        changes
    }

    /// Whether `kept`, the render of the node named `own_name`, saw only relations that are
    /// still what it saw (its refs, and itself as `this`).
    pub fn leave_standing(&self, kept: &Kept, own_name: &str) -> bool {
        let changed = |name: &str| {
            self.renamed.contains(name) || kept.seen.kind_read && self.rekinded.contains(name)
        };
        !changed(own_name) && !kept.refs.iter().any(|r| changed(r))
    }
}

/// Whether a template's source mentions `execute`: a plain boolean that no hook sees read,
/// so a render that may branch on it is not kept.
pub fn mentions_execute(source: &str) -> bool {
    source.contains("execute")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::DoubleQuotes;
    use std::collections::HashMap;

    fn relations() -> HashMap<String, Relation> {
        let mut m = HashMap::new();
        m.insert(
            "a".to_string(),
            Relation::new(&DoubleQuotes, None, "main", "a", RelationKind::Table),
        );
        m.insert(
            "e".to_string(),
            Relation::new(
                &DoubleQuotes,
                None,
                "main",
                "__dbt__cte__e",
                RelationKind::Cte,
            ),
        );
        m
    }

    fn kept(sql: String, refs: &[&str]) -> Kept {
        Kept {
            checksum: String::new(),
            sql,
            refs: refs.iter().map(|s| s.to_string()).collect(),
            seen: Seen { kind_read: false },
        }
    }

    #[test]
    fn ephemerals_are_listed_once_in_call_order_and_unknown_refs_are_not_resolved() {
        let k = kept("select 1".into(), &["e", "a", "e"]);
        let rels = relations();
        let (sql, eph) = k.resolve(|n| rels.get(n)).expect("resolves");
        assert_eq!(sql, "select 1");
        assert_eq!(eph, ["e"]);
        assert!(kept("select 1".into(), &["a", "nope"])
            .resolve(|n| rels.get(n))
            .is_none());
    }

    #[test]
    fn a_render_stands_unless_a_relation_it_saw_was_renamed_or_its_read_kind_changed() {
        let rel = |ident: &str, kind: RelationKind| {
            Value::from_object(Relation::new(&DoubleQuotes, None, "main", ident, kind))
        };
        let before: HashMap<String, Value> = [
            ("a".to_string(), rel("a", RelationKind::View)),
            ("b".to_string(), rel("b", RelationKind::View)),
            ("c".to_string(), rel("c", RelationKind::View)),
        ]
        .into();
        let after: HashMap<String, Value> = [
            ("a".to_string(), rel("a", RelationKind::View)),
            ("b".to_string(), rel("renamed", RelationKind::View)),
            ("c".to_string(), rel("c", RelationKind::Table)),
        ]
        .into();
        let changes = Changes::between(&before, &after);
        let mut k = kept(String::new(), &["a"]);
        assert!(changes.leave_standing(&k, "x"));
        assert!(!changes.leave_standing(&k, "b"), "its own name changed");
        k.refs = vec!["b".into()];
        assert!(!changes.leave_standing(&k, "x"));
        k.refs = vec!["c".into()];
        assert!(changes.leave_standing(&k, "x"), "kind not read");
        k.seen.kind_read = true;
        assert!(!changes.leave_standing(&k, "x"));
    }

    #[test]
    fn the_watch_blocks_on_warehouse_use_and_on_config_read_after_write() {
        let plain = Some(Seen { kind_read: false });
        begin();
        assert_eq!(end(), plain, "nothing happened: reusable");
        begin();
        config_read();
        assert_eq!(end(), plain, "a read alone is fine");
        begin();
        config_read();
        config_written();
        assert_eq!(end(), None);
        begin();
        block();
        assert_eq!(end(), None);
        block(); // outside a watch: no effect
        begin();
        kind_read();
        assert_eq!(end(), Some(Seen { kind_read: true }));
        begin();
        assert_eq!(end(), plain);
    }
}
