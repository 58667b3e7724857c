//! The engine's folded state as data ([`Snapshot`]), so that a restart can take up a long log
//! where a snapshot of it left off instead of folding it from the start.
//!
//! A snapshot holds what folding the log built: each task's and agent's state, the ids seen, the
//! refusals, the intents, the timers and the sets of tasks to look at. What follows from the
//! festival (lifecycles, rewards, indexes) is built again from it, and the counters that follow
//! from the tasks' states (tasks per state, open and active tasks, each agent's load and the
//! tasks it acts on) are counted again. [`Engine::restore`] checks every index a snapshot
//! carries against the festival, so that a damaged snapshot is refused rather than trusted;
//! whether it is the fold of the log it claims to be is for the caller to check (the executor
//! compares a hash of the log's messages).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::sync::Arc;

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use super::event::{PaymentOrder, Rejection};
use super::index::PackedIds;
use super::state::{Intent, TaskSet, TaskState};
use super::{Config, Deadline, Engine, EngineError, IdSet, Nanos};
use crate::check::Festival;

/// The folded state of an engine; see the module's documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    held_payments: Vec<(Nanos, PaymentOrder)>,
    tasks: Vec<TaskState>,
    /// Per agent: assignments reserved and the last heartbeat.
    agents: Vec<(usize, Nanos)>,
    /// Message ids seen.
    seen: PackedIds,
    rejections: Vec<Rejection>,
    intents: Vec<Intent>,
    now: Nanos,
    last_valid_start: Nanos,
    dirty: Vec<usize>,
    ready: Vec<usize>,
    deadlines: Vec<Deadline>,
    unsettled: Vec<usize>,
    reserved: usize,
    applied: u64,
}

/// Why a snapshot could not be taken up.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the snapshot does not fit the festival: {0}")]
    Mismatch(String),
}

/// A fingerprint of what a fold depends on besides the log: the festival as compiled, the
/// engine's settings and this build of baton. A snapshot is taken up only under the same one.
///
/// It is XXH3-128 (32 hex digits), not a cryptographic hash: it tells a snapshot of another plan
/// from one of this plan, and whoever could forge one could write the snapshot itself.
#[must_use]
pub fn fingerprint(festival: &Festival, config: &Config) -> String {
    let mut into = HashedBlocks::new(std::io::sink());
    // Every field but the id-to-index map, whose order varies from one process to the next,
    // formatted straight into the hash.
    let f = festival;
    let _ = write!(
        into,
        "{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        env!("CARGO_PKG_VERSION"),
        f.id,
        f.tasks,
        f.agents,
        f.approvers,
        f.payment,
        f.topics,
        f.max_parallel,
        f.variables,
        f.lifecycles,
        f.task_lifecycle,
        f.gate_files,
        config
    );
    into.finish()
        .map_or_else(|_| String::new(), |(digest, _)| format!("{digest:032x}"))
}

/// Bytes gathered into blocks, each put into an XXH3-128 hash and handed on to `sink` as it
/// fills: `Debug` writes a festival, and `serde_json` a snapshot, in pieces of a few bytes each,
/// which the hash and a file take faster in blocks.
pub struct HashedBlocks<W> {
    hash: Xxh3,
    pending: Vec<u8>,
    sink: W,
}

impl<W: std::io::Write> HashedBlocks<W> {
    /// Bytes gathered before they go on.
    const BLOCK: usize = 64 * 1024;

    pub fn new(sink: W) -> HashedBlocks<W> {
        HashedBlocks {
            hash: Xxh3::new(),
            pending: Vec::with_capacity(Self::BLOCK),
            sink,
        }
    }

    /// The hash of every byte written, and the sink, which has them all.
    ///
    /// # Errors
    /// The sink failed to take the last block.
    pub fn finish(mut self) -> std::io::Result<(u128, W)> {
        self.pass()?;
        Ok((self.hash.digest128(), self.sink))
    }

    fn pass(&mut self) -> std::io::Result<()> {
        self.hash.update(&self.pending);
        self.sink.write_all(&self.pending)?;
        self.pending.clear();
        Ok(())
    }
}

