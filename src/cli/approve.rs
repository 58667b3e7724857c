//! `baton approve` and `baton reject`: an approver's signed answer to a task waiting for approval.

use std::path::PathBuf;
use std::sync::Arc;

use super::run::runtime;
use super::status::replay;
use super::{FAILURE, INVALID, OK};
use crate::approval::{self, Answer};
use crate::check::Festival;

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
    /// without it the key comes from the state directory's keyring (on Hedera, from the variable
    /// beside the approver's account variable, as `baton setup` writes it).
    #[arg(long)]
    pub key_env: Option<String>,
    /// The ledger: `local`, or a Hedera network (`hedera` feature), paid from the approver's
    /// own account.
    #[arg(long, default_value = "local")]
    pub network: String,
}

pub(super) fn run(args: &ApproveArgs, approve: bool, color: bool) -> u8 {
    if !approve && args.reason.as_deref().is_none_or(str::is_empty) {
        eprintln!("error: `baton reject` needs `--reason`");
        return FAILURE;
    }
    let festival = match super::festival_on(&args.path, &args.network, color) {
        Ok(f) => f,
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
    if let Err(e) = approval::named(&festival, &approver) {
        eprintln!("error: {e}");
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
    let answer = Answer {
        task: args.task.clone(),
        approve,
        reason: args.reason.clone(),
    };
    #[cfg(feature = "hedera")]
    if args.network != "local" {
        let connected = match super::approve_hedera::connect(args, festival, approver).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return FAILURE;
            }
        };
        let published = async {
            approval::check(&connected.engine, &args.task, approver)?;
            approval::publish(&connected.ledger, &connected.wiring, approver, &connected.key, &answer).await
        };
        return reported(published.await, &answer, approver);
    }
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
    let published = async {
        approval::check(&engine, &args.task, approver)?;
        let key = approval::approver_key(&args.state, args.key_env.as_deref(), approver)?;
        approval::publish(ledger.as_ref(), &wiring, approver, &key, &answer).await
    };
    reported(published.await, &answer, approver)
}

/// Prints what became of an answer; its exit code.
fn reported<T>(published: Result<T, approval::ApprovalError>, answer: &Answer, approver: &str) -> u8 {
    if let Err(e) = published {
        eprintln!("error: {e}");
        return if e.is_refusal() { INVALID } else { FAILURE };
    }
    println!(
        "{} task `{}` as `{approver}`",
        if answer.approve { "approved" } else { "rejected" },
        answer.task
    );
    OK
}
