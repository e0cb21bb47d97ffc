//! dbt-athena's `lf_grants`: Lake Formation data-cell filters of a built table (a row filter
//! and columns, by name) and the principals granted SELECT through each, made what the
//! config says (filters and grants it does not name are removed).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_lakeformation::types::{
    BatchPermissionsRequestEntry, ColumnWildcard, DataCellsFilter, DataCellsFilterResource,
    DataLakePrincipal, Permission, Resource, RowFilter, TableResource,
};
use aws_sdk_lakeformation::Client;
use serde::Deserialize;

use super::lake_formation::lf_error;
use crate::error::{Error, Result};

/// dbt-athena's `lf_grants: {data_cell_filters: {enabled, filters: {name: {row_filter,
/// column_names, principals}}}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LfGrantsConfig {
    pub data_cell_filters: DataCellFilters,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataCellFilters {
    #[serde(default)]
    pub enabled: bool,
    pub filters: BTreeMap<String, FilterConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    pub row_filter: String,
    #[serde(default)]
    pub column_names: Vec<String>,
    #[serde(default)]
    pub principals: Vec<String>,
}

impl LfGrantsConfig {
    /// The model's `lf_grants`, if any; a malformed one is an error naming what is wrong.
    pub fn of(value: Option<&serde_json::Value>) -> std::result::Result<Option<Self>, String> {
        match value {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| format!("lf_grants: {e}")),
        }
    }
}

/// Where the filters of one table live.
pub struct FilterTable<'a> {
    /// The account of the table's Glue catalog.
    pub catalog_id: &'a str,
    pub database: &'a str,
    pub table: &'a str,
}

impl FilterTable<'_> {
    fn filter(&self, name: &str, config: &FilterConfig) -> Result<DataCellsFilter> {
        // dbt-athena sends the column names and an empty column wildcard together.
        DataCellsFilter::builder()
            .table_catalog_id(self.catalog_id)
            .database_name(self.database)
            .table_name(self.table)
            .name(name)
            .row_filter(
                RowFilter::builder()
                    .filter_expression(&config.row_filter)
                    .build(),
            )
            .set_column_names(Some(config.column_names.clone()))
            .column_wildcard(
                ColumnWildcard::builder()
                    .set_excluded_column_names(Some(Vec::new()))
                    .build(),
            )
            .build()
            .map_err(|e| Error::engine(format!("data cells filter '{name}': {e}"), e))
    }

    fn filter_resource(&self, name: &str) -> Resource {
        Resource::builder()
            .data_cells_filter(
                DataCellsFilterResource::builder()
                    .table_catalog_id(self.catalog_id)
                    .database_name(self.database)
                    .table_name(self.table)
                    .name(name)
                    .build(),
            )
            .build()
    }
}

/// Make the table's data-cell filters and their SELECT grants the config's.
pub async fn apply(client: &Client, at: &FilterTable<'_>, config: &LfGrantsConfig) -> Result<()> {
    let name = format!("{}.{}", at.database, at.table);
    let table = TableResource::builder()
        .catalog_id(at.catalog_id)
        .database_name(at.database)
        .name(at.table)
        .build()
        .map_err(|e| Error::engine(format!("LF table {name}: {e}"), e))?;
    let listed = client
        .list_data_cells_filter()
        .table(table)
        .send()
        .await
        .map_err(|e| lf_error(&format!("ListDataCellsFilter({name})"), e))?;
    let current: BTreeMap<String, DataCellsFilter> = listed
        .data_cells_filters()
        .iter()
        .map(|f| (f.name.clone(), f.clone()))
        .collect();
    let wanted = &config.data_cell_filters.filters;
    for (filter_name, existing) in &current {
        if !wanted.contains_key(filter_name) {
            client
                .delete_data_cells_filter()
                .table_catalog_id(&existing.table_catalog_id)
                .database_name(&existing.database_name)
                .table_name(&existing.table_name)
                .name(filter_name)
                .send()
                .await
                .map_err(|e| lf_error(&format!("DeleteDataCellsFilter({filter_name})"), e))?;
        }
    }
    for (filter_name, filter) in wanted {
        match current.get(filter_name) {
            None => {
                client
                    .create_data_cells_filter()
                    .table_data(at.filter(filter_name, filter)?)
                    .send()
                    .await
                    .map_err(|e| lf_error(&format!("CreateDataCellsFilter({filter_name})"), e))?;
            }
            Some(existing) if differs(existing, filter) => {
                client
                    .update_data_cells_filter()
                    .table_data(at.filter(filter_name, filter)?)
                    .send()
                    .await
                    .map_err(|e| lf_error(&format!("UpdateDataCellsFilter({filter_name})"), e))?;
            }
            Some(_) => {}
        }
        grant(client, at, filter_name, filter).await?;
    }
    Ok(())
}

