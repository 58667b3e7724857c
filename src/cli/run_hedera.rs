//! `baton run --network devnet|testnet|...`: the executor over the Hedera backend. The coordinator
//! pays from the `.env` operator; each simulated agent and approver pays its own messages from
//! its own account, with the key `baton setup` wrote beside it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use super::run::{Crew, RunArgs, drive};
use crate::check::Festival;
use crate::executor::RunError;
use crate::executor::network::{environment, signer_key, signers, wiring};
use crate::ledger::AccountId;
use crate::ledger::hedera::{HederaConfig, HederaLedger};
use crate::load::load;
use crate::spec::ProcessEnv;

pub(super) async fn execute(
    args: &RunArgs,
    festival: Arc<Festival>,
) -> Result<(super::run::Ran, super::run::Kept), RunError> {
    let vars = environment(&args.network);
    let config = HederaConfig::from_vars(&vars)?;
    let ledger = Arc::new(HederaLedger::connect(config.clone())?);
    let wiring = wiring(&ledger, &config.operator, &festival, &vars).await?;
    let coordinator_key = config.operator_key.clone();
    let signers = signing_accounts(args, &festival, &vars)?;
    let clients: Arc<Mutex<HashMap<String, Arc<HederaLedger>>>> = Arc::default();
    let keys = signers.iter().map(|(id, (_, key))| (id.clone(), key.clone())).collect();
    let made = clients.clone();
    let crew = Crew {
        keys,
        ledger_for: Box::new(move |id: &str| {
            let (account, key) = signers
                .get(id)
                .ok_or_else(|| RunError::Setup(format!("no account and key for `{id}` in the environment")))?;
            let client = Arc::new(HederaLedger::connect(
                config.with_operator(account.clone(), key.clone()),
            )?);
            made.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id.to_string(), client.clone());
            Ok(client)
        }),
    };
    let result = drive(args, festival, ledger.clone(), wiring, coordinator_key, &crew, false).await;
    let mut spent: BTreeMap<String, i64> = BTreeMap::new();
    let agents = clients.lock().unwrap_or_else(PoisonError::into_inner);
    for client in std::iter::once(&ledger).chain(agents.values()) {
        for (operation, tinybars) in client.spent() {
            *spent.entry(operation).or_default() += tinybars;
        }
    }
    print!("{}", spent_table(&spent));
    Ok((result?, ledger))
}

/// Each signer's account and key: agents' accounts from the workflow, keys from the variable
/// beside each account's (`AGENT_1_KEY` beside `AGENT_1_ACCOUNT`). Signers without both are left
/// out; simulating them fails with their name.
fn signing_accounts(
    args: &RunArgs,
    festival: &Festival,
    vars: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<HashMap<String, (AccountId, crate::wire::SigningKey)>, RunError> {
    let loaded = load(&args.path, &ProcessEnv).map_err(|e| RunError::Setup(e.to_string()))?;
    let mut out = HashMap::new();
    for signer in signers(&loaded.sources, festival) {
        let Some(key) = signer_key(&signer, vars)? else {
            continue;
        };
        let account = festival
            .agents
            .iter()
            .map(|a| (&a.id.value, &a.account))
            .chain(festival.approvers.iter().map(|a| (&a.id.value, &a.account)))
            .find(|(id, _)| **id == signer.id)
            .and_then(|(_, account)| account.as_ref())
            .map(|a| a.value.parse::<AccountId>())
            .transpose()?;
        if let Some(account) = account {
            out.insert(signer.id.clone(), (account, key));
        }
    }
    Ok(out)
}

/// The HBAR spent, by operation, in ℏ.
fn spent_table(spent: &BTreeMap<String, i64>) -> String {
    let total: i64 = spent.values().sum();
    let mut out = String::from("HBAR spent by operation:\n");
    for (operation, tinybars) in spent.iter().chain(std::iter::once((&"total".to_string(), &total))) {
        out.push_str(&format!("  {operation:<16} {}\n", hbar(*tinybars)));
    }
    out
}

fn hbar(tinybars: i64) -> String {
    format!("{}.{:08} ℏ", tinybars / 100_000_000, (tinybars % 100_000_000).abs())
}
