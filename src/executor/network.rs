//! Wiring a festival to a Hedera network (`hedera` feature), and `baton setup`'s work.
//!
//! On Hedera the ids come from the network, so they live in `.env`: the festival's topics
//! (`TASK_TOPIC_ID`, `STATUS_TOPIC_ID`, unless the workflow names them), the payment token (the
//! workflow's `payment.token`, usually `${PAYMENT_TOKEN_ID}`), and each signer's account and key.
//! The workflow says which variable holds each account (`account: ${AGENT_1_ACCOUNT:-...}`); the
//! key is the variable of the same name ending in `_KEY` instead of `_ACCOUNT`. The operator of
//! the `.env` is the coordinator and the token's treasury.

use std::collections::HashMap;
use std::path::Path;

use super::RunError;
use super::log::Wiring;
use crate::check::Festival;
use crate::diagnostics::Sources;
use crate::ledger::hedera::{HederaConfig, HederaLedger};
use crate::ledger::{AccountId, Ledger, LedgerError, TokenId, TopicId};
use crate::load::load;
use crate::spec::{ProcessEnv, Spanned};
use crate::wire::{SigningKey, VerifyingKey, generate_key, parse_public_key, parse_secret_key, secret_hex};

/// Looks a variable up (the process environment after `.env`, or a test's map).
pub type Vars<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// The process environment (after `.env`) with `HEDERA_NETWORK` set to `network`; an empty
/// value counts as unset.
pub fn environment(network: &str) -> impl Fn(&str) -> Option<String> + use<> {
    let network = network.to_string();
    move |name: &str| {
        if name == "HEDERA_NETWORK" {
            return Some(network.clone());
        }
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

/// The coordinator's account: `COORDINATOR_ID` (on an agent's or approver's machine), else the
/// operator, `OPERATOR_ID`.
pub fn coordinator_account(vars: Vars<'_>) -> Result<AccountId, RunError> {
    Ok(vars("COORDINATOR_ID")
        .or_else(|| vars("OPERATOR_ID"))
        .ok_or_else(|| RunError::Setup("set COORDINATOR_ID (or OPERATOR_ID) to the coordinator's account".into()))?
        .parse()?)
}

/// Someone who signs messages on the festival's topics and pays for them from an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The agent's or approver's id in the workflow.
    pub id: String,
    pub account_var: String,
    pub key_var: String,
}

/// The variable a workflow reads an account from: `${AGENT_1_ACCOUNT:-0.0.1001}` gives
/// `AGENT_1_ACCOUNT`; a literal account gives `None`.
#[must_use]
pub fn account_var(sources: &Sources, account: &Spanned<String>) -> Option<String> {
    let text = sources.text(account.span.file).get(account.span.range())?;
    let rest = &text[text.find("${")? + 2..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_string())
}

/// The key variable beside an account variable: `AGENT_1_ACCOUNT` → `AGENT_1_KEY`.
#[must_use]
pub fn key_var(account_var: &str) -> String {
    let stem = account_var
        .strip_suffix("_ACCOUNT_ID")
        .or_else(|| account_var.strip_suffix("_ACCOUNT"))
        .unwrap_or(account_var);
    format!("{stem}_KEY")
}

/// The festival's signers whose accounts come from variables, agents first.
#[must_use]
pub fn signers(sources: &Sources, festival: &Festival) -> Vec<Signer> {
    let agents = festival.agents.iter().map(|a| (&a.id.value, a.account.as_ref()));
    let approvers = festival.approvers.iter().map(|a| (&a.id.value, a.account.as_ref()));
    agents
        .chain(approvers)
        .filter_map(|(id, account)| {
            let account_var = account_var(sources, account?)?;
            Some(Signer {
                id: id.clone(),
                key_var: key_var(&account_var),
                account_var,
            })
        })
        .collect()
}

/// A signer's private key from its key variable, if set.
pub fn signer_key(signer: &Signer, vars: Vars<'_>) -> Result<Option<SigningKey>, RunError> {
    vars(&signer.key_var)
        .filter(|v| !v.trim().is_empty())
        .map(|text| parse_secret_key(&text).map_err(|e| RunError::Setup(format!("`{}`: {e}", signer.key_var))))
        .transpose()
}

/// The key of signer `id` (an agent or approver) from the variable beside its account's in the
/// workflow at `path` (`AGENT_1_ACCOUNT` → `AGENT_1_KEY`, as `baton setup` writes them).
pub fn workflow_key(path: &Path, festival: &Festival, id: &str, vars: Vars<'_>) -> Result<SigningKey, RunError> {
    let loaded = load(path, &ProcessEnv).map_err(|e| RunError::Setup(e.to_string()))?;
    let signer = signers(&loaded.sources, festival)
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| {
            RunError::Setup(format!(
                "`{id}`'s account is not read from a variable; pass `--key-env VAR`"
            ))
        })?;
    signer_key(&signer, vars)?
        .ok_or_else(|| RunError::Setup(format!("`{}` is not set (`baton setup` writes it)", signer.key_var)))
}

