//! One module per command, or per group of commands that run the same way (`build` holds
//! run, test, seed, build, snapshot and compile).

pub(super) mod build;
pub(super) mod clean;
pub(super) mod debug;
pub(super) mod deps;
pub(super) mod docs;
pub(super) mod lineage;
pub(super) mod ls;
pub(super) mod maintain;
pub(super) mod parse;
pub(super) mod retry;
pub(super) mod rights;
pub(super) mod run_operation;
pub(super) mod show;
pub(super) mod source;

use crate::compile::Flags;

/// The template flags of a command that builds nothing: only its name (`flags.WHICH`).
fn flags_for(which: &str) -> Flags {
    Flags {
        full_refresh: false,
        which: which.into(),
        ..Default::default()
    }
}
