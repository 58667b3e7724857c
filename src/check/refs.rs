//! Names that must exist: task ids, agents, capabilities; and who can be paid.

use std::collections::{HashMap, HashSet};

use petgraph::graph::DiGraph;
use petgraph::visit::{Bfs, Walker};

use crate::diagnostics::{Code, Diagnostic, Span, near};
use crate::spec::{Lifecycle, Spanned, Task, TaskKind, Workflow};

/// The closest of `candidates` to `name` ([`near::distance`]), when it is close enough to be a
/// likely typo: at most a third of the longer name's characters apart. Ties go to the first in
/// byte order, so the hint does not depend on the order the candidates come in.
pub(super) fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let length = name.chars().count();
    candidates
        .into_iter()
        .map(|c| (near::distance(name, c), c))
        .filter(|(d, c)| *d <= length.max(c.chars().count()).div_ceil(3))
        .min()
        .map(|(_, c)| c)
}

/// Reports ids used twice; returns the first definition of each.
fn unique<'a>(
    what: &str,
    ids: impl Iterator<Item = &'a Spanned<String>>,
    out: &mut Vec<Diagnostic>,
) -> HashMap<String, usize> {
    let mut seen: HashMap<String, (usize, Span)> = HashMap::new();
    for (i, id) in ids.enumerate() {
        if let Some((_, first)) = seen.get(&id.value) {
            out.push(
                Diagnostic::new(Code::DuplicateId, format!("{what} `{}` is defined twice", id.value))
                    .at(id.span)
                    .with_related(*first, "first defined here")
                    .with_hint(format!("give each {what} its own id")),
            );
        } else {
            seen.insert(id.value.clone(), (i, id.span));
        }
    }
    seen.into_iter().map(|(k, (i, _))| (k, i)).collect()
}

/// Duplicate ids and dangling task and agent references. Returns task id to index.
pub(super) fn check(workflow: &Workflow, out: &mut Vec<Diagnostic>) -> HashMap<String, usize> {
    let index = unique("task", workflow.tasks.iter().map(|t| &t.id), out);
    let agents = unique("agent", workflow.agents.iter().map(|a| &a.id), out);
    unique("approver", workflow.approvers.iter().map(|a| &a.id), out);
    for task in &workflow.tasks {
        for dep in &task.depends_on {
            if !index.contains_key(&dep.value) {
                let mut d = Diagnostic::new(
                    Code::UnknownTask,
                    format!(
                        "task `{}` depends on `{}`, which is not a task",
                        task.id.value, dep.value
                    ),
                )
                .at(dep.span);
                if let Some(near) = closest(&dep.value, index.keys().map(String::as_str)) {
                    d = d.with_hint(format!("did you mean `{near}`?"));
                }
                out.push(d);
            }
        }
        if let Some(agent) = &task.agent
            && !agents.contains_key(&agent.value)
        {
            let mut d = Diagnostic::new(
                Code::UnknownAgent,
                format!(
                    "task `{}` is assigned to `{}`, which is not an agent",
                    task.id.value, agent.value
                ),
            )
            .at(agent.span);
            if let Some(near) = closest(&agent.value, agents.keys().map(String::as_str)) {
                d = d.with_hint(format!("did you mean `{near}`?"));
            }
            out.push(d);
        }
    }
    index
}

/// Whether some agent can take `task`: the assigned agent, or any holding every required capability.
fn capable(workflow: &Workflow, task: &Task, out: &mut Vec<Diagnostic>) -> bool {
    let has_all = |caps: &[Spanned<String>]| task.requires.iter().all(|r| caps.iter().any(|c| c.value == r.value));
    if let Some(name) = &task.agent {
        let Some(agent) = workflow.agents.iter().find(|a| a.id.value == name.value) else {
            return false;
        };
        for need in task
            .requires
            .iter()
            .filter(|r| !agent.capabilities.iter().any(|c| c.value == r.value))
        {
            out.push(
                Diagnostic::new(
                    Code::AgentLacksCapability,
                    format!(
                        "task `{}` requires `{}`, which its agent `{}` lacks",
                        task.id.value, need.value, name.value
                    ),
                )
                .at(need.span)
                .with_related(agent.id.span, "agent defined here"),
            );
        }
        return true;
    }
    if task.requires.is_empty() && (workflow.agents.is_empty() || workflow.festival_dir.is_some()) {
        return true;
    }
    if workflow.agents.iter().any(|a| has_all(&a.capabilities)) {
        return true;
    }
    let needs: Vec<String> = task.requires.iter().map(|r| format!("`{}`", r.value)).collect();
    let what = if needs.is_empty() {
        "any agent".to_string()
    } else {
        needs.join(", ")
    };
    out.push(
        Diagnostic::new(
            Code::NoCapableAgent,
            format!("no agent can take task `{}`: it needs {what}", task.id.value),
        )
        .at(task.requires.first().map_or(task.id.span, |r| r.span))
        .with_hint("add the capabilities to an agent, or assign the task with `agent:`"),
    );
    false
}

