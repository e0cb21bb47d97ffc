//! The project's data: resource kinds, nodes, sources, exposures, macro files and the
//! [`Project`] that holds them all.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use ignore::gitignore::Gitignore;
use serde_json::{Map, Value};

use super::config::{Config, Materialization, ProjectFile};
use super::profiles::Target;
use super::properties::{ColumnSpec, ExposureSpec, TestSpec, UnitTestSpec};
use crate::memo::Memo;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    Model,
    Seed,
    Snapshot,
    Test,
    UnitTest,
    Operation,
}

impl ResourceType {
    pub fn as_str(&self) -> &'static str {
        match self {
            ResourceType::Model => "model",
            ResourceType::Seed => "seed",
            ResourceType::Snapshot => "snapshot",
            ResourceType::Test => "test",
            ResourceType::UnitTest => "unit_test",
            ResourceType::Operation => "operation",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Column {
    pub name: String,
    pub description: String,
    pub data_type: Option<String>,
    pub meta: Map<String, Value>,
    pub tags: Vec<String>,
}

impl From<&ColumnSpec> for Column {
    fn from(c: &ColumnSpec) -> Self {
        Column {
            name: c.name.clone(),
            description: c.description.clone(),
            data_type: c.data_type.clone(),
            meta: c.meta.clone(),
            tags: c.tags.clone(),
        }
    }
}

/// A `ref()` call: the model name and, for two-argument refs, the package.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefCall {
    pub package: Option<String>,
    pub name: String,
}

impl RefCall {
    /// The key of the relation this ref reaches in the compiler's relations: the name, or
    /// `package.name` for a two-argument ref.
    pub fn relation_key(&self) -> String {
        match &self.package {
            Some(p) => format!("{p}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The ref a [`relation_key`](Self::relation_key) stands for.
    pub fn from_relation_key(key: &str) -> Self {
        match key.split_once('.') {
            Some((p, name)) => RefCall {
                package: Some(p.to_string()),
                name: name.to_string(),
            },
            None => RefCall {
                package: None,
                name: key.to_string(),
            },
        }
    }
}

/// What a generic test node was made from.
#[derive(Debug, Clone)]
pub struct TestMetadata {
    pub name: String,
    pub kwargs: Map<String, Value>,
    pub column_name: Option<String>,
    /// The model, seed or source the test was declared on.
    pub attached_node: Option<String>,
}

/// A model, seed, test or hook: something the runner compiles and executes.
#[derive(Debug, Clone)]
pub struct Node {
    pub unique_id: String,
    pub name: String,
    pub resource_type: ResourceType,
    pub package_name: String,
    /// Path inside its resource folder (`staging/stg_orders.sql`).
    pub path: PathBuf,
    /// Path from the project root (`models/staging/stg_orders.sql`).
    pub original_file_path: PathBuf,
    pub fqn: Vec<String>,
    pub raw_code: String,
    pub config: Config,
    pub description: String,
    pub columns: Vec<Column>,
    pub patch_path: Option<PathBuf>,
    /// Filled in by the parse render.
    pub refs: Vec<RefCall>,
    pub source_refs: Vec<(String, String)>,
    /// Unique ids of the nodes and sources this node depends on (resolved refs/sources).
    pub depends_on: Vec<String>,
    pub test_metadata: Option<TestMetadata>,
    pub checksum: String,
}

impl Node {
    /// A node that is not in the project (inline SQL, the rights engine's macro calls).
    pub fn synthetic(project: &str, name: &str) -> Self {
        Node {
            unique_id: format!("operation.{project}.{name}"),
            name: name.to_string(),
            resource_type: ResourceType::Operation,
            package_name: project.to_string(),
            path: PathBuf::from(name),
            original_file_path: PathBuf::from(format!("<{name}>")),
            fqn: vec![project.to_string(), name.to_string()],
            raw_code: String::new(),
            config: Config::default(),
            description: String::new(),
            columns: Vec::new(),
            patch_path: None,
            refs: Vec::new(),
            source_refs: Vec::new(),
            depends_on: Vec::new(),
            test_metadata: None,
            checksum: String::new(),
        }
    }

    /// This node's key in the compiler's relations (`package.name`), which a two-argument
    /// `ref()` reaches.
    pub fn relation_key(&self) -> String {
        format!("{}.{}", self.package_name, self.name)
    }

    /// The name of the relation this node materializes (`alias` config, else its name).
    pub fn alias(&self) -> &str {
        self.config.str("alias").unwrap_or(&self.name)
    }

    /// The resource type the artifacts and `ls` give the node, as dbt's tools read them: a
    /// rights procedure is listed as an analysis (SQL that is compiled and never run by
    /// `run` or `build`), so an orchestrator such as Cosmos makes no task for it.
    pub fn listed_resource_type(&self) -> &'static str {
        match (self.resource_type, self.config.materialization()) {
            (ResourceType::Model, Materialization::Procedure) => "analysis",
            (rt, _) => rt.as_str(),
        }
    }

    pub fn is_ephemeral(&self) -> bool {
        self.resource_type == ResourceType::Model
            && self.config.materialization() == Materialization::Ephemeral
    }

    /// A model, seed or snapshot: what `ref()` names (ephemeral models included).
    pub fn is_relational_kind(&self) -> bool {
        matches!(
            self.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
        )
    }

    /// Models, seeds and snapshots make relations; tests and hooks do not.
    pub fn is_relational(&self) -> bool {
        matches!(
            self.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
        ) && !self.is_ephemeral()
    }
}

/// A table declared under `sources:`.
#[derive(Debug, Clone)]
pub struct Source {
    pub unique_id: String,
    pub source_name: String,
    pub name: String,
    pub identifier: String,
    pub schema: String,
    pub database: Option<String>,
    pub description: String,
    pub source_description: String,
    pub loader: Option<String>,
    pub loaded_at_field: Option<String>,
    /// A query returning the newest load time (instead of a field).
    pub loaded_at_query: Option<String>,
    pub freshness: Option<Value>,
    pub config: Config,
    pub columns: Vec<Column>,
    pub tags: Vec<String>,
    pub original_file_path: PathBuf,
    pub fqn: Vec<String>,
}

/// An exposure (`exposures:` in YAML): nothing runs it; it is listed, selected
/// (`+exposure:weekly_kpis` builds what a dashboard reads) and written to the manifest.
#[derive(Debug, Clone)]
pub struct Exposure {
    pub unique_id: String,
    pub name: String,
    pub fqn: Vec<String>,
    /// The YAML file, from the project root; `path` from its resource folder.
    pub original_file_path: PathBuf,
    pub path: PathBuf,
    pub spec: ExposureSpec,
    pub refs: Vec<RefCall>,
    pub source_refs: Vec<(String, String)>,
    /// Resolved by the compiler once it knows which nodes are enabled.
    pub depends_on: Vec<String>,
}

/// A file of macros (`{% macro %}` and `{% test %}` blocks).
#[derive(Debug, Clone)]
pub struct MacroFile {
    /// The project (root or installed package) the file belongs to.
    pub package: String,
    /// Template name in the Jinja environment (its path from the project root).
    pub template_name: String,
    pub path: PathBuf,
    /// Source with `{% test x %}` rewritten to `{% macro test_x %}` (what dbt does too).
    pub source: String,
    pub macro_names: Vec<String>,
}

/// Options that shape how a project is loaded.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub project_dir: PathBuf,
    pub profiles_dir: Option<PathBuf>,
    /// `--profile`: the profile to use instead of the project file's `profile:`.
    pub profile: Option<String>,
    pub target: Option<String>,
    /// `--target-path`: instead of the project file's `target-path`.
    pub target_path: Option<String>,
    /// `--vars`, already parsed.
    pub cli_vars: Map<String, Value>,
    /// `--no-partial-parse`: neither use nor keep `target/partial_parse/`.
    pub no_partial_parse: bool,
    /// `--warn-error`: a project warning stops the command.
    pub warn_error: bool,
    /// Check `require-dbt-version` (`--no-version-check` turns it off).
    pub version_check: bool,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub file: ProjectFile,
    pub file_path: PathBuf,
    pub target: Target,
    /// Project vars overlaid with `--vars`.
    pub vars: Map<String, Value>,
    pub cli_vars: Map<String, Value>,
    pub nodes: BTreeMap<String, Node>,
    pub sources: BTreeMap<String, Source>,
    pub exposures: BTreeMap<String, Exposure>,
    /// Unit tests by unique id (their nodes are in `nodes`).
    pub unit_tests: BTreeMap<String, UnitTestSpec>,
    pub macro_files: Vec<MacroFile>,
    pub docs: HashMap<String, String>,
    /// Paths `.dbtignore` excludes from every resource folder (gitignore syntax, as in dbt).
    pub ignore: Gitignore,
    /// Generic tests waiting for their template (kept with the YAML they came from).
    pub(crate) pending_tests: Vec<PendingTest>,
    /// What earlier runs worked out (YAML parses, SQL checks, compiled files).
    pub memo: Arc<Memo>,
    /// Problems that do not stop loading (dbt warns about them), for the command to print.
    pub warnings: Vec<String>,
    /// The `rights:` section, parsed (by [`load_files`](super::load_files)); `None` without
    /// one.
    pub rights: Option<super::RightsConfig>,
    /// The installed packages (`dbt_packages/`), in load order; their nodes, sources and
    /// macro files are in the fields above under their own package name.
    pub packages: Vec<Package>,
    /// While a package loads: the root project's file, whose `models: <package>:` (and seeds,
    /// snapshots, tests) config is laid over the package's own, as in dbt.
    pub(crate) config_overlay: Option<Arc<ProjectFile>>,
    /// Check each project's `require-dbt-version` (`--no-version-check` turns it off).
    pub(crate) version_check: bool,
}

/// An installed package (`dbt_packages/<name>`).
#[derive(Debug, Clone)]
pub struct Package {
    /// The `name:` of its project file (not its folder's name).
    pub name: String,
    /// Its folder (as the project sees it: `dbt_packages/dbt_utils`).
    pub root: PathBuf,
    pub file: ProjectFile,
    /// What `var()` gives its nodes: the package's vars, its own block, the root's vars and
    /// the root's block for the package, then `--vars` (later wins, as in dbt).
    pub vars: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub(crate) struct PendingTest {
    pub spec: TestSpec,
    pub column: Option<String>,
    /// `ref('x')` or `source('s', 't')`, as Jinja.
    pub target_expr: String,
    pub target_name: String,
    pub attached_node: String,
    pub yaml_path: PathBuf,
    /// Tags the test inherits, as in dbt: its column's (and for a source, the source's and
    /// table's too).
    pub tags: Vec<String>,
}

impl Project {
    pub fn name(&self) -> &str {
        &self.file.name
    }

