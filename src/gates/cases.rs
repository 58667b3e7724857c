//! Gate tests as files: `gates/tests/NAME.yaml` holds cases (report, params, task, upstream) and
//! the verdict each must give. `baton gate test --all` runs them.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use super::{GateEngine, GateInput};

/// A file of cases for one gate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub gate: String,
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub report: Value,
    #[serde(default)]
    pub params: Option<Value>,
    /// Merged over [`default_task`].
    #[serde(default)]
    pub task: Option<Value>,
    #[serde(default)]
    pub upstream: Option<Value>,
    pub expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub pass: bool,
    /// When given, the exact reasons, in order.
    #[serde(default)]
    pub reasons: Option<Vec<String>>,
    #[serde(default)]
    pub score: Option<f64>,
}

/// The result of one case: `None` when it gave what it expected, else what went wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub gate: String,
    pub case: String,
    pub failure: Option<String>,
}

/// The task a case sees unless it overrides fields.
#[must_use]
pub fn default_task() -> Value {
    json!({"id": "t1", "name": "t1", "attempt": 1, "max_attempts": 3, "reward": "10.00", "inputs": {}})
}

/// Shallow-merges `over` into `base` (both objects).
#[must_use]
pub fn merged(mut base: Value, over: Option<&Value>) -> Value {
    if let (Value::Object(b), Some(Value::Object(o))) = (&mut base, over) {
        for (k, v) in o {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

/// Reads a case file (YAML or JSON).
pub fn read(path: &Path) -> Result<CaseFile, String> {
    let value = crate::spec::yaml::read_json(path)?;
    serde_json::from_value(value).map_err(|e| format!("`{}`: {e}", path.display()))
}

/// Runs every case of a file against `gates_dir/GATE.rhai`.
pub fn run(engine: &GateEngine, file: &CaseFile, gates_dir: &Path) -> Result<Vec<Outcome>, String> {
    let path: PathBuf = gates_dir.join(format!("{}.rhai", file.gate));
    let gate = engine.load(&file.gate, &path).map_err(|e| e.to_string())?;
    let outcomes = file
        .cases
        .iter()
        .map(|case| {
            let input = GateInput {
                task: merged(default_task(), case.task.as_ref()),
                report: case.report.clone(),
                params: case.params.clone().unwrap_or_else(|| json!({})),
                upstream: case.upstream.clone().unwrap_or_else(|| json!({})),
                festival: json!({"id": "gate-tests", "variables": {}}),
            };
            let failure = match engine.evaluate(&gate, &input) {
                Err(e) => Some(e.to_string()),
                Ok(v) => mismatch(&case.expect, v.pass, &v.reasons, v.score),
            };
            Outcome {
                gate: file.gate.clone(),
                case: case.name.clone(),
                failure,
            }
        })
        .collect();
    Ok(outcomes)
}

fn mismatch(expect: &Expect, pass: bool, reasons: &[String], score: Option<f64>) -> Option<String> {
    let word = |p: bool| if p { "pass" } else { "fail" };
    if pass != expect.pass {
        return Some(format!(
            "expected {}, got {} {reasons:?}",
            word(expect.pass),
            word(pass)
        ));
    }
    if let Some(expected) = &expect.reasons
        && expected.as_slice() != reasons
    {
        return Some(format!("expected reasons {expected:?}, got {reasons:?}"));
    }
    match (expect.score, score) {
        (Some(e), Some(s)) if (e - s).abs() > 1e-9 => Some(format!("expected score {e}, got {s}")),
        (Some(e), None) => Some(format!("expected score {e}, got none")),
        _ => None,
    }
}
