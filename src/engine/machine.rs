//! A lifecycle compiled for the engine: states by index, transitions by source state, and what
//! each state asks of the coordinator (assign, judge, ask for approval, pay, retry or give up).

use super::view::Action;
use crate::gates::{GateEngine, GateInput, Guard};
use crate::spec::{Approval, Effect, Lifecycle, TransitionGates};

/// Events only the coordinator fires; every other event is an agent's.
const COORDINATOR_EVENTS: [&str; 9] = [
    "assign",
    "gates_passed",
    "gates_failed",
    "pay",
    "timeout",
    "heartbeat_missed",
    "retry",
    "give_up",
    "approval_expired",
];

/// Events an approver fires.
pub(crate) const APPROVAL_EVENTS: [&str; 2] = ["approve", "reject"];

#[derive(Debug, Clone)]
pub(crate) struct Edge {
    pub(crate) to: usize,
    pub(crate) on: String,
    pub(crate) guard: Option<Guard>,
    pub(crate) gates: TransitionGates,
    pub(crate) effects: Vec<Effect>,
    pub(crate) approval: Option<Approval>,
}

impl Edge {
    pub(crate) fn pays(&self) -> bool {
        self.effects.iter().any(Effect::pays)
    }
}

/// What a state asks the coordinator to do while a task is in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Duty {
    None,
    /// Judge the report with the gates of this edge (`gates_passed`).
    Judge(usize),
    /// Wait for approvers (the edge with `approval`).
    Approve(usize),
    /// Pay the reward, then fire `pay`.
    Pay,
    /// Retry while attempts remain, else give up.
    Recover,
}

#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub(crate) states: Vec<String>,
    pub(crate) initial: usize,
    pub(crate) terminal: Vec<bool>,
    pub(crate) edges: Vec<Edge>,
    /// Edge indices leaving each state, in file order.
    pub(crate) leaving: Vec<Vec<usize>>,
    /// `(after_ns, event)` timeouts of each state.
    pub(crate) timeouts: Vec<Vec<(i64, String)>>,
    /// A task in a done state counts as complete for its dependents.
    pub(crate) done: Vec<bool>,
    pub(crate) duty: Vec<Duty>,
    /// States where the agent must keep sending heartbeats.
    pub(crate) watched: Vec<bool>,
    /// What a task's agent does next in each state, if anything: agents ask after every round.
    pub(crate) action: Vec<Option<Action>>,
    /// States whose `start` takes a task straight into one where its agent submits: no guard,
    /// approval or gate on the way, and no guard on the `submit`. Only a state whose action is
    /// `Start` has a `start` edge. A completed result that says it begins the work
    /// (`started`) is taken as its start too in such a state, and in no other.
    pub(crate) works_on_start: Vec<bool>,
}

impl Machine {
    /// Compiles a checked lifecycle. Guards compiled by `check` compile again here.
    pub(crate) fn new(lifecycle: &Lifecycle, gates: &GateEngine) -> Result<Self, String> {
        let states: Vec<String> = lifecycle.states.iter().map(|s| s.value.clone()).collect();
        let find = |name: &str| {
            states
                .iter()
                .position(|s| s == name)
                .ok_or_else(|| format!("lifecycle `{}` has no state `{name}`", lifecycle.name))
        };
        let initial = find(&lifecycle.initial.value)?;
        let mut terminal = vec![false; states.len()];
        for t in &lifecycle.terminal {
            terminal[find(&t.value)?] = true;
        }
        let mut edges = Vec::new();
        let mut leaving = vec![Vec::new(); states.len()];
        for t in &lifecycle.transitions {
            let guard = match &t.when {
                Some(w) => Some(gates.compile_guard(&w.value).map_err(|(_, reason)| reason)?),
                None => None,
            };
            let to = find(&t.to.value)?;
            for from in crate::check::sources_of(lifecycle, &t.from) {
                leaving[find(from)?].push(edges.len());
                edges.push(Edge {
                    to,
                    on: t.on.value.clone(),
                    guard: guard.clone(),
                    gates: t.gates.clone(),
                    effects: t.effects.clone(),
                    approval: t.approval.clone(),
                });
            }
        }
        let mut timeouts = vec![Vec::new(); states.len()];
        for t in &lifecycle.timeouts {
            let after = i64::try_from(t.after_secs)
                .unwrap_or(i64::MAX / 2)
                .saturating_mul(1_000_000_000);
            timeouts[find(&t.state.value)?].push((after, t.on.value.clone()));
        }
        let mut machine = Self {
            states,
            initial,
            terminal,
            edges,
            leaving,
            timeouts,
            done: Vec::new(),
            duty: Vec::new(),
            watched: Vec::new(),
            action: Vec::new(),
            works_on_start: Vec::new(),
        };
        machine.classify();
        Ok(machine)
    }

