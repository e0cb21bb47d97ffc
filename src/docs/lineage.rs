//! Column-level lineage: for each column of a model, the upstream columns it is computed
//! from, worked out from the compiled SQL's AST (sqlparser), never guessed. What the AST
//! cannot tell (a table function, a subquery in an expression, a name no relation in scope
//! has) is "unknown" with the reason. The format of `target/column_lineage.json` is in
//! docs/column-lineage.md.
//!
//! A query resolves to its output columns, each with its origins: the columns of project
//! relations (models, seeds, snapshots, sources) its expression reads, through CTEs,
//! subqueries in FROM, joins, set operations, aggregates and window functions (their
//! PARTITION BY and ORDER BY columns count: they shape the value). `select *` expands
//! through the catalog's columns of the relation, or a CTE's.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

use serde_json::{json, Value};
use sqlparser::ast::{
    Expr, ObjectName, Query, Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr,
    Statement, TableFactor, WildcardAdditionalOptions,
};

use super::catalog::Catalog;
use crate::session::Session;

/// Where a column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// A column of a project relation.
    Column { node: String, column: String },
    /// What the SQL does not say; the reason.
    Unknown(String),
}

/// One output column: its name and origins (none: a constant or a row count).
type Output = (String, Vec<Origin>);

/// Per node, its columns in order with their origins.
#[derive(Default)]
pub struct ColumnLineage {
    by_node: BTreeMap<String, Vec<Output>>,
    /// How origins are shown: node id -> its name (`source.table` for a source).
    names: HashMap<String, String>,
}

/// The project relations a query can read: lowercase (schema, name) -> node id, and the
/// catalog's columns of each.
struct Relations<'a> {
    by_name: HashMap<(String, String), String>,
    catalog: &'a Catalog,
}

impl Relations<'_> {
    /// The node an object name in FROM reads (`"db"."schema"."name"`, `schema.name`).
    fn node_of(&self, name: &ObjectName) -> Option<&String> {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| p.as_ident().map(|i| i.value.to_lowercase()))
            .collect();
        match parts.as_slice() {
            [.., schema, table] => self.by_name.get(&(schema.clone(), table.clone())),
            [table] => {
                let mut found = self.by_name.iter().filter(|((_, t), _)| t == table);
                match (found.next(), found.next()) {
                    (Some((_, id)), None) => Some(id),
                    _ => None,
                }
            }
            [] => None,
        }
    }

    /// The catalog's columns of a node's relation, in order.
    fn columns_of(&self, id: &str) -> Option<Vec<String>> {
        let r = self.catalog.of(id)?;
        Some(r.columns.iter().map(|c| c.name.clone()).collect())
    }
}

/// A relation in a FROM clause: its alias and columns (None: not known).
#[derive(Clone)]
struct Item {
    alias: String,
    columns: Option<Vec<Output>>,
}

fn unknown(why: impl Into<String>) -> Vec<Origin> {
    vec![Origin::Unknown(why.into())]
}

fn add_unique(into: &mut Vec<Origin>, from: impl IntoIterator<Item = Origin>) {
    for o in from {
        if !into.contains(&o) {
            into.push(o);
        }
    }
}

struct Resolver<'a> {
    relations: &'a Relations<'a>,
}

