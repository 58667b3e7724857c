//! The payment token: creating it, checking it exists, associating accounts, transfers under the
//! engine's transaction ids, their receipts, and balances.

use std::time::Duration;

use hiero_sdk::{
    PrivateKey, Status as Code, TokenAssociateTransaction, TokenCreateTransaction, TokenInfo, TokenInfoQuery,
    TransferTransaction,
};
use hiero_sdk_proto::services::Timestamp;

use super::accounts;
use super::client::{Connection, Failed};
use super::ids;
use super::status::{last_attempt, ledger_error, precheck, refused, status};
use super::topics::{missing, succeeded};
use crate::ledger::{AccountId, LedgerError, Receipt, TokenId, TokenMove, TxId};
use crate::wire::SigningKey;

/// How long [`receipt`] waits for the network to know a transaction: one sent moments ago
/// reaches consensus within a few seconds; one never sent stays unknown.
const RECEIPT_WAIT: Duration = Duration::from_secs(5);

/// Creates a fungible token with `supply` minor units held by the operator (its treasury), with
/// no admin, supply, freeze or KYC key: nobody can change it later.
pub(crate) async fn create(
    conn: &Connection,
    name: &str,
    symbol: &str,
    decimals: u32,
    supply: i64,
) -> Result<TokenId, LedgerError> {
    let operation = format!("creating token `{symbol}`");
    let supply = u64::try_from(supply)
        .map_err(|_| LedgerError::Other(format!("{operation}: the supply {supply} is negative")))?;
    let mut tx = TokenCreateTransaction::new();
    tx.name(name)
        .symbol(symbol)
        .decimals(decimals)
        .initial_supply(supply)
        .treasury_account_id(ids::account(&conn.operator)?);
    let executed = conn.execute_fresh("create_token", &operation, tx.into()).await?;
    let receipt = succeeded(&operation, executed)?.receipt;
    receipt
        .token_id
        .map(|id| ids::from_token(&id))
        .ok_or_else(|| missing(&operation, "token id"))
}

/// Checks that token `id` exists with `decimals`: on Hedera a token cannot be created with an id
/// of one's choosing.
pub(crate) async fn ensure(conn: &Connection, id: &TokenId, decimals: u32) -> Result<(), LedgerError> {
    let operation = format!("checking token `{id}`");
    let Some(info) = info(conn, id).await? else {
        return Err(LedgerError::Unsupported {
            operation: format!("creating token `{id}`"),
            reason: "on Hedera the network chooses token ids, and this one does not exist: create the token \
                     first (e.g. with `baton setup testnet`) and name it in `.env`"
                .to_owned(),
        });
    };
    if info.decimals != decimals {
        return Err(LedgerError::Other(format!(
            "{operation}: it has {} decimals, not {decimals}",
            info.decimals
        )));
    }
    Ok(())
}

