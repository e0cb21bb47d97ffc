//! The selection syntax as written, before anything is looked up: one selector
//! (`2+tag:x+`, `@model`, `path:models/staging`) and the set operations over selectors
//! that `--select`/`--exclude` and selectors.yml build. Resolving a selection against a
//! project is `selector`'s job, reading selectors.yml `selectors_file`'s; both use these
//! types, so neither needs the other's (the dependency goes one way).

use crate::error::{Error, Result};

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

/// Which tests come along with the nodes they test (dbt's `--indirect-selection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum IndirectSelection {
    /// A test is in when any node it tests is selected.
    #[default]
    Eager,
    /// A test is in when every node it tests is selected.
    Cautious,
    /// ... or every node it tests is selected or upstream of the selection.
    Buildable,
    /// No test comes along.
    Empty,
}

impl IndirectSelection {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "eager" => Some(Self::Eager),
            "cautious" => Some(Self::Cautious),
            "buildable" => Some(Self::Buildable),
            "empty" => Some(Self::Empty),
            _ => None,
        }
    }
}

/// The selector methods Strata knows (selectors.yml is checked against them when read).
pub const METHODS: &[&str] = &[
    "fqn",
    "tag",
    "path",
    "file",
    "source",
    "resource_type",
    "test_type",
    "test_name",
    "package",
    "exposure",
    "unit_test",
    "state",
    "result",
    "reuse",
    "config",
    "selector",
];

/// Whether `method` (as written, `config.materialized` included) is one Strata knows.
pub fn known_method(method: &str) -> bool {
    METHODS.contains(&method.split('.').next().unwrap_or(method))
}

/// dbt's set operations over selectors: `--select a b,c --exclude d` is
/// `(a | (b & c)) - d`; selectors.yml writes the same with `union`, `intersection` and
/// `exclude`. Each selector brings its tests along (indirect selection) before the sets
/// are combined, as in dbt.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    Criteria(Selector, IndirectSelection),
    /// `raw` is the command-line word, when it comes from one: a word that selects nothing
    /// is worth a warning.
    Union(Vec<Selection>, IndirectSelection),
    Intersection(Vec<Selection>, IndirectSelection, Option<String>),
    /// The first minus the second.
    Difference(Box<Selection>, Box<Selection>),
    /// `method: selector` in selectors.yml: another selector's nodes, tests included
    /// (looked up when used, so it may be defined further down).
    Named(String),
}

impl Selection {
    /// Whether a criterion of this selection, or of a selector it names (`named` looks
    /// those up in selectors.yml), uses `method`.
    pub fn uses_method(&self, method: &str, named: &dyn Fn(&str) -> Option<Selection>) -> bool {
        match self {
            Selection::Criteria(s, _) => s.method == method,
            Selection::Union(parts, _) | Selection::Intersection(parts, _, _) => {
                parts.iter().any(|p| p.uses_method(method, named))
            }
            Selection::Difference(a, b) => {
                a.uses_method(method, named) || b.uses_method(method, named)
            }
            // selectors.yml is checked for cycles when a selector is looked up.
            Selection::Named(name) => named(name).is_some_and(|s| s.uses_method(method, named)),
        }
    }

    /// `--select`/`--exclude` as dbt reads them: words split on spaces form a union, commas
    /// an intersection. `None` when neither selects anything (everything is selected).
    pub fn from_cli(
        select: &[String],
        exclude: &[String],
        mode: IndirectSelection,
    ) -> Result<Option<Self>> {
        let union = |args: &[String]| -> Result<Option<Selection>> {
            let mut parts = Vec::new();
            for word in args.iter().flat_map(|a| a.split_whitespace()) {
                let inter = word
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| Ok(Selection::Criteria(Selector::parse(s)?, mode)))
                    .collect::<Result<Vec<_>>>()?;
                if !inter.is_empty() {
                    parts.push(Selection::Intersection(inter, mode, Some(word.to_string())));
                }
            }
            Ok((!parts.is_empty()).then_some(Selection::Union(parts, mode)))
        };
        let included = union(select)?;
        let excluded = union(exclude)?;
        Ok(match (included, excluded) {
            (None, None) => None,
            (Some(i), None) => Some(i),
            (i, Some(e)) => {
                let everything = Selection::Criteria(Selector::everything(), mode);
                Some(Selection::Difference(
                    Box::new(i.unwrap_or(everything)),
                    Box::new(e),
                ))
            }
        })
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
            Some(("", _)) => {
                return Err(Error::Selector {
                    selector: text.to_string(),
                    message: "no method before ':'".into(),
                })
            }
            Some((m, v)) => (m.to_string(), v.to_string()),
            None => {
                // dbt: something with a slash is a path, a bare file name a file.
                let method = if s.contains('/') || s.contains('\\') {
                    "path"
                } else if [".sql", ".py", ".csv"].iter().any(|e| s.ends_with(e)) {
                    "file"
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

    /// Every node and source (what `--exclude` alone subtracts from).
    pub fn everything() -> Self {
        Selector {
            method: String::new(),
            value: String::new(),
            parents: false,
            parents_depth: None,
            children: false,
            children_depth: None,
            at: false,
        }
    }
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
        assert_eq!(Selector::parse("orders.sql").unwrap().method, "file");
        assert!(Selector::parse("+").is_err());
        assert!(Selector::parse("@a+").is_err());
    }

    #[test]
    fn union_and_intersection() {
        let mode = IndirectSelection::Eager;
        let sel = Selection::from_cli(&["a b,tag:x".into(), "c".into()], &[], mode)
            .unwrap()
            .unwrap();
        let Selection::Union(parts, _) = sel else {
            panic!("not a union: {sel:?}")
        };
        assert_eq!(parts.len(), 3);
        assert!(
            matches!(&parts[1], Selection::Intersection(i, _, Some(raw)) if i.len() == 2 && raw == "b,tag:x")
        );
        let only_exclude = Selection::from_cli(&[], &["d".into()], mode).unwrap();
        assert!(matches!(only_exclude, Some(Selection::Difference(..))));
        assert_eq!(Selection::from_cli(&[], &[], mode).unwrap(), None);
        assert!(Selector::parse(":x").is_err());
    }
}
