//! The personal-data coverage check a build must pass in a project with a `rights:` section.

use std::collections::HashMap;

use crate::error::Result;
use crate::session::Session;

/// The personal-data coverage check, for projects with a `rights:` section. `from_warehouse` reads each built relation's columns
/// (after a build); otherwise the YAML columns are used.
pub async fn check(session: &Session, from_warehouse: bool) -> Result<()> {
    // Only projects that handle data-subject rights (a `rights:` section) are held to it;
    // a plain dbt project with a user_id column builds as it does in dbt.
    let Some(settings) = &session.project.rights else {
        return Ok(());
    };
    let mut columns: HashMap<String, Vec<String>> = HashMap::new();
    for node in session.project.nodes.values() {
        let mut cols: Vec<String> = node.columns.iter().map(|c| c.name.clone()).collect();
        if from_warehouse && node.is_relational() {
            if let Some(r) = session.compiler.relation_of(&node.name) {
                if let Ok(found) = session.adapter.get_columns(&r).await {
                    cols.extend(found.into_iter().map(|c| c.name));
                }
            }
        }
        if !cols.is_empty() {
            columns.insert(node.unique_id.clone(), cols);
        }
    }
    let errors =
        crate::rights::declare::coverage(&session.project, &settings.subject_columns, &|n| {
            columns.get(&n.unique_id).cloned()
        });
    match session.printer.first_error(errors) {
        Some(e) => Err(e),
        None => crate::rights::declare::declared(&session.project).map(|_| ()),
    }
}
