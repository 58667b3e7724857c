//! Following the festival's log: the state the server shows, and the loop that keeps it current.
//!
//! One engine folds the log as `baton status` does, but never stops: the follower polls both
//! topics, folds what arrived, keeps the latest messages (decoded, or with the reason they were
//! rejected) for the events API, and tells every open event stream that the state moved. Before
//! the festival's first run there is no log: the engine shows the plan's starting state and the
//! follower looks for the log until `baton run` creates it. It never writes to the ledger (reading
//! the local ledger lets it run its due scheduled transactions, as in every process that opens
//! it, each exactly once).

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::Options;
use crate::check::Festival;
use crate::engine::{Config, Engine, EngineError, Nanos};
use crate::executor::{LogReader, RunError, Wiring, fold, setup};
use crate::ledger::{LedgerError, LocalLedger, TopicMessage};
use crate::wire;

/// How often the log is read for new messages (sooner after an answer the server published).
const POLL: Duration = Duration::from_millis(200);

/// How often the state directory is looked at before the festival's first run.
const LOOK_FOR_LOG: Duration = Duration::from_millis(500);

/// Messages kept for the events API, the latest ones; older ones are still folded.
const KEPT_EVENTS: usize = 20_000;

/// An answer the server published and the log has not shown yet: the task, when it entered the
/// state the answer is for, and the approver. A second click is refused until the log moves.
pub(super) type Answered = (usize, Nanos, String);

/// What the handlers share with the follower.
pub(super) struct Shared {
    pub(super) festival: Arc<Festival>,
    pub(super) options: Options,
    pub(super) token: String,
    live: RwLock<Live>,
    attached: OnceLock<Attached>,
    changed: watch::Sender<u64>,
    /// Wakes the follower early, after an answer was published.
    pub(super) wake: Notify,
    /// Serialises answers, and remembers those not folded yet.
    pub(super) answering: tokio::sync::Mutex<HashSet<Answered>>,
}

/// The festival as the log tells it so far.
pub(super) struct Live {
    pub(super) engine: Engine,
    /// The position of the last message folded (0: none yet).
    pub(super) position: u64,
    /// Why the log could not be read the last time, if it could not.
    pub(super) error: Option<String>,
    events: VecDeque<Value>,
}

/// The ledger and wiring of a festival that has run.
pub(super) struct Attached {
    pub(super) source: Source,
    pub(super) wiring: Wiring,
}

/// Where the log is read and answers are published.
pub(super) enum Source {
    Local(Arc<LocalLedger>),
    #[cfg(feature = "hedera")]
    Hedera(Box<super::hedera::Network>),
}

impl Attached {
    async fn poll(&self, reader: &mut LogReader) -> Result<Vec<(u64, TopicMessage)>, LedgerError> {
        match &self.source {
            Source::Local(ledger) => reader.poll(ledger.as_ref()).await,
            #[cfg(feature = "hedera")]
            Source::Hedera(network) => reader.poll(&network.reader).await,
        }
    }
}

impl Shared {
    pub(super) fn new(festival: Arc<Festival>, options: Options, token: String) -> Result<Self, EngineError> {
        let engine = Engine::new(festival.clone(), &Config::default())?;
        Ok(Shared {
            festival,
            options,
            token,
            live: RwLock::new(Live {
                engine,
                position: 0,
                error: None,
                events: VecDeque::new(),
            }),
            attached: OnceLock::new(),
            changed: watch::channel(0).0,
            wake: Notify::new(),
            answering: tokio::sync::Mutex::new(HashSet::new()),
        })
    }

