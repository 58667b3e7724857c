//! `baton agent --network devnet|testnet|...`: the daemon on a Hedera network. It pays its own
//! messages from the agent's account (the workflow's `account:` variable) with the agent's key
//! (the variable beside it ending in `_KEY`, or `--key-env`); the coordinator's account is
//! `COORDINATOR_ID`, else `OPERATOR_ID`, and its key is read from the network.

use super::agent::AgentArgs;
use crate::check::Festival;
use crate::executor::network::{check_signer_key, coordinator_account, environment, signer_client, wiring};
use crate::executor::{RunError, Wiring};
use crate::ledger::hedera::HederaLedger;
use crate::wire::SigningKey;

/// A client paying from the agent's account, the festival's wiring and the agent's key.
pub(super) async fn connect(
    args: &AgentArgs,
    festival: &Festival,
) -> Result<(HederaLedger, Wiring, SigningKey), RunError> {
    let env = environment(&args.network);
    let coordinator = coordinator_account(&env)?;
    let (ledger, key, account) = signer_client(&args.path, festival, &args.id, args.key_env.as_deref(), &env)?;
    let wiring = wiring(&ledger, &coordinator, festival, &env).await?;
    check_signer_key(&wiring, &args.id, &key, &account)?;
    eprintln!(
        "agent `{}` follows festival `{}` on {}",
        args.id, festival.id, args.network
    );
    Ok((ledger, wiring, key))
}
