//! One node of a run: compile again if its template read the warehouse, materialize it,
//! and turn what happened into its result line and `NodeResult`.

use std::sync::Arc;
use std::time::Instant;

use super::prepare::{check_sql, compile_node, write_compiled, Compiling};
use super::summary::human_bytes;
use super::RunState;
use crate::compile::{Compiler, RelationKind};
use crate::error::Error;
use crate::materialize::{self, Built};
use crate::memo;
use crate::project::{Node, ResourceType};
use crate::session::printer::Tone;
use crate::session::results::{NodeResult, Status, Timing};

/// `model::test`, as dbt prints a unit test.
pub(super) fn unit_test_label(node: &Node) -> String {
    let model = node
        .fqn
        .iter()
        .rev()
        .nth(1)
        .map(String::as_str)
        .unwrap_or("");
    format!("{model}::{}", node.name)
}

pub(super) fn describe(compiler: &Compiler, node: &Node) -> String {
    let rel = compiler
        .relation_of(&node.relation_key())
        .map(|r| format!("{}.{}", r.schema, r.identifier))
        .unwrap_or_else(|| node.name.clone());
    match node.resource_type {
        ResourceType::Model => format!("sql {} model {rel}", node.config.materialized()),
        ResourceType::Seed => format!("seed file {rel}"),
        ResourceType::Snapshot => format!("snapshot {rel}"),
        ResourceType::Test => format!("test {}", node.name),
        ResourceType::UnitTest => format!("unit_test {}", unit_test_label(node)),
        ResourceType::Operation => node.name.clone(),
    }
}

pub(super) fn describe_id(state: &RunState, id: &str) -> String {
    match state.session.project.nodes.get(id) {
        Some(n) => describe(&state.session.compiler, n),
        None => id.to_string(),
    }
}

pub(super) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Where a node stands in the run's output: its line number, the total, its description
/// and when it started.
pub(super) struct Slot {
    pub(super) index: usize,
    pub(super) total: usize,
    pub(super) desc: String,
    pub(super) started: Instant,
}

pub(super) async fn run_node(
    state: Arc<RunState>,
    id: String,
    index: usize,
    total: usize,
) -> NodeResult {
    let s = &state.session;
    let Some(node) = s.project.nodes.get(&id) else {
        return NodeResult::skipped(&id, "node vanished".into());
    };
    let slot = Slot {
        index,
        total,
        desc: describe(&s.compiler, node),
        started: Instant::now(),
    };
    s.printer.node_started(index, total, &id, &slot.desc);
    let microbatch = match node.resource_type {
        ResourceType::Model if node.config.materialized() == "incremental" => {
            match super::microbatch::Microbatch::of(node) {
                Ok(m) => m,
                Err(e) => return finish_error(&state, node, &slot, e, None),
            }
        }
        _ => None,
    };
    let compile_started = now_rfc3339();
    // A microbatch model compiles once per batch, while it builds.
    let sql_text = match &microbatch {
        Some(_) => String::new(),
        None => match compiled_sql(&state, node).await {
            Ok(sql_text) => sql_text,
            Err((e, sql_text)) => return finish_error(&state, node, &slot, e, sql_text),
        },
    };
    let compile_done = now_rfc3339();
    let relation = s.compiler.relation_of(&node.relation_key());
    if microbatch.is_none() {
        let decision = state.reuse.decide(
            &s.project,
            node,
            &sql_text,
            &state.cache,
            relation.as_ref(),
            s.adapter.as_ref(),
        );
        if let super::reuse::Decision::Reuse(reason) = decision {
            return finish_reused(&state, node, &slot, reason, sql_text, relation);
        }
    }
    let m = state.materializer();
    let (outcome, sql_text, batch_results) = match (&microbatch, node.resource_type) {
        (Some(mb), _) => super::microbatch::build_batches(&state, node, mb).await,
        (None, ResourceType::Test) => (m.test(node, &sql_text).await, sql_text, None),
        (None, ResourceType::UnitTest) => (m.unit_test(node).await, sql_text, None),
        (None, _) => (m.build(node, &sql_text).await, sql_text, None),
    };
    let timing = vec![
        Timing {
            name: "compile",
            started_at: compile_started,
            completed_at: compile_done.clone(),
        },
        Timing {
            name: "execute",
            started_at: compile_done,
            completed_at: now_rfc3339(),
        },
    ];
    let built = match outcome {
        Ok(b) => b,
        Err(e) => {
            let mut r = finish_error(&state, node, &slot, e, Some(sql_text));
            r.batch_results = batch_results;
            return r;
        }
    };
    // Over its scan budget: the model fails, and its result still says what it scanned.
    if let Err(e) = materialize::check_scan_budget(node, &built.response) {
        let mut r = finish_error(&state, node, &slot, e, Some(sql_text));
        r.adapter = built.response;
        return r;
    }
    for warning in &built.warnings {
        s.printer.warn("node_warning", warning);
    }
    if microbatch.is_none() {
        state
            .reuse
            .built(
                &s.project,
                node,
                &sql_text,
                relation.as_ref(),
                s.adapter.as_ref(),
            )
            .await;
    }
    let secs = slot.started.elapsed().as_secs_f64();
    let verdict = Verdict::of(node, &built, state.warn_error, &slot.desc);
    state
        .reuse
        .tested(&s.project, node, &sql_text, verdict.status.as_str());
    s.printer.node_finished(
        index,
        total,
        &id,
        verdict.status.as_str(),
        &verdict.headline,
        &verdict.badge,
        verdict.tone,
        secs,
        Some(&verdict.message),
    );
    NodeResult {
        unique_id: id.clone(),
        status: verdict.status,
        message: Some(verdict.message),
        failures: built.failures,
        execution_time: secs,
        timing,
        thread_id: thread_id(index),
        adapter: built.response,
        compiled_code: Some(sql_text),
        relation_name: s
            .compiler
            .relation_of(&node.relation_key())
            .filter(|r| r.kind != RelationKind::Cte)
            .map(|r| r.rendered),
        batch_results,
    }
}

