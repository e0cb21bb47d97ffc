//! Environment-wide template globals: `var`, `env_var`, `log`, `exceptions`, `return`,
//! `run_started_at`, `adapter`, the `dbt` macro namespace, `fromjson`/`tojson`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use minijinja::value::{from_args, Kwargs, Object, Rest, Value};
use minijinja::{Error as JError, ErrorKind, State};
use serde_json::Map;

thread_local! {
    /// `{{ return(x) }}` stores x here and raises an error that unwinds to the macro wrapper.
    static RETURN_SLOT: RefCell<Option<Value>> = const { RefCell::new(None) };
}

const RETURN_MARKER: &str = "__strata_return__";

pub fn return_fn(value: Option<Value>) -> Result<Value, JError> {
    RETURN_SLOT.with(|s| *s.borrow_mut() = Some(value.unwrap_or(Value::from(()))));
    Err(JError::new(ErrorKind::InvalidOperation, RETURN_MARKER))
}

/// If `err` is the unwinding of a `return()`, the returned value.
pub fn take_return(err: &JError) -> Option<Value> {
    let is_return = err.detail() == Some(RETURN_MARKER) || err.to_string().contains(RETURN_MARKER);
    if is_return {
        RETURN_SLOT.with(|s| s.borrow_mut().take())
    } else {
        None
    }
}

pub fn var_fn(vars: Arc<Map<String, serde_json::Value>>) -> Value {
    Value::from_function(
        move |name: String, default: Option<Value>| -> Result<Value, JError> {
            match vars.get(&name) {
            Some(v) => Ok(Value::from_serialize(v)),
            None => default.ok_or_else(|| {
                JError::new(
                    ErrorKind::InvalidOperation,
                    format!("required var '{name}' not found in config (set it in project.yml `vars:` or with --vars)"),
                )
            }),
        }
        },
    )
}

pub fn env_var(name: String, default: Option<Value>) -> Result<Value, JError> {
    match std::env::var(&name) {
        Ok(v) => Ok(Value::from(v)),
        Err(_) => default.ok_or_else(|| {
            JError::new(
                ErrorKind::InvalidOperation,
                format!("env var required but not provided: '{name}'"),
            )
        }),
    }
}

/// dbt's `log(msg, info=False)`, `info` given by position or keyword: with it the message is
/// printed (without it, dbt writes only to its debug log, which Strata does not keep).
pub fn log_fn(msg: Value, info: Option<bool>, kwargs: Kwargs) -> Result<Value, JError> {
    let info = match kwargs.get::<Option<bool>>("info")? {
        Some(i) => i,
        None => info.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    if info {
        eprintln!("{msg}");
    }
    Ok(Value::from(""))
}

pub fn fromjson(text: String, default: Option<Value>) -> Result<Value, JError> {
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => Ok(Value::from_serialize(&v)),
        Err(e) => default
            .ok_or_else(|| JError::new(ErrorKind::InvalidOperation, format!("fromjson: {e}"))),
    }
}

pub fn tojson(value: Value) -> Result<Value, JError> {
    serde_json::to_string(&value)
        .map(Value::from)
        .map_err(|e| JError::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))
}

/// dbt's `fromyaml(text, default=None)`.
pub fn fromyaml(text: String, default: Option<Value>) -> Result<Value, JError> {
    match serde_yaml_ng::from_str::<serde_json::Value>(&text) {
        Ok(v) => Ok(Value::from_serialize(&v)),
        Err(e) => default
            .ok_or_else(|| JError::new(ErrorKind::InvalidOperation, format!("fromyaml: {e}"))),
    }
}

/// dbt's `toyaml(value)`.
pub fn toyaml(value: Value) -> Result<Value, JError> {
    serde_yaml_ng::to_string(&value)
        .map(Value::from)
        .map_err(|e| JError::new(ErrorKind::InvalidOperation, format!("toyaml: {e}")))
}

/// dbt's `local_md5(text)`: the hex MD5 of the text (dbt uses it for stable names).
pub fn local_md5(text: String) -> String {
    crate::project::md5_hex(&text)
}

