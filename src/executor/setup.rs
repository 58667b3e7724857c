//! Wiring a festival to the local ledger: keys for the coordinator, agents and approvers, the
//! festival's two topics, the agents' accounts and the payment token, created once and found
//! again on every later run.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::RunError;
use super::log::Wiring;
use crate::check::Festival;
use crate::ledger::{AccountId, Ledger, LocalLedger, TokenId, TopicId};
use crate::wire::{Keyring, VerifyingKey, parse_public_key};

/// The coordinator's account on the local ledger; it is the token's treasury.
pub const LOCAL_TREASURY: &str = "0.0.2";
/// The token's supply on the local ledger when the workflow sets no budget, in minor units.
const DEFAULT_SUPPLY: i64 = 1_000_000_000_000;

/// Opens (or creates) the keyring of a state directory with a key for every signer of the
/// festival: `coordinator`, each agent and each approver.
pub fn keyring(state: &Path, festival: &Festival) -> Result<Keyring, RunError> {
    let mut keyring = Keyring::load_or_create(state.join("keys.json")).map_err(RunError::Keys)?;
    let before = keyring.names().count();
    keyring.key("coordinator");
    for name in festival
        .agents
        .iter()
        .map(|a| &a.id.value)
        .chain(festival.approvers.iter().map(|a| &a.id.value))
    {
        keyring.key(name);
    }
    if keyring.names().count() != before {
        keyring.save().map_err(RunError::Keys)?;
    }
    Ok(keyring)
}

/// Creates what the festival needs on the local ledger, or finds it from an earlier run.
pub async fn local(
    ledger: &LocalLedger,
    state: &Path,
    festival: &Festival,
    keyring: &Keyring,
) -> Result<Wiring, RunError> {
    let (tasks_topic, status_topic) = topics(ledger, state, festival).await?;
    let public = |name: &str| {
        keyring
            .public(name)
            .ok_or_else(|| RunError::Setup(format!("the keyring has no key for `{name}`")))
    };
    let treasury: AccountId = LOCAL_TREASURY.parse()?;
    let coordinator_key = public("coordinator")?;
    ledger.ensure_account(&treasury, coordinator_key.as_bytes()).await?;
    let mut accounts = HashMap::new();
    let mut agent_keys = HashMap::new();
    for (i, agent) in festival.agents.iter().enumerate() {
        let id = &agent.id.value;
        let account: AccountId = match &agent.account {
            Some(a) => a.value.parse()?,
            None => format!("0.0.{}", 1001 + i).parse()?,
        };
        let key = declared_key(agent.public_key.as_deref(), id)?.map_or_else(|| public(id), Ok)?;
        ledger.ensure_account(&account, key.as_bytes()).await?;
        // The ledger's key is the truth for an account that existed before.
        let key = match ledger.account_key(&account).await? {
            Some(bytes) => VerifyingKey::from_bytes(&bytes)
                .map_err(|_| RunError::Setup(format!("account `{account}` holds an invalid key")))?,
            None => key,
        };
        agent_keys.insert(id.clone(), key);
        accounts.insert(id.clone(), account);
    }
    let mut approver_keys = HashMap::new();
    for approver in &festival.approvers {
        let id = &approver.id.value;
        let key = declared_key(approver.public_key.as_deref(), id)?.map_or_else(|| public(id), Ok)?;
        approver_keys.insert(id.clone(), key);
    }
    let token = token(ledger, festival, &treasury, &accounts).await?;
    Ok(Wiring {
        festival: festival.id.clone(),
        tasks_topic,
        status_topic,
        token,
        treasury,
        accounts,
        coordinator_key,
        agent_keys,
        approver_keys,
    })
}

fn declared_key(text: Option<&str>, who: &str) -> Result<Option<VerifyingKey>, RunError> {
    text.map(|t| parse_public_key(t).map_err(|e| RunError::Setup(format!("the public key of `{who}`: {e}"))))
        .transpose()
}

async fn token(
    ledger: &LocalLedger,
    festival: &Festival,
    treasury: &AccountId,
    accounts: &HashMap<String, AccountId>,
) -> Result<TokenId, RunError> {
    let token: TokenId = festival
        .payment
        .token
        .as_ref()
        .map_or("0.0.5005", |t| t.value.as_str())
        .parse()?;
    let decimals = festival.payment.decimals;
    let supply = festival
        .payment
        .budget
        .as_ref()
        .and_then(|b| b.value.to_minor(decimals))
        .and_then(|m| i64::try_from(m).ok())
        .unwrap_or(DEFAULT_SUPPLY);
    ledger.ensure_token(&token, "BATON", decimals, treasury, supply).await?;
    for account in accounts.values() {
        ledger.associate(account, &token).await?;
    }
    Ok(token)
}

/// The festival's topics: from the workflow, or created on the first run and remembered in
/// `topics.json` under the state directory.
async fn topics(ledger: &LocalLedger, state: &Path, festival: &Festival) -> Result<(TopicId, TopicId), RunError> {
    if let (Some(t), Some(s)) = (&festival.topics.tasks, &festival.topics.status) {
        return Ok((t.parse()?, s.parse()?));
    }
    let path = state.join("topics.json");
    let mut known: BTreeMap<String, (TopicId, TopicId)> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| RunError::Setup(format!("`{}` is not a topic list: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(RunError::Setup(format!("cannot read `{}`: {e}", path.display()))),
    };
    if let Some(pair) = known.get(&festival.id) {
        return Ok(pair.clone());
    }
    let tasks = ledger.create_topic(&format!("baton:{}:tasks", festival.id)).await?;
    let status = ledger.create_topic(&format!("baton:{}:status", festival.id)).await?;
    known.insert(festival.id.clone(), (tasks.clone(), status.clone()));
    let text = serde_json::to_vec_pretty(&known).map_err(|e| RunError::Setup(e.to_string()))?;
    let temp = path.with_extension("json.tmp");
    std::fs::write(&temp, text)
        .and_then(|()| std::fs::rename(&temp, &path))
        .map_err(|e| RunError::Setup(format!("cannot write `{}`: {e}", path.display())))?;
    Ok((tasks, status))
}
