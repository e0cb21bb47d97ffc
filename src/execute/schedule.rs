//! The scheduler: nodes run as soon as what they wait for has finished, up to `--threads`
//! at a time; a failed node skips everything downstream.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::node::{describe_id, run_node};
use super::RunState;
use crate::project::ResourceType;
use crate::session::printer::Tone;
use crate::session::results::{NodeResult, Status};
use crate::session::Session;

/// For each node to execute, the nodes it waits for: its nearest executed ancestors (through
/// unselected and ephemeral nodes). In `build`, a model's children also wait for its tests.
pub(super) fn execution_deps(
    session: &Session,
    ids: &[String],
    build: bool,
) -> HashMap<String, BTreeSet<String>> {
    let set: HashSet<&String> = ids.iter().collect();
    let mut deps: HashMap<String, BTreeSet<String>> = HashMap::new();
    for id in ids {
        let mut found = BTreeSet::new();
        let mut stack = session.graph.parents(id);
        let mut seen = HashSet::new();
        while let Some(p) = stack.pop() {
            if !seen.insert(p.clone()) {
                continue;
            }
            if set.contains(&p) {
                found.insert(p);
            } else {
                stack.extend(session.graph.parents(&p));
            }
        }
        deps.insert(id.clone(), found);
    }
    if build {
        // dbt's rule: a child waits for a test on its parent only when every node the test
        // reads is upstream of that child (so no test can wait on the child in turn).
        let mut ancestors: HashMap<&String, BTreeSet<String>> = HashMap::new();
        let is_test = |id: &String| {
            session
                .project
                .nodes
                .get(id)
                .is_some_and(|n| n.resource_type == ResourceType::Test)
        };
        // Sources are never executed, so their tests are found through the graph: a model
        // that selects from a tested source waits for the source's tests too.
        // (through ephemeral and other unexecuted parents, as the nearest executed
        // ancestors are found above)
        let sources_of = |id: &String| -> BTreeSet<String> {
            let mut out = BTreeSet::new();
            let mut stack = session.graph.parents(id);
            let mut seen = HashSet::new();
            while let Some(p) = stack.pop() {
                if !seen.insert(p.clone()) {
                    continue;
                }
                if session.project.sources.contains_key(&p) {
                    out.insert(p);
                } else if !set.contains(&p) {
                    stack.extend(session.graph.parents(&p));
                }
            }
            out
        };
        for t in ids.iter().filter(|id| is_test(id)) {
            let mut read: BTreeSet<String> = deps.get(t).cloned().unwrap_or_default();
            read.extend(sources_of(t));
            if read.is_empty() {
                continue;
            }
            for child in ids.iter().filter(|c| !is_test(c)) {
                let waits_on_tested = deps
                    .get(child)
                    .is_some_and(|d| d.iter().any(|p| read.contains(p)))
                    || sources_of(child).iter().any(|s| read.contains(s));
                if !waits_on_tested {
                    continue;
                }
                let up = ancestors
                    .entry(child)
                    .or_insert_with(|| session.graph.ancestors(child, None));
                if read.iter().all(|r| up.contains(r)) {
                    if let Some(d) = deps.get_mut(child) {
                        d.insert(t.clone());
                    }
                }
            }
        }
    }
    deps
}

pub(super) async fn schedule(
    state: Arc<RunState>,
    order: Vec<String>,
    deps: HashMap<String, BTreeSet<String>>,
    threads: usize,
    fail_fast: bool,
) -> Vec<NodeResult> {
    let total = order.len();
    let position: HashMap<&String, usize> =
        order.iter().enumerate().map(|(i, id)| (id, i)).collect();
    let mut waiting: HashMap<String, usize> =
        deps.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    let mut dependents: HashMap<String, Vec<String>> = HashMap::new();
    for (child, parents) in &deps {
        for p in parents {
            dependents.entry(p.clone()).or_default().push(child.clone());
        }
    }
    let mut ready: BTreeSet<(usize, String)> = order
        .iter()
        .filter(|id| waiting.get(*id).copied().unwrap_or(0) == 0)
        .map(|id| (position[id], id.clone()))
        .collect();
    let mut results: HashMap<String, NodeResult> = HashMap::new();
    let mut running = tokio::task::JoinSet::new();
    let mut started = 0usize;
    let mut stop = false;

    loop {
        while !stop && running.len() < threads {
            let Some(first) = ready.iter().next().cloned() else {
                break;
            };
            ready.remove(&first);
            let (_, id) = first;
            started += 1;
            let st = state.clone();
            let index = started;
            running.spawn(async move { run_node(st, id, index, total).await });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let result = match joined {
            Ok(r) => r,
            Err(e) => {
                // A panicking node task must not take the run down with it.
                let mut r = NodeResult::skipped("unknown", format!("internal error: {e}"));
                r.status = Status::Error;
                r
            }
        };
        let id = result.unique_id.clone();
        let failed = result.status.is_failure();
        results.insert(id.clone(), result);
        if failed {
            if fail_fast {
                stop = true;
            }
            // Skip everything downstream, transitively.
            let mut stack = dependents.get(&id).cloned().unwrap_or_default();
            while let Some(d) = stack.pop() {
                if results.contains_key(&d) {
                    continue;
                }
                started += 1;
                let node_desc = describe_id(&state, &d);
                state.session.printer.node_finished(
                    started,
                    total,
                    &d,
                    "skipped",
                    &format!("SKIP {node_desc}"),
                    "SKIP",
                    Tone::Warn,
                    0.0,
                    Some("skipped: an upstream node failed"),
                );
                results.insert(
                    d.clone(),
                    NodeResult::skipped(&d, format!("skipped because {id} failed")),
                );
                ready.retain(|(_, r)| r != &d);
                stack.extend(dependents.get(&d).cloned().unwrap_or_default());
            }
        } else {
            for d in dependents.get(&id).cloned().unwrap_or_default() {
                if results.contains_key(&d) {
                    continue;
                }
                if let Some(w) = waiting.get_mut(&d) {
                    *w = w.saturating_sub(1);
                    if *w == 0 {
                        ready.insert((position[&d], d.clone()));
                    }
                }
            }
        }
    }
    // --fail-fast leaves the rest unstarted.
    for id in &order {
        if !results.contains_key(id) {
            results.insert(
                id.clone(),
                NodeResult::skipped(id, "skipped: --fail-fast stopped the run".into()),
            );
        }
    }
    order.iter().filter_map(|id| results.remove(id)).collect()
}

pub(super) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
