//! The dependency graph of tasks, and its cycles reported with their whole path.

use std::collections::{HashMap, HashSet};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostics::{Code, Diagnostic};
use crate::spec::Task;

/// Builds the graph (edge `dependency -> dependent`) from known references and reports cycles.
pub(super) fn build(tasks: &[Task], index: &HashMap<String, usize>, out: &mut Vec<Diagnostic>) -> DiGraph<usize, ()> {
    let mut graph = DiGraph::with_capacity(tasks.len(), tasks.len() * 2);
    for i in 0..tasks.len() {
        graph.add_node(i);
    }
    for (i, task) in tasks.iter().enumerate() {
        for dep in &task.depends_on {
            if let Some(&d) = index.get(&dep.value)
                && graph.find_edge(NodeIndex::new(d), NodeIndex::new(i)).is_none()
            {
                graph.add_edge(NodeIndex::new(d), NodeIndex::new(i), ());
            }
        }
    }
    for component in tarjan_scc(&graph) {
        let self_loop = component.len() == 1 && graph.contains_edge(component[0], component[0]);
        if component.len() > 1 || self_loop {
            out.push(cycle_diagnostic(tasks, index, &component));
        }
    }
    graph
}

/// Finds one cycle through the first task (in file order) of a strongly connected component.
fn cycle_diagnostic(tasks: &[Task], index: &HashMap<String, usize>, component: &[NodeIndex]) -> Diagnostic {
    let members: HashSet<usize> = component.iter().map(|n| n.index()).collect();
    let start = members.iter().copied().min().unwrap_or_default();
    let path = cycle_path(tasks, index, &members, start);
    let names: Vec<&str> = path.iter().map(|&i| tasks[i].id.value.as_str()).collect();
    let next = path.get(1).copied().unwrap_or(start);
    let task = &tasks[start];
    let span = task
        .depends_on
        .iter()
        .find(|d| index.get(&d.value) == Some(&next))
        .map_or(task.id.span, |d| d.span);
    let message = if path.len() == 2 {
        format!("task `{}` depends on itself", task.id.value)
    } else {
        format!("task `{}` depends on itself: `{}`", task.id.value, names.join(" -> "))
    };
    Diagnostic::new(Code::DependencyCycle, message)
        .at(span)
        .with_hint("tasks run after their dependencies complete, so a cycle can never start; remove one edge")
}

/// Depth-first search along `depends_on` inside the component, back to `start`.
fn cycle_path(tasks: &[Task], index: &HashMap<String, usize>, members: &HashSet<usize>, start: usize) -> Vec<usize> {
    let deps = |i: usize| -> Vec<usize> {
        tasks[i]
            .depends_on
            .iter()
            .filter_map(|d| index.get(&d.value).copied())
            .filter(|d| members.contains(d))
            .rev()
            .collect()
    };
    let mut stack: Vec<(usize, Vec<usize>)> = vec![(start, deps(start))];
    let mut visited: HashSet<usize> = HashSet::from([start]);
    while let Some((_, pending)) = stack.last_mut() {
        let Some(next) = pending.pop() else {
            stack.pop();
            continue;
        };
        if next == start {
            let mut path: Vec<usize> = stack.iter().map(|(n, _)| *n).collect();
            path.push(start);
            return path;
        }
        if visited.insert(next) {
            let next_deps = deps(next);
            stack.push((next, next_deps));
        }
    }
    vec![start, start]
}
