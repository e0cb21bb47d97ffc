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

/// Run the nodes of `order` on the run's state, printing a SKIP line for each node an
/// upstream failure holds up.
pub(super) async fn schedule(
    state: Arc<RunState>,
    order: Vec<String>,
    deps: HashMap<String, BTreeSet<String>>,
    threads: usize,
    fail_fast: bool,
) -> Vec<NodeResult> {
    let total = order.len();
    let runner = state.clone();
    let run = move |id: String, index: usize| run_node(runner.clone(), id, index, total);
    let report = |event: Event<'_>| {
        let printer = &state.session.printer;
        match event {
            Event::Skipped { index, id } => printer.node_finished(
                index,
                total,
                id,
                "skipped",
                &format!("SKIP {}", describe_id(&state, id)),
                "SKIP",
                Tone::Warn,
                0.0,
                Some("skipped: an upstream node failed"),
            ),
            Event::Panicked { index, id, message } => printer.node_finished(
                index,
                total,
                id,
                "error",
                &format!("ERROR {}", describe_id(&state, id)),
                "ERROR",
                Tone::Bad,
                0.0,
                Some(message),
            ),
        }
    };
    run_graph(order, &deps, threads, fail_fast, run, report).await
}

/// What the scheduler reports besides the nodes' own lines.
pub(super) enum Event<'a> {
    /// `id` will not run: a node upstream of it failed.
    Skipped { index: usize, id: &'a str },
    /// The task running `id` panicked; the node counts as an error.
    Panicked {
        index: usize,
        id: &'a str,
        message: &'a str,
    },
}

