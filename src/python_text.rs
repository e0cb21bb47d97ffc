//! Values written as Python writes them, because dbt's outputs depend on it: `json.dumps(...,
//! sort_keys=True)` is hashed into the lock file's `sha1_hash`, `repr()` of a package entry
//! appears in dbt's validation messages, and `repr()` of test arguments is hashed into generic
//! tests' unique ids.

use serde_json::Value;

/// `json.dumps(value, sort_keys=True)` with Python's defaults: `", "` and `": "` separators,
/// non-ASCII escaped as `\uXXXX`.
pub fn json_dumps_sorted(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, &mut out, true);
    out
}

/// `str(value)` in Python, as dbt-athena writes a meta value into a Glue parameter:
/// `json.dumps` for a mapping or list (keys in file order), `True`/`None` for the others.
pub fn str_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => {
            let mut out = String::new();
            write_json(value, &mut out, false);
            out
        }
        other => repr(other),
    }
}

fn write_json(value: &Value, out: &mut String, sort_keys: bool) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&python_number(n)),
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(item, out, sort_keys);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            if sort_keys {
                keys.sort();
            }
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json_string(key, out);
                out.push_str(": ");
                if let Some(v) = map.get(key) {
                    write_json(v, out, sort_keys);
                }
            }
            out.push('}');
        }
    }
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number as Python prints it: integers as they are, floats with a fraction (`1.0`).
pub fn python_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        let text = format!("{f:e}");
        // Rust writes `1e20`; Python's repr writes `1e+20`.
        match text.split_once('e') {
            Some((m, e)) if f.abs() >= 1e16 && !e.starts_with('-') => format!("{m}e+{e}"),
            _ => f.to_string(),
        }
    }
}

/// `repr()` of a value parsed from YAML: `{'local': '../x', 'name': 3}`, keys in file order.
pub fn repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(b) => (if *b { "True" } else { "False" }).into(),
        Value::Number(n) => python_number(n),
        Value::String(s) => repr_str(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", repr_str(k), repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// A string in Python's quotes: single, or double when it holds a single quote only.
pub fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_is_pythons_sorted_dump() {
        let v = json!({"version": [">=1.0.0", "<2.0.0"], "package": "acme/x", "install_prerelease": false, "w": null, "f": 1.0, "u": "é"});
        assert_eq!(
            json_dumps_sorted(&v),
            r#"{"f": 1.0, "install_prerelease": false, "package": "acme/x", "u": "\u00e9", "version": [">=1.0.0", "<2.0.0"], "w": null}"#
        );
    }

    #[test]
    fn repr_is_pythons() {
        let v = json!({"local": "../x", "name": 3, "ok": true, "q": "it's"});
        assert_eq!(
            repr(&v),
            r#"{'local': '../x', 'name': 3, 'ok': True, 'q': "it's"}"#
        );
    }
}
