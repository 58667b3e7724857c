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
mod index;
mod machine;
mod pay;
mod snapshot;
mod state;
mod transition;
mod view;

#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::sync::Arc;

pub use event::{Command, Event, Fact, Nanos, PaymentOrder, Rejection, Sender};
pub use snapshot::{HashedBlocks, Snapshot, SnapshotError, SnapshotView, fingerprint};
pub use view::{Action, GateView, Outcome, TaskView, Work};

use crate::check::Festival;
use crate::gates::GateEngine;
use index::{IdSet, StrMap, TaskIndex};
use machine::Machine;
use state::{AgentState, Intent, TaskSet, TaskState};

/// Payments in one transfer transaction at most.
pub const MAX_PAYMENTS_PER_TRANSFER: usize = 10;

/// Agents credited in one transfer transaction at most: Hedera allows ten token movements and the
/// treasury's debit is one of them. Payments to the same agent share one movement.
pub const MAX_AGENTS_PER_TRANSFER: usize = 9;

/// `(when, task, entered, timeout index or usize::MAX for the heartbeat)`.
type Deadline = (Nanos, usize, Nanos, usize);

/// How the coordinator behaves where the workflow does not say.
#[derive(Debug, Clone)]
pub struct Config {
    /// A task's agent that sends no heartbeat for this long loses the task.
    pub heartbeat_grace_secs: u64,
    /// Tasks worked on at once; the workflow's `max_parallel` when it gives one.
    pub max_parallel: Option<usize>,
    /// How long a payment due may wait for others to share its transfer (ten to a transfer);
    /// 0 pays what each decision finds due at once.
    pub payment_window_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            heartbeat_grace_secs: 90,
            max_parallel: None,
            payment_window_secs: 0,
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
    payment_window: Nanos,
    /// Payments due and held for the payment window, with when each became due.
    held_payments: Vec<(Nanos, PaymentOrder)>,
    tasks: Vec<TaskState>,
    agents: Vec<AgentState>,
    agent_index: StrMap<usize>,
    /// Each task's reward in minor units, worked out once.
    rewards: Vec<i64>,
    task_index: TaskIndex,
    seen: IdSet,
    rejections: Vec<Rejection>,
    /// Intents in the log, in log order.
    intents: Vec<Intent>,
    /// Transaction id to intent.
    intent_index: StrMap<usize>,
    now: Nanos,
    last_valid_start: Nanos,
    /// Tasks whose duties must be looked at again by `decide`.
    dirty: TaskSet,
    /// Tasks in their initial state whose dependencies are complete.
    ready: BTreeSet<usize>,
    /// `(when, task, entered, timeout index or usize::MAX for the heartbeat)`, earliest on top.
    /// A min-heap: deadlines are mostly pushed in time order, which costs next to nothing, and
    /// the stale ones (the task moved on) are dropped when they come due.
    deadlines: BinaryHeap<Reverse<Deadline>>,
    /// Intents in the log with a task not settled yet, in order of transaction id.
    unsettled: Vec<usize>,
    /// Tasks held by an agent (neither initial, terminal nor done).
    active: usize,
    /// Per agent, the tasks it holds in a state where it has something to do (start, submit or
    /// send heartbeats), so that an agent's work is found without looking at every task.
    held: Vec<BTreeSet<usize>>,
    /// Per lifecycle and state, whether a task's agent has something to do in it.
    agent_acts: Vec<Vec<bool>>,
    /// Per lifecycle and state, the tasks in it.
    in_state: Vec<Vec<usize>>,
    /// Tasks not in a terminal state.
    open: usize,
    /// Assignments decided and not yet in the log.
    reserved: usize,
    applied: u64,
}

