//! Unit tests (dbt 1.8 `unit_tests:`): the model's SQL compiled with each `given` input
//! replaced by a CTE of fixture rows, run, and its output compared with the `expect` rows.
//! Fixture columns take the types of the real input relations (which must exist: build them,
//! or `strata build --empty`), expected values the types of the model's output, so that `1`
//! and `'1'` compare as the model would produce them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use minijinja::value::Value;
use serde_json::Value as Json;

use super::{Built, Materializer};
use crate::adapters::{quote_literal, ColumnInfo};
use crate::compile::{CompileOptions, Fixtures, Relation, RelationKind};
use crate::error::{Error, Result};
use crate::project::{parse_dependency, Dependency, Fixture, Node, UnitTestSpec};

/// One fixture as rows of (column, value), in the order written.
type Rows = Vec<Vec<(String, Json)>>;

pub async fn run(m: &Materializer<'_>, node: &Node) -> Result<Built> {
    let spec = m
        .project
        .unit_tests
        .get(&node.unique_id)
        .ok_or_else(|| Error::Internal(format!("no unit test {}", node.unique_id)))?;
    let bad = |msg: String| Error::Config {
        path: node.original_file_path.clone(),
        position: None,
        message: format!("unit test '{}': {msg}", spec.name),
    };
    let model = m
        .project
        .find_ref(&spec.model, None)
        .ok_or_else(|| bad(format!("no model '{}'", spec.model)))?;
    let (fixtures, ctes) = fixture_ctes(m, node, spec, &bad).await?;
    every_input_given(spec, model, m, &fixtures, &bad)?;
    let model_sql = model_on_fixtures(m, spec, model, fixtures, &bad)?;
    // The model on the fixtures, selecting `select` or the given columns.
    let on_fixtures = |columns: Option<&[String]>, select: &str| {
        let columns = columns.map_or(Value::from(()), |c| Value::from(c.to_vec()));
        m.sql_of(
            node,
            "get_unit_test_sql",
            &[
                ("fixtures", Value::from(ctes.clone())),
                ("model_sql", Value::from(model_sql.as_str())),
                ("columns", columns),
                ("select", Value::from(select)),
            ],
        )
    };
    let output = m.adapter.query_columns(&on_fixtures(None, "*")?).await?;

    let (expected_sql, expected_columns) = expectation(m, node, spec, &output, &bad).await?;
    // No expected rows (and so no columns): the model must return none.
    if expected_columns.is_empty() {
        let sql = on_fixtures(None, "count(*)")?;
        let n = m
            .adapter
            .execute(&sql, true)
            .await?
            .table
            .and_then(|t| t.rows.first()?.first()?.as_u64())
            .unwrap_or(0);
        let mut built = Built {
            failures: Some(n),
            should_error: n > 0,
            ..Default::default()
        };
        if n > 0 {
            built.response.message =
                format!("actual differs from expected:\n\nexpected no rows, got {n}");
        }
        return Ok(built);
    }
    let actual_sql = on_fixtures(Some(&expected_columns), "*")?;
    // What ran, where dbt writes it (target/compiled/<project>/<yaml>/models/<test>.sql).
    let compiled = super::compiled_path(m.project, node);
    if let Some(dir) = compiled.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::write(&compiled, &actual_sql).map_err(|e| Error::io(&compiled, e))?;
    let actual = m.adapter.execute(&actual_sql, true).await?;
    let expected_sql = m.sql_of(
        node,
        "unit_test_expected_sql",
        &[
            ("sql", Value::from(expected_sql)),
            ("columns", Value::from(expected_columns.clone())),
        ],
    )?;
    let expected = m.adapter.execute(&expected_sql, true).await?;
    let actual_rows = actual.table.map(|t| t.rows).unwrap_or_default();
    let expected_rows = expected.table.map(|t| t.rows).unwrap_or_default();
    let (missing, extra_rows) = difference(&expected_rows, &actual_rows);
    let mut built = Built::default();
    // A changed row is one difference (a missing and an extra row), as dbt counts.
    let n = missing.len().max(extra_rows.len());
    if n > 0 {
        built.failures = Some(n as u64);
        built.should_error = true;
        built.response.message = diff_report(&expected_columns, &missing, &extra_rows);
    } else {
        built.failures = Some(0);
    }
    Ok(built)
}