async fn info(conn: &Connection, token: &TokenId) -> Result<Option<TokenInfo>, LedgerError> {
    let id = ids::token(token)?;
    let answer = conn
        .query(|| async move {
            let mut query = TokenInfoQuery::new();
            query.token_id(id);
            query.execute(conn.client()).await
        })
        .await;
    match answer {
        Ok(info) if info.is_deleted => Ok(None),
        Ok(info) => Ok(Some(info)),
        Err(e)
            if matches!(
                precheck(last_attempt(&e)),
                Some(Code::InvalidTokenId | Code::TokenWasDeleted)
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(ledger_error(&format!("reading token `{token}`"), &e)),
    }
}

/// Associates `account` with `token`, signed with the account's `key` (none for the operator,
/// who signs every transaction anyway). Already associated is not an error.
pub(crate) async fn associate(
    conn: &Connection,
    account: &AccountId,
    key: Option<&SigningKey>,
    token: &TokenId,
) -> Result<(), LedgerError> {
    let operation = format!("associating account `{account}` with token `{token}`");
    let mut tx = TokenAssociateTransaction::new();
    tx.account_id(ids::account(account)?).token_ids([ids::token(token)?]);
    if let Some(key) = key {
        let private = PrivateKey::from_bytes_ed25519(key.as_bytes())
            .map_err(|_| LedgerError::Other(format!("{operation}: the key is not an ed25519 key")))?;
        tx.sign(private);
    }
    let answer = match conn.execute_fresh("associate", &operation, tx.into()).await {
        Ok(executed) => executed.receipt.status,
        Err(LedgerError::Refused { status, .. }) => Code::from_str_name(&status).unwrap_or(Code::Unknown),
        Err(other) => return Err(other),
    };
    match answer {
        Code::Success | Code::TokenAlreadyAssociatedToAccount => Ok(()),
        Code::InvalidAccountId | Code::AccountDeleted => Err(LedgerError::UnknownAccount(account.clone())),
        Code::InvalidTokenId | Code::TokenWasDeleted => Err(LedgerError::UnknownToken(token.clone())),
        other => Err(refused(&operation, other)),
    }
}

/// Executes a token transfer under the engine's transaction id `tx`, whatever its receipt says.
/// A pre-check `DUPLICATE_TRANSACTION` is [`LedgerError::Duplicate`]; a validity window the
/// network's time is outside is [`LedgerError::Expired`]; another pre-check refusal is
/// [`LedgerError::Failed`] when the ledger names its status. A status the ledger does not name
/// (`TOKEN_IS_PAUSED`, ...) is a [`LedgerError::Refused`] with the network's name, even from a
/// receipt: [`crate::ledger::Status`] has no variant for it.
pub(crate) async fn transfer(
    conn: &Connection,
    tx: &TxId,
    token: &TokenId,
    moves: &[TokenMove],
    memo: &str,
) -> Result<Receipt, LedgerError> {
    let operation = format!("transferring token `{token}` under transaction `{tx}`");
    if tx.payer != conn.operator {
        return Err(LedgerError::Unsupported {
            operation,
            reason: format!(
                "the transaction is paid by `{}`, but this client signs as operator `{}`: connect with that \
                 account as the operator",
                tx.payer, conn.operator
            ),
        });
    }
    let sdk_token = ids::token(token)?;
    let mut transfer = TransferTransaction::new();
    for movement in moves {
        transfer.token_transfer(sdk_token, ids::account(&movement.account)?, movement.amount);
    }
    transfer.transaction_id(ids::transaction(tx)?).transaction_memo(memo);
    match conn.execute("transfer", &operation, transfer.into()).await {
        Ok(executed) => Ok(Receipt {
            tx: tx.clone(),
            status: status(executed.receipt.status).ok_or_else(|| refused(&operation, executed.receipt.status))?,
            consensus: executed.consensus.unwrap_or(tx.valid_start),
        }),
        Err(Failed::Duplicate(_)) => Err(LedgerError::Duplicate(tx.clone())),
        Err(Failed::Precheck(Code::TransactionExpired | Code::InvalidTransactionStart)) => {
            Err(LedgerError::Expired(tx.clone()))
        }
        Err(Failed::Precheck(code)) => Err(match status(code) {
            Some(named) => LedgerError::Failed {
                tx: tx.clone(),
                status: named,
            },
            None => refused(&operation, code),
        }),
        Err(Failed::Ledger(error)) => Err(error),
    }
}

/// The receipt of `tx` if the network knows it (nodes keep receipts for about three minutes);
/// its consensus time from the record, or the valid start when the record cannot be read.
/// `None` too for a transaction not at consensus yet: submitting it again under its id is safe
/// (the network answers `DUPLICATE_TRANSACTION`).
pub(crate) async fn receipt(conn: &Connection, tx: &TxId) -> Result<Option<Receipt>, LedgerError> {
    let id = ids::transaction(tx)?;
    let answer = match conn.receipt_within(id, RECEIPT_WAIT).await {
        Ok(receipt) if receipt.status == Code::Unknown => return Ok(None),
        Ok(receipt) => receipt,
        Err(e)
            if matches!(
                precheck(last_attempt(&e)),
                Some(Code::ReceiptNotFound | Code::RecordNotFound | Code::InvalidTransactionId | Code::Ok)
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(ledger_error(&format!("reading the receipt of transaction `{tx}`"), &e)),
    };
    let consensus = match conn.record(id).await {
        Ok(record) => ids::consensus(&Timestamp::from(record.consensus_timestamp)),
        Err(error) => {
            tracing::warn!(transaction = %tx, %error, "no record: the receipt's time is the valid start");
            tx.valid_start
        }
    };
    let named = status(answer.status)
        .ok_or_else(|| refused(&format!("reading the receipt of transaction `{tx}`"), answer.status))?;
    Ok(Some(Receipt {
        tx: tx.clone(),
        status: named,
        consensus,
    }))
}

/// An account's balance of a token, from the node (public networks' nodes no longer answer it:
/// read the mirror there).
pub(crate) async fn balance(conn: &Connection, account: &AccountId, token: &TokenId) -> Result<i64, LedgerError> {
    accounts::token_balance(conn, account, ids::token(token)?).await
}
