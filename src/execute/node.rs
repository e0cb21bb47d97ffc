//! One node of a run: compile again if its template read the warehouse, materialize it,
//! and turn what happened into its result line and `NodeResult`.

use std::sync::Arc;
use std::time::Instant;

use super::prepare::{check_sql, compile_node, write_compiled, Compiling};
use super::summary::human_bytes;
use super::RunState;
use crate::compile::Compiler;
use crate::error::Error;
use crate::materialize::{self};
use crate::memo::{self};
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
        .relation_of(&node.name)
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
    let desc = describe(&s.compiler, node);
    s.printer.node_started(index, total, &id, &desc);
    let t0 = Instant::now();
    let compile_started = now_rfc3339();

    // Compile again right before running when the template read the warehouse.
    let mut prepared = state.prepared.get(&id).cloned();
    if prepared.as_ref().is_some_and(|p| p.recompile) {
        let st = state.clone();
        let nid = id.clone();
        let handle = tokio::runtime::Handle::current();
        let r = tokio::task::spawn_blocking(move || {
            let n = &st.session.project.nodes[&nid];
            let c = Compiling {
                project: &st.session.project,
                compiler: &st.session.compiler,
                adapter: &st.session.adapter,
                cache: &st.cache,
                full_refresh: st.full_refresh,
            };
            compile_node(&c, n, handle, false)
        })
        .await;
        match r {
            Ok(Ok(p)) => {
                let digest = memo::digest(p.sql.as_bytes());
                let _ = write_compiled(&s.project, node, &p.sql, &digest);
                if let Err(e) = check_sql(&s.project, s.adapter.as_ref(), node, &p.sql, &digest) {
                    return finish_error(&state, node, index, total, &desc, t0, e, Some(p.sql));
                }
                prepared = Some(p);
            }
            Ok(Err(e)) => return finish_error(&state, node, index, total, &desc, t0, e, None),
            Err(e) => {
                return finish_error(
                    &state,
                    node,
                    index,
                    total,
                    &desc,
                    t0,
                    Error::Adapter(e.to_string()),
                    None,
                )
            }
        }
    }
    let compile_done = now_rfc3339();
    let sql_text = prepared.map(|p| p.sql).unwrap_or_default();
    let m = state.materializer();
    let outcome = match node.resource_type {
        ResourceType::Test => m.test(node, &sql_text).await,
        ResourceType::UnitTest => m.unit_test(node).await,
        _ => m.build(node, &sql_text).await,
    };
    let exec_done = now_rfc3339();
    let timing = vec![
        Timing {
            name: "compile",
            started_at: compile_started,
            completed_at: compile_done.clone(),
        },
        Timing {
            name: "execute",
            started_at: compile_done,
            completed_at: exec_done,
        },
    ];
    let built = match outcome {
        Ok(b) => b,
        Err(e) => return finish_error(&state, node, index, total, &desc, t0, e, Some(sql_text)),
    };
    // Over its scan budget: the model fails, and its result still says what it scanned.
    if let Err(e) = materialize::check_scan_budget(node, &built.response) {
        let mut r = finish_error(&state, node, index, total, &desc, t0, e, Some(sql_text));
        r.adapter = built.response;
        return r;
    }
    let secs = t0.elapsed().as_secs_f64();
    let relation_name = s
        .compiler
        .relation_of(&node.name)
        .filter(|r| r.kind != "cte")
        .map(|r| r.rendered);
    let (status, headline, badge, tone, message) = if node.resource_type == ResourceType::UnitTest {
        let label = unit_test_label(node);
        match built.failures.unwrap_or(0) {
            0 => (
                Status::Pass,
                format!("PASS {label}"),
                "PASS".into(),
                Tone::Good,
                "PASS".into(),
            ),
            n => (
                Status::Fail,
                format!("FAIL {n} {label}"),
                format!("FAIL {n}"),
                Tone::Bad,
                built.response.message.clone(),
            ),
        }
    } else if node.resource_type == ResourceType::Test {
        let n = built.failures.unwrap_or(0);
        let severity = node
            .config
            .str("severity")
            .unwrap_or("error")
            .to_lowercase();
        let cond = node.config.str("error_if").unwrap_or("!= 0");
        if severity == "error" && built.should_error {
            (
                Status::Fail,
                format!("FAIL {n} {}", node.name),
                format!("FAIL {n}"),
                Tone::Bad,
                format!(
                    "Got {n} result{}, configured to fail if {cond}",
                    if n == 1 { "" } else { "s" }
                ),
            )
        } else if state.warn_error && built.should_warn {
            (
                Status::Fail,
                format!("FAIL {n} {}", node.name),
                format!("FAIL {n}"),
                Tone::Bad,
                format!(
                    "Got {n} result{}, configured to warn if {} (a failure with --warn-error)",
                    if n == 1 { "" } else { "s" },
                    node.config.str("warn_if").unwrap_or("!= 0")
                ),
            )
        } else if built.should_warn {
            (
                Status::Warn,
                format!("WARN {n} {}", node.name),
                format!("WARN {n}"),
                Tone::Warn,
                format!(
                    "Got {n} result{}, configured to warn if {}",
                    if n == 1 { "" } else { "s" },
                    node.config.str("warn_if").unwrap_or("!= 0")
                ),
            )
        } else {
            (
                Status::Pass,
                format!("PASS {}", node.name),
                "PASS".into(),
                Tone::Good,
                "PASS".into(),
            )
        }
    } else {
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
        (
            Status::Success,
            // dbt: "START snapshot s.x", then "OK snapshotted s.x".
            format!(
                "OK {verb} {}",
                desc.strip_prefix("snapshot ").unwrap_or(&desc)
            ),
            badge,
            Tone::Good,
            built.response.message.clone(),
        )
    };
    s.printer.node_finished(
        index,
        total,
        &id,
        status.as_str(),
        &headline,
        &badge,
        tone,
        secs,
        Some(&message),
    );
    NodeResult {
        unique_id: id.clone(),
        status,
        message: Some(message),
        failures: built.failures,
        execution_time: secs,
        timing,
        thread_id: format!("Thread-{}", (index - 1) % 64 + 1),
        adapter: built.response,
        compiled_code: Some(sql_text),
        relation_name,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn finish_error(
    state: &RunState,
    node: &Node,
    index: usize,
    total: usize,
    desc: &str,
    t0: Instant,
    e: Error,
    sql_text: Option<String>,
) -> NodeResult {
    let secs = t0.elapsed().as_secs_f64();
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
        index,
        total,
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
        thread_id: format!("Thread-{}", (index - 1) % 64 + 1),
        adapter: Default::default(),
        compiled_code: sql_text,
        relation_name: state
            .session
            .compiler
            .relation_of(&node.name)
            .map(|r| r.rendered),
    }
}