/// The nodes of `order` (graph order) with what each waits for in `deps`: each starts as
/// soon as its parents have finished, at most `threads` at a time, lowest position first.
/// A failure skips everything downstream of it; with `fail_fast`, nothing new starts after
/// one. Results come back in `order`.
pub(super) async fn run_graph<R, F>(
    order: Vec<String>,
    deps: &HashMap<String, BTreeSet<String>>,
    threads: usize,
    fail_fast: bool,
    run: R,
    report: impl Fn(Event<'_>),
) -> Vec<NodeResult>
where
    R: Fn(String, usize) -> F,
    F: std::future::Future<Output = NodeResult> + Send + 'static,
{
    let mut queue = Queue::new(&order, deps);
    let mut results: HashMap<String, NodeResult> = HashMap::new();
    let mut running = tokio::task::JoinSet::new();
    // Which node each task runs, so that a panicked task is reported as its node.
    let mut tasks: HashMap<tokio::task::Id, (String, usize)> = HashMap::new();
    let mut started = 0usize;
    let mut stop = false;
    loop {
        while !stop && running.len() < threads.max(1) {
            let Some(id) = queue.next_ready() else {
                break;
            };
            started += 1;
            let task = running.spawn(run(id.clone(), started));
            tasks.insert(task.id(), (id, started));
        }
        let Some(joined) = running.join_next_with_id().await else {
            break;
        };
        let result = match joined {
            Ok((task, r)) => {
                tasks.remove(&task);
                r
            }
            Err(e) => {
                let Some((id, index)) = tasks.remove(&e.id()) else {
                    continue;
                };
                let message = format!("internal error: the task running {id} failed: {e}");
                report(Event::Panicked {
                    index,
                    id: &id,
                    message: &message,
                });
                NodeResult {
                    status: Status::Error,
                    ..NodeResult::skipped(&id, message)
                }
            }
        };
        let id = result.unique_id.clone();
        let failed = result.status.is_failure();
        results.insert(id.clone(), result);
        if !failed {
            queue.finished(&id, &results);
            continue;
        }
        stop |= fail_fast;
        for d in queue.downstream(&id, &results) {
            started += 1;
            report(Event::Skipped {
                index: started,
                id: &d,
            });
            let skipped = NodeResult::skipped(&d, format!("skipped because {id} failed"));
            results.insert(d, skipped);
        }
    }
    // --fail-fast leaves the rest unstarted.
    for id in &order {
        if !results.contains_key(id) {
            let skipped = NodeResult::skipped(id, "skipped: --fail-fast stopped the run".into());
            results.insert(id.clone(), skipped);
        }
    }
    order.iter().filter_map(|id| results.remove(id)).collect()
}

/// The nodes not yet started: how many parents each still waits for, and which are ready.
struct Queue {
    position: HashMap<String, usize>,
    waiting: HashMap<String, usize>,
    dependents: HashMap<String, Vec<String>>,
    /// Ready nodes by their position in graph order.
    ready: BTreeSet<(usize, String)>,
}

impl Queue {
    fn new(order: &[String], deps: &HashMap<String, BTreeSet<String>>) -> Self {
        let position: HashMap<String, usize> = order
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        let waiting: HashMap<String, usize> =
            deps.iter().map(|(k, v)| (k.clone(), v.len())).collect();
        let mut dependents: HashMap<String, Vec<String>> = HashMap::new();
        for (child, parents) in deps {
            for p in parents {
                dependents.entry(p.clone()).or_default().push(child.clone());
            }
        }
        let ready = order
            .iter()
            .enumerate()
            .filter(|(_, id)| waiting.get(*id).copied().unwrap_or(0) == 0)
            .map(|(i, id)| (i, id.clone()))
            .collect();
        Queue {
            position,
            waiting,
            dependents,
            ready,
        }
    }

    fn next_ready(&mut self) -> Option<String> {
        self.ready.pop_first().map(|(_, id)| id)
    }

    /// `id` succeeded: its dependents wait for one parent less.
    fn finished(&mut self, id: &str, results: &HashMap<String, NodeResult>) {
        for d in self.dependents.get(id).cloned().unwrap_or_default() {
            if results.contains_key(&d) {
                continue;
            }
            if let Some(w) = self.waiting.get_mut(&d) {
                *w = w.saturating_sub(1);
                if *w == 0 {
                    let at = self.position.get(&d).copied().unwrap_or(usize::MAX);
                    self.ready.insert((at, d));
                }
            }
        }
    }

    /// `id` failed: everything downstream of it that has no result yet, transitively (in
    /// the order they are found); none of them will become ready.
    fn downstream(&mut self, id: &str, results: &HashMap<String, NodeResult>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut stack = self.dependents.get(id).cloned().unwrap_or_default();
        while let Some(d) = stack.pop() {
            if results.contains_key(&d) || !seen.insert(d.clone()) {
                continue;
            }
            self.ready.retain(|(_, r)| r != &d);
            stack.extend(self.dependents.get(&d).cloned().unwrap_or_default());
            out.push(d);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn ok(id: &str) -> NodeResult {
        NodeResult {
            status: Status::Success,
            ..NodeResult::skipped(id, String::new())
        }
    }

    /// a -> b -> c, and d on its own; `run` panics for the node named `panics`.
    async fn run_chain(panics: &'static str, fail_fast: bool) -> (Vec<NodeResult>, Vec<String>) {
        let order: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let mut deps: HashMap<String, BTreeSet<String>> = HashMap::new();
        deps.insert("a".into(), BTreeSet::new());
        deps.insert("b".into(), BTreeSet::from(["a".to_string()]));
        deps.insert("c".into(), BTreeSet::from(["b".to_string()]));
        deps.insert("d".into(), BTreeSet::new());
        let events = Mutex::new(Vec::new());
        let run = move |id: String, _index: usize| async move {
            if id == panics {
                panic!("boom in {id}");
            }
            ok(&id)
        };
        let report = |e: Event<'_>| {
            let line = match e {
                Event::Skipped { id, .. } => format!("skip {id}"),
                Event::Panicked { id, .. } => format!("panic {id}"),
            };
            events.lock().unwrap().push(line);
        };
        let results = run_graph(order, &deps, 1, fail_fast, run, report).await;
        (results, events.into_inner().unwrap())
    }

    #[tokio::test]
    async fn a_panicked_node_is_an_error_of_its_own_and_skips_only_its_downstream() {
        let (results, events) = run_chain("b", false).await;
        let by_id = |id: &str| results.iter().find(|r| r.unique_id == id).unwrap();
        assert_eq!(results.len(), 4);
        assert_eq!(by_id("a").status, Status::Success);
        let b = by_id("b");
        assert_eq!(b.status, Status::Error);
        let message = b.message.as_deref().unwrap_or_default();
        assert!(message.contains("the task running b failed"), "{message}");
        assert!(message.contains("panicked"), "{message}");
        assert_eq!(by_id("c").status, Status::Skipped);
        assert_eq!(
            by_id("c").message.as_deref(),
            Some("skipped because b failed")
        );
        // The independent node still ran.
        assert_eq!(by_id("d").status, Status::Success);
        assert_eq!(events, vec!["panic b", "skip c"]);
        // No result under a made-up id.
        assert!(results.iter().all(|r| r.unique_id != "unknown"));
    }

    #[tokio::test]
    async fn fail_fast_after_a_panic_leaves_the_rest_unstarted() {
        let (results, _) = run_chain("a", true).await;
        let by_id = |id: &str| results.iter().find(|r| r.unique_id == id).unwrap();
        assert_eq!(by_id("a").status, Status::Error);
        assert_eq!(
            by_id("b").message.as_deref(),
            Some("skipped because a failed")
        );
        assert_eq!(
            by_id("d").message.as_deref(),
            Some("skipped: --fail-fast stopped the run")
        );
    }
}
