//! The project: everything read from disk before any template is rendered.
//!
//! `load` walks the project folders and returns a [`Project`] with one [`Node`] per model,
//! seed and test, the sources, the macro files and the doc blocks. Rendering (which fills in
//! each node's refs and in-file config) is the compile module's job.

pub mod config;
pub mod profiles;
pub mod properties;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use config::{Config, ProjectFile};
pub use profiles::Target;
use properties::{ColumnSpec, ExposureSpec, NodePatch, PropertiesFile, SourceSpec, TestSpec};
pub use properties::{Fixture, UnitTestSpec};

use crate::error::{Error, Result};
use crate::memo::Memo;

/// Renders a YAML text (profiles, source properties) with `var()`/`env_var()`: (file, text, vars).
pub type RenderText = dyn Fn(&Path, &str, &Map<String, Value>) -> Result<String>;

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

    /// The name of the relation this node materializes (`alias` config, else its name).
    pub fn alias(&self) -> &str {
        self.config.str("alias").unwrap_or(&self.name)
    }

    pub fn is_ephemeral(&self) -> bool {
        self.resource_type == ResourceType::Model && self.config.materialized() == "ephemeral"
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
    pub target: Option<String>,
    /// `--vars`, already parsed.
    pub cli_vars: Map<String, Value>,
    /// `--no-partial-parse`: neither use nor keep `target/partial_parse/`.
    pub no_partial_parse: bool,
    /// `--warn-error`: a project warning stops the command.
    pub warn_error: bool,
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

    /// Find a model, seed or snapshot by the name `ref()` uses.
    pub fn find_ref(&self, name: &str, package: Option<&str>) -> Option<&Node> {
        if let Some(p) = package {
            if p != self.name() {
                return None;
            }
        }
        [
            ResourceType::Model,
            ResourceType::Seed,
            ResourceType::Snapshot,
        ]
        .iter()
        .filter_map(|rt| {
            self.nodes
                .get(&format!("{}.{}.{}", rt.as_str(), self.name(), name))
        })
        .next()
    }

    pub fn find_source(&self, source: &str, table: &str) -> Option<&Source> {
        self.sources
            .get(&format!("source.{}.{}.{}", self.name(), source, table))
    }
}

pub fn checksum(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// The files with one of `exts` under the project folder `dir`, in name order, as (absolute,
/// relative to `dir`) pairs; what `.dbtignore` matches is skipped, folders and all.
fn files_under(project: &Project, dir: &str, exts: &[&str]) -> Result<Vec<(PathBuf, PathBuf)>> {
    // Without `.` parts (`./models`), so `.dbtignore` patterns match paths from the root, as
    // in dbt.
    let dir: PathBuf = Path::new(dir)
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    let base = project.root.join(dir);
    if !base.is_dir() {
        return Ok(Vec::new());
    }
    let ignored = |entry: &walkdir::DirEntry| {
        let is_dir = entry.file_type().is_dir();
        project.ignore.matched(entry.path(), is_dir).is_ignore()
    };
    let mut out = Vec::new();
    let walk = walkdir::WalkDir::new(&base).sort_by_file_name().into_iter();
    for entry in walk.filter_entry(|e| !ignored(e)) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(&base).to_path_buf();
            Error::io(&path, std::io::Error::other(e.to_string()))
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let p = entry.path();
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if exts.contains(&ext) {
            let rel = p.strip_prefix(&base).unwrap_or(p).to_path_buf();
            out.push((p.to_path_buf(), rel));
        }
    }
    Ok(out)
}

/// The project's `.dbtignore` (dbt's name, gitignore syntax); none means nothing is ignored.
fn load_ignore(root: &Path) -> Result<Gitignore> {
    let path = root.join(".dbtignore");
    // The error names the file already; the matcher's own message adds the line.
    let error = |err: ignore::Error| {
        let err = match err {
            ignore::Error::WithPath { err, .. } => *err,
            other => other,
        };
        Error::config(".dbtignore", err.to_string())
    };
    let mut builder = GitignoreBuilder::new(root);
    if path.is_file() {
        if let Some(err) = builder.add(&path) {
            return Err(error(err));
        }
    }
    builder.build().map_err(error)
}

fn rel_to_root(root: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(root).unwrap_or(p).to_path_buf()
}

fn fqn_for(project: &str, rel: &Path, name: &str) -> Vec<String> {
    let mut fqn = vec![project.to_string()];
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            fqn.push(c.as_os_str().to_string_lossy().into_owned());
        }
    }
    fqn.push(name.to_string());
    fqn
}