/// dbt-athena's test: another row filter, or another set of columns.
fn differs(existing: &DataCellsFilter, wanted: &FilterConfig) -> bool {
    let expression = existing
        .row_filter
        .as_ref()
        .and_then(|r| r.filter_expression.as_deref())
        .unwrap_or("");
    let columns: BTreeSet<&str> = existing
        .column_names
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let wanted_columns: BTreeSet<&str> = wanted.column_names.iter().map(String::as_str).collect();
    expression != wanted.row_filter || columns != wanted_columns
}

/// SELECT through the filter for exactly the config's principals.
async fn grant(
    client: &Client,
    at: &FilterTable<'_>,
    filter_name: &str,
    filter: &FilterConfig,
) -> Result<()> {
    let listed = client
        .list_permissions()
        .resource(at.filter_resource(filter_name))
        .send()
        .await
        .map_err(|e| lf_error(&format!("ListPermissions({filter_name})"), e))?;
    let current: BTreeSet<String> = listed
        .principal_resource_permissions()
        .iter()
        .filter_map(|p| p.principal()?.data_lake_principal_identifier())
        .map(str::to_string)
        .collect();
    let wanted: BTreeSet<String> = filter.principals.iter().cloned().collect();
    let entries = |principals: Vec<&String>| -> Result<Vec<BatchPermissionsRequestEntry>> {
        principals
            .into_iter()
            .enumerate()
            .map(|(i, principal)| {
                BatchPermissionsRequestEntry::builder()
                    .id(i.to_string())
                    .principal(
                        DataLakePrincipal::builder()
                            .data_lake_principal_identifier(principal)
                            .build(),
                    )
                    .resource(at.filter_resource(filter_name))
                    .permissions(Permission::Select)
                    .set_permissions_with_grant_option(Some(Vec::new()))
                    .build()
                    .map_err(|e| Error::engine(format!("grant on '{filter_name}': {e}"), e))
            })
            .collect()
    };
    let revoke: Vec<&String> = current.difference(&wanted).collect();
    if !revoke.is_empty() {
        let out = client
            .batch_revoke_permissions()
            .catalog_id(at.catalog_id)
            .set_entries(Some(entries(revoke)?))
            .send()
            .await
            .map_err(|e| lf_error(&format!("BatchRevokePermissions({filter_name})"), e))?;
        check("revoke", filter_name, out.failures())?;
    }
    let add: Vec<&String> = wanted.difference(&current).collect();
    if !add.is_empty() {
        let out = client
            .batch_grant_permissions()
            .catalog_id(at.catalog_id)
            .set_entries(Some(entries(add)?))
            .send()
            .await
            .map_err(|e| lf_error(&format!("BatchGrantPermissions({filter_name})"), e))?;
        check("grant", filter_name, out.failures())?;
    }
    Ok(())
}

/// Failures Lake Formation reports in a 200 answer are errors.
fn check(
    verb: &str,
    filter_name: &str,
    failures: &[aws_sdk_lakeformation::types::BatchPermissionsFailureEntry],
) -> Result<()> {
    if failures.is_empty() {
        return Ok(());
    }
    let detail: Vec<String> = failures
        .iter()
        .map(|f| {
            f.error()
                .and_then(|e| e.error_message())
                .unwrap_or("no message")
                .to_string()
        })
        .collect();
    Err(Error::Adapter(format!(
        "Failed to {verb} SELECT on data cells filter '{filter_name}': {}",
        detail.join("; ")
    )))
}
