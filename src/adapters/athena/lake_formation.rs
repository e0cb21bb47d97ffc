//! Lake Formation tags as dbt-athena applies them: `lf_tags_config` on a built relation
//! (table tags, column tags, tags the table inherits left alone) and the profile's
//! `lf_tags_database` on a database Strata creates.

use std::collections::BTreeMap;

use aws_sdk_lakeformation::error::DisplayErrorContext;
use aws_sdk_lakeformation::types::{
    DatabaseResource, LfTagError, LfTagPair, Resource, TableResource, TableWithColumnsResource,
};
use aws_sdk_lakeformation::Client;
use serde::Deserialize;

use crate::error::{Error, Result};

/// dbt-athena's `lf_tags_config` (its pydantic model: unknown keys are ignored there; here
/// they are refused, as a misspelt `tags_column` would tag nothing).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LfTagsConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// tag key -> tag value -> columns.
    #[serde(default)]
    pub tags_columns: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Tag keys the table inherits (from its database): never removed.
    #[serde(default)]
    pub inherited_tags: Vec<String>,
}

impl LfTagsConfig {
    /// The model's `lf_tags_config`, if any; a malformed one is an error naming what is wrong.
    pub fn of(value: Option<&serde_json::Value>) -> std::result::Result<Option<Self>, String> {
        match value {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| format!("lf_tags_config: {e}")),
        }
    }
}

pub(super) fn lf_error<E>(what: &str, e: aws_sdk_lakeformation::error::SdkError<E>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    Error::engine(
        format!("Lake Formation {what} failed: {}", DisplayErrorContext(&e)),
        e,
    )
}

fn pair(key: &str, values: Vec<String>) -> Result<LfTagPair> {
    LfTagPair::builder()
        .tag_key(key)
        .set_tag_values(Some(values))
        .build()
        .map_err(|e| Error::engine(format!("LF tag '{key}': {e}"), e))
}

fn table_resource(catalog_id: Option<&str>, database: &str, table: &str) -> Result<Resource> {
    let table = TableResource::builder()
        .set_catalog_id(catalog_id.map(str::to_string))
        .database_name(database)
        .name(table)
        .build()
        .map_err(|e| Error::engine(format!("LF table {database}.{table}: {e}"), e))?;
    Ok(Resource::builder().table(table).build())
}

fn columns_resource(
    catalog_id: Option<&str>,
    database: &str,
    table: &str,
    columns: &[String],
) -> Result<Resource> {
    let with_columns = TableWithColumnsResource::builder()
        .set_catalog_id(catalog_id.map(str::to_string))
        .database_name(database)
        .name(table)
        .set_column_names(Some(columns.to_vec()))
        .build()
        .map_err(|e| Error::engine(format!("LF table {database}.{table}: {e}"), e))?;
    Ok(Resource::builder().table_with_columns(with_columns).build())
}

/// dbt-athena's error for failures Lake Formation reports in a 200 response.
fn check_failures(verb: &str, resource: &str, failures: &[LfTagError]) -> Result<()> {
    if failures.is_empty() {
        return Ok(());
    }
    let detail: Vec<String> = failures
        .iter()
        .map(|f| {
            let tag = f.lf_tag().map(|t| t.tag_key()).unwrap_or("?");
            let error = f
                .error()
                .and_then(|e| e.error_message())
                .unwrap_or("no message");
            format!("{tag}: {error}")
        })
        .collect();
    Err(Error::Adapter(format!(
        "Failed to {verb} LF tags to {resource}: {}",
        detail.join("; ")
    )))
}

/// Tag a database (the profile's `lf_tags_database`, when Strata creates the schema).
pub async fn tag_database(
    client: &Client,
    catalog_id: Option<&str>,
    database: &str,
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let resource = Resource::builder()
        .database(
            DatabaseResource::builder()
                .set_catalog_id(catalog_id.map(str::to_string))
                .name(database)
                .build()
                .map_err(|e| Error::engine(format!("LF database {database}: {e}"), e))?,
        )
        .build();
    let pairs = tags
        .iter()
        .map(|(k, v)| pair(k, vec![v.clone()]))
        .collect::<Result<Vec<_>>>()?;
    change_tags(client, Change::Add, resource, pairs, database).await
}