/// Loading a project from disk, step one: the project file, vars and target, without the
/// resource files yet, which is enough to start connecting to the warehouse (opening a large
/// DuckDB file takes a while) before [`load_files`]. `render_text` renders a YAML text
/// (profiles, source properties) with `env_var()`/`var()`; it comes from the compile module
/// so that both share one Jinja dialect.
pub fn open(opts: &LoadOptions, render_text: &RenderText) -> Result<Project> {
    let root = opts.project_dir.clone();
    let file_path = ProjectFile::find(&root)?;
    let file = ProjectFile::load(&file_path)?;
    let name = file.name.clone();

    let mut vars = file.vars.clone();
    // dbt allows vars scoped by project name; flatten ours in.
    if let Some(Value::Object(scoped)) = vars.remove(&name) {
        vars.extend(scoped);
    }
    vars.extend(opts.cli_vars.clone());

    let profiles_file = profiles::find_profiles(&root, opts.profiles_dir.as_deref());
    let target = profiles::resolve_target(
        &name,
        file.profile.as_deref(),
        &file.target_path,
        profiles_file.as_deref(),
        opts.target.as_deref(),
        &|p, t| render_text(p, t, &vars),
    )?;

    let mut project = Project {
        root: root.clone(),
        file,
        file_path,
        target,
        vars,
        cli_vars: opts.cli_vars.clone(),
        nodes: BTreeMap::new(),
        sources: BTreeMap::new(),
        exposures: BTreeMap::new(),
        unit_tests: BTreeMap::new(),
        macro_files: Vec::new(),
        docs: HashMap::new(),
        ignore: load_ignore(&root)?,
        pending_tests: Vec::new(),
        memo: Arc::new(Memo::off()),
        warnings: Vec::new(),
    };
    if !opts.no_partial_parse {
        let adapter = project.target.adapter_type.clone();
        project.memo = Arc::new(Memo::open(&project.target_dir(), &adapter));
    }
    Ok(project)
}

/// Macros, docs, models, seeds, tests and YAML properties of a project from [`open`].
pub fn load_files(project: &mut Project, render_text: &RenderText) -> Result<()> {
    load_macros(project)?;
    load_docs(project)?;
    load_models(project)?;
    load_seeds(project)?;
    load_snapshots(project)?;
    load_singular_tests(project)?;
    load_properties(project, render_text)
}

fn load_macros(project: &mut Project) -> Result<()> {
    // As in dbt, generic tests may also live in `<test-path>/generic/`.
    let generic = project
        .file
        .test_paths
        .iter()
        .map(|t| format!("{}/generic", t.trim_end_matches('/')))
        .filter(|d| project.root.join(d).is_dir());
    let dirs: Vec<String> = project
        .file
        .macro_paths
        .iter()
        .cloned()
        .chain(generic)
        .collect();
    for dir in dirs {
        for (abs, _) in files_under(project, &dir, &["sql", "jinja", "j2"])? {
            let text = read(&abs)?;
            let source = rewrite_test_blocks(&blank_comments(&text));
            let macro_names = macro_names(&source);
            let rel = rel_to_root(&project.root, &abs);
            project.macro_files.push(MacroFile {
                template_name: rel.to_string_lossy().into_owned(),
                path: rel,
                source,
                macro_names,
            });
        }
    }
    Ok(())
}

/// Jinja comments (`{# ... #}`) blanked, their newlines kept (so template lines stay the
/// file's): a macro commented out is not a definition.
pub fn blank_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{#") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("#}") else {
            // Unclosed: leave it for the template parser to report.
            out.push_str(&rest[start..]);
            return out;
        };
        let comment = &rest[start..start + len + 2];
        out.extend(comment.chars().filter(|c| *c == '\n'));
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// `{% test name(args) %}...{% endtest %}` is a macro named `test_name` (as in dbt).
pub fn rewrite_test_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{%") {
        out.push_str(&rest[..start]);
        let tag = &rest[start..];
        let Some(end) = tag.find("%}") else {
            out.push_str(tag);
            return out;
        };
        let inner = &tag[2..end];
        let trimmed = inner.trim_start_matches('-').trim_start();
        let lead = &inner[..inner.len() - inner.trim_start_matches('-').trim_start().len()];
        if let Some(after) = trimmed.strip_prefix("test ") {
            out.push_str(&format!("{{%{lead}macro test_{}%}}", after.trim_start()));
        } else if trimmed.trim_end_matches('-').trim() == "endtest" {
            out.push_str(&format!("{{%{}%}}", inner.replace("endtest", "endmacro")));
        } else {
            out.push_str(&tag[..end + 2]);
        }
        rest = &tag[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Each top-level `{% macro name(...) %}...{% endmacro %}` block of a file, as (name, block,
/// 1-based line where it starts). Nested macros stay inside their parent's block.
pub fn macro_blocks(source: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start: Option<(usize, String)> = None;
    let mut pos = 0;
    while let Some(rel) = source[pos..].find("{%") {
        let open = pos + rel;
        let Some(close_rel) = source[open..].find("%}") else {
            break;
        };
        let close = open + close_rel + 2;
        let inner =
            source[open + 2..close - 2].trim_matches(|c: char| c == '-' || c.is_whitespace());
        if let Some(after) = inner.strip_prefix("macro ") {
            if depth == 0 {
                let name: String = after
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                start = Some((open, name));
            }
            depth += 1;
        } else if inner == "endmacro" {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                if let Some((begin, name)) = start.take() {
                    let line = source[..begin].matches('\n').count() + 1;
                    out.push((name, source[begin..close].to_string(), line));
                }
            }
        }
        pos = close;
    }
    out
}

/// Names of the `{% macro name(...) %}` blocks in a file.
pub fn macro_names(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        let tag = &rest[start + 2..];
        let inner = tag.trim_start_matches('-').trim_start();
        if let Some(after) = inner.strip_prefix("macro ") {
            let name: String = after
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.push(name);
            }
        }
        rest = tag;
    }
    names
}

