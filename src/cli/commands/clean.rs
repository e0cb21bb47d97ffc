//! `clean`: remove the project's clean-targets, never anything outside the project.

use crate::error::{Error, Result};
use crate::project::{LoadOptions, ProjectFile};
use crate::session::printer::Printer;

pub(crate) fn clean(load: &LoadOptions, printer: &Printer) -> Result<i32> {
    let path = ProjectFile::find(&load.project_dir)?;
    let mut file = ProjectFile::load(&path)?;
    if let Some(target_path) = &load.target_path {
        file.target_path = target_path.clone();
    }
    for t in file.clean_targets() {
        let p = load.project_dir.join(&t);
        let canonical_root = load
            .project_dir
            .canonicalize()
            .map_err(|e| Error::io(&load.project_dir, e))?;
        // Never delete outside the project.
        match p.canonicalize() {
            Ok(c) if c.starts_with(&canonical_root) && c != canonical_root => {
                std::fs::remove_dir_all(&c).map_err(|e| Error::io(&c, e))?;
                printer.info("clean", &format!("Cleaned {t}/"));
            }
            Ok(_) => {
                return Err(Error::Usage(format!(
                    "clean-targets: '{t}' is not inside the project"
                )))
            }
            Err(_) => printer.info("clean", &format!("{t}/ does not exist")),
        }
    }
    Ok(0)
}
