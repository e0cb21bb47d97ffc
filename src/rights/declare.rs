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

use crate::error::{Error, Result};
pub use crate::project::personal_data::{declaration, PersonalData, Via};
use crate::project::{Node, Project, Source};

/// A declared relation with personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub unique_id: String,
    pub name: String,
    /// The column of this relation that keys the subject (directly or via `via`).
    pub key: String,
    pub via: Option<Via>,
    /// The column searched for a subject's id where `key` is NULL (`raw_text`).
    pub raw_text: Option<String>,
    /// For a source table: its (source name, table name); `name` is then `source.table`.
    pub source: Option<(String, String)>,
}

impl Declared {
    /// The relation the engine erases from.
    pub fn relation(
        &self,
        compiler: &crate::compile::Compiler,
    ) -> Option<crate::compile::Relation> {
        match &self.source {
            Some((source, table)) => compiler.source_relation(source, table),
            None => compiler.relation_of(&self.name),
        }
    }
}

pub(crate) fn node_location(node: &Node) -> std::path::PathBuf {
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
        let pd = declaration(&node.config)
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
            raw_text: pd.raw_text,
            source: None,
        });
    }
    for source in project.sources.values() {
        let Some(pd) = source_declaration(source)? else {
            continue;
        };
        // Files (`external_location`) are not a table Strata can delete from: such a
        // declaration binds the models reading the source (see coverage) and nothing more.
        let Some(key) = pd.subject_key else { continue };
        if source.config.get("external_location").is_some() {
            continue;
        }
        out.push(Declared {
            unique_id: source.unique_id.clone(),
            name: format!("{}.{}", source.source_name, source.name),
            key,
            via: None,
            raw_text: pd.raw_text,
            source: Some((source.source_name.clone(), source.name.clone())),
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

/// A source table's declaration (`meta.personal_data` on the source or the table). A source
/// reaches its subjects directly: `via` is refused.
pub fn source_declaration(source: &Source) -> Result<Option<PersonalData>> {
    let at = || source.original_file_path.clone();
    let pd = declaration(&source.config).map_err(|m| {
        Error::config(
            at(),
            format!("source {}.{}: {m}", source.source_name, source.name),
        )
    })?;
    if matches!(&pd, Some(PersonalData { via: Some(_), .. })) {
        return Err(Error::config(
            at(),
            format!(
                "source {}.{}: meta.personal_data.via is for models and seeds; a source \
                 declares the subject column it holds",
                source.source_name, source.name
            ),
        ));
    }
    Ok(pd)
}

/// Columns a node declares in YAML, if it declares any.
pub fn yaml_columns(node: &Node) -> Option<Vec<String>> {
    if node.columns.is_empty() {
        None
    } else {
        Some(node.columns.iter().map(|c| c.name.clone()).collect())
    }
}
