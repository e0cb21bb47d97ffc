//! dbt's node selection syntax: `model`, `+model`, `model+`, `2+model`, `@model`,
//! `tag:x`, `path:models/staging`, `source:s`, `config.materialized:table`,
//! `resource_type:test`, `test_type:generic`, `fqn:`, `package:`; a space is a union, a comma
//! an intersection; `--exclude` takes the same syntax.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::project::{Project, ResourceType};

use super::Graph;

#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub method: String,
    pub value: String,
    pub parents: bool,
    pub parents_depth: Option<usize>,
    pub children: bool,
    pub children_depth: Option<usize>,
    /// `@`: the node, its descendants and every ancestor of those.
    pub at: bool,
}

/// A union of intersections of selectors.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectionSpec {
    pub union: Vec<Vec<Selector>>,
}

impl SelectionSpec {
    /// Parse the values of one `--select`/`--exclude` option.
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut union = Vec::new();
        for arg in args {
            for word in arg.split_whitespace() {
                let inter = word
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(Selector::parse)
                    .collect::<Result<Vec<_>>>()?;
                if !inter.is_empty() {
                    union.push(inter);
                }
            }
        }
        Ok(SelectionSpec { union })
    }

    pub fn is_empty(&self) -> bool {
        self.union.is_empty()
    }

    pub fn resolve(&self, project: &Project, graph: &Graph) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for inter in &self.union {
            let mut acc: Option<BTreeSet<String>> = None;
            for sel in inter {
                let set = sel.resolve(project, graph)?;
                acc = Some(match acc {
                    None => set,
                    Some(a) => a.intersection(&set).cloned().collect(),
                });
            }
            out.extend(acc.unwrap_or_default());
        }
        Ok(out)
    }
}

fn parse_depth(s: &str, selector: &str) -> Result<Option<usize>> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|_| Error::Selector {
        selector: selector.to_string(),
        message: format!("'{s}' is not a depth"),
    })
}

impl Selector {
    pub fn parse(text: &str) -> Result<Self> {
        let mut s = text;
        let at = s.starts_with('@');
        if at {
            s = &s[1..];
        }
        let lead_digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        let mut parents = false;
        let mut parents_depth = None;
        if s[lead_digits.len()..].starts_with('+') {
            parents = true;
            parents_depth = parse_depth(&lead_digits, text)?;
            s = &s[lead_digits.len() + 1..];
        }
        let mut children = false;
        let mut children_depth = None;
        let trail_digits: String = s
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .chars()
            .rev()
            .collect();
        let body = &s[..s.len() - trail_digits.len()];
        if let Some(b) = body.strip_suffix('+') {
            children = true;
            children_depth = parse_depth(&trail_digits, text)?;
            s = b;
        }
        if s.is_empty() {
            return Err(Error::Selector {
                selector: text.to_string(),
                message: "nothing to select".into(),
            });
        }
        if at && (parents || children) {
            return Err(Error::Selector {
                selector: text.to_string(),
                message: "'@' cannot be combined with '+'".into(),
            });
        }
        let (method, value) = match s.split_once(':') {
            Some((m, v)) => (m.to_string(), v.to_string()),
            None => {
                let method = if s.contains('/') || s.ends_with(".sql") || s.ends_with(".csv") {
                    "path"
                } else {
                    "fqn"
                };
                (method.to_string(), s.to_string())
            }
        };
        Ok(Selector {
            method,
            value,
            parents,
            parents_depth,
            children,
            children_depth,
            at,
        })
    }

