//! `selectors.yml` at the project root: named selections for `--selector <name>`, written as
//! dbt writes them (a selector string, `{method, value, parents, children, ...}`, `union`,
//! `intersection`, `exclude`, `method: selector` for another selector, `default: true`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};

use super::selection::{known_method, IndirectSelection, Selection, Selector, METHODS};

/// The selectors of a project, in file order.
#[derive(Debug, Default)]
pub struct Selectors {
    path: PathBuf,
    by_name: HashMap<String, Selection>,
    default: Option<String>,
}

impl Selectors {
    /// `text` is the file's content after Jinja (dbt renders `env_var()`/`var()` in it too).
    pub fn parse(path: &Path, text: &str, mode: IndirectSelection) -> Result<Self> {
        let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| Error::yaml(path, &e))?;
        Self::from_document(path, doc, mode)
    }

    /// The selectors of a parsed (and rendered) selectors.yml.
    fn from_document(path: &Path, doc: Value, mode: IndirectSelection) -> Result<Self> {
        let bad = |msg: String| Error::Usage(format!("{}: {msg}", path.display()));
        let list = match (&doc, doc.get("selectors")) {
            (Value::Null, _) => Vec::new(),
            (Value::Object(_), Some(Value::Array(list))) => list.clone(),
            (Value::Object(_), None | Some(Value::Null)) => Vec::new(),
            _ => {
                return Err(bad(
                    "expected `selectors:` with a list of {name, definition} entries".into(),
                ))
            }
        };
        let mut out = Selectors {
            path: path.to_path_buf(),
            ..Default::default()
        };
        for entry in &list {
            let Some(name) = entry.get("name").and_then(Value::as_str) else {
                return Err(bad("a selector without a `name`".into()));
            };
            let in_selector = |msg: String| bad(format!("selector '{name}': {msg}"));
            let Some(definition) = entry.get("definition") else {
                return Err(in_selector("no `definition`".into()));
            };
            // A name defined twice: the later definition counts (dbt).
            let selection = out
                .definition(definition, mode, true)
                .map_err(&in_selector)?;
            match entry.get("default") {
                None | Some(Value::Bool(false)) => {}
                Some(Value::Bool(true)) => {
                    if let Some(other) = &out.default {
                        return Err(in_selector(format!(
                            "`default: true`, and so is '{other}': only one selector can be the default"
                        )));
                    }
                    out.default = Some(name.to_string());
                }
                Some(other) => {
                    return Err(in_selector(format!(
                        "`default` should be true or false, not {other}"
                    )))
                }
            }
            out.by_name.insert(name.to_string(), selection);
        }
        Ok(out)
    }

    /// `method: selector` references may point anywhere in the file (they are resolved when
    /// used, as in dbt), but not in a circle: checked before `start` is used.
    pub fn check_references(&self, start: &str) -> Result<()> {
        fn refs(sel: &Selection, out: &mut Vec<String>) {
            match sel {
                Selection::Named(n) => out.push(n.clone()),
                Selection::Criteria(..) => {}
                Selection::Union(parts, _) | Selection::Intersection(parts, ..) => {
                    parts.iter().for_each(|p| refs(p, out))
                }
                Selection::Difference(a, b) => {
                    refs(a, out);
                    refs(b, out);
                }
            }
        }
        {
            let start = &start.to_string();
            // Depth-first, the path kept for the message.
            let mut stack = vec![(start.clone(), vec![start.clone()])];
            while let Some((name, path)) = stack.pop() {
                let Some(sel) = self.by_name.get(&name) else {
                    continue;
                };
                let mut next = Vec::new();
                refs(sel, &mut next);
                for n in next {
                    let mut longer = path.clone();
                    longer.push(n.clone());
                    if n == *start {
                        return Err(Error::Usage(format!(
                            "{}: selector '{start}' refers to itself: {}",
                            self.path.display(),
                            longer.join(" -> ")
                        )));
                    }
                    if !path.contains(&n) {
                        stack.push((n, longer));
                    }
                }
            }
        }
        Ok(())
    }

    /// `selectors.yml` of the project at `root`, if it has one.
    pub fn load(
        root: &Path,
        mode: IndirectSelection,
        render: &dyn Fn(&Path, &str) -> Result<String>,
    ) -> Result<Option<Self>> {
        let path = root.join("selectors.yml");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        // As dbt: the YAML parsed first, then its string values rendered.
        let file = Path::new("selectors.yml");
        let doc: Value = serde_yaml_ng::from_str(&text).map_err(|e| Error::yaml(file, &e))?;
        let doc = crate::yaml_render::render_strings(
            &doc,
            &crate::yaml_render::Rendering {
                file,
                text: &text,
                under: &[],
                render,
                skip: &|_| false,
                native: false,
            },
        )?;
        Self::from_document(file, doc, mode).map(Some)
    }

    /// The selection named `name` (`--selector name`).
    pub fn get(&self, name: &str) -> Result<&Selection> {
        if self.by_name.contains_key(name) {
            self.check_references(name)?;
        }
        self.by_name.get(name).ok_or_else(|| {
            let mut known: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
            known.sort();
            Error::Usage(format!(
                "--selector {name}: no selector of that name in {} (it has: {})",
                self.path.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// The selector marked `default: true`, used when a command names no selection.
    pub fn default_selection(&self) -> Option<(&str, &Selection)> {
        let name = self.default.as_deref()?;
        Some((name, self.by_name.get(name)?))
    }

    fn definition(
        &self,
        def: &Value,
        mode: IndirectSelection,
        root: bool,
    ) -> std::result::Result<Selection, String> {
        match def {
            // One selector in the command-line syntax (no spaces or commas, as in dbt).
            Value::String(s) => {
                let sel = Selector::parse(s).map_err(|e| e.to_string())?;
                if sel.method == "selector" {
                    return Ok(Selection::Named(sel.value));
                }
                if !known_method(&sel.method) {
                    return Err(format!(
                        "'{s}': unknown selector method '{}' (known: {})",
                        sel.method,
                        METHODS.join(", ")
                    ));
                }
                Ok(Selection::Criteria(sel, mode))
            }
            Value::Object(m) if m.contains_key("union") || m.contains_key("intersection") => {
                if root && m.len() > 1 {
                    return Err(format!(
                        "only one `union` or `intersection` key is allowed at the top of a \
                         definition; found {}",
                        m.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
                let key = if m.contains_key("union") {
                    "union"
                } else {
                    "intersection"
                };
                let Some(Value::Array(items)) = m.get(key) else {
                    return Err(format!("`{key}` should be a list"));
                };
                let mut parts = Vec::new();
                let mut exclude = None;
                for item in items {
                    match item {
                        Value::Object(x) if x.contains_key("exclude") => {
                            if exclude.is_some() {
                                return Err(format!("more than one `exclude` in one `{key}` list"));
                            }
                            exclude = Some(self.exclusions(x, mode)?);
                        }
                        other => parts.push(self.definition(other, mode, false)?),
                    }
                }
                // A YAML set operation brings tests along per selector only (dbt's default
                // for groups it builds from YAML).
                let group = if key == "union" {
                    Selection::Union(parts, IndirectSelection::Eager)
                } else {
                    Selection::Intersection(parts, IndirectSelection::Eager, None)
                };
                Ok(match exclude {
                    Some(e) => Selection::Difference(Box::new(group), Box::new(e)),
                    None => group,
                })
            }
            Value::Object(m) => self.criteria(m, mode),
            other => Err(format!(
                "expected a selector string, a mapping, `union` or `intersection`; found {other}"
            )),
        }
    }

    fn exclusions(
        &self,
        m: &Map<String, Value>,
        mode: IndirectSelection,
    ) -> std::result::Result<Selection, String> {
        let items = match m.get("exclude") {
            Some(Value::Array(items)) => items,
            _ => return Err("`exclude` should be a list".into()),
        };
        let mut parts = items
            .iter()
            .map(|i| self.definition(i, mode, false))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Selection::Union(parts, IndirectSelection::Eager)
        })
    }

    /// `{method: tag, value: nightly, children: true, ...}` or the short `{tag: nightly}`.
    fn criteria(
        &self,
        m: &Map<String, Value>,
        mode: IndirectSelection,
    ) -> std::result::Result<Selection, String> {
        if m.len() == 1 && m.contains_key("exclude") {
            return Err("`exclude` belongs in a `union` or `intersection` list".into());
        }
        let (method, value) = if m.len() == 1 {
            let (k, v) = m.iter().next().ok_or("an empty mapping")?;
            (k.clone(), v.clone())
        } else {
            match (m.get("method"), m.get("value")) {
                (Some(Value::String(k)), Some(v)) => (k.clone(), v.clone()),
                _ => {
                    return Err(format!(
                        "expected one key, or `method` and `value`; found {}",
                        m.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                }
            }
        };
        let value = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(format!(
                    "the value of `{method}` should be a string, not {other}"
                ))
            }
        };
        if method == "selector" {
            return Ok(Selection::Named(value));
        }
        if !known_method(&method) {
            return Err(format!(
                "unknown selector method '{method}' (known: {})",
                METHODS.join(", ")
            ));
        }
        let flag = |key: &str| -> std::result::Result<bool, String> {
            match m.get(key) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(other) => Err(format!("`{key}` should be true or false, not {other}")),
            }
        };
        let depth = |key: &str| -> std::result::Result<Option<usize>, String> {
            match m.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(|d| Some(d as usize))
                    .ok_or_else(|| format!("`{key}` should be a whole number, not {v}")),
            }
        };
        let mode = match m.get("indirect_selection") {
            None => mode,
            Some(Value::String(s)) => IndirectSelection::parse(s).ok_or_else(|| {
                format!("indirect_selection '{s}': expected eager, cautious, buildable or empty")
            })?,
            Some(other) => {
                return Err(format!(
                    "indirect_selection should be a string, not {other}"
                ))
            }
        };
        // A depth counts only with its `parents: true` / `children: true` (dbt).
        let parents = flag("parents")?;
        let children = flag("children")?;
        let selector = Selector {
            method,
            value,
            parents,
            parents_depth: depth("parents_depth")?.filter(|_| parents),
            children,
            children_depth: depth("children_depth")?.filter(|_| children),
            at: flag("childrens_parents")?,
        };
        let criteria = Selection::Criteria(selector, mode);
        Ok(match m.get("exclude") {
            Some(_) if m.len() > 1 => {
                Selection::Difference(Box::new(criteria), Box::new(self.exclusions(m, mode)?))
            }
            _ => criteria,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Selectors> {
        Selectors::parse(Path::new("selectors.yml"), text, IndirectSelection::Eager)
    }

    #[test]
    fn reads_dbt_definitions() {
        let s = parse(
            r#"
selectors:
  - name: nightly
    definition:
      union:
        - method: tag
          value: nightly
          children: true
        - "+path:models/marts"
        - exclude:
            - {tag: deprecated}
  - name: marts_only
    default: true
    definition:
      intersection:
        - selector: nightly
        - method: config.materialized
          value: table
          indirect_selection: cautious
"#,
        )
        .unwrap();
        let Selection::Difference(union, excluded) = s.get("nightly").unwrap() else {
            panic!("no difference")
        };
        let Selection::Union(parts, _) = &**union else {
            panic!("no union")
        };
        assert!(
            matches!(&parts[0], Selection::Criteria(sel, _) if sel.children && sel.value == "nightly")
        );
        assert!(
            matches!(&parts[1], Selection::Criteria(sel, _) if sel.parents && sel.method == "path")
        );
        assert!(
            matches!(&**excluded, Selection::Criteria(sel, _) if sel.method == "tag" && sel.value == "deprecated")
        );
        let (name, inter) = s.default_selection().unwrap();
        assert_eq!(name, "marts_only");
        let Selection::Intersection(parts, ..) = inter else {
            panic!("no intersection")
        };
        assert!(matches!(&parts[0], Selection::Named(_)));
        assert!(matches!(
            &parts[1],
            Selection::Criteria(_, IndirectSelection::Cautious)
        ));
    }

    #[test]
    fn a_depth_needs_its_direction() {
        let s = parse("selectors:\n  - name: a\n    definition: {method: fqn, value: x, parents_depth: 1}\n  - name: b\n    definition: {method: fqn, value: x, children: true, children_depth: 2}\n").unwrap();
        assert!(
            matches!(s.get("a").unwrap(), Selection::Criteria(sel, _) if !sel.parents && sel.parents_depth.is_none())
        );
        assert!(
            matches!(s.get("b").unwrap(), Selection::Criteria(sel, _) if sel.children && sel.children_depth == Some(2))
        );
    }

    #[test]
    fn refuses_what_dbt_refuses() {
        let err = |t: &str| parse(t).unwrap_err().to_string();
        let circle = parse(
            "selectors:\n  - name: a\n    definition: {selector: b}\n  - name: b\n    definition: {selector: a}\n  - name: c\n    definition: x\n",
        )
        .unwrap();
        assert!(circle.get("c").is_ok());
        assert!(circle
            .get("a")
            .unwrap_err()
            .to_string()
            .contains("selector 'a' refers to itself: a -> b -> a"));
        assert!(
            err("selectors:\n  - name: a\n    definition: {method: colour, value: red}\n")
                .contains("unknown selector method 'colour'")
        );
        assert!(err("- name: a\n  definition: x\n").contains("expected `selectors:`"));
        // As in dbt: a reference further down resolves; a second definition wins.
        let later = parse(
            "selectors:\n  - name: a\n    definition: {selector: b}\n  - name: b\n    definition: x\n  - name: b\n    definition: y\n",
        )
        .unwrap();
        assert!(matches!(later.get("a").unwrap(), Selection::Named(n) if n == "b"));
        assert!(matches!(later.get("b").unwrap(), Selection::Criteria(s, _) if s.value == "y"));
        assert!(
            err("selectors:\n  - name: a\n    definition: {union: [x], intersection: [y]}\n")
                .contains("only one `union` or `intersection`")
        );
        assert!(err("selectors:\n  - {name: a, default: true, definition: x}\n  - {name: b, default: true, definition: y}\n")
            .contains("only one selector can be the default"));
        assert!(err("selectors:\n  - name: a\n    definition:\n      method: tag\n      value: x\n      indirect_selection: some\n")
            .contains("expected eager, cautious"));
        let yaml = err("selectors:\n  - name: a\n    definition: [\n");
        assert!(yaml.starts_with("selectors.yml:"), "{yaml}");
        assert!(parse("selectors:\n  - name: a\n    definition: x\n")
            .unwrap()
            .get("b")
            .unwrap_err()
            .to_string()
            .contains("it has: a"));
    }
}
