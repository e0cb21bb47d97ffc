//! `strata docs generate` and `strata docs serve`. Generate writes, in the target folder,
//! `manifest.json`, `catalog.json` (what the warehouse says of each relation, in dbt's shape),
//! `column_lineage.json` (docs/column-lineage.md) and the documentation site (site/), which
//! opens from `file://`. Serve serves that folder on 127.0.0.1.

pub mod catalog;
pub mod lineage;
pub mod serve;
mod site;

use std::collections::HashMap;
use std::path::PathBuf;

use crate::artifacts;
use crate::error::Result;
use crate::execute;
use crate::materialize::compiled_path;
use crate::project::ResourceType;
use crate::session::{Command, RunOptions, Session};
use catalog::Catalog;

/// `docs generate`'s flags.
#[derive(Debug, Clone, Default)]
pub struct GenerateOptions {
    /// Compile every node first, so the pages show compiled SQL (dbt's default;
    /// `--no-compile` skips it).
    pub compile: bool,
    /// `--empty-catalog`: no catalog query; catalog.json lists nothing.
    pub empty_catalog: bool,
    /// `--static`: also `static_index.html`, the whole site in one file.
    pub one_file: bool,
}

/// What `docs generate` wrote.
pub struct Generated {
    pub target: PathBuf,
    pub nodes: usize,
    pub catalogued: usize,
    pub site_files: usize,
    pub site_bytes: u64,
}

pub async fn generate(session: &Session, opts: &GenerateOptions) -> Result<Generated> {
    let target = session.project.target_dir();
    std::fs::create_dir_all(&target).map_err(|e| crate::error::Error::io(&target, e))?;
    let mut compiled = HashMap::new();
    if opts.compile {
        let ids = session.nodes_in(None, Command::Compile, &RunOptions::default(), None);
        execute::compile_only(session, &ids, false).await?;
        for id in &ids {
            let Some(node) = session.project.nodes.get(id) else {
                continue;
            };
            if node.resource_type == ResourceType::Seed {
                continue;
            }
            if let Ok(sql) = std::fs::read_to_string(compiled_path(&session.project, node)) {
                compiled.insert(id.clone(), sql);
            }
        }
    }
    artifacts::write_manifest(&target.join("manifest.json"), session)?;
    let catalog = match opts.empty_catalog {
        true => Catalog::empty(session),
        false => Catalog::read(session).await?,
    };
    let catalog_json = catalog::catalog_json(session, &catalog);
    let catalogued = catalog_json["nodes"].as_object().map_or(0, |m| m.len())
        + catalog_json["sources"].as_object().map_or(0, |m| m.len());
    artifacts::write_json(&target.join("catalog.json"), &catalog_json)?;
    let lineage = lineage::ColumnLineage::compute(session, &compiled, &catalog);
    artifacts::write_json(&target.join("column_lineage.json"), &lineage.to_json())?;
    let written = site::write(
        session,
        &catalog,
        &compiled,
        &lineage,
        &target,
        opts.one_file,
    )?;
    Ok(Generated {
        target,
        nodes: session.project.nodes.len()
            + session.project.sources.len()
            + session.project.exposures.len(),
        catalogued,
        site_files: written.files,
        site_bytes: written.bytes,
    })
}