impl<W: std::io::Write> std::io::Write for HashedBlocks<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.pending.len() + bytes.len() > Self::BLOCK {
            self.pass()?;
        }
        if bytes.len() > Self::BLOCK {
            self.hash.update(bytes);
            self.sink.write_all(bytes)?;
        } else {
            self.pending.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    /// Blocks go on as they fill; what is gathered goes on at [`HashedBlocks::finish`].
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: std::io::Write> std::fmt::Write for HashedBlocks<W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        std::io::Write::write_all(self, s.as_bytes()).map_err(|_| std::fmt::Error)
    }
}

/// The engine's folded state as [`Snapshot`] writes it, borrowed from the engine instead of
/// copied out of it: its JSON is a [`Snapshot`]'s, field for field.
#[derive(Serialize)]
pub struct SnapshotView<'a> {
    held_payments: &'a [(Nanos, PaymentOrder)],
    tasks: &'a [TaskState],
    agents: Vec<(usize, Nanos)>,
    seen: PackedIds,
    rejections: &'a [Rejection],
    intents: &'a [Intent],
    now: Nanos,
    last_valid_start: Nanos,
    dirty: &'a [usize],
    ready: Vec<usize>,
    deadlines: Vec<Deadline>,
    unsettled: &'a [usize],
    reserved: usize,
    applied: u64,
}

impl Engine {
    /// The engine's folded state.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        let view = self.snapshot_view();
        Snapshot {
            held_payments: view.held_payments.to_vec(),
            tasks: view.tasks.to_vec(),
            agents: view.agents,
            seen: view.seen,
            rejections: view.rejections.to_vec(),
            intents: view.intents.to_vec(),
            now: view.now,
            last_valid_start: view.last_valid_start,
            dirty: view.dirty.to_vec(),
            ready: view.ready,
            deadlines: view.deadlines,
            unsettled: view.unsettled.to_vec(),
            reserved: view.reserved,
            applied: view.applied,
        }
    }

    /// The engine's folded state to write, as [`Engine::snapshot`] holds it.
    #[must_use]
    pub fn snapshot_view(&self) -> SnapshotView<'_> {
        // A timer set in a state its task has left never fires (see `due_deadlines`): it is
        // left out, so that a finished festival's snapshot holds none.
        let mut deadlines: Vec<Deadline> = self
            .deadlines
            .iter()
            .map(|d| d.0)
            .filter(|&(_, t, entered, _)| self.tasks.get(t).is_some_and(|s| s.entered == entered))
            .collect();
        deadlines.sort_unstable();
        deadlines.dedup();
        SnapshotView {
            held_payments: &self.held_payments,
            tasks: &self.tasks,
            agents: self.agents.iter().map(|a| (a.reserved, a.last_heartbeat)).collect(),
            seen: self.seen.packed(),
            rejections: &self.rejections,
            intents: &self.intents,
            now: self.now,
            last_valid_start: self.last_valid_start,
            dirty: self.dirty.members(),
            ready: self.ready.iter().copied().collect(),
            deadlines,
            unsettled: &self.unsettled,
            reserved: self.reserved,
            applied: self.applied,
        }
    }

    /// An engine for `festival` in the state `snapshot` holds, as if the log it was taken of had
    /// been folded into [`Engine::new`].
    ///
    /// # Errors
    /// [`SnapshotError::Mismatch`] when the snapshot names a task, agent, state or intent the
    /// festival does not have.
    pub fn restore(festival: Arc<Festival>, config: &Config, snapshot: Snapshot) -> Result<Engine, SnapshotError> {
        let mut engine = Engine::new(festival, config)?;
        engine.fits(&snapshot).map_err(SnapshotError::Mismatch)?;
        let n = engine.tasks.len();
        engine.held_payments = snapshot.held_payments;
        engine.tasks = snapshot.tasks;
        for (agent, (reserved, last_heartbeat)) in engine.agents.iter_mut().zip(snapshot.agents) {
            agent.reserved = reserved;
            agent.last_heartbeat = last_heartbeat;
        }
        engine.seen = IdSet::from_packed(&snapshot.seen).map_err(SnapshotError::Mismatch)?;
        engine.rejections = snapshot.rejections;
        engine.intent_index = snapshot
            .intents
            .iter()
            .enumerate()
            .map(|(i, intent)| (intent.tx.clone(), i))
            .collect();
        engine.intents = snapshot.intents;
        engine.now = snapshot.now;
        engine.last_valid_start = snapshot.last_valid_start;
        engine.dirty = TaskSet::of(n, &snapshot.dirty);
        engine.ready = snapshot.ready.into_iter().collect();
        engine.deadlines = snapshot.deadlines.into_iter().map(Reverse).collect::<BinaryHeap<_>>();
        engine.unsettled = snapshot.unsettled;
        engine.reserved = snapshot.reserved;
        engine.applied = snapshot.applied;
        engine.recount();
        Ok(engine)
    }

    /// Counts again what follows from the tasks' states: tasks per state, open and active tasks,
    /// each agent's load and the tasks it acts on.
    fn recount(&mut self) {
        let (in_state, open) = super::count_states(&self.machines, &self.festival.task_lifecycle, &self.tasks);
        self.in_state = in_state;
        self.open = open;
        self.held = vec![BTreeSet::new(); self.agents.len()];
        for agent in &mut self.agents {
            agent.load = 0;
        }
        self.active = 0;
        for t in 0..self.tasks.len() {
            self.hold(t, true);
        }
    }
}

