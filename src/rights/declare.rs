//! Which relations hold personal data, and how their rows belong to a subject.
//!
//! A model, seed or source declares it under `meta.personal_data` in its YAML:
//!
//! ```yaml
//! - name: bronze_chat_events
//!   meta:
//!     personal_data: {subject_key: user_id}
//! - name: silver_message_daily          # keyed by chat, reached through the user's chats
//!   meta:
//!     personal_data:
//!       subject_key: chat_id
//!       via: {relation: bronze_chat_events, key: chat_id, subject_key: user_id}
//! - name: gold_time_series
//!   meta:
//!     personal_data: {exempt: "aggregates over all users; no subject ids"}
//! ```

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::project::{Node, Project};

/// How rows of a relation reach a subject through another relation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Via {
    /// The model or seed that maps keys to subjects.
    pub relation: String,
    /// Its column matching this relation's key.
    pub key: String,
    /// Its column holding the subject id.
    pub subject_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalData {
    #[serde(default)]
    pub subject_key: Option<String>,
    #[serde(default)]
    pub via: Option<Via>,
    #[serde(default)]
    pub exempt: Option<String>,
}

/// A declared relation with personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub unique_id: String,
    pub name: String,
    /// The column of this relation that keys the subject (directly or via `via`).
    pub key: String,
    pub via: Option<Via>,
}

pub fn declaration(node: &Node) -> std::result::Result<Option<PersonalData>, String> {
    let Some(meta) = node.config.get("meta") else {
        return Ok(None);
    };
    let Some(v) = meta.get("personal_data") else {
        return Ok(None);
    };
    if v.is_null() {
        return Ok(None);
    }
    let pd: PersonalData =
        serde_json::from_value(v.clone()).map_err(|e| format!("meta.personal_data: {e}"))?;
    match (&pd.subject_key, &pd.exempt) {
        (None, None) => Err("meta.personal_data needs subject_key (or exempt: \"reason\")".into()),
        (Some(_), Some(_)) => {
            Err("meta.personal_data: subject_key and exempt exclude each other".into())
        }
        (None, Some(reason)) if reason.trim().is_empty() => {
            Err("meta.personal_data.exempt needs a reason".into())
        }
        _ if pd.via.is_some() && pd.subject_key.is_none() => {
            Err("meta.personal_data.via needs subject_key".into())
        }
        _ => Ok(Some(pd)),
    }
}

pub(super) fn node_location(node: &Node) -> std::path::PathBuf {
    node.patch_path
        .clone()
        .unwrap_or_else(|| node.original_file_path.clone())
}

/// The relations with personal data, in graph-independent name order. Models must be
/// materialized (table or incremental) or seeds: views and ephemerals derive from them.
pub fn declared(project: &Project) -> Result<Vec<Declared>> {
    let mut out = Vec::new();
    for node in project.nodes.values() {
        if !node.is_relational_kind() {
            continue;
        }
        let pd = declaration(node)
            .map_err(|m| Error::config(node_location(node), format!("{}: {m}", node.name)))?;
        let Some(pd) = pd else { continue };
        let Some(key) = pd.subject_key else { continue };
        if matches!(node.config.materialized(), "view" | "ephemeral") {
            return Err(Error::config(
                node_location(node),
                format!(
                    "{}: personal data is declared on the relations that store it; a {} derives \
                     from them (declare its parents instead, or use exempt)",
                    node.name,
                    node.config.materialized()
                ),
            ));
        }
        out.push(Declared {
            unique_id: node.unique_id.clone(),
            name: node.name.clone(),
            key,
            via: pd.via,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    for d in &out {
        if let Some(via) = &d.via {
            if project.find_ref(&via.relation, None).is_none() {
                let node = &project.nodes[&d.unique_id];
                return Err(Error::config(
                    node_location(node),
                    format!(
                        "{}: personal_data.via.relation '{}' is not a model or seed",
                        d.name, via.relation
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// Columns a node declares in YAML, if it declares any.
pub fn yaml_columns(node: &Node) -> Option<Vec<String>> {
    if node.columns.is_empty() {
        None
    } else {
        Some(node.columns.iter().map(|c| c.name.clone()).collect())
    }
}
