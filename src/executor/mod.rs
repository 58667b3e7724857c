//! The executor: the tokio loop that joins the engine and a ledger.
//!
//! It reads the festival's log in consensus order and folds it into the engine; publishes the
//! engine's decisions to the task topic as signed messages before acting on them; runs gates;
//! executes transfers only for payment intents already in the log; keeps a tick scheduled on
//! the ledger's schedule service so that timeouts fire at consensus times a replay sees too.
//! On cancellation it finishes the step in hand and returns. State is always the fold of the log.

mod act;
pub mod log;
#[cfg(feature = "hedera")]
pub mod network;
pub mod setup;
pub mod snapshot;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

pub use act::{assignment, memo, transfer_memo};
pub use log::{LogMark, LogReader, Wiring, fold, fold_all};
pub use snapshot::Snapshots;

use crate::check::Festival;
use crate::engine::{Engine, Outcome};
use crate::gates::{Gate, GateEngine};
use crate::ledger::{ConsensusTime, Ledger, LedgerError, Receipt, ScheduledOp, TxId};
use crate::wire::{self, Body, Envelope, SigningKey};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("keys: {0}")]
    Keys(#[source] wire::WireError),
    #[error("setup: {0}")]
    Setup(String),
    #[error("task `{task}`: {operation} failed: {reason}")]
    Task {
        task: String,
        operation: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

/// How a run goes.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seconds between scheduled ticks.
    pub tick: Duration,
    /// Stop when the run is over (finished or stuck); otherwise keep following the log.
    pub stop_when_done: bool,
    /// How long, in all, a payment asks again while the network does not answer (dropped
    /// calls, nodes that stay busy) before the run ends with the error; the intent stays in the
    /// log and the next run settles it.
    pub network_patience: Duration,
    /// Write the last snapshot when the run ends; otherwise the caller writes it with
    /// [`Coordinator::last_snapshot_beside`].
    pub last_snapshot: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
            stop_when_done: true,
            network_patience: Duration::from_secs(120),
            last_snapshot: true,
        }
    }
}

/// What a run did, for the final table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub outcome: Outcome,
    pub messages: u64,
    pub transfers: u64,
    pub published: u64,
}

/// The coordinator: one engine, one ledger, one festival.
pub struct Coordinator<L: Ledger> {
    ledger: Arc<L>,
    festival: Arc<Festival>,
    wiring: Wiring,
    key: SigningKey,
    engine: Engine,
    reader: LogReader,
    gates: GateEngine,
    loaded_gates: HashMap<String, Gate>,
    published: u64,
    /// Messages published this step and not yet signed and submitted.
    outbox: Vec<(Envelope, Body)>,
    /// Payment intents this value published and whose transfer it has not submitted yet: no
    /// ledger can have a receipt for them, so none is asked for (on Hedera the question takes
    /// seconds to answer that there is none).
    fresh_intents: HashSet<TxId>,
    /// The answers to this step's fresh transfers, submitted together before it acts on them
    /// one by one ([`Self::submit_together`]).
    submitted: HashMap<TxId, Result<Receipt, LedgerError>>,
    transfers_made: u64,
    next_tick: Option<ConsensusTime>,
    /// When, by this process's clock, [`Self::next_tick`] is due: the ledger's clock is asked
    /// only from then on, not at every step.
    tick_due: Option<Instant>,
    /// Where snapshots of the engine go, when this coordinator keeps them.
    snapshots: Option<Snapshots>,
    /// What became of the last snapshot at the start of the run, for the user.
    snapshot_note: Option<String>,
    /// The run's cancellation and [`Options::network_patience`], for the waits inside a step.
    stop: CancellationToken,
    network_patience: Duration,
}

impl<L: Ledger> Coordinator<L> {
    pub fn new(ledger: Arc<L>, engine: Engine, wiring: Wiring, key: SigningKey) -> Self {
        let festival = engine.festival_shared();
        let reader = LogReader::new(&wiring);
        Self {
            ledger,
            festival,
            wiring,
            key,
            engine,
            reader,
            gates: GateEngine::default(),
            loaded_gates: HashMap::new(),
            published: 0,
            outbox: Vec::new(),
            fresh_intents: HashSet::new(),
            submitted: HashMap::new(),
            transfers_made: 0,
            next_tick: None,
            tick_due: None,
            snapshots: None,
            snapshot_note: None,
            stop: CancellationToken::new(),
            network_patience: Options::default().network_patience,
        }
    }

    /// Keeps snapshots of the engine in `snapshots`: the run starts from the last one that
    /// matches the log and writes one every `snapshots.every` messages and when it stops.
    #[must_use]
    pub fn with_snapshots(mut self, snapshots: Snapshots) -> Self {
        self.reader = LogReader::hashing(&self.wiring);
        self.snapshots = Some(snapshots);
        self
    }