/// Capabilities, unused agents, and tasks that can never become ready.
pub(super) fn check_agents(workflow: &Workflow, graph: &DiGraph<usize, ()>, out: &mut Vec<Diagnostic>) {
    let stuck: Vec<usize> = (0..workflow.tasks.len())
        .filter(|&i| !capable(workflow, &workflow.tasks[i], out))
        .collect();
    let mut warned = HashSet::new();
    for &start in &stuck {
        for node in Bfs::new(graph, petgraph::graph::NodeIndex::new(start))
            .iter(graph)
            .skip(1)
        {
            let task = &workflow.tasks[node.index()];
            if warned.insert(node.index()) && !stuck.contains(&node.index()) {
                out.push(
                    Diagnostic::new(
                        Code::UnreachableTask,
                        format!(
                            "task `{}` can never become ready: it waits on `{}`, which no agent can take",
                            task.id.value, workflow.tasks[start].id.value
                        ),
                    )
                    .at(task.id.span),
                );
            }
        }
    }
    for agent in &workflow.agents {
        let used = workflow.tasks.iter().any(|t| match &t.agent {
            Some(a) => a.value == agent.id.value,
            None => t
                .requires
                .iter()
                .all(|r| agent.capabilities.iter().any(|c| c.value == r.value)),
        });
        if !used {
            out.push(
                Diagnostic::new(
                    Code::UnusedAgent,
                    format!("agent `{}` can take no task of this festival", agent.id.value),
                )
                .at(agent.id.span)
                .with_hint("assign it a task, give it a capability a task requires, or remove it"),
            );
        }
    }
}

/// Warns about tasks that could complete without anyone being paid.
pub(super) fn check_payable(
    workflow: &Workflow,
    lifecycles: &[Lifecycle],
    task_lifecycle: &[usize],
    out: &mut Vec<Diagnostic>,
) {
    if workflow.festival_dir.is_some() {
        return;
    }
    for (i, task) in workflow.tasks.iter().enumerate() {
        let Some(lifecycle) = task_lifecycle.get(i).and_then(|&l| lifecycles.get(l)) else {
            continue;
        };
        let pays = lifecycle
            .transitions
            .iter()
            .any(|t| t.effects.iter().any(crate::spec::Effect::pays));
        let reward = task.reward.as_ref().is_some_and(|r| r.value.units != 0);
        let reason = match (pays, reward, &task.kind) {
            (true, true, _) | (_, false, TaskKind::Gate(_)) => continue,
            (false, _, _) => format!("its lifecycle `{}` has no `hts.transfer` effect", lifecycle.name),
            (true, false, _) => "it has no reward".to_string(),
        };
        out.push(
            Diagnostic::new(
                Code::UnpaidTask,
                format!("task `{}` is never paid: {reason}", task.id.value),
            )
            .at(task.reward.as_ref().map_or(task.id.span, |r| r.span))
            .with_hint("set `reward:` on the task or in `defaults:`"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn the_hint_is_the_nearest_name_and_ties_go_by_name_whatever_the_order_given() {
        let names = ["hcs-testing", "hcs-designs", "hcs-design", "hts-design"];
        let mut reversed = names;
        reversed.reverse();
        for given in [names, reversed] {
            assert_eq!(closest("hcs-desing", given), Some("hcs-design"));
            assert_eq!(closest("hcs-desig", given), Some("hcs-design"));
            assert_eq!(closest("hcs-designz", given), Some("hcs-design"));
            assert_eq!(closest("deploy", given), None);
        }
        let tied = ["b-task", "a-task"];
        assert_eq!(closest("c-task", tied), Some("a-task"));
        assert_eq!(closest("c-task", tied.iter().rev().copied()), Some("a-task"));
    }
}
