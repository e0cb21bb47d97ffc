//! Rendering for execution (compile mode): a node's SQL with refs as relations and its
//! ephemeral parents as CTEs (or its kept parse render), hooks, and free text.

use std::collections::HashSet;
use std::sync::Arc;

use minijinja::value::Value;
use minijinja::Error as JError;

use super::context::{
    model_value, model_value_in_batch, scoped_context, with_warehouse, RenderCtx,
};
use super::ctes::inject_ctes;
use super::{as_relation, mutable, reuse, CompileOptions, Compiler, Warehouse};
use crate::error::{Error, Result};
use crate::project::{self, Node, Project};

impl Compiler {
    /// Whether compiling `node` needs nothing from the warehouse: its parse render stands and
    /// it inlines no ephemeral model (whose render might).
    pub fn needs_no_warehouse(&self, node: &Node) -> bool {
        let relations = self.relations_snapshot();
        self.with_kept(node, |k| {
            k.ephemerals(|name| relations.get(name).and_then(as_relation))
                .is_some_and(|e| e.is_empty())
        })
        .unwrap_or(false)
    }

    /// `f` over the kept parse render of `node`, if there is one for its current code.
    fn with_kept<T>(&self, node: &Node, f: impl FnOnce(&reuse::Kept) -> T) -> Option<T> {
        let kept = self.kept.read().ok()?;
        kept.get(&node.unique_id)
            .filter(|k| k.checksum == node.checksum)
            .map(f)
    }

    /// How many nodes' parse renders stand for their compiled SQL.
    pub fn kept(&self) -> usize {
        self.kept.read().map(|k| k.len()).unwrap_or(0)
    }

    pub(super) fn render_node_code(
        &self,
        node: &Node,
        ctx: &Arc<RenderCtx>,
    ) -> std::result::Result<String, JError> {
        let model = model_value_in_batch(node, ctx.event_window.as_ref());
        let values = scoped_context(Self::context_values(ctx, model));
        let name = node.original_file_path.to_string_lossy();
        with_warehouse(ctx.warehouse.clone(), || {
            let code = mutable::wrap_literals(&node.raw_code);
            self.env.render_named_str(&name, &code, values)
        })
    }

    /// Compile a node for execution: refs become relations, ephemeral parents become CTEs.
    pub fn compile(&self, project: &Project, node: &Node, opts: CompileOptions) -> Result<String> {
        let (sql, ephemerals) = self.render_for_compile(node, &opts)?;
        if ephemerals.is_empty() {
            return Ok(sql);
        }
        let mut ctes: Vec<(String, String)> = Vec::new();
        let mut seen = HashSet::new();
        for name in ephemerals {
            self.collect_ephemeral(project, &name, &opts, &mut ctes, &mut seen)?;
        }
        Ok(inject_ctes(&sql, &ctes))
    }

    /// A node's SQL for execution (without its ephemeral CTEs) and the ephemeral models it
    /// refers to: the kept parse render, or a compile render.
    pub(super) fn render_for_compile(
        &self,
        node: &Node,
        opts: &CompileOptions,
    ) -> Result<(String, Vec<String>)> {
        // A kept parse render read unfiltered inputs: a microbatch batch renders again.
        if opts.extra.is_empty() && opts.fixtures.is_none() && opts.event_window.is_none() {
            let relations = self.relations_snapshot();
            let kept = self.with_kept(node, |k| {
                k.resolve(|name| relations.get(name).and_then(as_relation))
            });
            if let Some(Some(resolved)) = kept {
                return Ok(resolved);
            }
        }
        let ctx = self.render_ctx(node, true, None, opts.clone());
        let sql = self
            .render_node_code(node, &ctx)
            .map_err(|e| Error::template(&node.original_file_path, &e))?;
        let ephemerals = ctx.ephemerals.lock().map(|e| e.clone()).unwrap_or_default();
        Ok((sql, ephemerals))
    }

    /// Render text (a model's pre/post hooks) in a node's context.
    pub fn render_for_node(&self, node: &Node, name: &str, text: &str) -> Result<String> {
        let ctx = self.render_ctx(node, true, None, CompileOptions::default());
        let values = scoped_context(Self::context_values(&ctx, model_value(node)));
        self.env
            .render_named_str(name, &mutable::wrap_literals(text), values)
            .map_err(|e| Error::template(name, &e))
    }

    /// Render SQL text that may `ref()` ephemeral models (`show --inline`): they are inlined
    /// as CTEs, as in a model.
    pub fn compile_text(
        &self,
        project: &Project,
        name: &str,
        text: &str,
        warehouse: Option<Arc<dyn Warehouse>>,
    ) -> Result<String> {
        let node = Node {
            raw_code: text.to_string(),
            original_file_path: name.into(),
            ..project::Node::synthetic(project.name(), name)
        };
        self.compile(
            project,
            &node,
            CompileOptions {
                warehouse,
                ..Default::default()
            },
        )
    }

    /// Render free text (hooks, `run-operation`) with the full execution context.
    pub fn render_free(
        &self,
        name: &str,
        text: &str,
        warehouse: Option<Arc<dyn Warehouse>>,
    ) -> Result<String> {
        self.render_free_with(name, text, warehouse, Vec::new())
    }

    /// [`render_free`](Self::render_free) with more names in the context (a project hook's
    /// `results`, `schemas`, `database_schemas`).
    pub fn render_free_with(
        &self,
        name: &str,
        text: &str,
        warehouse: Option<Arc<dyn Warehouse>>,
        extra: Vec<(&'static str, Value)>,
    ) -> Result<String> {
        let ctx = self.free_render_ctx(name, warehouse);
        let mut values = Self::context_values(&ctx, Value::from(()));
        values.extend(extra);
        with_warehouse(ctx.warehouse.clone(), || {
            self.env
                .render_named_str(name, &mutable::wrap_literals(text), values)
        })
        .map_err(|e| Error::template(name, &e))
    }
}
