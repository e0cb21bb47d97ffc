//! `model` while parsing, which marks the render as not reusable when read.

use std::sync::Arc;

use minijinja::value::{Object, Value};
use minijinja::{Error as JError, State};

use crate::compile::reuse;

/// `model` while parsing: compile time sees the node's final config, so reading it means the
/// parse render is not kept. Type tests (`is mapping`) see what compile time sees.
#[derive(Debug)]
pub(super) struct BlocksReuse(pub(super) Value);

impl Object for BlocksReuse {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        use minijinja::value::{ObjectRepr, ValueKind};
        match self.0.kind() {
            ValueKind::Map => ObjectRepr::Map,
            ValueKind::Seq => ObjectRepr::Seq,
            _ => ObjectRepr::Plain,
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        reuse::block();
        match self.0.try_iter() {
            Ok(items) => minijinja::value::Enumerator::Values(items.collect()),
            Err(_) => minijinja::value::Enumerator::NonEnumerable,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        reuse::block();
        self.0.get_item(key).ok().filter(|v| !v.is_undefined())
    }

    fn call_method(
        self: &Arc<Self>,
        state: &State,
        method: &str,
        args: &[Value],
    ) -> std::result::Result<Value, JError> {
        reuse::block();
        self.0.call_method(state, method, args)
    }

    fn is_true(self: &Arc<Self>) -> bool {
        reuse::block();
        self.0.is_true()
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        reuse::block();
        write!(f, "{}", self.0)
    }
}