/// Checks that a snapshot only names what the festival has.
impl Engine {
    fn fits(&self, s: &Snapshot) -> Result<(), String> {
        let (tasks, agents, intents) = (self.tasks.len(), self.agents.len(), s.intents.len());
        let count = |what: &str, found: usize, wanted: usize| {
            if found == wanted {
                Ok(())
            } else {
                Err(format!("{found} {what}, the festival has {wanted}"))
            }
        };
        count("tasks", s.tasks.len(), tasks)?;
        count("agents", s.agents.len(), agents)?;
        for (t, task) in s.tasks.iter().enumerate() {
            let states = self.machine(t).states.len();
            let bad_state = task.state >= states || task.visited.iter().any(|&v| v >= states);
            let bad_agent = task.agent.is_some_and(|a| a >= agents) || task.avoid.is_some_and(|a| a >= agents);
            if bad_state || bad_agent || task.intent.is_some_and(|i| i >= intents) {
                return Err(format!(
                    "task `{}` names a state, agent or intent it cannot",
                    self.task_id(t)
                ));
            }
        }
        below("a task to look at", s.dirty.iter().copied(), tasks)?;
        below("a ready task", s.ready.iter().copied(), tasks)?;
        below("a timer's task", s.deadlines.iter().map(|d| d.1), tasks)?;
        below("an unsettled intent", s.unsettled.iter().copied(), intents)?;
        for intent in &s.intents {
            below("an intent's task", intent.payments.iter().map(|p| p.0), tasks)?;
            below("an intent's agent", intent.payments.iter().map(|p| p.1), agents)?;
        }
        Ok(())
    }
}

/// An error naming the first of `items` that is not below `limit`.
fn below(what: &str, mut items: impl Iterator<Item = usize>, limit: usize) -> Result<(), String> {
    match items.find(|&i| i >= limit) {
        Some(i) => Err(format!("{what} {i} is out of range (below {limit})")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::HashedBlocks;

    /// Text written in pieces of every size, some longer than a block, hashes and arrives as
    /// the whole text does.
    #[test]
    fn text_written_in_pieces_hashes_and_arrives_as_the_whole_text() {
        let pieces: Vec<String> = (0..400)
            .map(|n: usize| char::from(b'a' + (n % 26) as u8).to_string().repeat((n * 997) % 70_000))
            .collect();
        let mut into = HashedBlocks::new(Vec::new());
        for piece in &pieces {
            write!(into, "{piece}").expect("hashing does not fail");
        }
        let whole = pieces.concat();
        let (digest, written) = into.finish().expect("a vector takes every block");
        assert_eq!(digest, xxhash_rust::xxh3::xxh3_128(whole.as_bytes()));
        assert!(written == whole.as_bytes(), "the sink has every byte in order");
    }
}
