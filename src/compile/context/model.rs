//! `model` / `node`: a node's main attributes as templates see them.

use std::path::Path;

use minijinja::value::Value;
use serde_json::Map;

use crate::compile::Compiler;
use crate::project::Node;

impl Compiler {
    /// A node as templates see it (`model`, a hook result's `node`).
    pub fn node_value(node: &Node) -> Value {
        model_value(node)
    }
}

/// A value for `model` / `node`: the node's main attributes.
pub(in crate::compile) fn model_value(node: &Node) -> Value {
    model_value_in_batch(node, None)
}

/// dbt's `model.batch` of a microbatch batch: its id and its window as dbt writes the times.
#[derive(serde::Serialize)]
struct BatchView<'a> {
    id: String,
    event_time_start: &'a str,
    event_time_end: &'a str,
}

/// A batch's id as dbt makes it: its start, to the batch size (`20240101`, `20240101T05`).
fn batch_id(start: &str, batch_size: Option<&str>) -> String {
    let digits: String = start.chars().filter(char::is_ascii_digit).collect();
    let take = |n: usize| digits.chars().take(n).collect::<String>();
    match batch_size {
        Some("year") => take(4),
        Some("month") => take(6),
        Some("hour") => format!(
            "{}T{}",
            take(8),
            digits.chars().skip(8).take(2).collect::<String>()
        ),
        _ => take(8),
    }
}

/// [`model_value`], with `model.batch` while a microbatch batch renders.
pub(in crate::compile) fn model_value_in_batch(
    node: &Node,
    batch: Option<&(String, String)>,
) -> Value {
    // Serialised straight from borrowed fields (no intermediate JSON tree), keys in the
    // order the json! literal used to give them.
    #[derive(serde::Serialize)]
    struct ModelView<'a> {
        name: &'a str,
        unique_id: &'a str,
        resource_type: &'a str,
        package_name: &'a str,
        original_file_path: &'a Path,
        path: &'a Path,
        fqn: &'a [String],
        config: &'a Map<String, serde_json::Value>,
        tags: Vec<String>,
        description: &'a str,
        alias: &'a str,
        /// dbt's `model.batch`: none outside a microbatch batch.
        batch: Option<BatchView<'a>>,
    }
    Value::from_serialize(ModelView {
        name: &node.name,
        unique_id: &node.unique_id,
        resource_type: node.resource_type.as_str(),
        package_name: &node.package_name,
        original_file_path: &node.original_file_path,
        path: &node.path,
        fqn: &node.fqn,
        config: node.config.entries(),
        tags: node.config.tags(),
        description: &node.description,
        alias: node.alias(),
        batch: batch.map(|(start, end)| BatchView {
            id: batch_id(start, node.config.str("batch_size")),
            event_time_start: start,
            event_time_end: end,
        }),
    })
}
