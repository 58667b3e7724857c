//! Read-only views of a run, for the progress display, `baton status` and the final table.

use serde::Serialize;
use serde_json::Value as Json;

use super::Engine;
use super::machine::Duty;

/// One task as the log tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskView {
    pub id: String,
    pub name: String,
    pub state: String,
    pub agent: Option<String>,
    pub attempt: u32,
    pub max_attempts: u32,
    pub gate: Option<GateView>,
    /// Amount paid, in the token's minor units, and the transaction that paid it.
    pub paid: Option<i64>,
    pub tx: Option<String>,
    pub payment_error: Option<String>,
    pub waiting_for_approval: bool,
    pub terminal: bool,
    /// Why the task last moved, when the log says (a timeout, a rejection, a failure).
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateView {
    pub attempt: u32,
    pub passed: bool,
    pub reasons: Vec<String>,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Work remains and can still happen.
    Running,
    /// Every task reached a terminal state.
    Finished,
    /// Nothing can move: the tasks left wait on dependencies that will never complete.
    Stuck,
}

impl Engine {
    #[must_use]
    pub fn task_views(&self) -> Vec<TaskView> {
        (0..self.tasks.len()).map(|t| self.task_view(t)).collect()
    }

    #[must_use]
    pub fn task_view(&self, t: usize) -> TaskView {
        let task = &self.festival.tasks[t];
        let s = &self.tasks[t];
        let m = self.machine(t);
        TaskView {
            id: task.id.value.clone(),
            name: task.name.clone(),
            state: m.states[s.state].clone(),
            agent: s.agent.map(|a| self.festival.agents[a].id.value.clone()),
            attempt: s.attempt,
            max_attempts: task.max_attempts,
            gate: s.verdict.as_ref().map(|v| GateView {
                attempt: v.attempt,
                passed: v.passed,
                reasons: reasons(&v.verdicts),
            }),
            paid: s.paid,
            tx: s.intent.map(|i| self.intents[i].tx.clone()),
            payment_error: s.payment_error.clone(),
            waiting_for_approval: matches!(m.duty[s.state], Duty::Approve(_)),
            terminal: m.terminal[s.state],
            note: s.last_reason.clone(),
        }
    }

    /// Tasks per state name, in the order states first appear in the lifecycles.
    #[must_use]
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = Vec::new();
        for m in &self.machines {
            for s in &m.states {
                if !out.iter().any(|(n, _)| n == s) {
                    out.push((s.clone(), 0));
                }
            }
        }
        for (m, counts) in self.machines.iter().zip(&self.in_state) {
            for (name, &n) in m.states.iter().zip(counts) {
                if let Some(entry) = out.iter_mut().find(|(s, _)| s == name) {
                    entry.1 += n;
                }
            }
        }
        out
    }

    /// Tasks in a terminal state.
    #[must_use]
    pub fn terminal_tasks(&self) -> usize {
        self.tasks.len() - self.open
    }

    /// Total paid so far, in minor units, and the number of tasks paid.
    #[must_use]
    pub fn paid(&self) -> (i64, usize) {
        self.tasks
            .iter()
            .filter_map(|s| s.paid)
            .fold((0, 0), |(sum, n), p| (sum + p, n + 1))
    }

    /// Whether the run is over, and how.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        if self.open == 0 {
            return Outcome::Finished;
        }
        let idle = self.active == 0
            && self.reserved == 0
            && self.ready.is_empty()
            && self.unsettled.is_empty()
            && self.dirty.is_empty()
            && self.tasks.iter().all(|s| !s.busy);
        if idle && self.all_blocked() {
            Outcome::Stuck
        } else {
            Outcome::Running
        }
    }

    /// Whether every open task waits on something that will never happen: a dependency that
    /// ended without completing, or a payment that failed.
    fn all_blocked(&self) -> bool {
        let Ok(order) = petgraph::algo::toposort(&self.festival.graph, None) else {
            return false;
        };
        let mut blocked = vec![false; self.tasks.len()];
        for node in order {
            let t = node.index();
            let m = self.machine(t);
            let s = &self.tasks[t];
            blocked[t] = if s.state == m.initial {
                self.festival.dependencies(t).into_iter().any(|d| {
                    let dm = self.machine(d);
                    let ds = &self.tasks[d];
                    (dm.terminal[ds.state] && !dm.done[ds.state]) || blocked[d]
                })
            } else {
                s.payment_error.is_some()
            };
        }
        (0..self.tasks.len()).all(|t| blocked[t] || self.machine(t).terminal[self.tasks[t].state])
    }
}

