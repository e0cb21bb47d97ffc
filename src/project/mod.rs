//! The project: everything read from disk before any template is rendered.
//!
//! `load` walks the project folders and returns a [`Project`] with one [`Node`] per model,
//! seed and test, the sources, the macro files and the doc blocks. Rendering (which finds
//! each node's refs and in-file config) is the compile module's job; recording what it
//! found and linking the names to unique ids is `link`'s.
//!
//! One file per job: the data (`types`), files and paths (`files`), the Jinja tag scanner
//! and block finders ([`jinja_blocks`]), loading (`load`), YAML properties (`patch`,
//! `sources`, `exposures`, `unit_tests`), generic tests (`generic_tests`),
//! `ref()`/`source()` text (`dependency`), dependency linking (`link`) and the `rights:`
//! settings ([`rights`]).

pub mod config;
mod dependency;
mod exposures;
mod files;
mod generic_tests;
pub mod jinja_blocks;
mod link;
mod load;
mod packages;
mod patch;
pub mod personal_data;
pub mod profiles;
pub mod properties;
pub mod rights;
mod sources;
mod types;
mod unit_tests;

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::Result;

pub use config::{Config, Materialization, ProjectFile};
pub use dependency::{parse_dependency, Dependency};
pub use files::checksum;
pub(crate) use generic_tests::{materialize_pending_tests, md5_hex};
pub use jinja_blocks::{
    blank_comments, doc_blocks, macro_blocks, macro_names, rewrite_test_blocks,
};
pub use link::{apply_parse, link_dependencies, NodeParse};
pub use load::{load_files, open};
pub use profiles::{Target, TargetOutput, TargetRules};
pub use properties::{Fixture, UnitTestSpec};
pub use rights::RightsConfig;
pub(crate) use types::PendingTest;
pub use types::{
    Column, Exposure, LoadOptions, MacroFile, Node, Package, Project, RefCall, ResourceType,
    Source, TestMetadata,
};

/// Renders a YAML text (profiles, source properties) with `var()`/`env_var()`: (file, text, vars).
pub type RenderText = dyn Fn(&Path, &str, &Map<String, Value>) -> Result<String>;

/// The dbt-core version whose behaviour Strata follows: what `require-dbt-version` ranges
/// (of the project and of its packages) are checked against.
pub const DBT_VERSION: &str = "1.12.6";
