//! Hive tables (dbt-athena's `table_type: hive`) through the Glue and S3 APIs, for what SQL
//! cannot do on them: Athena renames no Hive table, and its `DROP TABLE` leaves the files in
//! S3. So a Hive table is dropped by deleting its files and then its Glue entry, replaced by
//! pointing its Glue entry at a new build's files and partitions (dbt-athena's `ha` swap),
//! and its partitions are overwritten by deleting their files and Glue entries.

use aws_sdk_glue::types::{Partition, PartitionInput, PartitionValueList, Table, TableInput};

use super::catalog::{delete_table, get_table, glue_error, Glue};
use super::{s3_error, split_s3};
use crate::adapters::HiveTable;
use crate::error::{Error, Result};
use crate::project::Config;

/// Glue's most partitions per BatchDeletePartition and per BatchCreatePartition.
const DELETE_BATCH: usize = 25;
const CREATE_BATCH: usize = 100;
/// Glue's longest GetPartitions expression.
pub const MAX_EXPRESSION_CHARS: usize = 2048;

/// Whether `config` builds Hive tables (`table_type: hive`, said explicitly: the default
/// stays Iceberg) and whether each build has a folder of its own: no `external_location`,
/// and an `s3_data_naming` (the model's, else the profile's `profile_naming`, else
/// schema_table_unique) with `unique`. `ha: true` without one is refused as dbt-athena
/// refuses it.
pub fn plan(config: &Config, profile_naming: Option<&str>) -> Result<Option<HiveTable>> {
    let hive = config
        .str("table_type")
        .is_some_and(|t| t.eq_ignore_ascii_case("hive"));
    if !hive {
        return Ok(None);
    }
    let external = config
        .str("external_location")
        .is_some_and(|l| !l.is_empty());
    let naming = config
        .str("s3_data_naming")
        .or(profile_naming)
        .unwrap_or("schema_table_unique");
    let unique_location = !external && naming.contains("unique");
    let ha = config.get("ha").and_then(serde_json::Value::as_bool) == Some(true);
    if ha && !unique_location {
        return Err(Error::Adapter(
            "You need to have an unique table location when using ha config with hive table. \
             Use s3_data_naming unique, table_unique or schema_table_unique, and avoid to set \
             an explicit external_location (dbt-athena's rule)"
                .into(),
        ));
    }
    Ok(Some(HiveTable { unique_location }))
}

fn location(table: &Table) -> Option<&str> {
    table
        .storage_descriptor
        .as_ref()
        .and_then(|s| s.location.as_deref())
        .filter(|l| !l.is_empty())
}

fn is_iceberg(table: &Table) -> bool {
    table
        .parameters
        .as_ref()
        .and_then(|p| p.get("table_type"))
        .is_some_and(|t| t.eq_ignore_ascii_case("iceberg"))
}

/// Delete every S3 object under the folder `location` (ListObjectsV2 and DeleteObjects, a
/// page of at most 1,000 keys at a time). Only the folder: `s3://b/t` does not reach `t2/`.
pub async fn delete_folder(s3: &aws_sdk_s3::Client, location: &str) -> Result<usize> {
    let (bucket, prefix) = split_s3(location)?;
    let prefix = match prefix.trim_end_matches('/') {
        "" => String::new(),
        p => format!("{p}/"),
    };
    if prefix.is_empty() {
        return Err(Error::Adapter(format!(
            "refusing to delete the whole bucket {location}: a Hive table's location must be \
             a folder inside a bucket"
        )));
    }
    let mut deleted = 0;
    loop {
        // Each page is listed after the previous one is deleted: no continuation needed.
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&prefix)
            .send()
            .await
            .map_err(|e| s3_error(&format!("listing {location}"), e))?;
        let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
        if keys.is_empty() {
            return Ok(deleted);
        }
        super::delete_keys(s3, bucket, &keys).await?;
        deleted += keys.len();
    }
}

/// Drop the Hive table `database.name`: its files (under its location), then its Glue entry.
pub async fn drop_table(
    glue: &Glue,
    s3: &aws_sdk_s3::Client,
    database: &str,
    name: &str,
) -> Result<()> {
    drop_table_keeping(glue, s3, database, name, None).await
}

