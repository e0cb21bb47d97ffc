//! `modules`: the parts of Python's standard library dbt puts in the Jinja context that
//! packages use: `modules.datetime` (now, utcnow, strptime, fromisoformat, date),
//! `modules.re` (match, search, fullmatch, findall, sub, split, escape, compile), on chrono
//! and the regex crate, and `modules.pytz` for UTC (`pytz.utc`, `pytz.timezone('UTC')`):
//! other zones need a time-zone database, which Strata does not carry.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use minijinja::value::{from_args, Object, Value};
use minijinja::{Error as JError, State};

use super::globals::Timestamp;
use super::{jerr, unknown_method};

/// The `modules` global.
#[derive(Debug)]
pub(super) struct Modules;

impl Object for Modules {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "datetime" => Some(Value::from_object(DatetimeModule)),
            "re" => Some(Value::from_object(Re(None))),
            "pytz" => Some(Value::from_object(Pytz)),
            _ => None,
        }
    }
}

/// `modules.datetime`: its `datetime` and `date` classes.
#[derive(Debug)]
struct DatetimeModule;

impl Object for DatetimeModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "datetime" => Some(Value::from_object(DatetimeClass)),
            "date" => Some(Value::from_object(DateClass)),
            _ => None,
        }
    }
}

/// `datetime.datetime`: `now()`, `utcnow()`, `strptime(text, format)`, `fromisoformat`,
/// and `datetime(y, m, d[, h, mi, s])`. Times are UTC (as dbt's `run_started_at`).
#[derive(Debug)]
struct DatetimeClass;

impl Object for DatetimeClass {
    fn call(self: &Arc<Self>, _state: &State, args: &[Value]) -> Result<Value, JError> {
        let parts: Vec<i64> = args
            .iter()
            .map(|a| i64::try_from(a.clone()))
            .collect::<Result<_, _>>()?;
        let get = |i: usize, default: i64| parts.get(i).copied().unwrap_or(default);
        let naive = NaiveDate::from_ymd_opt(get(0, 1) as i32, get(1, 1) as u32, get(2, 1) as u32)
            .and_then(|d| d.and_hms_opt(get(3, 0) as u32, get(4, 0) as u32, get(5, 0) as u32))
            .ok_or_else(|| jerr(format!("datetime({parts:?}): not a valid date and time")))?;
        Ok(timestamp(naive))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JError> {
        match method {
            "now" | "utcnow" => Ok(Value::from_object(Timestamp(Utc::now()))),
            "strptime" => {
                let (text, format): (String, String) = from_args(args)?;
                let naive = NaiveDateTime::parse_from_str(&text, &format)
                    .or_else(|_| {
                        NaiveDate::parse_from_str(&text, &format)
                            .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
                    })
                    .map_err(|e| jerr(format!("strptime('{text}', '{format}'): {e}")))?;
                Ok(timestamp(naive))
            }
            "fromisoformat" => {
                let (text,): (String,) = from_args(args)?;
                let naive = NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
                    .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f"))
                    .or_else(|_| {
                        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                            .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
                    })
                    .map_err(|e| jerr(format!("fromisoformat('{text}'): {e}")))?;
                Ok(timestamp(naive))
            }
            _ => Err(unknown_method("datetime.datetime", method)),
        }
    }
}

/// `datetime.date`: `today()` and `date(y, m, d)`, as datetimes at midnight.
#[derive(Debug)]
struct DateClass;

impl Object for DateClass {
    fn call(self: &Arc<Self>, _state: &State, args: &[Value]) -> Result<Value, JError> {
        let (y, m, d): (i32, u32, u32) = from_args(args)?;
        let date = NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .ok_or_else(|| jerr(format!("date({y}, {m}, {d}): not a valid date")))?;
        Ok(timestamp(date))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, JError> {
        match method {
            "today" => {
                let today = Utc::now()
                    .date_naive()
                    .and_hms_opt(0, 0, 0)
                    .unwrap_or_default();
                Ok(timestamp(today))
            }
            _ => Err(unknown_method("datetime.date", method)),
        }
    }
}

/// `modules.pytz`: UTC only.
#[derive(Debug)]
struct Pytz;

impl Object for Pytz {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "utc" | "UTC" => Some(Value::from("UTC")),
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
            "timezone" => {
                let (zone,): (String,) = from_args(args)?;
                if matches!(zone.as_str(), "UTC" | "utc" | "Etc/UTC" | "GMT" | "Etc/GMT") {
                    Ok(Value::from("UTC"))
                } else {
                    Err(jerr(format!(
                        "modules.pytz.timezone('{zone}'): Strata's pytz knows UTC only (it \
                         carries no time-zone database); convert in SQL instead"
                    )))
                }
            }
            _ => Err(unknown_method("pytz", method)),
        }
    }
}

