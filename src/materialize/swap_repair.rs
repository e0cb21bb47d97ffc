//! Swaps a crashed run left half done (a table missing, its backup there), put back at the
//! start of a run that builds, before anything compiles: `is_incremental()` and the build
//! then see the old table and its rows.

use super::table::{plain_name, renaming, with_note};
use super::Materializer;
use crate::compile::{Relation, RelationKind};
use crate::error::{Error, Result};
use crate::project::{Materialization, Node, ResourceType};

impl Materializer<'_> {
    /// Put back the tables of swaps a crashed run left half done, before anything builds:
    /// a selected table or incremental model whose table is missing while a backup of it
    /// (named by `temp_identifier(.., 'backup')` for any run) is there gets that backup
    /// renamed back, so its build finds the old rows (an incremental model its history).
    /// Only the relation cache is read (filled from the catalog at the start of the run). A
    /// backup beside an existing target is a leftover, dropped before use as ever. Returns
    /// one warning per repair.
    pub async fn repair_half_done_swaps(
        &self,
        nodes: &[&Node],
        invocation_id: &str,
    ) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        for node in nodes {
            if let Some(warning) = self.repair_swap_of(node, invocation_id).await? {
                warnings.push(warning);
            }
        }
        Ok(warnings)
    }

    async fn repair_swap_of(&self, node: &Node, invocation_id: &str) -> Result<Option<String>> {
        let swapped_in = matches!(
            node.config.materialization(),
            Materialization::Table | Materialization::Incremental
        );
        // Hive tables are swapped through Glue, not by renames (materialize/hive.rs).
        if node.resource_type != ResourceType::Model
            || !swapped_in
            || !matches!(self.hive(node), Ok(None))
        {
            return Ok(None);
        }
        let Some(target) = self.compiler.relation_of(&node.relation_key()) else {
            return Ok(None);
        };
        if target.kind == RelationKind::Cte || self.cache.kind(&target).is_some() {
            return Ok(None);
        }
        let backup = match self
            .cached_tables_named(node, &target, "backup", invocation_id)?
            .as_slice()
        {
            [] => return Ok(None),
            [one] => one.clone(),
            several => {
                let names: Vec<String> = several.iter().map(plain_name).collect();
                return Err(Error::Adapter(format!(
                    "model '{}': its table {} is missing and several tables hold a backup of \
                     it ({}): runs crashed while swapping it in, and which holds the newest \
                     rows cannot be told from their names. Rename that one back to {} \
                     (alter table ... rename to ...), drop the others, and run again",
                    node.name,
                    plain_name(&target),
                    names.join(", "),
                    target.identifier
                )));
            }
        };
        let table = Relation {
            kind: RelationKind::Table,
            ..target.clone()
        };
        let rename = self.render(node, "rename_relation", &renaming(&backup, &table))?;
        let (t, b) = (plain_name(&target), plain_name(&backup));
        self.run_all(node, &rename, true).await.map_err(|e| {
            with_note(
                e,
                &format!(
                    "model '{}': {t} is missing (a run crashed while swapping it in) and its \
                     old rows are in {b}, which could not be renamed back: rename it by hand",
                    node.name
                ),
            )
        })?;
        self.cache.set(&backup, None);
        self.cache.set(&table, Some(RelationKind::Table));
        let new_rows = self.cached_tables_named(node, &target, "tmp", invocation_id)?;
        let left = match new_rows.as_slice() {
            [] => String::new(),
            tables => format!(
                "; the crashed run's new table ({}) is left as it is: drop it by hand",
                tables.iter().map(plain_name).collect::<Vec<_>>().join(", ")
            ),
        };
        Ok(Some(format!(
            "model '{}': a swap a crashed run left half done was found: table {t} was missing \
             and its backup {b} held its old rows; renamed {b} back to {t} before building{left}",
            node.name
        )))
    }

    /// The tables the relation cache knows in `target`'s schema that are named as
    /// `temp_relation(target, suffix)` names one, in this run or any other.
    fn cached_tables_named(
        &self,
        node: &Node,
        target: &Relation,
        suffix: &str,
        invocation_id: &str,
    ) -> Result<Vec<Relation>> {
        let ours = self.temp_relation(node, target, suffix)?;
        let mut names: Vec<String> = self
            .cache
            .tables_in(&target.schema)
            .into_iter()
            .filter(|name| named_as_by_any_run(name, &ours.identifier, invocation_id))
            .collect();
        names.sort();
        let q = self.adapter.dialect().quoting;
        Ok(names
            .iter()
            .map(|name| {
                let mut r = target.with_identifier(q.as_ref(), name);
                r.kind = RelationKind::Table;
                r
            })
            .collect())
    }
}

/// Whether table `name` is `ours` (a temporary table's name in this run) as another run
/// named it. Templates that name temporary tables per run put the run's invocation id, or
/// its beginning (8 characters at least), in the name: there another run's name has other
/// hexadecimal digits. A name without it is the same in every run.
fn named_as_by_any_run(name: &str, ours: &str, invocation_id: &str) -> bool {
    let (name, ours, id) = (
        name.to_lowercase(),
        ours.to_lowercase(),
        invocation_id.to_lowercase(),
    );
    let run_part = (8..=id.len())
        .rev()
        .find_map(|n| ours.rfind(id.get(..n)?).map(|at| (at, at + n)));
    let Some((start, end)) = run_part else {
        return name == ours;
    };
    name.len() == ours.len()
        && name.get(..start) == ours.get(..start)
        && name.get(end..) == ours.get(end..)
        && name
            .get(start..end)
            .is_some_and(|part| part.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
}

#[cfg(test)]
mod tests {
    use super::named_as_by_any_run;

    const RUN: &str = "1a2b3c4d-0000-4000-8000-000000000000";

    #[test]
    fn another_runs_backup_is_told_by_its_run_part() {
        let ours = "orders__strata_backup_1a2b3c4d";
        assert!(named_as_by_any_run(
            "orders__strata_backup_9f8e7d6c",
            ours,
            RUN
        ));
        assert!(named_as_by_any_run(
            "ORDERS__strata_backup_1A2B3C4D",
            ours,
            RUN
        ));
        // Another table's backup, another step's table, a name that is not a run's id.
        assert!(!named_as_by_any_run(
            "orders2__strata_backup_9f8e7d6c",
            ours,
            RUN
        ));
        assert!(!named_as_by_any_run(
            "orders__strata_tmp_9f8e7d6c",
            ours,
            RUN
        ));
        assert!(!named_as_by_any_run(
            "orders__strata_backup_zzzzzzzz",
            ours,
            RUN
        ));
        assert!(!named_as_by_any_run(
            "orders__strata_backup_9f8e7d6c0",
            ours,
            RUN
        ));
    }

    #[test]
    fn a_name_without_the_run_id_matches_only_itself() {
        let ours = "orders__strata_backup";
        assert!(named_as_by_any_run("orders__strata_backup", ours, RUN));
        assert!(!named_as_by_any_run(
            "orders__strata_backup_9f8e7d6c",
            ours,
            RUN
        ));
    }
}