/// Each `given` input as a CTE of its fixture rows (typed as the real relation's columns),
/// and what `ref`/`source`/`this` give in the model instead of the real relations.
async fn fixture_ctes(
    m: &Materializer<'_>,
    node: &Node,
    spec: &UnitTestSpec,
    bad: &impl Fn(String) -> Error,
) -> Result<(Fixtures, Vec<Value>)> {
    let q = m.adapter.dialect().quoting;
    let mut fixtures = Fixtures::default();
    let mut ctes = Vec::new();
    for given in &spec.given {
        let input = given.input.as_deref().unwrap_or_default().trim();
        let (real, name) = input_relation(m, input, &spec.model).map_err(bad)?;
        let cte = format!("__dbt__cte__{name}");
        let body = match given.format.as_deref().unwrap_or("dict") {
            // A query brings its own columns (an ephemeral input has no table to read).
            "sql" => sql_rows(m, given).map_err(bad)?,
            _ => {
                let columns = m.adapter.get_columns(&real).await?;
                if columns.is_empty() {
                    return Err(bad(format!(
                        "cannot read the columns of {input} ({real}): build it first (strata \
                         build --empty builds every relation's shape)"
                    )));
                }
                let rows = rows_of(m, given).map_err(bad)?;
                for row in &rows {
                    for (c, _) in row {
                        if !columns.iter().any(|col| col.name.eq_ignore_ascii_case(c)) {
                            return Err(bad(format!(
                                "invalid column name '{c}' in the fixture for {input} (it has {})",
                                columns
                                    .iter()
                                    .map(|c| c.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )));
                        }
                    }
                }
                fixture_rows(m, node, &columns, &rows)?
            }
        };
        let mut fixture_cte = BTreeMap::new();
        fixture_cte.insert("cte", Value::from(cte.as_str()));
        fixture_cte.insert("name", Value::from(name.as_str()));
        fixture_cte.insert("sql", Value::from(body));
        ctes.push(Value::from(fixture_cte));
        let fixture = Relation::raw(&cte, &q.quote(&cte), RelationKind::Table);
        match parse_input(input) {
            Some(Input::Ref(r)) => {
                fixtures.refs.insert(r, fixture);
            }
            Some(Input::Source(s, t)) => {
                fixtures.sources.insert((s, t), fixture);
            }
            Some(Input::This) => fixtures.this = Some(fixture),
            None => {}
        }
    }
    Ok((fixtures, ctes))
}

/// Every input of the model needs rows, as in dbt (else the test would read whatever the
/// warehouse holds); ephemeral models are compiled in and need theirs only if given.
fn every_input_given(
    spec: &UnitTestSpec,
    model: &Node,
    m: &Materializer<'_>,
    fixtures: &Fixtures,
    bad: &impl Fn(String) -> Error,
) -> Result<()> {
    for r in &model.refs {
        let ephemeral = m
            .project
            .find_ref(&r.name, None)
            .is_some_and(|n| n.is_ephemeral());
        if !fixtures.refs.contains_key(&r.name) && !ephemeral {
            return Err(bad(format!(
                "model '{}' reads ref('{}'), which the test gives no rows for (add it under given:)",
                spec.model, r.name
            )));
        }
    }
    for (src, t) in &model.source_refs {
        if !fixtures.sources.contains_key(&(src.clone(), t.clone())) {
            return Err(bad(format!(
                "model '{}' reads source('{src}', '{t}'), which the test gives no rows for (add it under given:)",
                spec.model
            )));
        }
    }
    Ok(())
}

/// The model compiled on the fixtures, with the test's overrides (vars, env_vars,
/// is_incremental).
fn model_on_fixtures(
    m: &Materializer<'_>,
    spec: &UnitTestSpec,
    model: &Node,
    fixtures: Fixtures,
    bad: &impl Fn(String) -> Error,
) -> Result<String> {
    let overrides = &spec.overrides;
    // Overrides Strata does not carry out are refused, not ignored (the test would compare
    // the model as it really runs, and pass or fail for the wrong reason).
    if let Some(Json::Object(macros)) = overrides.get("macros") {
        if let Some(other) = macros.keys().find(|k| *k != "is_incremental") {
            return Err(bad(format!(
                "overrides.macros.{other}: only is_incremental can be overridden"
            )));
        }
    }
    if let Some(key) = overrides
        .keys()
        .find(|k| !["vars", "macros", "env_vars"].contains(&k.as_str()))
    {
        return Err(bad(format!(
            "overrides.{key}: expected vars, macros or env_vars"
        )));
    }
    let is_incremental = overrides
        .get("macros")
        .and_then(|mm| mm.get("is_incremental"))
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let mut extra = Vec::new();
    if let Some(Json::Object(vars)) = overrides.get("vars") {
        extra.push(("var", m.compiler.var_function(m.project, vars)));
    }
    if let Some(Json::Object(env)) = overrides.get("env_vars") {
        extra.push(("env_var", crate::compile::Compiler::env_var_function(env)));
    }
    m.compiler.compile(
        m.project,
        model,
        CompileOptions {
            is_incremental,
            extra,
            fixtures: Some(Arc::new(fixtures)),
            ..Default::default()
        },
    )
}

/// The expectation as a query typed as the model's `output`, and its column names.
async fn expectation(
    m: &Materializer<'_>,
    node: &Node,
    spec: &UnitTestSpec,
    output: &[ColumnInfo],
    bad: &impl Fn(String) -> Error,
) -> Result<(String, Vec<String>)> {
    Ok(match spec.expect.format.as_deref().unwrap_or("dict") {
        "sql" => {
            let sql = sql_rows(m, &spec.expect).map_err(bad)?;
            let cols = m.adapter.query_columns(&sql).await?;
            (sql, cols.into_iter().map(|c| c.name).collect::<Vec<_>>())
        }
        _ => {
            let rows = rows_of(m, &spec.expect).map_err(bad)?;
            let mut names: Vec<String> = Vec::new();
            for row in &rows {
                for (c, _) in row {
                    if !names.iter().any(|n| n.eq_ignore_ascii_case(c)) {
                        names.push(c.clone());
                    }
                }
            }
            let mut typed = Vec::new();
            for n in &names {
                let Some(col) = output.iter().find(|o| o.name.eq_ignore_ascii_case(n)) else {
                    return Err(bad(format!(
                        "expect names column '{n}', which model '{}' does not return (it \
                         returns {})",
                        spec.model,
                        output
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                };
                typed.push(col.clone());
            }
            (fixture_rows(m, node, &typed, &rows)?, names)
        }
    })
}

enum Input {
    Ref(String),
    Source(String, String),
    This,
}

/// `this`, or the ref()/source() text the project reads elsewhere too.
fn parse_input(text: &str) -> Option<Input> {
    if text == "this" {
        return Some(Input::This);
    }
    match parse_dependency(text)? {
        Dependency::Ref(r) => Some(Input::Ref(r.name)),
        Dependency::Source(s, t) => Some(Input::Source(s, t)),
    }
}

/// The real relation behind an input, and the name its CTE takes.
fn input_relation(
    m: &Materializer<'_>,
    input: &str,
    model: &str,
) -> std::result::Result<(Relation, String), String> {
    let rel = match parse_input(input) {
        Some(Input::Ref(name)) => m
            .compiler
            .relation_of(&name)
            .map(|r| (r, name.clone()))
            .ok_or_else(|| format!("given input {input}: no model or seed '{name}'"))?,
        Some(Input::Source(s, t)) => m
            .compiler
            .source_relation(&s, &t)
            .map(|r| (r, format!("{s}_{t}")))
            .ok_or_else(|| format!("given input {input}: no such source table"))?,
        Some(Input::This) => m
            .compiler
            .relation_of(model)
            .map(|r| (r, format!("{model}_this")))
            .ok_or_else(|| format!("given input this: no relation for '{model}'"))?,
        None => {
            return Err(format!(
                "given input {input:?}: expected ref('...'), source('...', '...') or this"
            ))
        }
    };
    Ok(rel)
}

/// A fixture's rows: a list of mappings (dict), CSV text (csv), or a file under
/// tests/fixtures (`fixture: name`).
fn rows_of(m: &Materializer<'_>, f: &Fixture) -> std::result::Result<Rows, String> {
    let format = f.format.as_deref().unwrap_or("dict");
    let text = match (&f.fixture, &f.rows) {
        (Some(name), _) => Some(read_fixture(m, name, "csv")?),
        (None, Json::String(s)) => Some(s.clone()),
        _ => None,
    };
    match (format, text) {
        ("csv", Some(text)) => {
            let mut reader = csv::ReaderBuilder::new().from_reader(text.trim().as_bytes());
            let headers: Vec<String> = reader
                .headers()
                .map_err(|e| format!("csv rows: {e}"))?
                .iter()
                .map(|h| h.trim().to_string())
                .collect();
            let mut rows = Vec::new();
            for record in reader.records() {
                let record = record.map_err(|e| format!("csv rows: {e}"))?;
                rows.push(
                    headers
                        .iter()
                        .zip(record.iter())
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(h, v)| (h.clone(), Json::String(v.to_string())))
                        .collect(),
                );
            }
            Ok(rows)
        }
        ("dict", None) => match &f.rows {
            Json::Null => Ok(Vec::new()),
            Json::Array(items) => items
                .iter()
                .map(|r| match r {
                    Json::Object(map) => {
                        Ok(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    }
                    other => Err(format!("rows: each row is a mapping, not {other}")),
                })
                .collect(),
            other => Err(format!("rows: expected a list of mappings, not {other}")),
        },
        (format, _) => Err(format!(
            "format {format:?}: expected dict, csv or sql (with rows to match)"
        )),
    }
}

/// `format: sql`: the rows as a query.
fn sql_rows(m: &Materializer<'_>, f: &Fixture) -> std::result::Result<String, String> {
    match (&f.fixture, &f.rows) {
        (Some(name), _) => read_fixture(m, name, "sql"),
        (None, Json::String(sql)) => Ok(sql.clone()),
        _ => Err("format sql: rows should be a query".into()),
    }
}

fn read_fixture(
    m: &Materializer<'_>,
    name: &str,
    ext: &str,
) -> std::result::Result<String, String> {
    for dir in &m.project.file.test_paths {
        let path = m
            .project
            .root
            .join(dir)
            .join("fixtures")
            .join(format!("{name}.{ext}"));
        if path.is_file() {
            return std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()));
        }
    }
    Err(format!(
        "fixture '{name}': no {name}.{ext} under <test-path>/fixtures"
    ))
}

/// `select cast(v as type) as c, ... union all ...` over every column (missing ones null),
/// from the adapter's unit_test_fixture_rows template; no rows is a query that still has
/// the columns. Values become SQL literals here, through the one literal-quoting function.
fn fixture_rows(
    m: &Materializer<'_>,
    node: &Node,
    columns: &[ColumnInfo],
    rows: &Rows,
) -> Result<String> {
    let literals: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| {
                    row.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&c.name))
                        .map(|(_, v)| literal(v))
                        .unwrap_or_else(|| "null".into())
                })
                .collect()
        })
        .collect();
    let columns: Vec<Json> = columns
        .iter()
        .map(|c| serde_json::json!({"name": c.name, "data_type": c.data_type}))
        .collect();
    m.sql_of(
        node,
        "unit_test_fixture_rows",
        &[
            ("columns", Value::from_serialize(&columns)),
            ("rows", Value::from_serialize(&literals)),
        ],
    )
}

