//! Resolving dbt's node selection against a project: which nodes `model`, `+model`,
//! `model+`, `2+model`, `@model`, `tag:x`, `path:models/staging`, `source:s`,
//! `config.materialized:table`, `resource_type:test`, `test_type:generic`, `fqn:`,
//! `package:`, `exposure:`, `state:` and `result:` (with `--state`) pick, with the tests
//! that come along (indirect selection). The syntax itself is parsed in `selection`.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::project::{Project, ResourceType};

use super::glob::Pattern;
use super::selectors_file::Selectors;
use super::state::PreviousState;
use super::Graph;

// The syntax types live in `selection` (selectors_file reads them too); re-exported here so
// `graph::selector::{Selection, Selector, ...}` keeps working.
pub use super::selection::{known_method, IndirectSelection, Selection, Selector, METHODS};
// The glob matcher moved to `glob` (on globset); its old path stays.
pub use super::glob::glob;

/// What a selection is resolved against.
pub struct SelectContext<'a> {
    pub project: &'a Project,
    pub graph: &'a Graph,
    /// `--state`: the earlier run `state:` and `result:` compare with.
    pub state: Option<&'a PreviousState>,
    /// selectors.yml, for `method: selector` references.
    pub selectors: Option<&'a Selectors>,
    /// `reuse:stale`: what a build would run rather than reuse (computed before selecting).
    pub stale: Option<&'a std::collections::BTreeMap<String, String>>,
}

/// Nodes chosen directly and tests held back until all of their parents show up
/// (`cautious`/`buildable`).
type Picked = (BTreeSet<String>, BTreeSet<String>);

impl Selection {
    /// The nodes and sources selected. Command-line words that matched nothing are added to
    /// `unmatched` (dbt warns about them).
    pub fn resolve(
        &self,
        ctx: &SelectContext,
        unmatched: &mut Vec<String>,
    ) -> Result<BTreeSet<String>> {
        Ok(self.pick(ctx, unmatched)?.0)
    }

    fn pick(&self, ctx: &SelectContext, unmatched: &mut Vec<String>) -> Result<Picked> {
        let (parts, mode, raw): (Vec<&Selection>, IndirectSelection, Option<&String>) = match self {
            Selection::Criteria(selector, mode) => {
                let selected = selector.resolve(ctx)?;
                return Ok(expand(ctx, selected, *mode));
            }
            Selection::Named(name) => {
                let inner = ctx
                    .selectors
                    .ok_or_else(|| Error::Usage(format!("selector '{name}': no selectors.yml")))?
                    .get(name)?;
                return Ok((inner.resolve(ctx, unmatched)?, BTreeSet::new()));
            }
            Selection::Union(parts, mode) => (parts.iter().collect(), *mode, None),
            Selection::Intersection(parts, mode, raw) => {
                (parts.iter().collect(), *mode, raw.as_ref())
            }
            Selection::Difference(a, b) => (vec![&**a, &**b], IndirectSelection::Eager, None),
        };
        let mut directs = Vec::new();
        let mut withs = Vec::new();
        for part in parts {
            let (direct, held) = part.pick(ctx, unmatched)?;
            withs.push(direct.union(&held).cloned().collect::<BTreeSet<_>>());
            directs.push(direct);
        }
        let combine = |sets: Vec<BTreeSet<String>>| -> BTreeSet<String> {
            let mut it = sets.into_iter();
            let Some(first) = it.next() else {
                return BTreeSet::new();
            };
            match self {
                Selection::Union(..) => it.fold(first, |a, b| &a | &b),
                Selection::Intersection(..) => it.fold(first, |a, b| &a & &b),
                _ => it.fold(first, |a, b| &a - &b),
            }
        };
        let held = combine(withs);
        let direct = incorporate(ctx, combine(directs), &held, mode);
        if let (Some(raw), true) = (raw, direct.is_empty()) {
            unmatched.push(raw.clone());
        }
        Ok((direct, held))
    }
}

