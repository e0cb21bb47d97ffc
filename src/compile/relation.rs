//! `Relation`: a table or view in the warehouse, as templates see it (`this`, `ref(...)`).

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};

/// A (database, schema, identifier) triple with the adapter's quoting applied when rendered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relation {
    pub database: Option<String>,
    pub schema: String,
    pub identifier: String,
    pub kind: RelationKind,
    /// The exact SQL text this relation renders as.
    pub rendered: String,
}

/// What a relation is; templates see it as `relation.type` (`as_str`) and `is_table`,
/// `is_view`, `is_cte`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationKind {
    Table,
    View,
    /// An ephemeral model, inlined as a CTE.
    Cte,
    /// A source read from files (DuckDB's `external_location`).
    External,
}

impl RelationKind {
    /// The word dbt's templates compare with (`relation.type == 'view'`).
    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::Table => "table",
            RelationKind::View => "view",
            RelationKind::Cte => "cte",
            RelationKind::External => "external",
        }
    }
}

impl fmt::Display for RelationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an adapter quotes identifiers and renders relations.
pub trait Quoting: Send + Sync {
    fn quote(&self, ident: &str) -> String;

    fn render_relation(&self, database: Option<&str>, schema: &str, identifier: &str) -> String {
        match database {
            Some(db) => format!(
                "{}.{}.{}",
                self.quote(db),
                self.quote(schema),
                self.quote(identifier)
            ),
            None => format!("{}.{}", self.quote(schema), self.quote(identifier)),
        }
    }
}

/// Double-quoted identifiers (DuckDB, Trino/Athena).
pub struct DoubleQuotes;

impl Quoting for DoubleQuotes {
    fn quote(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }
}

impl Relation {
    /// The same name and text, whatever the kind (a view that became a table renders alike).
    pub fn same_name(&self, other: &Relation) -> bool {
        self.database == other.database
            && self.schema == other.schema
            && self.identifier == other.identifier
            && self.rendered == other.rendered
    }

    pub fn new(
        q: &dyn Quoting,
        database: Option<&str>,
        schema: &str,
        identifier: &str,
        kind: RelationKind,
    ) -> Self {
        Relation {
            database: database.map(str::to_string),
            schema: schema.to_string(),
            identifier: identifier.to_string(),
            kind,
            rendered: q.render_relation(database, schema, identifier),
        }
    }

    /// An ephemeral model's CTE name, or any relation that renders as raw SQL.
    pub fn raw(identifier: &str, rendered: &str, kind: RelationKind) -> Self {
        Relation {
            database: None,
            schema: String::new(),
            identifier: identifier.to_string(),
            kind,
            rendered: rendered.to_string(),
        }
    }

    /// The relation as an empty subquery with its columns (`--empty`).
    pub fn selecting_nothing(&self) -> Self {
        Relation {
            rendered: format!("(select * from {} where false limit 0)", self.rendered),
            ..self.clone()
        }
    }

    /// This relation's rows that pass `filter`, as a subquery (a microbatch batch's input);
    /// its name parts stay for macros that look the relation up.
    pub fn filtered(&self, filter: &str) -> Self {
        Relation {
            rendered: format!("(select * from {} where {filter})", self.rendered),
            ..self.clone()
        }
    }

    /// The same relation under another identifier (temporary and backup tables).
    pub fn with_identifier(&self, q: &dyn Quoting, identifier: &str) -> Self {
        Relation::new(
            q,
            self.database.as_deref(),
            &self.schema,
            identifier,
            self.kind,
        )
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rendered)
    }
}

