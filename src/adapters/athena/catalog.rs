//! Relations and columns from the Glue Data Catalog API: one GetTables call per page instead
//! of information_schema queries, which are slow on databases with many tables. Every call
//! names the catalog's CatalogId when the target's data catalog is not the account's own
//! (dbt-athena's rule), so a shared catalog is not looked up in the default one.

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

/// The Glue client and the catalog it works in.
pub struct Glue {
    pub client: Client,
    /// The Glue catalog id of the target's data catalog; None for the account's own
    /// (`awsdatacatalog`).
    pub catalog_id: Option<String>,
}

/// Every table of a Glue database (GetTables, page by page); none when the database does
/// not exist.
async fn all_tables(glue: &Glue, database: &str) -> Result<Vec<aws_sdk_glue::types::Table>> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = match glue
            .client
            .get_tables()
            .set_catalog_id(glue.catalog_id.clone())
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
                return Ok(out)
            }
            Err(e) => return Err(glue_error(&format!("GetTables({database})"), e)),
        };
        out.extend(page.table_list().iter().cloned());
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// A database's tables and views, with the data versions of its Iceberg tables by
/// lowercase name (see [`iceberg_version`]): one GetTables listing, no query.
pub async fn list_relations(
    glue: &Glue,
    database: &str,
) -> Result<(
    Vec<(String, RelationKind)>,
    std::collections::HashMap<String, String>,
)> {
    let mut out = Vec::new();
    let mut versions = std::collections::HashMap::new();
    for t in all_tables(glue, database).await? {
        out.push((t.name().to_string(), kind_of(t.table_type())));
        if let Some(v) = iceberg_version(&t) {
            versions.insert(t.name().to_lowercase(), v);
        }
    }
    Ok((out, versions))
}

/// An Iceberg table's data version: the `metadata_location` Glue keeps for it, which every
/// commit to the table (Athena's, Spark's, any engine's) replaces. Other tables have none.
fn iceberg_version(t: &aws_sdk_glue::types::Table) -> Option<String> {
    let p = t.parameters()?;
    let iceberg = p
        .get("table_type")
        .is_some_and(|v| v.eq_ignore_ascii_case("ICEBERG"));
    iceberg
        .then(|| p.get("metadata_location").cloned())
        .flatten()
}

/// One table's data version (see [`data_versions`]).
pub async fn data_version(glue: &Glue, database: &str, table: &str) -> Result<Option<String>> {
    Ok(get_table(glue, database, table)
        .await?
        .as_ref()
        .and_then(iceberg_version))
}

/// The Glue databases of the catalog.
pub async fn list_databases(glue: &Glue) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = glue
            .client
            .get_databases()
            .set_catalog_id(glue.catalog_id.clone())
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

/// The Glue table `database.table`, or None when there is none.
pub async fn get_table(
    glue: &Glue,
    database: &str,
    table: &str,
) -> Result<Option<aws_sdk_glue::types::Table>> {
    match glue
        .client
        .get_table()
        .set_catalog_id(glue.catalog_id.clone())
        .database_name(database)
        .name(table)
        .send()
        .await
    {
        Ok(o) => Ok(o.table),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(glue_error(&format!("GetTable({database}.{table})"), e)),
    }
}

/// Columns in table order, then the partition keys (Hive tables keep them apart).
pub async fn get_columns(glue: &Glue, database: &str, table: &str) -> Result<Vec<ColumnInfo>> {
    let Some(t) = get_table(glue, database, table).await? else {
        return Ok(Vec::new());
    };
    Ok(table_columns(&t)
        .into_iter()
        .map(|c| ColumnInfo {
            name: c.name().to_string(),
            data_type: c.r#type().unwrap_or("string").to_string(),
        })
        .collect())
}

/// A Glue table's current columns in order, then its partition keys.
fn table_columns(t: &aws_sdk_glue::types::Table) -> Vec<&aws_sdk_glue::types::Column> {
    let mut cols: Vec<&aws_sdk_glue::types::Column> = Vec::new();
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
        if dropped || cols.iter().any(|x| x.name().eq_ignore_ascii_case(c.name())) {
            continue;
        }
        cols.push(c);
    }
    cols
}

