//! `parse`: load the project and write `target/manifest.json`, without touching the
//! warehouse, as `dbt parse` does (orchestrators such as Cosmos read the manifest).

use std::sync::Arc;

use crate::artifacts;
use crate::error::Result;
use crate::project::LoadOptions;
use crate::session::printer::Printer;
use crate::session::Session;

use super::flags_for;

pub(crate) fn parse(load: &LoadOptions, printer: Arc<Printer>) -> Result<i32> {
    let session = Session::open_offline(load, flags_for("parse"), printer.clone())?;
    let path = session.project.target_dir().join("manifest.json");
    artifacts::write_manifest(&path, &session)?;
    printer.info(
        "parse",
        &format!(
            "Wrote {} ({} nodes)",
            path.display(),
            session.project.nodes.len()
        ),
    );
    Ok(0)
}
