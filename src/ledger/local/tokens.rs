//! Accounts, the token, associations, balances, transfers and their receipts.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, OptionalExtension};

use super::{Cached, DbContext, TransferRecord, next_consensus};
use crate::ledger::{
    AccountId, ConsensusTime, LedgerError, MAX_TOKEN_MOVES, Receipt, Status, TokenId, TokenMove, TokenTransfer, TxId,
};

/// What `ensure_token` creates.
pub(super) struct NewToken<'a> {
    pub(super) id: &'a TokenId,
    pub(super) symbol: &'a str,
    pub(super) decimals: u32,
    pub(super) treasury: &'a AccountId,
    pub(super) supply: i64,
}

/// Creates the account if it does not exist; an existing one keeps its key.
pub(super) fn ensure_account(conn: &Connection, account: &AccountId, key: &[u8; 32]) -> Result<(), LedgerError> {
    conn.exec(
        "INSERT OR IGNORE INTO accounts (id, public_key) VALUES (?1, ?2)",
        (&account.0, key),
    )
    .during("creating an account")?;
    Ok(())
}

pub(super) fn account_exists(conn: &Connection, account: &AccountId) -> Result<bool, LedgerError> {
    let found = conn
        .row("SELECT 1 FROM accounts WHERE id = ?1", [&account.0], |_| Ok(()))
        .optional()
        .during("looking up an account")?;
    Ok(found.is_some())
}

pub(super) fn token_exists(conn: &Connection, token: &TokenId) -> Result<bool, LedgerError> {
    let found = conn
        .row("SELECT 1 FROM tokens WHERE id = ?1", [&token.0], |_| Ok(()))
        .optional()
        .during("looking up a token")?;
    Ok(found.is_some())
}

/// The balance row of an association, `None` if the account is not associated with the token.
pub(super) fn stored_balance(
    conn: &Connection,
    account: &AccountId,
    token: &TokenId,
) -> Result<Option<i64>, LedgerError> {
    conn.row(
        "SELECT amount FROM balances WHERE account = ?1 AND token = ?2",
        [&account.0, &token.0],
        |row| row.get(0),
    )
    .optional()
    .during("reading a balance")
}

/// Whether the account exists (`None` if not) and, if it does, its balance row of the token
/// (`Some(None)` when it is not associated with it).
fn account_balance(
    conn: &Connection,
    account: &AccountId,
    token: &TokenId,
) -> Result<Option<Option<i64>>, LedgerError> {
    conn.row(
        "SELECT b.amount FROM accounts a LEFT JOIN balances b ON b.account = a.id AND b.token = ?2 WHERE a.id = ?1",
        [&account.0, &token.0],
        |row| row.get(0),
    )
    .optional()
    .during("reading a balance")
}

/// Creates the token with its supply held by the treasury, unless it exists. Call inside a write
/// transaction.
pub(super) fn ensure_token(conn: &Connection, token: &NewToken<'_>) -> Result<(), LedgerError> {
    if token_exists(conn, token.id)? {
        return Ok(());
    }
    if !account_exists(conn, token.treasury)? {
        return Err(LedgerError::UnknownAccount(token.treasury.clone()));
    }
    if token.supply < 0 {
        return Err(LedgerError::Other(format!(
            "token `{}` cannot have a negative supply",
            token.id
        )));
    }
    conn.exec(
        "INSERT INTO tokens (id, symbol, decimals, treasury) VALUES (?1, ?2, ?3, ?4)",
        (&token.id.0, token.symbol, token.decimals, &token.treasury.0),
    )
    .during("creating a token")?;
    conn.exec(
        "INSERT INTO balances (account, token, amount) VALUES (?1, ?2, ?3)",
        (&token.treasury.0, &token.id.0, token.supply),
    )
    .during("crediting a token's treasury")?;
    Ok(())
}

/// Associates the account with the token (a balance of 0), unless it already is.
pub(super) fn associate(conn: &Connection, account: &AccountId, token: &TokenId) -> Result<(), LedgerError> {
    if !account_exists(conn, account)? {
        return Err(LedgerError::UnknownAccount(account.clone()));
    }
    if !token_exists(conn, token)? {
        return Err(LedgerError::UnknownToken(token.clone()));
    }
    conn.exec(
        "INSERT OR IGNORE INTO balances (account, token, amount) VALUES (?1, ?2, 0)",
        [&account.0, &token.0],
    )
    .during("associating an account with a token")?;
    Ok(())
}