/// Make the table's LF tags the config's, as dbt-athena does: remove every column tag and
/// every table tag the config does not name (except inherited keys), then add the table's
/// and the columns' tags.
pub async fn tag_table(
    client: &Client,
    catalog_id: Option<&str>,
    database: &str,
    table: &str,
    config: &LfTagsConfig,
) -> Result<()> {
    let name = format!("{database}.{table}");
    let existing = client
        .get_resource_lf_tags()
        .resource(table_resource(catalog_id, database, table)?)
        .send()
        .await
        .map_err(|e| lf_error(&format!("GetResourceLFTags({name})"), e))?;
    let inherited = |key: &str| config.inherited_tags.iter().any(|k| k == key);

    // Column tags: tag key -> value -> columns, each removed in one call.
    let mut column_tags: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for column in existing.lf_tags_on_columns() {
        for tag in column.lf_tags() {
            if inherited(tag.tag_key()) {
                continue;
            }
            let Some(value) = tag.tag_values().first() else {
                continue;
            };
            column_tags
                .entry(tag.tag_key().to_string())
                .or_default()
                .entry(value.clone())
                .or_default()
                .push(column.name().unwrap_or_default().to_string());
        }
    }
    for (key, by_value) in &column_tags {
        for (value, columns) in by_value {
            let resource = columns_resource(catalog_id, database, table, columns)?;
            let pairs = vec![pair(key, vec![value.clone()])?];
            let what = format!("{name} for columns {columns:?}");
            change_tags(client, Change::Remove, resource, pairs, &what).await?;
        }
    }
    let stale: Vec<LfTagPair> = existing
        .lf_tags_on_table()
        .iter()
        .filter(|t| !config.tags.contains_key(t.tag_key()) && !inherited(t.tag_key()))
        .map(|t| pair(t.tag_key(), t.tag_values().to_vec()))
        .collect::<Result<_>>()?;
    if !stale.is_empty() {
        let resource = table_resource(catalog_id, database, table)?;
        change_tags(client, Change::Remove, resource, stale, &name).await?;
    }
    if !config.tags.is_empty() {
        let pairs = config
            .tags
            .iter()
            .map(|(k, v)| pair(k, vec![v.clone()]))
            .collect::<Result<Vec<_>>>()?;
        let resource = table_resource(catalog_id, database, table)?;
        change_tags(client, Change::Add, resource, pairs, &name).await?;
    }
    for (key, by_value) in &config.tags_columns {
        for (value, columns) in by_value {
            let resource = columns_resource(catalog_id, database, table, columns)?;
            let pairs = vec![pair(key, vec![value.clone()])?];
            let what = format!("{name} for columns {columns:?}");
            change_tags(client, Change::Add, resource, pairs, &what).await?;
        }
    }
    Ok(())
}

enum Change {
    Add,
    Remove,
}

/// Add or remove `pairs` on `resource`; failures Lake Formation reports are an error.
async fn change_tags(
    client: &Client,
    change: Change,
    resource: Resource,
    pairs: Vec<LfTagPair>,
    what: &str,
) -> Result<()> {
    let failures = match change {
        Change::Add => {
            client
                .add_lf_tags_to_resource()
                .resource(resource)
                .set_lf_tags(Some(pairs))
                .send()
                .await
                .map_err(|e| lf_error(&format!("AddLFTagsToResource({what})"), e))?
                .failures
        }
        Change::Remove => {
            client
                .remove_lf_tags_from_resource()
                .resource(resource)
                .set_lf_tags(Some(pairs))
                .send()
                .await
                .map_err(|e| lf_error(&format!("RemoveLFTagsFromResource({what})"), e))?
                .failures
        }
    };
    let verb = match change {
        Change::Add => "add",
        Change::Remove => "remove",
    };
    check_failures(verb, what, failures.as_deref().unwrap_or_default())
}