fn timestamp(naive: NaiveDateTime) -> Value {
    Value::from_object(Timestamp(Utc.from_utc_datetime(&naive)))
}

/// `modules.re`, or a compiled pattern (`re.compile(p)`), on the regex crate (whose syntax
/// is Python's for what packages write: classes, groups, anchors, repetitions).
#[derive(Debug)]
struct Re(Option<regex::Regex>);

impl Object for Re {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        // Flags: `re.IGNORECASE` and friends, as inline flags for `compile`/`match`.
        match key.as_str()? {
            "IGNORECASE" | "I" => Some(Value::from("i")),
            "MULTILINE" | "M" => Some(Value::from("m")),
            "DOTALL" | "S" => Some(Value::from("s")),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JError> {
        // A compiled pattern takes the text first; the module takes the pattern first.
        let (re, rest) = match &self.0 {
            Some(re) => (re.clone(), args),
            None => {
                let pattern = args.first().and_then(|p| p.as_str()).unwrap_or_default();
                if method == "escape" {
                    return Ok(Value::from(regex::escape(pattern)));
                }
                let flags = match method {
                    "compile" => args.get(1),
                    "sub" => args.get(4),
                    "split" => args.get(3),
                    _ => args.get(2),
                };
                (compile(pattern, flags)?, args.get(1..).unwrap_or_default())
            }
        };
        let text = |i: usize| -> Result<String, JError> {
            rest.get(i)
                .and_then(|v| v.as_str().map(str::to_string))
                .ok_or_else(|| jerr(format!("re.{method}: argument {} must be a string", i + 1)))
        };
        match method {
            "compile" => Ok(Value::from_object(Re(Some(re)))),
            "match" | "search" | "fullmatch" => {
                let text = text(0)?;
                let found = re.captures(&text).filter(|c| {
                    let whole = c.get(0);
                    match method {
                        "match" => whole.is_some_and(|m| m.start() == 0),
                        "fullmatch" => {
                            whole.is_some_and(|m| m.start() == 0 && m.end() == text.len())
                        }
                        _ => true,
                    }
                });
                Ok(match found {
                    Some(c) => Value::from_object(Match(
                        c.iter()
                            .map(|g| g.map(|m| m.as_str().to_string()))
                            .collect(),
                    )),
                    None => Value::from(()),
                })
            }
            "findall" => {
                let text = text(0)?;
                let all: Vec<Value> = re
                    .captures_iter(&text)
                    .map(|c| match c.len() {
                        1 => Value::from(c.get(0).map_or("", |m| m.as_str())),
                        2 => Value::from(c.get(1).map_or("", |m| m.as_str())),
                        _ => Value::from(
                            c.iter()
                                .skip(1)
                                .map(|g| Value::from(g.map_or("", |m| m.as_str())))
                                .collect::<Vec<_>>(),
                        ),
                    })
                    .collect();
                Ok(Value::from(all))
            }
            "sub" => {
                let (replacement, text) = (text(0)?, text(1)?);
                // Python writes groups as \1; the regex crate as ${1}.
                let replacement = python_groups(&replacement);
                Ok(Value::from(
                    re.replace_all(&text, replacement.as_str()).into_owned(),
                ))
            }
            "split" => {
                let text = text(0)?;
                Ok(Value::from(
                    re.split(&text).map(Value::from).collect::<Vec<_>>(),
                ))
            }
            _ => Err(unknown_method("re", method)),
        }
    }
}

fn compile(pattern: &str, flags: Option<&Value>) -> Result<regex::Regex, JError> {
    let flags = flags.and_then(|f| f.as_str()).unwrap_or_default();
    let full = if flags.is_empty() {
        pattern.to_string()
    } else {
        format!("(?{flags}){pattern}")
    };
    regex::Regex::new(&full).map_err(|e| jerr(format!("re: pattern '{pattern}': {e}")))
}

/// `\1` (Python's group reference in a replacement) as `${1}`.
fn python_groups(replacement: &str) -> String {
    let mut out = String::with_capacity(replacement.len());
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(d)) if d.is_ascii_digit() => {
                let mut n = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    n.push(*d);
                    chars.next();
                }
                out.push_str(&format!("${{{n}}}"));
            }
            ('$', _) => out.push_str("$$"),
            _ => out.push(c),
        }
    }
    out
}