    fn classify(&mut self) {
        let n = self.states.len();
        let paying: Vec<&Edge> = self.edges.iter().filter(|e| e.pays()).collect();
        let mut done = vec![false; n];
        if paying.is_empty() {
            // No payment: complete means a terminal state reached otherwise than by giving up.
            for e in self.edges.iter().filter(|e| e.on != "give_up" && self.terminal[e.to]) {
                done[e.to] = true;
            }
        } else {
            for (s, out) in self.leaving.iter().enumerate() {
                if out.iter().any(|&i| self.edges[i].pays()) {
                    done[s] = true;
                }
            }
            for e in paying {
                done[e.to] = true;
            }
        }
        self.duty = (0..n).map(|s| self.duty_of(s)).collect();
        self.watched = (0..n).map(|s| self.has_event(s, "heartbeat_missed")).collect();
        self.action = (0..n)
            .map(|s| {
                if self.has_event(s, "start") {
                    Some(Action::Start)
                } else if self.has_event(s, "submit") {
                    Some(Action::Submit)
                } else {
                    None
                }
            })
            .collect();
        self.works_on_start = (0..n).map(|s| self.starts_into_work(s)).collect();
        self.done = done;
    }

    /// Whether the first edge from `state` on `start` (the one taken when no guard says
    /// otherwise) has no guard, approval or gate and leads to a state where the agent submits,
    /// with no guard on its `submit`: a result there can always be taken.
    fn starts_into_work(&self, state: usize) -> bool {
        let first = self.leaving[state]
            .iter()
            .map(|&i| &self.edges[i])
            .find(|e| e.on == "start");
        first.is_some_and(|e| {
            e.guard.is_none()
                && e.approval.is_none()
                && e.gates == TransitionGates::None
                && self.action[e.to] == Some(Action::Submit)
                && !self.leaving[e.to]
                    .iter()
                    .any(|&i| self.edges[i].on == "submit" && self.edges[i].guard.is_some())
        })
    }

    fn duty_of(&self, state: usize) -> Duty {
        let out = &self.leaving[state];
        if let Some(&i) = out.iter().find(|&&i| self.edges[i].pays()) {
            let _ = i;
            return Duty::Pay;
        }
        if let Some(&i) = out.iter().find(|&&i| self.edges[i].on == "gates_passed") {
            return Duty::Judge(i);
        }
        if let Some(&i) = out.iter().find(|&&i| self.edges[i].approval.is_some()) {
            return Duty::Approve(i);
        }
        if out
            .iter()
            .any(|&i| matches!(self.edges[i].on.as_str(), "retry" | "give_up"))
        {
            return Duty::Recover;
        }
        Duty::None
    }

    pub(crate) fn has_event(&self, state: usize, event: &str) -> bool {
        self.leaving[state].iter().any(|&i| self.edges[i].on == event)
    }

    pub(crate) fn state_index(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|s| s == name)
    }

    /// The first edge from `state` on `event` whose guard holds.
    pub(crate) fn select(
        &self,
        state: usize,
        event: &str,
        gates: &GateEngine,
        input: &GateInput,
    ) -> Result<Option<usize>, String> {
        for &i in &self.leaving[state] {
            let edge = &self.edges[i];
            if edge.on != event {
                continue;
            }
            match &edge.guard {
                None => return Ok(Some(i)),
                Some(g) => {
                    if gates
                        .check_guard(g, input)
                        .map_err(|e| format!("guard `{}`: {e}", g.source))?
                    {
                        return Ok(Some(i));
                    }
                }
            }
        }
        Ok(None)
    }
}

/// Whether an event is the coordinator's to fire.
pub(crate) fn is_coordinator_event(event: &str) -> bool {
    COORDINATOR_EVENTS.contains(&event)
}
