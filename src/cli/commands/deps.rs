//! `deps`: install the project's packages (the work is in `crate::deps`).

use std::path::Path;

use crate::cli::args::{deps_env, DepsArgs, DepsSource};
use crate::compile::Compiler;
use crate::deps::{AddPackage, AddSource, DepsOptions, Report};
use crate::error::{Error, Result};
use crate::project::{LoadOptions, ProjectFile, DBT_VERSION};
use crate::session::printer::Printer;

/// `deps` lines through the printer every command uses.
struct PrinterReport<'a>(&'a Printer);

impl Report for PrinterReport<'_> {
    fn info(&self, message: &str) {
        self.0.info("deps", message);
    }
    fn warn(&self, message: &str) {
        self.0.warn("deps", message);
    }
}

pub(crate) fn deps(load: &LoadOptions, printer: &Printer, args: DepsArgs) -> Result<i32> {
    let file = ProjectFile::load(&ProjectFile::find(&load.project_dir)?)?;
    let root = load
        .project_dir
        .canonicalize()
        .map_err(|e| Error::io(&load.project_dir, e))?;
    let env = deps_env()?;
    let source = match args.source {
        DepsSource::Hub => AddSource::Hub,
        DepsSource::Git => AddSource::Git,
        DepsSource::Local => AddSource::Local,
    };
    let add_package = match &args.add_package {
        Some(value) => Some(AddPackage::parse(value, source)?),
        None => None,
    };
    // packages.yml is rendered with env_var() and the command line's --vars only, as dbt's
    // package renderer has it (not the project's vars).
    let vars = load.cli_vars.clone();
    let render = move |path: &Path, text: &str| Compiler::render_text(path, text, &vars);
    let options = DepsOptions {
        root,
        project_name: file.name.clone(),
        packages_install_path: file.packages_install_path.clone(),
        dbt_version: load.version_check.then(|| DBT_VERSION.to_string()),
        upgrade: args.upgrade,
        lock_only: args.lock,
        add_package,
        hub_url: env.hub_url,
        downloads_dir: env.downloads_dir,
        http_timeout: env.http_timeout,
        ca_bundle: env.ca_bundle,
        render: &render,
    };
    crate::deps::run(options, &PrinterReport(printer))?;
    Ok(0)
}
