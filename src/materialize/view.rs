//! `view`: drop what stands under the name if it is not a view, then create the view.

use minijinja::value::Value;

use super::{rel_value, Built, Materializer};
use crate::compile::{Relation, RelationKind};
use crate::error::Result;
use crate::project::Node;

impl Materializer<'_> {
    pub(super) async fn view(&self, node: &Node, compiled_sql: &str) -> Result<Built> {
        let target = self.target(node)?;
        let mut statements = Vec::new();
        if let Some(kind) = self.cache.kind(&target) {
            if kind != RelationKind::View {
                let existing = Relation {
                    kind,
                    ..target.clone()
                };
                statements.extend(self.render(
                    node,
                    "drop_relation",
                    &[("relation", rel_value(&existing))],
                )?);
            }
        }
        let view = Relation {
            kind: RelationKind::View,
            ..target.clone()
        };
        statements.extend(self.render(
            node,
            "create_view_as",
            &[
                ("relation", rel_value(&view)),
                ("sql", Value::from(compiled_sql)),
            ],
        )?);
        let mut response = self.run_all(node, &statements, true).await?;
        response.rows_affected = None;
        self.cache.set(&target, Some(RelationKind::View));
        Ok(Built {
            response,
            ..Default::default()
        })
    }
}