fn load_docs(project: &mut Project) -> Result<()> {
    for dir in project.file.model_paths.clone() {
        for (abs, _) in files_under(project, &dir, &["md"])? {
            let text = read(&abs)?;
            for (name, body) in doc_blocks(&text) {
                project.docs.insert(name, body);
            }
        }
    }
    Ok(())
}

/// `{% docs name %}...{% enddocs %}` blocks in a Markdown file.
pub fn doc_blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{%") {
        let after = &rest[start + 2..];
        let Some(close) = after.find("%}") else { break };
        let inner = after[..close].trim_matches(|c: char| c == '-' || c.is_whitespace());
        let body_start = &after[close + 2..];
        if let Some(name) = inner.strip_prefix("docs ") {
            let name = name.trim().to_string();
            let end = body_start.find("{%").and_then(|i| {
                let t = &body_start[i + 2..];
                let c = t.find("%}")?;
                let tag = t[..c].trim_matches(|c: char| c == '-' || c.is_whitespace());
                (tag == "enddocs").then_some((i, i + 2 + c + 2))
            });
            if let Some((body_end, tag_end)) = end {
                out.push((name, body_start[..body_end].trim().to_string()));
                rest = &body_start[tag_end..];
                continue;
            }
        }
        rest = body_start;
    }
    out
}

fn new_node(
    project: &Project,
    resource_type: ResourceType,
    name: &str,
    rel: &Path,
    abs: &Path,
    raw_code: String,
    tree: &Map<String, Value>,
) -> Node {
    let fqn = fqn_for(project.name(), rel, name);
    let config = config::tree_config(tree, &fqn);
    Node {
        unique_id: format!("{}.{}.{}", resource_type.as_str(), project.name(), name),
        resource_type,
        path: rel.to_path_buf(),
        original_file_path: rel_to_root(&project.root, abs),
        fqn,
        checksum: checksum(&raw_code),
        raw_code,
        config,
        ..Node::synthetic(project.name(), name)
    }
}

fn insert_unique(project: &mut Project, node: Node) -> Result<()> {
    if let Some(existing) = project.nodes.get(&node.unique_id) {
        return Err(Error::config(
            &node.original_file_path,
            format!(
                "two {}s are named '{}': {} and {}",
                node.resource_type.as_str(),
                node.name,
                existing.original_file_path.display(),
                node.original_file_path.display()
            ),
        ));
    }
    project.nodes.insert(node.unique_id.clone(), node);
    Ok(())
}

