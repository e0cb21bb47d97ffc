//! The landing contract (docs/landing-contract.md). Every line of the conformance day
//! (tests/fixtures/landing_contract/) gets the outcome expected.json gives it when the
//! reference project builds on DuckDB. The reference project's compiled Athena SQL (the
//! golden files) calls only the functions the contract names.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::Path;

use serde_json::Value;
use sqlparser::ast::{visit_expressions, Expr, FunctionArguments};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::common::{reference_copy, repo_root, TestProject};

fn fixture() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/landing_contract")
}

/// One value of a query, as text ('' for NULL).
fn one(p: &TestProject, sql: &str) -> String {
    p.query("athena_analytics", sql)
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .unwrap_or_default()
}

fn quoted(s: &str) -> String {
    s.replace('\'', "''")
}

#[test]
fn every_conformance_line_has_its_contract_outcome() {
    let landing = tempfile::tempdir().expect("tempdir");
    for table in ["chat_events", "reasoning_steps"] {
        let dir = landing.path().join(table).join("ingest_date=2026-01-03");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::copy(
            fixture().join(format!("{table}.jsonl")),
            dir.join("part-0001-contract.jsonl"),
        )
        .expect("copy");
    }
    let p = reference_copy();
    let vars = format!("{{landing_path: '{}'}}", landing.path().display());
    p.strata(&["build", "--vars", &vars]).assert_ok();

    let expected: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(fixture().join("expected.json")).expect("expected.json"),
    )
    .expect("json");
    let mut checked = 0;
    for e in &expected {
        let table = e["table"].as_str().expect("table");
        let marker = e["marker"].as_str().expect("marker");
        let rule = e["rule"].as_str().unwrap_or_default();
        // How a line is found: a chat event by its event_id (loaded) or the id ending a
        // string of its raw text; a reasoning step by its step_details.
        let (bronze, key, in_raw) = match table {
            "chat_events" => (
                "bronze_chat_events",
                format!("event_id = '{}'", quoted(marker)),
                // its own chat_id ("chat-<marker>") too, when the id itself is blank
                format!("{marker}\""),
            ),
            _ => (
                "bronze_reasoning_steps",
                format!("step_details = 'details of {}'", quoted(marker)),
                format!("details of {marker}\""),
            ),
        };
        if marker.is_empty() {
            continue; // the empty and blank lines, counted below
        }
        let loaded: i64 = one(&p, &format!("select count(*) from {bronze} where {key}"))
            .parse()
            .expect("count");
        let reasons = one(
            &p,
            &format!(
                "select coalesce(string_agg(quarantine_reason, ','), '') from bronze_quarantined_events \
                 where source_table = '{table}' and strpos(raw, '{}') > 0",
                quoted(&in_raw)
            ),
        );
        if let Some(reason) = e["reason"].as_str() {
            assert_eq!(
                (loaded, reasons.as_str()),
                (0, reason),
                "{table} {marker} ({rule}): quarantined as {reason}"
            );
        } else {
            assert_eq!(
                (loaded, reasons.as_str()),
                (1, ""),
                "{table} {marker} ({rule}): loaded once"
            );
            for (column, value) in e["loaded"].as_object().expect("loaded values") {
                let (expr, want) = match (column.as_str(), value) {
                    ("message_length", v) => ("length(message)".to_string(), v.to_string()),
                    ("created_at", Value::String(s)) => (
                        "strftime(created_at, '%Y-%m-%d %H:%M:%S.%g')".to_string(),
                        // Milliseconds always printed: '...:00' is '...:00.000'.
                        if s.contains('.') {
                            s.clone()
                        } else {
                            format!("{s}.000")
                        },
                    ),
                    (c, Value::Null) => (format!("coalesce({c}, '<null>')"), "<null>".into()),
                    (c, Value::String(s)) => (c.to_string(), s.clone()),
                    (c, v) => (format!("cast({c} as varchar)"), v.to_string()),
                };
                let got = one(&p, &format!("select {expr} from {bronze} where {key}"));
                assert_eq!(got, want, "{table} {marker} ({rule}): {column}");
            }
        }
        checked += 1;
    }
    // The empty lines and the line of spaces: rows of their own, quarantined as invalid_json.
    let blank = one(
        &p,
        "select string_agg(source_table || ':' || quarantine_reason || ':' || length(raw), ',' \
         order by source_table, length(raw)) from bronze_quarantined_events where trim(raw) = ''",
    );
    assert_eq!(
        blank,
        "chat_events:invalid_json:0,chat_events:invalid_json:3,reasoning_steps:invalid_json:0"
    );
    // Nothing else arrived: every quarantined line is one of the expected ones.
    let expected_quarantined = expected.iter().filter(|e| e["reason"].is_string()).count();
    let quarantined: usize = one(&p, "select count(*) from bronze_quarantined_events")
        .parse()
        .expect("count");
    assert_eq!(quarantined, expected_quarantined);
    println!(
        "landing contract: {} lines checked ({checked} by marker, 3 blank), {quarantined} quarantined",
        expected.len()
    );
}

