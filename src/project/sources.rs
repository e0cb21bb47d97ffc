//! Sources declared in YAML (`sources:`): one [`Source`] per table, with its settings
//! layered as dbt layers them (project file, source, table) and its generic tests queued.

use std::path::Path;

use serde_json::{Map, Value};

use super::patch::{tests_of, under};
use super::properties::{SourceSpec, SourceTableSpec};
use super::{config, Column, Config, PendingTest, Project, RenderText, Source};
use crate::error::Result;
use crate::error::YamlStep::{Key, Named};

/// The last layer's string value of `key`.
fn layered_str(layers: &[Map<String, Value>], key: &str) -> Option<String> {
    layers
        .iter()
        .rev()
        .find_map(|l| l.get(key).and_then(Value::as_str).map(String::from))
}

/// Freshness merged key by key over the layers (a table's warn_after keeps its source's
/// error_after); `freshness: null` on the table (its keys or config) turns it off.
fn layered_freshness(layers: &[Map<String, Value>]) -> Option<Value> {
    let mut merged: Option<Map<String, Value>> = None;
    for (i, layer) in layers.iter().enumerate() {
        match layer.get("freshness") {
            Some(Value::Null) if i >= 3 => return None,
            Some(Value::Object(m)) => {
                let acc = merged.get_or_insert_with(Map::new);
                for (k, v) in m {
                    acc.insert(k.clone(), v.clone());
                }
            }
            _ => {}
        }
    }
    merged.map(Value::Object)
}

/// The tables of a `sources:` entry, each a [`Source`], their generic tests queued.
pub(super) fn add_source(
    project: &mut Project,
    spec: SourceSpec,
    yaml: &Path,
    render_text: &RenderText,
) -> Result<()> {
    let render = |s: &str| -> Result<String> {
        if s.contains("{{") || s.contains("{%") {
            render_text(yaml, s, &project.vars)
        } else {
            Ok(s.to_string())
        }
    };
    let schema = render(spec.schema.as_deref().unwrap_or(&spec.name))?;
    let database = spec.database.as_deref().map(render).transpose()?;
    for table in &spec.tables {
        let mut source = source_table(project, &spec, table, yaml, &render)?;
        source.schema = schema.clone();
        source.database = database.clone();
        let tests = source_tests(&spec, table, &source, yaml, &project.root.join(yaml))?;
        project.pending_tests.extend(tests);
        project.sources.insert(source.unique_id.clone(), source);
    }
    Ok(())
}

/// One table of a source, its string config rendered (`render`); schema and database are
/// the caller's to fill in.
fn source_table(
    project: &Project,
    spec: &SourceSpec,
    table: &SourceTableSpec,
    yaml: &Path,
    render: &dyn Fn(&str) -> Result<String>,
) -> Result<Source> {
    let unique_id = format!("source.{}.{}.{}", project.name(), spec.name, table.name);
    let mut config = Config::default();
    config.merge(&spec.config);
    config.merge(&table.config);
    // dbt merges the `meta:` keys of the source and the table into `config.meta` (the
    // table's win), and dbt-duckdb reads `external_location` from config or meta.
    let mut meta = match config.get("meta") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    for layer in [&spec.meta, &table.meta] {
        if let Some(loc) = layer.get("external_location") {
            config.set("external_location", loc.clone());
        }
        meta.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if !meta.is_empty() {
        config.set("meta", Value::Object(meta));
    }
    let mut rendered = Map::new();
    for (k, v) in config.entries() {
        let v = match v {
            Value::String(s) => Value::String(render(s)?),
            other => other.clone(),
        };
        rendered.insert(k.clone(), v);
    }
    let identifier = render(table.identifier.as_deref().unwrap_or(&table.name))?;
    let fqn = vec![
        project.name().to_string(),
        spec.name.clone(),
        table.name.clone(),
    ];
    let layers = freshness_layers(project, spec, table, &fqn);
    let mut tags = spec.tags.clone();
    tags.extend(table.tags.clone());
    Ok(Source {
        unique_id,
        source_name: spec.name.clone(),
        name: table.name.clone(),
        identifier,
        schema: String::new(),
        database: None,
        description: table.description.clone(),
        source_description: spec.description.clone(),
        loader: spec.loader.clone(),
        loaded_at_field: layered_str(&layers, "loaded_at_field"),
        loaded_at_query: layered_str(&layers, "loaded_at_query"),
        freshness: layered_freshness(&layers),
        config: Config::from(rendered),
        columns: table.columns.iter().map(Column::from).collect(),
        tags,
        original_file_path: yaml.to_path_buf(),
        fqn,
    })
}

/// Freshness settings, weakest first: the project file's `sources:`, the source's keys and
/// config, the table's keys and config (dbt's layering).
fn freshness_layers(
    project: &Project,
    spec: &SourceSpec,
    table: &SourceTableSpec,
    fqn: &[String],
) -> [Map<String, Value>; 5] {
    let tree = config::tree_config(&project.file.sources, fqn);
    let own = |freshness: &Option<Value>, field: &Option<String>, query: &Option<String>| {
        let mut m = Map::new();
        if let Some(f) = freshness {
            m.insert("freshness".into(), f.clone());
        }
        if let Some(f) = field {
            m.insert("loaded_at_field".into(), Value::String(f.clone()));
        }
        if let Some(q) = query {
            m.insert("loaded_at_query".into(), Value::String(q.clone()));
        }
        m
    };
    [
        tree.entries().clone(),
        own(
            &spec.freshness,
            &spec.loaded_at_field,
            &spec.loaded_at_query,
        ),
        spec.config.clone(),
        own(
            &table.freshness,
            &table.loaded_at_field,
            &table.loaded_at_query,
        ),
        table.config.clone(),
    ]
}

/// The generic tests declared on a source table and its columns, waiting for their macros;
/// each inherits the source's and table's tags (and its column's).
fn source_tests(
    spec: &SourceSpec,
    table: &SourceTableSpec,
    source: &Source,
    yaml: &Path,
    file: &Path,
) -> Result<Vec<PendingTest>> {
    let target_expr = format!("source('{}', '{}')", spec.name, table.name);
    let target_name = format!("{}_{}", spec.name, table.name);
    let mut pending = Vec::new();
    let owners = vec![vec![
        Key("sources"),
        Named(&spec.name),
        Key("tables"),
        Named(&table.name),
    ]];
    for t in tests_of(&table.tests, &table.data_tests, yaml, file, &owners)? {
        pending.push((None, Vec::new(), t));
    }
    for c in &table.columns {
        let owners = under(&owners, &[Key("columns"), Named(&c.name)]);
        for t in tests_of(&c.tests, &c.data_tests, yaml, file, &owners)? {
            pending.push((Some(c.name.clone()), c.tags.clone(), t));
        }
    }
    Ok(pending
        .into_iter()
        .map(|(column, column_tags, spec)| {
            let mut tags = source.tags.clone();
            tags.extend(column_tags);
            PendingTest {
                spec,
                column,
                target_expr: target_expr.clone(),
                target_name: target_name.clone(),
                attached_node: source.unique_id.clone(),
                yaml_path: yaml.to_path_buf(),
                tags,
            }
        })
        .collect())
}
