//! Which packages, at which versions: dbt's resolver (deps/resolver.py) rewritten. Requests
//! for one package are merged (hub ranges from every requester, git revisions, the
//! weakest `warn-unpinned`), each package's own packages are read breadth first, and the
//! result is checked for duplicate project names and, unlike dbt, for cycles.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::git;
use super::spec::{entries_of, read_package_entries, Entry, Source};
use super::tarball;
use super::version::Spec;
use super::Context;
use crate::error::{Error, Result};

/// A package as requested, before a version is chosen.
#[derive(Debug, Clone)]
pub enum Unpinned {
    Local {
        path: String,
    },
    Git {
        url: String,
        url_unrendered: String,
        revisions: Vec<String>,
        warn_unpinned: bool,
        subdirectory: Option<String>,
    },
    Hub {
        package: String,
        specs: Vec<Spec>,
        install_prerelease: bool,
    },
    Tarball {
        url: String,
        url_unrendered: String,
        name: String,
    },
}

/// A package with its version chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Pinned {
    Local {
        path: String,
    },
    Git {
        url: String,
        url_unrendered: String,
        revision: String,
        warn_unpinned: bool,
        subdirectory: Option<String>,
    },
    Hub {
        package: String,
        version: String,
        latest: String,
    },
    Tarball {
        url: String,
        url_unrendered: String,
        name: String,
    },
}

/// What a package says about itself: its project name, its own packages and (git,
/// tarball) the folder it was fetched into.
pub struct Metadata {
    pub name: String,
    pub entries: Vec<Entry>,
    pub fetched: Option<PathBuf>,
}

impl Unpinned {
    pub fn from_entry(entry: &Entry) -> Result<Unpinned> {
        Ok(match &entry.source {
            Source::Local { path } => Unpinned::Local { path: path.clone() },
            Source::Git {
                url,
                url_unrendered,
                revision,
                warn_unpinned,
                subdirectory,
            } => Unpinned::Git {
                url: url.clone(),
                url_unrendered: url_unrendered.clone(),
                revisions: revision.iter().cloned().collect(),
                warn_unpinned: *warn_unpinned != Some(false),
                subdirectory: subdirectory.clone(),
            },
            Source::Hub {
                package,
                versions,
                install_prerelease,
            } => Unpinned::Hub {
                package: package.clone(),
                specs: versions
                    .iter()
                    .map(|v| {
                        Spec::parse(v).map_err(|e| Error::Usage(format!("package {package}: {e}")))
                    })
                    .collect::<Result<_>>()?,
                install_prerelease: *install_prerelease,
            },
            Source::Tarball {
                url,
                url_unrendered,
            } => Unpinned::Tarball {
                url: url.clone(),
                url_unrendered: url_unrendered.clone(),
                name: entry.name.clone().unwrap_or_default(),
            },
        })
    }

    /// dbt's key for the package: hub name, local path, tarball URL, git URL (with
    /// `/subdirectory`).
    pub fn key(&self) -> String {
        match self {
            Unpinned::Local { path } => path.clone(),
            Unpinned::Hub { package, .. } => package.clone(),
            Unpinned::Tarball { url, .. } => url.clone(),
            Unpinned::Git {
                url, subdirectory, ..
            } => git_name(url, subdirectory.as_deref()),
        }
    }

    /// Every key that names the same package (`x` and `x.git` are one repository).
    fn all_names(&self) -> Vec<String> {
        match self {
            Unpinned::Git {
                url, subdirectory, ..
            } => {
                let other = url
                    .strip_suffix(".git")
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{url}.git"));
                vec![
                    git_name(url, subdirectory.as_deref()),
                    git_name(&other, subdirectory.as_deref()),
                ]
            }
            other => vec![other.key()],
        }
    }