/// The functions a statement calls, by name; `trim` only counts in its two-argument form
/// (the one-argument trim is DuckDB's spaces against Trino's whitespace).
fn functions_called(sql: &str, path: &Path) -> BTreeSet<String> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut names = BTreeSet::new();
    let _ = visit_expressions(&statements, |expr| {
        match expr {
            Expr::Function(f) => {
                let name = f.name.to_string().to_lowercase();
                let args = match &f.args {
                    FunctionArguments::List(list) => list.args.len(),
                    _ => 0,
                };
                names.insert(if name == "trim" && args < 2 {
                    "trim (one argument)".to_string()
                } else {
                    name
                });
            }
            Expr::Trim {
                trim_what,
                trim_characters,
                ..
            } => {
                let with_list = trim_what.is_some() || trim_characters.is_some();
                names.insert(
                    if with_list {
                        "trim"
                    } else {
                        "trim (one argument)"
                    }
                    .into(),
                );
            }
            Expr::Substring { .. } => {
                names.insert("substr".into());
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    names
}

/// The functions docs/landing-contract.md names under "Functions the compiled Athena SQL
/// may call": every `name` in backticks at the start of a list item of that section.
fn documented_functions() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(repo_root().join("docs/landing-contract.md")).expect("doc");
    let section = doc
        .split("## Functions the compiled Athena SQL may call")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the section");
    let mut names = BTreeSet::new();
    for line in section.lines().filter(|l| l.starts_with("- ")) {
        let head = line.split(':').next().unwrap_or_default();
        for part in head.split('`').skip(1).step_by(2) {
            names.insert(part.to_string());
        }
    }
    names
}

#[test]
fn the_athena_sql_calls_only_the_contracts_functions() {
    let allowed = documented_functions();
    assert!(allowed.contains("from_iso8601_timestamp") && allowed.contains("trim"));
    let golden = repo_root().join("tests/golden/athena/compiled");
    let mut used = BTreeSet::new();
    for entry in walkdir::WalkDir::new(&golden) {
        let entry = entry.expect("walk");
        if entry.path().extension().is_some_and(|e| e == "sql") {
            let sql = std::fs::read_to_string(entry.path()).expect("read");
            used.extend(functions_called(&sql, entry.path()));
        }
    }
    let not_named: Vec<&String> = used.difference(&allowed).collect();
    println!("functions of the compiled Athena SQL: {used:?}");
    assert!(
        not_named.is_empty(),
        "the compiled Athena SQL calls functions docs/landing-contract.md does not name: \
         {not_named:?}"
    );
    for needed in [
        "from_utf8",
        "json_parse",
        "from_iso8601_timestamp",
        "regexp_like",
    ] {
        assert!(
            used.contains(needed),
            "{needed} is used (the contract's macros)"
        );
    }
}
