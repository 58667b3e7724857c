//! The outcome of a gate, and how a script's return value becomes one.

use rhai::Dynamic;
use serde::{Deserialize, Serialize};

/// Pass or fail with reasons, and which script decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub gate: String,
    /// SHA-256 of the script that decided, so a reader of the log can tell which version judged.
    pub script_hash: String,
    pub pass: bool,
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// Reads a script's result: a map `#{pass, reasons, score}` or a bool. Reasons collected by
/// `require` always count: a script cannot pass while a requirement it stated failed.
pub(super) fn from_dynamic(value: Dynamic, required: Vec<String>) -> Result<(bool, Vec<String>, Option<f64>), String> {
    if let Ok(pass) = value.as_bool() {
        return Ok((pass && required.is_empty(), required, None));
    }
    let type_name = value.type_name().to_string();
    let Some(map) = value.try_cast::<rhai::Map>() else {
        return Err(describe(&type_name));
    };
    let pass = map
        .get("pass")
        .and_then(|p| p.as_bool().ok())
        .ok_or_else(|| "a map without a bool `pass`".to_string())?;
    let pass = pass && required.is_empty();
    let mut reasons = required;
    if let Some(listed) = map.get("reasons") {
        let items = listed
            .clone()
            .into_array()
            .map_err(|_| "a map whose `reasons` is not an array".to_string())?;
        for item in items {
            let text = item.into_string().unwrap_or_else(|t| format!("<{t}>"));
            if !reasons.contains(&text) {
                reasons.push(text);
            }
        }
    }
    let score = match map.get("score") {
        None => None,
        Some(s) if s.is_unit() => None,
        Some(s) => Some(
            s.as_float()
                .or_else(|_| s.as_int().map(|i| i as f64))
                .map_err(|_| "a map whose `score` is not a number".to_string())?,
        ),
    };
    Ok((pass, reasons, score))
}

fn describe(type_name: &str) -> String {
    match type_name {
        "string" | "ImmutableString" | "&str" => "a string".to_string(),
        "()" => "nothing (`()`)".to_string(),
        "i64" | "f64" => "a number".to_string(),
        "array" => "an array".to_string(),
        other => format!("a value of type `{other}`"),
    }
}
