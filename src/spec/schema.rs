//! The JSON Schemas in `schemas/`, compiled into the binary once, and their errors as diagnostics.
//!
//! Unions in the schemas use `if`/`then`/`else` on the value's type rather than `oneOf`, so that
//! validation stays linear on large workflows and errors name one branch, not all of them.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Retrieve, Uri, Validator};

use super::yaml::Node;
use crate::diagnostics::{Code, Diagnostic};

pub const WORKFLOW: &str = include_str!("../../schemas/workflow.schema.json");
pub const LIFECYCLE: &str = include_str!("../../schemas/lifecycle.schema.json");

/// Which schema a document is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Workflow,
    Lifecycle,
}

/// Serves the lifecycle schema to the workflow schema's `$ref`, with no file or network access.
struct Embedded;

impl Retrieve for Embedded {
    fn retrieve(&self, uri: &Uri<String>) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        if uri.as_str().ends_with("lifecycle.schema.json") {
            Ok(serde_json::from_str(LIFECYCLE)?)
        } else {
            Err(format!("schema `{}` is not embedded", uri.as_str()).into())
        }
    }
}

fn compile(text: &str) -> Result<Validator, String> {
    let schema: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    jsonschema::options()
        .with_retriever(Embedded)
        .build(&schema)
        .map_err(|e| e.to_string())
}

fn validator(kind: Kind) -> Result<&'static Validator, Diagnostic> {
    static WORKFLOW_V: OnceLock<Result<Validator, String>> = OnceLock::new();
    static LIFECYCLE_V: OnceLock<Result<Validator, String>> = OnceLock::new();
    let cell = match kind {
        Kind::Workflow => WORKFLOW_V.get_or_init(|| compile(WORKFLOW)),
        Kind::Lifecycle => LIFECYCLE_V.get_or_init(|| compile(LIFECYCLE)),
    };
    cell.as_ref().map_err(|e| {
        Diagnostic::new(
            Code::SchemaOther,
            format!("internal error, a bug in baton: the embedded schema does not compile: {e}"),
        )
    })
}

/// Checks a document against a schema; every violation becomes a diagnostic at its node.
#[must_use]
pub fn validate(kind: Kind, root: &Node) -> Vec<Diagnostic> {
    validate_keeping(kind, root).0
}

/// [`validate`], with the document as JSON that it checked, for the caller to free when it
/// suits it: a large workflow's takes milliseconds to free.
#[must_use]
pub fn validate_keeping(kind: Kind, root: &Node) -> (Vec<Diagnostic>, serde_json::Value) {
    let instance = root.to_json();
    let validator = match validator(kind) {
        Ok(v) => v,
        Err(d) => return (vec![d], instance),
    };
    let mut out: Vec<Diagnostic> = validator
        .iter_errors(&instance)
        .map(|error| {
            let path: Vec<String> = error.instance_path().into_iter().map(|s| s.to_string()).collect();
            let node = root.walk(path.iter().map(String::as_str));
            let pointer = if path.is_empty() {
                "the document".to_string()
            } else {
                format!("`/{}`", path.join("/"))
            };
            let mut d = to_diagnostic(error.kind(), node, &pointer);
            if matches!(error.kind(), ValidationErrorKind::Required { .. }) {
                d.span = Some(owner_span(root, &path, node));
            }
            d
        })
        .collect();
    out.dedup();
    (out, instance)
}

/// Where to point for a problem with a whole mapping: the key that holds it, or its first key.
fn owner_span(root: &Node, path: &[String], node: &Node) -> crate::diagnostics::Span {
    if let Some((last, parent)) = path.split_last()
        && let Some(span) = root.walk(parent.iter().map(String::as_str)).key_span(last)
    {
        return span;
    }
    node.as_map().first().map_or(node.span, |(key, _)| key.span)
}

fn to_diagnostic(kind: &ValidationErrorKind, node: &Node, at: &str) -> Diagnostic {
    let (code, message, span) = match kind {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or("?");
            (
                Code::MissingProperty,
                format!("{at} is missing the required property `{name}`"),
                node.span,
            )
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let name = unexpected.first().map_or("?", String::as_str);
            let span = node.key_span(name).unwrap_or(node.span);
            let d = Diagnostic::new(Code::UnknownProperty, format!("unknown property `{name}` in {at}")).at(span);
            return d.with_hint("check the spelling against the schema: `baton schema workflow`");
        }
        ValidationErrorKind::Type { kind } => (
            Code::WrongType,
            format!("{at} must be {}", type_words(&format!("{kind:?}"))),
            node.span,
        ),
        ValidationErrorKind::AnyOf { .. } => (
            Code::WrongType,
            format!("{at} is none of the accepted forms"),
            node.span,
        ),
        ValidationErrorKind::Constant { expected_value } => {
            (Code::NotAllowed, format!("{at} must be `{expected_value}`"), node.span)
        }
        ValidationErrorKind::Enum { options } => (
            Code::NotAllowed,
            format!("{at} must be one of {}", list(options)),
            node.span,
        ),
        ValidationErrorKind::Pattern { pattern } => (
            Code::NotAllowed,
            format!("{at} does not match the pattern `{pattern}`"),
            node.span,
        ),
        ValidationErrorKind::Minimum { limit } | ValidationErrorKind::ExclusiveMinimum { limit } => (
            Code::OutOfRange,
            format!("{at} is below the minimum {limit}"),
            node.span,
        ),
        ValidationErrorKind::Maximum { limit } | ValidationErrorKind::ExclusiveMaximum { limit } => (
            Code::OutOfRange,
            format!("{at} is above the maximum {limit}"),
            node.span,
        ),
        ValidationErrorKind::MinItems { limit } => (
            Code::OutOfRange,
            format!("{at} needs at least {limit} item(s)"),
            node.span,
        ),
        ValidationErrorKind::MinLength { limit } => (
            Code::OutOfRange,
            format!("{at} needs at least {limit} character(s)"),
            node.span,
        ),
        ValidationErrorKind::MaxLength { limit } => (
            Code::OutOfRange,
            format!("{at} is longer than {limit} characters"),
            node.span,
        ),
        other => (
            Code::SchemaOther,
            format!("{at} is invalid: {}", other_words(other)),
            node.span,
        ),
    };
    Diagnostic::new(code, message).at(span)
}

fn type_words(debug: &str) -> String {
    let lower = debug.to_lowercase();
    let words: Vec<&str> = ["object", "array", "string", "integer", "number", "boolean", "null"]
        .into_iter()
        .filter(|w| lower.contains(w))
        .collect();
    match words.as_slice() {
        [] => "of another type".to_string(),
        [one] => format!(
            "{} {one}",
            if *one == "array" || *one == "object" || *one == "integer" {
                "an"
            } else {
                "a"
            }
        ),
        many => format!("one of: {}", many.join(", ")),
    }
}

fn list(options: &serde_json::Value) -> String {
    match options {
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| format!("`{}`", i.as_str().map_or_else(|| i.to_string(), str::to_string)))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn other_words(kind: &ValidationErrorKind) -> String {
    let debug = format!("{kind:?}");
    debug.split([' ', '{', '(']).next().unwrap_or("invalid").to_string()
}
