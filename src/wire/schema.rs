//! The message schema, compiled into the binary once, and its first error as a reason.

use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

use super::WireError;

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
