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
        let account = agent_account(festival, i)?;
        let key = declared_key(agent.public_key.as_deref(), id)?.map_or_else(|| public(id), Ok)?;
        ledger.ensure_account(&account, key.as_bytes()).await?;
        // The ledger's key is the truth for an account that existed before.
        let key = ledger_key(ledger, &account).await?.unwrap_or(key);
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
    let token = token_id(festival)?;
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
    if let Some(pair) = known_topics(state, festival)? {
        return Ok(pair);
    }
    let path = state.join("topics.json");
    let mut known = topic_list(&path)?;
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

/// The topics the festival already has: from the workflow or from `topics.json`.
fn known_topics(state: &Path, festival: &Festival) -> Result<Option<(TopicId, TopicId)>, RunError> {
    if let (Some(t), Some(s)) = (&festival.topics.tasks, &festival.topics.status) {
        return Ok(Some((t.parse()?, s.parse()?)));
    }
    Ok(topic_list(&state.join("topics.json"))?.remove(&festival.id))
}

fn topic_list(path: &Path) -> Result<BTreeMap<String, (TopicId, TopicId)>, RunError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| RunError::Setup(format!("`{}` is not a topic list: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(RunError::Setup(format!("cannot read `{}`: {e}", path.display()))),
    }
}

/// The account agent number `i` is paid to: the workflow's, or one numbered from 0.0.1001.
fn agent_account(festival: &Festival, i: usize) -> Result<AccountId, RunError> {
    Ok(match &festival.agents[i].account {
        Some(a) => a.value.parse()?,
        None => format!("0.0.{}", 1001 + i).parse()?,
    })
}

fn token_id(festival: &Festival) -> Result<TokenId, RunError> {
    Ok(festival
        .payment
        .token
        .as_ref()
        .map_or("0.0.5005", |t| t.value.as_str())
        .parse()?)
}

/// The key the ledger holds for an account, if the account exists.
async fn ledger_key(ledger: &LocalLedger, account: &AccountId) -> Result<Option<VerifyingKey>, RunError> {
    ledger
        .account_key(account)
        .await?
        .map(|bytes| {
            VerifyingKey::from_bytes(&bytes)
                .map_err(|_| RunError::Setup(format!("account `{account}` holds an invalid key")))
        })
        .transpose()
}

/// The wiring of a festival that already ran on this ledger, found without writing anything:
/// `None` when it has not run here yet. Keys come from the ledger's accounts, then the
/// workflow's `public_key`s, then the state directory's keyring.
pub async fn existing(ledger: &LocalLedger, state: &Path, festival: &Festival) -> Result<Option<Wiring>, RunError> {
    let Some((tasks_topic, status_topic)) = known_topics(state, festival)? else {
        return Ok(None);
    };
    let treasury: AccountId = LOCAL_TREASURY.parse()?;
    let Some(coordinator_key) = ledger_key(ledger, &treasury).await? else {
        return Ok(None);
    };
    let path = state.join("keys.json");
    let keyring = if path.exists() {
        Some(Keyring::load_or_create(&path).map_err(RunError::Keys)?)
    } else {
        None
    };
    let known = |text: Option<&str>, who: &str| -> Result<VerifyingKey, RunError> {
        declared_key(text, who)?
            .or_else(|| keyring.as_ref().and_then(|k| k.public(who)))
            .ok_or_else(|| RunError::Setup(format!("no public key is known for `{who}`")))
    };
    let mut accounts = HashMap::new();
    let mut agent_keys = HashMap::new();
    for (i, agent) in festival.agents.iter().enumerate() {
        let id = &agent.id.value;
        let account = agent_account(festival, i)?;
        let key = match ledger_key(ledger, &account).await? {
            Some(key) => key,
            None => known(agent.public_key.as_deref(), id)?,
        };
        agent_keys.insert(id.clone(), key);
        accounts.insert(id.clone(), account);
    }
    let mut approver_keys = HashMap::new();
    for approver in &festival.approvers {
        let id = &approver.id.value;
        approver_keys.insert(id.clone(), known(approver.public_key.as_deref(), id)?);
    }
    Ok(Some(Wiring {
        festival: festival.id.clone(),
        tasks_topic,
        status_topic,
        token: token_id(festival)?,
        treasury,
        accounts,
        coordinator_key,
        agent_keys,
        approver_keys,
    }))
}