/// An account's balance of a token: 0 if it is not associated with it.
pub(super) fn balance(conn: &Connection, account: &AccountId, token: &TokenId) -> Result<i64, LedgerError> {
    if !account_exists(conn, account)? {
        return Err(LedgerError::UnknownAccount(account.clone()));
    }
    if !token_exists(conn, token)? {
        return Err(LedgerError::UnknownToken(token.clone()));
    }
    Ok(stored_balance(conn, account, token)?.unwrap_or(0))
}

/// Executes a transfer under `tx`, or refuses it with a status; either way the receipt is stored
/// and returned. A transaction id already seen is `Duplicate`. Call inside a write transaction.
pub(super) fn transfer(
    conn: &Connection,
    tx: &TxId,
    token: &TokenId,
    moves: &[TokenMove],
    memo: &str,
) -> Result<Receipt, LedgerError> {
    let mut book = Book::default();
    let receipt = transfer_in(conn, &mut book, tx, token, moves, memo)?;
    book.write(conn)?;
    Ok(receipt)
}

/// [`transfer`] with the balances it reads and moves in `book`, written back by
/// [`Book::write`].
fn transfer_in(
    conn: &Connection,
    book: &mut Book,
    tx: &TxId,
    token: &TokenId,
    moves: &[TokenMove],
    memo: &str,
) -> Result<Receipt, LedgerError> {
    if receipt(conn, tx)?.is_some() {
        return Err(LedgerError::Duplicate(tx.clone()));
    }
    let status = match check_in(conn, book, token, moves)? {
        Err(refused) => refused,
        Ok(new_balances) => {
            for (account, amount) in new_balances {
                book.moved(account, token, amount);
            }
            Status::Success
        }
    };
    let consensus = next_consensus(conn)?;
    let key = tx.to_string();
    conn.exec(
        "INSERT INTO receipts (tx, status, consensus, memo) VALUES (?1, ?2, ?3, ?4)",
        (&key, status.to_string(), consensus.0, memo),
    )
    .during("storing a receipt")?;
    let moves_json = serde_json::to_string(moves)
        .map_err(|e| LedgerError::Other(format!("token movements could not be recorded: {e}")))?;
    conn.exec(
        "INSERT INTO transfers (tx, token, memo, moves) VALUES (?1, ?2, ?3, ?4)",
        (&key, &token.0, memo, moves_json),
    )
    .during("recording a transfer")?;
    Ok(Receipt {
        tx: tx.clone(),
        status,
        consensus,
    })
}

/// [`transfer`] for each of `transfers`, in order. A duplicate is that transfer's answer; any
/// other error ends them all, for the caller to roll back. Call inside a write transaction.
///
/// The balances are read once and written once for them all: a step's transfers pay the same
/// few accounts from the same treasury, and reading and writing each account's row for each
/// transfer was most of their time.
pub(super) fn transfer_all(
    conn: &Connection,
    transfers: &[TokenTransfer],
) -> Result<Vec<Result<Receipt, LedgerError>>, LedgerError> {
    let mut book = Book::default();
    let mut answers = Vec::with_capacity(transfers.len());
    for t in transfers {
        match transfer_in(conn, &mut book, &t.tx, &t.token, &t.moves, &t.memo) {
            Err(e @ LedgerError::Duplicate(_)) => answers.push(Err(e)),
            Err(e) => return Err(e),
            Ok(receipt) => answers.push(Ok(receipt)),
        }
    }
    book.write(conn)?;
    Ok(answers)
}

/// Checks a transfer as Hedera does, in its order. `Ok(Ok(balances))` gives each touched
/// account's balance after the transfer; `Ok(Err(status))` is a refusal.
#[cfg(feature = "hedera")]
pub(super) fn check(
    conn: &Connection,
    token: &TokenId,
    moves: &[TokenMove],
) -> Result<Result<BTreeMap<AccountId, i64>, Status>, LedgerError> {
    check_in(conn, &mut Book::default(), token, moves)
}

