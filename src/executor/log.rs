//! Reading the festival's log: both topics merged in consensus order, each message checked
//! (schema, festival, topic, sender, signature) and turned into an engine event, or refused with
//! its reason.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, Event, Fact, PaymentOrder, Rejection, Sender};
use crate::ledger::{AccountId, Ledger, LedgerError, TokenId, TopicId, TopicMessage};
use crate::wire::{self, Body, Decision, ResultStatus, Topic, VerifyingKey};

/// Who may write to a festival's log, and with which keys.
#[derive(Debug, Clone)]
pub struct Wiring {
    pub festival: String,
    pub tasks_topic: TopicId,
    pub status_topic: TopicId,
    pub token: TokenId,
    pub treasury: AccountId,
    /// Agent id to the account it is paid to.
    pub accounts: HashMap<String, AccountId>,
    pub coordinator_key: VerifyingKey,
    pub agent_keys: HashMap<String, VerifyingKey>,
    pub approver_keys: HashMap<String, VerifyingKey>,
}

/// Reads both topics of a festival in consensus order.
#[derive(Debug)]
pub struct LogReader {
    tasks: TopicId,
    status: TopicId,
    after_tasks: u64,
    after_status: u64,
    buffer: Vec<TopicMessage>,
    position: u64,
    /// A hash chained over every message returned so far, when asked for ([`LogReader::hashing`]).
    digest: Option<[u8; 16]>,
}

/// How far a reader has read a log: messages returned, and the hash chained over them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogMark {
    pub position: u64,
    /// Hex of the hash chained over each message's topic, sequence number, consensus time and
    /// bytes, in the order returned ([`chain`]).
    pub digest: String,
}

/// Messages a poll asks a topic for at once.
const READ_AT_ONCE: usize = 10_000;

impl LogReader {
    #[must_use]
    pub fn new(wiring: &Wiring) -> Self {
        Self {
            tasks: wiring.tasks_topic.clone(),
            status: wiring.status_topic.clone(),
            after_tasks: 0,
            after_status: 0,
            buffer: Vec::new(),
            position: 0,
            digest: None,
        }
    }

    /// A reader that chains a hash over the messages it returns, for [`LogReader::mark`].
    #[must_use]
    pub fn hashing(wiring: &Wiring) -> Self {
        Self {
            digest: Some([0; 16]),
            ..Self::new(wiring)
        }
    }

    /// How far this reader has read; `None` unless it is [`LogReader::hashing`].
    #[must_use]
    pub fn mark(&self) -> Option<LogMark> {
        self.digest.map(|digest| LogMark {
            position: self.position,
            digest: hex::encode(digest),
        })
    }

    /// Reads the log up to `mark` without returning it, checking that its messages are the ones
    /// `mark` was taken of; the messages read past it are returned, for folding. `None` when the
    /// log is shorter or differs: the reader is then spent, and the log must be read afresh.
    pub async fn resume<L: Ledger>(
        &mut self,
        ledger: &L,
        mark: &LogMark,
    ) -> Result<Option<Vec<(u64, TopicMessage)>>, LedgerError> {
        let mut digest = [0; 16];
        let mut rest = Vec::new();
        while self.position < mark.position {
            let batch = self.poll_unhashed(ledger).await?;
            if batch.is_empty() {
                return Ok(None);
            }
            for (position, message) in batch {
                if position <= mark.position {
                    digest = chain(&digest, &message);
                } else {
                    rest.push((position, message));
                }
            }
        }
        if hex::encode(digest) != mark.digest {
            return Ok(None);
        }
        for (_, message) in &rest {
            digest = chain(&digest, message);
        }
        self.digest = Some(digest);
        Ok(Some(rest))
    }

    /// The messages that arrived since the last call, in consensus order. Only messages up to a
    /// horizon taken before reading are returned, so a message read later can never be older
    /// than one already returned.
    pub async fn poll<L: Ledger>(&mut self, ledger: &L) -> Result<Vec<(u64, TopicMessage)>, LedgerError> {
        let out = self.poll_unhashed(ledger).await?;
        if let Some(digest) = &mut self.digest {
            for (_, message) in &out {
                *digest = chain(digest, message);
            }
        }
        Ok(out)
    }

