//! An envelope's `payload`: the JSON document of a message read, or the canonical text of a
//! message written.
//!
//! A sender writes its payload from the [`Body`] it sends, once: serde writes a struct's fields in
//! the order they are declared, and every body declares its fields sorted by their names on the
//! wire, so the text comes out with its keys sorted at every depth (a [`Value`]'s map iterates
//! in key order) and without whitespace: the payload's part of the envelope's canonical bytes,
//! written with no document built in between. `wire::fits_tests` holds every kind of body to that.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::body::{Body, Fields};

/// The payload: always a JSON object, `{}` when the body has no fields.
#[derive(Debug, Clone)]
pub enum PayloadJson {
    /// As read from a message.
    Document(Value),
    /// As its sender wrote it from its body: canonical JSON text of an object.
    Written(Box<str>),
}

impl Default for PayloadJson {
    fn default() -> PayloadJson {
        PayloadJson::Document(Value::Object(Map::new()))
    }
}

impl From<Value> for PayloadJson {
    fn from(value: Value) -> PayloadJson {
        PayloadJson::Document(value)
    }
}

impl PayloadJson {
    /// The canonical text of `body`.
    #[must_use]
    pub fn written(body: &Body) -> PayloadJson {
        let text = serde_json::to_string(&Fields(body));
        // Plain structs with string keys always serialize, as `Body::to_payload` says; the
        // fallback is the same document it would give.
        match text {
            Ok(text) => PayloadJson::Written(text.into_boxed_str()),
            Err(_) => PayloadJson::Document(body.to_payload()),
        }
    }

    /// The payload as a JSON document (read from the text when written).
    #[must_use]
    pub fn document(&self) -> Cow<'_, Value> {
        match self {
            PayloadJson::Document(value) => Cow::Borrowed(value),
            PayloadJson::Written(text) => Cow::Owned(read(text)),
        }
    }

    /// The payload as a JSON document to change, read from the text first when written.
    pub fn document_mut(&mut self) -> &mut Value {
        if let PayloadJson::Written(text) = self {
            *self = PayloadJson::Document(read(text));
        }
        match self {
            PayloadJson::Document(value) => value,
            // It was made a document just above.
            PayloadJson::Written(_) => unreachable!("the payload was read into a document"),
        }
    }

    /// Writes the payload's canonical JSON: keys sorted by their bytes, no whitespace.
    pub(super) fn write_canonical(&self, out: &mut Vec<u8>) {
        match self {
            PayloadJson::Document(value) => write_sorted(value, out),
            PayloadJson::Written(text) => out.extend_from_slice(text.as_bytes()),
        }
    }

    fn canonical(&self) -> Cow<'_, [u8]> {
        match self {
            PayloadJson::Written(text) => Cow::Borrowed(text.as_bytes()),
            PayloadJson::Document(value) => {
                let mut out = Vec::new();
                write_sorted(value, &mut out);
                Cow::Owned(out)
            }
        }
    }
}

/// Written text back as a document. Text written by serde_json always reads back.
fn read(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// Two payloads are equal when their documents are: the same canonical text.
impl PartialEq for PayloadJson {
    fn eq(&self, other: &PayloadJson) -> bool {
        match (self, other) {
            (PayloadJson::Document(a), PayloadJson::Document(b)) => a == b,
            (PayloadJson::Written(a), PayloadJson::Written(b)) => a == b,
            _ => self.canonical() == other.canonical(),
        }
    }
}

impl Serialize for PayloadJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.document().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PayloadJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PayloadJson, D::Error> {
        Value::deserialize(deserializer).map(PayloadJson::Document)
    }
}

/// Writes JSON with sorted keys and no whitespace; scalars as serde_json writes them.
pub(super) fn write_sorted(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            // A map without `preserve_order` iterates in key order already; sorted only if not.
            if map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b) {
                write_entries(map.iter(), out);
            } else {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                write_entries(entries.into_iter(), out);
            }
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_sorted(item, out);
            }
            out.push(b']');
        }
        Value::String(text) => write_string(text, out),
        // Numbers, booleans and null always serialize; the fallback is unreachable.
        scalar => {
            if serde_json::to_writer(&mut *out, scalar).is_err() {
                out.extend_from_slice(b"null");
            }
        }
    }
}

/// Writes an object of `entries`, in their order.
fn write_entries<'a>(entries: impl Iterator<Item = (&'a String, &'a Value)>, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (key, item)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        write_sorted(item, out);
    }
    out.push(b'}');
}

/// Writes a JSON string, escaped as serde_json escapes it.
pub(super) fn write_string(text: &str, out: &mut Vec<u8>) {
    // Most strings (ids, hex, names) have nothing to escape: JSON escapes only `"`, `\\` and
    // control characters, as serde_json does.
    if super::plain_json(text.as_bytes()) {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        return;
    }
    // A `str` always serializes; the fallback is unreachable.
    if serde_json::to_writer(&mut *out, text).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}
