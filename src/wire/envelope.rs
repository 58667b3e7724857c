//! The envelope: message types and topics, building, canonical bytes, signing, encoding and
//! decoding.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::batch::Batch;
use super::body::Body;
use super::payload::{PayloadJson, write_string};
use super::{MAX_MESSAGE_BYTES, WireError, decoded, fast, schema};

/// The topic a message travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Coordinator to agents.
    Tasks,
    /// Agents and approvers to the coordinator.
    Status,
}

/// The kind of a message, its `type` on the wire (snake case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    TaskAssignment,
    QualityGate,
    ApprovalRequest,
    PaymentIntent,
    PaymentSettled,
    TaskEvent,
    Tick,
    StatusUpdate,
    TaskResult,
    Heartbeat,
    Approval,
}

impl MessageType {
    /// Every message type, task topic first.
    pub const ALL: [MessageType; 11] = [
        MessageType::TaskAssignment,
        MessageType::QualityGate,
        MessageType::ApprovalRequest,
        MessageType::PaymentIntent,
        MessageType::PaymentSettled,
        MessageType::TaskEvent,
        MessageType::Tick,
        MessageType::StatusUpdate,
        MessageType::TaskResult,
        MessageType::Heartbeat,
        MessageType::Approval,
    ];

    /// The name on the wire, e.g. `task_assignment`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::TaskAssignment => "task_assignment",
            MessageType::QualityGate => "quality_gate",
            MessageType::ApprovalRequest => "approval_request",
            MessageType::PaymentIntent => "payment_intent",
            MessageType::PaymentSettled => "payment_settled",
            MessageType::TaskEvent => "task_event",
            MessageType::Tick => "tick",
            MessageType::StatusUpdate => "status_update",
            MessageType::TaskResult => "task_result",
            MessageType::Heartbeat => "heartbeat",
            MessageType::Approval => "approval",
        }
    }

    /// The topic messages of this type travel on.
    #[must_use]
    pub fn topic(self) -> Topic {
        match self {
            MessageType::TaskAssignment
            | MessageType::QualityGate
            | MessageType::ApprovalRequest
            | MessageType::PaymentIntent
            | MessageType::PaymentSettled
            | MessageType::TaskEvent
            | MessageType::Tick => Topic::Tasks,
            MessageType::StatusUpdate | MessageType::TaskResult | MessageType::Heartbeat | MessageType::Approval => {
                Topic::Status
            }
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MessageType {
    type Err = WireError;
    fn from_str(s: &str) -> Result<Self, WireError> {
        MessageType::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| WireError::Schema {
                reason: format!("/type: `{s}` is not a message type"),
            })
    }
}

/// One message: who sent it, in which festival, in what order, and its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// The message's own id: 32 lowercase hex characters, random.
    pub id: String,
    /// The festival id.
    pub festival: String,
    pub sender: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The sender's own counter of the messages it sent.
    pub sequence_num: u64,
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// The body as JSON: always an object, `{}` when there is none.
    #[serde(default)]
    pub payload: PayloadJson,
    /// 128 lowercase hex characters: ed25519 over [`canonical`], or over the root of the batch
    /// of messages signed together ([`super::sign_all`]); `None` until signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The message's place in the batch its signature covers; `None` for a message signed alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Batch>,
}

impl Envelope {
    /// A new unsigned message with a fresh random id, stamped now. `task_id` comes from the body
    /// when it is about one task; `recipient` is the agent of an assignment. `kind` must be the
    /// body's kind ([`super::body_kind`]); a mismatch makes a message [`decode`] rejects.
    #[must_use]
    pub fn new(kind: MessageType, festival: &str, sender: &str, sequence_num: u64, body: &Body) -> Envelope {
        debug_assert_eq!(kind, body.kind(), "the envelope's type differs from its body's");
        let recipient = match body {
            Body::TaskAssignment(a) => Some(a.agent_id.clone()),
            _ => None,
        };
        Envelope {
            kind,
            id: new_id(),
            festival: festival.to_owned(),
            sender: sender.to_owned(),
            recipient,
            task_id: body.task_id().map(str::to_owned),
            sequence_num,
            timestamp: rfc3339(SystemTime::now()),
            payload: PayloadJson::written(body),
            signature: None,
            batch: None,
        }
    }

