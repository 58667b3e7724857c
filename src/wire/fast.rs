//! Decoding a well-formed message without building the whole document first.
//!
//! [`super::decode`] reads bytes into a JSON document, checks it against the message schema and
//! then reads the envelope and body out of it. For the messages baton itself writes, which are
//! nearly all it reads, most of that work is the document: every envelope field a string in a
//! map, checked by the schema's patterns and its chain of `if`/`then` by type, then moved again
//! into the envelope. Here the envelope's fields are read straight into their places, checked by
//! hand against exactly what the schema asks of them, and only the payload is kept as a document
//! and checked against its own type's schema.
//!
//! This path never decides a rejection: anything it does not accept, for whatever reason (a
//! field missing, a string with an escape, a duplicate key, a number written as `1.0`), goes to
//! the full decode, which gives the answer and the reason. What it accepts is what the full decode
//! accepts, field for field; `fast_tests` holds it to that over every kind of message and many
//! mutations of each.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::batch::Batch;
use super::body::Body;
use super::envelope::{Envelope, MessageType};
use super::payload::PayloadJson;
use super::schema;

/// The envelope as it stands in the bytes. Strings are borrowed, so one with an escape fails to
/// read here and takes the full decode.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    festival: &'a str,
    sender: &'a str,
    #[serde(default, borrow, deserialize_with = "present")]
    recipient: Option<&'a str>,
    #[serde(default, borrow, deserialize_with = "present")]
    task_id: Option<&'a str>,
    sequence_num: u64,
    timestamp: &'a str,
    payload: Value,
    signature: &'a str,
    /// Read as a document: a struct would also read from an array, which the schema refuses.
    #[serde(default, deserialize_with = "present_value")]
    batch: Option<Value>,
}

/// An optional string that, when given, is a string: `null` is not a way to leave it out.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de str>, D::Error> {
    <&'de str>::deserialize(deserializer).map(Some)
}

/// An optional field that, when given, is kept as it is, `null` included (which the check
/// refuses).
fn present_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// The message in `bytes` when it is well formed and this path can tell; `None` sends it to the
/// full decode.
pub(super) fn decode(bytes: &[u8]) -> Option<(Envelope, Body)> {
    // A struct reads from an array too; the schema wants an object.
    let first = bytes.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
    if *first != b'{' {
        return None;
    }
    let raw: Raw<'_> = serde_json::from_slice(bytes).ok()?;
    let kind: MessageType = raw.kind.parse().ok()?;
    let fields = Fields {
        id: raw.id,
        festival: raw.festival,
        sender: raw.sender,
        recipient: raw.recipient,
        task_id: raw.task_id,
        timestamp: raw.timestamp,
        signature: raw.signature,
    };
    if !fields.fit() || !document_fits(kind, &raw.payload)? {
        return None;
    }
    let batch = match &raw.batch {
        Some(value) => Some(batch(value)?),
        None => None,
    };
    let body = Body::from_payload(kind, &raw.payload).ok()?;
    let envelope = Envelope {
        kind,
        id: raw.id.to_owned(),
        festival: raw.festival.to_owned(),
        sender: raw.sender.to_owned(),
        recipient: raw.recipient.map(str::to_owned),
        task_id: raw.task_id.map(str::to_owned),
        sequence_num: raw.sequence_num,
        timestamp: raw.timestamp.to_owned(),
        payload: PayloadJson::Document(raw.payload),
        signature: Some(raw.signature.to_owned()),
        batch,
    };
    Some((envelope, body))
}

