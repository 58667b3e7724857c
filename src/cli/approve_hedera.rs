//! `baton approve|reject --network devnet|testnet|...`: an approver's answer on a Hedera network.
//! The answer is paid from the approver's own account (the workflow's `account:` variable) and
//! signed with its key (the variable beside it ending in `_KEY`, or `--key-env`); the log is read
//! through the mirror to check that the task waits for this approver.

use std::sync::Arc;

use super::approve::ApproveArgs;
use super::status::fold_log;
use crate::check::Festival;
use crate::engine::Engine;
use crate::executor::network::{coordinator_account, environment, paying_as, wiring, workflow_key};
use crate::executor::{RunError, Wiring};
use crate::ledger::AccountId;
use crate::ledger::hedera::{HederaConfig, HederaLedger};
use crate::wire::{SigningKey, parse_secret_key, public_hex};

/// What answering on the network needs: the folded log, the wiring, a client paying as the
/// approver, and the approver's key.
pub(super) struct Connected {
    pub(super) engine: Engine,
    pub(super) wiring: Wiring,
    pub(super) ledger: HederaLedger,
    pub(super) key: SigningKey,
}

/// Connects as `approver` and folds the festival's log as the mirror has it.
pub(super) async fn connect(
    args: &ApproveArgs,
    festival: &Arc<Festival>,
    approver: &str,
) -> Result<Connected, RunError> {
    let env = environment(&args.network);
    let coordinator = coordinator_account(&env)?;
    let key = match &args.key_env {
        Some(var) => {
            let text =
                env(var).ok_or_else(|| RunError::Setup(format!("the environment variable `{var}` is not set")))?;
            parse_secret_key(&text).map_err(|e| RunError::Setup(format!("`{var}`: {e}")))?
        }
        None => workflow_key(&args.path, festival, approver, &env)?,
    };
    let account: AccountId = festival
        .approvers
        .iter()
        .find(|a| a.id.value == approver)
        .and_then(|a| a.account.as_ref())
        .ok_or_else(|| RunError::Setup(format!("approver `{approver}` has no `account` in the workflow")))?
        .value
        .parse()?;
    let ledger = HederaLedger::connect(HederaConfig::from_vars(&paying_as(&env, &account, &key))?)?;
    let wiring = wiring(&ledger, &coordinator, festival, &env).await?;
    let known = wiring.approver_keys.get(approver).map(public_hex);
    if known.as_deref() != Some(public_hex(&key.verifying_key()).as_str()) {
        return Err(RunError::Setup(format!(
            "the key given is not the key account `{account}` of approver `{approver}` holds"
        )));
    }
    let engine = fold_log(&ledger, &wiring, festival.clone()).await?;
    Ok(Connected {
        engine,
        wiring,
        ledger,
        key,
    })
}
