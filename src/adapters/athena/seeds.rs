//! Seeds on Athena: the CSV file converted to Parquet by DuckDB (typed as dbt infers, or by
//! `column_types`), with the Hive types of its columns, for upload to S3.

use std::path::Path;

use crate::adapters::ColumnInfo;
use crate::error::{Error, Result};

/// A DuckDB type (as DESCRIBE reports it) as a Hive DDL type of a Parquet column, or None
/// when the column is written as text.
fn hive_type(duckdb_type: &str) -> Option<String> {
    let t = duckdb_type.to_ascii_uppercase();
    Some(match t.as_str() {
        "VARCHAR" => "string".into(),
        "BIGINT" => "bigint".into(),
        "INTEGER" => "int".into(),
        "SMALLINT" => "smallint".into(),
        "TINYINT" => "tinyint".into(),
        "DOUBLE" => "double".into(),
        "FLOAT" => "float".into(),
        "BOOLEAN" => "boolean".into(),
        "DATE" => "date".into(),
        "TIMESTAMP" => "timestamp".into(),
        _ if t.starts_with("DECIMAL") => t.to_ascii_lowercase(),
        _ => return None,
    })
}

/// A `column_types` entry (Athena or Hive words) as DuckDB reads it from the CSV.
fn duckdb_type(athena_type: &str) -> String {
    let t = athena_type.trim().to_ascii_lowercase();
    let base = t.split('(').next().unwrap_or(&t).trim().to_string();
    match base.as_str() {
        "string" | "varchar" | "char" => "VARCHAR".into(),
        "int" | "integer" => "INTEGER".into(),
        "timestamp" => "TIMESTAMP".into(),
        "decimal" => t.to_ascii_uppercase(),
        _ => base.to_ascii_uppercase(),
    }
}

/// Convert the seed's CSV to Parquet with DuckDB (its CSV sniffer gives the types, the same
/// as on the DuckDB target, except where `column_types` names one) and return the Parquet
/// bytes with the columns' Hive types. Parquet keeps types, quoting and backslashes intact,
/// which a text table read by Athena's CSV SerDe would not.
pub(super) fn seed_to_parquet(
    csv: &Path,
    column_types: &serde_json::Value,
) -> Result<(Vec<u8>, Vec<ColumnInfo>)> {
    let fail = |e: duckdb::Error| {
        Error::engine(format!("{}: cannot read the seed: {e}", csv.display()), e)
    };
    let conn = duckdb::Connection::open_in_memory().map_err(fail)?;
    let path = csv.to_string_lossy().replace('\'', "''");
    let mut types = Vec::new();
    if let Some(map) = column_types.as_object() {
        for (name, t) in map {
            if let Some(t) = t.as_str() {
                types.push(format!(
                    "'{}': '{}'",
                    name.replace('\'', "''"),
                    duckdb_type(t).replace('\'', "''")
                ));
            }
        }
    }
    let types = if types.is_empty() {
        String::new()
    } else {
        format!(", types = {{{}}}", types.join(", "))
    };
    // ISO dates only (see duckdb__load_csv: no day-first guesses).
    let read = format!(
        "read_csv('{path}', header = true, auto_detect = true, dateformat = '%Y-%m-%d'{types})"
    );
    let mut stmt = conn
        .prepare(&format!("describe select * from {read}"))
        .map_err(fail)?;
    let described: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(fail)?
        .collect::<std::result::Result<_, _>>()
        .map_err(fail)?;
    let mut select = Vec::new();
    let mut columns = Vec::new();
    for (name, ty) in described {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match hive_type(&ty) {
            Some(h) => {
                select.push(quoted);
                columns.push(ColumnInfo { name, data_type: h });
            }
            None => {
                select.push(format!("cast({quoted} as varchar) as {quoted}"));
                columns.push(ColumnInfo {
                    name,
                    data_type: "string".into(),
                });
            }
        }
    }
    let dir = tempfile_dir()?;
    let out = dir.join("seed.parquet");
    let out_sql = out.to_string_lossy().replace('\'', "''");
    conn.execute_batch(&format!(
        "copy (select {} from {read}) to '{out_sql}' (format parquet)",
        select.join(", ")
    ))
    .map_err(fail)?;
    let bytes = std::fs::read(&out).map_err(|e| Error::io(&out, e))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok((bytes, columns))
}

/// A fresh private folder under the system temp dir.
fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("strata-seed-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}
