//! Lifecycles: which one each task follows, and whether each is a sound state machine.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;

use crate::diagnostics::{Code, Diagnostic, Sources, Span};
use crate::spec::{self, Approver, Env, Lifecycle, LifecycleRef, Spanned, Workflow};

/// Loads every lifecycle the workflow uses. Returns them and, per task, the index of its own.
pub(super) fn resolve(
    sources: &mut Sources,
    workflow: &Workflow,
    base: &Path,
    env: &dyn Env,
    out: &mut Vec<Diagnostic>,
) -> (Vec<Lifecycle>, Vec<usize>) {
    let mut loaded: Vec<Lifecycle> = Vec::new();
    let mut by_name: HashMap<String, Option<usize>> = HashMap::new();
    let main = load(
        sources,
        &workflow.lifecycle,
        workflow,
        base,
        env,
        &mut loaded,
        &mut by_name,
        out,
    );
    let mut per_task = Vec::with_capacity(workflow.tasks.len());
    for task in &workflow.tasks {
        let index = match &task.lifecycle {
            None => main,
            Some(name) => {
                let reference = LifecycleRef::Named(name.clone());
                load(sources, &reference, workflow, base, env, &mut loaded, &mut by_name, out)
            }
        };
        per_task.push(index.unwrap_or(0));
    }
    (loaded, per_task)
}

#[allow(clippy::too_many_arguments)]
fn load(
    sources: &mut Sources,
    reference: &LifecycleRef,
    workflow: &Workflow,
    base: &Path,
    env: &dyn Env,
    loaded: &mut Vec<Lifecycle>,
    by_name: &mut HashMap<String, Option<usize>>,
    out: &mut Vec<Diagnostic>,
) -> Option<usize> {
    let name = match reference {
        LifecycleRef::Named(name) => name,
        other => return load_unnamed(sources, other, base, env, loaded, out),
    };
    if let Some(known) = by_name.get(&name.value) {
        return *known;
    }
    let defined = workflow
        .lifecycles
        .iter()
        .find(|(n, _)| n.value == name.value)
        .map(|(_, r)| r);
    let index = match defined {
        Some(LifecycleRef::Named(inner)) if inner.value == spec::STANDARD_NAME => standard(sources, loaded, out),
        Some(LifecycleRef::Named(inner)) => {
            out.push(unknown(inner, workflow, "a named lifecycle may only alias `standard`"));
            None
        }
        Some(other) => load_unnamed(sources, other, base, env, loaded, out),
        None if name.value == spec::STANDARD_NAME => standard(sources, loaded, out),
        None => {
            out.push(unknown(
                name,
                workflow,
                "define it under `lifecycles:`, or use `standard` or a file path",
            ));
            None
        }
    };
    by_name.insert(name.value.clone(), index);
    index
}

fn unknown(name: &Spanned<String>, workflow: &Workflow, hint: &str) -> Diagnostic {
    let names = workflow
        .lifecycles
        .iter()
        .map(|(n, _)| n.value.as_str())
        .chain([spec::STANDARD_NAME]);
    let hint = match super::refs::closest(&name.value, names) {
        Some(near) => format!("did you mean `{near}`?"),
        None => hint.to_string(),
    };
    Diagnostic::new(Code::UnknownLifecycle, format!("unknown lifecycle `{}`", name.value))
        .at(name.span)
        .with_hint(hint)
}

fn standard(sources: &mut Sources, loaded: &mut Vec<Lifecycle>, out: &mut Vec<Diagnostic>) -> Option<usize> {
    let (lifecycle, diagnostics) = spec::standard_lifecycle(sources);
    out.extend(diagnostics);
    lifecycle.map(|l| push(loaded, l))
}

fn push(loaded: &mut Vec<Lifecycle>, lifecycle: Lifecycle) -> usize {
    loaded.push(lifecycle);
    loaded.len() - 1
}