/// A client paying from signer `id`'s own account (an approver's, else an agent's, as the workflow
/// names it) with its key: from the variable `key_env` when given, else from the variable beside
/// the account's in the workflow at `path`. Check the key with [`check_signer_key`] once the
/// festival's wiring is known.
pub fn signer_client(
    path: &Path,
    festival: &Festival,
    id: &str,
    key_env: Option<&str>,
    vars: Vars<'_>,
) -> Result<(HederaLedger, SigningKey, AccountId), RunError> {
    let key = match key_env {
        Some(var) => {
            let text =
                vars(var).ok_or_else(|| RunError::Setup(format!("the environment variable `{var}` is not set")))?;
            parse_secret_key(&text).map_err(|e| RunError::Setup(format!("`{var}`: {e}")))?
        }
        None => workflow_key(path, festival, id, vars)?,
    };
    let approvers = festival.approvers.iter().map(|a| (&a.id.value, a.account.as_ref()));
    let agents = festival.agents.iter().map(|a| (&a.id.value, a.account.as_ref()));
    let account: AccountId = approvers
        .chain(agents)
        .find(|(who, _)| *who == id)
        .and_then(|(_, account)| account)
        .ok_or_else(|| RunError::Setup(format!("`{id}` has no `account` in the workflow")))?
        .value
        .parse()?;
    let config = HederaConfig::from_vars(&paying_as(vars, &account, &key))?;
    Ok((HederaLedger::connect(config)?, key, account))
}

/// Refuses a key that is not the one the festival knows for signer `id` (its account's key).
pub fn check_signer_key(wiring: &Wiring, id: &str, key: &SigningKey, account: &AccountId) -> Result<(), RunError> {
    let known = wiring.approver_keys.get(id).or_else(|| wiring.agent_keys.get(id));
    if known.map(VerifyingKey::as_bytes) == Some(key.verifying_key().as_bytes()) {
        return Ok(());
    }
    Err(RunError::Setup(format!(
        "the key given for `{id}` is not the key its account `{account}` holds"
    )))
}

/// `vars` with the operator replaced by `account` and `key`: a client paying as that signer.
pub fn paying_as<'a>(vars: Vars<'a>, account: &AccountId, key: &SigningKey) -> impl Fn(&str) -> Option<String> + 'a {
    let (id, secret) = (account.to_string(), secret_hex(key));
    move |name: &str| match name {
        "OPERATOR_ID" => Some(id.clone()),
        "OPERATOR_KEY" => Some(secret.clone()),
        _ => vars(name),
    }
}