fn stem(rel: &Path) -> String {
    rel.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn load_models(project: &mut Project) -> Result<()> {
    let tree = project.file.models.clone();
    for dir in project.file.model_paths.clone() {
        let files = files_under(project, &dir, &["sql"])?;
        // Reading, hashing and configuring thousands of small files: on every core.
        let shared: &Project = project;
        let nodes = crate::parallel::map(&files, |(abs, rel)| -> Result<Node> {
            let raw = read(abs)?;
            let name = stem(rel);
            Ok(new_node(
                shared,
                ResourceType::Model,
                &name,
                rel,
                abs,
                raw,
                &tree,
            ))
        });
        for node in nodes {
            insert_unique(project, node?)?;
        }
    }
    Ok(())
}

fn load_seeds(project: &mut Project) -> Result<()> {
    let tree = project.file.seeds.clone();
    for dir in project.file.seed_paths.clone() {
        for (abs, rel) in files_under(project, &dir, &["csv"])? {
            let name = stem(&rel);
            // A seed's "code" is its CSV path; the checksum covers its content.
            let mut node = new_node(
                project,
                ResourceType::Seed,
                &name,
                &rel,
                &abs,
                String::new(),
                &tree,
            );
            node.config.0.entry("materialized").or_insert("seed".into());
            let bytes = std::fs::read(&abs).map_err(|e| Error::io(&abs, e))?;
            node.checksum = checksum(&String::from_utf8_lossy(&bytes));
            insert_unique(project, node)?;
        }
    }
    Ok(())
}

/// `{% snapshot name %} ... {% endsnapshot %}` blocks in the snapshot folders, each a node
/// whose code is the block's query (dbt's fqn: folders, file name, snapshot name).
fn load_snapshots(project: &mut Project) -> Result<()> {
    let tree = project.file.snapshots.clone();
    for dir in project.file.snapshot_paths.clone() {
        for (abs, rel) in files_under(project, &dir, &["sql"])? {
            let text = blank_comments(&read(&abs)?);
            let blocks = snapshot_blocks(&text)
                .map_err(|m| Error::config(rel_to_root(&project.root, &abs), m))?;
            for (name, body) in blocks {
                let in_file = rel.with_file_name(stem(&rel)).join(&name);
                let mut node = new_node(
                    project,
                    ResourceType::Snapshot,
                    &name,
                    &rel,
                    &abs,
                    body,
                    &tree,
                );
                node.fqn = fqn_for(project.name(), &in_file, &name);
                node.fqn.pop();
                node.fqn.push(name.clone());
                node.config = config::tree_config(&tree, &node.fqn);
                node.config
                    .0
                    .entry("materialized")
                    .or_insert("snapshot".into());
                insert_unique(project, node)?;
            }
        }
    }
    Ok(())
}

/// The (name, query) of each snapshot block; the query keeps its line breaks, padded so
/// that template lines stay the file's.
fn snapshot_blocks(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(rel) = text[pos..].find("{%") {
        let open = pos + rel;
        let Some(close_rel) = text[open..].find("%}") else {
            break;
        };
        let close = open + close_rel + 2;
        let inner = text[open + 2..close - 2].trim_matches(|c: char| c == '-' || c.is_whitespace());
        pos = close;
        let Some(name) = inner.strip_prefix("snapshot ") else {
            continue;
        };
        let name = name.trim().to_string();
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(format!(
                "'{{% snapshot {name} %}}': a snapshot needs a plain name"
            ));
        }
        let mut end = None;
        let mut search = close;
        while let Some(r) = text[search..].find("{%") {
            let o = search + r;
            let Some(c) = text[o..].find("%}") else { break };
            let tag = text[o + 2..o + c].trim_matches(|c: char| c == '-' || c.is_whitespace());
            if tag == "endsnapshot" {
                end = Some((o, o + c + 2));
                break;
            }
            search = o + c + 2;
        }
        let Some((body_end, after)) = end else {
            return Err(format!("snapshot '{name}' has no {{% endsnapshot %}}"));
        };
        let line = text[..close].matches('\n').count();
        let body = format!("{}{}", "\n".repeat(line), &text[close..body_end]);
        out.push((name, body));
        pos = after;
    }
    Ok(out)
}

fn load_singular_tests(project: &mut Project) -> Result<()> {
    let tree = project.file.data_tests.clone();
    for dir in project.file.test_paths.clone() {
        let generic: PathBuf = Path::new(&dir)
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect::<PathBuf>()
            .join("generic");
        let fixtures = generic.with_file_name("fixtures");
        for (abs, rel) in files_under(project, &dir, &["sql"])? {
            // Generic test definitions (loaded as macros) and unit-test fixtures, not
            // singular tests.
            let from_root = rel_to_root(&project.root, &abs);
            if from_root.starts_with(&generic) || from_root.starts_with(&fixtures) {
                continue;
            }
            let raw = read(&abs)?;
            let name = stem(&rel);
            let mut node = new_node(project, ResourceType::Test, &name, &rel, &abs, raw, &tree);
            node.config.0.entry("materialized").or_insert("test".into());
            insert_unique(project, node)?;
        }
    }
    Ok(())
}

fn load_properties(project: &mut Project, render_text: &RenderText) -> Result<()> {
    let mut dirs = project.file.model_paths.clone();
    dirs.extend(project.file.seed_paths.clone());
    dirs.extend(project.file.test_paths.clone());
    dirs.extend(project.file.snapshot_paths.clone());
    dirs.sort();
    dirs.dedup();
    let mut files = Vec::new();
    for dir in dirs {
        for (abs, _) in files_under(project, &dir, &["yml", "yaml"])? {
            files.push((rel_to_root(&project.root, &abs), abs));
        }
    }
    // YAML parsing is most of loading a large project (a few multi-megabyte schema.yml
    // files): read and parse on every core, then apply (and report errors) in file order.
    // An unchanged file's parse comes from the memo (JSON, read many times faster).
    let memo = &project.memo;
    let parsed = crate::parallel::map_each(&files, |(rel, abs)| -> Result<PropertiesFile> {
        let text = read(abs)?;
        if text.trim().is_empty() {
            return Ok(PropertiesFile::default());
        }
        memo.parsed_or(&text, |t| {
            serde_yaml_ng::from_str(t).map_err(|e| Error::yaml(rel, &e))
        })
    });
    memo.forget_unused_parses();
    for ((rel, _), file) in files.iter().zip(parsed) {
        let file = file?;
        for patch in &file.snapshots {
            if let Some(relation) = &patch.relation {
                add_yaml_snapshot(project, &patch.name, relation, rel)?;
            }
        }
        for mut patch in file
            .models
            .into_iter()
            .chain(file.seeds)
            .chain(file.snapshots)
        {
            patch.patch_path = rel.clone();
            apply_patch(project, patch)?;
        }
        for source in file.sources {
            add_source(project, source, rel, render_text)?;
        }
        for exposure in file.exposures {
            add_exposure(project, exposure, rel)?;
        }
        for unit_test in file.unit_tests {
            add_unit_test(project, unit_test, rel)?;
        }
    }
    Ok(())
}