impl Resolver<'_> {
    /// `outer`: the relations a LATERAL subquery sees from the FROM clause it is in.
    fn query(&self, q: &Query, ctes: &HashMap<String, Vec<Output>>, outer: &[Item]) -> Vec<Output> {
        let mut scope = ctes.clone();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let mut cols = self.query(&cte.query, &scope, &[]);
                // `name (a, b) as (...)` renames the columns.
                for (col, alias) in cols.iter_mut().zip(&cte.alias.columns) {
                    col.0 = alias.name.value.clone();
                }
                scope.insert(cte.alias.name.value.to_lowercase(), cols);
            }
        }
        self.set_expr(&q.body, &scope, outer)
    }

    fn set_expr(
        &self,
        body: &SetExpr,
        ctes: &HashMap<String, Vec<Output>>,
        outer: &[Item],
    ) -> Vec<Output> {
        match body {
            SetExpr::Select(select) => self.select(select, ctes, outer),
            SetExpr::Query(q) => self.query(q, ctes, outer),
            SetExpr::SetOperation { left, right, .. } => {
                // Column i of a UNION (EXCEPT, INTERSECT) comes from column i of each side;
                // its name from the left.
                let mut out = self.set_expr(left, ctes, outer);
                let right = self.set_expr(right, ctes, outer);
                for (l, r) in out.iter_mut().zip(right) {
                    add_unique(&mut l.1, r.1);
                }
                out
            }
            SetExpr::Values(values) => values
                .rows
                .first()
                .map(|row| {
                    (1..=row.len())
                        .map(|i| (format!("column{i}"), Vec::new()))
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// `before`: the relations earlier in the same FROM clause (a LATERAL subquery's).
    fn factor(
        &self,
        factor: &TableFactor,
        ctes: &HashMap<String, Vec<Output>>,
        before: &[Item],
    ) -> Item {
        match factor {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                let last = name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(|i| i.value.to_lowercase())
                    .unwrap_or_default();
                let alias_name = alias
                    .as_ref()
                    .map(|a| a.name.value.to_lowercase())
                    .unwrap_or_else(|| last.clone());
                let mut columns = if args.is_some() {
                    None
                } else if let (1, Some(cte)) = (name.0.len(), ctes.get(&last)) {
                    Some(cte.clone())
                } else {
                    self.relations.node_of(name).and_then(|id| {
                        let cols = self.relations.columns_of(id)?;
                        Some(
                            cols.into_iter()
                                .map(|c| {
                                    let origin = Origin::Column {
                                        node: id.clone(),
                                        column: c.clone(),
                                    };
                                    (c, vec![origin])
                                })
                                .collect(),
                        )
                    })
                };
                if let (Some(cols), Some(a)) = (columns.as_mut(), alias) {
                    rename(cols, &a.columns);
                }
                Item {
                    alias: alias_name,
                    columns,
                }
            }
            TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                let seen = if *lateral { before } else { &[] };
                let mut cols = self.query(subquery, ctes, seen);
                if let Some(a) = alias {
                    rename(&mut cols, &a.columns);
                }
                Item {
                    alias: alias
                        .as_ref()
                        .map(|a| a.name.value.to_lowercase())
                        .unwrap_or_default(),
                    columns: Some(cols),
                }
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                // Its relations' columns together, under the nested join's alias.
                let mut cols = Vec::new();
                let mut known = true;
                let mut items = vec![self.factor(&table_with_joins.relation, ctes, before)];
                items.extend(
                    table_with_joins
                        .joins
                        .iter()
                        .map(|j| self.factor(&j.relation, ctes, before)),
                );
                for item in items {
                    match item.columns {
                        Some(c) => cols.extend(c),
                        None => known = false,
                    }
                }
                Item {
                    alias: alias
                        .as_ref()
                        .map(|a| a.name.value.to_lowercase())
                        .unwrap_or_default(),
                    columns: known.then_some(cols),
                }
            }
            other => Item {
                alias: table_alias(other),
                columns: None,
            },
        }
    }

    fn select(
        &self,
        select: &Select,
        ctes: &HashMap<String, Vec<Output>>,
        outer: &[Item],
    ) -> Vec<Output> {
        // The FROM clause's relations first, then what an enclosing LATERAL sees.
        let mut items: Vec<Item> = Vec::new();
        for from in &select.from {
            for factor in
                std::iter::once(&from.relation).chain(from.joins.iter().map(|j| &j.relation))
            {
                let mut visible = items.clone();
                visible.extend(outer.iter().cloned());
                items.push(self.factor(factor, ctes, &visible));
            }
        }
        let local = items.len();
        items.extend(outer.iter().cloned());
        let scope = Scope { items: &items };
        let mut out = Vec::new();
        for item in &select.projection {
            match item {
                SelectItem::UnnamedExpr(expr) => {
                    out.push((expr_name(expr), scope.origins(expr)));
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    out.push((alias.value.clone(), scope.origins(expr)));
                }
                SelectItem::ExprWithAliases { expr, aliases } => {
                    for alias in aliases {
                        out.push((alias.value.clone(), scope.origins(expr)));
                    }
                }
                SelectItem::Wildcard(options) => {
                    for item in &items[..local] {
                        expand(&mut out, item, options, &scope);
                    }
                }
                SelectItem::QualifiedWildcard(kind, options) => {
                    let qualifier = match kind {
                        SelectItemQualifiedWildcardKind::ObjectName(name) => name
                            .0
                            .last()
                            .and_then(|p| p.as_ident())
                            .map(|i| i.value.to_lowercase()),
                        SelectItemQualifiedWildcardKind::Expr(_) => None,
                    };
                    match items.iter().find(|i| Some(&i.alias) == qualifier.as_ref()) {
                        Some(item) => expand(&mut out, item, options, &scope),
                        None => out.push((
                            format!("{kind}.*"),
                            unknown(format!("{kind}.* names no relation in scope")),
                        )),
                    }
                }
            }
        }
        out
    }
}

/// The alias of a FROM item whose columns are not known (a table function, UNNEST, ...):
/// `t.c` is then known to come from it.
fn table_alias(factor: &TableFactor) -> String {
    let alias = match factor {
        TableFactor::TableFunction { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::UNNEST { alias, .. }
        | TableFactor::JsonTable { alias, .. }
        | TableFactor::OpenJsonTable { alias, .. }
        | TableFactor::Pivot { alias, .. }
        | TableFactor::Unpivot { alias, .. }
        | TableFactor::MatchRecognize { alias, .. }
        | TableFactor::XmlTable { alias, .. }
        | TableFactor::SemanticView { alias, .. } => alias.as_ref(),
        _ => None,
    };
    alias
        .map(|a| a.name.value.to_lowercase())
        .unwrap_or_default()
}

fn rename(cols: &mut [Output], aliases: &[sqlparser::ast::TableAliasColumnDef]) {
    for (col, alias) in cols.iter_mut().zip(aliases) {
        col.0 = alias.name.value.clone();
    }
}

/// `*` (or `t.*`) over one relation of the FROM clause, with DuckDB's EXCLUDE and REPLACE
/// (and EXCEPT).
fn expand(out: &mut Vec<Output>, item: &Item, options: &WildcardAdditionalOptions, scope: &Scope) {
    let Some(columns) = &item.columns else {
        out.push((
            format!("{}.*", item.alias),
            unknown(format!(
                "`*` over {}, whose columns are not known (a table function, or a relation \
                 not in the catalog)",
                if item.alias.is_empty() {
                    "a relation"
                } else {
                    &item.alias
                }
            )),
        ));
        return;
    };
    let mut excluded: Vec<String> = Vec::new();
    if let Some(ex) = &options.opt_exclude {
        use sqlparser::ast::ExcludeSelectItem;
        let names = match ex {
            ExcludeSelectItem::Single(n) => vec![n.clone()],
            ExcludeSelectItem::Multiple(ns) => ns.clone(),
        };
        excluded.extend(names.iter().filter_map(|n| {
            n.0.last()
                .and_then(|p| p.as_ident())
                .map(|i| i.value.to_lowercase())
        }));
    }
    if let Some(ex) = &options.opt_except {
        excluded.push(ex.first_element.value.to_lowercase());
        excluded.extend(
            ex.additional_elements
                .iter()
                .map(|i| i.value.to_lowercase()),
        );
    }
    for (name, origins) in columns {
        if excluded.contains(&name.to_lowercase()) {
            continue;
        }
        let replaced = options.opt_replace.as_ref().and_then(|r| {
            r.items
                .iter()
                .find(|e| e.column_name.value.eq_ignore_ascii_case(name))
        });
        let origins = match replaced {
            Some(e) => scope.origins(&e.expr),
            None => origins.clone(),
        };
        out.push((name.clone(), origins));
    }
}

/// The name DuckDB gives an unaliased select item: a column's own name, else the
/// expression's text (the catalog's names take over where the column count agrees).
fn expr_name(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(i) => i.value.clone(),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|i| i.value.clone()).unwrap_or_default()
        }
        Expr::Nested(e) => expr_name(e),
        other => other.to_string(),
    }
}

