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
    })
}
