//! `baton agent --network devnet|testnet|...`: the daemon on a Hedera network. It pays its own
//! messages from the agent's account (the workflow's `account:` variable) with the agent's key
//! (the variable beside it ending in `_KEY`, or `--key-env`); the coordinator's account is
//! `COORDINATOR_ID`, else `OPERATOR_ID`, and its key is read from the network.

use super::agent::{AgentArgs, key};
use crate::check::Festival;
use crate::executor::network::{coordinator_account, environment, paying_as, wiring, workflow_key};
use crate::executor::{RunError, Wiring};
use crate::ledger::AccountId;
use crate::ledger::hedera::{HederaConfig, HederaLedger};
use crate::wire::{SigningKey, public_hex};

/// A client paying from the agent's account, the festival's wiring and the agent's key.
pub(super) async fn connect(
    args: &AgentArgs,
    festival: &Festival,
) -> Result<(HederaLedger, Wiring, SigningKey), RunError> {
    let env = environment(&args.network);
    let coordinator = coordinator_account(&env)?;
    let agent_key = agent_key(args, festival, &env)?;
    let account: AccountId = festival
        .agents
        .iter()
        .find(|a| a.id.value == args.id)
        .and_then(|a| a.account.as_ref())
        .ok_or_else(|| RunError::Setup(format!("agent `{}` has no `account` in the workflow", args.id)))?
        .value
        .parse()?;
    let ledger = HederaLedger::connect(HederaConfig::from_vars(&paying_as(&env, &account, &agent_key))?)?;
    let wiring = wiring(&ledger, &coordinator, festival, &env).await?;
    let known = wiring.agent_keys.get(&args.id).map(public_hex);
    if known.as_deref() != Some(public_hex(&agent_key.verifying_key()).as_str()) {
        return Err(RunError::Setup(format!(
            "the key given is not the key account `{account}` of agent `{}` holds",
            args.id
        )));
    }
    eprintln!(
        "agent `{}` follows festival `{}` on {}",
        args.id, festival.id, args.network
    );
    Ok((ledger, wiring, agent_key))
}

/// The agent's key: `--key-env`, else the variable beside its account's in the workflow.
fn agent_key(
    args: &AgentArgs,
    festival: &Festival,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<SigningKey, RunError> {
    if args.key_env.is_some() {
        return key(args);
    }
    workflow_key(&args.path, festival, &args.id, env)
}
