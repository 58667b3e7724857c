//! The typed payloads, one per message type. Unknown fields are ignored on input, so that the
//! original agents' extras (`model_id`, `priority`, `max_tokens`, ...) do not break reading.
//!
//! Every body declares its fields sorted by their names on the wire: serde writes them in that
//! order, so a body written as JSON is already its canonical payload ([`super::payload`]).

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::ser::SerializeMap as _;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::WireError;
use super::envelope::MessageType;
use crate::ledger::{AccountId, TokenId, TxId};

/// A task handed to an agent (task topic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub agent_id: String,
    pub attempt: u32,
    /// An optional shell command for the agent to run, from the task's input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub input: Value,
    pub task_id: String,
    pub task_name: String,
}

/// The outcome of a task's quality gates for one attempt (task topic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    pub attempt: u32,
    pub passed: bool,
    pub task_id: String,
    pub verdicts: Vec<VerdictRecord>,
}

/// One gate's verdict, with the hash of the script that gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub gate: String,
    pub pass: bool,
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    pub script_hash: String,
}

/// A task waits for approvers (task topic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    pub approvers: Vec<String>,
    pub quorum: u32,
    pub state: String,
    pub task_id: String,
}

/// Payments the coordinator is about to make, announced before the transfer (task topic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntent {
    pub payments: Vec<IntendedPayment>,
    pub token_id: TokenId,
    pub tx_id: TxId,
}

/// One payment of an intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntendedPayment {
    pub account: AccountId,
    pub agent_id: String,
    /// Minor units of the token, above zero.
    pub amount: i64,
    pub memo: String,
    pub task_id: String,
}

/// A payment as the ledger settled it (task topic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    pub agent_id: String,
    pub amount: i64,
    pub task_id: String,
    pub token_id: TokenId,
    pub tx_id: TxId,
    /// `SUCCESS` or another Hedera status.
    pub tx_status: String,
}

/// A coordinator decision about a task such as `timeout`, `retry` or `give_up` (task topic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEvent {
    pub event: String,
    pub reason: String,
    pub task_id: String,
}

/// An agent reports a task's new status (status topic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub agent_id: String,
    /// The attempt of the assignment this is about; the coordinator refuses it for any other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub new_status: String,
    pub task_id: String,
}

/// How an agent's attempt at a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    Completed,
    Failed,
}

/// An agent's result for a task (status topic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// The attempt of the assignment this is about; the coordinator refuses it for any other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The agent's report; an object when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Arc<Value>>,
    /// The result begins the work too: the agent finished before it sent its start, which it
    /// then leaves out. Taken only where the start leads straight to the work.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub started: bool,
    pub status: ResultStatus,
    pub task_id: String,
}

/// An agent is alive (status topic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub agent_id: String,
}

/// An approver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

/// An approver's answer to an approval request (status topic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalAnswer {
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub task_id: String,
}

/// A message's typed payload, one variant per [`MessageType`].
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    TaskAssignment(Assignment),
    QualityGate(GateReport),
    ApprovalRequest(ApprovalRequest),
    PaymentIntent(PaymentIntent),
    PaymentSettled(Settlement),
    TaskEvent(TaskEvent),
    Tick,
    StatusUpdate(StatusUpdate),
    TaskResult(TaskResult),
    Heartbeat(Heartbeat),
    Approval(ApprovalAnswer),
}

/// The message type a body travels as.
#[must_use]
pub fn body_kind(body: &Body) -> MessageType {
    match body {
        Body::TaskAssignment(_) => MessageType::TaskAssignment,
        Body::QualityGate(_) => MessageType::QualityGate,
        Body::ApprovalRequest(_) => MessageType::ApprovalRequest,
        Body::PaymentIntent(_) => MessageType::PaymentIntent,
        Body::PaymentSettled(_) => MessageType::PaymentSettled,
        Body::TaskEvent(_) => MessageType::TaskEvent,
        Body::Tick => MessageType::Tick,
        Body::StatusUpdate(_) => MessageType::StatusUpdate,
        Body::TaskResult(_) => MessageType::TaskResult,
        Body::Heartbeat(_) => MessageType::Heartbeat,
        Body::Approval(_) => MessageType::Approval,
    }
}

impl Body {
    /// The message type this body travels as; the same as [`body_kind`].
    #[must_use]
    pub fn kind(&self) -> MessageType {
        body_kind(self)
    }