/// A node reused instead of rebuilt: its line says why, and its relation stands as built.
fn finish_reused(
    state: &RunState,
    node: &Node,
    slot: &Slot,
    reason: String,
    sql_text: String,
    relation: Option<crate::compile::Relation>,
) -> NodeResult {
    let s = &state.session;
    let secs = slot.started.elapsed().as_secs_f64();
    let headline = format!("REUSED {}", slot.desc);
    s.printer.node_finished(
        slot.index,
        slot.total,
        &node.unique_id,
        Status::Reused.as_str(),
        &headline,
        "REUSED",
        Tone::Good,
        secs,
        Some(&reason),
    );
    // A reuse despite new upstream data (build_after) is worth saying in the text log too.
    if reason.contains("build_after") {
        s.printer
            .info("reused_reason", &format!("  {}: {reason}", node.name));
    }
    NodeResult {
        unique_id: node.unique_id.clone(),
        status: Status::Reused,
        message: Some(reason),
        failures: None,
        execution_time: secs,
        timing: Vec::new(),
        thread_id: thread_id(slot.index),
        adapter: Default::default(),
        compiled_code: Some(sql_text),
        relation_name: relation
            .filter(|r| r.kind != RelationKind::Cte)
            .map(|r| r.rendered),
        batch_results: None,
    }
}

/// dbt's thread names, `Thread-1` to `Thread-64`, by the node's line number.
fn thread_id(index: usize) -> String {
    format!("Thread-{}", index.saturating_sub(1) % 64 + 1)
}

/// The node's SQL as prepared, compiled (and checked) again right before it runs when its
/// template read the warehouse. On failure: the error, and the SQL if there was some.
async fn compiled_sql(
    state: &Arc<RunState>,
    node: &Node,
) -> std::result::Result<String, (Error, Option<String>)> {
    let Some(prepared) = state.prepared.get(&node.unique_id).cloned() else {
        return Ok(String::new());
    };
    if !prepared.recompile {
        return Ok(prepared.sql);
    }
    let s = &state.session;
    let compiled = super::prepare::off_thread(state, node, |st, node, handle| {
        let c = Compiling {
            project: &st.session.project,
            compiler: &st.session.compiler,
            adapter: &st.session.adapter,
            cache: &st.cache,
            full_refresh: st.full_refresh,
        };
        compile_node(&c, node, handle, false)
    })
    .await;
    let p = match compiled {
        Ok(p) => p,
        Err(e) => return Err((e, None)),
    };
    let digest = memo::digest(p.sql.as_bytes());
    let _ = write_compiled(&s.project, node, &p.sql, &digest);
    match check_sql(&s.project, s.adapter.as_ref(), node, &p.sql, &digest) {
        Ok(()) => Ok(p.sql),
        Err(e) => Err((e, Some(p.sql))),
    }
}