fn load_unnamed(
    sources: &mut Sources,
    reference: &LifecycleRef,
    base: &Path,
    env: &dyn Env,
    loaded: &mut Vec<Lifecycle>,
    out: &mut Vec<Diagnostic>,
) -> Option<usize> {
    match reference {
        LifecycleRef::Inline(lifecycle) => Some(push(loaded, (**lifecycle).clone())),
        LifecycleRef::File(path) => match spec::read(sources, &base.join(&path.value)) {
            Ok(file) => {
                let (lifecycle, diagnostics) = spec::lifecycle_from_source(sources, file, env);
                out.extend(diagnostics);
                lifecycle.map(|l| push(loaded, l))
            }
            Err(e) => {
                out.push(
                    Diagnostic::new(
                        Code::UnknownLifecycle,
                        format!("cannot read lifecycle file `{}`: {}", path.value.display(), e.source),
                    )
                    .at(path.span)
                    .with_hint("lifecycle paths are relative to the workflow file"),
                );
                None
            }
        },
        LifecycleRef::Named(_) => None,
    }
}

/// Every soundness rule of a state machine.
pub(super) fn check(lifecycle: &Lifecycle, approvers: &[Approver], out: &mut Vec<Diagnostic>) {
    let mut states: HashMap<&str, Span> = HashMap::new();
    for state in &lifecycle.states {
        if let Some(first) = states.get(state.value.as_str()) {
            out.push(
                Diagnostic::new(
                    Code::DuplicateState,
                    format!("state `{}` is declared twice", state.value),
                )
                .at(state.span)
                .with_related(*first, "first declared here"),
            );
        } else {
            states.insert(&state.value, state.span);
        }
    }
    let known = |s: &Spanned<String>, role: &str, out: &mut Vec<Diagnostic>| {
        let ok = states.contains_key(s.value.as_str()) || (role == "source" && s.value == "*");
        if !ok {
            let mut d = Diagnostic::new(
                Code::UnknownState,
                format!(
                    "{role} state `{}` is not a state of lifecycle `{}`",
                    s.value, lifecycle.name
                ),
            )
            .at(s.span);
            if let Some(near) = super::refs::closest(&s.value, states.keys().copied()) {
                d = d.with_hint(format!("did you mean `{near}`?"));
            }
            out.push(d);
        }
        ok
    };
    if !states.contains_key(lifecycle.initial.value.as_str()) {
        out.push(
            Diagnostic::new(
                Code::LifecycleNoInitial,
                format!("initial state `{}` is not one of the states", lifecycle.initial.value),
            )
            .at(lifecycle.initial.span)
            .with_hint("add it to `states:` or pick one of them"),
        );
    }
    for t in &lifecycle.terminal {
        known(t, "terminal", out);
    }
    for transition in &lifecycle.transitions {
        for from in &transition.from {
            known(from, "source", out);
        }
        known(&transition.to, "target", out);
    }
    for timeout in &lifecycle.timeouts {
        known(&timeout.state, "timeout", out);
    }
    check_terminal_exits(lifecycle, out);
    check_reachability(lifecycle, out);
    check_events(lifecycle, out);
    check_approvals(lifecycle, approvers, out);
}

fn is_terminal(lifecycle: &Lifecycle, state: &str) -> bool {
    lifecycle.terminal.iter().any(|t| t.value == state)
}

/// The source states of a transition, with `*` expanded to every non-terminal state.
pub(crate) fn sources_of<'a>(lifecycle: &'a Lifecycle, from: &'a [Spanned<String>]) -> Vec<&'a str> {
    let mut out = Vec::new();
    for f in from {
        if f.value == "*" {
            out.extend(
                lifecycle
                    .states
                    .iter()
                    .map(|s| s.value.as_str())
                    .filter(|s| !is_terminal(lifecycle, s)),
            );
        } else {
            out.push(f.value.as_str());
        }
    }
    out
}

fn check_terminal_exits(lifecycle: &Lifecycle, out: &mut Vec<Diagnostic>) {
    for transition in &lifecycle.transitions {
        for from in transition.from.iter().filter(|f| is_terminal(lifecycle, &f.value)) {
            out.push(
                Diagnostic::new(
                    Code::TransitionFromTerminal,
                    format!(
                        "transition on `{}` leaves terminal state `{}`",
                        transition.on.value, from.value
                    ),
                )
                .at(from.span)
                .with_hint("a terminal state is final; remove the transition or the state from `terminal:`"),
            );
        }
    }
}

fn edges(lifecycle: &Lifecycle) -> Vec<(&str, &str)> {
    lifecycle
        .transitions
        .iter()
        .flat_map(|t| {
            sources_of(lifecycle, &t.from)
                .into_iter()
                .map(move |f| (f, t.to.value.as_str()))
        })
        .collect()
}

