//! `ls` (`list`): the selected nodes, sources and exposures, one a line, as dbt prints
//! them (`--output selector | name | path | json`).

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::cli::args::resource_types;
use crate::error::{Error, Result};
use crate::project::{Exposure, LoadOptions, Node, ResourceType, Source};
use crate::session::printer::Printer;
use crate::session::{Command, RunOptions, Session};

use super::flags_for;

/// `--resource-type` and `--exclude-resource-type` as given.
pub(crate) struct TypeFilter {
    pub types: Vec<String>,
    pub excluded: Vec<String>,
}

impl TypeFilter {
    /// Whether a kind Strata keeps outside its nodes (`source`, `exposure`) is listed.
    fn lists(&self, kind: &str) -> bool {
        (self.types.is_empty() || self.types.iter().any(|t| t == kind))
            && !self.excluded.iter().any(|t| t == kind)
    }
}

pub(crate) async fn list(
    load: &LoadOptions,
    printer: Arc<Printer>,
    opts: RunOptions,
    filter: TypeFilter,
    output: &str,
    output_keys: &[String],
) -> Result<i32> {
    let session = Session::open_offline(load, flags_for("ls"), printer)?;
    crate::execute::find_stale(&session, &opts).await?;
    let ids = listed_ids(&session, &opts, &filter)?;
    if ids.is_empty() {
        if opts.warning_is_error("NoNodesSelected") {
            return Err(Error::Usage(
                "No nodes selected! (a warning, made an error by --warn-error)".into(),
            ));
        }
        session
            .printer
            .warn("no_nodes_selected", "No nodes selected!");
    }
    let output = Output::named(output);
    let mut out = String::new();
    for id in &ids {
        let Some(listed) = Listed::find(&session, id) else {
            continue;
        };
        out.push_str(&listed.line(&session, output, output_keys)?);
        out.push('\n');
    }
    print!("{out}");
    Ok(0)
}

/// The unique ids to list, in dbt's order: unique_id order, nodes, sources and exposures
/// together.
fn listed_ids(session: &Session, opts: &RunOptions, filter: &TypeFilter) -> Result<Vec<String>> {
    let mut rts = resource_types("--resource-type", &filter.types)?;
    if filter.types.is_empty() {
        rts = vec![
            ResourceType::Model,
            ResourceType::Seed,
            ResourceType::Snapshot,
            ResourceType::Test,
            ResourceType::UnitTest,
        ];
    }
    let left_out = resource_types("--exclude-resource-type", &filter.excluded)?;
    rts.retain(|t| !left_out.contains(t));
    let chosen = session.resolve_selection(opts)?;
    let is_chosen = |id: &String| chosen.as_ref().is_none_or(|c| c.contains(id));
    let mut ids = session.nodes_in(chosen.as_ref(), Command::List, opts, Some(&rts));
    if filter.lists("source") {
        ids.extend(
            session
                .project
                .sources
                .keys()
                .filter(|k| is_chosen(k))
                .cloned(),
        );
    }
    if filter.lists("exposure") {
        ids.extend(
            session
                .project
                .exposures
                .keys()
                .filter(|k| is_chosen(k))
                .cloned(),
        );
    }
    ids.sort();
    Ok(ids)
}

/// `--output`: anything but name, path or json prints selectors, as dbt's default does.
#[derive(Clone, Copy)]
enum Output {
    Name,
    Path,
    Json,
    Selector,
}

impl Output {
    fn named(name: &str) -> Self {
        match name {
            "name" => Output::Name,
            "path" => Output::Path,
            "json" => Output::Json,
            _ => Output::Selector,
        }
    }
}

