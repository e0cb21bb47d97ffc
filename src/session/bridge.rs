//! The bridge from synchronous template rendering to the async adapter.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::adapters::Adapter;
use crate::compile::{Relation, RelationKind, Table, Warehouse};

/// The bridge from synchronous template rendering to the async adapter. `used` records
/// whether a render queried the warehouse (then it is compiled again just before it runs).
pub struct Bridge {
    adapter: Arc<dyn Adapter>,
    handle: tokio::runtime::Handle,
    used: AtomicBool,
}

impl Bridge {
    /// A bridge over `adapter` that blocks on `handle` (the run's runtime).
    pub fn new(adapter: Arc<dyn Adapter>, handle: tokio::runtime::Handle) -> Self {
        Bridge {
            adapter,
            handle,
            used: AtomicBool::new(false),
        }
    }

    /// Whether a render asked the warehouse anything through this bridge.
    pub fn used(&self) -> bool {
        self.used.load(Ordering::Relaxed)
    }
}

impl Warehouse for Bridge {
    fn run_query(&self, sql: &str) -> std::result::Result<Table, String> {
        self.used.store(true, Ordering::Relaxed);
        let r = self
            .handle
            .block_on(self.adapter.execute(sql, true))
            .map_err(|e| e.to_string())?;
        Ok(r.table.unwrap_or_default())
    }

    fn get_columns(
        &self,
        relation: &Relation,
    ) -> std::result::Result<Vec<(String, String)>, String> {
        self.used.store(true, Ordering::Relaxed);
        let cols = self
            .handle
            .block_on(self.adapter.get_columns(relation))
            .map_err(|e| e.to_string())?;
        Ok(cols.into_iter().map(|c| (c.name, c.data_type)).collect())
    }

    fn get_relation_kind(
        &self,
        relation: &Relation,
    ) -> std::result::Result<Option<RelationKind>, String> {
        self.used.store(true, Ordering::Relaxed);
        let db = relation.database.clone().unwrap_or_default();
        let list = self
            .handle
            .block_on(self.adapter.list_relations(&db, &relation.schema))
            .map_err(|e| e.to_string())?;
        Ok(list
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&relation.identifier))
            .map(|(_, k)| k))
    }
}
