//! `api` (`api.Relation.create(...)`, `api.Column.create(...)`) and the column objects that
//! `adapter.get_columns_in_relation` returns, with dbt's `Column` methods packages call
//! (`quoted`, `data_type`, `is_string()`, `string_size()` ...).

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error as JError, State};

use super::{globals, jerr, unknown_method, Quoting, Relation, RelationKind};

pub use super::StringColumns;

/// The `api` global.
#[derive(Debug)]
pub(super) struct Api {
    pub(super) quoting: Arc<dyn Quoting>,
    pub(super) strings: StringColumns,
}

impl Object for Api {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "Relation" => Some(Value::from_object(RelationFactory(self.clone()))),
            "Column" => Some(Value::from_object(ColumnFactory(self.clone()))),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct RelationFactory(Arc<Api>);

impl Object for RelationFactory {
    fn call_method(
        self: &Arc<Self>,
        _state: &State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JError> {
        if method != "create" {
            return Err(unknown_method("api.Relation", method));
        }
        let (pos, kwargs) = globals::split_args(args)?;
        let part = |i: usize, name: &str| -> Result<Option<String>, JError> {
            let from_kwargs = match &kwargs {
                Some(k) => k.get::<Option<String>>(name)?,
                None => None,
            };
            Ok(from_kwargs.or_else(|| pos.get(i).and_then(|v| v.as_str().map(str::to_string))))
        };
        let database = part(0, "database")?;
        let schema = part(1, "schema")?.unwrap_or_default();
        let identifier = part(2, "identifier")?.unwrap_or_default();
        let kind = part(3, "type")?.map_or(RelationKind::Table, |t| RelationKind::from_dbt(&t));
        let q = self.0.quoting.as_ref();
        let relation = if schema.is_empty() {
            // A relation named by its identifier only (a CTE, a temporary table).
            Relation::raw(&identifier, &q.quote(&identifier), kind)
        } else {
            Relation::new(q, database.as_deref(), &schema, &identifier, kind)
        };
        Ok(Value::from_object(relation))
    }
}

#[derive(Debug)]
struct ColumnFactory(Arc<Api>);

impl Object for ColumnFactory {
    fn call_method(
        self: &Arc<Self>,
        _state: &State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JError> {
        match method {
            "create" => {
                let (name, dtype): (String, String) = minijinja::value::from_args(args)?;
                Ok(self.0.column(name, self.0.translate_type(dtype)))
            }
            "translate_type" => {
                let (dtype,): (String,) = minijinja::value::from_args(args)?;
                Ok(Value::from(self.0.translate_type(dtype)))
            }
            "string_type" => {
                let (size,): (u32,) = minijinja::value::from_args(args)?;
                Ok(Value::from((self.0.strings.type_of_size)(size)))
            }
            _ => Err(unknown_method("api.Column", method)),
        }
    }
}

impl Api {
    /// dbt's `Column.translate_type`: the adapter's spelling of a type label.
    fn translate_type(&self, dtype: String) -> String {
        let upper = dtype.to_uppercase();
        self.strings
            .labels
            .iter()
            .find(|(label, _)| *label == upper)
            .map_or(dtype, |(_, spelt)| spelt.to_string())
    }

    /// A column as dbt's `Column(name, dtype)` (what `get_columns_in_relation` returns).
    pub(super) fn column(&self, name: String, dtype: String) -> Value {
        Value::from_object(Column {
            name,
            dtype,
            strings: self.strings,
            quoting: self.quoting.clone(),
        })
    }
}

/// dbt's `Column`.
struct Column {
    name: String,
    dtype: String,
    strings: StringColumns,
    quoting: Arc<dyn Quoting>,
}

impl std::fmt::Debug for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Column {} ({})>", self.name, self.dtype)
    }
}

impl Column {
    /// The type name without its size (`VARCHAR(10)` -> `varchar`).
    fn base_type(&self) -> String {
        self.dtype
            .split('(')
            .next()
            .unwrap_or_default()
            .trim()
            .to_lowercase()
    }

    fn is_string(&self) -> bool {
        matches!(
            self.base_type().as_str(),
            "text" | "character varying" | "character" | "varchar" | "string"
        )
    }

    fn is_integer(&self) -> bool {
        matches!(
            self.base_type().as_str(),
            "smallint"
                | "integer"
                | "bigint"
                | "tinyint"
                | "hugeint"
                | "int"
                | "int2"
                | "int4"
                | "int8"
                | "ubigint"
                | "uinteger"
                | "usmallint"
                | "utinyint"
        )
    }

    fn is_float(&self) -> bool {
        matches!(
            self.base_type().as_str(),
            "real" | "float" | "float4" | "float8" | "double" | "double precision"
        )
    }

    fn is_numeric(&self) -> bool {
        matches!(self.dtype.to_lowercase().as_str(), "numeric" | "decimal")
    }

    /// The declared size of a string column (`VARCHAR(10)`), if any.
    fn char_size(&self) -> Option<u32> {
        let inner = self.dtype.split_once('(')?.1.strip_suffix(')')?;
        inner.trim().parse().ok()
    }

    fn string_size(&self) -> Result<u32, JError> {
        if !self.is_string() {
            return Err(jerr(format!(
                "string_size() called on column '{}', which is not a string ({})",
                self.name, self.dtype
            )));
        }
        Ok(self.char_size().unwrap_or(self.strings.default_size))
    }

    /// dbt's `Column.data_type`: strings as the adapter's sized string type, the rest as
    /// the warehouse says.
    fn data_type(&self) -> String {
        if self.is_string() {
            self.string_size()
                .map_or_else(|_| self.dtype.clone(), self.strings.type_of_size)
        } else {
            self.dtype.clone()
        }
    }
}

impl Object for Column {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "name" | "column" => Value::from(self.name.clone()),
            "dtype" => Value::from(self.dtype.clone()),
            "data_type" | "expanded_data_type" => Value::from(self.data_type()),
            "quoted" => Value::from(self.quoting.quote(&self.name)),
            "char_size" => Value::from(self.char_size()),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["name", "dtype", "data_type", "quoted"])
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JError> {
        Ok(match method {
            "is_string" => Value::from(self.is_string()),
            "is_integer" => Value::from(self.is_integer()),
            "is_float" => Value::from(self.is_float()),
            "is_numeric" => Value::from(self.is_numeric()),
            "is_number" => Value::from(self.is_integer() || self.is_float() || self.is_numeric()),
            "string_size" => Value::from(self.string_size()?),
            "literal" => {
                let (value,): (Value,) = minijinja::value::from_args(args)?;
                Value::from(format!("{value}::{}", self.data_type()))
            }
            "can_expand_to" => {
                let (other,): (Value,) = minijinja::value::from_args(args)?;
                let Some(other) = other.downcast_object_ref::<Column>() else {
                    return Ok(Value::from(false));
                };
                let both = self.is_string() && other.is_string();
                Value::from(both && other.string_size()? > self.string_size()?)
            }
            _ => return Err(unknown_method("column", method)),
        })
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Column {} ({})>", self.name, self.dtype)
    }
}