fn add_exposure(project: &mut Project, spec: ExposureSpec, yaml: &Path) -> Result<()> {
    if spec.config.get("enabled") == Some(&Value::Bool(false)) {
        return Ok(());
    }
    let unique_id = format!("exposure.{}.{}", project.name(), spec.name);
    if project.exposures.contains_key(&unique_id) {
        return Err(Error::config(
            yaml,
            format!("exposure '{}' is defined twice", spec.name),
        ));
    }
    let bad = |m: String| Error::config(yaml, format!("exposure '{}': {m}", spec.name));
    const TYPES: &[&str] = &["dashboard", "notebook", "analysis", "ml", "application"];
    if !TYPES.contains(&spec.kind.as_str()) {
        return Err(bad(format!(
            "type {:?}: expected one of {}",
            spec.kind,
            TYPES.join(", ")
        )));
    }
    if !spec.owner.contains_key("name") && !spec.owner.contains_key("email") {
        return Err(bad("owner needs a name or an email".into()));
    }
    let mut refs = Vec::new();
    let mut source_refs = Vec::new();
    for dep in &spec.depends_on {
        // A unique id works too (model.<project>.<name>), as in dbt.
        if let Some(Dependency::Ref(r)) = dependency_by_id(dep, project.name()) {
            refs.push(r);
            continue;
        }
        if let Some(Dependency::Source(src, t)) = dependency_by_id(dep, project.name()) {
            source_refs.push((src, t));
            continue;
        }
        match parse_dependency(dep) {
            Some(Dependency::Ref(r)) => refs.push(r),
            Some(Dependency::Source(s, t)) => source_refs.push((s, t)),
            None => {
                return Err(Error::config(
                    yaml,
                    format!(
                        "exposure '{}': depends_on entry {dep:?} is not ref('...') or \
                         source('...', '...')",
                        spec.name
                    ),
                ))
            }
        }
    }
    // Paths and fqn as dbt has them: from the resource folder the file sits in.
    let folder = project
        .file
        .model_paths
        .iter()
        .chain(&project.file.seed_paths)
        .chain(&project.file.test_paths)
        .map(|d| Path::new(d.trim_end_matches('/')))
        .find(|d| yaml.starts_with(d));
    let path = folder
        .and_then(|d| yaml.strip_prefix(d).ok())
        .unwrap_or(yaml)
        .to_path_buf();
    let fqn = fqn_for(project.name(), &path, &spec.name);
    // Tags and meta from the project file's exposures: tree, config and the keys.
    let mut config = config::tree_config(&project.file.exposures, &fqn);
    config.merge(&spec.config);
    if !config.enabled() {
        return Ok(());
    }
    let mut spec = spec;
    for t in config.tags() {
        if !spec.tags.contains(&t) {
            spec.tags.push(t);
        }
    }
    if let Some(Value::Object(meta)) = config.get("meta") {
        for (k, v) in meta {
            spec.meta.entry(k.clone()).or_insert(v.clone());
        }
    }
    let exposure = Exposure {
        unique_id: unique_id.clone(),
        name: spec.name.clone(),
        fqn,
        original_file_path: yaml.to_path_buf(),
        path,
        spec,
        refs,
        source_refs,
        depends_on: Vec::new(),
    };
    project.exposures.insert(unique_id, exposure);
    Ok(())
}

/// A snapshot written in YAML (`snapshots: - name: x, relation: ref('y'), config: ...`):
/// the query is `select * from` the relation; its config comes with the YAML patch.
fn add_yaml_snapshot(project: &mut Project, name: &str, relation: &str, yaml: &Path) -> Result<()> {
    let unique_id = format!("snapshot.{}.{}", project.name(), name);
    if project.nodes.contains_key(&unique_id) {
        return Err(Error::config(
            yaml,
            format!(
                "snapshot '{name}' is defined in a snapshot file and here (relation:): keep one"
            ),
        ));
    }
    if parse_dependency(relation).is_none() {
        return Err(Error::config(
            yaml,
            format!("snapshot '{name}': relation {relation:?} is not ref('...') or source('...', '...')"),
        ));
    }
    let mut fqn = yaml_folders(project, yaml);
    fqn.insert(0, project.name().to_string());
    fqn.push(name.to_string());
    let raw_code = format!("select * from {{{{ {} }}}}", relation.trim());
    let mut config = config::tree_config(&project.file.snapshots, &fqn);
    config.0.entry("materialized").or_insert("snapshot".into());
    let node = Node {
        unique_id: unique_id.clone(),
        resource_type: ResourceType::Snapshot,
        path: yaml.to_path_buf(),
        original_file_path: yaml.to_path_buf(),
        fqn,
        checksum: checksum(&raw_code),
        raw_code,
        config,
        ..Node::synthetic(project.name(), name)
    };
    project.nodes.insert(unique_id, node);
    Ok(())
}

