//! `baton agent --network devnet|testnet|...`: the daemon on a Hedera network. It pays its own
//! messages from the agent's account (the workflow's `account:` variable) with the agent's key
//! (the variable beside it ending in `_KEY`, or `--key-env`); the coordinator's account is
//! `COORDINATOR_ID`, else `OPERATOR_ID`, and its key is read from the network.

use super::agent::{AgentArgs, key};
use crate::check::Festival;
use crate::executor::network::{coordinator_account, environment, signer_key, signers, wiring};
use crate::executor::{RunError, Wiring};
use crate::ledger::AccountId;
use crate::ledger::hedera::{HederaConfig, HederaLedger};
use crate::load::load;
use crate::spec::ProcessEnv;
use crate::wire::{SigningKey, public_hex, secret_hex};

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
    let (id, secret) = (account.to_string(), secret_hex(&agent_key));
    let paying = |name: &str| -> Option<String> {
        match name {
            "OPERATOR_ID" => Some(id.clone()),
            "OPERATOR_KEY" => Some(secret.clone()),
            _ => env(name),
        }
    };
    let ledger = HederaLedger::connect(HederaConfig::from_vars(&paying)?)?;
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
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SigningKey, RunError> {
    if args.key_env.is_some() {
        return key(args);
    }
    let loaded = load(&args.path, &ProcessEnv).map_err(|e| RunError::Setup(e.to_string()))?;
    let signer = signers(&loaded.sources, festival)
        .into_iter()
        .find(|s| s.id == args.id)
        .ok_or_else(|| {
            RunError::Setup(format!(
                "agent `{}`'s account is not read from a variable; pass `--key-env VAR`",
                args.id
            ))
        })?;
    signer_key(&signer, env)?
        .ok_or_else(|| RunError::Setup(format!("`{}` is not set (`baton setup` writes it)", signer.key_var)))
}
