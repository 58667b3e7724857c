//! Semantic checks after the schema: references, the dependency DAG, lifecycles, gates, budget.
//!
//! `compile` turns a typed workflow into a [`Festival`] that nothing downstream needs to doubt: no
//! dangling reference, no cycle, no unknown state, no missing gate file. It reports every problem
//! at once and never reads a ledger or the network.

mod budget;
mod dag;
mod gates;
mod lifecycle;
mod refs;
mod scripts;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use petgraph::graph::{DiGraph, NodeIndex};

pub use budget::Spend;
pub(crate) use lifecycle::sources_of;

use crate::diagnostics::{Diagnostic, Sources};
use crate::spec::{Agent, Approver, Env, Lifecycle, Payment, Task, Topics, Workflow};

/// A checked festival: tasks, their dependency graph, their lifecycles and resolved gate files.
#[derive(Debug, Clone)]
pub struct Festival {
    pub id: String,
    pub name: String,
    pub tasks: Vec<Task>,
    /// Node `i` is task `i`; an edge `a -> b` means `b` depends on `a`.
    pub graph: DiGraph<usize, ()>,
    pub index: HashMap<String, usize>,
    pub agents: Vec<Agent>,
    pub approvers: Vec<Approver>,
    pub payment: Payment,
    pub topics: Topics,
    pub max_parallel: Option<u32>,
    pub variables: Vec<(String, String)>,
    /// Every lifecycle in use; `task_lifecycle[i]` indexes it for task `i`.
    pub lifecycles: Vec<Lifecycle>,
    pub task_lifecycle: Vec<usize>,
    /// Gate name as written to the script file it resolved to.
    pub gate_files: Vec<(String, PathBuf)>,
    pub spend: Spend,
}

impl Festival {
    #[must_use]
    pub fn node(&self, task: usize) -> NodeIndex {
        NodeIndex::new(task)
    }

    /// The tasks `task` depends on, by index.
    #[must_use]
    pub fn dependencies(&self, task: usize) -> Vec<usize> {
        let mut deps: Vec<usize> = self
            .graph
            .neighbors_directed(self.node(task), petgraph::Direction::Incoming)
            .map(|n| n.index())
            .collect();
        deps.sort_unstable();
        deps
    }
}

/// Checks a workflow and compiles it. `None` when any error was found.
pub fn compile(sources: &mut Sources, workflow: Workflow, env: &dyn Env) -> (Option<Festival>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let base = workflow
        .path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let (lifecycles, task_lifecycle) = lifecycle::resolve(sources, &workflow, &base, env, &mut diagnostics);
    for l in &lifecycles {
        lifecycle::check(l, &workflow.approvers, &mut diagnostics);
    }
    let index = refs::check(&workflow, &mut diagnostics);
    let graph = dag::build(&workflow.tasks, &index, &mut diagnostics);
    refs::check_agents(&workflow, &graph, &mut diagnostics);
    let gate_files = gates::resolve(&workflow, &lifecycles, &base, &mut diagnostics);
    let engine = crate::gates::GateEngine::default();
    scripts::check_gates(sources, &engine, &gate_files, &mut diagnostics);
    scripts::check_guards(sources, &engine, &lifecycles, &mut diagnostics);
    let spend = budget::check(&workflow, &lifecycles, &task_lifecycle, &mut diagnostics);
    refs::check_payable(&workflow, &lifecycles, &task_lifecycle, &mut diagnostics);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return (None, diagnostics);
    }
    let festival = Festival {
        id: workflow.id.value,
        name: workflow.name,
        tasks: workflow.tasks,
        graph,
        index,
        agents: workflow.agents,
        approvers: workflow.approvers,
        payment: workflow.payment,
        topics: workflow.topics,
        max_parallel: workflow.max_parallel,
        variables: workflow.variables,
        lifecycles,
        task_lifecycle,
        gate_files,
        spend,
    };
    (Some(festival), diagnostics)
}