    fn class(&self) -> &'static str {
        match self {
            Unpinned::Local { .. } => "LocalUnpinnedPackage",
            Unpinned::Git { .. } => "GitUnpinnedPackage",
            Unpinned::Hub { .. } => "RegistryUnpinnedPackage",
            Unpinned::Tarball { .. } => "TarballUnpinnedPackage",
        }
    }

    /// Merge another request for the same package into this one.
    fn incorporate(&mut self, other: Unpinned) -> Result<()> {
        match (self, other) {
            (Unpinned::Hub { specs, .. }, Unpinned::Hub { specs: more, .. }) => specs.extend(more),
            (
                Unpinned::Git {
                    revisions,
                    warn_unpinned,
                    ..
                },
                Unpinned::Git {
                    revisions: more,
                    warn_unpinned: w,
                    ..
                },
            ) => {
                revisions.extend(more);
                *warn_unpinned = *warn_unpinned && w;
            }
            (Unpinned::Local { .. }, Unpinned::Local { .. })
            | (Unpinned::Tarball { .. }, Unpinned::Tarball { .. }) => {}
            (old, new) => {
                return Err(Error::Usage(format!(
                    "Cannot incorporate {} ({}) in {} ({}): mismatched types",
                    new.key(),
                    new.class(),
                    old.key(),
                    old.class()
                )))
            }
        }
        Ok(())
    }

    /// Choose the version.
    fn resolved(&self, cx: &Context) -> Result<Pinned> {
        Ok(match self {
            Unpinned::Local { path } => Pinned::Local { path: path.clone() },
            Unpinned::Tarball {
                url,
                url_unrendered,
                name,
            } => Pinned::Tarball {
                url: url.clone(),
                url_unrendered: url_unrendered.clone(),
                name: name.clone(),
            },
            Unpinned::Git {
                url,
                url_unrendered,
                revisions,
                warn_unpinned,
                subdirectory,
            } => {
                let mut distinct: Vec<&String> = revisions.iter().collect();
                distinct.sort();
                distinct.dedup();
                let revision = match distinct.as_slice() {
                    [] => "HEAD".to_string(),
                    [one] => (*one).clone(),
                    many => {
                        let shown: Vec<String> = many.iter().map(|r| format!("'{r}'")).collect();
                        return Err(Error::Usage(format!(
                            "git dependencies should contain exactly one version. {} contains: {{{}}}",
                            self.key(),
                            shown.join(", ")
                        )));
                    }
                };
                Pinned::Git {
                    url: url.clone(),
                    url_unrendered: url_unrendered.clone(),
                    revision,
                    warn_unpinned: *warn_unpinned,
                    subdirectory: subdirectory.clone(),
                }
            }
            Unpinned::Hub {
                package,
                specs,
                install_prerelease,
            } => {
                let chosen =
                    cx.hub
                        .choose(package, specs, *install_prerelease, cx.dbt_version.as_ref())?;
                Pinned::Hub {
                    package: package.clone(),
                    version: chosen.version,
                    latest: chosen.latest,
                }
            }
        })
    }
}

fn git_name(url: &str, subdirectory: Option<&str>) -> String {
    match subdirectory {
        Some(s) => format!("{url}/{s}"),
        None => url.to_string(),
    }
}

impl Pinned {
    /// The name dbt prints in `Installing ...`.
    pub fn name(&self) -> String {
        match self {
            Pinned::Local { path } => path.clone(),
            Pinned::Hub { package, .. } => package.clone(),
            Pinned::Tarball { name, .. } => name.clone(),
            Pinned::Git {
                url, subdirectory, ..
            } => git_name(url, subdirectory.as_deref()),
        }
    }

    /// `version 1.2.0`, `<local @ ../p>`, `revision <sha>`, `tarball (url: ...)`.
    pub fn nice_version_name(&self) -> String {
        match self {
            Pinned::Local { path } => format!("<local @ {path}>"),
            Pinned::Hub { version, .. } => format!("version {version}"),
            Pinned::Tarball { url, .. } => format!("tarball (url: {url})"),
            Pinned::Git { revision, .. } if revision == "HEAD" => "HEAD (default revision)".into(),
            Pinned::Git { revision, .. } => format!("revision {revision}"),
        }
    }

