//! Lists and dicts that `{% do x.append(...) %}` and `{% do d.update(...) %}` can change, as
//! in Jinja2 (dbt macros lean on both). MiniJinja's own values are immutable, so a list or
//! dict literal assigned with `{% set name = [...] %}` / `{% set name = {...} %}` is wrapped
//! in `__strata_mutable(...)` when the template is loaded (the file's lines and the
//! manifest's raw code stay as written), which makes it one of the objects below.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard};

use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use super::jerr;
use crate::project::jinja_blocks;

/// The global that wraps literals.
pub const WRAPPER: &str = "__strata_mutable";

/// `__strata_mutable(value)`: a list becomes a [`List`] and a dict a [`Dict`], their
/// nested lists and dicts too; anything else (a string, a relation, a number, a list or
/// dict already changeable) is returned as it is.
pub fn wrap(value: Value) -> Value {
    if let Some(items) = value.downcast_object_ref::<Vec<Value>>() {
        let items = items.iter().cloned().map(wrap).collect();
        return Value::from_object(List(Mutex::new(items)));
    }
    // What `a + b` and similar make of two lists: a lazy sequence, now a list.
    if value
        .as_object()
        .is_some_and(|o| o.repr() == ObjectRepr::Iterable)
    {
        let items = value
            .try_iter()
            .map(|i| i.map(wrap).collect())
            .unwrap_or_default();
        return Value::from_object(List(Mutex::new(items)));
    }
    if let Some(map) = value.downcast_object_ref::<IndexMap<Value, Value>>() {
        let pairs = map
            .iter()
            .map(|(k, v)| (k.clone(), wrap(v.clone())))
            .collect();
        return Value::from_object(Dict(Mutex::new(pairs)));
    }
    value
}

/// `namespace(...)` whose initial lists and dicts can change (`ns.items.append(x)`).
pub fn namespace(defaults: Option<Value>) -> Result<Value, Error> {
    let Some(defaults) = defaults else {
        return minijinja::functions::namespace(None);
    };
    let pairs: Vec<(Value, Value)> = defaults
        .try_iter()
        .map(|keys| {
            keys.map(|k| {
                let v = defaults.get_item(&k).unwrap_or_default();
                (k, wrap(v))
            })
            .collect()
        })
        .map_err(|_| jerr("namespace() takes keyword arguments or a dict"))?;
    minijinja::functions::namespace(Some(Value::from_object(Dict(Mutex::new(pairs)))))
}

/// Lists and dicts print as Python prints them (dbt renders `{{ cols }}` through Python):
/// `['a', 'b']`, `{'k': None}`; everything else as MiniJinja does.
pub fn formatter(out: &mut minijinja::Output, state: &State, value: &Value) -> Result<(), Error> {
    use minijinja::value::ValueKind;
    // A relation is a mapping (dbt's are) that renders as its SQL name.
    let relation = value.downcast_object_ref::<super::Relation>().is_some();
    if matches!(value.kind(), ValueKind::Seq | ValueKind::Map) && !value.is_safe() && !relation {
        let mut text = String::new();
        python_repr(value, &mut text);
        return out.write_str(&text).map_err(|e| jerr(e.to_string()));
    }
    minijinja::escape_formatter(out, state, value)
}

fn python_repr(value: &Value, out: &mut String) {
    use minijinja::value::ValueKind;
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::String => out.push_str(&crate::python_text::repr_str(
            value.as_str().unwrap_or_default(),
        )),
        ValueKind::Seq => {
            out.push('[');
            for (i, item) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_repr(&item, out);
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            for (i, key) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_repr(&key, out);
                out.push_str(": ");
                python_repr(&value.get_item(&key).unwrap_or_default(), out);
            }
            out.push('}');
        }
        _ => out.push_str(&value.to_string()),
    }
}

