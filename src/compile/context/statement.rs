//! Compile-time queries: `run_query(sql)`, `{% call statement(...) %}` and `load_result`.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{Error as JError, State};

use super::RenderCtx;
use crate::compile::{globals, jerr, reuse, Table};

pub(super) fn run_query_fn(ctx: Arc<RenderCtx>) -> Value {
    Value::from_function(move |sql: String| -> std::result::Result<Value, JError> {
        reuse::block();
        if !ctx.execute {
            return Ok(Value::from(()));
        }
        let wh = ctx
            .warehouse
            .as_ref()
            .ok_or_else(|| jerr("run_query: no warehouse connection in this command"))?;
        wh.run_query(&sql).map(Table::into_value).map_err(jerr)
    })
}

/// `{% call statement('name', fetch_result=True) %}select ...{% endcall %}`.
pub(super) fn statement_fn(ctx: Arc<RenderCtx>) -> Value {
    Value::from_function(
        move |state: &State, args: Rest<Value>| -> std::result::Result<Value, JError> {
            reuse::block();
            let (pos, kwargs) = globals::split_args(&args)?;
            let name = pos.first().and_then(|v| v.as_str().map(str::to_string));
            let kwargs =
                kwargs.unwrap_or_else(|| Kwargs::from_iter(std::iter::empty::<(&str, Value)>()));
            let fetch: bool = kwargs.get::<Option<bool>>("fetch_result")?.unwrap_or(false);
            let caller: Value = kwargs.get("caller")?;
            let _ = kwargs.get::<Option<Value>>("auto_begin");
            let sql = caller.call(state, &[])?.to_string();
            if !ctx.execute {
                return Ok(Value::from(""));
            }
            let wh = ctx
                .warehouse
                .as_ref()
                .ok_or_else(|| jerr("statement: no warehouse connection in this command"))?;
            let table = wh.run_query(&sql).map_err(jerr)?;
            if let Some(name) = name {
                let data: Vec<Value> = table
                    .rows
                    .iter()
                    .map(|r| Value::from(r.iter().map(Value::from_serialize).collect::<Vec<_>>()))
                    .collect();
                let mut result = BTreeMap::new();
                result.insert("data", Value::from(if fetch { data } else { Vec::new() }));
                result.insert("table", table.into_value());
                result.insert("response", Value::from("OK"));
                if let Ok(mut r) = ctx.results.lock() {
                    r.insert(name, Value::from(result));
                }
            }
            Ok(Value::from(""))
        },
    )
}

pub(super) fn load_result_fn(ctx: Arc<RenderCtx>) -> Value {
    Value::from_function(move |name: String| -> Value {
        reuse::block();
        ctx.results
            .lock()
            .ok()
            .and_then(|r| r.get(&name).cloned())
            .unwrap_or(Value::from(()))
    })
}