/// What a finished node's result says and how its line reads: a pure function of the
/// node, what building it did, and `--warn-error`.
#[derive(Debug, PartialEq)]
pub(super) struct Verdict {
    pub(super) status: Status,
    pub(super) headline: String,
    pub(super) badge: String,
    pub(super) tone: Tone,
    pub(super) message: String,
}

impl Verdict {
    pub(super) fn of(node: &Node, built: &Built, warn_error: bool, desc: &str) -> Verdict {
        match node.resource_type {
            ResourceType::UnitTest => Self::unit_test(node, built),
            ResourceType::Test => Self::data_test(node, built, warn_error),
            _ => Self::built(node, built, desc),
        }
    }

    fn unit_test(node: &Node, built: &Built) -> Verdict {
        let label = unit_test_label(node);
        match built.failures.unwrap_or(0) {
            0 => Verdict::pass(label),
            n => Verdict {
                status: Status::Fail,
                headline: format!("FAIL {n} {label}"),
                badge: format!("FAIL {n}"),
                tone: Tone::Bad,
                message: built.response.message.clone(),
            },
        }
    }

    fn data_test(node: &Node, built: &Built, warn_error: bool) -> Verdict {
        let n = built.failures.unwrap_or(0);
        let results = format!("Got {n} result{}", if n == 1 { "" } else { "s" });
        let severity = node
            .config
            .str("severity")
            .unwrap_or("error")
            .to_lowercase();
        let error_if = node.config.str("error_if").unwrap_or("!= 0");
        let warn_if = node.config.str("warn_if").unwrap_or("!= 0");
        let failed = |message: String| Verdict {
            status: Status::Fail,
            headline: format!("FAIL {n} {}", node.name),
            badge: format!("FAIL {n}"),
            tone: Tone::Bad,
            message,
        };
        if severity == "error" && built.should_error {
            failed(format!("{results}, configured to fail if {error_if}"))
        } else if warn_error && built.should_warn {
            failed(format!(
                "{results}, configured to warn if {warn_if} (a failure with --warn-error)"
            ))
        } else if built.should_warn {
            Verdict {
                status: Status::Warn,
                headline: format!("WARN {n} {}", node.name),
                badge: format!("WARN {n}"),
                tone: Tone::Warn,
                message: format!("{results}, configured to warn if {warn_if}"),
            }
        } else {
            Verdict::pass(node.name.clone())
        }
    }

    fn pass(label: String) -> Verdict {
        Verdict {
            status: Status::Pass,
            headline: format!("PASS {label}"),
            badge: "PASS".into(),
            tone: Tone::Good,
            message: "PASS".into(),
        }
    }

    /// A model, seed or snapshot that built.
    fn built(node: &Node, built: &Built, desc: &str) -> Verdict {
        let verb = match node.resource_type {
            ResourceType::Seed => "loaded",
            ResourceType::Snapshot => "snapshotted",
            _ => "created",
        };
        let mut badge = match (node.resource_type, built.response.rows_affected) {
            (ResourceType::Seed, Some(n)) => format!("INSERT {n}"),
            _ => "OK".to_string(),
        };
        // Athena bills by bytes scanned: show them where the engine reports them.
        if let Some(bytes) = built.response.bytes_scanned {
            badge.push_str(&format!(", {} scanned", human_bytes(bytes)));
        }
        Verdict {
            status: Status::Success,
            // dbt: "START snapshot s.x", then "OK snapshotted s.x".
            headline: format!(
                "OK {verb} {}",
                desc.strip_prefix("snapshot ").unwrap_or(desc)
            ),
            badge,
            tone: Tone::Good,
            message: built.response.message.clone(),
        }
    }
}