/// Python's `zip(a, b, ...)`: lists of the n-th items, as long as the shortest input.
pub fn zip(lists: Rest<Value>) -> Result<Value, JError> {
    let lists: Vec<Vec<Value>> = lists
        .iter()
        .map(|l| Ok(l.try_iter()?.collect()))
        .collect::<Result<_, JError>>()?;
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

/// dbt's `set(iterable)`: the distinct items (in first-seen order: templates iterate it).
pub fn set(items: Value) -> Result<Value, JError> {
    let mut out: Vec<Value> = Vec::new();
    for v in items.try_iter()? {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Value::from(out))
}

/// dbt's `print(msg)`: to standard output.
pub fn print_fn(msg: Value) -> Value {
    use std::io::Write;
    // A closed pipe (`strata ... | head`) is not the template's problem.
    let _ = writeln!(std::io::stdout(), "{msg}");
    Value::from("")
}

/// dbt's `before_begin(sql)` / `after_commit(sql)` / `in_transaction(sql)`: a hook as
/// `{sql, transaction}` (see config::hook_sql).
pub fn hook_in(transaction: bool) -> impl Fn(String) -> Value + Send + Sync + 'static {
    move |sql: String| {
        Value::from_serialize(serde_json::json!({"sql": sql, "transaction": transaction}))
    }
}

/// `exceptions.raise_compiler_error(msg)` and `exceptions.warn(msg)`.
#[derive(Debug)]
pub struct Exceptions;

impl Object for Exceptions {
    fn call_method(
        self: &Arc<Self>,
        _state: &State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JError> {
        let (msg,): (String,) = from_args(args)?;
        match method {
            "raise_compiler_error" | "raise_not_implemented" => Err(JError::new(
                ErrorKind::InvalidOperation,
                format!("compilation error: {msg}"),
            )),
            "warn" => {
                eprintln!("warning: {msg}");
                Ok(Value::from(""))
            }
            _ => Err(JError::new(
                ErrorKind::UnknownMethod,
                format!("exceptions has no method '{method}'"),
            )),
        }
    }
}

/// `run_started_at`: renders as ISO 8601; `strftime` and `isoformat` as in Python.
#[derive(Debug)]
pub struct Timestamp(pub chrono::DateTime<chrono::Utc>);

impl Object for Timestamp {
    /// A plain value: `{{ run_started_at }}` renders the time (a map would render `{}`).
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        use chrono::Datelike;
        match key.as_str()? {
            "year" => Some(Value::from(self.0.year())),
            "month" => Some(Value::from(self.0.month())),
            "day" => Some(Value::from(self.0.day())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JError> {
        match method {
            "strftime" => {
                let (fmt,): (String,) = from_args(args)?;
                // chrono reports a pattern it cannot read only while formatting, and
                // `to_string()` would panic on that: write into a String and say which.
                let mut out = String::new();
                write!(out, "{}", self.0.format(&fmt)).map_err(|_| {
                    JError::new(
                        ErrorKind::InvalidOperation,
                        format!("strftime: '{fmt}' is not a valid date format"),
                    )
                })?;
                Ok(Value::from(out))
            }
            "isoformat" => Ok(Value::from(
                self.0.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
            )),
            // Times are UTC; `modules.pytz` has UTC only (see compile::modules).
            "astimezone" | "replace" => Ok(Value::from_object(Timestamp(self.0))),
            _ => Err(JError::new(
                ErrorKind::UnknownMethod,
                format!("datetime has no method '{method}'"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d %H:%M:%S%.6f+00:00"))
    }
}

/// The `dbt` namespace: `dbt.some_macro(...)` calls the built-in or project macro.
#[derive(Debug)]
pub struct MacroNamespace(pub Arc<HashMap<String, Value>>);

impl Object for MacroNamespace {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(key.as_str()?).cloned()
    }
}

/// Arguments of a Jinja call, split into positionals and keywords.
pub fn split_args(args: &[Value]) -> Result<(Vec<Value>, Option<Kwargs>), JError> {
    // Keyword arguments (and a call block's `caller`) arrive as one trailing kwargs value.
    match args.split_last() {
        Some((last, pos)) if last.is_kwargs() => {
            Ok((pos.to_vec(), Some(Kwargs::try_from(last.clone())?)))
        }
        _ => Ok((args.to_vec(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_with_timestamp(template: &str) -> Result<String, JError> {
        let mut env = minijinja::Environment::new();
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        env.add_global("run_started_at", Value::from_object(Timestamp(at)));
        env.render_str(template, ())
    }

    #[test]
    fn strftime_with_an_invalid_pattern_is_an_error_naming_it() {
        for pattern in ["%Q", "%", "%Y-%"] {
            let template = format!("{{{{ run_started_at.strftime('{pattern}') }}}}");
            match render_with_timestamp(&template) {
                Ok(out) => panic!("'{pattern}' rendered as {out:?}"),
                Err(e) => assert!(
                    e.to_string().contains(&format!("'{pattern}'")),
                    "{pattern}: {e}"
                ),
            }
        }
        assert_eq!(
            render_with_timestamp("{{ run_started_at.strftime('%Y-%m-%d %%') }}").ok(),
            Some("2023-11-14 %".to_string())
        );
    }
}