/// The tests of `selected` nodes, by `mode` (dbt's expand_selection): those that are in go
/// into the first set, those waiting for more of their parents into the second.
fn expand(ctx: &SelectContext, selected: BTreeSet<String>, mode: IndirectSelection) -> Picked {
    let mut held = BTreeSet::new();
    if mode == IndirectSelection::Empty {
        return (selected, held);
    }
    let upstream = (mode == IndirectSelection::Buildable).then(|| with_ancestors(ctx, &selected));
    let mut direct = selected.clone();
    // A model's unit tests (their one parent is the model, in every mode but empty).
    for (id, test) in ctx
        .project
        .unit_tests
        .keys()
        .filter_map(|id| Some((id, ctx.project.nodes.get(id)?)))
    {
        if test.depends_on.iter().any(|d| selected.contains(d)) {
            direct.insert(id.clone());
        }
    }
    for id in &selected {
        for child in ctx.graph.children(id) {
            let Some(test) = ctx.project.nodes.get(&child) else {
                continue;
            };
            if test.resource_type != ResourceType::Test || direct.contains(&child) {
                continue;
            }
            let all_in = |set: &BTreeSet<String>| test.depends_on.iter().all(|d| set.contains(d));
            if mode == IndirectSelection::Eager
                || all_in(&selected)
                || upstream.as_ref().is_some_and(all_in)
            {
                direct.insert(child);
            } else {
                held.insert(child);
            }
        }
    }
    (direct, held)
}

/// Tests held back by `cautious`/`buildable` join once the combined selection holds all of
/// their parents (dbt's incorporate_indirect_nodes).
fn incorporate(
    ctx: &SelectContext,
    mut direct: BTreeSet<String>,
    held: &BTreeSet<String>,
    mode: IndirectSelection,
) -> BTreeSet<String> {
    let within = match mode {
        IndirectSelection::Cautious => direct.clone(),
        IndirectSelection::Buildable => with_ancestors(ctx, &direct),
        _ => return direct,
    };
    for id in held {
        if let Some(test) = ctx.project.nodes.get(id) {
            if test.depends_on.iter().all(|d| within.contains(d)) {
                direct.insert(id.clone());
            }
        }
    }
    direct
}

/// The nodes, everything upstream of them, and every source (dbt's `buildable` set).
fn with_ancestors(ctx: &SelectContext, nodes: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = nodes.clone();
    for id in nodes {
        out.extend(ctx.graph.ancestors(id, None));
    }
    out.extend(ctx.project.sources.keys().cloned());
    out
}

impl Selector {
    /// The nodes this selector's method and value pick, before `+`/`@`.
    fn direct(&self, ctx: &SelectContext) -> Result<BTreeSet<String>> {
        let project = ctx.project;
        let v = self.value.as_str();
        // Compiled once, matched against every node.
        let pattern = Pattern::new(v);
        let mut out = BTreeSet::new();
        match self.method.as_str() {
            "" => {
                out.extend(project.nodes.keys().cloned());
                out.extend(project.sources.keys().cloned());
                out.extend(project.exposures.keys().cloned());
            }
            "unit_test" => {
                for id in project.unit_tests.keys() {
                    if let Some(n) = project.nodes.get(id) {
                        if pattern.matches(&n.name) {
                            out.insert(id.clone());
                        }
                    }
                }
            }
            "exposure" => {
                for e in project.exposures.values() {
                    if pattern.matches(&e.name) {
                        out.insert(e.unique_id.clone());
                    }
                }
            }
            "state" | "result" => self.by_state(ctx, &mut out)?,
            "reuse" => {
                if v != "stale" {
                    return Err(self.error("the reuse method takes one value: stale"));
                }
                let Some(stale) = ctx.stale else {
                    return Err(self.error(
                        "is known to the commands that build (build, run, seed, snapshot, \
                         test) and to ls",
                    ));
                };
                out.extend(stale.keys().cloned());
            }
            "fqn" => {
                let fqn = FqnPattern::new(v);
                for n in project.nodes.values() {
                    if fqn.matches(&n.fqn, &n.name) {
                        out.insert(n.unique_id.clone());
                    }
                }
                for e in project.exposures.values() {
                    if fqn.matches(&e.fqn, &e.name) {
                        out.insert(e.unique_id.clone());
                    }
                }
            }
            "tag" => by_tag(project, &pattern, &mut out),
            "path" | "file" => self.by_path(project, &mut out),
            "source" => by_source(project, v, &mut out),
            "resource_type" => {
                for n in project.nodes.values() {
                    if n.resource_type.as_str() == v {
                        out.insert(n.unique_id.clone());
                    }
                }
                match v {
                    "source" => out.extend(project.sources.keys().cloned()),
                    "exposure" => out.extend(project.exposures.keys().cloned()),
                    _ => {}
                }
            }
            "test_type" => by_test_type(project, v, &mut out),
            "test_name" => {
                for n in project.nodes.values() {
                    if n.test_metadata
                        .as_ref()
                        .is_some_and(|m| pattern.matches(&m.name))
                    {
                        out.insert(n.unique_id.clone());
                    }
                }
            }
            "package" => {
                let nodes = project.nodes.values();
                let of_package = nodes.filter(|n| pattern.matches(&n.package_name));
                out.extend(of_package.map(|n| n.unique_id.clone()));
                // source.<package>.<source>.<table>
                let sources = project.sources.keys();
                out.extend(
                    sources
                        .filter(|id| id.split('.').nth(1).is_some_and(|p| pattern.matches(p)))
                        .cloned(),
                );
                if pattern.matches(project.name()) {
                    out.extend(project.exposures.keys().cloned());
                }
            }
            m if m.starts_with("config.") => {
                by_config(project, &m["config.".len()..], v, &pattern, &mut out)
            }
            other => return Err(self.error(&format!("unknown selector method '{other}'"))),
        }
        Ok(out)
    }

