//! Accounts: creating them (the network chooses the id), checking that one exists with a given
//! key, reading its key and its hbar balance.

use hiero_sdk::{AccountBalanceQuery, AccountCreateTransaction, AccountInfo, AccountInfoQuery, Hbar, Key, PublicKey};
use hiero_sdk::{Status as Code, TokenId as SdkTokenId};

use super::client::Connection;
use super::ids;
use super::status::{last_attempt, ledger_error, precheck};
use super::topics::{missing, succeeded};
use crate::ledger::{AccountId, LedgerError};
use crate::wire::VerifyingKey;

/// Creates an account holding `key` with `initial_tinybars`, paid by the operator.
pub(crate) async fn create(
    conn: &Connection,
    key: &VerifyingKey,
    initial_tinybars: i64,
) -> Result<AccountId, LedgerError> {
    let operation = "creating an account".to_owned();
    let public = PublicKey::from_bytes_ed25519(key.as_bytes())
        .map_err(|_| LedgerError::Other(format!("{operation}: the public key is not an ed25519 key")))?;
    let mut tx = AccountCreateTransaction::new();
    tx.set_key_without_alias(public)
        .initial_balance(Hbar::from_tinybars(initial_tinybars));
    let executed = conn.execute_fresh("create_account", &operation, tx.into()).await?;
    let receipt = succeeded(&operation, executed)?.receipt;
    receipt
        .account_id
        .map(|id| ids::from_account(&id))
        .ok_or_else(|| missing(&operation, "account id"))
}

/// Checks that `account` exists and holds `public_key`: on Hedera an account cannot be created
/// with an id of one's choosing.
pub(crate) async fn ensure(conn: &Connection, account: &AccountId, public_key: &[u8; 32]) -> Result<(), LedgerError> {
    let Some(info) = info(conn, account).await? else {
        return Err(LedgerError::Unsupported {
            operation: format!("creating account `{account}`"),
            reason: "on Hedera the network chooses account ids, and this one does not exist: create the \
                     account first (e.g. with `baton setup testnet`) and name it in `.env`"
                .to_owned(),
        });
    };
    match ed25519_key(account, &info.key)? {
        key if key == *public_key => Ok(()),
        _ => Err(LedgerError::KeyMismatch(account.clone())),
    }
}

/// The account's ed25519 key, `None` when the account does not exist; an error naming the account
/// when its key is of another kind (ECDSA, a key list, a contract).
pub(crate) async fn key(conn: &Connection, account: &AccountId) -> Result<Option<[u8; 32]>, LedgerError> {
    match info(conn, account).await? {
        Some(info) => ed25519_key(account, &info.key).map(Some),
        None => Ok(None),
    }
}

/// The account's hbar balance in tinybars.
pub(crate) async fn hbar_balance(conn: &Connection, account: &AccountId) -> Result<i64, LedgerError> {
    let operation = format!("reading the hbar balance of account `{account}`");
    let balance = balance(conn, account, &operation).await?;
    Ok(balance.hbars.to_tinybars())
}

/// The account's balance of `token` as the node reports it (0 when it reports none), in minor
/// units. Only custom networks still report token balances.
pub(crate) async fn token_balance(
    conn: &Connection,
    account: &AccountId,
    token: SdkTokenId,
) -> Result<i64, LedgerError> {
    let operation = format!(
        "reading the balance of token `{}` of account `{account}`",
        ids::from_token(&token)
    );
    let balance = balance(conn, account, &operation).await?;
    let units = balance.tokens.get(&token).copied().unwrap_or(0);
    i64::try_from(units).map_err(|_| LedgerError::Other(format!("{operation}: {units} does not fit in 64 bits")))
}

async fn balance(
    conn: &Connection,
    account: &AccountId,
    operation: &str,
) -> Result<hiero_sdk::AccountBalance, LedgerError> {
    let id = ids::account(account)?;
    let answer = conn
        .query(|| async move {
            let mut query = AccountBalanceQuery::new();
            query.account_id(id);
            query.execute(conn.client()).await
        })
        .await;
    answer.map_err(|e| match precheck(last_attempt(&e)) {
        Some(Code::InvalidAccountId | Code::AccountDeleted) => LedgerError::UnknownAccount(account.clone()),
        _ => ledger_error(operation, &e),
    })
}

/// What the network knows of an account; `None` when it does not exist (or was deleted).
async fn info(conn: &Connection, account: &AccountId) -> Result<Option<AccountInfo>, LedgerError> {
    let id = ids::account(account)?;
    let answer = conn
        .query(|| async move {
            let mut query = AccountInfoQuery::new();
            query.account_id(id);
            query.execute(conn.client()).await
        })
        .await;
    match answer {
        Ok(info) if info.is_deleted => Ok(None),
        Ok(info) => Ok(Some(info)),
        Err(e)
            if matches!(
                precheck(last_attempt(&e)),
                Some(Code::InvalidAccountId | Code::AccountDeleted)
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(ledger_error(&format!("reading account `{account}`"), &e)),
    }
}

/// The 32 bytes of a single ed25519 key; an error naming the account otherwise.
fn ed25519_key(account: &AccountId, key: &Key) -> Result<[u8; 32], LedgerError> {
    let unsupported = |kind: &str| LedgerError::Unsupported {
        operation: format!("reading the key of account `{account}`"),
        reason: format!("it holds {kind}; baton signs with single ed25519 keys"),
    };
    match key {
        Key::Single(public) if public.is_ed25519() => public
            .to_bytes_raw()
            .try_into()
            .map_err(|_| unsupported("a malformed ed25519 key")),
        Key::Single(_) => Err(unsupported("an ECDSA key")),
        Key::KeyList(_) => Err(unsupported("a key list")),
        _ => Err(unsupported("a contract key")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_ed25519_keys_are_read() {
        let account = AccountId("0.0.42".into());
        let signing = crate::wire::SigningKey::from_bytes(&[3; 32]);
        let public = PublicKey::from_bytes_ed25519(signing.verifying_key().as_bytes()).expect("valid key");
        let read = ed25519_key(&account, &Key::Single(public)).expect("an ed25519 key");
        assert_eq!(&read, signing.verifying_key().as_bytes());
        let ecdsa = hiero_sdk::PrivateKey::generate_ecdsa().public_key();
        let error = ed25519_key(&account, &Key::Single(ecdsa)).expect_err("not ed25519");
        assert!(error.to_string().contains("`0.0.42`"), "{error}");
        assert!(error.to_string().contains("ECDSA"), "{error}");
    }
}
