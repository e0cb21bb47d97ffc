//! The catalog: schemas, relations and columns, from DuckDB's information_schema.

use super::query::{column_infos, run};
use super::SharedDuckDb;
use crate::adapters::{quote_literal, CatalogColumn, CatalogRelation, ColumnInfo};
use crate::compile::{Relation, RelationKind};
use crate::error::Result;

impl SharedDuckDb {
    /// The schemas of `database`, without the system ones.
    pub(super) async fn schemas(&self, database: &str) -> Result<Vec<String>> {
        let params = vec![database.to_string()];
        let r = self
            .0
            .with_conn(move |c| {
                run(
                    c,
                    "select schema_name from information_schema.schemata where catalog_name = ? \
                     and schema_name not in ('information_schema', 'pg_catalog')",
                    &params,
                    true,
                )
            })
            .await?;
        Ok(r.table
            .map(|t| {
                t.rows
                    .into_iter()
                    .filter_map(|row| Some(row.first()?.as_str()?.to_string()))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The relations of a schema: (name, `table` | `view`).
    pub(super) async fn relations(
        &self,
        database: &str,
        schema: &str,
    ) -> Result<Vec<(String, RelationKind)>> {
        let params = vec![database.to_string(), schema.to_string()];
        let r = self
            .0
            .with_conn(move |c| {
                run(
                    c,
                    "select table_name, case when table_type = 'VIEW' then 'view' else 'table' end \
                     from information_schema.tables where table_catalog = ? and table_schema = ?",
                    &params,
                    true,
                )
            })
            .await?;
        Ok(r.table
            .map(|t| {
                t.rows
                    .into_iter()
                    .filter_map(|row| {
                        let name = row.first()?.as_str()?.to_string();
                        let kind = match row.get(1)?.as_str()? {
                            "view" => RelationKind::View,
                            _ => RelationKind::Table,
                        };
                        Some((name, kind))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A relation's columns in order; none when it does not exist.
    pub(super) async fn columns(&self, relation: &Relation) -> Result<Vec<ColumnInfo>> {
        // A relation named without its database (a source without `database:`) is in the
        // current one.
        let params = vec![
            relation.database.clone().unwrap_or_default(),
            relation.schema.clone(),
            relation.identifier.clone(),
        ];
        let r = self
            .0
            .with_conn(move |c| {
                run(
                    c,
                    "select column_name, data_type from information_schema.columns \
                     where table_catalog = coalesce(nullif(?, ''), current_database()) \
                       and table_schema = ? and table_name = ? \
                     order by ordinal_position",
                    &params,
                    true,
                )
            })
            .await?;
        Ok(column_infos(r))
    }

    /// The tables and views of `schemas` with their columns, as dbt-duckdb's catalog reads
    /// them (duckdb_tables, duckdb_views, duckdb_columns: DuckDB's own type names).
    pub(super) async fn catalog(
        &self,
        database: &str,
        schemas: &[String],
    ) -> Result<Vec<CatalogRelation>> {
        if schemas.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<String> = schemas
            .iter()
            .map(|s| quote_literal(&s.to_lowercase()))
            .collect();
        let sql = format!(
            "with relations as ( \
               select schema_name, table_name, 'BASE TABLE' as table_type, comment \
               from duckdb_tables() where database_name = $1 \
               union all \
               select schema_name, view_name, 'VIEW', comment \
               from duckdb_views() where database_name = $1 and not internal) \
             select r.schema_name, r.table_name, r.table_type, r.comment, c.column_name, \
                    c.data_type, c.comment \
             from relations r join duckdb_columns() c on c.database_name = $1 \
               and c.schema_name = r.schema_name and c.table_name = r.table_name \
             where lower(r.schema_name) in ({}) \
             order by r.schema_name, r.table_name, c.column_index",
            wanted.join(", ")
        );
        let params = vec![database.to_string()];
        let r = self
            .0
            .with_conn(move |c| run(c, &sql, &params, true))
            .await?;
        let text = |v: Option<&serde_json::Value>| -> Option<String> {
            v.and_then(serde_json::Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let mut out: Vec<CatalogRelation> = Vec::new();
        for row in r.table.map(|t| t.rows).unwrap_or_default() {
            let (Some(schema), Some(name), Some(kind), Some(column), Some(data_type)) = (
                text(row.first()),
                text(row.get(1)),
                text(row.get(2)),
                text(row.get(4)),
                text(row.get(5)),
            ) else {
                continue;
            };
            let column = CatalogColumn {
                name: column,
                data_type,
                comment: text(row.get(6)),
            };
            match out.last_mut() {
                Some(last) if last.schema == schema && last.name == name => {
                    last.columns.push(column)
                }
                _ => out.push(CatalogRelation {
                    schema,
                    name,
                    kind,
                    comment: text(row.get(3)),
                    owner: None,
                    columns: vec![column],
                    stats: Vec::new(),
                }),
            }
        }
        Ok(out)
    }
}