struct Scope<'a> {
    items: &'a [Item],
}

impl Scope<'_> {
    /// The origins of every column `expr` reads.
    fn origins(&self, expr: &Expr) -> Vec<Origin> {
        use sqlparser::ast::visit_expressions;
        let mut out = Vec::new();
        let _ = visit_expressions(expr, |e| {
            match e {
                Expr::Subquery(_) | Expr::InSubquery { .. } | Expr::Exists { .. } => {
                    add_unique(&mut out, unknown("computed with a subquery"));
                    return ControlFlow::Break(());
                }
                Expr::Lambda(_) => {
                    add_unique(&mut out, unknown("computed with a lambda"));
                    return ControlFlow::Break(());
                }
                Expr::Identifier(i) => add_unique(&mut out, self.column(None, &i.value)),
                Expr::CompoundIdentifier(parts) => {
                    let names: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
                    add_unique(&mut out, self.compound(&names));
                }
                _ => {}
            }
            ControlFlow::Continue(())
        });
        out
    }

    /// `t.c` (a relation's column), or `c.field` (a struct column's field).
    fn compound(&self, names: &[&str]) -> Vec<Origin> {
        match names {
            [.., qualifier, column]
                if self
                    .items
                    .iter()
                    .any(|i| i.alias.eq_ignore_ascii_case(qualifier)) =>
            {
                self.column(Some(qualifier), column)
            }
            [first, ..] => self.column(None, first),
            [] => Vec::new(),
        }
    }

    fn column(&self, qualifier: Option<&str>, name: &str) -> Vec<Origin> {
        let wanted = name.to_lowercase();
        let mut found = Vec::new();
        let mut unknown_items = Vec::new();
        for item in self.items {
            if qualifier.is_some_and(|q| !item.alias.eq_ignore_ascii_case(q)) {
                continue;
            }
            match &item.columns {
                Some(cols) => {
                    if let Some((_, origins)) =
                        cols.iter().find(|(c, _)| c.to_lowercase() == wanted)
                    {
                        found.push(origins.clone());
                    }
                }
                None => unknown_items.push(item.alias.clone()),
            }
        }
        match (found.len(), unknown_items.is_empty()) {
            // One relation has it (or several, for a USING or NATURAL join's key, which
            // takes both sides' values).
            (n, true) if n > 0 => found.concat(),
            (0, true) => unknown(format!("no relation in scope has a column {name}")),
            _ => unknown(format!(
                "{name} may come from {}, whose columns are not known",
                unknown_items.join(", ")
            )),
        }
    }
}

