//! The outcome of each node in a run, in the shape of dbt's run_results.json entries.

use serde::Serialize;

use crate::adapters::ExecResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    Error,
    Skipped,
    Pass,
    Fail,
    Warn,
    /// Not rebuilt: its SQL and inputs are those of its last build (execute/reuse.rs).
    Reused,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Reused => "reused",
        }
    }

    /// Whether this outcome makes the command fail and skips what depends on the node.
    pub fn is_failure(&self) -> bool {
        matches!(self, Status::Error | Status::Fail)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub name: &'static str,
    pub started_at: String,
    pub completed_at: String,
}

#[derive(Debug, Clone)]
pub struct NodeResult {
    pub unique_id: String,
    pub status: Status,
    pub message: Option<String>,
    pub failures: Option<u64>,
    pub execution_time: f64,
    pub timing: Vec<Timing>,
    pub thread_id: String,
    pub adapter: ExecResult,
    pub compiled_code: Option<String>,
    pub relation_name: Option<String>,
    /// A microbatch model's batches: `{successful: [[start, end], ...], failed: [...]}`.
    pub batch_results: Option<serde_json::Value>,
}

impl NodeResult {
    /// A node that compiled (what `compile` records of each node).
    pub fn compiled(unique_id: &str) -> Self {
        NodeResult {
            status: Status::Success,
            message: None,
            ..NodeResult::skipped(unique_id, String::new())
        }
    }

    pub fn skipped(unique_id: &str, message: String) -> Self {
        NodeResult {
            unique_id: unique_id.to_string(),
            status: Status::Skipped,
            message: Some(message),
            failures: None,
            execution_time: 0.0,
            timing: Vec::new(),
            thread_id: String::new(),
            adapter: ExecResult::default(),
            compiled_code: None,
            relation_name: None,
            batch_results: None,
        }
    }
}

/// The outcome of a command over its selected nodes.
pub struct RunOutcome {
    pub results: Vec<NodeResult>,
    pub elapsed: f64,
    pub interrupted: bool,
    /// Project hooks that failed (their errors name the hook; the nodes'
    /// results still stand and are written).
    pub hook_errors: Vec<String>,
}

impl RunOutcome {
    /// Results that ran to the end (no hooks failed, nothing interrupted).
    pub fn of(results: Vec<NodeResult>, elapsed: f64) -> Self {
        RunOutcome {
            results,
            elapsed,
            interrupted: false,
            hook_errors: Vec::new(),
        }
    }

    pub fn failed(&self) -> bool {
        self.interrupted
            || !self.hook_errors.is_empty()
            || self.results.iter().any(|r| r.status.is_failure())
    }
}