fn add_unit_test(project: &mut Project, spec: UnitTestSpec, yaml: &Path) -> Result<()> {
    if spec.config.get("enabled") == Some(&Value::Bool(false)) {
        return Ok(());
    }
    let unique_id = format!("unit_test.{}.{}.{}", project.name(), spec.model, spec.name);
    let mut fqn = yaml_folders(project, yaml);
    fqn.insert(0, project.name().to_string());
    fqn.push(spec.model.clone());
    fqn.push(spec.name.clone());
    let mut config = Config::default();
    config.merge(&spec.config);
    config.0.entry("materialized").or_insert("unit".into());
    let node = Node {
        unique_id: unique_id.clone(),
        resource_type: ResourceType::UnitTest,
        // dbt's compiled file: <yaml>/models/<test>.sql.
        path: PathBuf::from("models").join(format!("{}.sql", spec.name)),
        original_file_path: yaml.to_path_buf(),
        fqn,
        config,
        description: spec.description.clone(),
        checksum: checksum(&serde_json::to_string(&spec).unwrap_or_default()),
        ..Node::synthetic(project.name(), &spec.name)
    };
    if project.nodes.contains_key(&unique_id) {
        return Err(Error::config(
            yaml,
            format!(
                "unit test '{}' of model '{}' is defined twice",
                spec.name, spec.model
            ),
        ));
    }
    project.nodes.insert(unique_id.clone(), node);
    project.unit_tests.insert(unique_id, spec);
    Ok(())
}

/// `model.<project>.<name>` (or seed, snapshot) and `source.<project>.<source>.<table>`.
fn dependency_by_id(text: &str, project: &str) -> Option<Dependency> {
    let parts: Vec<&str> = text.trim().split('.').collect();
    match parts.as_slice() {
        [kind, p, name] if *p == project && ["model", "seed", "snapshot"].contains(kind) => {
            Some(Dependency::Ref(RefCall {
                package: None,
                name: name.to_string(),
            }))
        }
        ["source", p, s, t] if *p == project => {
            Some(Dependency::Source(s.to_string(), t.to_string()))
        }
        _ => None,
    }
}

/// What `ref('...')` / `source('...', '...')` text names (exposures, unit-test inputs,
/// YAML snapshots).
pub enum Dependency {
    Ref(RefCall),
    Source(String, String),
}

/// `ref('x')`, `ref('pkg', 'x')` or `source('s', 't')` (either quote), as exposures list
/// what they depend on.
pub fn parse_dependency(text: &str) -> Option<Dependency> {
    let text = text.trim();
    let (func, rest) = text.split_once('(')?;
    let args = rest.trim_end().strip_suffix(')')?;
    let args: Vec<String> = args
        .split(',')
        .map(|a| {
            let a = a.trim();
            let unquoted = a
                .strip_prefix('\'')
                .and_then(|a| a.strip_suffix('\''))
                .or_else(|| a.strip_prefix('"').and_then(|a| a.strip_suffix('"')))?;
            Some(unquoted.to_string())
        })
        .collect::<Option<_>>()?;
    match (func.trim(), args.as_slice()) {
        ("ref", [name]) => Some(Dependency::Ref(RefCall {
            package: None,
            name: name.clone(),
        })),
        ("ref", [package, name]) => Some(Dependency::Ref(RefCall {
            package: Some(package.clone()),
            name: name.clone(),
        })),
        ("source", [s, t]) => Some(Dependency::Source(s.clone(), t.clone())),
        _ => None,
    }
}

fn tests_of(tests: &[Value], data_tests: &[Value], yaml: &Path) -> Result<Vec<TestSpec>> {
    tests
        .iter()
        .chain(data_tests)
        .map(|t| TestSpec::parse(t).map_err(|m| Error::config(yaml, m)))
        .collect()
}

fn apply_patch(project: &mut Project, patch: NodePatch) -> Result<()> {
    let name = project.name().to_string();
    let uid = [
        ResourceType::Model,
        ResourceType::Seed,
        ResourceType::Snapshot,
    ]
    .iter()
    .map(|rt| format!("{}.{}.{}", rt.as_str(), name, patch.name))
    .find(|id| project.nodes.contains_key(id));
    let Some(uid) = uid else {
        // dbt warns and goes on: a renamed or deleted model's YAML should not stop a build.
        project.warnings.push(format!(
            "{}: properties for '{}', but no model, seed or snapshot has that name (ignored)",
            patch.patch_path.display(),
            patch.name
        ));
        return Ok(());
    };
    let yaml = patch.patch_path.clone();
    let model_tests = tests_of(&patch.tests, &patch.data_tests, &yaml)?;
    let mut column_tests = Vec::new();
    for c in &patch.columns {
        for t in tests_of(&c.tests, &c.data_tests, &yaml)? {
            column_tests.push((c.name.clone(), c.tags.clone(), t));
        }
    }
    let Some(node) = project.nodes.get_mut(&uid) else {
        return Ok(());
    };
    node.description = patch.description.clone();
    node.columns = patch.columns.iter().map(Column::from).collect();
    node.patch_path = Some(yaml.clone());
    let mut overlay = patch.config.clone();
    if let Some(tags) = &patch.tags {
        overlay.insert("tags".into(), tags.clone());
    }
    if !patch.meta.is_empty() {
        overlay.insert("meta".into(), Value::Object(patch.meta.clone()));
    }
    node.config.merge(&overlay);
    let target_expr = format!("ref('{}')", patch.name);
    for (column, tags, spec) in column_tests
        .into_iter()
        .map(|(c, tags, t)| (Some(c), tags, t))
        .chain(model_tests.into_iter().map(|t| (None, Vec::new(), t)))
    {
        project.pending_tests.push(PendingTest {
            spec,
            column,
            target_expr: target_expr.clone(),
            target_name: patch.name.clone(),
            attached_node: uid.clone(),
            yaml_path: yaml.clone(),
            tags,
        });
    }
    Ok(())
}

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