impl ColumnLineage {
    /// Every model's columns and origins, from its compiled SQL (`compiled`, by node id).
    pub fn compute(
        session: &Session,
        compiled: &HashMap<String, String>,
        catalog: &Catalog,
    ) -> Self {
        let by_name = catalog
            .keys()
            .iter()
            .map(|(id, k)| (k.clone(), id.clone()))
            .collect();
        let relations = Relations { by_name, catalog };
        let resolver = Resolver {
            relations: &relations,
        };
        let dialect = session.adapter.sql_dialect();
        let mut by_node = BTreeMap::new();
        for node in session.project.nodes.values() {
            if node.resource_type != crate::project::ResourceType::Model
                || node.config.materialization() == crate::project::Materialization::Procedure
            {
                continue;
            }
            let Some(sql) = compiled.get(&node.unique_id) else {
                continue;
            };
            let columns = match sqlparser::parser::Parser::parse_sql(dialect.as_ref(), sql) {
                Ok(statements) => match statements.as_slice() {
                    [Statement::Query(q)] => resolver.query(q, &HashMap::new(), &[]),
                    _ => Vec::new(),
                },
                Err(e) => vec![(
                    "*".to_string(),
                    unknown(format!("the compiled SQL could not be parsed: {e}")),
                )],
            };
            // The warehouse's names, where the query's columns line up with them.
            let columns = match catalog.of(&node.unique_id) {
                Some(r) if r.columns.len() == columns.len() => r
                    .columns
                    .iter()
                    .zip(columns)
                    .map(|(c, (_, origins))| (c.name.clone(), origins))
                    .collect(),
                _ => columns,
            };
            by_node.insert(node.unique_id.clone(), columns);
        }
        let mut names = HashMap::new();
        for node in session.project.nodes.values() {
            names.insert(node.unique_id.clone(), node.name.clone());
        }
        for source in session.project.sources.values() {
            names.insert(
                source.unique_id.clone(),
                format!("{}.{}", source.source_name, source.name),
            );
        }
        ColumnLineage { by_node, names }
    }

    /// How an origin is shown: `node_name.column`, or `unknown: why`.
    pub fn shown(&self, origin: &Origin) -> String {
        match origin {
            Origin::Column { node, column } => {
                let name = self.names.get(node).map(String::as_str).unwrap_or(node);
                format!("{name}.{column}")
            }
            Origin::Unknown(why) => format!("unknown: {why}"),
        }
    }

    /// A node's columns (lowercase) and their origins as the site shows them.
    pub fn of(&self, id: &str) -> Option<BTreeMap<String, Vec<String>>> {
        let cols = self.by_node.get(id)?;
        Some(
            cols.iter()
                .map(|(name, origins)| {
                    (
                        name.to_lowercase(),
                        origins.iter().map(|o| self.shown(o)).collect(),
                    )
                })
                .collect(),
        )
    }

    /// A node's columns in order with their origins (none when it has no lineage).
    pub fn columns(&self, id: &str) -> Vec<(String, Vec<Origin>)> {
        self.by_node.get(id).cloned().unwrap_or_default()
    }

    /// target/column_lineage.json (docs/column-lineage.md).
    pub fn to_json(&self) -> Value {
        let nodes: serde_json::Map<String, Value> = self
            .by_node
            .iter()
            .map(|(id, cols)| {
                let columns: Vec<Value> = cols
                    .iter()
                    .map(|(name, origins)| {
                        let from: Vec<Value> = origins
                            .iter()
                            .map(|o| match o {
                                Origin::Column { node, column } => {
                                    json!({"node": node, "column": column})
                                }
                                Origin::Unknown(why) => json!({"unknown": why}),
                            })
                            .collect();
                        json!({"name": name, "from": from})
                    })
                    .collect();
                (id.clone(), json!({"columns": columns}))
            })
            .collect();
        json!({"version": 1, "nodes": nodes})
    }
}
