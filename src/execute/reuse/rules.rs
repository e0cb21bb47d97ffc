//! What makes a node's rebuild differ from its last build whatever its inputs: the clock
//! or randomness in its SQL, an append that would add its rows again; and `build_after`,
//! which keeps a last build despite new data until it is due.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use serde_json::Value;

use super::{Recorded, LEDGER_INPUT};
use crate::project::Node;

/// Functions whose result changes from run to run: a model calling one is rebuilt.
const NOT_DETERMINISTIC: &[&str] = &[
    "now",
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "get_current_time",
    "get_current_timestamp",
    "transaction_timestamp",
    "today",
    "random",
    "rand",
    "uuid",
    "gen_random_uuid",
    "uuidv4",
    "uuidv7",
    "nextval",
    "setseed",
    "current_timezone",
];

/// Whether building the node again over the same inputs leaves its relation as it is: true
/// of tables, seeds and snapshots, and of incremental models that replace what they write
/// (merge or delete+insert on a unique key, insert_overwrite). An append (the default
/// without a unique key) adds its rows again unless its SQL filters what is loaded, which
/// only the model's author knows: `reuse: true` says so.
pub(super) fn rerun_changes_nothing(node: &Node, adapter: &dyn crate::adapters::Adapter) -> bool {
    if node.config.materialized() != "incremental" {
        return true;
    }
    let unique_key = !node.config.list("unique_key").is_empty();
    let partitioned = !node.config.list("partitioned_by").is_empty()
        || !node.config.list("partition_by").is_empty();
    let strategy = node
        .config
        .str("incremental_strategy")
        .unwrap_or_else(|| adapter.default_incremental_strategy(unique_key, partitioned));
    match strategy {
        "merge" | "delete+insert" => unique_key,
        "insert_overwrite" => partitioned,
        _ => false,
    }
}

/// A model's `build_after` (as dbt's `freshness: {build_after: ...}`, or directly in its
/// config): `{count, period: minute|hour|day, updates_on: any|all}`. With new upstream
/// data, the model keeps its last build until `count` periods have passed since it, and,
/// with `updates_on: all`, until every input has new data. Returns why it waits, or None
/// when it is due.
pub(super) fn waits(
    node: &Node,
    inputs: &BTreeMap<String, String>,
    recorded: &Recorded,
) -> Option<String> {
    let build_after = node
        .config
        .get("build_after")
        .or_else(|| node.config.get("freshness")?.get("build_after"))?;
    let count = build_after
        .get("count")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let unit = match build_after.get("period").and_then(Value::as_str) {
        Some("minute") => 60,
        Some("hour") => 3600,
        Some("day") => 86_400,
        _ => return None,
    };
    let changed: Vec<&String> = inputs
        .iter()
        .filter(|(k, v)| recorded.inputs.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    // An erasure does not wait: what it deleted must not stand in what reads it.
    if changed.iter().any(|k| *k == LEDGER_INPUT) {
        return None;
    }
    let changed = changed.len();
    let all = build_after.get("updates_on").and_then(Value::as_str) == Some("all");
    if all && changed < inputs.len() {
        return Some(format!(
            "{changed} of {} inputs have new data (build_after.updates_on: all)",
            inputs.len()
        ));
    }
    let built = chrono::DateTime::parse_from_rfc3339(&recorded.built_at).ok()?;
    let due = built + chrono::Duration::seconds((count * unit) as i64);
    if chrono::Utc::now() < due {
        return Some(format!(
            "new upstream data waits until {} (build_after: {count} x {}s since the build at {})",
            due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            unit,
            recorded.built_at
        ));
    }
    None
}

/// Whether the compiled SQL calls a function whose result changes between runs.
pub fn reads_the_clock(sql: &str) -> bool {
    use sqlparser::ast::{visit_expressions, Expr};
    let dialect = sqlparser::dialect::GenericDialect {};
    let Ok(statements) = sqlparser::parser::Parser::parse_sql(&dialect, sql) else {
        // Unparsed SQL: look for the names in the text (never reuse on a guess).
        let lower = sql.to_lowercase();
        return NOT_DETERMINISTIC.iter().any(|f| lower.contains(f));
    };
    let found = visit_expressions(&statements, |expr| match expr {
        Expr::Function(f)
            if NOT_DETERMINISTIC.contains(&f.name.to_string().to_lowercase().as_str()) =>
        {
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    });
    found.is_break()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_and_randomness_are_found_in_the_ast() {
        assert!(reads_the_clock("select now() as t"));
        assert!(reads_the_clock(
            "select * from x where created_at > current_timestamp - interval '1' day"
        ));
        assert!(reads_the_clock("select random() as r"));
        assert!(!reads_the_clock("select 'now()' as text, count(*) from x"));
        assert!(!reads_the_clock("select created_at from x"));
    }
}