    /// The lock file's entry without `name` (dbt's `to_dict()`).
    pub fn to_lock_entry(&self, scrub: &dyn Fn(&str) -> String) -> Map<String, Value> {
        let mut m = Map::new();
        let text = |s: &str| Value::String(s.to_string());
        match self {
            Pinned::Local { path } => {
                m.insert("local".into(), text(path));
            }
            Pinned::Hub {
                package, version, ..
            } => {
                m.insert("package".into(), text(package));
                m.insert("version".into(), text(version));
            }
            Pinned::Tarball {
                url_unrendered,
                name,
                ..
            } => {
                m.insert("tarball".into(), text(&scrub(url_unrendered)));
                m.insert("name".into(), text(name));
            }
            Pinned::Git {
                url_unrendered,
                revision,
                subdirectory,
                ..
            } => {
                m.insert("git".into(), text(&scrub(url_unrendered)));
                m.insert("revision".into(), text(revision));
                if let Some(s) = subdirectory {
                    m.insert("subdirectory".into(), text(s));
                }
            }
        }
        m
    }

    /// Fetch what the package says about itself (git: check out, replacing the revision
    /// by its SHA; tarball: download and extract).
    pub fn fetch_metadata(&mut self, cx: &Context) -> Result<Metadata> {
        match self {
            Pinned::Local { path } => {
                let dir = cx.local_dir(path);
                project_metadata(&dir, cx, None)
            }
            Pinned::Hub {
                package, version, ..
            } => {
                let info = cx.hub.version_info(package, version)?;
                let mut data = Map::new();
                data.insert("packages".into(), Value::Array(info.packages));
                let origin = PathBuf::from(format!("{}api/v1/{package}.json", cx.hub_url));
                let entries = entries_of(&data, None, &origin)?;
                Ok(Metadata {
                    name: info.name,
                    entries,
                    fetched: None,
                })
            }
            Pinned::Git {
                url,
                revision,
                warn_unpinned,
                subdirectory,
                ..
            } => {
                let name = git_name(url, subdirectory.as_deref());
                let dir = git::checkout_dir(&cx.downloads, &name);
                let sha = git::checkout(url, &dir, revision, subdirectory.as_deref())?;
                if *warn_unpinned
                    && (revision == "HEAD" || revision == "main" || revision == "master")
                {
                    let what = if revision == "HEAD" {
                        "not pinned, using HEAD (default branch)".to_string()
                    } else {
                        format!("pinned to the \"{revision}\" branch")
                    };
                    cx.report.warn(&format!(
                        "The git package \"{url}\" \n\tis {what}.\n\tThis can introduce breaking changes into your project without warning!\n\nSee https://docs.getdbt.com/docs/package-management#section-specifying-package-versions"
                    ));
                }
                *revision = sha;
                let project_dir = match subdirectory {
                    Some(s) => dir.join(s.as_str()),
                    None => dir,
                };
                project_metadata(&project_dir.clone(), cx, Some(project_dir))
            }
            Pinned::Tarball { url, name, .. } => {
                let top = cx.fetch_archive(url, name)?;
                let mut meta = project_metadata(&top, cx, Some(top.clone()))?;
                meta.name = name.clone();
                Ok(meta)
            }
        }
    }
}

/// The project name and packages of a package folder.
fn project_metadata(dir: &Path, cx: &Context, fetched: Option<PathBuf>) -> Result<Metadata> {
    let name = project_name(dir)?;
    let entries = read_package_entries(dir, cx.render)?;
    Ok(Metadata {
        name,
        entries,
        fetched,
    })
}

