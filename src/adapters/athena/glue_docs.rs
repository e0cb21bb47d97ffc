//! `persist_docs` on Athena, as dbt-athena does it: the model's description becomes the Glue
//! table's description and its `comment` parameter (whitespace collapsed, at most 2048
//! characters), its meta and identity become table parameters, and each documented column's
//! description its Glue column comment (at most 255). The table is updated only when
//! something changed, without archiving a version (each run would add one otherwise).

use std::collections::HashMap;

use aws_sdk_glue::types::{Column, TableInput};

use super::catalog::{get_table, glue_error, Glue};
use crate::adapters::RelationDocs;
use crate::error::{Error, Result};
use crate::python_text;

/// dbt-athena's `clean_sql_comment`: the lines trimmed, the empty ones dropped, joined by
/// spaces.
fn collapse(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// dbt-athena's `ellipsis_comment`: longer than `max` characters ends in `...`.
fn ellipsis(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let kept: String = text.chars().take(max.saturating_sub(3)).collect();
    format!("{kept}...")
}

/// A Glue parameter key: at most 255 characters, no control characters but tab.
fn valid_key(key: &str) -> bool {
    key.chars().count() <= 255 && key.chars().all(|c| c == '\t' || !c.is_control())
}

/// Set `key` to `value` in `params`; whether it changed. Values are cut at Glue's 512000.
fn set_param(params: &mut HashMap<String, String>, key: &str, value: &serde_json::Value) -> bool {
    let text: String = python_text::str_of(value).chars().take(512_000).collect();
    let changed = params.get(key) != Some(&text);
    params.insert(key.to_string(), text);
    changed
}

/// Write `docs` into the Glue table `database.table`; returns whether it was updated.
/// Keys Glue cannot hold are returned as warnings, as dbt-athena logs them.
pub async fn persist_docs(
    glue: &Glue,
    database: &str,
    table: &str,
    docs: &RelationDocs,
) -> Result<(bool, Vec<String>)> {
    let Some(current) = get_table(glue, database, table).await? else {
        return Err(Error::Adapter(format!(
            "Glue has no table {database}.{table} to write its docs to"
        )));
    };
    let mut changed = false;
    let mut warnings = Vec::new();
    let mut description = current.description.clone();
    let mut params = current.parameters.clone().unwrap_or_default();
    if let Some(relation) = &docs.relation {
        let text = ellipsis(collapse(&relation.description), 2048);
        changed |=
            description.as_deref() != Some(text.as_str()) || params.get("comment") != Some(&text);
        description = Some(text.clone());
        params.insert("comment".into(), text);
        for (key, value) in &relation.parameters {
            if !valid_key(key) {
                warnings.push(format!(
                    "Meta key '{key}' is not supported and will be ignored"
                ));
                continue;
            }
            changed |= set_param(&mut params, key, value);
        }
    }
    let mut storage = current.storage_descriptor.clone();
    if let (Some(columns), Some(storage)) = (&docs.columns, storage.as_mut()) {
        for glue_column in storage.columns.iter_mut().flatten() {
            // dbt-athena matches names exactly, and leaves partition keys alone.
            let Some(doc) = columns.iter().find(|c| c.name == glue_column.name) else {
                continue;
            };
            changed |= comment(glue_column, &doc.description);
            for (key, value) in &doc.meta {
                if !valid_key(key) {
                    warnings.push(format!(
                        "Column meta key '{key}' is not supported and will be ignored"
                    ));
                    continue;
                }
                let column_params = glue_column.parameters.get_or_insert_with(HashMap::new);
                changed |= set_param(column_params, key, value);
            }
        }
    }
    if !changed {
        return Ok((false, warnings));
    }
    let input = TableInput::builder()
        .name(current.name.clone())
        .set_description(description)
        .set_owner(current.owner.clone())
        .set_last_access_time(current.last_access_time)
        .set_last_analyzed_time(current.last_analyzed_time)
        .retention(current.retention)
        .set_storage_descriptor(storage)
        .set_partition_keys(current.partition_keys.clone())
        .set_view_original_text(current.view_original_text.clone())
        .set_view_expanded_text(current.view_expanded_text.clone())
        .set_table_type(current.table_type.clone())
        .set_parameters(Some(params))
        .set_target_table(current.target_table.clone())
        .build()
        .map_err(|e| Error::engine(format!("Glue table '{table}': {e}"), e))?;
    glue.client
        .update_table()
        .set_catalog_id(glue.catalog_id.clone())
        .database_name(database)
        .table_input(input)
        .skip_archive(true)
        .send()
        .await
        .map_err(|e| glue_error(&format!("UpdateTable({database}.{table})"), e))?;
    Ok((true, warnings))
}

/// Set a column's comment; whether it changed.
fn comment(column: &mut Column, description: &str) -> bool {
    let text = ellipsis(collapse(description), 255);
    let changed = column.comment.as_deref().unwrap_or("") != text;
    column.comment = Some(text);
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_collapsed_and_cut_as_dbt_athena_does() {
        assert_eq!(collapse("  One line\n\n   two  \n"), "One line two");
        assert_eq!(ellipsis("abcdef".into(), 6), "abcdef");
        assert_eq!(ellipsis("abcdefg".into(), 6), "abc...");
        assert_eq!(ellipsis("ééééééé".into(), 6), "ééé...");
        assert!(valid_key("owner"));
        assert!(!valid_key("a\nb"));
        assert!(!valid_key(&"k".repeat(256)));
    }
}