    /// The same message with another timestamp (for deterministic tests and replays).
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: &str) -> Envelope {
        timestamp.clone_into(&mut self.timestamp);
        self
    }

    /// The same message with another id.
    #[must_use]
    pub fn with_id(mut self, id: &str) -> Envelope {
        id.clone_into(&mut self.id);
        self
    }

    /// The same message addressed to `recipient`.
    #[must_use]
    pub fn with_recipient(mut self, recipient: &str) -> Envelope {
        self.recipient = Some(recipient.to_owned());
        self
    }

    /// The topic the message travels on.
    #[must_use]
    pub fn topic(&self) -> Topic {
        self.kind.topic()
    }

    /// The payload read as the body of this message's type.
    ///
    /// # Errors
    /// [`WireError::Schema`] when the payload does not fit the type.
    pub fn body(&self) -> Result<Body, WireError> {
        Body::from_payload(self.kind, &self.payload.document())
    }
}

/// 16 random bytes as 32 lowercase hex characters.
fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes[..]);
    super::hex_text(&bytes)
}

/// A time as RFC 3339 in UTC with milliseconds, e.g. `2025-03-01T12:00:00.000Z`. Times before the
/// epoch are written as the epoch. The part up to the seconds is kept per thread for the second
/// it was last written for: a sender stamps many messages within one second.
#[must_use]
pub fn rfc3339(time: SystemTime) -> String {
    thread_local! {
        static SECOND: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    SECOND.with_borrow_mut(|(second, head)| {
        if *second != secs {
            *head = to_the_second(secs);
            *second = secs;
        }
        use std::fmt::Write as _;
        let mut out = String::with_capacity(head.len() + 5);
        out.push_str(head);
        // Writing to a string does not fail.
        let _ = write!(out, ".{millis:03}Z");
        out
    })
}

/// `YYYY-MM-DDTHH:MM:SS` of a count of seconds since the epoch.
fn to_the_second(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX / 2));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Year, month (1..=12) and day (1..=31) of a count of days since 1970-01-01 (proleptic
/// Gregorian calendar; Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, u32::try_from(month).unwrap_or(1), u32::try_from(day).unwrap_or(1))
}

/// The envelope's [`canonical`] bytes and the offset in them where its `signature` field goes
/// (after `sequence_num`), for [`encode_with`].
pub(super) fn canonical_split(envelope: &Envelope) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(512);
    let at = write_envelope(envelope, false, &mut out);
    (out, at)
}

/// What [`encode`] writes for `envelope`, from its canonical bytes and the signature's offset in
/// them ([`canonical_split`]): its `batch` first, its `signature` at the offset, the rest copied.
pub(super) fn encode_with(envelope: &Envelope, canonical: &[u8], at: usize) -> Vec<u8> {
    let (Some(head), Some(tail)) = (canonical.get(1..at), canonical.get(at..)) else {
        return encode(envelope);
    };
    let mut out = Vec::with_capacity(canonical.len() + 512);
    out.push(b'{');
    if let Some(batch) = &envelope.batch {
        write_batch(batch, &mut out);
    }
    out.extend_from_slice(head);
    if let Some(signature) = &envelope.signature {
        write_string("signature", &mut out);
        out.push(b':');
        write_string(signature, &mut out);
        out.push(b',');
    }
    out.extend_from_slice(tail);
    out
}

fn write_batch(batch: &Batch, out: &mut Vec<u8>) {
    out.extend_from_slice(b"\"batch\":{\"index\":");
    write_number(batch.index, out);
    out.extend_from_slice(b",\"path\":");
    write_string(&batch.path, out);
    out.extend_from_slice(b",\"size\":");
    write_number(batch.size, out);
    out.extend_from_slice(b"},");
}

/// Writes a number in decimal, as JSON does.
fn write_number(n: impl Into<u64>, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(n.into()).as_bytes());
}

