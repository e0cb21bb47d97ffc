//! Ephemeral models inlined as CTEs: collect the ephemeral models a node reaches (parents
//! first) and splice their CTEs into its SQL, joining a leading `WITH` it already has.

use std::collections::HashSet;

use super::{CompileOptions, Compiler};
use crate::error::Result;
use crate::project::Project;

impl Compiler {
    /// Add the CTE of ephemeral model `name` to `ctes`, after those of the ephemeral models
    /// it refers to.
    pub(super) fn collect_ephemeral(
        &self,
        project: &Project,
        name: &str,
        opts: &CompileOptions,
        ctes: &mut Vec<(String, String)>,
        seen: &mut HashSet<String>,
    ) -> Result<()> {
        if !seen.insert(name.to_string()) {
            return Ok(());
        }
        let Some(node) = project.find_ref(name, None) else {
            return Ok(());
        };
        let (sql, inner_ephemerals) = self.render_for_compile(node, opts)?;
        // Parents first, so each CTE only refers to CTEs defined before it.
        for inner in inner_ephemerals {
            self.collect_ephemeral(project, &inner, opts, ctes, seen)?;
        }
        ctes.push((format!("__dbt__cte__{name}"), sql));
        Ok(())
    }
}

pub(super) fn inject_ctes(sql: &str, ctes: &[(String, String)]) -> String {
    let defs: Vec<String> = ctes
        .iter()
        .map(|(name, body)| format!("{name} as (\n{}\n)", body.trim().trim_end_matches(';')))
        .collect();
    let defs = defs.join(",\n");
    // Join an existing leading WITH (after any comments), else start one.
    let skip = crate::sql::leading_trivia_len(sql);
    let (lead, trimmed) = sql.split_at(skip);
    let starts_with_with = trimmed.len() > 4
        && trimmed[..4].eq_ignore_ascii_case("with")
        && trimmed[4..].starts_with(|c: char| c.is_whitespace());
    if starts_with_with {
        let rest = &trimmed[4..];
        let after = rest.trim_start();
        let recursive = after.len() > 9 && after[..9].eq_ignore_ascii_case("recursive");
        if !recursive {
            return format!("{lead}with {defs},{rest}");
        }
    }
    format!("{lead}with {defs}\n{trimmed}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctes_join_an_existing_with() {
        let ctes = vec![("__dbt__cte__a".to_string(), "select 1 as x".to_string())];
        assert_eq!(
            inject_ctes("with b as (select 2) select * from b", &ctes),
            "with __dbt__cte__a as (\nselect 1 as x\n), b as (select 2) select * from b"
        );
        assert_eq!(
            inject_ctes("-- note\nwith b as (select 2) select 1", &ctes),
            "-- note\nwith __dbt__cte__a as (\nselect 1 as x\n), b as (select 2) select 1"
        );
        assert_eq!(
            inject_ctes("select * from __dbt__cte__a", &ctes),
            "with __dbt__cte__a as (\nselect 1 as x\n)\nselect * from __dbt__cte__a"
        );
    }
}