/// [`drop_table`], keeping the files of `keep` (another table of `database`): when its
/// folder lies inside the dropped table's (a table first built by another tool into
/// `<root>/<table>`, rebuilt by Strata into `<root>/<table>/<uuid>`), only the Glue entry
/// goes and the files stay.
pub async fn drop_table_keeping(
    glue: &Glue,
    s3: &aws_sdk_s3::Client,
    database: &str,
    name: &str,
    keep: Option<&str>,
) -> Result<()> {
    let Some(table) = get_table(glue, database, name).await? else {
        return Ok(());
    };
    if let Some(folder) = location(&table) {
        let kept = match keep {
            Some(keep) => get_table(glue, database, keep).await?,
            None => None,
        };
        let shared = kept
            .as_ref()
            .and_then(location)
            .is_some_and(|k| within(k, folder));
        if !shared {
            delete_folder(s3, folder).await?;
        }
    }
    delete_table(glue, database, name).await
}

/// The partitions of `database.table` (those `expression` selects, when given), all pages.
async fn get_partitions(
    glue: &Glue,
    database: &str,
    table: &str,
    expression: Option<&str>,
) -> Result<Vec<Partition>> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = glue
            .client
            .get_partitions()
            .set_catalog_id(glue.catalog_id.clone())
            .database_name(database)
            .table_name(table)
            .set_expression(expression.map(str::to_string))
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| glue_error(&format!("GetPartitions({database}.{table})"), e))?;
        out.extend(page.partitions.unwrap_or_default());
        match page.next_token {
            Some(t) if !t.is_empty() => next = Some(t),
            _ => break,
        }
    }
    Ok(out)
}