/// Wrap the right-hand side of `{% set name = [...] %}` and `{% set name = {...} %}` tags.
/// Returns the text unchanged (borrowed) when there is nothing to wrap. Tags are found by
/// the project's one tag scanner: `{% raw %}` blocks, comments and strings are left alone.
pub fn wrap_literals(source: &str) -> Cow<'_, str> {
    if !source.contains("set") {
        return Cow::Borrowed(source);
    }
    let mut out = String::new();
    let mut copied = 0;
    for tag in jinja_blocks::tags(source) {
        if tag.name != "set" {
            continue;
        }
        let Some(eq) = tag.args.find('=') else {
            continue; // a block set: `{% set x %}...{% endset %}`
        };
        let (Some(target), Some(after_eq)) = (tag.args.get(..eq), tag.args.get(eq + 1..)) else {
            continue;
        };
        let target = target.trim();
        let expr = after_eq.trim();
        // `name`, `ns.attr` or `a, b` (unpacking) on the left; anything on the right: what
        // is not a list or dict passes through unchanged.
        let simple_target = !target.is_empty()
            && target
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == ',' || c == ' ');
        if !simple_target || expr.is_empty() || after_eq.starts_with('=') {
            continue;
        }
        // Byte offsets of the expression inside `source`.
        let expr_start = tag.args_start + eq + 1 + (after_eq.len() - after_eq.trim_start().len());
        out.push_str(source.get(copied..expr_start).unwrap_or_default());
        out.push_str(WRAPPER);
        out.push('(');
        out.push_str(expr);
        out.push(')');
        copied = expr_start + expr.len();
    }
    if copied == 0 {
        return Cow::Borrowed(source);
    }
    out.push_str(source.get(copied..).unwrap_or_default());
    Cow::Owned(out)
}

fn arity(method: &str, args: &[Value], n: usize) -> Result<(), Error> {
    if args.len() != n {
        return Err(jerr(format!(
            "{method}() takes {n} argument(s), {} given",
            args.len()
        )));
    }
    Ok(())
}

/// A Python-style list.
#[derive(Debug)]
pub struct List(Mutex<Vec<Value>>);

impl List {
    fn items(&self) -> MutexGuard<'_, Vec<Value>> {
        // A panic while the lock was held cannot leave the Vec half-changed (each method
        // changes it in one call), so a poisoned lock is still usable.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Object for List {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = self.items();
        let i = i64::try_from(key.clone()).ok()?;
        let i = if i < 0 { items.len() as i64 + i } else { i };
        items.get(usize::try_from(i).ok()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items().clone())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.items().len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let mut items = self.items();
        match method {
            "append" => {
                arity(method, args, 1)?;
                items.push(wrap(args[0].clone()));
            }
            "extend" => {
                arity(method, args, 1)?;
                let more = args[0]
                    .try_iter()
                    .map_err(|_| jerr("extend() needs a sequence"))?;
                items.extend(more.map(wrap));
            }
            "insert" => {
                arity(method, args, 2)?;
                let i =
                    i64::try_from(args[0].clone()).map_err(|_| jerr("insert() needs an index"))?;
                let len = items.len() as i64;
                let i = if i < 0 { (len + i).max(0) } else { i.min(len) };
                items.insert(i as usize, wrap(args[1].clone()));
            }
            "pop" => {
                let i = match args {
                    [] => items.len() as i64 - 1,
                    [i] => i64::try_from(i.clone()).map_err(|_| jerr("pop() needs an index"))?,
                    _ => return Err(jerr("pop() takes at most 1 argument")),
                };
                let len = items.len() as i64;
                let i = if i < 0 { len + i } else { i };
                if i < 0 || i >= len {
                    return Err(jerr("pop index out of range"));
                }
                return Ok(items.remove(i as usize));
            }
            "remove" => {
                arity(method, args, 1)?;
                let Some(i) = items.iter().position(|v| v == &args[0]) else {
                    return Err(jerr(format!("list.remove({}): not in list", args[0])));
                };
                items.remove(i);
            }
            "index" => {
                arity(method, args, 1)?;
                return items
                    .iter()
                    .position(|v| v == &args[0])
                    .map(Value::from)
                    .ok_or_else(|| jerr(format!("{} is not in list", args[0])));
            }
            "count" => {
                arity(method, args, 1)?;
                return Ok(Value::from(items.iter().filter(|v| *v == &args[0]).count()));
            }
            "clear" => items.clear(),
            "reverse" => items.reverse(),
            "copy" => return Ok(Value::from_object(List(Mutex::new(items.clone())))),
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        }
        Ok(Value::from(()))
    }
}

/// A Python-style dict (insertion order kept; dbt macros build small ones).
#[derive(Debug)]
pub struct Dict(Mutex<Vec<(Value, Value)>>);

