//! `baton approve|reject --network devnet|testnet|...`: an approver's answer on a Hedera network.
//! The answer is paid from the approver's own account (the workflow's `account:` variable) and
//! signed with its key (the variable beside it ending in `_KEY`, or `--key-env`); the log is read
//! through the mirror to check that the task waits for this approver.

use std::sync::Arc;

use super::approve::ApproveArgs;
use super::status::fold_log;
use crate::check::Festival;
use crate::engine::Engine;
use crate::executor::network::{check_signer_key, coordinator_account, environment, signer_client, wiring};
use crate::executor::{RunError, Wiring};
use crate::ledger::hedera::HederaLedger;
use crate::wire::SigningKey;

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
    let (ledger, key, account) = signer_client(&args.path, festival, approver, args.key_env.as_deref(), &env)?;
    let wiring = wiring(&ledger, &coordinator, festival, &env).await?;
    check_signer_key(&wiring, approver, &key, &account)?;
    let engine = fold_log(&ledger, &wiring, festival.clone()).await?;
    Ok(Connected {
        engine,
        wiring,
        ledger,
        key,
    })
}
