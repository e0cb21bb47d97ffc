//! `strata deps`: install the packages a project declares (packages.yml or
//! dependencies.yml) as dbt-core's `dbt deps` does: resolve them (hub versions, git
//! revisions, local folders, tarballs, and their own packages), record the result in
//! `package-lock.yml` with dbt's `sha1_hash`, and install what the lock says into the
//! packages-install-path.
//!
//! `spec` reads the entries, `version` holds dbt's version rules, `hub`/`http` talk to the
//! package hub, `git` and `tarball` fetch, `resolve` chooses, `lock` records, `install`
//! puts each package in place, `add` is `--add-package`.

mod add;
mod git;
mod http;
mod hub;
mod install;
mod lock;
mod resolve;
mod spec;
mod tarball;
mod version;
mod yaml_out;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use add::{AddPackage, AddSource};
pub use hub::{hub_url, DEFAULT_HUB_URL};
pub use lock::{sha1_hash, LOCK_FILE};
pub use spec::{read_declared, Declared, Entry, Render, Source};
pub use version::{admits_dbt_version, NotAVersion, Spec as VersionSpec};

use crate::error::{Error, Result};
use resolve::Pinned;

/// Where `deps` says what it does (the CLI's printer).
pub trait Report {
    fn info(&self, message: &str);
    fn warn(&self, message: &str);
}

/// What the command line asked for.
pub struct DepsOptions<'a> {
    /// The root project folder, absolute.
    pub root: PathBuf,
    pub project_name: String,
    /// `packages-install-path` as the project file writes it (relative to the root).
    pub packages_install_path: String,
    /// The dbt version hub packages' `require_dbt_version` is checked against; `None` is
    /// `--no-version-check`.
    pub dbt_version: Option<String>,
    pub upgrade: bool,
    /// `--lock`: write the lock file only.
    pub lock_only: bool,
    pub add_package: Option<AddPackage>,
    /// The hub's base URL (see [`hub_url`]).
    pub hub_url: String,
    /// `DBT_DOWNLOADS_DIR`: where downloads go (kept); else a temporary folder.
    pub downloads_dir: Option<PathBuf>,
    /// `DBT_HTTP_TIMEOUT` for tarball downloads.
    pub http_timeout: Duration,
    /// A PEM bundle of root certificates replacing the built-in ones (`REQUESTS_CA_BUNDLE`).
    pub ca_bundle: Option<PathBuf>,
    pub render: Render<'a>,
}

/// What resolving and installing share.
pub struct Context<'a> {
    pub project_name: String,
    pub root: PathBuf,
    pub install_path: PathBuf,
    pub install_path_text: String,
    pub hub: hub::Hub<'a>,
    pub hub_url: String,
    pub downloads: PathBuf,
    pub dbt_version: Option<version::Spec>,
    pub render: Render<'a>,
    pub report: &'a dyn Report,
}

impl Context<'_> {
    /// A local package's folder: relative to the root project (also for a package's own
    /// local packages, as dbt resolves them).
    pub fn local_dir(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }

    /// A `tarball:` package downloaded and extracted; its single top folder.
    pub fn fetch_archive(&self, url: &str, name: &str) -> Result<PathBuf> {
        let mut parts = Path::new(name).components();
        if !matches!(
            (parts.next(), parts.next()),
            (Some(std::path::Component::Normal(_)), None)
        ) {
            return Err(Error::Usage(format!(
                "Invalid package name '{name}': resolves outside of the temporary downloads directory"
            )));
        }
        let into = self.downloads.join(format!("{name}_untarred"));
        resolve::extract_archive(self, url, name, &into)
    }
}

/// A temporary downloads folder, removed when the command ends.
struct Downloads {
    path: PathBuf,
    remove: bool,
}

impl Downloads {
    fn new(configured: Option<PathBuf>) -> Result<Self> {
        let (path, remove) = match configured {
            Some(p) => (p, false),
            None => {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                let name = format!("strata-downloads-{}-{stamp}", std::process::id());
                (std::env::temp_dir().join(name), true)
            }
        };
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Downloads { path, remove })
    }
}