    pub fn target_dir(&self) -> PathBuf {
        self.root.join(&self.file.target_path)
    }

    /// Find a model, seed or snapshot by the name `ref()` uses: in `package` only when one
    /// is named, else in the root project first, then in the packages in load order (dbt's
    /// search from a root node).
    pub fn find_ref(&self, name: &str, package: Option<&str>) -> Option<&Node> {
        let in_package = |p: &str| {
            [
                ResourceType::Model,
                ResourceType::Seed,
                ResourceType::Snapshot,
            ]
            .iter()
            .find_map(|rt| self.nodes.get(&format!("{}.{p}.{name}", rt.as_str())))
        };
        match package {
            Some(p) => in_package(p),
            None => std::iter::once(self.name())
                .chain(self.packages.iter().map(|p| p.name.as_str()))
                .find_map(in_package),
        }
    }

    /// The folder a node's `original_file_path` is relative to: the root project's, or its
    /// package's.
    pub fn root_of(&self, package: &str) -> &std::path::Path {
        self.packages
            .iter()
            .find(|p| p.name == package)
            .map_or(self.root.as_path(), |p| p.root.as_path())
    }

    /// The names of every project: the root's first, then the packages'.
    pub fn project_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name()).chain(self.packages.iter().map(|p| p.name.as_str()))
    }

    /// A source table by name, declared in the root project or a package.
    pub fn find_source(&self, source: &str, table: &str) -> Option<&Source> {
        self.project_names()
            .find_map(|p| self.sources.get(&format!("source.{p}.{source}.{table}")))
    }
}
