//! Strata: a dbt-style declarative SQL-model runner.
//!
//! The pipeline, module by module: [`project`] reads the files, [`compile`] renders the
//! templates, [`graph`] orders and selects the nodes, [`sql`] checks the compiled SQL,
//! [`adapters`] talk to the engine, [`execute`] builds the selection, [`artifacts`] writes
//! what happened; [`memo`] keeps what an unchanged project need not work out again. [`cli`]
//! maps the command line onto them.

pub mod adapters;
pub mod artifacts;
pub mod cli;
pub mod compile;
pub mod deps;
pub mod docs;
pub mod error;
pub mod execute;
pub mod graph;
pub mod materialize;
pub mod memo;
pub mod parallel;
pub mod project;
pub mod python_text;
pub mod rights;
pub mod session;
pub mod sql;
pub mod yaml_render;

pub use error::{Error, Result};
