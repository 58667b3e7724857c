//! An approver's answer to a task waiting for approval: the checks made before it is signed, the
//! key it is signed with and its publication on the festival's status topic.
//!
//! `baton approve`, `baton reject` and the approvals of `baton serve` all go through here, so an
//! answer given in the browser is the same signed message as one given on the command line. The
//! checks read an engine folded from the log; they are a courtesy to the person answering (a
//! clear refusal instead of a message the engine would reject), never the authority: the engine
//! judges every answer again when it folds it.

use std::path::Path;

use crate::check::Festival;
use crate::engine::Engine;
use crate::executor::Wiring;
use crate::ledger::{ConsensusTime, Ledger, LedgerError};
use crate::wire::{self, ApprovalAnswer, Body, Decision, Envelope, Keyring, SigningKey, parse_secret_key};

/// Why an answer was not published.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("task `{task}` is not in festival `{festival}`")]
    UnknownTask { task: String, festival: String },
    #[error("`{approver}` is not an approver of festival `{festival}`")]
    NotAnApprover { approver: String, festival: String },
    #[error("task `{task}` is in state `{state}`, not waiting for approval")]
    NotWaiting { task: String, state: String },
    #[error(
        "approver `{approver}` may not answer for task `{task}` in state `{state}` (who may: {})",
        .allowed.join(", ")
    )]
    NotAllowed {
        approver: String,
        task: String,
        state: String,
        allowed: Vec<String>,
    },
    /// The approver's key could not be had; the message names the approver or the variable.
    #[error("{0}")]
    Key(String),
    #[error("task `{task}`: publishing the approval failed: {source}")]
    Publish {
        task: String,
        #[source]
        source: LedgerError,
    },
}

impl ApprovalError {
    /// Whether the answer itself is wrong (the task, the approver, the state), as opposed to the
    /// tool failing to sign or publish it.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        !matches!(self, ApprovalError::Key(_) | ApprovalError::Publish { .. })
    }
}

/// One answer: approve or reject `task`, with a reason (required to reject, by the callers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub task: String,
    pub approve: bool,
    pub reason: Option<String>,
}

/// Refuses an `approver` the festival does not name.
pub fn named(festival: &Festival, approver: &str) -> Result<(), ApprovalError> {
    if festival.approvers.iter().any(|a| a.id.value == approver) {
        Ok(())
    } else {
        Err(ApprovalError::NotAnApprover {
            approver: approver.to_owned(),
            festival: festival.id.clone(),
        })
    }
}

/// The index of `task` when, as the engine tells it, it waits for approval and `approver` may
/// still answer it.
pub fn check(engine: &Engine, task: &str, approver: &str) -> Result<usize, ApprovalError> {
    let festival = engine.festival();
    let Some(&t) = festival.index.get(task) else {
        return Err(ApprovalError::UnknownTask {
            task: task.to_owned(),
            festival: festival.id.clone(),
        });
    };
    let view = engine.task_view(t);
    if !view.waiting_for_approval {
        return Err(ApprovalError::NotWaiting {
            task: task.to_owned(),
            state: view.state,
        });
    }
    let allowed = engine.approvers_for(t);
    if !allowed.iter().any(|a| a == approver) {
        return Err(ApprovalError::NotAllowed {
            approver: approver.to_owned(),
            task: task.to_owned(),
            state: view.state,
            allowed,
        });
    }
    Ok(t)
}

/// The approver's private key: from the environment variable `key_env` when given, else from
/// the keyring `keys.json` in the state directory. Nothing is created.
pub fn approver_key(state: &Path, key_env: Option<&str>, approver: &str) -> Result<SigningKey, ApprovalError> {
    if let Some(var) = key_env {
        let text = std::env::var(var)
            .map_err(|_| ApprovalError::Key(format!("the environment variable `{var}` is not set")))?;
        return parse_secret_key(&text).map_err(|e| ApprovalError::Key(format!("`{var}`: {e}")));
    }
    let path = state.join("keys.json");
    if !path.exists() {
        return Err(ApprovalError::Key(format!(
            "no keyring at `{}`; pass `--key-env VAR`",
            path.display()
        )));
    }
    let keyring = Keyring::load_or_create(&path).map_err(|e| ApprovalError::Key(e.to_string()))?;
    keyring
        .get(approver)
        .cloned()
        .ok_or_else(|| ApprovalError::Key(format!("no key for approver `{approver}` in `{}`", path.display())))
}

/// Signs `answer` as `approver` and submits it to the festival's status topic; returns its
/// sequence number and consensus time.
pub async fn publish<L: Ledger>(
    ledger: &L,
    wiring: &Wiring,
    approver: &str,
    key: &SigningKey,
    answer: &Answer,
) -> Result<(u64, ConsensusTime), ApprovalError> {
    let body = Body::Approval(ApprovalAnswer {
        task_id: answer.task.clone(),
        decision: if answer.approve {
            Decision::Approve
        } else {
            Decision::Reject
        },
        reason: answer.reason.clone(),
    });
    let mut envelope = Envelope::new(body.kind(), &wiring.festival, approver, 1, &body);
    wire::sign(&mut envelope, key);
    ledger
        .submit(&wiring.status_topic, &wire::encode(&envelope))
        .await
        .map_err(|source| ApprovalError::Publish {
            task: answer.task.clone(),
            source,
        })
}
