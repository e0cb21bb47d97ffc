//! Generic tests (`tests:` in YAML) made into test nodes, named and hashed exactly as dbt
//! names and hashes them (the unique ids must match dbt's).

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::files::{checksum, yaml_folders};
use super::{config, Node, PendingTest, Project, ResourceType, TestMetadata};
use crate::error::{Error, Result};

/// A test's severity when nothing sets one (dbt's manifest has it in every test's config).
pub(crate) const DEFAULT_SEVERITY: &str = "ERROR";

/// Turn the pending generic tests into test nodes whose code calls the test macro.
/// Called by the compiler once it knows which test macros exist.
pub(crate) fn materialize_pending_tests(project: &mut Project) -> Result<()> {
    let pending = std::mem::take(&mut project.pending_tests);
    let tree = project.file.data_tests.clone();
    // Generic tests' unique_ids so far, and where each came from.
    let mut test_names: HashMap<String, PathBuf> = HashMap::new();
    for p in pending {
        let node = test_node(project, &p, &tree);
        // dbt 1.12 refuses two tests with one unique_id (same name and arguments: it could
        // not tell them apart); tests that only share a name are fine.
        if let Some(other) = test_names.insert(node.unique_id.clone(), p.yaml_path.clone()) {
            return Err(Error::config(
                &p.yaml_path,
                format!(
                    "two data tests are named '{}' (the other is in {}): give one a `name:`",
                    node.name,
                    other.display()
                ),
            ));
        }
        project.nodes.insert(node.unique_id.clone(), node);
    }
    Ok(())
}

/// The test node of one pending generic test: its name, code calling the test macro,
/// dbt's unique id (name and hash), fqn and config.
fn test_node(project: &Project, p: &PendingTest, tree: &Map<String, Value>) -> Node {
    // column_name first: dbt's generated names list it before the other arguments.
    let mut kwargs = Map::new();
    if let Some(c) = &p.column {
        kwargs.insert("column_name".into(), Value::String(c.clone()));
    }
    kwargs.extend(p.spec.args.clone());
    let on_source = p.target_expr.starts_with("source(");
    let (short, full) = generic_test_names(&p.spec.test_name, on_source, &p.target_name, &kwargs);
    // A `name:` given in the YAML is the test's name, file and alias.
    let (name, file_stem) = match &p.spec.custom_name {
        Some(custom) => (custom.clone(), custom.clone()),
        None => (full, short),
    };
    let mut call_args = vec![format!("model=get_where_subquery({})", p.target_expr)];
    for (k, v) in &kwargs {
        call_args.push(format!("{k}={}", jinja_literal(v)));
    }
    // `foo.bar` names test macro `test_bar` of package `foo`.
    let (namespace, macro_name) = match p.spec.test_name.rsplit_once('.') {
        Some((ns, name)) => (Some(ns.to_string()), name),
        None => (None, p.spec.test_name.as_str()),
    };
    let callee = match &namespace {
        Some(ns) => format!("{ns}.test_{macro_name}"),
        None => format!("test_{macro_name}"),
    };
    let raw_code = format!("{{{{ {callee}({}) }}}}", call_args.join(", "));
    let mut hashed_kwargs = kwargs.clone();
    hashed_kwargs.insert(
        "model".into(),
        Value::String(format!("{{{{ get_where_subquery({}) }}}}", p.target_expr)),
    );
    let hash = test_hash(&name, macro_name, &hashed_kwargs, namespace.as_deref());
    let rel = PathBuf::from(format!("{file_stem}.sql"));
    // dbt: the project, the folders of the YAML file under its resource path, the name.
    let mut fqn = vec![project.name().to_string()];
    fqn.extend(yaml_folders(project, &p.yaml_path));
    fqn.push(name.clone());
    let mut config = config::tree_config(tree, &fqn);
    config.set("materialized", "test".into());
    if !p.tags.is_empty() {
        let mut inherited = Map::new();
        inherited.insert("tags".into(), serde_json::json!(p.tags));
        config.merge(&inherited);
    }
    config.merge(&p.spec.config);
    config.set_default("severity", DEFAULT_SEVERITY.into());
    Node {
        unique_id: format!("test.{}.{}.{}", project.name(), name, hash),
        resource_type: ResourceType::Test,
        path: rel,
        original_file_path: p.yaml_path.clone(),
        fqn,
        checksum: checksum(&raw_code),
        raw_code,
        config,
        test_metadata: Some(TestMetadata {
            name: p.spec.test_name.clone(),
            kwargs,
            column_name: p.column.clone(),
            attached_node: Some(p.attached_node.clone()),
        }),
        ..Node::synthetic(project.name(), &name)
    }
}

/// dbt's generated test names (`synthesize_generic_test_names`): the full name
/// `<test>_<model>_<arguments>` (arguments in name order, list and mapping values
/// flattened, each run of other characters made one '_'), sources as
/// `source_<test>_<source>_<table>_...`; the short one, for files and aliases, is the full
/// name or, from 64 characters, its first 30 identifying characters and an MD5 of it.
fn generic_test_names(
    test: &str,
    on_source: bool,
    target: &str,
    kwargs: &Map<String, Value>,
) -> (String, String) {
    fn clean(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut in_run = false;
        for c in s.chars() {
            if c.is_ascii_alphanumeric() || c == '_' {
                out.push(c);
                in_run = false;
            } else if !in_run {
                out.push('_');
                in_run = true;
            }
        }
        out
    }
    let mut keys: Vec<&String> = kwargs.keys().filter(|k| *k != "model").collect();
    keys.sort();
    let mut parts = Vec::new();
    for k in keys {
        match &kwargs[k] {
            Value::Array(a) => parts.extend(a.iter().map(|x| clean(&py_str(x)))),
            Value::Object(o) => parts.extend(o.values().map(|x| clean(&py_str(x)))),
            v => parts.push(clean(&py_str(v))),
        }
    }
    let (namespace, test) = match test.rsplit_once('.') {
        Some((ns, t)) => (Some(ns), t),
        None => (None, test),
    };
    let mut test_type = if on_source {
        format!("source_{test}")
    } else {
        test.to_string()
    };
    // `dbt_utils.x`: dbt puts the package in front (after `source_`).
    if let Some(ns) = namespace {
        test_type = format!("{ns}_{test_type}");
    }
    let identifier = format!("{test_type}_{target}");
    let full = format!("{identifier}_{}", parts.join("__"));
    let short = if full.len() >= 64 {
        let head: String = identifier.chars().take(30).collect();
        format!("{head}_{}", md5_hex(&full))
    } else {
        full.clone()
    };
    (short, full)
}

