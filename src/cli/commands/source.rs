//! `source freshness`: how long ago each selected source was loaded, against its
//! thresholds; writes target/sources.json.

use std::path::PathBuf;
use std::sync::Arc;

use crate::artifacts;
use crate::error::Result;
use crate::execute;
use crate::project::LoadOptions;
use crate::session::printer::Printer;
use crate::session::{RunOptions, Session};

use super::flags_for;

pub(crate) async fn freshness(
    load: &LoadOptions,
    printer: Arc<Printer>,
    opts: RunOptions,
    output: Option<PathBuf>,
) -> Result<i32> {
    let session = Session::open(load, flags_for("freshness"), printer.clone())?;
    let started = std::time::Instant::now();
    let chosen = session.resolve_selection(&opts)?;
    let ids: Vec<String> = session
        .project
        .sources
        .keys()
        .filter(|id| chosen.as_ref().is_none_or(|c| c.contains(*id)))
        .cloned()
        .collect();
    let results = execute::freshness::check(&session, &ids).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let path = output.unwrap_or_else(|| session.project.target_dir().join("sources.json"));
    artifacts::write_json(
        &path,
        &execute::freshness::sources_json(&session, &results, elapsed),
    )?;
    if results.is_empty() {
        printer.info(
            "no_nodes",
            "Nothing to do: no selected source has freshness to check (freshness with \
             warn_after or error_after, and a loaded_at_field).",
        );
        return Ok(0);
    }
    printer.info(
        "finished",
        &format!(
            "Finished running {} sources in {elapsed:.2}s.",
            results.len()
        ),
    );
    for r in results.iter().filter(|r| r.failed()) {
        let why = r.message.as_deref().unwrap_or("stale: past error_after");
        printer.error("freshness_error", &format!("{}: {why}", r.unique_id));
    }
    let warned = results
        .iter()
        .any(|r| r.status == execute::freshness::FreshnessStatus::Warn);
    let failed = results.iter().any(|r| r.failed()) || (opts.warn_error && warned);
    Ok(i32::from(failed))
}
