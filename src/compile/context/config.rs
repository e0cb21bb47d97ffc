//! `config`: `config(...)` records in-file config while parsing; `config.get`,
//! `config.require` and `config.set` read and change it.

use std::sync::Arc;

use minijinja::value::{from_args, Object, Value};
use minijinja::{Error as JError, ErrorKind, State};
use serde_json::Map;

use super::RenderCtx;
use crate::compile::{globals, jerr, reuse};
use crate::project;

/// `config(...)` records in-file config at parse time; `config.get(k, default)` reads it.
#[derive(Debug)]
pub(super) struct ConfigObject(pub(super) Arc<RenderCtx>);

impl Object for ConfigObject {
    fn call(
        self: &Arc<Self>,
        _state: &State,
        args: &[Value],
    ) -> std::result::Result<Value, JError> {
        let (pos, kwargs) = globals::split_args(args)?;
        let mut overlay = Map::new();
        if let Some(first) = pos.first() {
            if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(first) {
                overlay.extend(m);
            }
        }
        if let Some(kw) = kwargs {
            for key in kw.args() {
                let v: Value = kw.get(key)?;
                let json = serde_json::to_value(&v).map_err(|e| jerr(e.to_string()))?;
                overlay.insert(key.to_string(), json);
            }
        }
        if !self.0.execute {
            reuse::config_written();
            if let Ok(mut c) = self.0.config.lock() {
                c.merge(&overlay);
            }
        }
        Ok(Value::from(""))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State,
        method: &str,
        args: &[Value],
    ) -> std::result::Result<Value, JError> {
        match method {
            "get" | "require" => reuse::config_read(),
            _ => reuse::block(),
        }
        let config = self.0.config.lock().map(|c| c.clone()).unwrap_or_default();
        match method {
            "get" => {
                let (key, default): (String, Option<Value>) = from_args(args)?;
                let key = project::config::normalise_key(&key);
                // dbt's config always holds a materialization (the default is a view).
                if key == "materialized" {
                    return Ok(Value::from(config.materialized()));
                }
                Ok(config
                    .get(&key)
                    .map(Value::from_serialize)
                    .or(default)
                    .unwrap_or(Value::from(())))
            }
            "require" => {
                let (key,): (String,) = from_args(args)?;
                config
                    .get(&project::config::normalise_key(&key))
                    .map(Value::from_serialize)
                    .ok_or_else(|| {
                        jerr(format!(
                            "config '{key}' is required for '{}'",
                            self.0.node_name
                        ))
                    })
            }
            "set" => {
                let (key, value): (String, Value) = from_args(args)?;
                let json = serde_json::to_value(&value).map_err(|e| jerr(e.to_string()))?;
                if let Ok(mut c) = self.0.config.lock() {
                    c.set(&key, json);
                }
                Ok(Value::from(""))
            }
            _ => Err(JError::new(
                ErrorKind::UnknownMethod,
                format!("config has no method '{method}'"),
            )),
        }
    }
}