fn literal(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => quote_literal(s),
        other => quote_literal(&other.to_string()),
    }
}

/// Rows expected but not produced, and produced but not expected (multisets).
fn difference(expected: &[Vec<Json>], actual: &[Vec<Json>]) -> (Vec<Vec<Json>>, Vec<Vec<Json>>) {
    let key = |r: &Vec<Json>| serde_json::to_string(r).unwrap_or_default();
    let mut left: HashMap<String, usize> = HashMap::new();
    for r in actual {
        *left.entry(key(r)).or_default() += 1;
    }
    let mut missing = Vec::new();
    for r in expected {
        match left.get_mut(&key(r)) {
            Some(n) if *n > 0 => *n -= 1,
            _ => missing.push(r.clone()),
        }
    }
    let mut extra = Vec::new();
    for r in actual {
        if let Some(n) = left.get_mut(&key(r)) {
            if *n > 0 {
                *n -= 1;
                extra.push(r.clone());
            }
        }
    }
    (missing, extra)
}

fn diff_report(columns: &[String], missing: &[Vec<Json>], extra: &[Vec<Json>]) -> String {
    let cell = |v: &Json| match v {
        Json::Null => "null".to_string(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = format!(
        "actual differs from expected:\n\n   | {} |",
        columns.join(" | ")
    );
    for (mark, rows) in [("+", missing), ("-", extra)] {
        for r in rows {
            let cells: Vec<String> = r.iter().map(cell).collect();
            out.push_str(&format!("\n{mark}  | {} |", cells.join(" | ")));
        }
    }
    out.push_str("\n\n(+ expected, not returned; - returned, not expected)");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_compare_as_multisets() {
        let e = vec![vec![json!(1)], vec![json!(1)], vec![json!(2)]];
        let a = vec![vec![json!(1)], vec![json!(3)], vec![json!(2)]];
        let (missing, extra) = difference(&e, &a);
        assert_eq!(missing, vec![vec![json!(1)]]);
        assert_eq!(extra, vec![vec![json!(3)]]);
    }
}
