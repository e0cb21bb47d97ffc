//! Where the build state is kept and how it is read and written: a table read and written
//! through SQL (DuckDB: `strata_state.build_state`), or an object (Athena: JSON in S3, read
//! with no query).

use serde_json::Value;

use super::{Recorded, Reuse, STATE_SCHEMA};
use crate::compile::Relation;
use crate::session::Session;

/// One row of the state: a relation (or `test:<id>`), the node that built it, and what.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct StateRow {
    pub(super) relation: String,
    node_id: String,
    #[serde(flatten)]
    pub(super) recorded: Recorded,
}

/// Where the state is kept: a table read and written through SQL, or an object.
pub(super) enum Store {
    Table(Relation),
    Object(String),
}

/// The state object's format (Athena): `{"rows": [...]}`.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct StateObject {
    rows: Vec<StateRow>,
}

impl Reuse {
    /// The rows of the state as last saved.
    pub(super) async fn read_rows(&self, session: &Session) -> crate::error::Result<Vec<StateRow>> {
        match &self.store {
            Store::Object(uri) => Ok(match session.adapter.read_object(uri).await? {
                Some(bytes) => {
                    serde_json::from_slice::<StateObject>(&bytes)
                        .map_err(|e| {
                            crate::error::Error::Adapter(format!("the build state {uri}: {e}"))
                        })?
                        .rows
                }
                None => Vec::new(),
            }),
            Store::Table(table) => {
                let sql = format!(
                    "select relation, node_id, sql_hash, inputs, version, built_at from {}",
                    table.rendered
                );
                let result = session.adapter.execute(&sql, true).await?;
                let rows = result.table.map(|t| t.rows).unwrap_or_default();
                Ok(rows
                    .into_iter()
                    .map(|row| {
                        let text = |i: usize| {
                            row.get(i)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string()
                        };
                        StateRow {
                            relation: text(0),
                            node_id: text(1),
                            recorded: Recorded {
                                sql_hash: text(2),
                                inputs: serde_json::from_str(&text(3)).unwrap_or_default(),
                                version: text(4),
                                built_at: text(5),
                            },
                        }
                    })
                    .collect())
            }
        }
    }

    /// Record this run's builds in the state table (one delete and one insert).
    pub(in crate::execute) async fn save(&self, session: &Session) -> crate::error::Result<()> {
        let built = std::mem::take(
            &mut *self
                .built
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if !self.on || built.is_empty() {
            return Ok(());
        }
        let table = match &self.store {
            Store::Table(table) => table,
            Store::Object(uri) => {
                // Read again: another run may have saved since this one started. A row it
                // left for a relation this run built is replaced; the others stay.
                let mut rows = self.read_rows(session).await?;
                let replaced: std::collections::HashSet<&str> =
                    built.iter().map(|(r, _, _)| r.as_str()).collect();
                rows.retain(|row| !replaced.contains(row.relation.as_str()));
                rows.extend(
                    built
                        .into_iter()
                        .map(|(relation, node_id, recorded)| StateRow {
                            relation,
                            node_id,
                            recorded,
                        }),
                );
                rows.sort_by(|a, b| a.relation.cmp(&b.relation));
                let bytes = serde_json::to_vec_pretty(&StateObject { rows }).map_err(|e| {
                    crate::error::Error::Adapter(format!("the build state {uri}: {e}"))
                })?;
                return session.adapter.write_object(uri, bytes).await;
            }
        };
        let t = &table.rendered;
        let adapter = &session.adapter;
        let database = table.database.clone().unwrap_or_default();
        adapter.create_schema(&database, STATE_SCHEMA).await?;
        adapter
            .execute(
                &format!(
                    "create table if not exists {t} (relation varchar, node_id varchar, \
                     sql_hash varchar, inputs varchar, version varchar, built_at varchar)"
                ),
                false,
            )
            .await?;
        let marks = vec!["?"; built.len()].join(", ");
        let relations: Vec<String> = built.iter().map(|(r, _, _)| r.clone()).collect();
        adapter
            .execute_with_params(
                &format!("delete from {t} where relation in ({marks})"),
                &relations,
                false,
            )
            .await?;
        let rows = vec!["(?, ?, ?, ?, ?, ?)"; built.len()].join(", ");
        let mut params = Vec::with_capacity(built.len() * 6);
        for (relation, id, r) in built {
            params.push(relation);
            params.push(id);
            params.push(r.sql_hash);
            params.push(serde_json::to_string(&r.inputs).unwrap_or_default());
            params.push(r.version);
            params.push(r.built_at);
        }
        adapter
            .execute_with_params(&format!("insert into {t} values {rows}"), &params, false)
            .await?;
        Ok(())
    }
}
