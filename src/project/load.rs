//! Loading a project from disk: the project file and target ([`open`]), then the macro,
//! docs, model, seed, snapshot, test and YAML files ([`load_files`]), YAML snapshots
//! (`relation:`) included.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::dependency::parse_dependency;
use super::exposures::add_exposure;
use super::files::{
    checksum, files_under, fqn_for, load_ignore, read, rel_to_root, stem, yaml_folders,
};
use super::jinja_blocks::{
    blank_comments, doc_blocks, macro_names, rewrite_test_blocks, snapshot_blocks,
};
use super::patch::apply_patch;
use super::properties::PropertiesFile;
use super::rights;
use super::sources::add_source;
use super::unit_tests::add_unit_test;
use super::{
    config, profiles, LoadOptions, MacroFile, Node, Project, ProjectFile, RenderText, ResourceType,
};
use crate::error::YamlStep::{Key, Named};
use crate::error::{Error, Result};
use crate::memo::Memo;

/// Loading a project from disk, step one: the project file, vars and target, without the
/// resource files yet, which is enough to start connecting to the warehouse (opening a large
/// DuckDB file takes a while) before [`load_files`]. `render_text` renders a YAML text
/// (profiles, source properties) with `env_var()`/`var()`; it comes from the compile module
/// so that both share one Jinja dialect; `target_rules` (from the adapters) say what each
/// engine makes of a profile's output.
pub fn open(
    opts: &LoadOptions,
    render_text: &RenderText,
    target_rules: &profiles::TargetRules,
) -> Result<Project> {
    let root = opts.project_dir.clone();
    let file_path = ProjectFile::find(&root)?;
    ProjectFile::check_dbt_twin(&file_path)?;
    let mut file = ProjectFile::load_rendered(
        &file_path,
        Some(&|p: &Path, t: &str| render_text(p, t, &opts.cli_vars)),
    )?;
    if let Some(path) = &opts.target_path {
        file.target_path = path.clone();
    }
    let name = file.name.clone();

    let mut vars = project_vars(&file, &file_path, &|p, t| render_text(p, t, &opts.cli_vars))?;
    // dbt allows vars scoped by project name; flatten ours in.
    if let Some(Value::Object(scoped)) = vars.remove(&name) {
        vars.extend(scoped);
    }
    vars.extend(opts.cli_vars.clone());

    let profiles_file = profiles::find_profiles(&root, opts.profiles_dir.as_deref());
    let profile = opts.profile.as_deref().or(file.profile.as_deref());
    let target = profiles::resolve_target(
        &name,
        profile.map(|p| (p, opts.profile.is_some())),
        &file.target_path,
        profiles_file.as_deref(),
        opts.target.as_deref(),
        &|p, t| render_text(p, t, &vars),
        target_rules,
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
        rights: None,
        packages: Vec::new(),
        config_overlay: None,
        version_check: opts.version_check,
    };
    if project.version_check {
        super::packages::check_dbt_version(&project.file, &project.file_path)?;
    }
    let setting_warnings = (target_rules.check_settings)(&project.target)?;
    project.warnings.extend(setting_warnings);
    if !opts.no_partial_parse {
        let adapter = project.target.adapter_type.clone();
        project.memo = Arc::new(Memo::open(&project.target_dir(), &adapter));
    }
    Ok(project)
}

/// The project file's `vars:`, their Jinja rendered (`env_var()`, the command line's vars) as
/// dbt renders them before a model reads them.
fn project_vars(
    file: &ProjectFile,
    path: &Path,
    render: crate::yaml_render::RenderValue,
) -> Result<Map<String, Value>> {
    let vars = Value::Object(file.vars.clone());
    if !crate::yaml_render::has_jinja(&vars.to_string()) {
        return Ok(file.vars.clone());
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let rendered = crate::yaml_render::render_strings(
        &vars,
        &crate::yaml_render::Rendering {
            file: path,
            text: &text,
            under: &["vars"],
            render,
            skip: &|_| false,
            native: false,
        },
    )?;
    Ok(match rendered {
        Value::Object(map) => map,
        _ => file.vars.clone(),
    })
}

/// Macros, docs, models, seeds, tests and YAML properties of a project from [`open`], its
/// `rights:` settings, and its installed packages.
pub fn load_files(project: &mut Project, render_text: &RenderText) -> Result<()> {
    load_own_files(project, render_text)?;
    super::packages::load_packages(project, render_text, load_own_files)
}

/// The files of one project (the root or a package), without its packages.
fn load_own_files(project: &mut Project, render_text: &RenderText) -> Result<()> {
    load_macros(project)?;
    load_docs(project)?;
    load_models(project)?;
    load_seeds(project)?;
    load_snapshots(project)?;
    load_singular_tests(project)?;
    load_properties(project, render_text)?;
    // Parsed after the resource files (it used to be read only when compiling began), so a
    // project with several problems still reports a broken file first.
    project.rights = rights::of_project_file(project.file.rights.as_ref(), &project.file_path)
        .map_err(|e| e.at_yaml_key_of_file(&project.file_path, &[Key("rights")]))?;
    Ok(())
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
                package: project.name().to_string(),
                template_name: rel.to_string_lossy().into_owned(),
                path: rel,
                source,
                macro_names,
            });
        }
    }
    Ok(())
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
    let config = layered_config(project, resource_type, tree, &fqn);
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

/// A node's config from the project file: its own project's, then (for a package's node)
/// the root project's, which may configure packages (`models: <package>: ...`).
pub(super) fn layered_config(
    project: &Project,
    resource_type: ResourceType,
    tree: &Map<String, Value>,
    fqn: &[String],
) -> config::Config {
    let mut config = config::tree_config(tree, fqn);
    if let Some(root) = &project.config_overlay {
        let root_tree = match resource_type {
            ResourceType::Seed => &root.seeds,
            ResourceType::Snapshot => &root.snapshots,
            ResourceType::Test => &root.data_tests,
            _ => &root.models,
        };
        config.merge(config::tree_config(root_tree, fqn).entries());
    }
    config
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
            node.config.set_default("materialized", "seed".into());
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
                node.config = layered_config(project, ResourceType::Snapshot, &tree, &node.fqn);
                node.config.set_default("materialized", "snapshot".into());
                insert_unique(project, node)?;
            }
        }
    }
    Ok(())
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
            node.config.set_default("materialized", "test".into());
            node.config
                .set_default("severity", super::generic_tests::DEFAULT_SEVERITY.into());
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
        )
        .at_yaml_key_of_file(
            &project.root.join(yaml),
            &[Key("snapshots"), Named(name), Key("relation")],
        ));
    }
    if parse_dependency(relation).is_none() {
        return Err(Error::config(
            yaml,
            format!("snapshot '{name}': relation {relation:?} is not ref('...') or source('...', '...')"),
        )
        .at_yaml_key_of_file(
            &project.root.join(yaml),
            &[Key("snapshots"), Named(name), Key("relation")],
        ));
    }
    let mut fqn = yaml_folders(project, yaml);
    fqn.insert(0, project.name().to_string());
    fqn.push(name.to_string());
    let raw_code = format!("select * from {{{{ {} }}}}", relation.trim());
    let mut config = config::tree_config(&project.file.snapshots, &fqn);
    config.set_default("materialized", "snapshot".into());
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