impl Drop for Downloads {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Run `deps`.
pub fn run(opts: DepsOptions, report: &dyn Report) -> Result<()> {
    let mut declared = spec::read_declared(&opts.root, opts.render)?;
    if let Some(add) = &opts.add_package {
        declared = add::add(&opts.root, &declared, add, report)?;
    }
    let dbt_version = match &opts.dbt_version {
        Some(v) => Some(version::Spec::parse(v).map_err(|e| Error::Internal(e.to_string()))?),
        None => None,
    };
    let downloads = Downloads::new(opts.downloads_dir.clone())?;
    let cx = Context {
        project_name: opts.project_name.clone(),
        root: opts.root.clone(),
        install_path: opts.root.join(&opts.packages_install_path),
        install_path_text: opts.packages_install_path.clone(),
        hub: hub::Hub::new(
            opts.hub_url.clone(),
            http::Http::new(opts.http_timeout, opts.ca_bundle.as_deref())?,
            report,
        ),
        hub_url: opts.hub_url.clone(),
        downloads: downloads.path.clone(),
        dbt_version,
        render: opts.render,
        report,
    };
    let lock_file = lock::lock_path(&opts.root);
    let relock = opts.upgrade
        || !lock_file.exists()
        || lock::recorded_hash(&lock_file)? != Some(lock::sha1_hash(&declared.entries));
    if relock {
        write_lock(&declared, &lock_file, &cx)?;
    }
    if opts.lock_only {
        return Ok(());
    }
    // With nothing declared dbt would still install a stale lock's packages; Strata
    // installs nothing (and says so, as dbt does without a lock).
    let lock_to_install = (!declared.entries.is_empty()).then_some(lock_file.as_path());
    install_locked(lock_to_install, &cx)
}

/// dbt's "no packages" line (the file name is dbt's, whichever file was read).
const NO_PACKAGES: &str = "Warning: No packages were found in packages.yml";

/// Resolve the declared packages and write the lock file.
fn write_lock(declared: &Declared, lock_file: &Path, cx: &Context) -> Result<()> {
    if declared.entries.is_empty() {
        cx.report.info(NO_PACKAGES);
        return Ok(());
    }
    let resolved = resolve::resolve_packages(&declared.entries, cx)?;
    let secrets: Vec<String> = std::env::vars()
        .filter(|(k, v)| k.starts_with("DBT_ENV_SECRET") && !v.trim().is_empty())
        .map(|(_, v)| v)
        .collect();
    let scrub = |text: &str| {
        let mut out = text.to_string();
        for s in &secrets {
            out = out.replace(s.as_str(), "*****");
        }
        if out != text {
            cx.report.warn(&format!("Detected secret env var in {out}. dbt will write a scrubbed representation to the lock file. This will cause issues with subsequent 'dbt deps' using the lock file, requiring 'dbt deps --upgrade'"));
        }
        out
    };
    let entries: Vec<serde_json::Map<String, serde_json::Value>> = resolved
        .iter()
        .map(|(pinned, name)| {
            let mut entry = pinned.to_lock_entry(&scrub);
            entry.insert("name".into(), serde_json::Value::String(name.clone()));
            entry
        })
        .collect();
    let text = lock::lock_document(&entries, &lock::sha1_hash(&declared.entries));
    lock::write_lock(lock_file, &text)?;
    cx.report.info(&format!(
        "Updating lock file in file path: {}",
        lock_file.display()
    ));
    Ok(())
}

/// Empty the packages-install-path and install every package of the lock file.
fn install_locked(lock_file: Option<&Path>, cx: &Context) -> Result<()> {
    if cx.install_path.exists() {
        std::fs::remove_dir_all(&cx.install_path).map_err(|e| Error::io(&cx.install_path, e))?;
    }
    std::fs::create_dir_all(&cx.install_path).map_err(|e| Error::io(&cx.install_path, e))?;
    let locked = match lock_file {
        Some(file) if file.exists() => lock::read_lock(file, cx.render)?,
        _ => Vec::new(),
    };
    if locked.is_empty() {
        cx.report.info(NO_PACKAGES);
        return Ok(());
    }
    let mut to_upgrade = Vec::new();
    for mut package in resolve::resolve_lock_packages(&locked, cx)? {
        let name = package.name();
        cx.report.info(&format!("Installing {name}"));
        install::install(&mut package, cx)?;
        cx.report
            .info(&format!("Installed from {}", package.nice_version_name()));
        if let Pinned::Hub {
            version, latest, ..
        } = &package
        {
            if latest != version {
                to_upgrade.push(crate::python_text::repr_str(&name));
                cx.report
                    .info(&format!("Updated version available: {latest}"));
            } else {
                cx.report.info("Up to date!");
            }
        }
        if let Pinned::Git {
            subdirectory: Some(sub),
            ..
        } = &package
        {
            cx.report.info(&format!("and subdirectory {sub}"));
        }
    }
    if !to_upgrade.is_empty() {
        cx.report.info("");
        cx.report.info(&format!(
            "Updates available for packages: [{}]",
            to_upgrade.join(", ")
        ));
        cx.report
            .info("Update your versions in packages.yml, then run strata deps");
    }
    Ok(())
}