/// Delete the Glue entries of `partitions` of `database.table`, 25 per call.
async fn delete_partitions(
    glue: &Glue,
    database: &str,
    table: &str,
    partitions: &[Partition],
) -> Result<()> {
    for chunk in partitions.chunks(DELETE_BATCH) {
        let values = chunk
            .iter()
            .map(|p| {
                PartitionValueList::builder()
                    .set_values(Some(p.values.clone().unwrap_or_default()))
                    .build()
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::engine(format!("partitions of {database}.{table}: {e}"), e))?;
        let out = glue
            .client
            .batch_delete_partition()
            .set_catalog_id(glue.catalog_id.clone())
            .database_name(database)
            .table_name(table)
            .set_partitions_to_delete(Some(values))
            .send()
            .await
            .map_err(|e| glue_error(&format!("BatchDeletePartition({database}.{table})"), e))?;
        if let Some(err) = out.errors.as_deref().and_then(<[_]>::first) {
            return Err(partition_error(
                "BatchDeletePartition",
                database,
                table,
                err,
            ));
        }
    }
    Ok(())
}

/// A partition Glue could not delete or create, in a 200 answer.
fn partition_error(
    operation: &str,
    database: &str,
    table: &str,
    err: &aws_sdk_glue::types::PartitionError,
) -> Error {
    Error::Adapter(format!(
        "Glue {operation}({database}.{table}) failed for partition {:?}: {}",
        err.partition_values.as_deref().unwrap_or_default(),
        err.error_detail
            .as_ref()
            .and_then(|d| d.error_message.as_deref())
            .unwrap_or_default()
    ))
}

/// Create `partitions` (another table's) in `database.table`, 100 per call.
async fn create_partitions(
    glue: &Glue,
    database: &str,
    table: &str,
    partitions: &[Partition],
) -> Result<()> {
    for chunk in partitions.chunks(CREATE_BATCH) {
        let inputs: Vec<PartitionInput> = chunk
            .iter()
            .map(|p| {
                PartitionInput::builder()
                    .set_values(p.values.clone())
                    .set_storage_descriptor(p.storage_descriptor.clone())
                    .set_parameters(p.parameters.clone())
                    .set_last_access_time(p.last_access_time)
                    .set_last_analyzed_time(p.last_analyzed_time)
                    .build()
            })
            .collect();
        let out = glue
            .client
            .batch_create_partition()
            .set_catalog_id(glue.catalog_id.clone())
            .database_name(database)
            .table_name(table)
            .set_partition_input_list(Some(inputs))
            .send()
            .await
            .map_err(|e| glue_error(&format!("BatchCreatePartition({database}.{table})"), e))?;
        if let Some(err) = out.errors.as_deref().and_then(<[_]>::first) {
            return Err(partition_error(
                "BatchCreatePartition",
                database,
                table,
                err,
            ));
        }
    }
    Ok(())
}

/// `table`'s definition under the name `name` (what UpdateTable and CreateTable take).
fn input_named(table: &Table, name: &str) -> Result<TableInput> {
    TableInput::builder()
        .name(name)
        .set_description(table.description.clone())
        .set_owner(table.owner.clone())
        .retention(table.retention)
        .set_storage_descriptor(table.storage_descriptor.clone())
        .set_partition_keys(table.partition_keys.clone())
        .set_table_type(table.table_type.clone())
        .set_parameters(table.parameters.clone())
        .build()
        .map_err(|e| Error::engine(format!("Glue table '{name}': {e}"), e))
}

/// Is `inner` the folder `outer` or inside it?
fn within(inner: &str, outer: &str) -> bool {
    let (inner, outer) = (inner.trim_end_matches('/'), outer.trim_end_matches('/'));
    inner == outer || inner.starts_with(&format!("{outer}/"))
}

/// Replace the Hive table `database.target` by `database.new` (a complete build beside it),
/// as dbt-athena's `ha` swap does: the target's Glue entry takes the new build's storage,
/// partition keys and parameters (UpdateTable, so the table keeps its identity: Lake
/// Formation grants, versions), its partitions are replaced by the new build's, the new
/// build's Glue entry is deleted (not its files, which the target now reads), and last the
/// old build's files. An Iceberg table in the target's place (the model moved to Hive) is
/// dropped and its entry created anew from the new build.
pub async fn swap(
    glue: &Glue,
    s3: &aws_sdk_s3::Client,
    database: &str,
    target: &str,
    new: &str,
) -> Result<()> {
    let missing = |name: &str| {
        Error::Adapter(format!(
            "Glue has no table {database}.{name} to swap (was it dropped meanwhile?)"
        ))
    };
    let new_table = get_table(glue, database, new)
        .await?
        .ok_or_else(|| missing(new))?;
    let old_table = get_table(glue, database, target)
        .await?
        .ok_or_else(|| missing(target))?;
    let new_partitions = get_partitions(glue, database, new, None).await?;
    let input = input_named(&new_table, target)?;
    if is_iceberg(&old_table) {
        delete_table(glue, database, target).await?;
        glue.client
            .create_table()
            .set_catalog_id(glue.catalog_id.clone())
            .database_name(database)
            .table_input(input)
            .send()
            .await
            .map_err(|e| glue_error(&format!("CreateTable({database}.{target})"), e))?;
    } else {
        let old_partitions = get_partitions(glue, database, target, None).await?;
        glue.client
            .update_table()
            .set_catalog_id(glue.catalog_id.clone())
            .database_name(database)
            .table_input(input)
            .send()
            .await
            .map_err(|e| glue_error(&format!("UpdateTable({database}.{target})"), e))?;
        delete_partitions(glue, database, target, &old_partitions).await?;
    }
    create_partitions(glue, database, target, &new_partitions).await?;
    delete_table(glue, database, new).await?;
    // The old build's files, unless the new build lies in or around them (a location
    // changed from `.../t` to `.../t/<id>` or back): those are never deleted.
    if let (Some(old), Some(current)) = (location(&old_table), location(&new_table)) {
        if !within(current, old) && !within(old, current) {
            delete_folder(s3, old).await?;
        }
    }
    Ok(())
}

/// Delete the partitions of `database.table` that `conditions` (Glue expressions, one per
/// partition) select: their files, then their Glue entries. The conditions are joined
/// with `or` into expressions under Glue's 2,048 characters. Returns how many partitions.
pub async fn delete_matching_partitions(
    glue: &Glue,
    s3: &aws_sdk_s3::Client,
    database: &str,
    table: &str,
    conditions: &[String],
) -> Result<usize> {
    let mut deleted = 0;
    for expression in join_conditions(conditions)? {
        let partitions = get_partitions(glue, database, table, Some(&expression)).await?;
        for p in &partitions {
            if let Some(location) = p.storage_descriptor.as_ref().and_then(|s| s.location()) {
                delete_folder(s3, location).await?;
            }
        }
        delete_partitions(glue, database, table, &partitions).await?;
        deleted += partitions.len();
    }
    Ok(deleted)
}

/// `conditions` joined with ` or ` into as few expressions of at most 2,048 characters as
/// they fit in (dbt-athena's chunking).
pub fn join_conditions(conditions: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in conditions {
        let c = format!("({c})");
        if c.chars().count() > MAX_EXPRESSION_CHARS {
            return Err(Error::Adapter(format!(
                "the partition condition {c} is longer than Glue's {MAX_EXPRESSION_CHARS} \
                 characters: shorten the partition values"
            )));
        }
        if !current.is_empty()
            && current.chars().count() + " or ".len() + c.chars().count() > MAX_EXPRESSION_CHARS
        {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push_str(" or ");
        }
        current.push_str(&c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

/// The Glue expression selecting the partition of one row of partition values, as
/// dbt-athena writes it (`p1='v' and p2=123`): text, dates and timestamps quoted, integers
/// bare. None when a value is NULL: such rows land in Hive's default partition, which
/// dbt-athena never matches either (they are appended). Other types are refused, as
/// dbt-athena refuses them.
pub fn partition_condition(
    columns: &[String],
    types: &[String],
    values: &[serde_json::Value],
) -> Result<Option<String>> {
    let mut parts = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        let value = match values.get(i) {
            None | Some(serde_json::Value::Null) => return Ok(None),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let data_type = types
            .get(i)
            .map(|t| t.to_ascii_lowercase())
            .unwrap_or_default();
        let base = data_type.split('(').next().unwrap_or("").trim();
        let literal = match base {
            "tinyint" | "smallint" | "integer" | "int" | "bigint" => value,
            "varchar" | "char" | "string" | "date" | "timestamp" => {
                format!("'{}'", value.replace('\'', "''"))
            }
            other => {
                return Err(Error::Adapter(format!(
                    "partition column {column} is of type {other}: insert_overwrite on a Hive \
                     table overwrites partitions of text, integer, date or timestamp columns \
                     only (as dbt-athena)"
                )))
            }
        };
        parts.push(format!("{column}={literal}"));
    }
    Ok(Some(parts.join(" and ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: serde_json::Value) -> Config {
        match value {
            serde_json::Value::Object(map) => Config::from(map),
            _ => Config::default(),
        }
    }

    #[test]
    fn hive_tables_are_said_explicitly_and_ha_needs_a_folder_per_build() {
        let plan_of = |v, naming| plan(&config(v), naming);
        assert_eq!(plan_of(json!({}), None).ok(), Some(None));
        assert_eq!(
            plan_of(json!({"table_type": "iceberg"}), None).ok(),
            Some(None)
        );
        let unique = |v, naming| plan_of(v, naming).ok().flatten().map(|h| h.unique_location);
        assert_eq!(unique(json!({"table_type": "HIVE"}), None), Some(true));
        assert_eq!(
            unique(json!({"table_type": "hive"}), Some("schema_table")),
            Some(false)
        );
        assert_eq!(
            unique(
                json!({"table_type": "hive", "s3_data_naming": "table_unique"}),
                Some("table")
            ),
            Some(true)
        );
        assert_eq!(
            unique(
                json!({"table_type": "hive", "external_location": "s3://b/t"}),
                None
            ),
            Some(false)
        );
        assert!(plan_of(json!({"table_type": "hive", "ha": true}), Some("table")).is_err());
        assert!(plan_of(json!({"table_type": "hive", "ha": true}), None).is_ok());
    }

    #[test]
    fn partition_conditions_are_written_as_dbt_athena_writes_them() {
        let cols = vec!["day".to_string(), "n".to_string()];
        let types = vec!["date".to_string(), "integer".to_string()];
        assert_eq!(
            partition_condition(&cols, &types, &[json!("2026-01-02"), json!(3)]).ok(),
            Some(Some("day='2026-01-02' and n=3".to_string()))
        );
        assert_eq!(
            partition_condition(&cols, &types, &[json!("x"), json!(null)]).ok(),
            Some(None)
        );
        let text = vec!["s".to_string()];
        assert_eq!(
            partition_condition(&text, &["varchar".into()], &[json!("it's")]).ok(),
            Some(Some("s='it''s'".to_string()))
        );
        assert!(partition_condition(&text, &["double".into()], &[json!(1.5)]).is_err());
    }

    #[test]
    fn conditions_are_joined_under_glues_expression_limit() {
        let one = "p='".to_string() + &"x".repeat(1000) + "'";
        let joined = join_conditions(&[one.clone(), one.clone(), one.clone()]).unwrap_or_default();
        assert_eq!(joined.len(), 2);
        assert!(joined
            .iter()
            .all(|e| e.chars().count() <= MAX_EXPRESSION_CHARS));
        assert_eq!(joined[0], format!("({one}) or ({one})"));
        let small = join_conditions(&["a=1".into(), "a=2".into()]).unwrap_or_default();
        assert_eq!(small, ["(a=1) or (a=2)"]);
        assert!(join_conditions(&["x".repeat(3000)]).is_err());
    }

    #[test]
    fn folders_contain_only_their_own_subfolders() {
        assert!(within("s3://b/t/1", "s3://b/t"));
        assert!(within("s3://b/t/", "s3://b/t"));
        assert!(!within("s3://b/t2", "s3://b/t"));
        assert!(!within("s3://b/t", "s3://b/t/1"));
    }
}
