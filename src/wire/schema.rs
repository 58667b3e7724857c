//! The message schema, compiled into the binary once, and its first error as a reason.

use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

use super::WireError;
use super::envelope::MessageType;

/// `schemas/message.schema.json`: the envelope and, per message type, its payload.
pub const MESSAGE_SCHEMA: &str = include_str!("../../schemas/message.schema.json");

/// The longest problem text a reason carries; longer ones (quoting a large value) are cut.
const MAX_REASON_CHARS: usize = 240;
/// The longest value (as JSON) a reason quotes.
const MAX_QUOTED_CHARS: usize = 80;

fn compile() -> Result<Validator, String> {
    let schema: Value = serde_json::from_str(MESSAGE_SCHEMA).map_err(|e| e.to_string())?;
    jsonschema::options().build(&schema).map_err(|e| e.to_string())
}

fn validator() -> Result<&'static Validator, WireError> {
    static VALIDATOR: OnceLock<Result<Validator, String>> = OnceLock::new();
    VALIDATOR.get_or_init(compile).as_ref().map_err(|e| WireError::Schema {
        reason: format!("internal error, a bug in baton: the embedded message schema does not compile: {e}"),
    })
}

/// The payload schema of each message type, `$defs/<type>` (`None` for a type whose payload is
/// any object), in [`MessageType::ALL`]'s order.
type PayloadValidators = Vec<Option<Validator>>;

fn compile_payloads() -> Result<PayloadValidators, String> {
    let schema: Value = serde_json::from_str(MESSAGE_SCHEMA).map_err(|e| e.to_string())?;
    let defs = schema.get("$defs").cloned().unwrap_or_default();
    MessageType::ALL
        .iter()
        .map(|kind| {
            if defs.get(kind.as_str()).is_none() {
                return Ok(None);
            }
            let one = serde_json::json!({
                "$schema": schema.get("$schema"),
                "$defs": defs,
                "$ref": format!("#/$defs/{kind}"),
            });
            jsonschema::options().build(&one).map(Some).map_err(|e| e.to_string())
        })
        .collect()
}

/// Whether a payload fits its type's schema: what the message schema asks of `payload` once the
/// message's `type` is known. `None` when the schema does not compile (the full check says so).
pub(super) fn payload_fits(kind: MessageType, payload: &Value) -> Option<bool> {
    static PAYLOADS: OnceLock<Result<PayloadValidators, String>> = OnceLock::new();
    let validators = PAYLOADS.get_or_init(compile_payloads).as_ref().ok()?;
    let at = MessageType::ALL.iter().position(|k| *k == kind)?;
    Some(validators.get(at)?.as_ref().is_none_or(|v| v.is_valid(payload)))
}

/// Checks a message against the schema.
///
/// # Errors
/// [`WireError::Schema`] with the first problem: its JSON pointer (or `envelope` for the whole
/// message) and what is wrong.
pub(super) fn check(message: &Value) -> Result<(), WireError> {
    validator()?.validate(message).map_err(|error| {
        let path = error.instance_path().as_str();
        let at = if path.is_empty() { "envelope" } else { path };
        // Quote the offending value only when it is short; a long one reads as `value`.
        let message = if error.instance().to_string().len() <= MAX_QUOTED_CHARS {
            error.to_string()
        } else {
            error.masked().to_string()
        };
        WireError::Schema {
            reason: format!("{at}: {}", shorten(&message)),
        }
    })
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_REASON_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_REASON_CHARS).collect();
    cut.push('…');
    cut
}