    fn direct(&self, project: &Project) -> Result<BTreeSet<String>> {
        let v = self.value.as_str();
        let mut out = BTreeSet::new();
        let err = |m: &str| Error::Selector {
            selector: format!("{}:{}", self.method, self.value),
            message: m.to_string(),
        };
        match self.method.as_str() {
            "fqn" => {
                for n in project.nodes.values() {
                    if fqn_matches(&n.fqn, &n.name, v) {
                        out.insert(n.unique_id.clone());
                    }
                }
            }
            "tag" => {
                for n in project.nodes.values() {
                    if n.config.tags().iter().any(|t| glob(v, t)) {
                        out.insert(n.unique_id.clone());
                    }
                }
                for s in project.sources.values() {
                    if s.tags.iter().any(|t| glob(v, t)) {
                        out.insert(s.unique_id.clone());
                    }
                }
            }
            "path" | "file" => {
                let want = v.trim_end_matches('/');
                for n in project.nodes.values() {
                    let p = n.original_file_path.to_string_lossy();
                    let hit = if self.method == "file" {
                        n.original_file_path
                            .file_name()
                            .is_some_and(|f| glob(want, &f.to_string_lossy()))
                    } else {
                        glob(want, &p) || p.starts_with(&format!("{want}/"))
                    };
                    // Generic tests live in YAML; they follow their model (indirect selection).
                    if hit && n.test_metadata.is_none() {
                        out.insert(n.unique_id.clone());
                    }
                }
            }
            "source" => {
                let parts: Vec<&str> = v.split('.').collect();
                for s in project.sources.values() {
                    let hit = match parts.as_slice() {
                        [src] => glob(src, &s.source_name),
                        [src, table] => glob(src, &s.source_name) && glob(table, &s.name),
                        [_, src, table] => glob(src, &s.source_name) && glob(table, &s.name),
                        _ => false,
                    };
                    if hit {
                        out.insert(s.unique_id.clone());
                    }
                }
            }
            "resource_type" => {
                for n in project.nodes.values() {
                    if n.resource_type.as_str() == v {
                        out.insert(n.unique_id.clone());
                    }
                }
                if v == "source" {
                    out.extend(project.sources.keys().cloned());
                }
            }
            "test_type" => {
                for n in project.nodes.values() {
                    let t = match (&n.resource_type, &n.test_metadata) {
                        (ResourceType::Test, Some(_)) => "generic",
                        (ResourceType::Test, None) => "singular",
                        _ => continue,
                    };
                    // dbt 1.8+: `data` is every data test (singular and generic); the
                    // older `schema` means generic ones.
                    if t == v || v == "data" || (v == "schema" && t == "generic") {
                        out.insert(n.unique_id.clone());
                    }
                }
            }
            "test_name" => {
                for n in project.nodes.values() {
                    if n.test_metadata.as_ref().is_some_and(|m| glob(v, &m.name)) {
                        out.insert(n.unique_id.clone());
                    }
                }
            }
            "package" => {
                if glob(v, project.name()) {
                    out.extend(project.nodes.keys().cloned());
                    out.extend(project.sources.keys().cloned());
                }
            }
            m if m.starts_with("config.") => {
                let key = crate::project::config::normalise_key(&m["config.".len()..]);
                for n in project.nodes.values() {
                    let hit = match n.config.get(&key) {
                        Some(serde_json::Value::String(s)) => glob(v, s),
                        Some(serde_json::Value::Array(a)) => {
                            a.iter().any(|x| x.as_str().is_some_and(|s| glob(v, s)))
                        }
                        Some(other) => serde_json::to_string(other).ok().as_deref() == Some(v),
                        None => key == "materialized" && glob(v, n.config.materialized()),
                    };
                    if hit {
                        out.insert(n.unique_id.clone());
                    }
                }
            }
            other => return Err(err(&format!("unknown selector method '{other}'"))),
        }
        Ok(out)
    }

    pub fn resolve(&self, project: &Project, graph: &Graph) -> Result<BTreeSet<String>> {
        let direct = self.direct(project)?;
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

/// Shell-style `*` and `?` matching.
pub fn glob(pattern: &str, text: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return pattern == text;
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// dbt's fqn method: the node's name, or a dotted prefix of its fqn (with or without the
/// project name), each part possibly a glob.
fn fqn_matches(fqn: &[String], name: &str, value: &str) -> bool {
    if glob(value, name) {
        return true;
    }
    let parts: Vec<&str> = value.split('.').collect();
    let try_from = |start: usize| -> bool {
        let rest = &fqn[start..];
        if parts.len() > rest.len() {
            return false;
        }
        parts.iter().zip(rest).all(|(p, f)| glob(p, f))
            && (parts.len() == rest.len() || parts.len() < rest.len())
    };
    try_from(0) || (fqn.len() > 1 && try_from(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_graph_operators() {
        let s = Selector::parse("2+orders+1").unwrap();
        assert!(s.parents && s.children);
        assert_eq!(s.parents_depth, Some(2));
        assert_eq!(s.children_depth, Some(1));
        assert_eq!(s.value, "orders");
        let s = Selector::parse("@tag:daily").unwrap();
        assert!(s.at);
        assert_eq!((s.method.as_str(), s.value.as_str()), ("tag", "daily"));
        let s = Selector::parse("models/staging").unwrap();
        assert_eq!(s.method, "path");
        assert!(Selector::parse("+").is_err());
        assert!(Selector::parse("@a+").is_err());
    }

    #[test]
    fn union_and_intersection() {
        let spec = SelectionSpec::parse(&["a b,tag:x".into(), "c".into()]).unwrap();
        assert_eq!(spec.union.len(), 3);
        assert_eq!(spec.union[1].len(), 2);
    }

    #[test]
    fn globs_and_fqn() {
        assert!(glob("stg_*", "stg_orders"));
        assert!(!glob("stg_*", "orders"));
        assert!(glob("a?c", "abc"));
        let fqn: Vec<String> = ["proj", "staging", "stg_orders"].map(String::from).to_vec();
        assert!(fqn_matches(&fqn, "stg_orders", "staging"));
        assert!(fqn_matches(&fqn, "stg_orders", "proj.staging.*"));
        assert!(fqn_matches(&fqn, "stg_orders", "stg_orders"));
        assert!(!fqn_matches(&fqn, "stg_orders", "marts"));
    }
}
