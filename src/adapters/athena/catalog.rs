//! Relations and columns from the Glue Data Catalog API: one GetTables call per page instead
//! of information_schema queries, which are slow on databases with many tables.

use aws_sdk_glue::error::DisplayErrorContext;
use aws_sdk_glue::types::DatabaseInput;
use aws_sdk_glue::Client;

use crate::adapters::ColumnInfo;
use crate::compile::RelationKind;
use crate::error::{Error, Result};

pub(super) fn glue_error<E>(what: &str, e: aws_sdk_glue::error::SdkError<E>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    Error::engine(
        format!("Glue {what} failed: {}", DisplayErrorContext(&e)),
        e,
    )
}

/// `View` for Glue's VIRTUAL_VIEW, `Table` for everything else (Iceberg, Hive, external).
fn kind_of(table_type: Option<&str>) -> RelationKind {
    match table_type {
        Some(t) if t.eq_ignore_ascii_case("VIRTUAL_VIEW") => RelationKind::View,
        _ => RelationKind::Table,
    }
}

pub async fn list_relations(glue: &Client, database: &str) -> Result<Vec<(String, RelationKind)>> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = match glue
            .get_tables()
            .database_name(database)
            .set_next_token(next.take())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                return Ok(Vec::new())
            }
            Err(e) => return Err(glue_error(&format!("GetTables({database})"), e)),
        };
        for t in page.table_list() {
            out.push((t.name().to_string(), kind_of(t.table_type())));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// The Glue databases of the catalog.
pub async fn list_databases(glue: &Client) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = glue
            .get_databases()
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| glue_error("GetDatabases", e))?;
        out.extend(page.database_list().iter().map(|d| d.name().to_string()));
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// Columns in table order, then the partition keys (Hive tables keep them apart).
pub async fn get_columns(glue: &Client, database: &str, table: &str) -> Result<Vec<ColumnInfo>> {
    let out = match glue
        .get_table()
        .database_name(database)
        .name(table)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_not_found_exception()) =>
        {
            return Ok(Vec::new())
        }
        Err(e) => return Err(glue_error(&format!("GetTable({database}.{table})"), e)),
    };
    let Some(t) = out.table() else {
        return Ok(Vec::new());
    };
    let mut cols: Vec<ColumnInfo> = Vec::new();
    let storage = t
        .storage_descriptor()
        .map(|s| s.columns())
        .unwrap_or_default();
    for c in storage.iter().chain(t.partition_keys()) {
        // Glue keeps the columns an Iceberg table dropped, marked not current.
        let dropped = c
            .parameters()
            .and_then(|p| p.get("iceberg.field.current"))
            .is_some_and(|v| v == "false");
        if dropped || cols.iter().any(|x| x.name.eq_ignore_ascii_case(c.name())) {
            continue;
        }
        cols.push(ColumnInfo {
            name: c.name().to_string(),
            data_type: c.r#type().unwrap_or("string").to_string(),
        });
    }
    Ok(cols)
}

pub async fn create_database(glue: &Client, database: &str) -> Result<()> {
    let input = DatabaseInput::builder()
        .name(database)
        .build()
        .map_err(|e| Error::engine(format!("Glue database '{database}': {e}"), e))?;
    match glue.create_database().database_input(input).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(glue_error(&format!("CreateDatabase({database})"), e)),
    }
}