/// The body that [`decode`] reads from the bytes of this signed envelope ([`super::encode`]),
/// worked out from the envelope itself and the `body` it was made of: what a sender keeps for
/// its readers in this process ([`super::decoded::keep_sent`]). `None` unless [`decode`] takes
/// those bytes: every string of the envelope written without an escape, and every field as the
/// schema asks. The bytes would give back the envelope's own fields, so the same checks on them
/// give the same answer; and its payload reads as `body` itself where [`Body::reads_back`], so
/// the body is kept as it is, sharing its report, rather than read again.
pub(super) fn as_read(envelope: &Envelope, body: Body) -> Option<Body> {
    let signature = envelope.signature.as_deref()?;
    let fields = Fields {
        id: &envelope.id,
        festival: &envelope.festival,
        sender: &envelope.sender,
        recipient: envelope.recipient.as_deref(),
        task_id: envelope.task_id.as_deref(),
        timestamp: &envelope.timestamp,
        signature,
    };
    let plain = fields.strings().all(written_plain);
    if !plain || !fields.fit() || !envelope.batch.as_ref().is_none_or(batch_fits) {
        return None;
    }
    let made_of = body.kind() == envelope.kind && body.reads_back();
    if let PayloadJson::Written(_) = envelope.payload
        && made_of
    {
        // The text is the body's own ([`PayloadJson::written`]): its fields tell the schema's answer.
        if let Some(fits) = body.fits() {
            return fits.then_some(body);
        }
    }
    let document = envelope.payload.document();
    if !document_fits(envelope.kind, &document)? {
        return None;
    }
    if made_of {
        return Some(body);
    }
    Body::from_payload(envelope.kind, &document).ok()
}

/// Whether a payload read as a document is an object that fits the schema of its type; `None`
/// when that cannot be told here.
fn document_fits(kind: MessageType, payload: &Value) -> Option<bool> {
    Some(payload.is_object() && schema::payload_fits(kind, payload)?)
}

/// The envelope's fields that the schema bounds, as read from the bytes or as held by an
/// envelope.
struct Fields<'a> {
    id: &'a str,
    festival: &'a str,
    sender: &'a str,
    recipient: Option<&'a str>,
    task_id: Option<&'a str>,
    timestamp: &'a str,
    signature: &'a str,
}

impl<'a> Fields<'a> {
    /// Whether the fields are what the schema asks of them.
    fn fit(&self) -> bool {
        hex(self.id, 32..=32)
            && text(self.festival, 200)
            && text(self.sender, 200)
            && self.recipient.is_none_or(|r| text(r, 200))
            && self.task_id.is_none_or(|t| text(t, 200))
            && !self.timestamp.is_empty()
            && hex(self.signature, 128..=128)
    }

    /// The strings among them.
    fn strings(&self) -> impl Iterator<Item = &'a str> {
        let (id, festival, sender, timestamp, signature) =
            (self.id, self.festival, self.sender, self.timestamp, self.signature);
        [id, festival, sender, timestamp, signature]
            .into_iter()
            .chain(self.recipient)
            .chain(self.task_id)
    }
}

/// The schema's `batch`: exactly `index` (0 to 65,535), `size` (2 to 65,536) and `path` (64 to
/// 1,024 lowercase hex characters).
fn batch(value: &Value) -> Option<Batch> {
    let map = value.as_object()?;
    if map.len() != 3 {
        return None;
    }
    let batch = Batch {
        index: u32::try_from(map.get("index")?.as_u64()?).ok()?,
        size: u32::try_from(map.get("size")?.as_u64()?).ok()?,
        path: map.get("path")?.as_str()?.to_owned(),
    };
    batch_fits(&batch).then_some(batch)
}

/// Whether a batch place is what the schema asks.
fn batch_fits(batch: &Batch) -> bool {
    batch.index <= 65_535 && (2..=65_536).contains(&batch.size) && hex(&batch.path, 64..=1024)
}

/// Whether JSON writes the string as it is, without an escape (a quote, a backslash or a control
/// character), as a borrowed string in [`Raw`] must be.
fn written_plain(s: &str) -> bool {
    super::plain_json(s.as_bytes())
}

/// A string of 1 to `max` characters (the schema counts characters, not bytes).
pub(super) fn text(s: &str, max: usize) -> bool {
    !s.is_empty() && (s.len() <= max || s.chars().count() <= max)
}

/// Lowercase hex of a length in `len` (hex is ASCII: bytes are characters).
fn hex(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && super::lower_hex(s.as_bytes())
}