/// The festival's wiring on a Hedera network, checked against the network's accounts.
/// `coordinator` is the coordinator's account (the `.env` operator on the coordinator's machine):
/// the token's treasury, whose key signs the coordinator's messages.
pub async fn wiring(
    ledger: &HederaLedger,
    coordinator: &AccountId,
    festival: &Festival,
    vars: Vars<'_>,
) -> Result<Wiring, RunError> {
    let topic = |declared: &Option<String>, var: &str| -> Result<TopicId, RunError> {
        let text = declared.clone().or_else(|| vars(var).filter(|v| !v.is_empty()));
        let text =
            text.ok_or_else(|| RunError::Setup(format!("no topic: set `{var}` (`baton setup` creates the topics)")))?;
        Ok(text.parse()?)
    };
    let tasks_topic = topic(&festival.topics.tasks, "TASK_TOPIC_ID")?;
    let status_topic = topic(&festival.topics.status, "STATUS_TOPIC_ID")?;
    let token: TokenId = match &festival.payment.token {
        Some(t) => t.value.parse()?,
        None => return Err(RunError::Setup("the workflow names no `payment.token`".into())),
    };
    ledger
        .ensure_token(&token, "", festival.payment.decimals, coordinator, 0)
        .await?;
    let coordinator_key = signer_public(ledger, "coordinator", None, coordinator).await?;
    let mut accounts = HashMap::new();
    let mut agent_keys = HashMap::new();
    for agent in &festival.agents {
        let id = &agent.id.value;
        let account: AccountId = agent
            .account
            .as_ref()
            .ok_or_else(|| RunError::Setup(format!("agent `{id}` has no `account`")))?
            .value
            .parse()?;
        agent_keys.insert(
            id.clone(),
            signer_public(ledger, id, agent.public_key.as_deref(), &account).await?,
        );
        accounts.insert(id.clone(), account);
    }
    let mut approver_keys = HashMap::new();
    for approver in &festival.approvers {
        let id = &approver.id.value;
        let key = match (&approver.public_key, &approver.account) {
            (Some(text), _) => {
                parse_public_key(text).map_err(|e| RunError::Setup(format!("the public key of `{id}`: {e}")))?
            }
            (None, Some(account)) => signer_public(ledger, id, None, &account.value.parse()?).await?,
            (None, None) => {
                return Err(RunError::Setup(format!(
                    "approver `{id}` has neither a `public_key` nor an `account`"
                )));
            }
        };
        approver_keys.insert(id.clone(), key);
    }
    Ok(Wiring {
        festival: festival.id.clone(),
        tasks_topic,
        status_topic,
        token,
        treasury: coordinator.clone(),
        accounts,
        coordinator_key,
        agent_keys,
        approver_keys,
    })
}

/// A signer's public key: declared in the workflow, else the key its account holds.
async fn signer_public(
    ledger: &HederaLedger,
    id: &str,
    declared: Option<&str>,
    account: &AccountId,
) -> Result<VerifyingKey, RunError> {
    if let Some(text) = declared {
        return parse_public_key(text).map_err(|e| RunError::Setup(format!("the public key of `{id}`: {e}")));
    }
    let bytes = ledger.account_key(account).await?.ok_or_else(|| {
        RunError::Setup(format!(
            "account `{account}` of `{id}` does not exist on this network (`baton setup` creates it)"
        ))
    })?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| RunError::Setup(format!("account `{account}` of `{id}` holds an invalid key")))
}

/// What `baton setup` found or made: each variable with its value, and what it created.
#[derive(Debug, Default)]
pub struct Provisioned {
    pub vars: Vec<(String, String)>,
    pub created: Vec<String>,
}

/// What the festival needs on the network, and what exists already.
#[derive(Debug)]
pub struct Provision<'a> {
    pub signers: &'a [Signer],
    pub decimals: u32,
    pub supply: i64,
    /// HBAR each new account receives from the operator, in tinybars.
    pub fund_tinybars: i64,
}