/// `name:` of the package's dbt_project.yml (or Strata's project.yml).
pub fn project_name(dir: &Path) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct NameOnly {
        name: Option<String>,
    }
    let file = ["dbt_project.yml", "project.yml"]
        .into_iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::config(
                dir,
                "no dbt_project.yml (or project.yml) found in this package folder",
            )
        })?;
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
    let parsed: NameOnly = serde_yaml_ng::from_str(&text).map_err(|e| Error::yaml(&file, &e))?;
    match parsed.name {
        Some(n) if !n.trim().is_empty() => Ok(n),
        _ => Err(Error::config(
            &file,
            "Package defined in dbt_project.yml must have a name!",
        )),
    }
}

/// Requests merged by package, in the order first seen.
#[derive(Default)]
struct Listing {
    items: Vec<(Unpinned, Vec<String>)>,
}

impl Listing {
    fn position(&self, package: &Unpinned) -> Option<usize> {
        let names = package.all_names();
        self.items
            .iter()
            .position(|(u, _)| names.contains(&u.key()))
    }

    /// Add a request; `chain` is how it was reached from the root (for cycles).
    fn incorporate(&mut self, package: Unpinned, chain: Vec<String>) -> Result<()> {
        match self.position(&package) {
            Some(i) => self.items[i].0.incorporate(package),
            None => {
                self.items.push((package, chain));
                Ok(())
            }
        }
    }
}

/// The resolved packages of the root project, in dbt's order (the declared ones first,
/// then their packages, breadth first), each with its project name.
pub fn resolve_packages(declared: &[Entry], cx: &Context) -> Result<Vec<(Pinned, String)>> {
    let mut pending = Listing::default();
    for entry in declared {
        let package = Unpinned::from_entry(entry)?;
        let chain = vec![cx.project_name.clone(), package.key()];
        pending.incorporate(package, chain)?;
    }
    let mut all = Listing::default();
    while !pending.items.is_empty() {
        let mut next = Listing::default();
        for (package, chain) in pending.items {
            all.incorporate(package.clone(), chain.clone())?;
            let i = all
                .position(&package)
                .ok_or_else(|| Error::Internal("a merged package went missing".into()))?;
            let mut pinned = all.items[i].0.resolved(cx)?;
            for entry in pinned.fetch_metadata(cx)?.entries {
                let child = Unpinned::from_entry(&entry)?;
                let key = child.key();
                let mut child_chain = chain.clone();
                child_chain.push(key.clone());
                // dbt would go round forever here.
                if chain.iter().skip(1).any(|k| k == &key) {
                    return Err(Error::Usage(format!(
                        "Package dependencies form a cycle: {}. Remove one of these dependencies (dbt would loop forever here).",
                        child_chain.join(" -> ")
                    )));
                }
                next.incorporate(child, child_chain)?;
            }
        }
        pending = next;
    }
    let mut resolved = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (package, _) in &all.items {
        let mut pinned = package.resolved(cx)?;
        let name = pinned.fetch_metadata(cx)?.name;
        if seen.contains(&name) {
            return Err(Error::Usage(format!("Found duplicate project \"{name}\". This occurs when a dependency has the same project name as some other dependency.")));
        }
        if name == cx.project_name {
            return Err(Error::Usage(format!("Found a dependency with the same name as the root project \"{name}\". Package names must be unique in a project. Please rename one of these packages.")));
        }
        seen.push(name.clone());
        resolved.push((pinned, name));
    }
    Ok(resolved)
}

/// The lock's packages, each resolved again (hub versions are checked against the hub).
pub fn resolve_lock_packages(locked: &[Entry], cx: &Context) -> Result<Vec<Pinned>> {
    let mut listing = Listing::default();
    for entry in locked {
        listing.incorporate(Unpinned::from_entry(entry)?, Vec::new())?;
    }
    listing.items.iter().map(|(u, _)| u.resolved(cx)).collect()
}

/// Extracted archive of a `tarball:` package (downloaded once per run).
pub(super) fn extract_archive(cx: &Context, url: &str, name: &str, into: &Path) -> Result<PathBuf> {
    if !into.exists() {
        let bytes = cx.hub.http().get_bytes(url)?;
        tarball::extract(&bytes, into, url)?;
    }
    tarball::single_top_folder(into, url, name)
}
