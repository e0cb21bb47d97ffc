//! Query results as templates see them (`run_query`, `load_result`): an agate-like table
//! with `rows`, `columns[i].values()` and rows indexable by position or column name.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};

/// Rows fetched from the warehouse, values already converted to JSON scalars.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
    /// The engine's type of each column, where it reports them with the rows (Athena).
    pub column_types: Vec<String>,
}

impl Table {
    pub fn into_value(self) -> Value {
        Value::from_object(TableObject(Arc::new(self)))
    }
}

#[derive(Debug)]
struct TableObject(Arc<Table>);

#[derive(Debug)]
struct RowObject {
    table: Arc<Table>,
    index: usize,
}

/// `table.columns`: a sequence of columns that agate also indexes by name
/// (`columns['total'].values()`).
#[derive(Debug)]
struct ColumnsObject(Arc<Table>);

impl Object for ColumnsObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let index = match key.as_usize() {
            Some(i) => i,
            None => self
                .0
                .columns
                .iter()
                .position(|c| Some(c.as_str()) == key.as_str())?,
        };
        (index < self.0.columns.len()).then(|| {
            Value::from_object(ColumnObject {
                table: self.0.clone(),
                index,
            })
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.columns.len())
    }
}

#[derive(Debug)]
struct ColumnObject {
    table: Arc<Table>,
    index: usize,
}

fn cell(v: &serde_json::Value) -> Value {
    Value::from_serialize(v)
}

/// An agate table iterates (and indexes) as its rows: `{% for row in load_result(..)['table'] %}`.
impl Object for TableObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let t = &self.0;
        if let Some(index) = key.as_usize() {
            return (index < t.rows.len()).then(|| {
                Value::from_object(RowObject {
                    table: t.clone(),
                    index,
                })
            });
        }
        match key.as_str()? {
            "rows" => Some(Value::from(
                (0..t.rows.len())
                    .map(|index| {
                        Value::from_object(RowObject {
                            table: t.clone(),
                            index,
                        })
                    })
                    .collect::<Vec<_>>(),
            )),
            "columns" => Some(Value::from_object(ColumnsObject(t.clone()))),
            "column_names" => Some(Value::from(t.columns.clone())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.rows.len())
    }
}

impl Object for RowObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let row = self.table.rows.get(self.index)?;
        if let Some(i) = key.as_usize() {
            return row.get(i).map(cell);
        }
        let name = key.as_str()?;
        let i = self.table.columns.iter().position(|c| c == name)?;
        row.get(i).map(cell)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.table.rows.get(self.index).map_or(0, Vec::len))
    }
}

impl Object for ColumnObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => self
                .table
                .columns
                .get(self.index)
                .map(|n| Value::from(n.clone())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &minijinja::State,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, minijinja::Error> {
        match method {
            "values" => Ok(Value::from(
                self.table
                    .rows
                    .iter()
                    .map(|r| r.get(self.index).map(cell).unwrap_or(Value::from(())))
                    .collect::<Vec<_>>(),
            )),
            _ => Err(minijinja::Error::new(
                minijinja::ErrorKind::UnknownMethod,
                format!("column has no method '{method}'"),
            )),
        }
    }
}