/// One listed resource, by where the project keeps it.
enum Listed<'a> {
    UnitTest(&'a Node),
    Node(&'a Node),
    Source(&'a Source),
    Exposure(&'a Exposure),
}

impl<'a> Listed<'a> {
    fn find(session: &'a Session, id: &str) -> Option<Self> {
        let p = &session.project;
        if let Some(n) = p.nodes.get(id) {
            return Some(if n.resource_type == ResourceType::UnitTest {
                Listed::UnitTest(n)
            } else {
                Listed::Node(n)
            });
        }
        if let Some(s) = p.sources.get(id) {
            return Some(Listed::Source(s));
        }
        p.exposures.get(id).map(Listed::Exposure)
    }

    fn line(&self, session: &Session, output: Output, output_keys: &[String]) -> Result<String> {
        let project = session.project.name();
        Ok(match (output, self) {
            (Output::Name, Listed::UnitTest(n) | Listed::Node(n)) => n.name.clone(),
            (Output::Name, Listed::Source(s)) => format!("{}.{}", s.source_name, s.name),
            (Output::Name, Listed::Exposure(e)) => e.name.clone(),
            (Output::Path, Listed::UnitTest(n) | Listed::Node(n)) => {
                n.original_file_path.display().to_string()
            }
            (Output::Path, Listed::Source(s)) => s.original_file_path.display().to_string(),
            (Output::Path, Listed::Exposure(e)) => e.original_file_path.display().to_string(),
            (Output::Json, _) => json_line(self.json(session)?, output_keys),
            (Output::Selector, Listed::UnitTest(n)) => format!("unit_test:{project}.{}", n.name),
            (Output::Selector, Listed::Node(n)) => n.fqn.join("."),
            (Output::Selector, Listed::Source(s)) => format!("source:{}", s.fqn.join(".")),
            // dbt names the package and the exposure here, not the whole fqn.
            (Output::Selector, Listed::Exposure(e)) => format!("exposure:{project}.{}", e.name),
        })
    }

    /// The resource as `--output json` describes it, every key dbt may print, in dbt's
    /// order.
    fn json(&self, session: &Session) -> Result<Value> {
        let project = session.project.name();
        let value = match self {
            Listed::UnitTest(n) => serde_json::to_value(UnitTestJson::of(n)),
            Listed::Node(n) => serde_json::to_value(NodeJson::of(n, session)),
            Listed::Source(s) => serde_json::to_value(SourceJson::of(s, project)),
            Listed::Exposure(e) => serde_json::to_value(ExposureJson::of(e, project)),
        };
        let mut value = value.map_err(|e| Error::Usage(format!("ls --output json: {e}")))?;
        // With `reuse:stale` in the selection: why a build would run the node.
        if let (Some(stale), Value::Object(map)) = (session.stale.get(), &mut value) {
            let id = match self {
                Listed::UnitTest(n) | Listed::Node(n) => &n.unique_id,
                Listed::Source(s) => &s.unique_id,
                Listed::Exposure(e) => &e.unique_id,
            };
            if let Some(why) = stale.get(id) {
                map.insert("stale_reason".into(), Value::String(why.clone()));
            }
        }
        Ok(value)
    }
}

/// dbt's keys for `--output json` (or the --output-keys asked for, in the order asked
/// for, as dbt prints them), as one line.
fn json_line(mut json: Value, output_keys: &[String]) -> String {
    const DBT_KEYS: &[&str] = &[
        "name",
        "resource_type",
        "package_name",
        "original_file_path",
        "unique_id",
        "alias",
        "config",
        "tags",
        "depends_on",
        "source_name",
        // Strata's: why a build would run the node (with `reuse:stale` selected).
        "stale_reason",
    ];
    if let Value::Object(m) = &mut json {
        if output_keys.is_empty() {
            m.retain(|k, _| DBT_KEYS.contains(&k.as_str()));
        } else {
            let mut ordered = Map::new();
            for k in output_keys {
                if let Some(value) = m.remove(k) {
                    ordered.insert(k.clone(), value);
                }
            }
            *m = ordered;
        }
    }
    json.to_string()
}

/// `depends_on` as dbt lists it (Strata records no macro dependencies).
#[derive(Serialize)]
struct DependsOn<'a> {
    macros: [&'a str; 0],
    nodes: &'a [String],
}

impl<'a> DependsOn<'a> {
    fn nodes(nodes: &'a [String]) -> Self {
        DependsOn { macros: [], nodes }
    }
}

#[derive(Serialize)]
struct NodeJson<'a> {
    name: &'a str,
    resource_type: &'a str,
    package_name: &'a str,
    original_file_path: &'a Path,
    unique_id: &'a str,
    alias: String,
    config: Map<String, Value>,
    tags: Vec<String>,
    fqn: &'a [String],
    path: &'a Path,
    depends_on: DependsOn<'a>,
}

impl<'a> NodeJson<'a> {
    fn of(n: &'a Node, session: &Session) -> Self {
        let alias = match session.compiler.relation_of(&n.relation_key()) {
            Some(r) if n.is_relational() => r.identifier,
            _ => n
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| n.name.clone()),
        };
        let mut config = n.config.entries().clone();
        config
            .entry("materialized")
            .or_insert_with(|| n.config.materialized().into());
        config.entry("enabled").or_insert(Value::Bool(true));
        NodeJson {
            name: &n.name,
            resource_type: n.listed_resource_type(),
            package_name: &n.package_name,
            original_file_path: &n.original_file_path,
            unique_id: &n.unique_id,
            alias,
            config,
            tags: n.config.tags(),
            fqn: &n.fqn,
            path: &n.path,
            depends_on: DependsOn::nodes(&n.depends_on),
        }
    }
}

#[derive(Serialize)]
struct UnitTestJson<'a> {
    name: &'a str,
    resource_type: &'static str,
    package_name: &'a str,
    original_file_path: &'a Path,
    unique_id: &'a str,
    depends_on: DependsOn<'a>,
    config: UnitTestConfig,
    fqn: &'a [String],
}