impl Engine {
    /// An engine for a compiled festival, every task in its initial state.
    pub fn new(festival: Arc<Festival>, config: &Config) -> Result<Self, EngineError> {
        let gates = GateEngine::default();
        let machines = machines_of(&festival, &gates)?;
        let tasks: Vec<TaskState> = (0..festival.tasks.len())
            .map(|i| {
                let m = &machines[festival.task_lifecycle[i]];
                TaskState::new(m.initial, m.states.len())
            })
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
        let dirty = TaskSet::all(festival.tasks.len());
        let agent_acts = agent_acts(&machines);
        let (in_state, open) = count_states(&machines, &festival.task_lifecycle, &tasks);
        let held = vec![BTreeSet::new(); festival.agents.len()];
        let task_index = TaskIndex::new(&festival);
        let rewards = transition::rewards(&festival);
        // A task's run logs four messages or more (assigned, started, result, settled, and a
        // verdict where it has gates): room for five spares growing the set step by step.
        let seen = IdSet::with_capacity(festival.tasks.len().saturating_mul(5));
        Ok(Self {
            festival,
            machines,
            gates,
            grace,
            max_parallel,
            payment_window: i64::try_from(config.payment_window_secs)
                .unwrap_or(i64::MAX / 2)
                .saturating_mul(1_000_000_000),
            held_payments: Vec::new(),
            tasks,
            agents,
            agent_index,
            rewards,
            task_index,
            seen,
            rejections: Vec::new(),
            intents: Vec::new(),
            intent_index: StrMap::default(),
            now: 0,
            last_valid_start: 0,
            dirty,
            ready: BTreeSet::new(),
            deadlines: BinaryHeap::new(),
            unsettled: Vec::new(),
            active: 0,
            held,
            agent_acts,
            in_state,
            open,
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
        for intent in &mut self.intents {
            intent.transferring = false;
        }
        self.held_payments.clear();
        self.dirty = TaskSet::all(self.tasks.len());
    }

    /// Where a log folded into a fresh engine stands, as a coordinator starting on it would
    /// judge: it forgets what is in flight and looks at every task's duty again (the commands it
    /// would give are dropped). A freshly folded engine has every task still to look at, so its
    /// [`Engine::outcome`] alone says `Running` where the run that wrote the log ended `Stuck`.
    pub fn replayed_outcome(&mut self) -> Outcome {
        self.forget_in_flight();
        if self.decide().is_empty() {
            self.outcome()
        } else {
            Outcome::Running
        }
    }

    fn machine(&self, task: usize) -> &Machine {
        &self.machines[self.festival.task_lifecycle[task]]
    }

    fn task_id(&self, task: usize) -> &str {
        &self.festival.tasks[task].id.value
    }
}

/// The state machine of each of the festival's lifecycles, in order.
fn machines_of(festival: &Festival, gates: &GateEngine) -> Result<Vec<Machine>, EngineError> {
    festival
        .lifecycles
        .iter()
        .map(|l| {
            Machine::new(l, gates).map_err(|reason| EngineError {
                lifecycle: l.name.clone(),
                reason,
            })
        })
        .collect()
}

/// Per lifecycle and state, whether the task's agent acts there (starts, submits, or is watched
/// for heartbeats).
fn agent_acts(machines: &[Machine]) -> Vec<Vec<bool>> {
    machines
        .iter()
        .map(|m| {
            (0..m.states.len())
                .map(|s| m.has_event(s, "start") || m.has_event(s, "submit") || m.watched[s])
                .collect()
        })
        .collect()
}

/// Tasks per lifecycle and state, and tasks not in a terminal state.
fn count_states(machines: &[Machine], task_lifecycle: &[usize], tasks: &[TaskState]) -> (Vec<Vec<usize>>, usize) {
    let mut in_state: Vec<Vec<usize>> = machines.iter().map(|m| vec![0; m.states.len()]).collect();
    let mut open = 0;
    for (s, &lifecycle) in tasks.iter().zip(task_lifecycle) {
        in_state[lifecycle][s.state] += 1;
        open += usize::from(!machines[lifecycle].terminal[s.state]);
    }
    (in_state, open)
}