    async fn poll_unhashed<L: Ledger>(&mut self, ledger: &L) -> Result<Vec<(u64, TopicMessage)>, LedgerError> {
        let (horizon, first) = {
            let topics = [(&self.tasks, self.after_tasks), (&self.status, self.after_status)];
            ledger.now_and_messages(&topics, READ_AT_ONCE).await?
        };
        let places = [
            (&self.tasks, &mut self.after_tasks),
            (&self.status, &mut self.after_status),
        ];
        for ((topic, after), mut batch) in places.into_iter().zip(first) {
            while let Some(last) = batch.last() {
                *after = last.sequence;
                let whole = batch.len() < READ_AT_ONCE;
                self.buffer.extend(batch);
                // Fewer than asked for: the topic had no more when it was read. What reaches it
                // since came after the poll began, past its horizon (the local ledger's consensus
                // times follow its commits; Hedera's horizon lags its mirror's stream), so it
                // waits for the next poll either way.
                if whole {
                    break;
                }
                batch = ledger.messages(topic, *after, READ_AT_ONCE).await?;
            }
        }
        self.buffer.sort_by_key(|m| m.consensus);
        let ready = self.buffer.partition_point(|m| m.consensus <= horizon);
        let out = self
            .buffer
            .drain(..ready)
            .map(|m| {
                self.position += 1;
                (self.position, m)
            })
            .collect();
        Ok(out)
    }

    /// Waits until either topic has a message not read yet, `max` passes, or `cancel` fires.
    pub async fn wait<L: Ledger>(&self, ledger: &L, max: std::time::Duration, cancel: &CancellationToken) {
        if let Some(held) = self.buffer.first() {
            // Read past the last poll's horizon and held back: the next poll gives it once the
            // ledger's clock has reached it, which on the local ledger it has by now.
            if ledger.now().await.is_ok_and(|now| now >= held.consensus) {
                return;
            }
            tokio::time::sleep(max.min(std::time::Duration::from_millis(2))).await;
            return;
        }
        let stop = cancel.child_token();
        tokio::select! {
            _ = ledger.wait_messages(&self.tasks, self.after_tasks, 1, &stop) => {}
            _ = ledger.wait_messages(&self.status, self.after_status, 1, &stop) => {}
            () = tokio::time::sleep(max) => {}
            () = cancel.cancelled() => {}
        }
        stop.cancel();
    }
}

/// The hash chained over the messages before `message`, and `message`: XXH3-128 over the hash
/// before, the message's topic, sequence number, consensus time and bytes.
///
/// It tells a log that is not the one a snapshot was taken of (damaged, cut short, written
/// again, another festival's) from the same log, not a log made to pass for another: whoever can
/// write the state directory can write the snapshot as well. A cryptographic hash here cost a
/// run a SHA-256 of every message it sent, read back by the coordinator, a tenth of its work.
fn chain(before: &[u8; 16], message: &TopicMessage) -> [u8; 16] {
    let mut hash = xxhash_rust::xxh3::Xxh3::new();
    hash.update(before);
    hash.update(&(message.topic.0.len() as u64).to_be_bytes());
    hash.update(message.topic.0.as_bytes());
    hash.update(&message.sequence.to_be_bytes());
    hash.update(&message.consensus.0.to_be_bytes());
    hash.update(&(message.payload.len() as u64).to_be_bytes());
    hash.update(&message.payload);
    hash.digest128().to_be_bytes()
}

