//! `run-operation`: run one macro and print the SQL it returned, if any.

use std::sync::Arc;

use crate::cli::args::parse_mapping;
use crate::error::Result;
use crate::execute;
use crate::project::LoadOptions;
use crate::session::printer::Printer;
use crate::session::Session;

use super::flags_for;

pub(crate) async fn run_operation(
    load: &LoadOptions,
    printer: Arc<Printer>,
    macro_name: &str,
    args: Option<&str>,
) -> Result<i32> {
    let args = parse_mapping("--args", args)?;
    let session = Session::open(load, flags_for("run-operation"), printer.clone())?;
    let sql = execute::run_operation(&session, macro_name, &args).await?;
    if !sql.trim().is_empty() {
        printer.info("run_operation", sql.trim());
    }
    Ok(0)
}
