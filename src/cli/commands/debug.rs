//! `debug`: show the project, the profile and the target, and whether the engine answers.

use std::sync::Arc;

use crate::error::Result;
use crate::project::LoadOptions;
use crate::session::printer::Printer;
use crate::session::Session;

use super::flags_for;

pub(crate) async fn debug(load: &LoadOptions, printer: Arc<Printer>) -> Result<i32> {
    let session = Session::open(load, flags_for("debug"), printer.clone())?;
    let p = &session.project;
    printer.info(
        "debug",
        &format!("strata version: {}", env!("CARGO_PKG_VERSION")),
    );
    printer.info(
        "debug",
        &format!("project: {} ({})", p.name(), p.file_path.display()),
    );
    match &p.target.profiles_path {
        Some(path) => printer.info("debug", &format!("profiles.yml: {}", path.display())),
        None => printer.info("debug", "profiles.yml: none (embedded DuckDB default)"),
    }
    printer.info(
        "debug",
        &format!(
            "target: {} (type {}, database {}, schema {})",
            p.target.name, p.target.adapter_type, p.target.database, p.target.schema
        ),
    );
    match session.adapter.describe().await {
        Ok(d) => {
            printer.info("debug", &format!("connection: OK ({d})"));
            printer.info("debug", "All checks passed!");
            Ok(0)
        }
        Err(e) => {
            printer.error("debug", &format!("connection: FAILED: {e}"));
            Ok(1)
        }
    }
}
