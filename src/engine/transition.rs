//! Moving a task between states: guards, attempts, deadlines, agent load and the tasks a
//! completed dependency unblocks.

use std::cmp::Reverse;

use serde_json::{Value as Json, json};

use super::Engine;
use super::fold::Folded;
use super::machine::Duty;
use super::state::Verdict;
use crate::check::Festival;
use crate::gates::GateInput;

impl Engine {
    /// Moves task `t` along the first edge on `event` whose guard holds. A task that comes to a
    /// state waiting for its gates with none to run passes them there and then (see
    /// [`Engine::pass_without_gates`]).
    pub(super) fn fire(&mut self, t: usize, event: &str) -> Folded {
        self.move_on(t, event)?;
        self.pass_without_gates(t);
        Ok(())
    }

    /// A verdict on no gates at all depends on nothing but the workflow, which the whole log
    /// shares, so it is not a message: every replica folds the same pass at the same point of
    /// the log. Only one such pass follows an event (a lifecycle whose next state waits for gates
    /// again gets a `quality_gate` message), and a pass the lifecycle does not allow (a guard
    /// that does not hold) leaves the task for the gates' command, as a task with gates.
    fn pass_without_gates(&mut self, t: usize) {
        let s = &self.tasks[t];
        let Duty::Judge(edge) = self.machine(t).duty[s.state] else {
            return;
        };
        if !self.gates_of(t, edge).is_empty() {
            return;
        }
        let attempt = s.attempt;
        if self.move_on(t, "gates_passed").is_ok() {
            self.tasks[t].verdict = Some(Verdict {
                attempt,
                passed: true,
                verdicts: Json::Array(Vec::new()),
            });
        }
    }

    fn move_on(&mut self, t: usize, event: &str) -> Folded {
        let state = self.tasks[t].state;
        let m = self.machine(t);
        let needs_guard = m.leaving[state]
            .iter()
            .any(|&i| m.edges[i].on == event && m.edges[i].guard.is_some());
        // Building and dropping the guards' input costs more than the rest of a move without a
        // guard; without one, the first edge on the event is the one `select` would take.
        let selected = if needs_guard {
            m.select(state, event, &self.gates, &self.guard_input(t))
        } else {
            Ok(m.leaving[state].iter().copied().find(|&i| m.edges[i].on == event))
        };
        let edge = selected
            .map_err(|e| format!("task `{}`: {e}", self.task_id(t)))?
            .ok_or_else(|| {
                format!(
                    "`{event}` is not allowed in state `{}` of task `{}`",
                    m.states[state],
                    self.task_id(t)
                )
            })?;
        self.enter(t, m.edges[edge].to);
        Ok(())
    }

    /// Puts task `t` in state `to`, with everything that comes with entering a state.
    fn enter(&mut self, t: usize, to: usize) {
        // Most moves keep the task in, or out of, its agent's set: only a change touches it.
        let acting = self.acting(t);
        self.count_load(t, false);
        let now = self.now;
        let grace = self.grace;
        let lifecycle = self.festival.task_lifecycle[t];
        let machine = &self.machines[lifecycle];
        let s = &mut self.tasks[t];
        let was_done = machine.done[s.state];
        let ended = machine.terminal[to] && !machine.terminal[s.state];
        let was_initial = s.state == machine.initial;
        self.in_state[lifecycle][s.state] -= 1;
        self.in_state[lifecycle][to] += 1;
        self.open = self.open + usize::from(machine.terminal[s.state]) - usize::from(machine.terminal[to]);
        if s.visited.contains(&to) {
            s.attempt += 1;
            s.visited.clear();
        }
        s.visited.push(to);
        s.state = to;
        s.entered = now;
        s.approval_requested = false;
        s.approvals.clear();
        s.busy = false;
        if to == machine.initial {
            s.avoid = s.agent.take().or(s.avoid);
        }
        for (k, (after, _)) in machine.timeouts[to].iter().enumerate() {
            self.deadlines.push(Reverse((now.saturating_add(*after), t, now, k)));
        }
        if machine.watched[to] {
            self.deadlines
                .push(Reverse((now.saturating_add(grace), t, now, usize::MAX)));
        }
        if machine.done[to] && !was_done {
            let node = self.festival.node(t);
            for d in self
                .festival
                .graph
                .neighbors_directed(node, petgraph::Direction::Outgoing)
            {
                self.dirty.insert(d.index());
            }
        }
        // Only a task in its initial state is ready.
        if was_initial && to != machine.initial {
            self.ready.remove(&t);
        }
        self.dirty.insert(t);
        if ended {
            self.release_reports(t);
        }
        self.count_load(t, true);
        let now_acting = self.acting(t);
        if acting != now_acting {
            if let Some(a) = acting {
                self.held[a].remove(&t);
            }
            if let Some(a) = now_acting {
                self.held[a].insert(t);
            }
        }
    }

