//! The catalog: schemas, relations and columns, from DuckDB's information_schema.

use super::query::{column_infos, run};
use super::SharedDuckDb;
use crate::adapters::ColumnInfo;
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
}