    /// Whether the run took up a snapshot, or why not, once it started.
    #[must_use]
    pub fn snapshot_note(&self) -> Option<&str> {
        self.snapshot_note.as_deref()
    }

    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    #[must_use]
    pub fn into_engine(self) -> Engine {
        self.engine
    }

    /// Reads everything in the log so far and folds it.
    pub async fn catch_up(&mut self) -> Result<usize, RunError> {
        let messages = self.reader.poll(self.ledger.as_ref()).await?;
        fold_all(&mut self.engine, &self.wiring, &messages);
        Ok(messages.len())
    }

    /// Runs until the festival is over or `cancel` fires; `progress` sees the engine after every
    /// step.
    pub async fn run(
        &mut self,
        options: &Options,
        cancel: &CancellationToken,
        progress: &mut dyn FnMut(&Engine),
    ) -> Result<Summary, RunError> {
        self.stop = cancel.clone();
        self.network_patience = options.network_patience;
        self.resume().await?;
        self.catch_up().await?;
        self.engine.forget_in_flight();
        loop {
            let commands = self.engine.decide();
            let acted = !commands.is_empty();
            self.submit_together(&commands).await;
            // What was decided before a failing command still goes to the log.
            let mut step = Ok(());
            for command in commands {
                step = self.act(command).await;
                if step.is_err() {
                    break;
                }
            }
            self.flush().await?;
            step?;
            self.keep_ticking(options.tick).await?;
            self.snapshot(false);
            progress(&self.engine);
            if cancel.is_cancelled() {
                break;
            }
            if !acted && options.stop_when_done && self.engine.outcome() != Outcome::Running {
                break;
            }
            if self.catch_up().await? == 0 && !acted {
                self.reader.wait(self.ledger.as_ref(), options.tick, cancel).await;
            }
        }
        if options.last_snapshot {
            self.snapshot(true);
        }
        Ok(Summary {
            outcome: self.engine.outcome(),
            messages: self.engine.applied(),
            transfers: self.transfers_made,
            published: self.published,
        })
    }

    /// Keeps one tick scheduled ahead on the ledger's schedule service.
    async fn keep_ticking(&mut self, every: Duration) -> Result<(), RunError> {
        if self.tick_due.is_some_and(|due| Instant::now() < due) {
            return Ok(());
        }
        let now = self.ledger.now().await?;
        let asked = Instant::now();
        if let Some(next) = self.next_tick.filter(|&t| t > now) {
            let ahead = u64::try_from(next.0.saturating_sub(now.0)).unwrap_or(0);
            self.tick_due = Some(asked + Duration::from_nanos(ahead));
            return Ok(());
        }
        let at = ConsensusTime(
            now.0
                .saturating_add(i64::try_from(every.as_nanos()).unwrap_or(i64::MAX)),
        );
        let payload = self.signed(&Body::Tick);
        let op = ScheduledOp::Submit {
            topic: self.wiring.tasks_topic.clone(),
            payload,
        };
        let memo = format!("tick:{}:{}", self.wiring.festival, at.0 / 1_000_000_000);
        match self.ledger.schedule(&op, at, &memo).await {
            Ok(_) => {
                self.next_tick = Some(at);
                self.tick_due = Some(asked + every);
            }
            // The tick's time passed before the network reached consensus on it (retries on a
            // busy network): nothing is lost, the next step schedules another.
            Err(LedgerError::Refused { status, .. }) if status.starts_with("SCHEDULE_EXPIRATION_TIME") => {
                tracing::warn!(%status, "a tick came too late to schedule; scheduling another");
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    fn envelope(&mut self, body: &Body) -> Envelope {
        self.published += 1;
        Envelope::new(body.kind(), &self.wiring.festival, "coordinator", self.published, body)
    }

    fn signed(&mut self, body: &Body) -> Vec<u8> {
        let mut envelope = self.envelope(body);
        wire::seal(&mut envelope, &self.key)
    }

    /// A message for the task topic; it is signed and goes out with the step's others at
    /// [`Self::flush`].
    fn publish(&mut self, body: Body) {
        let envelope = self.envelope(&body);
        self.outbox.push((envelope, body));
    }

    /// Signs the messages published since the last flush (under one signature where the ledger
    /// takes batches) and submits them, in order, at once.
    async fn flush(&mut self) -> Result<(), RunError> {
        if self.outbox.is_empty() {
            return Ok(());
        }
        let outbox = std::mem::take(&mut self.outbox);
        let payloads = wire::seal_sent(outbox, &self.key, self.ledger.batch_signatures());
        self.ledger.submit_all(&self.wiring.tasks_topic, &payloads).await?;
        Ok(())
    }

    fn task(&self, id: &str) -> Result<usize, RunError> {
        self.festival.index.get(id).copied().ok_or_else(|| RunError::Task {
            task: id.to_string(),
            operation: "lookup",
            reason: "not in the festival".into(),
        })
    }
}
