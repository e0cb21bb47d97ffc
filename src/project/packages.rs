//! Installed packages (`dbt_packages/`, or the project's `packages-install-path`): each
//! folder's project file, then its macros, models, seeds, snapshots, tests and YAML loaded
//! into the root project under the package's own name, as dbt loads them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::files::rel_to_root;
use super::generic_tests::materialize_pending_tests;
use super::{Package, Project, ProjectFile, RenderText, DBT_VERSION};
use crate::error::YamlStep::{Key, Named};
use crate::error::{Error, Result};
use crate::memo::Memo;

/// The loader of one project's own files (the root's and each package's are alike).
pub(super) type LoadOwnFiles = fn(&mut Project, &RenderText) -> Result<()>;

/// Load every installed package into `project` with `load_own_files` (after checking that
/// what `packages.yml` or `package-lock.yml` asks for is installed).
pub(super) fn load_packages(
    project: &mut Project,
    render_text: &RenderText,
    load_own_files: LoadOwnFiles,
) -> Result<()> {
    let install = project.root.join(&project.file.packages_install_path);
    let folders = installed_folders(&install)?;
    let mut loaded: Vec<(PathBuf, ProjectFile, PathBuf)> = Vec::new();
    for folder in folders {
        let file_path = ProjectFile::find(&folder)?;
        let cli_vars = &project.cli_vars;
        let file = ProjectFile::load_rendered(
            &file_path,
            Some(&|p: &Path, t: &str| render_text(p, t, cli_vars)),
        )?;
        if file.name == project.name() {
            return Err(Error::config(
                &file_path,
                format!(
                    "package '{}' has the name of the root project: package names must be \
                     unique in a project, rename one of them",
                    file.name
                ),
            ));
        }
        if let Some((_, _, first)) = loaded.iter().find(|(_, f, _)| f.name == file.name) {
            return Err(Error::config(
                &file_path,
                format!(
                    "two installed packages are named '{}' (the other is {}): remove one and \
                     run `strata deps`",
                    file.name,
                    first.display()
                ),
            ));
        }
        if project.version_check {
            check_dbt_version(&file, &file_path)?;
        }
        loaded.push((folder, file, file_path));
    }
    check_installed(project, render_text, &install, &loaded)?;
    let root_file = Arc::new(project.file.clone());
    for (folder, file, file_path) in loaded {
        let vars = package_vars(&file, &project.file, &project.cli_vars);
        let mut package = Project {
            root: folder.clone(),
            file: file.clone(),
            file_path,
            target: project.target.clone(),
            vars: vars.clone(),
            cli_vars: project.cli_vars.clone(),
            nodes: Default::default(),
            sources: Default::default(),
            exposures: Default::default(),
            unit_tests: Default::default(),
            macro_files: Vec::new(),
            docs: Default::default(),
            ignore: super::files::load_ignore(&folder)?,
            pending_tests: Vec::new(),
            memo: Arc::new(Memo::off()),
            warnings: Vec::new(),
            rights: None,
            packages: Vec::new(),
            config_overlay: Some(root_file.clone()),
            version_check: project.version_check,
        };
        load_own_files(&mut package, render_text)?;
        materialize_pending_tests(&mut package)?;
        merge(project, package)?;
        project.packages.push(Package {
            name: file.name.clone(),
            root: folder,
            file,
            vars,
        });
    }
    Ok(())
}

/// The package folders under the install path, in name order (dbt skips `__` folders).
fn installed_folders(install: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(install) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(install, e)),
    };
    let mut folders = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(install, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // is_dir follows symlinks: `local:` packages are installed as links.
        if name.starts_with("__") || name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        folders.push(entry.path());
    }
    folders.sort();
    Ok(folders)
}

/// dbt's check before it loads: every package the lock file (or, without one, the packages
/// file) lists must be installed; else the user is told to run `strata deps`.
fn check_installed(
    project: &Project,
    render_text: &RenderText,
    install: &Path,
    loaded: &[(PathBuf, ProjectFile, PathBuf)],
) -> Result<()> {
    let Some((file, wanted)) = declared_packages(project, render_text)? else {
        return Ok(());
    };
    let installed: Vec<&str> = loaded.iter().map(|(_, f, _)| f.name.as_str()).collect();
    let missing: Vec<&str> = wanted
        .iter()
        .filter_map(|w| w.as_deref())
        .filter(|w| !installed.contains(w))
        .collect();
    if installed.len() >= wanted.len() && missing.is_empty() {
        return Ok(());
    }
    let names = if missing.is_empty() {
        String::new()
    } else {
        format!(
            " Following packages were not found: {}.",
            missing.join(", ")
        )
    };
    let path = project.root.join(&file);
    let error = Error::config(
        &path,
        format!(
            "{} package(s) are specified here, but only {} package(s) are installed in {}.{names} \
             Run `strata deps` to install package dependencies.",
            wanted.len(),
            installed.len(),
            rel_to_root(&project.root, install).display(),
        ),
    );
    // The line of the first missing package (a lock names them), else of `packages:`.
    Err(match missing.first() {
        Some(name) => error.at_yaml_key_of_file(&path, &[Key("packages"), Named(name)]),
        None => error.at_yaml_key_of_file(&path, &[Key("packages")]),
    })
}

