//! The typed workflow and lifecycle, as loaded: every name a user wrote keeps its span.
//!
//! Nothing here is checked beyond the schema: references may dangle and graphs may have cycles.
//! `check` turns these into a compiled festival.

use std::path::PathBuf;

use serde_json::Value as Json;

use super::amount::Amount;
use crate::diagnostics::{FileId, Span};

/// A value and where it was written.
#[derive(Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// `value @ span`, shorter than the derived form (see [`Span`]'s `Debug`).
impl<T: std::fmt::Debug> std::fmt::Debug for Spanned<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} @ {:?}", self.value, self.span)
    }
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

/// A festival workflow file.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub file: FileId,
    pub path: PathBuf,
    pub id: Spanned<String>,
    pub name: String,
    pub agents: Vec<Agent>,
    pub approvers: Vec<Approver>,
    pub tasks: Vec<Task>,
    /// Set when the tasks come from a Festival Methodology directory.
    pub festival_dir: Option<Spanned<PathBuf>>,
    pub payment: Payment,
    pub topics: Topics,
    pub lifecycle: LifecycleRef,
    /// Named lifecycles a task may pick with `lifecycle:`.
    pub lifecycles: Vec<(Spanned<String>, LifecycleRef)>,
    /// Folder gate names resolve in, relative to the workflow file.
    pub gates_dir: Option<Spanned<PathBuf>>,
    pub max_parallel: Option<u32>,
    pub variables: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: Spanned<String>,
    pub account: Option<Spanned<String>>,
    pub public_key: Option<String>,
    pub capabilities: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Approver {
    pub id: Spanned<String>,
    pub account: Option<Spanned<String>>,
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub token: Option<Spanned<String>>,
    /// The token's decimals: how many places an amount may have.
    pub decimals: u32,
    pub budget: Option<Spanned<Amount>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Topics {
    pub tasks: Option<String>,
    pub status: Option<String>,
}

/// What a task is for: ordinary work, or a quality gate of a festival directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskKind {
    Work,
    /// A gate step (`fest_type: gate`), with its gate type (testing, review, iterate, ...).
    Gate(String),
}

/// Where a task stands before any run: from a festival directory's progress log or front matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    Pending,
    InProgress,
    Blocked,
    Completed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: Spanned<String>,
    pub name: String,
    pub depends_on: Vec<Spanned<String>>,
    /// Ordering hints that never block (festival `fest_soft_dependencies`).
    pub soft_depends_on: Vec<Spanned<String>>,
    pub agent: Option<Spanned<String>>,
    pub requires: Vec<Spanned<String>>,
    pub reward: Option<Spanned<Amount>>,
    pub input: Json,
    pub gates: Vec<GateUse>,
    pub timeout_secs: Option<u64>,
    pub max_attempts: u32,
    /// Expected duration in seconds, for the critical path.
    pub estimate_secs: Option<u64>,
    pub lifecycle: Option<Spanned<String>>,
    pub kind: TaskKind,
    pub progress: Progress,
}

/// One use of a gate script, with the parameters for this use.
#[derive(Debug, Clone, PartialEq)]
pub struct GateUse {
    pub name: Spanned<String>,
    pub params: Json,
}

/// How a workflow names its lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub enum LifecycleRef {
    /// A built-in (`standard`) or a name from `lifecycles:`.
    Named(Spanned<String>),
    /// A lifecycle file, relative to the workflow file.
    File(Spanned<PathBuf>),
    Inline(Box<Lifecycle>),
}

/// A task state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    pub file: FileId,
    pub name: String,
    pub span: Span,
    pub states: Vec<Spanned<String>>,
    pub initial: Spanned<String>,
    pub terminal: Vec<Spanned<String>>,
    pub transitions: Vec<Transition>,
    pub timeouts: Vec<Timeout>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub span: Span,
    /// Source states; `*` stands for every non-terminal state.
    pub from: Vec<Spanned<String>>,
    pub to: Spanned<String>,
    pub on: Spanned<String>,
    /// A Rhai guard expression.
    pub when: Option<Spanned<String>>,
    pub gates: TransitionGates,
    pub effects: Vec<Effect>,
    pub approval: Option<Approval>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TransitionGates {
    None,
    /// Run the gates the task lists.
    Task,
    Listed(Vec<GateUse>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    /// `hcs.submit`, `hts.transfer` or `schedule.create`.
    pub kind: Spanned<String>,
    pub params: Json,
}

impl Effect {
    #[must_use]
    pub fn pays(&self) -> bool {
        self.kind.value == "hts.transfer"
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub span: Span,
    /// Who may approve; empty means any approver the workflow names.
    pub approvers: Vec<Spanned<String>>,
    pub quorum: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Timeout {
    pub state: Spanned<String>,
    pub after_secs: u64,
    pub on: Spanned<String>,
}
