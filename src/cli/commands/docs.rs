//! `docs generate` and `docs serve` (src/docs/).

use std::sync::Arc;

use crate::cli::args::DocsCmd;
use crate::docs::{self, GenerateOptions};
use crate::error::{Error, Result};
use crate::project::LoadOptions;
use crate::session::printer::Printer;
use crate::session::Session;

use super::flags_for;

pub(crate) async fn docs(load: &LoadOptions, printer: Arc<Printer>, cmd: DocsCmd) -> Result<i32> {
    match cmd {
        DocsCmd::Generate {
            no_compile,
            empty_catalog,
            one_file,
        } => {
            let session = Session::open(load, flags_for("generate"), printer.clone())?;
            let opts = GenerateOptions {
                compile: !no_compile,
                empty_catalog,
                one_file,
            };
            let started = std::time::Instant::now();
            let g = docs::generate(&session, &opts).await?;
            printer.info(
                "catalog_written",
                &format!(
                    "Catalog written to {} ({} relations of the project's {} nodes, sources \
                     and exposures found in the warehouse)",
                    g.target.join("catalog.json").display(),
                    g.catalogued,
                    g.nodes
                ),
            );
            printer.info(
                "docs_written",
                &format!(
                    "Site written to {} ({} files, {} KB) in {:.2}s",
                    g.target.join("index.html").display(),
                    g.site_files,
                    g.site_bytes / 1000,
                    started.elapsed().as_secs_f64()
                ),
            );
            session.leave();
            Ok(0)
        }
        DocsCmd::Serve {
            port,
            host,
            no_browser,
        } => {
            // The target folder only: no warehouse, no compile.
            let session = Session::open_offline(load, flags_for("serve"), printer.clone())?;
            let root = session.project.target_dir();
            if !root.join("index.html").exists() {
                return Err(Error::Usage(format!(
                    "docs serve: {} has no index.html; run `strata docs generate` first",
                    root.display()
                )));
            }
            let serve = move || {
                docs::serve::serve(&root, &host, port, |address| {
                    let url = format!("http://{address}/");
                    printer.info(
                        "docs_serving",
                        &format!("Serving docs at {url} (Ctrl-C to stop)"),
                    );
                    if !no_browser {
                        open_browser(&url, &printer);
                    }
                })
            };
            tokio::task::spawn_blocking(serve)
                .await
                .map_err(|e| Error::Usage(format!("docs serve stopped: {e}")))??;
            Ok(0)
        }
    }
}

/// The desktop's browser, where there is one (`xdg-open`, `open`); a note where not.
fn open_browser(url: &str, printer: &Printer) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let opened = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok();
    if !opened {
        printer.note(
            "no_browser",
            &format!("No browser to open ({opener} is missing): open {url}"),
        );
    }
}
