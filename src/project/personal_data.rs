//! A relation's personal-data declaration (`meta.personal_data` in its YAML): the subject
//! column, or the relation its rows reach the subject through, or why it holds none. Read
//! by the rights engine (what an erasure deletes) and by the materializations (what a
//! write leaves out: subjects erased or being erased).

use serde::Deserialize;

use super::Config;

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
    /// A column holding each row's input as received (a landing line): a row whose subject
    /// column is NULL belongs to every subject whose id it contains as a complete JSON
    /// string (`"<id>"`), for erasure, ACCESS, the existence check and the write filter.
    #[serde(default)]
    pub raw_text: Option<String>,
}

/// The declaration in a node's or a source's config (`meta.personal_data`), checked.
pub fn declaration(config: &Config) -> std::result::Result<Option<PersonalData>, String> {
    let Some(meta) = config.get("meta") else {
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
        _ if pd.raw_text.is_some() && (pd.subject_key.is_none() || pd.via.is_some()) => Err(
            "meta.personal_data.raw_text needs subject_key (the subject's id column) and no via"
                .into(),
        ),
        _ => Ok(Some(pd)),
    }
}