fn add_source(
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
        let unique_id = format!("source.{}.{}.{}", project.name(), spec.name, table.name);
        let mut config = Config::default();
        config.merge(&spec.config);
        config.merge(&table.config);
        // dbt-duckdb reads `external_location` from config or meta.
        for meta in [&spec.meta, &table.meta] {
            if let Some(loc) = meta.get("external_location") {
                config.set("external_location", loc.clone());
            }
        }
        let mut rendered = Map::new();
        for (k, v) in &config.0 {
            let v = match v {
                Value::String(s) => Value::String(render(s)?),
                other => other.clone(),
            };
            rendered.insert(k.clone(), v);
        }
        let identifier = render(table.identifier.as_deref().unwrap_or(&table.name))?;
        // Freshness settings, weakest first: the project file's `sources:`, the source's
        // keys and config, the table's keys and config (dbt's layering).
        let fqn = vec![
            project.name().to_string(),
            spec.name.clone(),
            table.name.clone(),
        ];
        let tree = config::tree_config(&project.file.sources, &fqn);
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
        let layers = [
            tree.0.clone(),
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
        ];
        let mut tags = spec.tags.clone();
        tags.extend(table.tags.clone());
        let source = Source {
            unique_id: unique_id.clone(),
            source_name: spec.name.clone(),
            name: table.name.clone(),
            identifier,
            schema: schema.clone(),
            database: database.clone(),
            description: table.description.clone(),
            source_description: spec.description.clone(),
            loader: spec.loader.clone(),
            loaded_at_field: layered_str(&layers, "loaded_at_field"),
            loaded_at_query: layered_str(&layers, "loaded_at_query"),
            freshness: layered_freshness(&layers),
            config: Config(rendered),
            columns: table.columns.iter().map(Column::from).collect(),
            tags,
            original_file_path: yaml.to_path_buf(),
            fqn: vec![
                project.name().to_string(),
                spec.name.clone(),
                table.name.clone(),
            ],
        };
        let target_expr = format!("source('{}', '{}')", spec.name, table.name);
        let target_name = format!("{}_{}", spec.name, table.name);
        let mut pending = Vec::new();
        for t in tests_of(&table.tests, &table.data_tests, yaml)? {
            pending.push((None, Vec::new(), t));
        }
        for c in &table.columns {
            for t in tests_of(&c.tests, &c.data_tests, yaml)? {
                pending.push((Some(c.name.clone()), c.tags.clone(), t));
            }
        }
        for (column, column_tags, spec) in pending {
            let mut tags = source.tags.clone();
            tags.extend(column_tags);
            project.pending_tests.push(PendingTest {
                spec,
                column,
                target_expr: target_expr.clone(),
                target_name: target_name.clone(),
                attached_node: unique_id.clone(),
                yaml_path: yaml.to_path_buf(),
                tags,
            });
        }
        project.sources.insert(unique_id, source);
    }
    Ok(())
}