/// A database's tables and views as catalog.json describes them: columns with Glue's
/// types and comments, the partition keys, and the table format and Iceberg properties as
/// stats (one GetTables listing).
pub async fn describe_tables(
    glue: &Glue,
    database: &str,
) -> Result<Vec<crate::adapters::CatalogRelation>> {
    use crate::adapters::{CatalogColumn, CatalogRelation};
    let mut out = Vec::new();
    for t in &all_tables(glue, database).await? {
        let kind = match kind_of(t.table_type()) {
            RelationKind::View => "VIEW",
            _ => "BASE TABLE",
        };
        let params = t.parameters();
        let param = |k: &str| params.and_then(|p| p.get(k)).cloned();
        let mut stats = Vec::new();
        let format = param("table_type")
            .unwrap_or_else(|| t.table_type().unwrap_or("EXTERNAL_TABLE").to_string());
        stats.push(("table_type".into(), "Table type".into(), format));
        let partitions: Vec<&str> = t.partition_keys().iter().map(|c| c.name()).collect();
        if !partitions.is_empty() {
            stats.push((
                "partition_keys".into(),
                "Partition keys".into(),
                partitions.join(", "),
            ));
        }
        for (key, label) in [
            ("metadata_location", "Iceberg metadata"),
            ("write.format.default", "File format"),
            ("write.parquet.compression-codec", "Compression"),
        ] {
            if let Some(v) = param(key) {
                stats.push((key.into(), label.into(), v));
            }
        }
        if let Some(location) = t.storage_descriptor().and_then(|s| s.location()) {
            stats.push(("location".into(), "Location".into(), location.to_string()));
        }
        out.push(CatalogRelation {
            schema: database.to_string(),
            name: t.name().to_string(),
            kind: kind.to_string(),
            comment: t.description().map(str::to_string),
            owner: t.owner().map(str::to_string),
            columns: table_columns(t)
                .into_iter()
                .map(|c| CatalogColumn {
                    name: c.name().to_string(),
                    data_type: c.r#type().unwrap_or("string").to_string(),
                    comment: c.comment().map(str::to_string),
                })
                .collect(),
            stats,
        });
    }
    Ok(out)
}

/// Create the Glue database unless it exists; whether this call created it.
pub async fn create_database(glue: &Glue, database: &str) -> Result<bool> {
    let input = DatabaseInput::builder()
        .name(database)
        .build()
        .map_err(|e| Error::engine(format!("Glue database '{database}': {e}"), e))?;
    match glue
        .client
        .create_database()
        .set_catalog_id(glue.catalog_id.clone())
        .database_input(input)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_already_exists_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(glue_error(&format!("CreateDatabase({database})"), e)),
    }
}

/// The Glue catalog id of the target's data catalog, as dbt-athena finds it: none for the
/// account's own (`awsdatacatalog`); for another, Athena's GetDataCatalog, whose GLUE catalog
/// names its account in the `catalog-id` parameter. A catalog of another type (Lambda, Hive,
/// federated) is refused: models are built as Glue tables.
pub async fn catalog_id(athena: &aws_sdk_athena::Client, name: &str) -> Result<Option<String>> {
    if name.eq_ignore_ascii_case("awsdatacatalog") {
        return Ok(None);
    }
    let out = athena
        .get_data_catalog()
        .name(name)
        .send()
        .await
        .map_err(|e| {
            Error::engine(
                format!(
                    "Athena GetDataCatalog({name}) failed: {}",
                    aws_sdk_athena::error::DisplayErrorContext(&e)
                ),
                e,
            )
        })?;
    let Some(catalog) = out.data_catalog() else {
        return Err(Error::Usage(format!(
            "Athena has no data catalog '{name}' (the target's `database`)"
        )));
    };
    if catalog.r#type() != &aws_sdk_athena::types::DataCatalogType::Glue {
        return Err(Error::Usage(format!(
            "data catalog '{name}' (the target's `database`) is a {} catalog: Strata builds \
             models as Glue tables, in the account's own catalog (awsdatacatalog) or a GLUE \
             data catalog",
            catalog.r#type().as_str()
        )));
    }
    match catalog.parameters().and_then(|p| p.get("catalog-id")) {
        Some(id) if !id.is_empty() => Ok(Some(id.clone())),
        _ => Err(Error::Usage(format!(
            "data catalog '{name}' is a GLUE catalog without a `catalog-id` parameter: Athena \
             cannot say which account's Glue catalog it is"
        ))),
    }
}

/// Delete the Glue entry of `database.name` (its files stay); one already gone is fine.
pub async fn delete_table(glue: &Glue, database: &str, name: &str) -> Result<()> {
    match glue
        .client
        .delete_table()
        .set_catalog_id(glue.catalog_id.clone())
        .database_name(database)
        .name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(glue_error(&format!("DeleteTable({database}.{name})"), e)),
    }
}
