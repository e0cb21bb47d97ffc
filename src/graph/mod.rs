//! The dependency graph (petgraph): nodes, sources and exposures as vertices, `ref`/`source` edges from
//! parent to child. Cycles are reported with their path.

pub mod glob;
pub mod selection;
pub mod selector;
pub mod selectors_file;
pub mod state;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::error::{Error, Result};
use crate::project::Project;

pub use selection::{IndirectSelection, Selection, Selector};
pub use selector::SelectContext;
pub use state::PreviousState;

pub struct Graph {
    graph: DiGraph<String, ()>,
    index: HashMap<String, NodeIndex>,
}

impl Graph {
    pub fn build(project: &Project) -> Result<Self> {
        let mut graph = DiGraph::new();
        let mut index = HashMap::new();
        let ids = project.sources.keys().chain(project.nodes.keys());
        for id in ids.chain(project.exposures.keys()) {
            index.insert(id.clone(), graph.add_node(id.clone()));
        }
        let edges = project
            .nodes
            .values()
            .filter(|n| !project.unit_tests.contains_key(&n.unique_id))
            .map(|n| (&n.unique_id, &n.depends_on))
            .chain(
                project
                    .exposures
                    .values()
                    .map(|e| (&e.unique_id, &e.depends_on)),
            );
        for (id, depends_on) in edges {
            let child = index[id];
            for dep in depends_on {
                if let Some(&parent) = index.get(dep) {
                    graph.update_edge(parent, child, ());
                }
            }
        }
        // A unit test runs after its model's parents (it reads their columns) and before
        // its model, which a failing unit test then skips (dbt's build order).
        for id in project.unit_tests.keys() {
            let (Some(&test), Some(model)) = (
                index.get(id),
                project.nodes.get(id).and_then(|n| n.depends_on.first()),
            ) else {
                continue;
            };
            let Some(&model_index) = index.get(model) else {
                continue;
            };
            let parents = project
                .nodes
                .get(model)
                .map(|m| m.depends_on.as_slice())
                .unwrap_or(&[]);
            for parent in parents {
                if let Some(&p) = index.get(parent) {
                    graph.update_edge(p, test, ());
                }
            }
            graph.update_edge(test, model_index, ());
        }
        let g = Graph { graph, index };
        if let Some(cycle) = g.find_cycle() {
            let names = cycle
                .iter()
                .map(|id| {
                    project
                        .nodes
                        .get(id)
                        .map(|n| format!("{} ({})", n.name, n.original_file_path.display()))
                        .unwrap_or_else(|| id.clone())
                })
                .collect();
            return Err(Error::Cycle(names));
        }
        Ok(g)
    }

    /// One cycle as a path that starts and ends at the same node, if there is any.
    fn find_cycle(&self) -> Option<Vec<String>> {
        for scc in petgraph::algo::tarjan_scc(&self.graph) {
            let self_loop = scc.len() == 1 && self.graph.contains_edge(scc[0], scc[0]);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            let members: HashSet<NodeIndex> = scc.iter().copied().collect();
            let start = *scc.iter().min_by_key(|i| &self.graph[**i])?;
            // BFS inside the component back to `start` gives the shortest cycle through it.
            let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
            let mut queue = VecDeque::from([start]);
            while let Some(n) = queue.pop_front() {
                for next in self.graph.neighbors_directed(n, Direction::Outgoing) {
                    if !members.contains(&next) {
                        continue;
                    }
                    if next == start {
                        let mut path = vec![self.graph[start].clone()];
                        let mut cur = n;
                        let mut back = vec![];
                        while cur != start {
                            back.push(self.graph[cur].clone());
                            cur = prev[&cur];
                        }
                        back.reverse();
                        path.extend(back);
                        path.push(self.graph[start].clone());
                        return Some(path);
                    }
                    if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(next) {
                        e.insert(n);
                        queue.push_back(next);
                    }
                }
            }
        }
        None
    }

    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    fn neighbors(&self, id: &str, dir: Direction) -> Vec<String> {
        let Some(&i) = self.index.get(id) else {
            return Vec::new();
        };
        let mut v: Vec<String> = self
            .graph
            .neighbors_directed(i, dir)
            .map(|n| self.graph[n].clone())
            .collect();
        v.sort();
        v
    }

    pub fn parents(&self, id: &str) -> Vec<String> {
        self.neighbors(id, Direction::Incoming)
    }

    pub fn children(&self, id: &str) -> Vec<String> {
        self.neighbors(id, Direction::Outgoing)
    }

    /// Nodes reachable from `id` in `dir`, up to `depth` edges (all when None), without `id`.
    pub fn reach(&self, id: &str, dir: Direction, depth: Option<usize>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let Some(&start) = self.index.get(id) else {
            return seen;
        };
        let mut queue = VecDeque::from([(start, 0usize)]);
        let mut visited = HashSet::from([start]);
        while let Some((n, d)) = queue.pop_front() {
            if depth.is_some_and(|max| d >= max) {
                continue;
            }
            for next in self.graph.neighbors_directed(n, dir) {
                if visited.insert(next) {
                    seen.insert(self.graph[next].clone());
                    queue.push_back((next, d + 1));
                }
            }
        }
        seen
    }

    pub fn ancestors(&self, id: &str, depth: Option<usize>) -> BTreeSet<String> {
        self.reach(id, Direction::Incoming, depth)
    }

    pub fn descendants(&self, id: &str, depth: Option<usize>) -> BTreeSet<String> {
        self.reach(id, Direction::Outgoing, depth)
    }

    /// Every vertex in an order where parents come before children (ties by id).
    pub fn topo_order(&self) -> Vec<String> {
        let mut indegree: HashMap<NodeIndex, usize> = self
            .graph
            .node_indices()
            .map(|i| {
                (
                    i,
                    self.graph
                        .neighbors_directed(i, Direction::Incoming)
                        .count(),
                )
            })
            .collect();
        let mut ready: BTreeSet<(String, NodeIndex)> = indegree
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(i, _)| (self.graph[*i].clone(), *i))
            .collect();
        let mut out = Vec::with_capacity(indegree.len());
        while let Some(first) = ready.iter().next().cloned() {
            ready.remove(&first);
            let (id, i) = first;
            out.push(id);
            for next in self.graph.neighbors_directed(i, Direction::Outgoing) {
                if let Some(d) = indegree.get_mut(&next) {
                    *d -= 1;
                    if *d == 0 {
                        ready.insert((self.graph[next].clone(), next));
                    }
                }
            }
        }
        out
    }

    /// parent_map / child_map for manifest.json (every vertex, sorted lists).
    pub fn maps(&self) -> (HashMap<String, Vec<String>>, HashMap<String, Vec<String>>) {
        let mut parents = HashMap::new();
        let mut children = HashMap::new();
        for id in self.index.keys() {
            parents.insert(id.clone(), self.parents(id));
            children.insert(id.clone(), self.children(id));
        }
        (parents, children)
    }
}
