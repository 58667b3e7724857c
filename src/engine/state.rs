//! The state of each task and agent, as folded from the log.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::event::Nanos;
use crate::spec::Agent;

/// In a snapshot, a field at its default (no agent, no verdict, `false`, an empty list) is left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TaskState {
    pub(crate) state: usize,
    /// The current attempt, from 1; it grows when the task comes back to a state it already
    /// passed through in this attempt (a failed gate, a timeout, a retry, a rejection).
    pub(crate) attempt: u32,
    pub(crate) visited: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) agent: Option<usize>,
    /// An agent that lost this task and should not get it back while another fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) avoid: Option<usize>,
    pub(crate) entered: Nanos,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) report: Option<Arc<Json>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) verdict: Option<Verdict>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) approval_requested: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) approvals: Vec<String>,
    /// The intent the task is in, by index (see `Engine::intents`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) intent: Option<usize>,
    /// The amount paid; the transaction that paid it is the intent's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) paid: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) payment_error: Option<String>,
    /// A command for this task is with the shell and has not come back through the log.
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) busy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Verdict {
    pub(crate) attempt: u32,
    pub(crate) passed: bool,
    pub(crate) verdicts: Json,
}

impl TaskState {
    /// A task in state `initial` of a lifecycle of `states` states.
    pub(crate) fn new(initial: usize, states: usize) -> Self {
        Self {
            state: initial,
            attempt: 1,
            visited: {
                // Room for every state: an attempt visits each at most once.
                let mut visited = Vec::with_capacity(states);
                visited.push(initial);
                visited
            },
            agent: None,
            avoid: None,
            entered: 0,
            report: None,
            verdict: None,
            approval_requested: false,
            approvals: Vec::new(),
            intent: None,
            paid: None,
            payment_error: None,
            busy: false,
            last_reason: None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AgentState {
    pub(crate) capabilities: Vec<String>,
    /// Tasks the agent holds.
    pub(crate) load: usize,
    /// Assignments to it decided and not yet in the log.
    pub(crate) reserved: usize,
    pub(crate) last_heartbeat: Nanos,
}

impl AgentState {
    pub(crate) fn new(agent: &Agent) -> Self {
        Self {
            capabilities: agent.capabilities.iter().map(|c| c.value.clone()).collect(),
            load: 0,
            reserved: 0,
            last_heartbeat: 0,
        }
    }
}

/// A payment intent in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Intent {
    pub(crate) tx: String,
    /// `(task, agent, amount)` of each payment, as checked against the task when folded.
    pub(crate) payments: Vec<(usize, usize, i64)>,
    /// Tasks of the intent whose settlement is in the log.
    pub(crate) settled: usize,
    /// Its transfer was handed to the shell and is not settled yet.
    pub(crate) transferring: bool,
}

/// A set of tasks with constant-time insertion, handed out in ascending order.
#[derive(Debug, Clone)]
pub(crate) struct TaskSet {
    members: Vec<usize>,
    member: Vec<bool>,
}

impl TaskSet {
    /// The tasks of `members`, of `n` tasks (each below `n`).
    pub(crate) fn of(n: usize, members: &[usize]) -> Self {
        let mut set = Self {
            members: Vec::new(),
            member: vec![false; n],
        };
        for &t in members {
            set.insert(t);
        }
        set
    }

    /// Its tasks, in the order they came in.
    pub(crate) fn members(&self) -> &[usize] {
        &self.members
    }

    /// Every task of `n`.
    pub(crate) fn all(n: usize) -> Self {
        Self {
            members: (0..n).collect(),
            member: vec![true; n],
        }
    }

    pub(crate) fn insert(&mut self, t: usize) {
        if !self.member[t] {
            self.member[t] = true;
            self.members.push(t);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Empties the set and returns its tasks in ascending order.
    pub(crate) fn take(&mut self) -> Vec<usize> {
        let mut out = std::mem::take(&mut self.members);
        for &t in &out {
            self.member[t] = false;
        }
        out.sort_unstable();
        out
    }

    /// Gives back the buffer `take` returned, so that the next round does not grow a new one.
    pub(crate) fn recycle(&mut self, mut buffer: Vec<usize>) {
        if self.members.is_empty() {
            buffer.clear();
            self.members = buffer;
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes the field by reference
fn is_false(value: &bool) -> bool {
    !*value
}
