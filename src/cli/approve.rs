//! `baton approve` and `baton reject`: an approver's signed answer to a task waiting for approval.

use std::path::PathBuf;
use std::sync::Arc;

use super::run::{festival, runtime};
use super::status::replay;
use super::{FAILURE, INVALID, OK};
use crate::check::Festival;
use crate::ledger::Ledger as _;
use crate::wire::{self, ApprovalAnswer, Body, Decision, Envelope, Keyring, SigningKey, parse_secret_key};

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
    /// The environment variable holding the approver's private key (read from `.env` too);
    /// without it the key comes from the state directory's keyring.
    #[arg(long)]
    pub key_env: Option<String>,
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
    runtime.block_on(answer(args, &festival, &approver, approve))
}

/// Publishes the approver's answer once the log shows the task waiting for it.
async fn answer(args: &ApproveArgs, festival: &Arc<Festival>, approver: &str, approve: bool) -> u8 {
    let (engine, wiring, ledger) = match replay(&args.state, festival.clone()).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            eprintln!(
                "error: festival `{}` has not run in `{}`: nothing waits for approval",
                festival.id,
                args.state.display()
            );
            return INVALID;
        }
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
    if !allowed.iter().any(|a| a == approver) {
        eprintln!(
            "error: approver `{approver}` may not answer for task `{}` in state `{}` (who may: {})",
            args.task,
            view.state,
            allowed.join(", ")
        );
        return INVALID;
    }
    let key = match approver_key(args, approver) {
        Ok(key) => key,
        Err(message) => {
            eprintln!("error: {message}");
            return FAILURE;
        }
    };
    let body = Body::Approval(ApprovalAnswer {
        task_id: args.task.clone(),
        decision: if approve { Decision::Approve } else { Decision::Reject },
        reason: args.reason.clone(),
    });
    let mut envelope = Envelope::new(body.kind(), &festival.id, approver, 1, &body);
    wire::sign(&mut envelope, &key);
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
}

/// The approver's private key: from `--key-env`, or the state directory's keyring.
fn approver_key(args: &ApproveArgs, approver: &str) -> Result<SigningKey, String> {
    if let Some(var) = &args.key_env {
        let text = std::env::var(var).map_err(|_| format!("the environment variable `{var}` is not set"))?;
        return parse_secret_key(&text).map_err(|e| format!("`{var}`: {e}"));
    }
    let path = args.state.join("keys.json");
    let keyring = if path.exists() {
        Keyring::load_or_create(&path).map_err(|e| e.to_string())?
    } else {
        return Err(format!("no keyring at `{}`; pass `--key-env VAR`", path.display()));
    };
    keyring
        .get(approver)
        .cloned()
        .ok_or_else(|| format!("no key for approver `{approver}` in `{}`", path.display()))
}
