//! The engine: the pure, deterministic core of a festival run.
//!
//! It holds the compiled festival and the state of every task, folds the log's events into that
//! state (`apply`) and says what should happen next (`decide`): which ready tasks go to which
//! agents, which reports the gates judge, which approvals to ask for, which payments to make,
//! which timeouts and missed heartbeats have passed at the latest consensus time. It follows each
//! task's lifecycle as data.
//!
//! It never performs anything: no tokio, no I/O, no clock, no randomness, no ledger. Replaying
//! the same events gives the same state and the same commands.

mod decide;
mod event;
mod fold;
mod machine;
mod state;
mod transition;
mod view;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

pub use event::{Command, Event, Fact, Nanos, PaymentOrder, Rejection, Sender};
pub use view::{Action, GateView, Outcome, TaskView, Work};

use crate::check::Festival;
use crate::gates::GateEngine;
use machine::Machine;
use state::{AgentState, Intent, TaskState};

/// Payments in one transfer transaction at most.
pub const MAX_PAYMENTS_PER_TRANSFER: usize = 10;

/// Agents credited in one transfer transaction at most: Hedera allows ten token movements and the
/// treasury's debit is one of them. Payments to the same agent share one movement.
pub const MAX_AGENTS_PER_TRANSFER: usize = 9;

/// How the coordinator behaves where the workflow does not say.
#[derive(Debug, Clone)]
pub struct Config {
    /// A task's agent that sends no heartbeat for this long loses the task.
    pub heartbeat_grace_secs: u64,
    /// Tasks worked on at once; the workflow's `max_parallel` when it gives one.
    pub max_parallel: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            heartbeat_grace_secs: 90,
            max_parallel: None,
        }
    }
}

/// Why a festival could not be loaded into an engine (a bug in `check` if it ever happens).
#[derive(Debug, thiserror::Error)]
#[error("lifecycle `{lifecycle}` cannot run: {reason}")]
pub struct EngineError {
    pub lifecycle: String,
    pub reason: String,
}

/// The state of a festival run, as the fold of its log.
pub struct Engine {
    festival: Arc<Festival>,
    machines: Vec<Machine>,
    gates: GateEngine,
    grace: Nanos,
    max_parallel: usize,
    tasks: Vec<TaskState>,
    agents: Vec<AgentState>,
    agent_index: HashMap<String, usize>,
    seen: HashSet<String>,
    rejections: Vec<Rejection>,
    intents: BTreeMap<String, Intent>,
    now: Nanos,
    last_valid_start: Nanos,
    /// Tasks whose duties must be looked at again by `decide`.
    dirty: BTreeSet<usize>,
    /// Tasks in their initial state whose dependencies are complete.
    ready: BTreeSet<usize>,
    /// `(when, task, entered, timeout index or usize::MAX for the heartbeat)`.
    deadlines: BTreeSet<(Nanos, usize, Nanos, usize)>,
    /// Intents in the log with a task not settled yet.
    unsettled: BTreeSet<String>,
    /// Transfers handed to the shell and not settled yet.
    transferring: HashSet<String>,
    /// Tasks held by an agent (neither initial, terminal nor done).
    active: usize,
    /// Assignments decided and not yet in the log.
    reserved: usize,
    applied: u64,
}

impl Engine {
    /// An engine for a compiled festival, every task in its initial state.
    pub fn new(festival: Arc<Festival>, config: &Config) -> Result<Self, EngineError> {
        let gates = GateEngine::default();
        let machines = festival
            .lifecycles
            .iter()
            .map(|l| {
                Machine::new(l, &gates).map_err(|reason| EngineError {
                    lifecycle: l.name.clone(),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tasks = (0..festival.tasks.len())
            .map(|i| TaskState::new(machines[festival.task_lifecycle[i]].initial))
            .collect();
        let agents = festival.agents.iter().map(AgentState::new).collect();
        let agent_index = festival
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.value.clone(), i))
            .collect();
        let max_parallel = config
            .max_parallel
            .or(festival.max_parallel.map(|m| m as usize))
            .unwrap_or(usize::MAX)
            .max(1);
        let grace = i64::try_from(config.heartbeat_grace_secs).unwrap_or(i64::MAX / 2) * 1_000_000_000;
        let dirty = (0..festival.tasks.len()).collect();
        Ok(Self {
            festival,
            machines,
            gates,
            grace,
            max_parallel,
            tasks,
            agents,
            agent_index,
            seen: HashSet::new(),
            rejections: Vec::new(),
            intents: BTreeMap::new(),
            now: 0,
            last_valid_start: 0,
            dirty,
            ready: BTreeSet::new(),
            deadlines: BTreeSet::new(),
            unsettled: BTreeSet::new(),
            transferring: HashSet::new(),
            active: 0,
            reserved: 0,
            applied: 0,
        })
    }

    #[must_use]
    pub fn festival(&self) -> &Festival {
        &self.festival
    }

    /// The festival, shared.
    #[must_use]
    pub fn festival_shared(&self) -> Arc<Festival> {
        Arc::clone(&self.festival)
    }

    /// Folds one event and returns what to do next.
    pub fn step(&mut self, event: &Event) -> Vec<Command> {
        self.apply(event);
        self.decide()
    }

    /// The latest consensus time seen.
    #[must_use]
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// Events folded so far, rejected ones included.
    #[must_use]
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Messages refused so far, oldest first.
    #[must_use]
    pub fn rejections(&self) -> &[Rejection] {
        &self.rejections
    }

    /// Forgets what the shell was asked to do and has not shown up in the log: after a restart,
    /// or when publishing failed, every duty is looked at again.
    pub fn forget_in_flight(&mut self) {
        for t in &mut self.tasks {
            t.busy = false;
        }
        for a in &mut self.agents {
            a.reserved = 0;
        }
        self.reserved = 0;
        self.transferring.clear();
        self.dirty = (0..self.tasks.len()).collect();
    }

    fn machine(&self, task: usize) -> &Machine {
        &self.machines[self.festival.task_lifecycle[task]]
    }

    fn task_id(&self, task: usize) -> &str {
        &self.festival.tasks[task].id.value
    }
}