    fn error(&self, message: &str) -> Error {
        Error::Selector {
            selector: format!("{}:{}", self.method, self.value),
            message: message.to_string(),
        }
    }

    /// `state:` and `result:`: what `--state` says changed or ended so.
    fn by_state(&self, ctx: &SelectContext, out: &mut BTreeSet<String>) -> Result<()> {
        let Some(state) = ctx.state else {
            return Err(self.error(
                "needs --state <dir>: the target/ folder (manifest.json, \
                 run_results.json) of the run to compare with",
            ));
        };
        let v = self.value.as_str();
        let found = if self.method == "state" {
            state.select_state(v, ctx.project)?
        } else {
            state.select_result(v)?
        };
        // Removed nodes are in the earlier artifacts only.
        out.extend(found.into_iter().filter(|id| ctx.graph.contains(id)));
        Ok(())
    }

    /// `path:` (a file or folder, relative to the project) and `file:` (a file name).
    fn by_path(&self, project: &Project, out: &mut BTreeSet<String>) {
        let want = self.value.trim_end_matches('/');
        let pattern = Pattern::new(want);
        let hit = |path: &std::path::Path| {
            if self.method == "file" {
                path.file_name()
                    .is_some_and(|f| pattern.matches(&f.to_string_lossy()))
            } else {
                let p = path.to_string_lossy();
                pattern.matches(&p) || p.starts_with(&format!("{want}/"))
            }
        };
        // Generic tests match by the YAML file that defines them, and a YAML file
        // named exactly selects the nodes it describes, as in dbt.
        let described = |n: &crate::project::Node| {
            self.method == "path"
                && n.patch_path
                    .as_ref()
                    .is_some_and(|p| p.to_string_lossy() == want)
        };
        for n in project.nodes.values() {
            if hit(&n.original_file_path) || described(n) {
                out.insert(n.unique_id.clone());
            }
        }
        for e in project.exposures.values() {
            if hit(&e.original_file_path) {
                out.insert(e.unique_id.clone());
            }
        }
        for src in project.sources.values() {
            if hit(&src.original_file_path) {
                out.insert(src.unique_id.clone());
            }
        }
    }

    /// The nodes this selector names, with the parents and children its `+`/`@` ask for.
    pub fn resolve(&self, ctx: &SelectContext) -> Result<BTreeSet<String>> {
        let graph = ctx.graph;
        let direct = self.direct(ctx)?;
        let mut out = direct.clone();
        for id in &direct {
            if self.parents {
                out.extend(graph.ancestors(id, self.parents_depth));
            }
            if self.children || self.at {
                let desc = graph.descendants(id, self.children_depth);
                if self.at {
                    for d in desc.iter().chain(std::iter::once(id)) {
                        out.extend(graph.ancestors(d, None));
                    }
                }
                out.extend(desc);
            }
        }
        Ok(out)
    }
}