fn reach(start: &[&str], edges: &[(&str, &str)], forward: bool) -> HashSet<String> {
    let mut seen: HashSet<String> = start.iter().map(|s| (*s).to_string()).collect();
    let mut queue: VecDeque<String> = seen.iter().cloned().collect();
    while let Some(state) = queue.pop_front() {
        for (a, b) in edges {
            let (here, there) = if forward { (a, b) } else { (b, a) };
            if *here == state && seen.insert((*there).to_string()) {
                queue.push_back((*there).to_string());
            }
        }
    }
    seen
}

fn check_reachability(lifecycle: &Lifecycle, out: &mut Vec<Diagnostic>) {
    let edges = edges(lifecycle);
    let reachable = reach(&[lifecycle.initial.value.as_str()], &edges, true);
    let terminals: Vec<&str> = lifecycle.terminal.iter().map(|t| t.value.as_str()).collect();
    let finishing = reach(&terminals, &edges, false);
    for state in &lifecycle.states {
        if !reachable.contains(&state.value) {
            out.push(
                Diagnostic::new(
                    Code::UnreachableState,
                    format!(
                        "state `{}` cannot be reached from `{}`",
                        state.value, lifecycle.initial.value
                    ),
                )
                .at(state.span)
                .with_hint("add a transition into it, or remove it"),
            );
        } else if !finishing.contains(&state.value) {
            out.push(
                Diagnostic::new(
                    Code::DeadEndState,
                    format!(
                        "a task in state `{}` can never finish: no terminal state is reachable from it",
                        state.value
                    ),
                )
                .at(state.span)
                .with_hint("add a transition toward a terminal state, or mark it terminal"),
            );
        }
    }
}

fn check_events(lifecycle: &Lifecycle, out: &mut Vec<Diagnostic>) {
    let mut unguarded: HashMap<(&str, &str), Span> = HashMap::new();
    for t in lifecycle.transitions.iter().filter(|t| t.when.is_none()) {
        for from in sources_of(lifecycle, &t.from) {
            if let Some(first) = unguarded.insert((from, t.on.value.as_str()), t.on.span) {
                out.push(
                    Diagnostic::new(
                        Code::AmbiguousTransition,
                        format!(
                            "two transitions leave `{from}` on `{}` with no `when:` to choose",
                            t.on.value
                        ),
                    )
                    .at(t.on.span)
                    .with_related(first, "the other transition")
                    .with_hint("add a `when:` guard to one of them"),
                );
            }
        }
    }
    for timeout in &lifecycle.timeouts {
        let handled = lifecycle.transitions.iter().any(|t| {
            t.on.value == timeout.on.value && sources_of(lifecycle, &t.from).contains(&timeout.state.value.as_str())
        });
        if !handled {
            out.push(
                Diagnostic::new(
                    Code::UnknownEvent,
                    format!(
                        "timeout fires `{}` in state `{}`, but no transition from `{}` handles it",
                        timeout.on.value, timeout.state.value, timeout.state.value
                    ),
                )
                .at(timeout.on.span),
            );
        }
    }
}

fn check_approvals(lifecycle: &Lifecycle, approvers: &[Approver], out: &mut Vec<Diagnostic>) {
    for approval in lifecycle.transitions.iter().filter_map(|t| t.approval.as_ref()) {
        if approvers.is_empty() {
            out.push(
                Diagnostic::new(
                    Code::UnknownApprover,
                    "this transition needs an approval, but the workflow names no `approvers:`",
                )
                .at(approval.span),
            );
            continue;
        }
        for name in &approval.approvers {
            if !approvers.iter().any(|a| a.id.value == name.value) {
                out.push(
                    Diagnostic::new(
                        Code::UnknownApprover,
                        format!("`{}` is not one of the workflow's approvers", name.value),
                    )
                    .at(name.span),
                );
            }
        }
        let pool = if approval.approvers.is_empty() {
            approvers.len()
        } else {
            approval.approvers.len()
        };
        if approval.quorum as usize > pool {
            out.push(
                Diagnostic::new(
                    Code::UnknownApprover,
                    format!(
                        "a quorum of {} needs more approvers than the {pool} named",
                        approval.quorum
                    ),
                )
                .at(approval.span),
            );
        }
    }
}
