//! What a command was asked to do: the command, its selection and its run settings.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::graph::{IndirectSelection, PreviousState};
use crate::project::ResourceType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Run,
    Test,
    Seed,
    Build,
    Compile,
    List,
    Snapshot,
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Run => "run",
            Command::Test => "test",
            Command::Seed => "seed",
            Command::Build => "build",
            Command::Compile => "compile",
            Command::List => "ls",
            Command::Snapshot => "snapshot",
        }
    }

    pub fn resource_types(&self) -> &'static [ResourceType] {
        match self {
            Command::Run => &[ResourceType::Model],
            Command::Test => &[ResourceType::UnitTest, ResourceType::Test],
            Command::Seed => &[ResourceType::Seed],
            Command::Build => &[
                ResourceType::Model,
                ResourceType::Seed,
                ResourceType::Snapshot,
                ResourceType::Test,
                ResourceType::UnitTest,
            ],
            Command::Compile => &[
                ResourceType::Model,
                ResourceType::Snapshot,
                ResourceType::Test,
            ],
            Command::List => &[
                ResourceType::Model,
                ResourceType::Seed,
                ResourceType::Snapshot,
                ResourceType::Test,
                ResourceType::UnitTest,
            ],
            Command::Snapshot => &[ResourceType::Snapshot],
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub select: Vec<String>,
    pub exclude: Vec<String>,
    pub threads: Option<usize>,
    pub full_refresh: bool,
    pub fail_fast: bool,
    /// dbt's `--warn-error`: a test that would warn fails instead.
    pub warn_error: bool,
    /// dbt's `--warn-error-options`: warnings made errors (or kept warnings) by name.
    pub warn_error_options: WarnErrorOptions,
    /// dbt's `--resource-type` / `--exclude-resource-type` (model, seed, test): narrow
    /// what the command acts on.
    /// (`None`: no `--resource-type`; `Some` of no type: types Strata does not have.)
    pub resource_types: Option<Vec<ResourceType>>,
    pub exclude_resource_types: Vec<ResourceType>,
    /// `--selector`: a selection from selectors.yml.
    pub selector: Option<String>,
    /// `--indirect-selection`: which tests come along with the nodes they test.
    pub indirect_selection: IndirectSelection,
    /// `--state`: the earlier run `state:` and `result:` selectors compare with.
    pub state: Option<Arc<PreviousState>>,
    /// `retry`: exactly these nodes (what the previous run did not finish).
    pub retry_ids: Option<BTreeSet<String>>,
    /// `--event-time-start` / `--event-time-end`: the window microbatch models build.
    pub event_window: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
    /// `--no-reuse`: rebuild every selected node, even one whose inputs did not change.
    pub no_reuse: bool,
}

/// dbt's `--warn-error-options`: `{error: all | [names], warn: [names]}` (the older
/// `include` / `exclude` too). Strata names its selection warnings as dbt does:
/// NoNodesForSelectionCriteria, NothingToDo.
#[derive(Debug, Clone, Default)]
pub struct WarnErrorOptions {
    pub all: bool,
    pub error: Vec<String>,
    pub warn: Vec<String>,
}

impl WarnErrorOptions {
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |m: String| Error::Usage(format!("--warn-error-options: {m}"));
        let v: serde_json::Value = serde_yaml_ng::from_str(text)
            .map_err(|e| bad(format!("not a YAML or JSON mapping: {e}")))?;
        let Some(map) = v.as_object() else {
            return Err(bad("expected a mapping like '{error: all}'".into()));
        };
        if let Some(k) = map
            .keys()
            .find(|k| !["error", "include", "warn", "exclude", "silence"].contains(&k.as_str()))
        {
            return Err(bad(format!("unknown key '{k}' (error, warn, silence)")));
        }
        let names = |keys: &[&str]| -> Result<Vec<String>> {
            let mut out = Vec::new();
            for key in keys {
                match map.get(*key) {
                    None | Some(serde_json::Value::Null) => {}
                    Some(serde_json::Value::String(s)) => out.push(s.clone()),
                    Some(serde_json::Value::Array(a)) => {
                        for n in a {
                            let n = n
                                .as_str()
                                .ok_or_else(|| bad(format!("{key}: names are strings, not {n}")))?;
                            out.push(n.to_string());
                        }
                    }
                    Some(other) => return Err(bad(format!("{key}: expected a list, not {other}"))),
                }
            }
            Ok(out)
        };
        let error = names(&["error", "include"])?;
        let warn = names(&["warn", "exclude"])?;
        let all = error.iter().any(|n| n == "all" || n == "*");
        Ok(WarnErrorOptions { all, error, warn })
    }
}

impl RunOptions {
    /// Whether the warning `event` (dbt's event name) is an error in this invocation.
    pub fn warning_is_error(&self, event: &str) -> bool {
        let kept = self.warn_error_options.warn.iter().any(|n| n == event);
        ((self.warn_error || self.warn_error_options.all) && !kept)
            || self.warn_error_options.error.iter().any(|n| n == event)
    }
}