/// A YAML value as Python's `str()` gives it (dbt builds names and hashes from those).
fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", crate::python_text::repr_str(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Number(n) => n.to_string(),
    }
}

fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => crate::python_text::repr_str(s),
        other => py_str(other),
    }
}

/// The hex MD5 of `text` (dbt's test-name hashes, and its `local_md5()`).
pub(crate) fn md5_hex(text: &str) -> String {
    use md5::Digest;
    md5::Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The last 10 hex digits of unique_id, as dbt computes them: the MD5 of the name and the
/// Python repr of the test metadata with every leaf made a string and keys sorted.
fn test_hash(
    name: &str,
    test: &str,
    kwargs: &Map<String, Value>,
    namespace: Option<&str>,
) -> String {
    fn hashable(v: &Value) -> String {
        match v {
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                let items: Vec<String> = keys
                    .iter()
                    .map(|k| format!("{}: {}", crate::python_text::repr_str(k), hashable(&o[*k])))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
            Value::Array(a) => format!(
                "[{}]",
                a.iter().map(hashable).collect::<Vec<_>>().join(", ")
            ),
            other => crate::python_text::repr_str(&py_str(other)),
        }
    }
    let metadata = serde_json::json!({
        "name": test,
        "kwargs": Value::Object(kwargs.clone()),
        "namespace": namespace.map_or(Value::Null, |n| Value::String(n.into())),
    });
    let digest = md5_hex(&format!("{name}{}", hashable(&metadata)));
    digest[digest.len() - 10..].to_string()
}

/// A YAML test argument as Jinja source. Strings that are `ref(...)`/`source(...)` calls stay
/// code (dbt renders test arguments); everything else becomes a literal.
fn jinja_literal(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let t = s.trim();
            let is_call = (t.starts_with("ref(") || t.starts_with("source(")) && t.ends_with(')');
            if is_call {
                t.to_string()
            } else {
                serde_json::to_string(s).unwrap_or_else(|_| "''".into())
            }
        }
        Value::Null => "none".into(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(jinja_literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!(
                    "{}: {}",
                    serde_json::to_string(k).unwrap_or_default(),
                    jinja_literal(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_test_names_follow_dbt() {
        let mut kw = Map::new();
        kw.insert("column_name".into(), Value::from("status"));
        kw.insert("values".into(), serde_json::json!(["placed", "shipped"]));
        let (short, full) = generic_test_names("accepted_values", false, "orders", &kw);
        assert_eq!(full, "accepted_values_orders_status__placed__shipped");
        assert_eq!(short, full);
        let mut kw = Map::new();
        kw.insert("column_name".into(), Value::from("customer_id"));
        kw.insert("to".into(), Value::from("ref('customers')"));
        kw.insert("field".into(), Value::from("id"));
        let (_, full) = generic_test_names("relationships", false, "orders", &kw);
        assert_eq!(full, "relationships_orders_customer_id__id__ref_customers_");
        // Runs of other characters become one '_', literal underscores stay (re.sub).
        let mut kw = Map::new();
        kw.insert("column_name".into(), Value::from("a_-b"));
        kw.insert("flag".into(), Value::from(true));
        let (_, full) = generic_test_names("t", true, "src_tbl", &kw);
        assert_eq!(full, "source_t_src_tbl_a__b__True");
    }

    #[test]
    fn namespaced_tests_are_named_and_hashed_as_dbt_does() {
        // dbt-core 1.12.6 named `mypkg.t2` on model `a` with `arg: ns`
        // test.tn.mypkg_t2_a_ns.e59ebc6b85.
        let mut kw = Map::new();
        kw.insert("arg".into(), Value::from("ns"));
        let (_, full) = generic_test_names("mypkg.t2", false, "a", &kw);
        assert_eq!(full, "mypkg_t2_a_ns");
        kw.insert(
            "model".into(),
            Value::from("{{ get_where_subquery(ref('a')) }}"),
        );
        assert_eq!(test_hash(&full, "t2", &kw, Some("mypkg")), "e59ebc6b85");
    }

    #[test]
    fn python_reprs_for_dbt_hashes() {
        assert_eq!(crate::python_text::repr_str("ref('x')"), "\"ref('x')\"");
        assert_eq!(crate::python_text::repr_str("a\\b\n"), "'a\\\\b\\n'");
        assert_eq!(
            crate::python_text::repr_str("both ' and \""),
            "'both \\' and \"'"
        );
    }

    #[test]
    fn test_arguments_keep_refs_as_code() {
        assert_eq!(
            jinja_literal(&Value::from("ref('customers')")),
            "ref('customers')"
        );
        assert_eq!(jinja_literal(&Value::from("it's")), "\"it's\"");
        assert_eq!(jinja_literal(&serde_json::json!([1, null])), "[1, none]");
    }
}