    /// The one task the message is about, if there is one (an intent may pay for several).
    #[must_use]
    pub fn task_id(&self) -> Option<&str> {
        match self {
            Body::TaskAssignment(b) => Some(&b.task_id),
            Body::QualityGate(b) => Some(&b.task_id),
            Body::ApprovalRequest(b) => Some(&b.task_id),
            Body::PaymentSettled(b) => Some(&b.task_id),
            Body::TaskEvent(b) => Some(&b.task_id),
            Body::StatusUpdate(b) => Some(&b.task_id),
            Body::TaskResult(b) => Some(&b.task_id),
            Body::Approval(b) => Some(&b.task_id),
            Body::PaymentIntent(_) | Body::Tick | Body::Heartbeat(_) => None,
        }
    }

    /// Whether [`Body::from_payload`] of [`Body::to_payload`] is known to give this very body
    /// back: it does for bodies of strings, numbers and JSON values, but for a score that is not
    /// a finite number (written as `null`, read back as none), a report that is `null` (read
    /// back as no report) and a ledger id whose public fields hold one that does not read back.
    /// A field added to a body that does not read back as it was written belongs here too
    /// (`wire::fast_tests` holds every kind to it).
    #[must_use]
    pub fn reads_back(&self) -> bool {
        match self {
            Body::QualityGate(b) => b.verdicts.iter().all(|v| v.score.is_none_or(f64::is_finite)),
            Body::TaskResult(b) => b.output.as_deref().is_none_or(|o| !o.is_null()),
            Body::PaymentIntent(b) => {
                id_reads_back(&b.tx_id)
                    && id_reads_back(&b.token_id)
                    && b.payments.iter().all(|p| id_reads_back(&p.account))
            }
            Body::PaymentSettled(b) => id_reads_back(&b.tx_id) && id_reads_back(&b.token_id),
            Body::TaskAssignment(_)
            | Body::ApprovalRequest(_)
            | Body::TaskEvent(_)
            | Body::Tick
            | Body::StatusUpdate(_)
            | Body::Heartbeat(_)
            | Body::Approval(_) => true,
        }
    }

    /// The body as the envelope's `payload`: always a JSON object (`{}` for a tick).
    #[must_use]
    pub fn to_payload(&self) -> Value {
        let value = serde_json::to_value(Fields(self));
        // Plain structs with string keys always serialize; a non-finite score becomes `null`.
        value.unwrap_or_else(|_| Value::Object(Map::new()))
    }

    /// Reads a payload as the body of a message of type `kind`. Fields the type does not know are
    /// ignored.
    ///
    /// # Errors
    /// [`WireError::Schema`] when a field is missing or of the wrong type.
    pub fn from_payload(kind: MessageType, payload: &Value) -> Result<Body, WireError> {
        Ok(match kind {
            MessageType::TaskAssignment => Body::TaskAssignment(typed(payload)?),
            MessageType::QualityGate => Body::QualityGate(typed(payload)?),
            MessageType::ApprovalRequest => Body::ApprovalRequest(typed(payload)?),
            MessageType::PaymentIntent => Body::PaymentIntent(typed(payload)?),
            MessageType::PaymentSettled => Body::PaymentSettled(typed(payload)?),
            MessageType::TaskEvent => Body::TaskEvent(typed(payload)?),
            MessageType::Tick => Body::Tick,
            MessageType::StatusUpdate => Body::StatusUpdate(typed(payload)?),
            MessageType::TaskResult => Body::TaskResult(typed(payload)?),
            MessageType::Heartbeat => Body::Heartbeat(typed(payload)?),
            MessageType::Approval => Body::Approval(typed(payload)?),
        })
    }
}

/// Whether a ledger id is written as one that reads back as itself (ids are written as their
/// text).
fn id_reads_back<T: std::fmt::Display + std::str::FromStr + PartialEq>(id: &T) -> bool {
    id.to_string().parse::<T>().is_ok_and(|read| read == *id)
}

fn typed<T: DeserializeOwned>(payload: &Value) -> Result<T, WireError> {
    T::deserialize(payload).map_err(|e| WireError::Schema {
        reason: format!("/payload: {e}"),
    })
}

/// A body's own fields, serialized as its payload: the one dispatch that both the payload's
/// document ([`Body::to_payload`]) and its written text ([`super::PayloadJson::written`]) take.
pub(super) struct Fields<'a>(pub(super) &'a Body);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Body::TaskAssignment(b) => b.serialize(serializer),
            Body::QualityGate(b) => b.serialize(serializer),
            Body::ApprovalRequest(b) => b.serialize(serializer),
            Body::PaymentIntent(b) => b.serialize(serializer),
            Body::PaymentSettled(b) => b.serialize(serializer),
            Body::TaskEvent(b) => b.serialize(serializer),
            Body::Tick => serializer.serialize_map(Some(0))?.end(),
            Body::StatusUpdate(b) => b.serialize(serializer),
            Body::TaskResult(b) => b.serialize(serializer),
            Body::Heartbeat(b) => b.serialize(serializer),
            Body::Approval(b) => b.serialize(serializer),
        }
    }
}
