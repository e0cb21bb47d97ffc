//! `ref()` and `source()`: record what a node reads while parsing, answer with relations
//! (or a unit test's fixtures) while compiling; `adapter` methods' relation arguments.

use std::sync::Arc;

use minijinja::value::{Rest, Value};
use minijinja::Error as JError;

use super::RenderCtx;
use crate::compile::{as_relation, globals, jerr, reuse, Quoting, Relation, RelationKind, Shared};
use crate::project::RefCall;

pub(super) fn ref_fn(ctx: Arc<RenderCtx>) -> Value {
    Value::from_function(
        move |args: Rest<Value>| -> std::result::Result<Value, JError> {
            let (pos, _kwargs) = globals::split_args(&args)?;
            let strs: Vec<String> = pos
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let (package, name) = match strs.as_slice() {
                [name] => (None, name.clone()),
                [package, name] => (Some(package.clone()), name.clone()),
                _ => {
                    return Err(jerr(
                        "ref() takes a model name, or a package and a model name",
                    ))
                }
            };
            let call = RefCall {
                package,
                name: name.clone(),
            };
            let key = call.relation_key();
            if !ctx.execute {
                if let Ok(mut refs) = ctx.refs.lock() {
                    refs.push(call);
                }
            }
            if let Some(f) = ctx.fixtures.as_ref().and_then(|f| f.refs.get(&name)) {
                return Ok(Value::from_object(f.clone()));
            }
            // While parsing, the relation as known before parsing ([`Compiler::parse`] checks
            // it later); an unknown name is reported after parsing, with its file and line.
            let Some(rel) = ctx.relations.get(&key).cloned() else {
                if ctx.execute {
                    return Err(jerr(format!("ref('{name}'): no such model or seed")));
                }
                reuse::block();
                let q = &ctx.shared.quoting;
                let placeholder =
                    Relation::new(q.as_ref(), None, "__ref__", &name, RelationKind::Table);
                return Ok(Value::from_object(placeholder));
            };
            if as_relation(&rel).is_some_and(|r| r.kind == RelationKind::Cte) {
                if let Ok(mut e) = ctx.ephemerals.lock() {
                    if !e.contains(&key) {
                        e.push(key.clone());
                    }
                }
            }
            let rel = in_window(&ctx, &key, rel);
            Ok(limited(&ctx.shared, rel))
        },
    )
}

/// In a microbatch batch, an input with an `event_time` is read for the batch's window only:
/// `(select * from <relation> where <filter>)` (dbt's event-time filter; no alias, as
/// dbt-duckdb's and dbt-athena's relations render it).
fn in_window(ctx: &RenderCtx, key: &str, rel: Value) -> Value {
    let Some((start, end)) = &ctx.event_window else {
        return rel;
    };
    let field = match ctx.shared.event_times.read() {
        Ok(times) => times.get(key).cloned(),
        Err(_) => None,
    };
    match (field, as_relation(&rel)) {
        (Some(field), Some(r)) if r.kind != RelationKind::Cte => {
            let filter = (ctx.shared.event_time_filter)(&field, start, end);
            Value::from_object(r.filtered(&filter))
        }
        _ => rel,
    }
}

/// With `--empty`, what `ref()`/`source()` give reads no rows (dbt's render_limited); its
/// name parts stay for macros that look the relation up.
fn limited(shared: &Shared, rel: Value) -> Value {
    match as_relation(&rel) {
        Some(r) if shared.empty => Value::from_object(r.selecting_nothing()),
        _ => rel,
    }
}

pub(super) fn source_fn(ctx: Arc<RenderCtx>) -> Value {
    Value::from_function(
        move |source: String, table: String| -> std::result::Result<Value, JError> {
            if !ctx.execute {
                if let Ok(mut s) = ctx.source_refs.lock() {
                    s.push((source.clone(), table.clone()));
                }
            }
            let key = (source.clone(), table.clone());
            if let Some(f) = ctx.fixtures.as_ref().and_then(|f| f.sources.get(&key)) {
                return Ok(Value::from_object(f.clone()));
            }
            // Sources are known before parsing, so parsing sees the final relation; an unknown
            // one is reported after parsing, with its file and line.
            if let Some(rel) = ctx.shared.sources.get(&(source.clone(), table.clone())) {
                let rel = in_window(
                    &ctx,
                    &format!("source:{source}.{table}"),
                    Value::from_object(rel.clone()),
                );
                return Ok(limited(&ctx.shared, rel));
            }
            if ctx.execute {
                return Err(jerr(format!(
                    "source('{source}', '{table}'): no such source table"
                )));
            }
            reuse::block();
            let q = &ctx.shared.quoting;
            Ok(Value::from_object(Relation::new(
                q.as_ref(),
                None,
                &source,
                &table,
                RelationKind::Table,
            )))
        },
    )
}

pub(super) fn relation_arg(
    method: &str,
    args: &[Value],
    q: &dyn Quoting,
) -> std::result::Result<Relation, JError> {
    let (pos, kw) = globals::split_args(args)?;
    if method == "get_columns_in_relation" {
        let v = pos
            .first()
            .ok_or_else(|| jerr("get_columns_in_relation needs a relation"))?;
        let get = |k: &str| {
            v.get_attr(k)
                .ok()
                .and_then(|x| x.as_str().map(str::to_string))
        };
        let schema = get("schema").unwrap_or_default();
        let identifier = get("identifier").unwrap_or_default();
        return Ok(Relation::new(
            q,
            get("database").as_deref(),
            &schema,
            &identifier,
            RelationKind::Table,
        ));
    }
    let mut vals: Vec<Option<String>> =
        pos.iter().map(|v| v.as_str().map(str::to_string)).collect();
    if let Some(kw) = kw {
        for (i, k) in ["database", "schema", "identifier"].iter().enumerate() {
            if let Ok(Some(v)) = kw.get::<Option<String>>(k) {
                if vals.len() <= i {
                    vals.resize(i + 1, None);
                }
                vals[i] = Some(v);
            }
        }
    }
    let db = vals.first().cloned().flatten();
    let schema = vals.get(1).cloned().flatten().unwrap_or_default();
    let ident = vals.get(2).cloned().flatten().unwrap_or_default();
    Ok(Relation::new(
        q,
        db.as_deref(),
        &schema,
        &ident,
        RelationKind::Table,
    ))
}