impl Provision<'_> {
    /// The variables whose current, non-empty value would have to change: the token, topics or
    /// accounts they name do not exist or do not match their keys.
    pub async fn stale(&self, ledger: &HederaLedger, vars: Vars<'_>) -> Result<Vec<String>, RunError> {
        let mut stale = Vec::new();
        let set = |name: &str| vars(name).filter(|v| !v.trim().is_empty());
        if set("PAYMENT_TOKEN_ID").is_some() && self.token(ledger, vars).await?.is_none() {
            stale.push("PAYMENT_TOKEN_ID".to_string());
        }
        for signer in self.signers {
            if (set(&signer.account_var).is_some() || set(&signer.key_var).is_some())
                && existing_signer(ledger, signer, vars).await?.is_none()
            {
                stale.extend([signer.account_var.clone(), signer.key_var.clone()]);
            }
        }
        Ok(stale)
    }

    /// The token named by `PAYMENT_TOKEN_ID`, when it exists on the network.
    async fn token(&self, ledger: &HederaLedger, vars: Vars<'_>) -> Result<Option<TokenId>, RunError> {
        let Some(text) = vars("PAYMENT_TOKEN_ID").filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        let Ok(token) = text.parse::<TokenId>() else {
            return Ok(None);
        };
        match ledger
            .ensure_token(&token, "", self.decimals, ledger.operator(), 0)
            .await
        {
            Ok(()) => Ok(Some(token)),
            // Missing, deleted, or with other decimals: not the festival's token.
            Err(LedgerError::UnknownToken(_) | LedgerError::Unsupported { .. } | LedgerError::Other(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Finds or creates the token, the topics and every signer's account; associates new accounts
    /// (or all of them, with a new token) with the token.
    pub async fn apply(&self, ledger: &HederaLedger, vars: Vars<'_>) -> Result<Provisioned, RunError> {
        let mut out = Provisioned::default();
        let (token, new_token) = match self.token(ledger, vars).await? {
            Some(token) => (token, false),
            None => {
                let token = ledger
                    .create_token("baton rewards", "BATON", self.decimals, self.supply)
                    .await?;
                out.created.push(format!("token {token}"));
                (token, true)
            }
        };
        out.vars.push(("PAYMENT_TOKEN_ID".into(), token.to_string()));
        for var in ["TASK_TOPIC_ID", "STATUS_TOPIC_ID"] {
            let topic = match vars(var).filter(|v| !v.trim().is_empty()) {
                Some(text) => text.parse::<TopicId>()?,
                None => {
                    let topic = ledger.create_topic(&format!("baton {}", var.to_lowercase())).await?;
                    out.created.push(format!("topic {topic} ({var})"));
                    topic
                }
            };
            out.vars.push((var.into(), topic.to_string()));
        }
        for signer in self.signers {
            let (account, key, new) = match existing_signer(ledger, signer, vars).await? {
                Some((account, key)) => (account, key, false),
                None => {
                    let key = generate_key();
                    let account = ledger.create_account(&key.verifying_key(), self.fund_tinybars).await?;
                    out.created.push(format!("account {account} for `{}`", signer.id));
                    (account, key, true)
                }
            };
            if new || new_token {
                ledger.associate_as(&account, &key, &token).await?;
            }
            out.vars.push((signer.account_var.clone(), account.to_string()));
            out.vars.push((signer.key_var.clone(), secret_hex(&key)));
        }
        Ok(out)
    }
}

/// A signer whose variables name an account that exists and holds the key they give.
async fn existing_signer(
    ledger: &HederaLedger,
    signer: &Signer,
    vars: Vars<'_>,
) -> Result<Option<(AccountId, SigningKey)>, RunError> {
    let Some(Ok(account)) = vars(&signer.account_var).map(|v| v.trim().parse::<AccountId>()) else {
        return Ok(None);
    };
    let Ok(Some(key)) = signer_key(signer, vars) else {
        return Ok(None);
    };
    let held = match ledger.account_key(&account).await {
        Ok(held) => held,
        Err(LedgerError::UnknownAccount(_) | LedgerError::Unsupported { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    Ok((held == Some(key.verifying_key().to_bytes())).then_some((account, key)))
}
