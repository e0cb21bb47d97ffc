//! `selectors.yml` at the project root: named selections for `--selector <name>`, written as
//! dbt writes them (a selector string, `{method, value, parents, children, ...}`, `union`,
//! `intersection`, `exclude`, `method: selector` for another selector, `default: true`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};

use super::selector::{IndirectSelection, Selection, Selector};

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
        let bad = |msg: String| Error::Usage(format!("{}: {msg}", path.display()));
        let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            Error::Usage(format!("{}{at}: {e}", path.display()))
        })?;
        let list = match doc.get("selectors") {
            Some(Value::Array(list)) => list.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(bad("`selectors:` should be a list".into())),
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
            if out.by_name.contains_key(name) {
                return Err(in_selector("defined twice".into()));
            }
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
        let rendered = render(Path::new("selectors.yml"), &text)?;
        Self::parse(Path::new("selectors.yml"), &rendered, mode).map(Some)
    }

    /// The selection named `name` (`--selector name`).
    pub fn get(&self, name: &str) -> Result<&Selection> {
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
            Value::String(s) => Selector::parse(s)
                .map(|sel| Selection::Criteria(sel, mode))
                .map_err(|e| e.to_string()),
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
            let named = self
                .by_name
                .get(&value)
                .ok_or_else(|| format!("`selector: {value}`: no selector of that name above it"))?;
            return Ok(Selection::Named(Box::new(named.clone())));
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
        let parents_depth = depth("parents_depth")?;
        let children_depth = depth("children_depth")?;
        let selector = Selector {
            method,
            value,
            parents: flag("parents")? || parents_depth.is_some(),
            parents_depth,
            children: flag("children")? || children_depth.is_some(),
            children_depth,
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
    fn refuses_what_dbt_refuses() {
        let err = |t: &str| parse(t).unwrap_err().to_string();
        assert!(
            err("selectors:\n  - name: a\n    definition:\n      selector: b\n")
                .contains("no selector of that name above it")
        );
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
