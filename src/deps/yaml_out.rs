//! YAML written as dbt writes `package-lock.yml` and a re-dumped `packages.yml` (PyYAML's
//! `yaml.dump` with keys sorted, block style and list items indented under their key), so
//! the files Strata writes are the bytes dbt writes.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::python_text::python_number;

/// The document for a top-level mapping.
pub fn dump(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(_) => write_mapping(value, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn write_mapping(value: &Value, indent: usize, out: &mut String) {
    let Value::Object(map) = value else { return };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for (i, key) in keys.into_iter().enumerate() {
        // The first key of a list item shares the line of its dash.
        if i > 0 || indent == 0 {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&plain_or_quoted(key));
        out.push(':');
        match map.get(key) {
            Some(Value::Object(inner)) if !inner.is_empty() => {
                out.push('\n');
                write_mapping(&Value::Object(inner.clone()), indent + 2, out);
            }
            Some(Value::Array(items)) if !items.is_empty() => {
                out.push('\n');
                write_list(items, indent + 2, out);
            }
            Some(v) => {
                out.push(' ');
                out.push_str(&scalar(v));
                out.push('\n');
            }
            None => out.push('\n'),
        }
    }
}

fn write_list(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_mapping(item, indent + 2, out),
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_list(inner, indent + 2, out);
            }
            v => {
                out.push_str(&scalar(v));
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => python_number(n),
        Value::String(s) => plain_or_quoted(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// What PyYAML's implicit resolvers would read as something other than a string.
fn resolves_to_another_type(s: &str) -> bool {
    static OTHER: OnceLock<Regex> = OnceLock::new();
    let re = OTHER.get_or_init(|| {
        let patterns = [
            r"yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
            r"~|null|Null|NULL",
            r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
            r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
            r"[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)?",
            r"<<|=",
        ];
        let joined = patterns.map(|p| format!("(?:{p})")).join("|");
        // A constant pattern; a failure is a bug every test would show.
        Regex::new(&format!("^(?:{joined})$")).unwrap_or_else(|e| panic!("yaml resolvers: {e}"))
    });
    re.is_match(s)
}

/// A string plain when PyYAML would write it plain, else single-quoted (double-quoted
/// with escapes when it holds characters outside printable ASCII).
fn plain_or_quoted(s: &str) -> String {
    if s.chars().any(|c| !(' '..='~').contains(&c)) {
        return double_quoted(s);
    }
    let first = s.chars().next();
    let starts_badly = match first {
        None => true,
        Some(c) if "#,[]{}&*!|>'\"%@`".contains(c) => true,
        Some(c) if "-?:".contains(c) => s.len() == 1 || s[1..].starts_with(' '),
        Some(' ') => true,
        _ => false,
    };
    let plain = !starts_badly
        && !s.ends_with(' ')
        && !s.ends_with(':')
        && !s.contains(": ")
        && !s.contains(" #")
        && !resolves_to_another_type(s);
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_are_quoted_where_pyyaml_quotes_them() {
        // Recorded with PyYAML 6 (`yaml.dump({'k': s})`) for each string.
        let cases = [
            ("1.2.0", "1.2.0"),
            ("1.0", "'1.0'"),
            (">=1.0.0", "'>=1.0.0'"),
            ("<2.0.0", "<2.0.0"),
            ("=1.0.0", "=1.0.0"),
            ("../pkg_local", "../pkg_local"),
            ("file:///tmp/x", "file:///tmp/x"),
            ("http://h/a?b=c&d", "http://h/a?b=c&d"),
            ("yes", "'yes'"),
            ("null", "'null'"),
            ("123", "'123'"),
            ("a: b", "'a: b'"),
            ("a #b", "'a #b'"),
            ("-x", "-x"),
            ("- x", "'- x'"),
            ("@x", "'@x'"),
            ("", "''"),
            ("2024-01-01", "'2024-01-01'"),
            ("1e5", "1e5"),
            ("1.5e+5", "'1.5e+5'"),
            (".5", "'.5'"),
            ("a:b", "a:b"),
            ("x:", "'x:'"),
            ("12:30", "'12:30'"),
            ("=", "'='"),
            ("Y", "Y"),
            ("é", "\"\\xE9\""),
        ];
        for (s, want) in cases {
            assert_eq!(plain_or_quoted(s), want, "{s:?}");
        }
    }

    #[test]
    fn documents_are_block_style_with_sorted_keys() {
        let doc = json!({"sha1_hash": "ab", "packages": [{"version": [">=1.0.0", "<2.0.0"], "package": "a/b", "install_prerelease": true, "x": null, "f": 1.0}]});
        assert_eq!(
            dump(&doc),
            "packages:\n  - f: 1.0\n    install_prerelease: true\n    package: a/b\n    version:\n      - '>=1.0.0'\n      - <2.0.0\n    x: null\nsha1_hash: ab\n"
        );
    }
}
