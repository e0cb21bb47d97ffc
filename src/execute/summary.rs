//! dbt's closing lines: what ran, the failures in full, and the counts.

use crate::materialize::compiled_path;
use crate::project::ResourceType;
use crate::session::results::{RunOutcome, Status};
use crate::session::Session;

/// Bytes in the units Athena's console uses (1 KB = 1024 bytes).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub fn print_summary(session: &Session, outcome: &RunOutcome) {
    let p = &session.printer;
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &outcome.results {
        if let Some(n) = session.project.nodes.get(&r.unique_id) {
            let k = match n.resource_type {
                ResourceType::Model => format!("{} model", n.config.materialized()),
                ResourceType::Test => "data test".to_string(),
                ResourceType::Seed => "seed".to_string(),
                ResourceType::Snapshot => "snapshot".to_string(),
                ResourceType::UnitTest => "unit test".to_string(),
                ResourceType::Operation => "hook".to_string(),
            };
            *kinds.entry(k).or_default() += 1;
        }
    }
    let what: Vec<String> = kinds
        .iter()
        .map(|(k, n)| format!("{n} {k}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    p.info("summary", "");
    p.info(
        "summary",
        &format!(
            "Finished running {} in {:.2}s.",
            what.join(", "),
            outcome.elapsed
        ),
    );
    let scanned: Vec<u64> = outcome
        .results
        .iter()
        .filter_map(|r| r.adapter.bytes_scanned)
        .collect();
    if !scanned.is_empty() {
        let engine_ms: u64 = outcome
            .results
            .iter()
            .filter_map(|r| r.adapter.engine_ms)
            .sum();
        p.info(
            "summary",
            &format!(
                "Scanned {} in {:.1}s of engine time.",
                human_bytes(scanned.iter().sum()),
                engine_ms as f64 / 1000.0
            ),
        );
    }
    let count = |s: Status| outcome.results.iter().filter(|r| r.status == s).count();
    // A failed on-run-end hook is an error of the run, as dbt counts it.
    let hook_errors = outcome.hook_errors.len();
    let errors = count(Status::Error) + count(Status::Fail) + hook_errors;
    let warns = count(Status::Warn);
    if outcome.interrupted {
        p.error("summary", "Interrupted: running statements were cancelled.");
    } else if errors == 0 {
        p.info("summary", "Completed successfully");
    } else {
        p.error(
            "summary",
            &format!(
                "Completed with {errors} error{} and {warns} warning{}:",
                if errors == 1 { "" } else { "s" },
                if warns == 1 { "" } else { "s" }
            ),
        );
        for e in &outcome.hook_errors {
            p.error("failure", &format!("  Error in {e}"));
        }
        print_failures(session, outcome);
    }
    p.info(
        "summary",
        &format!(
            "Done. PASS={} WARN={} ERROR={} SKIP={} REUSED={} TOTAL={}",
            count(Status::Pass) + count(Status::Success),
            warns,
            errors,
            count(Status::Skipped),
            count(Status::Reused),
            outcome.results.len() + hook_errors
        ),
    );
}

/// Each failed node: what and where it is, its message, and its compiled SQL for a test.
fn print_failures(session: &Session, outcome: &RunOutcome) {
    let p = &session.printer;
    for r in outcome.results.iter().filter(|r| r.status.is_failure()) {
        let Some(n) = session.project.nodes.get(&r.unique_id) else {
            continue;
        };
        let kind = if r.status == Status::Fail {
            "Failure"
        } else {
            "Error"
        };
        p.error(
            "failure",
            &format!(
                "  {kind} in {} {} ({})",
                n.resource_type.as_str(),
                n.name,
                n.original_file_path.display()
            ),
        );
        if let Some(m) = &r.message {
            for line in m.lines() {
                p.error("failure", &format!("    {line}"));
            }
        }
        if r.status == Status::Fail {
            p.error(
                "failure",
                &format!(
                    "    compiled code at {}",
                    compiled_path(&session.project, n).display()
                ),
            );
        }
    }
}