/// A match: `group(n)` and `groups()`.
#[derive(Debug)]
struct Match(Vec<Option<String>>);

impl Object for Match {
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JError> {
        let group = |i: usize| Value::from(self.0.get(i).cloned().flatten());
        match method {
            "group" => {
                let i = args.first().and_then(|v| v.as_usize()).unwrap_or(0);
                Ok(group(i))
            }
            "groups" => Ok(Value::from(
                (1..self.0.len()).map(group).collect::<Vec<_>>(),
            )),
            _ => Err(unknown_method("re match", method)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str) -> String {
        let mut env = minijinja::Environment::new();
        env.add_global("modules", Value::from_object(Modules));
        env.render_str(template, ()).unwrap()
    }

    #[test]
    fn re_behaves_as_pythons_for_what_packages_write() {
        assert_eq!(
            render("{{ modules.re.sub('[^a-z0-9]+', '_', 'My Table-1') }}"),
            "_y_able_1"
        );
        assert_eq!(
            render(r"{{ modules.re.sub('(a)(b)', '\\2\\1', 'xaby') }}"),
            "xbay"
        );
        assert_eq!(
            render("{% if modules.re.match('b', 'ab') is none %}no match{% endif %}"),
            "no match"
        );
        assert_eq!(render("{{ modules.re.search('b', 'ab').group(0) }}"), "b");
        let m =
            "{% set m = modules.re.match('[a-z]+', 'customers') %}{{ m.group(0) if m else '' }}";
        assert_eq!(render(m), "customers");
        assert_eq!(
            render("{{ modules.re.findall('[0-9]+', 'a1b22') }}"),
            r#"["1", "22"]"#
        );
        assert_eq!(
            render("{{ modules.re.compile('X', modules.re.IGNORECASE).sub('-', 'axb') }}"),
            "a-b"
        );
    }

    #[test]
    fn pytz_has_utc_only() {
        let mut env = minijinja::Environment::new();
        env.add_global("modules", Value::from_object(Modules));
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        env.add_global("run_started_at", Value::from_object(Timestamp(at)));
        let out = env
            .render_str(
                "{{ run_started_at.astimezone(modules.pytz.utc).isoformat() }}",
                (),
            )
            .unwrap();
        assert_eq!(out, "2023-11-14T22:13:20.000000+00:00");
        let err = env
            .render_str("{{ modules.pytz.timezone('America/New_York') }}", ())
            .unwrap_err();
        assert!(err.to_string().contains("UTC only"), "{err}");
    }

    #[test]
    fn datetime_parses_and_formats() {
        assert_eq!(
            render("{{ modules.datetime.datetime.strptime('2024-02-03', '%Y-%m-%d').strftime('%d/%m/%Y') }}"),
            "03/02/2024"
        );
        assert_eq!(render("{{ modules.datetime.date(2024, 1, 31).day }}"), "31");
        assert_eq!(
            render("{{ modules.datetime.datetime(2024, 1, 2, 3).strftime('%H') }}"),
            "03"
        );
    }
}