/// Batches of at least this many messages are checked on every core (each message's decoding and
/// signature are independent of the others); smaller ones on the caller's thread. A live run's
/// polls bring a step's messages, most of them kept decoded by their sender in this process, for
/// which starting the threads costs more than checking on one; a replay reads thousands at once.
const PARALLEL_FROM: usize = 1024;
/// The cores this process may use, asked once: asking costs a system call and a parse of the
/// process's CPU set, which showed in profiles of polls of a few messages.
static CORES: std::sync::LazyLock<usize> =
    std::sync::LazyLock::new(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
/// Messages checked at a time: bounds the events held before they are folded.
const CHECKED_AT_ONCE: usize = 8192;

/// Folds messages of the log into an engine in their order: each decoded, checked and applied, or
/// rejected with its reason. The checks of a large batch run in parallel; folding stays in order.
pub fn fold_all(engine: &mut Engine, wiring: &Wiring, batch: &[(u64, TopicMessage)]) {
    for part in batch.chunks(CHECKED_AT_ONCE) {
        // Folded where they lie: an event moved out of the vector and into `settle` was two
        // copies of its 152 bytes.
        let events = check_all(wiring, part);
        for ((position, message), event) in part.iter().zip(&events) {
            settle(engine, *position, message, event);
        }
    }
}

/// [`to_event`] for every message of `batch`, in its order.
fn check_all(wiring: &Wiring, batch: &[(u64, TopicMessage)]) -> Vec<Result<Event, Refusal>> {
    let one = |(position, message): &(u64, TopicMessage)| to_event(wiring, *position, message);
    if batch.len() < PARALLEL_FROM || *CORES < 2 {
        return batch.iter().map(one).collect();
    }
    let chunk = batch.len().div_ceil(*CORES);
    std::thread::scope(|scope| {
        let workers: Vec<_> = batch
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// Folds one message of the log into an engine: decoded, checked and applied, or rejected with
/// its reason.
pub fn fold(engine: &mut Engine, wiring: &Wiring, position: u64, message: &TopicMessage) {
    settle(engine, position, message, &to_event(wiring, position, message));
}

/// Applies a checked message, or records why it was refused.
fn settle(engine: &mut Engine, position: u64, message: &TopicMessage, event: &Result<Event, Refusal>) {
    match event {
        Ok(event) => engine.apply(event),
        Err(refusal) => engine.refuse(Rejection {
            position,
            consensus: message.consensus.0,
            id: refusal.id.clone(),
            sender: refusal.sender.clone(),
            task: refusal.task.clone(),
            reason: refusal.reason.clone(),
        }),
    }
}

/// Why a message of the log never became an event. `id`, `sender` and `task` are what the
/// message claims (empty or `None` when it names none): nothing about it was proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub id: String,
    pub sender: String,
    pub task: Option<String>,
    pub reason: String,
}

/// The longest claimed id, sender or task a refusal repeats from a message that did not decode.
const MAX_CLAIM_CHARS: usize = 200;

/// A log message as an engine event, or why it is refused.
///
/// The checks, in order, each with its reason: the bytes decode (size, JSON, the message schema
/// including the type and the payload's fields, see [`wire::decode`]); the message is for this
/// festival; its type travels on the topic it came on; its sender is the coordinator, an agent
/// or an approver of the festival; its signature is that sender's; its body fits the festival
/// (token, accounts). What the message may do at its place in the log (who may send it, whether
/// the task's lifecycle allows it, whether its id was seen before) is the engine's to judge.
pub fn to_event(wiring: &Wiring, position: u64, message: &TopicMessage) -> Result<Event, Refusal> {
    // The replicas of a process hold the same payload: the first to read it (or its sender) keeps
    // the decoded message and its good signature with it for the others.
    let decoded = wire::decode_payload(&message.payload).map_err(|e| claimed(&message.payload, e.to_string()))?;
    let (envelope, body) = &*decoded;
    let sender = admitted(wiring, envelope, &message.topic)
        .and_then(|(sender, key)| {
            wire::verify_read(&message.payload, envelope, key)
                .map(|()| sender)
                .map_err(|e| e.to_string())
        })
        .and_then(|sender| fits(wiring, body).map(|()| sender))
        .map_err(|reason| Refusal {
            id: envelope.id.clone(),
            sender: envelope.sender.clone(),
            task: match body {
                Body::PaymentIntent(i) => i.payments.first().map(|p| p.task_id.clone()),
                other => other.task_id().map(str::to_owned),
            },
            reason,
        })?;
    // Only what the engine reads is copied from the message, which other replicas may share.
    Ok(Event {
        consensus: message.consensus.0,
        position,
        id: envelope.id.clone(),
        sender,
        fact: to_fact(body),
    })
}

/// The sender of a message read on `topic`, and the key its signature must be made with, when
/// the message is for this festival, travels on the topic of its type and names a sender the
/// festival knows.
fn admitted<'w>(
    wiring: &'w Wiring,
    envelope: &wire::Envelope,
    topic: &TopicId,
) -> Result<(Sender, &'w VerifyingKey), String> {
    if envelope.festival != wiring.festival {
        return Err(format!(
            "message for festival `{}`, not `{}`",
            envelope.festival, wiring.festival
        ));
    }
    let on_topic = if *topic == wiring.tasks_topic {
        Topic::Tasks
    } else {
        Topic::Status
    };
    if envelope.topic() != on_topic {
        return Err(format!(
            "`{}` belongs on the {} topic, not the {} topic",
            envelope.kind.as_str(),
            topic_name(envelope.topic()),
            topic_name(on_topic)
        ));
    }
    let sender = sender_of(wiring, &envelope.sender).ok_or_else(|| {
        format!(
            "unknown sender `{}`: not the coordinator, an agent or an approver of festival `{}`",
            envelope.sender, wiring.festival
        )
    })?;
    let key = match &sender {
        Sender::Coordinator => Some(&wiring.coordinator_key),
        Sender::Agent(id) => wiring.agent_keys.get(id),
        Sender::Approver(id) => wiring.approver_keys.get(id),
    };
    let key = key.ok_or_else(|| format!("no public key is known for the {sender}"))?;
    Ok((sender, key))
}

/// A refusal of bytes that did not decode, with the id, sender and task they claim when they
/// are a JSON object that names them, so that a status can still say which message it was.
fn claimed(bytes: &[u8], reason: String) -> Refusal {
    let value = if bytes.len() <= wire::MAX_MESSAGE_BYTES {
        serde_json::from_slice(bytes).unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(|s| s.chars().take(MAX_CLAIM_CHARS).collect::<String>())
    };
    let task = text(value.get("task_id")).or_else(|| text(value.get("payload").and_then(|p| p.get("task_id"))));
    Refusal {
        id: text(value.get("id")).unwrap_or_default(),
        sender: text(value.get("sender")).unwrap_or_default(),
        task,
        reason,
    }
}

fn topic_name(topic: Topic) -> &'static str {
    match topic {
        Topic::Tasks => "task",
        Topic::Status => "status",
    }
}

fn sender_of(wiring: &Wiring, name: &str) -> Option<Sender> {
    if name == "coordinator" {
        Some(Sender::Coordinator)
    } else if wiring.agent_keys.contains_key(name) || wiring.accounts.contains_key(name) {
        Some(Sender::Agent(name.to_string()))
    } else if wiring.approver_keys.contains_key(name) {
        Some(Sender::Approver(name.to_string()))
    } else {
        None
    }
}

/// Whether a body fits the festival: an intent pays in its token, to its agents' accounts.
fn fits(wiring: &Wiring, body: &Body) -> Result<(), String> {
    let Body::PaymentIntent(i) = body else {
        return Ok(());
    };
    if i.token_id != wiring.token {
        return Err(format!("intent pays in token `{}`, not `{}`", i.token_id, wiring.token));
    }
    match i
        .payments
        .iter()
        .find(|p| wiring.accounts.get(&p.agent_id) != Some(&p.account))
    {
        Some(p) => Err(format!("account `{}` is not agent `{}`'s", p.account, p.agent_id)),
        None => Ok(()),
    }
}

fn to_fact(body: &Body) -> Fact {
    match body {
        Body::TaskAssignment(a) => Fact::Assigned {
            task: a.task_id.clone(),
            agent: a.agent_id.clone(),
            attempt: a.attempt,
        },
        Body::QualityGate(g) => Fact::Judged {
            task: g.task_id.clone(),
            attempt: g.attempt,
            passed: g.passed,
            verdicts: serde_json::to_value(&g.verdicts).unwrap_or_else(|_| json!([])),
        },
        Body::ApprovalRequest(r) => Fact::ApprovalRequested {
            task: r.task_id.clone(),
        },
        Body::PaymentIntent(i) => Fact::PaymentIntended {
            tx: i.tx_id.to_string(),
            payments: i
                .payments
                .iter()
                .map(|p| PaymentOrder {
                    task: p.task_id.clone(),
                    agent: p.agent_id.clone(),
                    amount: p.amount,
                })
                .collect(),
        },
        Body::PaymentSettled(s) => Fact::PaymentSettled {
            task: s.task_id.clone(),
            tx: s.tx_id.to_string(),
            status: s.tx_status.clone(),
            amount: s.amount,
        },
        Body::TaskEvent(e) => Fact::Decided {
            task: e.task_id.clone(),
            event: e.event.clone(),
            reason: e.reason.clone(),
        },
        Body::Tick => Fact::Tick,
        Body::StatusUpdate(s) => Fact::Status {
            task: s.task_id.clone(),
            agent: s.agent_id.clone(),
            status: s.new_status.clone(),
            attempt: s.attempt,
        },
        Body::TaskResult(r) => Fact::Result {
            task: r.task_id.clone(),
            completed: r.status == ResultStatus::Completed,
            report: r.output.clone().unwrap_or_else(|| Arc::new(json!({}))),
            error: r.error.clone(),
            attempt: r.attempt,
            started: r.started,
        },
        Body::Heartbeat(h) => Fact::Heartbeat {
            agent: h.agent_id.clone(),
        },
        Body::Approval(a) => Fact::Answered {
            task: a.task_id.clone(),
            approve: a.decision == Decision::Approve,
            reason: a.reason.clone(),
        },
    }
}

#[cfg(test)]
mod tests;