/// `tag:`: nodes, sources and exposures with a matching tag.
fn by_tag(project: &Project, pattern: &Pattern, out: &mut BTreeSet<String>) {
    for n in project.nodes.values() {
        if n.config.tags().iter().any(|t| pattern.matches(t)) {
            out.insert(n.unique_id.clone());
        }
    }
    for s in project.sources.values() {
        if s.tags.iter().any(|t| pattern.matches(t)) {
            out.insert(s.unique_id.clone());
        }
    }
    for e in project.exposures.values() {
        if e.spec.tags.iter().any(|t| pattern.matches(t)) {
            out.insert(e.unique_id.clone());
        }
    }
}

/// `source:src`, `source:src.table` or `source:project.src.table`.
fn by_source(project: &Project, v: &str, out: &mut BTreeSet<String>) {
    let parts: Vec<Pattern> = v.split('.').map(Pattern::new).collect();
    for s in project.sources.values() {
        let hit = match parts.as_slice() {
            [src] => src.matches(&s.source_name),
            [src, table] | [_, src, table] => src.matches(&s.source_name) && table.matches(&s.name),
            _ => false,
        };
        if hit {
            out.insert(s.unique_id.clone());
        }
    }
}

/// `test_type:generic|singular|unit|data|schema`.
fn by_test_type(project: &Project, v: &str, out: &mut BTreeSet<String>) {
    for n in project.nodes.values() {
        let t = match (&n.resource_type, &n.test_metadata) {
            (ResourceType::Test, Some(_)) => "generic",
            (ResourceType::Test, None) => "singular",
            (ResourceType::UnitTest, _) => "unit",
            _ => continue,
        };
        // dbt 1.8+: `data` is every data test (singular and generic); the
        // older `schema` means generic ones.
        if t == v || (v == "data" && t != "unit") || (v == "schema" && t == "generic") {
            out.insert(n.unique_id.clone());
        }
    }
}

/// `config.<key>:<value>`: a string (or a string in a list) matching the value, or any
/// other JSON value written exactly.
fn by_config(project: &Project, key: &str, v: &str, pattern: &Pattern, out: &mut BTreeSet<String>) {
    let key = crate::project::config::normalise_key(key);
    for n in project.nodes.values() {
        let hit = match n.config.get(&key) {
            Some(serde_json::Value::String(s)) => pattern.matches(s),
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .any(|x| x.as_str().is_some_and(|s| pattern.matches(s))),
            Some(other) => serde_json::to_string(other).ok().as_deref() == Some(v),
            None => key == "materialized" && pattern.matches(n.config.materialized()),
        };
        if hit {
            out.insert(n.unique_id.clone());
        }
    }
}

/// dbt's fqn method: the node's name, or a dotted prefix of its fqn (with or without the
/// project name), each part possibly a glob.
struct FqnPattern {
    whole: Pattern,
    parts: Vec<Pattern>,
}

impl FqnPattern {
    fn new(value: &str) -> Self {
        FqnPattern {
            whole: Pattern::new(value),
            parts: value.split('.').map(Pattern::new).collect(),
        }
    }

    fn matches(&self, fqn: &[String], name: &str) -> bool {
        if self.whole.matches(name) {
            return true;
        }
        let try_from = |start: usize| -> bool {
            let rest = &fqn[start..];
            if self.parts.len() > rest.len() {
                return false;
            }
            self.parts.iter().zip(rest).all(|(p, f)| p.matches(f))
        };
        try_from(0) || (fqn.len() > 1 && try_from(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_fqn() {
        assert!(glob("stg_*", "stg_orders"));
        assert!(!glob("stg_*", "orders"));
        assert!(glob("a?c", "abc"));
        let fqn: Vec<String> = ["proj", "staging", "stg_orders"].map(String::from).to_vec();
        let fqn_matches =
            |fqn: &[String], name: &str, value: &str| FqnPattern::new(value).matches(fqn, name);
        assert!(fqn_matches(&fqn, "stg_orders", "staging"));
        assert!(fqn_matches(&fqn, "stg_orders", "proj.staging.*"));
        assert!(fqn_matches(&fqn, "stg_orders", "stg_orders"));
        assert!(!fqn_matches(&fqn, "stg_orders", "marts"));
    }
}