/// Writes the envelope as JSON with its keys sorted by their bytes (`batch`, `festival`, `id`,
/// `payload`, `recipient`, `sender`, `sequence_num`, `signature`, `task_id`, `timestamp`, `type`),
/// with or without `signature` and `batch`, straight from its fields: what a JSON object of it
/// written with sorted keys would be, without building that object. Returns the offset at
/// which `signature` is (or would be) written.
fn write_envelope(envelope: &Envelope, with_signature: bool, out: &mut Vec<u8>) -> usize {
    out.push(b'{');
    if with_signature && let Some(batch) = &envelope.batch {
        write_batch(batch, out);
    }
    let field = |out: &mut Vec<u8>, key: &str, text: &str| {
        write_string(key, out);
        out.push(b':');
        write_string(text, out);
        out.push(b',');
    };
    field(out, "festival", &envelope.festival);
    field(out, "id", &envelope.id);
    out.extend_from_slice(b"\"payload\":");
    envelope.payload.write_canonical(out);
    out.push(b',');
    if let Some(recipient) = &envelope.recipient {
        field(out, "recipient", recipient);
    }
    field(out, "sender", &envelope.sender);
    out.extend_from_slice(b"\"sequence_num\":");
    write_number(envelope.sequence_num, out);
    out.push(b',');
    let at = out.len();
    if with_signature && let Some(signature) = &envelope.signature {
        field(out, "signature", signature);
    }
    if let Some(task_id) = &envelope.task_id {
        field(out, "task_id", task_id);
    }
    field(out, "timestamp", &envelope.timestamp);
    write_string("type", out);
    out.push(b':');
    write_string(envelope.kind.as_str(), out);
    out.push(b'}');
    at
}

/// The bytes a signature covers: the envelope's JSON without `signature` and `batch`, object keys sorted by
/// their UTF-8 bytes at every depth, no whitespace. Absent optional fields are left out.
#[must_use]
pub fn canonical(envelope: &Envelope) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_envelope(envelope, false, &mut out);
    out
}

/// The message as JSON bytes to submit to a topic (keys sorted, no whitespace).
#[must_use]
pub fn encode(envelope: &Envelope) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    write_envelope(envelope, true, &mut out);
    out
}

/// Reads a message from a topic: size cap, JSON, the schema, then the typed body. The signature
/// is not checked here (that needs the sender's key): call [`super::verify`]. The same bytes decoded
/// lately in this process are not decoded again once it calls [`super::share_decoded`].
///
/// # Errors
/// [`WireError::TooLarge`] over [`MAX_MESSAGE_BYTES`], [`WireError::NotJson`], and
/// [`WireError::Schema`] with the first problem found.
pub fn decode(bytes: &[u8]) -> Result<(Envelope, Body), WireError> {
    decode_shared(bytes).map(Arc::unwrap_or_clone)
}

/// [`decode`], the message shared with the other replicas of this process that read the same
/// bytes ([`decoded`]): reading its fields costs no copy.
///
/// # Errors
/// As [`decode`].
pub fn decode_shared(bytes: &[u8]) -> Result<Arc<(Envelope, Body)>, WireError> {
    decode_with(bytes, || super::seen::digest(bytes))
}

/// [`decode_shared`] for bytes whose [`super::digest`] the reader has taken.
///
/// # Errors
/// As [`decode`].
pub fn decode_digested(bytes: &[u8], digest: &[u8; 32]) -> Result<Arc<(Envelope, Body)>, WireError> {
    decode_with(bytes, || *digest)
}

/// [`decode_shared`] with the bytes' digest taken only when the memo is on.
fn decode_with(bytes: &[u8], digest: impl FnOnce() -> [u8; 32]) -> Result<Arc<(Envelope, Body)>, WireError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge);
    }
    if !decoded::shared() {
        return decode_fresh(bytes).map(Arc::new);
    }
    let key = digest();
    if let Some(message) = decoded::get(&key) {
        return Ok(message);
    }
    let message = Arc::new(decode_fresh(bytes)?);
    decoded::keep(key, &message);
    Ok(message)
}

/// [`decode`] from the bytes alone.
pub(super) fn decode_fresh(bytes: &[u8]) -> Result<(Envelope, Body), WireError> {
    if let Some(message) = fast::decode(bytes) {
        return Ok(message);
    }
    decode_full(bytes)
}

/// [`decode`] the long way, which gives the reason of a rejection.
pub(super) fn decode_full(bytes: &[u8]) -> Result<(Envelope, Body), WireError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|_| WireError::NotJson)?;
    schema::check(&value)?;
    let envelope: Envelope = serde_json::from_value(value).map_err(|e| WireError::Schema {
        reason: format!("envelope: {e}"),
    })?;
    let body = envelope.body()?;
    Ok((envelope, body))
}