/// What the project asks to be installed: the `packages:` of `dependencies.yml` or
/// `packages.yml`, named by `package-lock.yml` when there is a lock (names are unknown until
/// installed otherwise). `None` when the project lists no packages (a lock left from earlier
/// packages asks for nothing then).
fn declared_packages(
    project: &Project,
    render_text: &RenderText,
) -> Result<Option<(String, Vec<Option<String>>)>> {
    // packages.yml is rendered with the command line's vars, as `strata deps` renders it.
    let render = |path: &Path, text: &str| render_text(path, text, &project.cli_vars);
    let declared = crate::deps::read_declared(&project.root, &render)?;
    if declared.entries.is_empty() {
        return Ok(None);
    }
    let lock = project.root.join(crate::deps::LOCK_FILE);
    if let Ok(text) = std::fs::read_to_string(&lock) {
        let doc: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).map_err(|e| Error::yaml(&lock, &e))?;
        if let Some(list) = doc.get("packages").and_then(|p| p.as_sequence()) {
            let names = list
                .iter()
                .map(|entry| {
                    entry
                        .get("name")
                        .and_then(|n| n.as_str())
                        .map(str::to_string)
                })
                .collect();
            return Ok(Some((crate::deps::LOCK_FILE.to_string(), names)));
        }
    }
    let file = rel_to_root(&project.root, &declared.file);
    Ok(Some((
        file.to_string_lossy().into_owned(),
        vec![None; declared.entries.len()],
    )))
}

/// dbt's vars for a package's nodes, later wins: the package's vars and its own block, the
/// root's vars and the root's block for the package, `--vars`.
fn package_vars(
    package: &ProjectFile,
    root: &ProjectFile,
    cli_vars: &Map<String, Value>,
) -> Map<String, Value> {
    let mut vars = package.vars.clone();
    let block = |file: &ProjectFile| match file.vars.get(&package.name) {
        Some(Value::Object(block)) => block.clone(),
        _ => Map::new(),
    };
    vars.extend(block(package));
    vars.extend(root.vars.clone());
    vars.extend(block(root));
    vars.extend(cli_vars.clone());
    vars
}

/// A loaded package's nodes, sources, macros and docs moved into the root project.
fn merge(project: &mut Project, package: Project) -> Result<()> {
    for (id, node) in package.nodes {
        if project.nodes.contains_key(&id) {
            return Err(Error::config(
                &node.original_file_path,
                format!("'{id}' is defined twice"),
            ));
        }
        project.nodes.insert(id, node);
    }
    project.sources.extend(package.sources);
    project.exposures.extend(package.exposures);
    project.unit_tests.extend(package.unit_tests);
    // Macro errors name the file from the root project (`dbt_packages/x/macros/y.sql`).
    let folder = rel_to_root(&project.root, &package.root);
    project
        .macro_files
        .extend(package.macro_files.into_iter().map(|mut f| {
            f.path = folder.join(&f.path);
            f.template_name = f.path.to_string_lossy().into_owned();
            f
        }));
    for (name, body) in package.docs {
        project.docs.entry(name).or_insert(body);
    }
    project.warnings.extend(package.warnings);
    Ok(())
}

/// dbt's `require-dbt-version` check (of the root project and of every package): the dbt
/// version Strata follows must be in the range, unless `--no-version-check`.
pub(super) fn check_dbt_version(file: &ProjectFile, file_path: &Path) -> Result<()> {
    let Some(required) = &file.require_dbt_version else {
        return Ok(());
    };
    let ranges: Vec<String> = match required {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        other => vec![other.to_string()],
    };
    let at_key = |e: Error| e.at_yaml_key_of_file(file_path, &[Key("require-dbt-version")]);
    let admitted = crate::deps::admits_dbt_version(&ranges, DBT_VERSION).map_err(|e| {
        at_key(Error::config(
            file_path,
            format!("require-dbt-version: {e}"),
        ))
    })?;
    if admitted {
        return Ok(());
    }
    let quoted: Vec<String> = ranges.iter().map(|r| format!("'{r}'")).collect();
    Err(at_key(Error::config(
        file_path,
        format!(
            "This version of Strata (which follows dbt {DBT_VERSION}) is not supported with \
             the '{name}' package.\n  Required version of dbt for '{name}': [{}]\nCheck for a \
             different version of the '{name}' package, or run strata again with \
             --no-version-check",
            quoted.join(", "),
            name = file.name,
        ),
    )))
}
