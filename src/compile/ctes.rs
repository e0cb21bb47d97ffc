//! Ephemeral models inlined as CTEs: collect the ephemeral models a node reaches (parents
//! first) and splice their CTEs into its SQL, joining a leading `WITH` it already has.

use std::collections::HashSet;

use super::{CompileOptions, Compiler};
use crate::error::Result;
use crate::project::{Project, RefCall};

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
        let call = RefCall::from_relation_key(name);
        let Some(node) = project.find_ref(&call.name, call.package.as_deref()) else {
            return Ok(());
        };
        let (sql, inner_ephemerals) = self.render_for_compile(node, opts)?;
        // Parents first, so each CTE only refers to CTEs defined before it.
        for inner in inner_ephemerals {
            self.collect_ephemeral(project, &inner, opts, ctes, seen)?;
        }
        ctes.push((format!("__dbt__cte__{}", node.name), sql));
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
    let (lead, trimmed) = sql.split_at_checked(skip).unwrap_or(("", sql));
    let after_with =
        strip_keyword(trimmed, "with").filter(|rest| rest.starts_with(|c: char| c.is_whitespace()));
    if let Some(rest) = after_with {
        // RECURSIVE as a whole word: `with recursive_x as (...)` is an ordinary WITH.
        let recursive = strip_keyword(rest.trim_start(), "recursive")
            .and_then(|r| r.chars().next())
            .is_some_and(|next| !(next.is_alphanumeric() || next == '_' || next == '$'));
        if !recursive {
            return format!("{lead}with {defs},{rest}");
        }
    }
    format!("{lead}with {defs}\n{trimmed}")
}

/// `text` after its leading `keyword` (ASCII, in any case), if it starts with it. Never cuts
/// a character in two: SQL may hold any text right after a keyword.
fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let (head, rest) = text.split_at_checked(keyword.len())?;
    head.eq_ignore_ascii_case(keyword).then_some(rest)
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

    #[test]
    fn ctes_splice_into_sql_with_multibyte_text_after_the_keywords() {
        let ctes = vec![("__dbt__cte__a".to_string(), "select 1 as x".to_string())];
        // Cyrillic right after `with`: byte 9 falls inside a character.
        assert_eq!(
            inject_ctes(
                "with пользователи as (select 1) select * from пользователи",
                &ctes
            ),
            "with __dbt__cte__a as (\nselect 1 as x\n), пользователи as (select 1) select * \
             from пользователи"
        );
        // Byte 4 inside a character, in SQL that starts with no WITH.
        assert_eq!(
            inject_ctes("witч 1", &ctes),
            "with __dbt__cte__a as (\nselect 1 as x\n)\nwitч 1"
        );
        assert_eq!(
            inject_ctes("select 'é' from __dbt__cte__a", &ctes),
            "with __dbt__cte__a as (\nselect 1 as x\n)\nselect 'é' from __dbt__cte__a"
        );
        // A recursive WITH cannot take the CTEs (they go in a WITH of their own), in any case.
        assert_eq!(
            inject_ctes("WITH RECURSIVE r as (select 1) select * from r", &ctes),
            "with __dbt__cte__a as (\nselect 1 as x\n)\nWITH RECURSIVE r as (select 1) \
             select * from r"
        );
    }

    #[test]
    fn a_cte_named_recursive_something_is_an_ordinary_with() {
        let ctes = vec![("__dbt__cte__a".to_string(), "select 1 as x".to_string())];
        assert_eq!(
            inject_ctes(
                "with recursive_x as (select 2) select * from recursive_x",
                &ctes
            ),
            "with __dbt__cte__a as (\nselect 1 as x\n), recursive_x as (select 2) select * \
             from recursive_x"
        );
        assert_eq!(
            inject_ctes("with Recursive1 as (select 2) select 1", &ctes),
            "with __dbt__cte__a as (\nselect 1 as x\n), Recursive1 as (select 2) select 1"
        );
        // The keyword itself, followed by a line break, is still recursive.
        assert_eq!(
            inject_ctes("with recursive\nr as (select 1) select * from r", &ctes),
            "with __dbt__cte__a as (\nselect 1 as x\n)\nwith recursive\nr as (select 1) \
             select * from r"
        );
    }
}
