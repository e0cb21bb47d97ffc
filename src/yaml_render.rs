//! YAML files as dbt reads them: parsed first, then each string value that holds Jinja
//! rendered on its own (keys, numbers and strings without Jinja are left as they are).
//! YAML's quoting is undone by the parser, so `'{{ env_var(''X'', ''4'') }}'`, which is how
//! YAML writers such as PyYAML quote a value, reaches the template engine as
//! `{{ env_var('X', '4') }}`; rendering the file's text first would hand it `''`.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result, YamlStep};

/// Renders one string value of a file (`var()`, `env_var()` ...).
pub type RenderValue<'a> = &'a dyn Fn(&Path, &str) -> Result<String>;

/// How the string values of one file are rendered.
pub struct Rendering<'a> {
    /// The file, for error messages.
    pub file: &'a Path,
    /// Its text, to point an error at the value's line.
    pub text: &'a str,
    /// The keys leading from the file's top to the value being rendered.
    pub under: &'a [&'a str],
    pub render: RenderValue<'a>,
    /// Key paths whose values stay as written (dbt renders `vars:` and hooks later).
    pub skip: &'a dyn Fn(&[&str]) -> bool,
    /// dbt's native rendering (profiles): a value that is one `{{ ... }}` expression and
    /// renders to a number or a boolean becomes that number or boolean, so
    /// `threads: '{{ env_var(''T'') | int }}'` is a number as it is for dbt.
    pub native: bool,
}

/// Whether `s` holds Jinja (an expression, a statement or a comment).
pub fn has_jinja(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// `value` with its string values rendered.
pub fn render_strings(value: &Value, how: &Rendering) -> Result<Value> {
    let mut path = Vec::new();
    render_at(value, how, &mut path)
}

/// A step of the path to a value: a mapping key or a list index.
enum Step<'v> {
    Key(&'v str),
    Item(usize),
}

fn render_at<'v>(value: &'v Value, how: &Rendering, path: &mut Vec<Step<'v>>) -> Result<Value> {
    let keys: Vec<&str> = path
        .iter()
        .filter_map(|s| match s {
            Step::Key(k) => Some(*k),
            Step::Item(_) => None,
        })
        .collect();
    if !keys.is_empty() && (how.skip)(&keys) {
        return Ok(value.clone());
    }
    Ok(match value {
        Value::String(s) if has_jinja(s) => {
            let rendered = (how.render)(how.file, s).map_err(|e| at_value(e, how, path))?;
            match how.native {
                true if is_one_expression(s) => native(rendered),
                _ => Value::String(rendered),
            }
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Item(i));
                let rendered = render_at(item, how, path);
                path.pop();
                out.push(rendered?);
            }
            Value::Array(out)
        }
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                path.push(Step::Key(k));
                let rendered = render_at(v, how, path);
                path.pop();
                out.insert(k.clone(), rendered?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// A template error pointed at the value's line in the file.
fn at_value(e: Error, how: &Rendering, path: &[Step]) -> Error {
    let above = how.under.iter().map(|k| YamlStep::Key(k));
    let steps: Vec<YamlStep> = above
        .chain(path.iter().map(|s| match s {
            Step::Key(k) => YamlStep::Key(k),
            Step::Item(i) => YamlStep::Item(*i),
        }))
        .collect();
    e.in_yaml_value(how.text, &steps)
}

/// Whether `s` is a single `{{ ... }}` expression (surrounding blanks aside).
fn is_one_expression(s: &str) -> bool {
    let t = s.trim();
    t.starts_with("{{") && t.ends_with("}}") && t.matches("{{").count() == 1
}

/// A rendered value as dbt's native rendering reads it: integers, decimals and booleans
/// become themselves; anything else stays text.
fn native(rendered: String) -> Value {
    let t = rendered.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Value::from(i);
    }
    // Rust reads `inf` and `NaN` as floats too; JSON numbers refuse them, so they stay text.
    if let Some(n) = t.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        return Value::Number(n);
    }
    match t {
        "True" | "true" => Value::Bool(true),
        "False" | "false" => Value::Bool(false),
        _ => Value::String(rendered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str, native: bool) -> Result<Value> {
        let doc: Value = serde_yaml_ng::from_str(text).expect("yaml");
        let how = Rendering {
            file: Path::new("profiles.yml"),
            text,
            under: &[],
            render: &|_, s| Ok(s.replace("{{ four }}", "4").replace("{{ name }}", "it's")),
            skip: &|keys| keys.first() == Some(&"vars"),
            native,
        };
        render_strings(&doc, &how)
    }

    #[test]
    fn values_render_after_yaml_unquotes_them() {
        let v = render(
            "a: '{{ four }}'\nb: 'x{{ four }}'\nc: \"{{ name }}\"\nvars: {d: '{{ four }}'}\n",
            true,
        )
        .expect("renders");
        assert_eq!(v["a"], Value::from(4), "one expression: native");
        assert_eq!(v["b"], Value::from("x4"), "text around it: a string");
        assert_eq!(v["c"], Value::from("it's"));
        assert_eq!(v["vars"]["d"], Value::from("{{ four }}"), "skipped");
        let plain = render("a: '{{ four }}'\n", false).expect("renders");
        assert_eq!(plain["a"], Value::from("4"), "not native: text");
    }

    #[test]
    fn an_error_points_at_the_values_line() {
        let text = "one: 1\ntwo:\n  three: '{{ broken'\n";
        let doc: Value = serde_yaml_ng::from_str(text).expect("yaml");
        let how = Rendering {
            file: Path::new("p.yml"),
            text,
            under: &[],
            render: &|p, s| {
                let env = minijinja::Environment::new();
                env.render_str(s, ()).map_err(|e| Error::template(p, &e))
            },
            skip: &|_| false,
            native: false,
        };
        let e = render_strings(&doc, &how).expect_err("a syntax error");
        assert!(e.to_string().contains("p.yml:3"), "{e}");
    }
}
