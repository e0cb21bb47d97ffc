//! Relation naming: where each model, seed, snapshot and source lives (database, schema
//! from generate_schema_name, alias from generate_alias_name), and `--defer`'s substitutes.

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::value::Value;

use super::{as_relation, reuse, Compiler, Relation, RelationKind, Relations};
use crate::error::Result;
use crate::project::{Materialization, Node, Project, ResourceType};

impl Compiler {
    /// Each source's relation; with `reads_external_locations` (the adapter's
    /// [`Dialect`](super::Dialect)) a source's `external_location` is read instead.
    pub(super) fn set_sources(&mut self, project: &Project, reads_external_locations: bool) {
        let q = self.shared.quoting.clone();
        let mut sources = HashMap::new();
        for s in project.sources.values() {
            let external = s
                .config
                .str("external_location")
                .filter(|_| reads_external_locations);
            let rel = match external {
                Some(loc) => Relation::raw(&s.identifier, loc, RelationKind::External),
                None => Relation::new(
                    q.as_ref(),
                    s.database.as_deref(),
                    &s.schema,
                    &s.identifier,
                    RelationKind::Table,
                ),
            };
            sources.insert((s.source_name.clone(), s.name.clone()), rel);
        }
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.sources = sources;
        }
    }

    pub(super) fn relations_snapshot(&self) -> Arc<Relations> {
        self.shared
            .relations
            .read()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Name every model, seed and snapshot's relation from its config as it is now.
    pub(super) fn assign_relations(&self, project: &Project) -> Result<()> {
        // By `package.name` (two-argument refs, `this`) and by name, where the root
        // project's node wins over a package's (dbt's search for a one-argument ref).
        let mut map = HashMap::new();
        for node in project.nodes.values() {
            if node.is_relational_kind() {
                let relation = self.node_relation(node)?;
                let root = node.package_name == project.name();
                if root || !map.contains_key(&node.name) {
                    map.insert(node.name.clone(), relation.clone());
                }
                map.insert(node.relation_key(), relation);
            }
        }
        let map: Relations = map
            .into_iter()
            .map(|(k, v)| (k, Value::from_object(v)))
            .collect();
        if let Ok(mut rel) = self.shared.relations.write() {
            *rel = Arc::new(map);
        }
        Ok(())
    }

    /// A relational node's relation: its CTE when it is ephemeral, else its database, schema
    /// and alias.
    fn node_relation(&self, node: &Node) -> Result<Relation> {
        if node.is_ephemeral() {
            let cte = format!("__dbt__cte__{}", node.name);
            return Ok(Relation::raw(&cte, &cte, RelationKind::Cte));
        }
        let is_snapshot = node.resource_type == ResourceType::Snapshot;
        // A snapshot's legacy target_schema is the schema itself (dbt before 1.9).
        let legacy_target = is_snapshot
            .then(|| node.config.str("target_schema"))
            .flatten();
        let schema = match legacy_target {
            Some(schema) => schema.to_string(),
            None => self.schema_for(node, node.config.str("schema"))?,
        };
        let alias = if self.project_macros.contains("generate_alias_name") {
            self.call_macro_text(
                "generate_alias_name",
                node,
                &[("custom_alias_name", Value::from(node.config.str("alias")))],
            )?
            .trim()
            .to_string()
        } else {
            node.alias().to_string()
        };
        let database = node
            .config
            .str("database")
            .or_else(|| {
                is_snapshot
                    .then(|| node.config.str("target_database"))
                    .flatten()
            })
            .unwrap_or(&self.shared.target.database);
        let kind = match node.config.materialization() {
            Materialization::View => RelationKind::View,
            _ => RelationKind::Table,
        };
        Ok(self.relation(Some(database), &schema, &alias, kind))
    }

    /// The schema a node with custom schema `custom` lands in: the project's
    /// generate_schema_name when it has one, else dbt's default (`<target>_<custom>`).
    pub fn schema_for(&self, node: &Node, custom: Option<&str>) -> Result<String> {
        if self.project_macros.contains("generate_schema_name") {
            return Ok(self
                .call_macro_text(
                    "generate_schema_name",
                    node,
                    &[("custom_schema_name", Value::from(custom))],
                )?
                .trim()
                .to_string());
        }
        let target = &self.shared.target;
        Ok(match custom {
            Some(c) => format!("{}_{}", target.schema, c.trim()),
            None => target.schema.clone(),
        })
    }

    /// `--defer`: refs to these models and seeds (by name) read the relations an earlier
    /// run built instead of this target's. Parse renders that saw one of them are compiled
    /// again.
    pub fn defer_to(&self, project: &Project, deferred: Vec<(String, Relation)>) {
        let before = self.relations_snapshot();
        let mut after: Relations = (*before).clone();
        for (name, rel) in deferred {
            let rel = Value::from_object(rel);
            after.insert(format!("{}.{name}", project.name()), rel.clone());
            after.insert(name, rel);
        }
        let changes = reuse::Changes::between(&before, &after);
        if let Ok(mut kept) = self.kept.write() {
            kept.retain(|id, k| {
                project
                    .nodes
                    .get(id)
                    .is_some_and(|node| changes.leave_standing(k, &node.relation_key()))
            });
        }
        if let Ok(mut rel) = self.shared.relations.write() {
            *rel = Arc::new(after);
        }
    }

    /// A relation named as this target quotes names.
    pub fn relation(
        &self,
        database: Option<&str>,
        schema: &str,
        identifier: &str,
        kind: RelationKind,
    ) -> Relation {
        Relation::new(
            self.shared.quoting.as_ref(),
            database,
            schema,
            identifier,
            kind,
        )
    }

    /// The relation a model or seed materializes.
    /// Whether this run builds shapes only (`--empty`): what it builds holds no rows.
    pub fn empty_run(&self) -> bool {
        self.shared.empty
    }

    pub fn relation_of(&self, node_name: &str) -> Option<Relation> {
        self.relations_snapshot()
            .get(node_name)
            .and_then(as_relation)
            .cloned()
    }

    pub fn source_relation(&self, source: &str, table: &str) -> Option<Relation> {
        self.shared
            .sources
            .get(&(source.to_string(), table.to_string()))
            .cloned()
    }
}