#[derive(Serialize)]
struct UnitTestConfig {
    tags: Vec<String>,
    meta: Value,
    enabled: bool,
}

impl<'a> UnitTestJson<'a> {
    fn of(n: &'a Node) -> Self {
        UnitTestJson {
            name: &n.name,
            resource_type: "unit_test",
            package_name: &n.package_name,
            original_file_path: &n.original_file_path,
            unique_id: &n.unique_id,
            depends_on: DependsOn::nodes(&n.depends_on),
            config: UnitTestConfig {
                tags: n.config.tags(),
                meta: n
                    .config
                    .get("meta")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new())),
                enabled: true,
            },
            fqn: &n.fqn,
        }
    }
}

#[derive(Serialize)]
struct SourceJson<'a> {
    name: &'a str,
    source_name: &'a str,
    resource_type: &'static str,
    package_name: &'a str,
    original_file_path: &'a Path,
    unique_id: &'a str,
    config: &'a Map<String, Value>,
    tags: &'a [String],
    fqn: &'a [String],
}

impl<'a> SourceJson<'a> {
    fn of(s: &'a Source, project: &'a str) -> Self {
        SourceJson {
            name: &s.name,
            source_name: &s.source_name,
            resource_type: "source",
            package_name: project,
            original_file_path: &s.original_file_path,
            unique_id: &s.unique_id,
            config: s.config.entries(),
            tags: &s.tags,
            fqn: &s.fqn,
        }
    }
}

#[derive(Serialize)]
struct ExposureJson<'a> {
    name: &'a str,
    resource_type: &'static str,
    package_name: &'a str,
    original_file_path: &'a Path,
    unique_id: &'a str,
    tags: &'a [String],
    config: ExposureConfig<'a>,
    depends_on: DependsOn<'a>,
    fqn: &'a [String],
}

#[derive(Serialize)]
struct ExposureConfig<'a> {
    enabled: bool,
    tags: &'a [String],
    meta: &'a Map<String, Value>,
}

impl<'a> ExposureJson<'a> {
    fn of(e: &'a Exposure, project: &'a str) -> Self {
        ExposureJson {
            name: &e.name,
            resource_type: "exposure",
            package_name: project,
            original_file_path: &e.original_file_path,
            unique_id: &e.unique_id,
            tags: &e.spec.tags,
            config: ExposureConfig {
                enabled: true,
                tags: &e.spec.tags,
                meta: &e.spec.meta,
            },
            depends_on: DependsOn::nodes(&e.depends_on),
            fqn: &e.fqn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposure_json() -> Value {
        let nodes = vec!["model.p.a".to_string()];
        let tags = vec!["bi".to_string()];
        let meta = Map::new();
        serde_json::to_value(ExposureJson {
            name: "kpis",
            resource_type: "exposure",
            package_name: "p",
            original_file_path: Path::new("models/x.yml"),
            unique_id: "exposure.p.kpis",
            tags: &tags,
            config: ExposureConfig {
                enabled: true,
                tags: &tags,
                meta: &meta,
            },
            depends_on: DependsOn::nodes(&nodes),
            fqn: &[],
        })
        .unwrap()
    }

    #[test]
    fn prints_dbt_keys_in_the_order_of_the_shape() {
        assert_eq!(
            json_line(exposure_json(), &[]),
            r#"{"name":"kpis","resource_type":"exposure","package_name":"p","original_file_path":"models/x.yml","unique_id":"exposure.p.kpis","tags":["bi"],"config":{"enabled":true,"tags":["bi"],"meta":{}},"depends_on":{"macros":[],"nodes":["model.p.a"]}}"#
        );
    }

    #[test]
    fn prints_output_keys_in_the_order_asked_for() {
        let keys = ["fqn", "bogus", "name", "depends_on"].map(String::from);
        assert_eq!(
            json_line(exposure_json(), &keys),
            r#"{"fqn":[],"name":"kpis","depends_on":{"macros":[],"nodes":["model.p.a"]}}"#
        );
    }
}