    /// The current state, for reading. A handler that panicked while holding the lock left the
    /// state as whole as a fold leaves it, so the lock's poison is ignored.
    pub(super) fn read(&self) -> RwLockReadGuard<'_, Live> {
        self.live.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Live> {
        self.live.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The festival's ledger, once its log was found.
    pub(super) fn attached(&self) -> Option<&Attached> {
        self.attached.get()
    }

    /// A receiver told each time the state moves.
    pub(super) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The kept messages after position `since`, oldest first, and where the kept ones start.
    pub(super) fn events_since(&self, since: u64) -> Value {
        let live = self.read();
        let start = live
            .events
            .partition_point(|e| e["position"].as_u64().is_some_and(|p| p <= since));
        let first = live.events.front().and_then(|e| e["position"].as_u64());
        json!({
            "since": since,
            "position": live.position,
            "first_kept": first,
            "events": live.events.iter().skip(start).collect::<Vec<_>>(),
        })
    }

    /// Folds a batch read from the log and tells the event streams.
    fn apply(&self, wiring: &Wiring, batch: &[(u64, TopicMessage)]) {
        let mut live = self.write();
        for (position, message) in batch {
            let before = live.engine.rejections().len();
            fold(&mut live.engine, wiring, *position, message);
            let rejected = live.engine.rejections().get(before).map(|r| r.reason.clone());
            live.events.push_back(entry(wiring, *position, message, rejected));
            if live.events.len() > KEPT_EVENTS {
                live.events.pop_front();
            }
            live.position = *position;
        }
        live.error = None;
        drop(live);
        self.changed.send_modify(|v| *v += 1);
    }

    /// Records why the log could not be read; said once on stderr, shown by the API.
    fn failed(&self, reason: String) {
        let mut live = self.write();
        if live.error.as_deref() != Some(reason.as_str()) {
            eprintln!("warning: festival `{}`: reading the log: {reason}", self.festival.id);
            live.error = Some(reason);
            drop(live);
            self.changed.send_modify(|v| *v += 1);
        }
    }
}

/// One message of the log for the events API: its position, consensus time and topic, the
/// message as JSON when it is JSON, and the reason when it was rejected.
fn entry(wiring: &Wiring, position: u64, message: &TopicMessage, rejected: Option<String>) -> Value {
    let topic = if message.topic == wiring.tasks_topic {
        "tasks"
    } else {
        "status"
    };
    let decoded = if message.payload.len() <= wire::MAX_MESSAGE_BYTES {
        serde_json::from_slice::<Value>(&message.payload).unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    json!({
        "position": position,
        "consensus_ns": message.consensus.0,
        "topic": topic,
        "sequence": message.sequence,
        "type": decoded.get("type"),
        "sender": decoded.get("sender"),
        "task": decoded.get("task_id"),
        "message": decoded,
        "rejected": rejected,
    })
}

/// Follows the log until `cancel` fires: waits for the festival's first run, then folds what
/// arrives.
pub(super) async fn follow(shared: Arc<Shared>, cancel: CancellationToken) {
    let attached = loop {
        match attach(&shared.options, &shared.festival).await {
            Ok(Some(attached)) => break attached,
            Ok(None) => {}
            Err(e) => shared.failed(e.to_string()),
        }
        tokio::select! {
            () = tokio::time::sleep(LOOK_FOR_LOG) => {}
            () = cancel.cancelled() => return,
        }
    };
    let attached = shared.attached.get_or_init(|| attached);
    let mut reader = LogReader::new(&attached.wiring);
    loop {
        match attached.poll(&mut reader).await {
            Ok(batch) if batch.is_empty() => {}
            Ok(batch) => shared.apply(&attached.wiring, &batch),
            Err(e) => shared.failed(e.to_string()),
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = shared.wake.notified() => {}
            () = cancel.cancelled() => return,
        }
    }
}

/// The festival's ledger and wiring: on the local ledger once `baton run` has set it up in the
/// state directory (nothing is created), on a Hedera network from the accounts in `.env`.
async fn attach(options: &Options, festival: &Festival) -> Result<Option<Attached>, RunError> {
    #[cfg(feature = "hedera")]
    if options.network != "local" {
        let (network, wiring) = super::hedera::connect(options, festival).await?;
        return Ok(Some(Attached {
            source: Source::Hedera(Box::new(network)),
            wiring,
        }));
    }
    let state = options.state.as_path();
    if !state.join("ledger.sqlite3").exists() {
        return Ok(None);
    }
    let ledger = Arc::new(LocalLedger::open(state)?);
    let Some(wiring) = setup::existing(&ledger, state, festival).await? else {
        return Ok(None);
    };
    Ok(Some(Attached {
        source: Source::Local(ledger),
        wiring,
    }))
}