pub(super) fn finish_error(
    state: &RunState,
    node: &Node,
    slot: &Slot,
    e: Error,
    sql_text: Option<String>,
) -> NodeResult {
    // What reads the node runs again; a test that errored is not reused from a pass.
    state.reuse.failed(node);
    let secs = slot.started.elapsed().as_secs_f64();
    let desc = slot.desc.as_str();
    let what = match node.resource_type {
        ResourceType::Seed => format!("ERROR loading {desc}"),
        ResourceType::Test => format!("ERROR {}", node.name),
        ResourceType::UnitTest => format!("ERROR {}", unit_test_label(node)),
        ResourceType::Snapshot => format!(
            "ERROR snapshotting {}",
            desc.strip_prefix("snapshot ").unwrap_or(desc)
        ),
        _ => format!("ERROR creating {desc}"),
    };
    let message = e.to_string();
    state.session.printer.node_finished(
        slot.index,
        slot.total,
        &node.unique_id,
        "error",
        &what,
        "ERROR",
        Tone::Bad,
        secs,
        Some(&message),
    );
    NodeResult {
        unique_id: node.unique_id.clone(),
        status: Status::Error,
        message: Some(message),
        failures: None,
        execution_time: secs,
        timing: Vec::new(),
        thread_id: thread_id(slot.index),
        adapter: Default::default(),
        compiled_code: sql_text,
        relation_name: state
            .session
            .compiler
            .relation_of(&node.relation_key())
            .map(|r| r.rendered),
        batch_results: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::ExecResult;
    use serde_json::json;

    fn node(kind: ResourceType, config: serde_json::Value) -> Node {
        let mut n = Node::synthetic("p", "not_null_orders_id");
        n.resource_type = kind;
        n.fqn = vec!["p".into(), "orders".into(), "not_null_orders_id".into()];
        if let serde_json::Value::Object(map) = config {
            n.config = crate::project::Config::from(map);
        }
        n
    }

    fn test_result(failures: u64, should_warn: bool, should_error: bool) -> Built {
        Built {
            failures: Some(failures),
            should_warn,
            should_error,
            ..Default::default()
        }
    }

    #[test]
    fn a_data_test_fails_warns_or_passes_as_its_thresholds_say() {
        let t = node(ResourceType::Test, json!({}));
        let v = Verdict::of(&t, &test_result(3, true, true), false, "");
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.headline, "FAIL 3 not_null_orders_id");
        assert_eq!(v.message, "Got 3 results, configured to fail if != 0");

        let warn_only = node(ResourceType::Test, json!({"severity": "warn"}));
        let v = Verdict::of(&warn_only, &test_result(1, true, true), false, "");
        assert_eq!((v.status, v.tone), (Status::Warn, Tone::Warn));
        assert_eq!(v.message, "Got 1 result, configured to warn if != 0");

        // --warn-error makes the warning a failure.
        let v = Verdict::of(&warn_only, &test_result(1, true, true), true, "");
        assert_eq!(v.status, Status::Fail);
        assert!(
            v.message.ends_with("(a failure with --warn-error)"),
            "{}",
            v.message
        );

        let v = Verdict::of(&t, &test_result(0, false, false), true, "");
        assert_eq!(
            (v.status, v.headline.as_str()),
            (Status::Pass, "PASS not_null_orders_id")
        );
    }

    #[test]
    fn a_unit_test_is_labelled_by_its_model() {
        let t = node(ResourceType::UnitTest, json!({}));
        let v = Verdict::of(&t, &test_result(0, false, false), false, "");
        assert_eq!(v.headline, "PASS orders::not_null_orders_id");
        let v = Verdict::of(&t, &test_result(2, false, false), false, "");
        assert_eq!((v.status, v.badge.as_str()), (Status::Fail, "FAIL 2"));
    }

    #[test]
    fn a_seed_reports_its_rows_and_a_scan_its_bytes() {
        let seed = node(ResourceType::Seed, json!({}));
        let built = Built {
            response: ExecResult {
                rows_affected: Some(12),
                bytes_scanned: Some(2048),
                ..Default::default()
            },
            ..Default::default()
        };
        let v = Verdict::of(&seed, &built, false, "seed file s.raw");
        assert_eq!(v.status, Status::Success);
        assert_eq!(v.headline, "OK loaded seed file s.raw");
        assert_eq!(v.badge, "INSERT 12, 2.0 KB scanned");
        let snap = node(ResourceType::Snapshot, json!({}));
        let v = Verdict::of(&snap, &Built::default(), false, "snapshot s.orders_history");
        assert_eq!(v.headline, "OK snapshotted s.orders_history");
    }
}
