//! `baton approve` and `baton reject`: an approver's signed answer to a task waiting for approval.

use std::path::PathBuf;
use std::sync::Arc;

use super::run::{festival, runtime};
use super::status::replay;
use super::{FAILURE, INVALID, OK};
use crate::ledger::Ledger as _;
use crate::wire::{self, ApprovalAnswer, Body, Decision, Envelope};

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The workflow file.
    pub path: PathBuf,
    /// The task waiting for approval.
    pub task: String,
    /// The approver answering, as named in the workflow; the only one when there is one.
    #[arg(long = "as", env = "BATON_APPROVER")]
    pub approver: Option<String>,
    /// Why (required to reject).
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long, default_value = ".baton")]
    pub state: PathBuf,
}

pub(super) fn run(args: &ApproveArgs, approve: bool, color: bool) -> u8 {
    if !approve && args.reason.as_deref().is_none_or(str::is_empty) {
        eprintln!("error: `baton reject` needs `--reason`");
        return FAILURE;
    }
    let festival = match festival(&args.path, color) {
        Ok(f) => Arc::new(f),
        Err(code) => return code,
    };
    let approver = match (&args.approver, festival.approvers.as_slice()) {
        (Some(a), _) => a.clone(),
        (None, [only]) => only.id.value.clone(),
        (None, _) => {
            eprintln!("error: say which approver answers with `--as` (or BATON_APPROVER)");
            return FAILURE;
        }
    };
    if !festival.approvers.iter().any(|a| a.id.value == approver) {
        eprintln!("error: `{approver}` is not an approver of festival `{}`", festival.id);
        return INVALID;
    }
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let (engine, wiring, keyring, ledger) = match replay(&args.state, festival.clone()).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return FAILURE;
            }
        };
        let Some(&t) = festival.index.get(&args.task) else {
            eprintln!("error: task `{}` is not in festival `{}`", args.task, festival.id);
            return INVALID;
        };
        let view = engine.task_view(t);
        if !view.waiting_for_approval {
            eprintln!(
                "error: task `{}` is in state `{}`, not waiting for approval",
                args.task, view.state
            );
            return INVALID;
        }
        let allowed = engine.approvers_for(t);
        if !allowed.contains(&approver) {
            eprintln!(
                "error: approver `{approver}` may not answer for task `{}` in state `{}` (who may: {})",
                args.task,
                view.state,
                allowed.join(", ")
            );
            return INVALID;
        }
        let Some(key) = keyring.get(&approver) else {
            eprintln!(
                "error: no key for approver `{approver}` in `{}`",
                args.state.join("keys.json").display()
            );
            return FAILURE;
        };
        let body = Body::Approval(ApprovalAnswer {
            task_id: args.task.clone(),
            decision: if approve { Decision::Approve } else { Decision::Reject },
            reason: args.reason.clone(),
        });
        let mut envelope = Envelope::new(body.kind(), &festival.id, &approver, 1, &body);
        wire::sign(&mut envelope, key);
        if let Err(e) = ledger.submit(&wiring.status_topic, &wire::encode(&envelope)).await {
            eprintln!("error: task `{}`: publishing the approval failed: {e}", args.task);
            return FAILURE;
        }
        println!(
            "{} task `{}` as `{approver}`",
            if approve { "approved" } else { "rejected" },
            args.task
        );
        OK
    })
}