/// [`check`] with the balances as `book` holds them.
fn check_in(
    conn: &Connection,
    book: &mut Book,
    token: &TokenId,
    moves: &[TokenMove],
) -> Result<Result<BTreeMap<AccountId, i64>, Status>, LedgerError> {
    if moves.len() > MAX_TOKEN_MOVES {
        return Ok(Err(Status::TokenTransferListSizeLimitExceeded));
    }
    let mut net: BTreeMap<AccountId, i128> = BTreeMap::new();
    for m in moves {
        *net.entry(m.account.clone()).or_default() += i128::from(m.amount);
    }
    if net.values().sum::<i128>() != 0 {
        return Ok(Err(Status::TransfersNotZeroSumForToken));
    }
    if !book.token_exists(conn, token)? {
        return Ok(Err(Status::InvalidTokenId));
    }
    // Each account's balance row at one look: none for an unknown account, an empty one for an
    // account not associated with the token.
    let mut held = Vec::with_capacity(net.len());
    for account in net.keys() {
        match book.account_balance(conn, account, token)? {
            None => return Ok(Err(Status::InvalidAccountId)),
            Some(balance) => held.push(balance),
        }
    }
    let mut after = BTreeMap::new();
    for ((account, change), held) in net.into_iter().zip(held) {
        let Some(held) = held else {
            return Ok(Err(Status::TokenNotAssociatedToAccount));
        };
        match i64::try_from(i128::from(held) + change) {
            Ok(amount) if amount >= 0 => after.insert(account, amount),
            _ => return Ok(Err(Status::InsufficientTokenBalance)),
        };
    }
    Ok(Ok(after))
}

/// What the transfers of one database transaction have read of tokens and balances, and the
/// balances they moved, written back at its end.
#[derive(Default)]
struct Book {
    tokens: HashMap<TokenId, bool>,
    /// [`account_balance`] of each account and token read, as the transfers so far left it, and
    /// whether they moved it.
    rows: HashMap<(AccountId, TokenId), (Row, bool)>,
}

/// What [`account_balance`] found of an account and a token.
type Row = Option<Option<i64>>;

impl Book {
    fn token_exists(&mut self, conn: &Connection, token: &TokenId) -> Result<bool, LedgerError> {
        if let Some(&exists) = self.tokens.get(token) {
            return Ok(exists);
        }
        let exists = token_exists(conn, token)?;
        self.tokens.insert(token.clone(), exists);
        Ok(exists)
    }

    fn account_balance(&mut self, conn: &Connection, account: &AccountId, token: &TokenId) -> Result<Row, LedgerError> {
        let key = (account.clone(), token.clone());
        if let Some(&(row, _)) = self.rows.get(&key) {
            return Ok(row);
        }
        let row = account_balance(conn, account, token)?;
        self.rows.insert(key, (row, false));
        Ok(row)
    }

    /// The account's balance of the token is now `amount` (its row was read).
    fn moved(&mut self, account: AccountId, token: &TokenId, amount: i64) {
        self.rows.insert((account, token.clone()), (Some(Some(amount)), true));
    }

    /// Writes the balances moved.
    fn write(self, conn: &Connection) -> Result<(), LedgerError> {
        for ((account, token), row) in &self.rows {
            let (Some(Some(amount)), true) = row else { continue };
            conn.exec(
                "UPDATE balances SET amount = ?3 WHERE account = ?1 AND token = ?2",
                (&account.0, &token.0, amount),
            )
            .during("moving tokens")?;
        }
        Ok(())
    }
}

/// The receipt of `tx`, if the ledger has seen it.
pub(super) fn receipt(conn: &Connection, tx: &TxId) -> Result<Option<Receipt>, LedgerError> {
    let row: Option<(String, i64)> = conn
        .row(
            "SELECT status, consensus FROM receipts WHERE tx = ?1",
            [tx.to_string()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .during("reading a receipt")?;
    row.map(|(status, consensus)| {
        Ok(Receipt {
            tx: tx.clone(),
            status: parse_status(&status)?,
            consensus: ConsensusTime(consensus),
        })
    })
    .transpose()
}

/// Every transfer, in consensus order: id, memo, movements and status.
pub(super) fn transfers(conn: &Connection) -> Result<Vec<TransferRecord>, LedgerError> {
    let mut statement = conn
        .prepare(
            "SELECT t.tx, t.memo, t.moves, r.status FROM transfers t JOIN receipts r ON r.tx = t.tx \
             ORDER BY r.consensus",
        )
        .during("listing transfers")?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })
        .during("listing transfers")?;
    let mut listed = Vec::new();
    for row in rows {
        let (tx, memo, moves, status) = row.during("listing transfers")?;
        let moves = serde_json::from_str(&moves)
            .map_err(|e| LedgerError::Other(format!("the recorded movements of `{tx}` are unreadable: {e}")))?;
        listed.push((tx.parse()?, memo, moves, parse_status(&status)?));
    }
    Ok(listed)
}

fn parse_status(stored: &str) -> Result<Status, LedgerError> {
    serde_json::from_value(serde_json::Value::String(stored.to_owned()))
        .map_err(|_| LedgerError::Other(format!("the ledger holds an unknown status `{stored}`")))
}
