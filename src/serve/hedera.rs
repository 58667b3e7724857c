//! `baton serve --network devnet|testnet|...`: the festival's log read through the mirror, and
//! answers paid from each approver's own account with its key (the variable beside its account
//! variable, as `baton setup` writes them, or `--key-env` for one approver), exactly as
//! `baton approve --network` answers.

use std::collections::HashMap;

use super::Options;
use crate::check::Festival;
use crate::executor::network::{check_signer_key, coordinator_account, environment, signer_client, wiring};
use crate::executor::{RunError, Wiring};
use crate::ledger::hedera::{HederaConfig, HederaLedger};
use crate::wire::SigningKey;

/// The festival on a Hedera network: a client reading the log, and one paying as each approver
/// the server signs as.
pub(super) struct Network {
    pub(super) reader: HederaLedger,
    signers: HashMap<String, (HederaLedger, SigningKey)>,
}

impl Network {
    /// The client paying as `approver` and its key, when the server signs as it.
    pub(super) fn signer(&self, approver: &str) -> Option<&(HederaLedger, SigningKey)> {
        self.signers.get(approver)
    }
}

/// Refuses at start a network whose coordinator or client `.env` does not give, rather than
/// serving a page that can never show the festival.
pub fn check(network: &str) -> Result<(), RunError> {
    let env = environment(network);
    coordinator_account(&env)?;
    HederaConfig::from_vars(&env)?;
    Ok(())
}

/// Connects to the network of `options`: the wiring from the network's accounts, and a client
/// for each approver whose key is at hand (an approver whose key is not is named on stderr and
/// answers through the page are refused for it).
pub(super) async fn connect(options: &Options, festival: &Festival) -> Result<(Network, Wiring), RunError> {
    let env = environment(&options.network);
    let coordinator = coordinator_account(&env)?;
    let reader = HederaLedger::connect(HederaConfig::from_vars(&env)?)?;
    let wiring = wiring(&reader, &coordinator, festival, &env).await?;
    let mut signers = HashMap::new();
    for approver in &options.signers {
        let client = signer_client(&options.workflow, festival, approver, options.key_env.as_deref(), &env).and_then(
            |(ledger, key, account)| {
                check_signer_key(&wiring, approver, &key, &account)?;
                Ok((ledger, key))
            },
        );
        match client {
            Ok(client) => {
                signers.insert(approver.clone(), client);
            }
            Err(e) => eprintln!("warning: answers cannot be signed as `{approver}`: {e}"),
        }
    }
    Ok((Network { reader, signers }, wiring))
}
