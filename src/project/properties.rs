//! YAML property files (`schema.yml` and friends): models, sources, seeds, their columns and
//! data tests, as dbt defines them (version 2).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Serialize: the memo keeps a parsed file (as JSON) for the next run.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct PropertiesFile {
    #[serde(default)]
    pub models: Vec<NodePatch>,
    #[serde(default)]
    pub seeds: Vec<NodePatch>,
    #[serde(default)]
    pub snapshots: Vec<NodePatch>,
    #[serde(default)]
    pub sources: Vec<SourceSpec>,
    #[serde(default)]
    pub exposures: Vec<ExposureSpec>,
    #[serde(default)]
    pub unit_tests: Vec<UnitTestSpec>,
}

/// A unit test (dbt 1.8): a model run on fixture rows for its inputs, its output compared
/// with the expected rows.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UnitTestSpec {
    pub name: String,
    pub model: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub given: Vec<Fixture>,
    pub expect: Fixture,
    /// `vars`, `macros` (is_incremental) and `env_vars` the model sees under test.
    #[serde(default)]
    pub overrides: Map<String, Value>,
    #[serde(default)]
    pub config: Map<String, Value>,
}

/// Rows for an input (`input: ref('x')`, `source('s', 't')` or `this`) or the expectation:
/// `rows` as a list of mappings (dict), CSV text (csv) or a query (sql).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Fixture {
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub rows: Value,
    #[serde(default)]
    pub format: Option<String>,
    /// `fixture: name`: the rows in `tests/fixtures/name.csv` (or .sql).
    #[serde(default)]
    pub fixture: Option<String>,
}

/// A downstream use of the project (a dashboard, a notebook, an application): what it
/// depends on, for `+exposure:name` selection and the manifest.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ExposureSpec {
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub owner: Map<String, Value>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub maturity: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// `ref('model')`, `ref('package', 'model')`, `source('source', 'table')`.
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub meta: Map<String, Value>,
    #[serde(default)]
    pub config: Map<String, Value>,
}

/// Properties that a YAML file adds to a model or seed defined elsewhere.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NodePatch {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub config: Map<String, Value>,
    #[serde(default)]
    pub columns: Vec<ColumnSpec>,
    #[serde(default)]
    pub tests: Vec<Value>,
    #[serde(default)]
    pub data_tests: Vec<Value>,
    #[serde(default)]
    pub tags: Option<Value>,
    #[serde(default)]
    pub meta: Map<String, Value>,
    /// A snapshot defined in YAML (dbt 1.9): what it records, `ref('x')` or
    /// `source('s', 't')`.
    #[serde(default)]
    pub relation: Option<String>,
    #[serde(skip)]
    pub patch_path: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ColumnSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub data_type: Option<String>,
    #[serde(default)]
    pub meta: Map<String, Value>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub tests: Vec<Value>,
    #[serde(default)]
    pub data_tests: Vec<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SourceSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub loader: Option<String>,
    #[serde(default)]
    pub loaded_at_field: Option<String>,
    #[serde(default)]
    pub loaded_at_query: Option<String>,
    #[serde(default)]
    pub freshness: Option<Value>,
    #[serde(default)]
    pub config: Map<String, Value>,
    #[serde(default)]
    pub meta: Map<String, Value>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub tables: Vec<SourceTableSpec>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SourceTableSpec {
    pub name: String,
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub loaded_at_field: Option<String>,
    #[serde(default)]
    pub loaded_at_query: Option<String>,
    /// `freshness: null` turns the source's freshness off for this table: kept apart from
    /// leaving it out (`Some(Null)` against `None`).
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub freshness: Option<Value>,
    #[serde(default)]
    pub config: Map<String, Value>,
    #[serde(default)]
    pub meta: Map<String, Value>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub columns: Vec<ColumnSpec>,
    #[serde(default)]
    pub tests: Vec<Value>,
    #[serde(default)]
    pub data_tests: Vec<Value>,
}

fn explicit_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// One data test as written in YAML: `- unique`, `- accepted_values: {values: [...]}`, or the
/// long form `- name: my_test\n  test_name: accepted_values\n  ...`. Arguments may sit under
/// `arguments:` (dbt 1.10+) or directly in the map; `config:` and the config keys dbt
/// allows at the top (`severity`, `where`, ...) become the test's config.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSpec {
    pub test_name: String,
    pub custom_name: Option<String>,
    pub args: Map<String, Value>,
    pub config: Map<String, Value>,
}

const TEST_CONFIG_KEYS: &[&str] = &[
    "severity",
    "where",
    "warn_if",
    "error_if",
    "limit",
    "tags",
    "enabled",
    "store_failures",
    "meta",
];

impl TestSpec {
    pub fn parse(value: &Value) -> Result<Self, String> {
        match value {
            Value::String(name) => Ok(TestSpec {
                test_name: name.clone(),
                custom_name: None,
                args: Map::new(),
                config: Map::new(),
            }),
            Value::Object(map) => {
                let (test_name, custom_name, body) = if let Some(t) = map.get("test_name") {
                    let t = t.as_str().ok_or("`test_name` must be a string")?;
                    let custom = map.get("name").and_then(Value::as_str).map(str::to_string);
                    (t.to_string(), custom, map.clone())
                } else if map.len() == 1 {
                    let (k, v) = map.iter().next().ok_or("empty test")?;
                    let body = match v {
                        Value::Object(b) => b.clone(),
                        Value::Null => Map::new(),
                        _ => return Err(format!("test '{k}' needs a map of arguments")),
                    };
                    let custom = body.get("name").and_then(Value::as_str).map(str::to_string);
                    (k.clone(), custom, body)
                } else {
                    return Err("a test is a name or a map with one key (the test name)".into());
                };
                let mut args = Map::new();
                let mut config = Map::new();
                for (k, v) in body {
                    match k.as_str() {
                        "test_name" | "name" => {}
                        "config" => {
                            if let Value::Object(c) = v {
                                config.extend(c);
                            }
                        }
                        "arguments" => {
                            if let Value::Object(a) = v {
                                args.extend(a);
                            }
                        }
                        _ if TEST_CONFIG_KEYS.contains(&k.as_str()) => {
                            config.insert(k, v);
                        }
                        _ => {
                            args.insert(k, v);
                        }
                    }
                }
                Ok(TestSpec {
                    test_name,
                    custom_name,
                    args,
                    config,
                })
            }
            _ => Err("a test is a name or a map".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_three_test_forms() {
        let t = TestSpec::parse(&json!("unique")).unwrap();
        assert_eq!(t.test_name, "unique");
        let t = TestSpec::parse(&json!({"accepted_values": {
            "arguments": {"values": ["a"]}, "config": {"severity": "warn"}, "where": "x > 1"}}))
        .unwrap();
        assert_eq!(t.args.get("values"), Some(&json!(["a"])));
        assert_eq!(t.config.get("severity"), Some(&json!("warn")));
        assert_eq!(t.config.get("where"), Some(&json!("x > 1")));
        let t = TestSpec::parse(&json!({"name": "pos", "test_name": "accepted_values",
            "values": [1]}))
        .unwrap();
        assert_eq!(t.custom_name.as_deref(), Some("pos"));
        assert_eq!(t.args.get("values"), Some(&json!([1])));
        assert!(TestSpec::parse(&json!(3)).is_err());
    }
}
