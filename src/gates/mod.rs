//! Quality gates and guards in Rhai: sandboxed, deterministic, compiled once per run.
//!
//! A gate is a script in `gates/` that judges a task's evidence and returns a [`Verdict`]; a guard
//! is a `when:` expression on a lifecycle transition. Both see the same values (`task`, `report`,
//! `params`, `upstream`, `festival`) and neither can reach a clock, randomness, the file system or
//! the network. A script that loops, recurses, grows data without bound, throws or returns the
//! wrong type fails with its name, its place and the reason; it never takes the process down.

pub mod cases;
mod engine;
mod verdict;

use std::path::{Path, PathBuf};

pub use engine::{GateEngine, Limits};
pub use verdict::Verdict;

/// What a gate or a guard sees.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateInput {
    /// `id`, `name`, `attempt`, `max_attempts`, `reward`, `inputs`.
    pub task: serde_json::Value,
    /// The agent's submitted result, free-form.
    pub report: serde_json::Value,
    /// The parameters the workflow passes to this use of the gate.
    pub params: serde_json::Value,
    /// Task id to `{verdict: {pass, reasons}, report}` of the tasks this one depends on.
    pub upstream: serde_json::Value,
    /// `id` and `variables` of the festival.
    pub festival: serde_json::Value,
}

/// A compiled gate: its name, where it came from and the hash of its source.
#[derive(Debug, Clone)]
pub struct Gate {
    pub name: String,
    pub path: PathBuf,
    /// SHA-256 of the script's source, hex: recorded in every verdict.
    pub hash: String,
    ast: std::sync::Arc<rhai::AST>,
}

/// A compiled `when:` guard.
#[derive(Debug, Clone)]
pub struct Guard {
    pub source: String,
    ast: std::sync::Arc<rhai::AST>,
}

/// A place in a script: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub line: usize,
    pub column: usize,
}

/// Why a gate or guard could not give a verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    #[error("cannot read gate `{gate}` from `{}`: {reason}", path.display())]
    Read {
        gate: String,
        path: PathBuf,
        reason: String,
    },
    #[error("gate `{gate}` does not compile at {}: {reason}", at(path, *place))]
    Syntax {
        gate: String,
        path: PathBuf,
        place: Option<Place>,
        reason: String,
    },
    #[error("gate `{gate}` failed at {}: {reason}", at(path, *place))]
    Runtime {
        gate: String,
        path: PathBuf,
        place: Option<Place>,
        reason: String,
    },
    #[error(
        "gate `{gate}` returned {found}, not a verdict: return `verdict()`, `#{{pass: bool, reasons: [..]}}` or a bool"
    )]
    WrongType { gate: String, found: String },
}

fn at(path: &Path, place: Option<Place>) -> String {
    match place {
        Some(p) => format!("{}:{}:{}", path.display(), p.line, p.column),
        None => path.display().to_string(),
    }
}

impl GateError {
    /// The gate the error is about.
    #[must_use]
    pub fn gate(&self) -> &str {
        match self {
            GateError::Read { gate, .. }
            | GateError::Syntax { gate, .. }
            | GateError::Runtime { gate, .. }
            | GateError::WrongType { gate, .. } => gate,
        }
    }
}

/// The gate names (`NAME.rhai`) in a folder, sorted; none when it cannot be read.
#[must_use]
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".rhai"))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The SHA-256 of a script's source, as lower-case hex.
#[must_use]
pub fn script_hash(source: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(source.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
