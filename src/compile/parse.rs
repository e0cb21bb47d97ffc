//! The parse pass: render every node once with `execute = false` to learn its in-file
//! `config()` and its `ref()`/`source()` calls (per-node results, which the project records
//! and links: [`project::apply_parse`], [`project::link_dependencies`]), render the
//! descriptions, and name each relation.

use std::collections::HashMap;
use std::path::Path;

use minijinja::{Error as JError, ErrorKind};

use super::{reuse, CompileOptions, Compiler};
use crate::error::{Error, Result};
use crate::project::{self, Node, NodeParse, Project, ResourceType};

impl Compiler {
    /// The `event_time` of each model, seed and source that has one (final once in-file
    /// config is known): what a microbatch batch filters.
    fn fill_event_times(&self, project: &Project) {
        let mut times = HashMap::new();
        for node in project.nodes.values() {
            if let Some(field) = node.config.str("event_time") {
                times.insert(node.relation_key(), field.to_string());
                times.insert(node.name.clone(), field.to_string());
            }
        }
        for source in project.sources.values() {
            if let Some(field) = source.config.str("event_time") {
                times.insert(
                    format!("source:{}.{}", source.source_name, source.name),
                    field.to_string(),
                );
            }
        }
        if let Ok(mut shared) = self.shared.event_times.write() {
            *shared = times;
        }
    }

    /// Render every node in parse mode: record refs, sources and in-file config, then resolve
    /// the graph's edges and each relation's name. Errors name the file and line.
    pub fn parse(&self, project: &mut Project) -> Result<()> {
        project::materialize_pending_tests(project)?;
        // Each relation's name as the config known before parsing gives it. ref() and `this`
        // answer with these, so a render that ends up with the same relations is the compiled
        // one (checked below, after in-file config has had its say).
        // STRATA_RENDER_TWICE=1 renders every node again at compile time (to compare).
        let keep_renders = std::env::var_os("STRATA_RENDER_TWICE").is_none()
            && self.assign_relations(project).is_ok();
        let speculative = self.relations_snapshot();
        let (parsed, mut kept) = self.render_nodes(project, keep_renders)?;
        let disabled = project::apply_parse(project, parsed);
        self.render_descriptions(project)?;
        project::link_dependencies(project, &disabled)?;
        self.assign_relations(project)?;
        self.graph.fill(project);
        self.fill_event_times(project);
        // A kept render stands only if every relation it saw (its refs, its own `this`) is
        // the one compile would give it.
        let parsed = self.relations_snapshot();
        let changes = reuse::Changes::between(&speculative, &parsed);
        kept.retain(|id, k| {
            project
                .nodes
                .get(id)
                .is_some_and(|node| changes.leave_standing(k, &node.relation_key()))
        });
        if let Ok(mut k) = self.kept.write() {
            *k = kept;
        }
        Ok(())
    }

    /// Render every node but seeds (on all cores; each render only reads the project).
    /// Returns what each render learnt, and the renders that may stand for the compiled SQL
    /// by unique id.
    fn render_nodes(
        &self,
        project: &Project,
        keep_renders: bool,
    ) -> Result<(Vec<NodeParse>, HashMap<String, reuse::Kept>)> {
        let nodes: Vec<&Node> = project
            .nodes
            .values()
            .filter(|n| n.resource_type != ResourceType::Seed)
            .collect();
        let results = crate::parallel::map(&nodes, |node| self.parse_node(node, keep_renders));
        let mut parsed = Vec::with_capacity(results.len());
        let mut kept = HashMap::new();
        for result in results {
            let (p, k) = result?;
            if let Some(k) = k {
                kept.insert(p.unique_id.clone(), k);
            }
            parsed.push(p);
        }
        Ok((parsed, kept))
    }

    /// Render one node in parse mode: what it learnt, and the render if it may stand for
    /// the compiled SQL.
    fn parse_node(
        &self,
        node: &Node,
        keep_renders: bool,
    ) -> Result<(NodeParse, Option<reuse::Kept>)> {
        let ctx = self.render_ctx(node, false, None, CompileOptions::default());
        reuse::begin();
        let rendered = self.render_node_code(node, &ctx);
        let mut seen =
            reuse::end().filter(|_| keep_renders && !reuse::mentions_execute(&node.raw_code));
        let sql = match rendered {
            Ok(sql) => sql,
            // As dbt's parser: a call to something undefined does not stop the project;
            // the node fails when it is compiled (only if it is selected).
            Err(e) if defers_to_compile(&e) => {
                seen = None;
                String::new()
            }
            Err(e) => return Err(Error::template(&node.original_file_path, &e)),
        };
        let config = ctx.config.lock().map(|c| c.clone()).unwrap_or_default();
        let refs = ctx.refs.lock().map(|r| r.clone()).unwrap_or_default();
        let sources = ctx
            .source_refs
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        let kept = seen.map(|seen| reuse::Kept {
            checksum: node.checksum.clone(),
            sql,
            refs: refs.iter().map(|r| r.relation_key()).collect(),
            seen,
        });
        let parsed = NodeParse {
            unique_id: node.unique_id.clone(),
            config,
            refs,
            source_refs: sources,
        };
        Ok((parsed, kept))
    }

    /// Descriptions may use `{{ doc('name') }}` (and other Jinja), as in dbt.
    fn render_descriptions(&self, project: &mut Project) -> Result<()> {
        let render = |path: &Path, text: &mut String| -> Result<()> {
            if text.contains("{{") || text.contains("{%") {
                *text = self
                    .env
                    .render_str(text, ())
                    .map_err(|e| Error::template(path, &e))?;
            }
            Ok(())
        };
        for node in project.nodes.values_mut() {
            let path = node
                .patch_path
                .clone()
                .unwrap_or_else(|| node.original_file_path.clone());
            render(&path, &mut node.description)?;
            for c in &mut node.columns {
                render(&path, &mut c.description)?;
            }
        }
        for source in project.sources.values_mut() {
            let path = source.original_file_path.clone();
            render(&path, &mut source.description)?;
            render(&path, &mut source.source_description)?;
            for c in &mut source.columns {
                render(&path, &mut c.description)?;
            }
        }
        Ok(())
    }
}

/// Errors a parse render leaves to the node's compile: calling a function, macro or method
/// that does not exist, or using an undefined value. Syntax errors and raised compiler
/// errors stop the project at parse, as in dbt.
fn defers_to_compile(e: &JError) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(j) = err.downcast_ref::<JError>() {
            if matches!(
                j.kind(),
                ErrorKind::UnknownFunction | ErrorKind::UnknownMethod | ErrorKind::UndefinedError
            ) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}
