//! HBAR balances, accounts and tokens as the network layer reads and changes them.

use rusqlite::{Connection, OptionalExtension};

use super::super::Cached;
use super::key_column;
use crate::devnet::model::{Key32, NetAccount, NetToken, NetTokenBalance};
use crate::ledger::local::DbContext;
use crate::ledger::{AccountId, LedgerError, TokenId};

/// An account's HBAR balance in tinybars; `None` if the account does not exist.
pub(super) fn hbar(conn: &Connection, id: &AccountId) -> Result<Option<i64>, LedgerError> {
    conn.row(
        "SELECT COALESCE(n.tinybars, 0) FROM accounts a LEFT JOIN net_accounts n ON n.id = a.id WHERE a.id = ?1",
        [&id.0],
        |row| row.get(0),
    )
    .optional()
    .during("reading an HBAR balance")
}

/// Adds `delta` tinybars to an existing account's balance (negative takes them away). The
/// caller has checked the balance stays at or above zero.
pub(super) fn add_hbar(conn: &Connection, id: &AccountId, delta: i64) -> Result<(), LedgerError> {
    if delta == 0 {
        return Ok(());
    }
    conn.exec(
        "INSERT INTO net_accounts (id, tinybars) VALUES (?1, ?2) \
         ON CONFLICT(id) DO UPDATE SET tinybars = tinybars + excluded.tinybars",
        (&id.0, delta),
    )
    .during("moving HBAR")?;
    Ok(())
}

/// An account with its key, balance, memo and token relationships.
pub(super) fn account(conn: &Connection, id: &AccountId) -> Result<Option<NetAccount>, LedgerError> {
    let row: Option<(Vec<u8>, i64, String)> = conn
        .row(
            "SELECT a.public_key, COALESCE(n.tinybars, 0), COALESCE(n.memo, '') \
             FROM accounts a LEFT JOIN net_accounts n ON n.id = a.id WHERE a.id = ?1",
            [&id.0],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()
        .during("reading an account")?;
    let Some((key, tinybars, memo)) = row else {
        return Ok(None);
    };
    let key = Key32::try_from(key.as_slice())
        .map_err(|_| LedgerError::Other(format!("the key of account `{id}` is not an ed25519 key")))?;
    Ok(Some(NetAccount {
        id: id.clone(),
        key,
        tinybars,
        memo,
        tokens: token_balances(conn, id)?,
    }))
}

/// The tokens an account is associated with, by token id.
fn token_balances(conn: &Connection, id: &AccountId) -> Result<Vec<NetTokenBalance>, LedgerError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT b.token, t.symbol, t.decimals, b.amount FROM balances b JOIN tokens t ON t.id = b.token \
             WHERE b.account = ?1 ORDER BY b.token",
        )
        .during("reading token balances")?;
    let rows = statement
        .query_map([&id.0], |row| {
            Ok(NetTokenBalance {
                token: TokenId(row.get(0)?),
                symbol: row.get(1)?,
                decimals: row.get(2)?,
                balance: row.get(3)?,
            })
        })
        .during("reading token balances")?;
    rows.collect::<rusqlite::Result<_>>().during("reading token balances")
}

/// A token with what the network layer adds to it (a token made through the `Ledger` trait has
/// its symbol as name and its treasury's holding as supply).
pub(super) fn token(conn: &Connection, id: &TokenId) -> Result<Option<NetToken>, LedgerError> {
    conn.row(
        "SELECT t.symbol, t.decimals, t.treasury, COALESCE(n.name, t.symbol), COALESCE(n.memo, ''), n.admin_key, \
         COALESCE(n.total_supply, (SELECT SUM(amount) FROM balances WHERE token = t.id), 0) \
         FROM tokens t LEFT JOIN net_tokens n ON n.id = t.id WHERE t.id = ?1",
        [&id.0],
        |row| {
            Ok(NetToken {
                id: id.clone(),
                symbol: row.get(0)?,
                decimals: row.get(1)?,
                treasury: AccountId(row.get(2)?),
                name: row.get(3)?,
                memo: row.get(4)?,
                admin_key: key_column(row.get(5)?),
                total_supply: row.get(6)?,
            })
        },
    )
    .optional()
    .during("reading a token")
}