/// Turn the pending generic tests into test nodes whose code calls the test macro.
/// Called by the compiler once it knows which test macros exist.
pub(crate) fn materialize_pending_tests(project: &mut Project) -> Result<()> {
    let pending = std::mem::take(&mut project.pending_tests);
    let tree = project.file.data_tests.clone();
    // Generic tests' unique_ids so far, and where each came from.
    let mut test_names: HashMap<String, PathBuf> = HashMap::new();
    for p in pending {
        // column_name first: dbt's generated names list it before the other arguments.
        let mut kwargs = Map::new();
        if let Some(c) = &p.column {
            kwargs.insert("column_name".into(), Value::String(c.clone()));
        }
        kwargs.extend(p.spec.args.clone());
        let on_source = p.target_expr.starts_with("source(");
        let (short, full) =
            generic_test_names(&p.spec.test_name, on_source, &p.target_name, &kwargs);
        // A `name:` given in the YAML is the test's name, file and alias.
        let (name, file_stem) = match &p.spec.custom_name {
            Some(custom) => (custom.clone(), custom.clone()),
            None => (full, short),
        };
        let mut call_args = vec![format!("model=get_where_subquery({})", p.target_expr)];
        for (k, v) in &kwargs {
            call_args.push(format!("{k}={}", jinja_literal(v)));
        }
        // `foo.bar` names a test macro in a package namespace; ours are flat.
        let macro_name = p
            .spec
            .test_name
            .rsplit('.')
            .next()
            .unwrap_or(&p.spec.test_name);
        let raw_code = format!("{{{{ test_{macro_name}({}) }}}}", call_args.join(", "));
        let namespace = p
            .spec
            .test_name
            .rsplit_once('.')
            .map(|(ns, _)| ns.to_string());
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
        let mut config = config::tree_config(&tree, &fqn);
        config.0.insert("materialized".into(), "test".into());
        if !p.tags.is_empty() {
            let mut inherited = Map::new();
            inherited.insert("tags".into(), serde_json::json!(p.tags));
            config.merge(&inherited);
        }
        config.merge(&p.spec.config);
        let node = Node {
            unique_id: format!("test.{}.{}.{}", project.name(), name, hash),
            name: name.clone(),
            resource_type: ResourceType::Test,
            package_name: project.name().to_string(),
            path: rel,
            original_file_path: p.yaml_path.clone(),
            fqn,
            checksum: checksum(&raw_code),
            raw_code,
            config,
            description: String::new(),
            columns: Vec::new(),
            patch_path: None,
            refs: Vec::new(),
            source_refs: Vec::new(),
            depends_on: Vec::new(),
            test_metadata: Some(TestMetadata {
                name: p.spec.test_name.clone(),
                kwargs,
                column_name: p.column.clone(),
                attached_node: Some(p.attached_node.clone()),
            }),
        };
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
                .map(|(k, v)| format!("{}: {}", py_repr_str(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Number(n) => n.to_string(),
    }
}

fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => py_repr_str(s),
        other => py_str(other),
    }
}

/// Python's `repr()` of a string: single quotes unless only double quotes avoid escaping.
fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
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
                    .map(|k| format!("{}: {}", py_repr_str(k), hashable(&o[*k])))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
            Value::Array(a) => format!(
                "[{}]",
                a.iter().map(hashable).collect::<Vec<_>>().join(", ")
            ),
            other => py_repr_str(&py_str(other)),
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

/// The folders of a YAML file below the resource path that holds it (`models/staging/x.yml`
/// -> `staging`), the middle of a generic test's fqn as in dbt.
fn yaml_folders(project: &Project, yaml: &Path) -> Vec<String> {
    let f = &project.file;
    let roots = f
        .model_paths
        .iter()
        .chain(&f.seed_paths)
        .chain(&f.test_paths);
    let below = roots
        .filter_map(|r| {
            let r: PathBuf = Path::new(r)
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .collect();
            yaml.strip_prefix(&r).ok()
        })
        .min_by_key(|rest| rest.components().count());
    below
        .and_then(Path::parent)
        .map(|dir| {
            dir.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
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
    fn test_blocks_become_macros() {
        let src = "{% test is_even(model, column_name) %}select 1{% endtest %}\n{%- test x() -%}{%- endtest -%}";
        let out = rewrite_test_blocks(src);
        assert_eq!(
            out,
            "{% macro test_is_even(model, column_name) %}select 1{% endmacro %}\n{%- macro test_x() -%}{%- endmacro -%}"
        );
        assert_eq!(macro_names(&out), vec!["test_is_even", "test_x"]);
    }

    #[test]
    fn macro_blocks_are_split_with_their_lines() {
        let src = "{# head #}\n{% macro a(x) %}{{ x }}{% endmacro %}\n\n{%- macro b() -%}\n{% macro inner() %}{% endmacro %}\n{%- endmacro %}";
        let blocks = macro_blocks(src);
        assert_eq!(blocks.len(), 2);
        assert_eq!((blocks[0].0.as_str(), blocks[0].2), ("a", 2));
        assert_eq!(blocks[0].1, "{% macro a(x) %}{{ x }}{% endmacro %}");
        assert_eq!((blocks[1].0.as_str(), blocks[1].2), ("b", 4));
        assert!(blocks[1].1.contains("inner") && blocks[1].1.ends_with("{%- endmacro %}"));
    }

    #[test]
    fn doc_blocks_are_extracted() {
        let md = "intro\n{% docs orders %}\nAll orders.\n{% enddocs %}\n{% docs x %}y{% enddocs %}";
        assert_eq!(
            doc_blocks(md),
            vec![
                ("orders".into(), "All orders.".into()),
                ("x".into(), "y".into())
            ]
        );
    }

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
        assert_eq!(py_repr_str("ref('x')"), "\"ref('x')\"");
        assert_eq!(py_repr_str("a\\b\n"), "'a\\\\b\\n'");
        assert_eq!(py_repr_str("both ' and \""), "'both \\' and \"'");
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