impl Dict {
    fn pairs(&self) -> MutexGuard<'_, Vec<(Value, Value)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn set_pair(pairs: &mut Vec<(Value, Value)>, key: Value, value: Value) {
    match pairs.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => pairs.push((key, value)),
    }
}

impl Object for Dict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.pairs()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.pairs().iter().map(|(k, _)| k.clone()).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.pairs().len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let mut pairs = self.pairs();
        match method {
            "update" => {
                for other in args {
                    let keys = other
                        .try_iter()
                        .map_err(|_| jerr("update() needs a mapping"))?;
                    for k in keys {
                        let v = other.get_item(&k).unwrap_or_default();
                        set_pair(&mut pairs, k, wrap(v));
                    }
                }
            }
            "pop" => {
                let (key, default) = match args {
                    [k] => (k, None),
                    [k, d] => (k, Some(d.clone())),
                    _ => return Err(jerr("pop() takes 1 or 2 arguments")),
                };
                return match pairs.iter().position(|(k, _)| k == key) {
                    Some(i) => Ok(pairs.remove(i).1),
                    None => default.ok_or_else(|| jerr(format!("pop({key}): no such key"))),
                };
            }
            "setdefault" => {
                let (key, default) = match args {
                    [k] => (k.clone(), Value::from(())),
                    [k, d] => (k.clone(), wrap(d.clone())),
                    _ => return Err(jerr("setdefault() takes 1 or 2 arguments")),
                };
                if let Some((_, v)) = pairs.iter().find(|(k, _)| *k == key) {
                    return Ok(v.clone());
                }
                pairs.push((key, default.clone()));
                return Ok(default);
            }
            "clear" => pairs.clear(),
            "copy" => return Ok(Value::from_object(Dict(Mutex::new(pairs.clone())))),
            // items/keys/values/get: the pycompat callback answers them from the mapping.
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        }
        Ok(Value::from(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_the_right_hand_side_of_sets() {
        let src = "{% set a = [] %}{%- set b = {'k': 1} -%}{% set ns.x, y = f(1) %}{% set d %}[]{% endset %}{% if a == [] %}{% endif %}";
        assert_eq!(
            wrap_literals(src),
            "{% set a = __strata_mutable([]) %}{%- set b = __strata_mutable({'k': 1}) -%}{% set ns.x, y = __strata_mutable(f(1)) %}{% set d %}[]{% endset %}{% if a == [] %}{% endif %}"
        );
        assert!(matches!(wrap_literals("select 1"), Cow::Borrowed(_)));
        let raw = "{% raw %}{% set a = [] %}{% endraw %}";
        assert_eq!(wrap_literals(raw), raw);
        // Line breaks stay where they were.
        let multi = "{% set cols = [\n 'a',\n 'b'\n] %}";
        assert_eq!(wrap_literals(multi).matches('\n').count(), 3);
    }

    #[test]
    fn strings_and_comments_do_not_end_or_start_tags() {
        // A `%}` inside a string is not the tag's end.
        assert_eq!(
            wrap_literals(r#"{% set x = "%}" %}"#),
            r#"{% set x = __strata_mutable("%}") %}"#
        );
        assert_eq!(
            wrap_literals("{% set x = ['%}', 'ё'] -%}"),
            "{% set x = __strata_mutable(['%}', 'ё']) -%}"
        );
        // A comment's text is not a tag.
        let comment = "{# {% set y = [] %} #}select 1";
        assert_eq!(wrap_literals(comment), comment);
    }

    #[test]
    fn only_plain_lists_and_dicts_change_kind() {
        let list = wrap(Value::from(vec![Value::from(vec![Value::from(1)])]));
        let outer = list.downcast_object_ref::<List>().expect("a List");
        assert!(
            outer.items()[0].downcast_object_ref::<List>().is_some(),
            "nested too"
        );
        let s = Value::from("text");
        assert_eq!(wrap(s.clone()), s);
        // A changeable list stays the same object (aliasing as in Python).
        let again = wrap(list.clone());
        assert!(std::ptr::eq(
            again.downcast_object_ref::<List>().expect("List"),
            outer
        ));
    }

    #[test]
    fn python_repr_of_containers() {
        let mut out = String::new();
        let v = Value::from_serialize(serde_json::json!({"a": [1, "it's", null, true], "b": "x"}));
        python_repr(&v, &mut out);
        assert_eq!(out, r#"{'a': [1, "it's", None, True], 'b': 'x'}"#);
    }
}
