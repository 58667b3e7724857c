//! Reading the festival's log: both topics merged in consensus order, each message checked
//! against the schema, its signature and its festival, and turned into an engine event.

use std::collections::HashMap;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, Event, Fact, PaymentOrder, Sender};
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
}

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
        }
    }

    /// The messages that arrived since the last call, in consensus order. Only messages up to a
    /// horizon taken before reading are returned, so a message read later can never be older
    /// than one already returned.
    pub async fn poll<L: Ledger>(&mut self, ledger: &L) -> Result<Vec<(u64, TopicMessage)>, LedgerError> {
        let horizon = ledger.now().await?;
        for (topic, after) in [
            (&self.tasks, &mut self.after_tasks),
            (&self.status, &mut self.after_status),
        ] {
            loop {
                let batch = ledger.messages(topic, *after, 10_000).await?;
                let Some(last) = batch.last() else { break };
                *after = last.sequence;
                self.buffer.extend(batch);
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
        if !self.buffer.is_empty() {
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

/// Folds one message of the log into an engine: decoded, checked and applied, or rejected with
/// its reason.
pub fn fold(engine: &mut Engine, wiring: &Wiring, position: u64, message: &TopicMessage) {
    match to_event(wiring, position, message) {
        Ok(event) => engine.apply(&event),
        Err((id, sender, reason)) => engine.reject(position, message.consensus.0, &id, &sender, reason),
    }
}

type Refused = (String, String, String);

/// A log message as an engine event, or why it is refused: (message id, sender, reason).
pub fn to_event(wiring: &Wiring, position: u64, message: &TopicMessage) -> Result<Event, Refused> {
    let (envelope, body) = wire::decode(&message.payload).map_err(|e| (String::new(), String::new(), e.to_string()))?;
    let refuse = |reason: String| (envelope.id.clone(), envelope.sender.clone(), reason);
    if envelope.festival != wiring.festival {
        return Err(refuse(format!("message for festival `{}`", envelope.festival)));
    }
    let on_topic = if message.topic == wiring.tasks_topic {
        Topic::Tasks
    } else {
        Topic::Status
    };
    if envelope.topic() != on_topic {
        return Err(refuse(format!(
            "`{}` does not belong on this topic",
            envelope.kind.as_str()
        )));
    }
    let sender = sender_of(wiring, &envelope.sender).ok_or_else(|| refuse("unknown sender".into()))?;
    let key = match &sender {
        Sender::Coordinator => Some(&wiring.coordinator_key),
        Sender::Agent(id) => wiring.agent_keys.get(id),
        Sender::Approver(id) => wiring.approver_keys.get(id),
    };
    let key = key.ok_or_else(|| refuse(format!("no public key is known for the {sender}")))?;
    wire::verify(&envelope, key).map_err(|e| refuse(e.to_string()))?;
    let fact = to_fact(wiring, body).map_err(refuse)?;
    Ok(Event {
        consensus: message.consensus.0,
        position,
        id: envelope.id,
        sender,
        fact,
    })
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

fn to_fact(wiring: &Wiring, body: Body) -> Result<Fact, String> {
    Ok(match body {
        Body::TaskAssignment(a) => Fact::Assigned {
            task: a.task_id,
            agent: a.agent_id,
            attempt: a.attempt,
        },
        Body::QualityGate(g) => Fact::Judged {
            task: g.task_id,
            attempt: g.attempt,
            passed: g.passed,
            verdicts: serde_json::to_value(&g.verdicts).unwrap_or_else(|_| json!([])),
        },
        Body::ApprovalRequest(r) => Fact::ApprovalRequested { task: r.task_id },
        Body::PaymentIntent(i) => {
            if i.token_id != wiring.token {
                return Err(format!("intent pays in token `{}`, not `{}`", i.token_id, wiring.token));
            }
            let mut payments = Vec::new();
            for p in i.payments {
                if wiring.accounts.get(&p.agent_id) != Some(&p.account) {
                    return Err(format!("account `{}` is not agent `{}`'s", p.account, p.agent_id));
                }
                payments.push(PaymentOrder {
                    task: p.task_id,
                    agent: p.agent_id,
                    amount: p.amount,
                });
            }
            Fact::PaymentIntended {
                tx: i.tx_id.to_string(),
                payments,
            }
        }
        Body::PaymentSettled(s) => Fact::PaymentSettled {
            task: s.task_id,
            tx: s.tx_id.to_string(),
            status: s.tx_status,
            amount: s.amount,
        },
        Body::TaskEvent(e) => Fact::Decided {
            task: e.task_id,
            event: e.event,
            reason: e.reason,
        },
        Body::Tick => Fact::Tick,
        Body::StatusUpdate(s) => Fact::Status {
            task: s.task_id,
            agent: s.agent_id,
            status: s.new_status,
        },
        Body::TaskResult(r) => Fact::Result {
            task: r.task_id,
            completed: r.status == ResultStatus::Completed,
            report: r.output.unwrap_or_else(|| json!({})),
            error: r.error,
        },
        Body::Heartbeat(h) => Fact::Heartbeat { agent: h.agent_id },
        Body::Approval(a) => Fact::Answered {
            task: a.task_id,
            approve: a.decision == Decision::Approve,
            reason: a.reason,
        },
    })
}
