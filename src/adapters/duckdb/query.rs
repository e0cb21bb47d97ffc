//! Running one statement on a connection, and DuckDB's values as JSON.

use duckdb::types::{TimeUnit, Value as DValue};
use duckdb::Connection;

use super::engine_error;
use crate::adapters::{ColumnInfo, ExecResult};
use crate::compile::Table;
use crate::error::Result;

/// A DuckDB value as JSON (integers beyond 64 bits and decimals that do not fit a float as
/// text; dates, timestamps and other types as text).
pub fn to_json(v: DValue) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        DValue::Null => J::Null,
        DValue::Boolean(b) => J::Bool(b),
        DValue::TinyInt(i) => J::from(i),
        DValue::SmallInt(i) => J::from(i),
        DValue::Int(i) => J::from(i),
        DValue::BigInt(i) => J::from(i),
        DValue::HugeInt(i) => i64::try_from(i)
            .map(J::from)
            .unwrap_or_else(|_| J::String(i.to_string())),
        DValue::UHugeInt(i) => u64::try_from(i)
            .map(J::from)
            .unwrap_or_else(|_| J::String(i.to_string())),
        DValue::UTinyInt(i) => J::from(i),
        DValue::USmallInt(i) => J::from(i),
        DValue::UInt(i) => J::from(i),
        DValue::UBigInt(i) => J::from(i),
        DValue::Float(f) => serde_json::Number::from_f64(f as f64)
            .map(J::Number)
            .unwrap_or(J::Null),
        DValue::Double(f) => serde_json::Number::from_f64(f)
            .map(J::Number)
            .unwrap_or(J::Null),
        DValue::Decimal(d) => {
            let s = d.to_string();
            s.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(J::Number)
                .unwrap_or(J::String(s))
        }
        DValue::Text(s) | DValue::Enum(s) => J::String(s),
        DValue::Date32(days) => chrono::DateTime::from_timestamp(days as i64 * 86_400, 0)
            .map(|d| J::String(d.format("%Y-%m-%d").to_string()))
            .unwrap_or(J::Null),
        DValue::Timestamp(unit, t) => {
            let micros = match unit {
                TimeUnit::Second => t.saturating_mul(1_000_000),
                TimeUnit::Millisecond => t.saturating_mul(1_000),
                TimeUnit::Microsecond => t,
                TimeUnit::Nanosecond => t / 1_000,
            };
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|d| J::String(d.format("%Y-%m-%d %H:%M:%S%.f").to_string()))
                .unwrap_or(J::Null)
        }
        DValue::List(items) | DValue::Array(items) => {
            J::Array(items.into_iter().map(to_json).collect())
        }
        DValue::Struct(fields) => J::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v.clone())))
                .collect(),
        ),
        DValue::Map(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match to_json(k.clone()) {
                        J::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v.clone()))
                })
                .collect(),
        ),
        DValue::Union(inner) => to_json(*inner),
        other => J::String(format!("{other:?}")),
    }
}

/// Run one statement on `conn`; fetch rows when asked.
pub(super) fn run(
    conn: &Connection,
    sql: &str,
    params: &[String],
    fetch: bool,
) -> Result<ExecResult> {
    let mut stmt = conn.prepare(sql).map_err(engine_error)?;
    let bind = duckdb::params_from_iter(params.iter());
    if !fetch {
        // Statements that change rows (INSERT, UPDATE, DELETE, CREATE TABLE ... AS, COPY)
        // answer their count as one `Count` row; the others answer nothing.
        let mut rows = stmt.query(bind).map_err(engine_error)?;
        let counted = rows
            .as_ref()
            .is_some_and(|s| s.column_count() == 1 && s.column_name(0).is_ok_and(|c| c == "Count"));
        let mut n = 0;
        if counted {
            if let Some(row) = rows.next().map_err(engine_error)? {
                n = row.get::<_, i64>(0).map_or(0, |c| c.max(0) as u64);
            }
        }
        return Ok(ExecResult {
            rows_affected: Some(n),
            message: "OK".into(),
            ..Default::default()
        });
    }
    let mut rows = stmt.query(bind).map_err(engine_error)?;
    let columns = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
    let mut table = Table {
        columns: columns.clone(),
        ..Table::default()
    };
    while let Some(row) = rows.next().map_err(engine_error)? {
        let mut out = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            let v: DValue = row.get(i).map_err(engine_error)?;
            out.push(to_json(v));
        }
        table.rows.push(out);
    }
    Ok(ExecResult {
        rows_affected: Some(table.rows.len() as u64),
        message: "OK".into(),
        table: Some(table),
        ..Default::default()
    })
}

/// (name, type) rows, as DESCRIBE and information_schema.columns return them.
pub(super) fn column_infos(r: ExecResult) -> Vec<ColumnInfo> {
    r.table
        .map(|t| {
            t.rows
                .into_iter()
                .filter_map(|row| {
                    Some(ColumnInfo {
                        name: row.first()?.as_str()?.to_string(),
                        data_type: row.get(1)?.as_str()?.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn a_failed_statement_prints_duckdb_words_and_keeps_its_error_as_source() {
        let conn = Connection::open_in_memory().unwrap();
        let e = run(&conn, "select * from no_such_table", &[], true).unwrap_err();
        assert!(matches!(e, Error::Engine { .. }), "{e:?}");
        let source = std::error::Error::source(&e).expect("DuckDB's error is kept");
        let duck = source
            .downcast_ref::<duckdb::Error>()
            .expect("the source is DuckDB's error");
        // Printed as before: DuckDB's own message, nothing added.
        assert_eq!(e.to_string(), duck.to_string());
        assert!(e.to_string().contains("no_such_table"), "{e}");
    }
}