/// dbt's relations are mappings whose `metadata.type` ends in "Relation": that is how
/// packages (dbt_utils' `_is_relation`) tell a relation from a string.
impl Object for Relation {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "database" => Some(Value::from(self.database.clone())),
            "schema" => Some(Value::from(self.schema.clone())),
            "identifier" | "name" | "table" => Some(Value::from(self.identifier.clone())),
            "type" | "is_table" | "is_view" | "is_cte" => {
                // A model's kind may still change with its in-file config while parsing.
                super::reuse::kind_read();
                Some(match key.as_str()? {
                    "type" => Value::from(self.kind.as_str()),
                    other => Value::from(other.strip_prefix("is_") == Some(self.kind.as_str())),
                })
            }
            "metadata" => Some(Value::from_iter([("type", Value::from("BaseRelation"))])),
            "path" => Some(Value::from_iter([
                ("database", Value::from(self.database.clone())),
                ("schema", Value::from(self.schema.clone())),
                ("identifier", Value::from(self.identifier.clone())),
            ])),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["database", "schema", "identifier", "type", "metadata"])
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &minijinja::State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, minijinja::Error> {
        match method {
            "render" => Ok(Value::from(self.rendered.clone())),
            // Hive DDL (Athena's DROP TABLE, ALTER TABLE) wants backticks and no catalog.
            "render_hive" => Ok(Value::from(format!(
                "`{}`.`{}`",
                self.schema.replace('`', "``"),
                self.identifier.replace('`', "``")
            ))),
            "include" => {
                let kwargs = kwargs_of(args)?;
                let keep = |part: &str| -> Result<bool, minijinja::Error> {
                    Ok(kwargs.get::<Option<bool>>(part)?.unwrap_or(true))
                };
                let (db, schema, ident) = (keep("database")?, keep("schema")?, keep("identifier")?);
                kwargs.assert_all_used()?;
                Ok(Value::from_object(self.with_parts(db, schema, ident)))
            }
            "without_identifier" => Ok(Value::from_object(self.with_parts(true, true, false))),
            // Strata's relations are always quoted as the adapter quotes them.
            "quote" => Ok(Value::from_object((**self).clone())),
            "incorporate" => {
                let kwargs = kwargs_of(args)?;
                let mut out = (**self).clone();
                let path = kwargs.get::<Option<Value>>("path")?;
                if let Some(path) = &path {
                    let part = |k: &str| path.get_attr(k).ok().filter(|v| !v.is_undefined());
                    if let Some(v) = part("database") {
                        out.database = v.as_str().map(str::to_string);
                    }
                    if let Some(v) = part("schema").and_then(|v| v.as_str().map(str::to_string)) {
                        out.schema = v;
                    }
                    if let Some(v) = part("identifier").and_then(|v| v.as_str().map(str::to_string))
                    {
                        out.identifier = v;
                    }
                }
                if let Some(kind) = kwargs.get::<Option<String>>("type")? {
                    out.kind = RelationKind::from_dbt(&kind);
                }
                kwargs.assert_all_used()?;
                if path.is_some() {
                    out = out.with_parts(true, true, true);
                }
                Ok(Value::from_object(out))
            }
            _ => Err(minijinja::Error::new(
                minijinja::ErrorKind::UnknownMethod,
                format!("relation has no method '{method}'"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rendered)
    }
}

fn kwargs_of(args: &[Value]) -> Result<minijinja::value::Kwargs, minijinja::Error> {
    match args.last() {
        Some(last) if last.is_kwargs() => minijinja::value::Kwargs::try_from(last.clone()),
        _ => Ok(minijinja::value::Kwargs::from_iter(std::iter::empty::<(
            &str,
            Value,
        )>())),
    }
}

impl RelationKind {
    /// A kind from dbt's words (`api.Relation.create(type='view')`); anything else is a
    /// table.
    pub fn from_dbt(word: &str) -> Self {
        match word {
            "view" => RelationKind::View,
            "cte" => RelationKind::Cte,
            "external" => RelationKind::External,
            _ => RelationKind::Table,
        }
    }
}

impl Relation {
    /// The relation rendered with only some of its parts (`include(database=False)`). Both
    /// adapters quote with double quotes, which this re-rendering uses.
    fn with_parts(&self, database: bool, schema: bool, identifier: bool) -> Relation {
        let parts: Vec<String> = [
            self.database.as_deref().filter(|_| database),
            Some(self.schema.as_str()).filter(|s| schema && !s.is_empty()),
            Some(self.identifier.as_str()).filter(|s| identifier && !s.is_empty()),
        ]
        .into_iter()
        .flatten()
        .map(|p| DoubleQuotes.quote(p))
        .collect();
        Relation {
            database: self.database.clone().filter(|_| database),
            schema: if schema {
                self.schema.clone()
            } else {
                String::new()
            },
            identifier: if identifier {
                self.identifier.clone()
            } else {
                String::new()
            },
            kind: self.kind,
            rendered: parts.join("."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Templates see the kind as dbt's words: `type`, `is_table`, `is_view`, `is_cte`.
    #[test]
    fn templates_read_the_kind_as_dbt_words() {
        let env = minijinja::Environment::new();
        let render = |kind: RelationKind| {
            let r = Value::from_object(Relation::new(&DoubleQuotes, None, "main", "m", kind));
            env.render_str(
                "{{ r.type }} {{ r.is_table }} {{ r.is_view }} {{ r.is_cte }} {{ r.type == 'view' }}",
                minijinja::context! { r },
            )
            .unwrap()
        };
        assert_eq!(render(RelationKind::Table), "table True False False False");
        assert_eq!(render(RelationKind::View), "view False True False True");
        assert_eq!(render(RelationKind::Cte), "cte False False True False");
        assert_eq!(
            render(RelationKind::External),
            "external False False False False"
        );
        assert_eq!(RelationKind::External.to_string(), "external");
    }
}