pub(super) fn reasons(verdicts: &Json) -> Vec<String> {
    verdicts
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("reasons").and_then(Json::as_array))
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_string))
        .collect()
}

/// What an agent should do next for a task it holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Say it started (`start`).
    Start,
    /// Do the work and send the result (`submit`).
    Submit,
}

/// One piece of work for an agent, as its own replica of the log tells it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Work {
    pub task: String,
    pub attempt: u32,
    pub state: String,
    /// When the task entered this state: together with the task it names this piece of work.
    pub entered: super::Nanos,
    pub action: Action,
    /// For [`Action::Start`]: saying it started takes the task straight (no guard, approval or
    /// gate on the way) into a state where the agent submits, so it may begin the work at once;
    /// a completed result that says it begins the work (`started`) is its start too, so work
    /// finished before its start went out needs no start.
    pub works_on_start: bool,
}

impl Engine {
    /// The work waiting for `agent`: its tasks in a state where it may start or submit.
    #[must_use]
    pub fn work_for(&self, agent: &str) -> Vec<Work> {
        let Some(&a) = self.agent_index.get(agent) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for &t in &self.held[a] {
            let s = &self.tasks[t];
            if s.agent != Some(a) {
                continue;
            }
            let m = self.machine(t);
            let Some(action) = m.action[s.state].clone() else {
                continue;
            };
            out.push(Work {
                task: self.task_id(t).to_string(),
                attempt: s.attempt,
                state: m.states[s.state].clone(),
                entered: s.entered,
                works_on_start: m.works_on_start[s.state],
                action,
            });
        }
        out
    }

    /// Whether `agent` holds a task whose state expects its heartbeats.
    #[must_use]
    pub fn expects_heartbeat(&self, agent: &str) -> bool {
        let Some(&a) = self.agent_index.get(agent) else {
            return false;
        };
        self.held[a].iter().any(|&t| {
            let s = &self.tasks[t];
            s.agent == Some(a) && self.machine(t).watched[s.state]
        })
    }
}

#[cfg(test)]
impl Engine {
    /// Checks the counters and indexes kept as tasks move against a scan of every task.
    pub(super) fn assert_indexes(&self) {
        let mut in_state: Vec<Vec<usize>> = self.machines.iter().map(|m| vec![0; m.states.len()]).collect();
        let mut held = vec![std::collections::BTreeSet::new(); self.agents.len()];
        for (t, s) in self.tasks.iter().enumerate() {
            let lifecycle = self.festival.task_lifecycle[t];
            in_state[lifecycle][s.state] += 1;
            if let Some(a) = s.agent.filter(|_| self.agent_acts[lifecycle][s.state]) {
                held[a].insert(t);
            }
        }
        let open = (0..self.tasks.len())
            .filter(|&t| !self.machine(t).terminal[self.tasks[t].state])
            .count();
        assert_eq!(self.in_state, in_state, "tasks per state");
        assert_eq!(self.held, held, "tasks each agent holds");
        assert_eq!(self.open, open, "open tasks");
    }
}

impl Engine {
    /// Who may answer an approval: those it names, or every approver of the workflow.
    pub(super) fn named_approvers(&self, approval: &crate::spec::Approval) -> Vec<String> {
        if approval.approvers.is_empty() {
            self.festival.approvers.iter().map(|a| a.id.value.clone()).collect()
        } else {
            approval.approvers.iter().map(|a| a.value.clone()).collect()
        }
    }

    /// When task `t` entered its current state.
    #[must_use]
    pub fn entered(&self, t: usize) -> super::Nanos {
        self.tasks[t].entered
    }

    /// Who may still approve task `t` in its current state: empty when it waits for no approval.
    #[must_use]
    pub fn approvers_for(&self, t: usize) -> Vec<String> {
        let Duty::Approve(edge) = self.machine(t).duty[self.tasks[t].state] else {
            return Vec::new();
        };
        let Some(approval) = &self.machine(t).edges[edge].approval else {
            return Vec::new();
        };
        self.named_approvers(approval)
            .into_iter()
            .filter(|a| !self.tasks[t].approvals.contains(a))
            .collect()
    }
}