    /// Drops the reports no gate can read any more, now that task `t` has ended: a report is read
    /// by the gates of its own task and of the tasks that depend on it, and a task in a terminal
    /// state runs none again. A festival's memory for reports then follows the tasks under way,
    /// not every task it ran.
    fn release_reports(&mut self, t: usize) {
        let ended = |engine: &Self, task: usize| engine.machine(task).terminal[engine.tasks[task].state];
        for d in self.festival.dependencies(t).into_iter().chain([t]) {
            let node = self.festival.node(d);
            let read_by_none = ended(self, d)
                && self
                    .festival
                    .graph
                    .neighbors_directed(node, petgraph::Direction::Outgoing)
                    .all(|n| ended(self, n.index()));
            if read_by_none {
                self.tasks[d].report = None;
            }
        }
    }

    /// The agent of task `t` if it has something to do in the task's state (then `t` is in its
    /// `held` set).
    #[inline]
    fn acting(&self, t: usize) -> Option<usize> {
        let s = &self.tasks[t];
        s.agent
            .filter(|_| self.agent_acts[self.festival.task_lifecycle[t]][s.state])
    }

    /// Counts task `t` in (or out of) its agent's load, the festival's active tasks and the tasks
    /// its agent has something to do for. Called with `false` before a task's state or agent
    /// changes and with `true` after.
    pub(super) fn hold(&mut self, t: usize, on: bool) {
        if let Some(a) = self.acting(t) {
            if on {
                self.held[a].insert(t);
            } else {
                self.held[a].remove(&t);
            }
        }
        self.count_load(t, on);
    }

    /// Counts task `t` in (or out of) its agent's load and the festival's active tasks.
    #[inline]
    fn count_load(&mut self, t: usize, on: bool) {
        let m = self.machine(t);
        let s = &self.tasks[t];
        let Some(a) = s.agent else { return };
        if s.state == m.initial || m.terminal[s.state] || m.done[s.state] {
            return;
        }
        if on {
            self.agents[a].load += 1;
            self.active += 1;
        } else {
            self.agents[a].load = self.agents[a].load.saturating_sub(1);
            self.active = self.active.saturating_sub(1);
        }
    }

    /// What task `t`'s agent is owed on completion, in minor units.
    pub(super) fn amount_owed(&self, t: usize) -> i64 {
        if self.tasks[t].agent.is_none() {
            return 0;
        }
        self.rewards[t]
    }

    pub(super) fn guard_input(&self, t: usize) -> GateInput {
        let task = &self.festival.tasks[t];
        GateInput {
            task: json!({
                "id": task.id.value,
                "name": task.name,
                "attempt": self.tasks[t].attempt,
                "max_attempts": task.max_attempts,
            }),
            ..GateInput::default()
        }
    }
}

/// Each task's reward in minor units, 0 for none (or one too large to pay).
pub(super) fn rewards(festival: &Festival) -> Vec<i64> {
    festival
        .tasks
        .iter()
        .map(|task| {
            task.reward
                .as_ref()
                .and_then(|r| r.value.to_minor(festival.payment.decimals))
                .and_then(|m| i64::try_from(m).ok())
                .unwrap_or(0)
        })
        .collect()
}
