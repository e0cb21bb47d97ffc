//! Which nodes a command acts on: `--select`/`--exclude`, `--selector`, selectors.yml's
//! default, indirect selection of tests, and `--defer` to another run's relations.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::options::{Command, RunOptions};
use super::Session;
use crate::compile::{Compiler, RelationKind};
use crate::error::{Error, Result};
use crate::graph::selectors_file::Selectors;
use crate::graph::{IndirectSelection, PreviousState, SelectContext, Selection};
use crate::project::ResourceType;

impl Session {
    /// The nodes a command acts on, parents before children. Tests follow the nodes they test
    /// (indirect selection, dbt's eager by default: a test is in when any node it tests is
    /// selected).
    pub fn select(
        &self,
        cmd: Command,
        opts: &RunOptions,
        types: Option<&[ResourceType]>,
    ) -> Result<Vec<String>> {
        let chosen = self.resolve_selection(opts)?;
        Ok(self.nodes_in(chosen.as_ref(), cmd, opts, types))
    }

    /// The nodes of `chosen` (all when `None`) the command acts on, in graph order.
    pub fn nodes_in(
        &self,
        chosen: Option<&BTreeSet<String>>,
        cmd: Command,
        opts: &RunOptions,
        types: Option<&[ResourceType]>,
    ) -> Vec<String> {
        let types = types.unwrap_or(cmd.resource_types());
        self.graph
            .topo_order()
            .into_iter()
            .filter(|id| chosen.is_none_or(|c| c.contains(id)))
            .filter(|id| {
                self.project.nodes.get(id).is_some_and(|n| {
                    types.contains(&n.resource_type)
                        && opts
                            .resource_types
                            .as_ref()
                            .is_none_or(|only| only.contains(&n.resource_type))
                        && !opts.exclude_resource_types.contains(&n.resource_type)
                })
            })
            .collect()
    }

    /// The nodes and sources `--select`/`--exclude`, `--selector` or the project's default
    /// selector choose; `None` when nothing narrows the selection (everything).
    pub fn resolve_selection(&self, opts: &RunOptions) -> Result<Option<BTreeSet<String>>> {
        if let Some(ids) = &opts.retry_ids {
            return Ok(Some(ids.clone()));
        }
        let (selection, file) = self.chosen_selection(opts, true)?;
        let Some(selection) = selection else {
            return Ok(None);
        };
        let ctx = SelectContext {
            project: &self.project,
            graph: &self.graph,
            state: opts.state.as_deref(),
            selectors: file.as_ref(),
            stale: self.stale.get(),
        };
        let mut unmatched = Vec::new();
        let chosen = selection.resolve(&ctx, &mut unmatched)?;
        for word in unmatched {
            let msg = format!("The selection criterion '{word}' does not match any enabled nodes");
            if opts.warning_is_error("NoNodesForSelectionCriteria") {
                return Err(Error::Usage(format!(
                    "{msg} (a warning, made an error by --warn-error)"
                )));
            }
            self.printer.warn("no_nodes_for_selection", &msg);
        }
        Ok(Some(chosen))
    }

    /// Whether the selection the command acts on (`--select`/`--exclude`, `--selector` or
    /// the default selector, with the selectors it names) uses `method` (`reuse:stale`
    /// needs work done before selecting).
    pub fn selection_uses(&self, opts: &RunOptions, method: &str) -> Result<bool> {
        if opts.retry_ids.is_some() {
            return Ok(false);
        }
        let (selection, file) = self.chosen_selection(opts, false)?;
        let named = |name: &str| file.as_ref()?.get(name).ok().cloned();
        Ok(selection.is_some_and(|s| s.uses_method(method, &named)))
    }

    /// The selection `--selector`, `--select`/`--exclude` or selectors.yml's default
    /// choose, and the selectors file. `announce`: say which default or override applies.
    fn chosen_selection(
        &self,
        opts: &RunOptions,
        announce: bool,
    ) -> Result<(Option<Selection>, Option<Selectors>)> {
        // The file is read (and checked) on every command, as dbt does.
        let file = self.selectors(opts.indirect_selection)?;
        let selection = match &opts.selector {
            Some(name) => {
                if announce && (!opts.select.is_empty() || !opts.exclude.is_empty()) {
                    self.printer.warn(
                        "selector_overrides",
                        "The --select and --exclude arguments are being ignored because \
                         --selector is provided",
                    );
                }
                let Some(file) = &file else {
                    return Err(Error::Usage(format!(
                        "--selector {name}: the project has no selectors.yml"
                    )));
                };
                Some(file.get(name)?.clone())
            }
            None => {
                match Selection::from_cli(&opts.select, &opts.exclude, opts.indirect_selection)? {
                    Some(s) => Some(s),
                    None => match file.as_ref().and_then(|f| f.default_selection()) {
                        Some((name, s)) => {
                            if announce {
                                self.printer.note(
                                    "default_selector",
                                    &format!("Using default selector {name}"),
                                );
                            }
                            Some(s.clone())
                        }
                        None => None,
                    },
                }
            }
        };
        Ok((selection, file))
    }

    /// dbt's `--defer`: the models and seeds a command does not select are read where the
    /// `--state` run built them, when this target has no such relation (or always, with
    /// `favor_state`). Slim CI builds the changed models in its own schema on top of
    /// production's. Returns how many were deferred.
    pub async fn defer(
        &self,
        selected: &[String],
        state: &PreviousState,
        favor_state: bool,
    ) -> Result<usize> {
        let selected: HashSet<&str> = selected.iter().map(String::as_str).collect();
        let mut listed: HashMap<(String, String), HashSet<String>> = HashMap::new();
        let mut deferred = Vec::new();
        for node in self.project.nodes.values() {
            if selected.contains(node.unique_id.as_str()) || node.is_ephemeral() {
                continue;
            }
            let Some((database, schema, identifier, is_view)) = state.relation_of(&node.unique_id)
            else {
                continue;
            };
            let Some(current) = self.compiler.relation_of(&node.relation_key()) else {
                continue;
            };
            if !favor_state {
                let db = current.database.clone().unwrap_or_default();
                let key = (db.clone(), current.schema.clone());
                if !listed.contains_key(&key) {
                    // A schema that does not exist yet holds nothing.
                    let names = self
                        .adapter
                        .list_relations(&db, &current.schema)
                        .await
                        .unwrap_or_default();
                    let names = names.into_iter().map(|(n, _)| n.to_lowercase()).collect();
                    listed.insert(key.clone(), names);
                }
                if listed[&key].contains(&current.identifier.to_lowercase()) {
                    continue;
                }
            }
            let kind = if is_view {
                RelationKind::View
            } else {
                RelationKind::Table
            };
            let rel = self.compiler.relation(database, schema, identifier, kind);
            deferred.push((node.name.clone(), rel));
        }
        let n = deferred.len();
        self.compiler.defer_to(&self.project, deferred);
        Ok(n)
    }

    /// The project's selectors.yml, rendered with `var()`/`env_var()` as dbt does.
    fn selectors(&self, mode: IndirectSelection) -> Result<Option<Selectors>> {
        let vars = &self.project.vars;
        Selectors::load(&self.project.root, mode, &|path, text| {
            Compiler::render_text(path, text, vars)
        })
    }
}
