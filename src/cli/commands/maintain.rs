//! `maintain`: compact and expire snapshots of the selected Iceberg tables.

use std::sync::Arc;

use crate::error::Result;
use crate::execute::maintain::MaintainOptions;
use crate::project::LoadOptions;
use crate::session::printer::Printer;
use crate::session::{RunOptions, Session};

use super::flags_for;

pub(crate) async fn maintain(
    load: &LoadOptions,
    printer: Arc<Printer>,
    opts: RunOptions,
    what: MaintainOptions,
) -> Result<i32> {
    let session = Session::open(load, flags_for("maintain"), printer.clone())?;
    let reports = session.maintain(&opts, &what).await?;
    printer.info(
        "maintain",
        &format!("Maintained {} table(s).", reports.len()),
    );
    Ok(0)
}
