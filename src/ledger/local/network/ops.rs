//! Executing one transaction of the network layer: fee, operation, record, in one write.

use std::collections::BTreeMap;

use hiero_sdk_proto::services::ResponseCodeEnum as Code;
use rusqlite::{Connection, OptionalExtension};

use super::super::Cached;
use super::{accounts, exists, schedules, topics};
use crate::devnet::model::{NetOp, NetRecord, NewSchedule, NewToken, Step, TokenMoves};
use crate::ledger::local::{DbContext, next_consensus, next_entity, now_at, tokens};
use crate::ledger::{AccountId, LedgerError, MAX_TOKEN_MOVES, Status, TokenId, TokenMove};

/// The largest message one submission may carry, in bytes (Hedera's limit per chunk).
pub(crate) const MAX_MESSAGE_BYTES: usize = 1024;

/// Net HBAR movements of a transaction by account, in tinybars.
type HbarMoves = BTreeMap<AccountId, i128>;

/// Executes `step` unless its id has a record; returns the new record. Call inside a write
/// transaction.
pub(super) fn execute(conn: &Connection, step: &Step) -> Result<Option<NetRecord>, LedgerError> {
    let key = step.id.key();
    if seen(conn, &key)? {
        if let Some(schedule) = &step.schedule_ref {
            schedules::mark_executed(conn, schedule, now_at(conn)?)?;
        }
        return Ok(None);
    }
    let mut record = NetRecord::of(step);
    let mut moves = HbarMoves::new();
    let charged = charge(conn, step, &mut moves)?;
    if charged == Code::Success {
        record.fee = step.fee;
        run_op(conn, step, &mut record, &mut moves)?;
    } else {
        record.status = charged;
    }
    if record.consensus.0 == 0 {
        record.consensus = next_consensus(conn)?;
    }
    if let Some(schedule) = &step.schedule_ref {
        schedules::mark_executed(conn, schedule, record.consensus)?;
    }
    record.hbar = moves
        .into_iter()
        .filter(|(_, amount)| *amount != 0)
        .map(|(account, amount)| TokenMove {
            account,
            amount: i64::try_from(amount).unwrap_or_default(),
        })
        .collect();
    store(conn, &key, &record)?;
    Ok(Some(record))
}

/// Runs the operation in a savepoint: when it fails, its writes and its effects on the record
/// are undone, and only the status remains.
fn run_op(conn: &Connection, step: &Step, record: &mut NetRecord, moves: &mut HbarMoves) -> Result<(), LedgerError> {
    let (before, moves_before) = (record.clone(), moves.clone());
    conn.execute_batch("SAVEPOINT network_op")
        .during("starting an operation")?;
    let status = apply(conn, step, record, moves)?;
    if status == Code::Success {
        conn.execute_batch("RELEASE network_op")
            .during("finishing an operation")?;
        return Ok(());
    }
    conn.execute_batch("ROLLBACK TO network_op; RELEASE network_op")
        .during("undoing an operation")?;
    if status != Code::IdenticalScheduleAlreadyCreated {
        *record = before;
        *moves = moves_before;
    }
    record.status = status;
    Ok(())
}

/// Charges the fee to the payer and credits the node; the status says why it could not.
fn charge(conn: &Connection, step: &Step, moves: &mut HbarMoves) -> Result<Code, LedgerError> {
    let Some(balance) = accounts::hbar(conn, &step.id.payer)? else {
        return Ok(Code::PayerAccountNotFound);
    };
    if balance < step.fee {
        return Ok(Code::InsufficientPayerBalance);
    }
    move_hbar(conn, moves, &step.id.payer, -step.fee)?;
    move_hbar(conn, moves, &step.node, step.fee)?;
    Ok(Code::Success)
}

fn move_hbar(conn: &Connection, moves: &mut HbarMoves, account: &AccountId, amount: i64) -> Result<(), LedgerError> {
    accounts::add_hbar(conn, account, amount)?;
    *moves.entry(account.clone()).or_default() += i128::from(amount);
    Ok(())
}

/// Applies the operation; its status.
fn apply(conn: &Connection, step: &Step, record: &mut NetRecord, moves: &mut HbarMoves) -> Result<Code, LedgerError> {
    let payer = &step.id.payer;
    match &step.op {
        NetOp::CreateAccount {
            key,
            initial_balance,
            memo,
        } => create_account(conn, payer, key, *initial_balance, memo, record, moves),
        NetOp::Transfer { hbar, tokens } => transfer(conn, hbar, tokens, record, moves),
        NetOp::CreateTopic {
            memo,
            admin_key,
            submit_key,
        } => {
            record.topic = Some(topics::create(conn, memo, admin_key.as_ref(), submit_key.as_ref())?);
            Ok(Code::Success)
        }
        NetOp::Submit { topic, payload, chunk } => {
            if payload.len() > MAX_MESSAGE_BYTES {
                return Ok(Code::MessageSizeTooLarge);
            }
            if topics::topic(conn, topic)?.is_none() {
                return Ok(Code::InvalidTopicId);
            }
            let appended = topics::submit(conn, topic, payload, chunk.as_deref(), payer)?;
            record.sequence = appended.sequence;
            record.running_hash = appended.running_hash;
            record.consensus = appended.consensus;
            Ok(Code::Success)
        }
        NetOp::CreateToken(token) => create_token(conn, token, record),
        NetOp::Associate { account, tokens } => associate(conn, account, tokens),
        NetOp::CreateSchedule(schedule) => create_schedule(conn, schedule, record),
        NetOp::SignSchedule { schedule, signatories } => {
            let status = schedules::sign(conn, schedule, signatories)?;
            if status == Code::Success {
                record.scheduled = schedules::schedule(conn, schedule)?.map(|s| s.scheduled);
            }
            Ok(status)
        }
        NetOp::Refused(status) => Ok(*status),
    }
}

fn create_account(
    conn: &Connection,
    payer: &AccountId,
    key: &[u8; 32],
    initial_balance: i64,
    memo: &str,
    record: &mut NetRecord,
    moves: &mut HbarMoves,
) -> Result<Code, LedgerError> {
    if accounts::hbar(conn, payer)?.unwrap_or(0) < initial_balance {
        return Ok(Code::InsufficientPayerBalance);
    }
    let id = AccountId(next_entity(conn)?);
    tokens::ensure_account(conn, &id, key)?;
    conn.exec(
        "INSERT INTO net_accounts (id, tinybars, memo) VALUES (?1, 0, ?2)",
        (&id.0, memo),
    )
    .during("creating an account")?;
    move_hbar(conn, moves, payer, -initial_balance)?;
    move_hbar(conn, moves, &id, initial_balance)?;
    record.account = Some(id);
    Ok(Code::Success)
}

/// An atomic transfer of HBAR and tokens, checked as Hedera does before anything moves.
fn transfer(
    conn: &Connection,
    hbar: &[TokenMove],
    groups: &[TokenMoves],
    record: &mut NetRecord,
    moves: &mut HbarMoves,
) -> Result<Code, LedgerError> {
    let net = match hbar_changes(conn, hbar)? {
        Ok(net) => net,
        Err(refused) => return Ok(refused),
    };
    let groups = merge_groups(groups);
    if groups.iter().map(|g| g.moves.len()).sum::<usize>() > MAX_TOKEN_MOVES {
        return Ok(Code::TokenTransferListSizeLimitExceeded);
    }
    let mut updates = Vec::new();
    for group in &groups {
        match tokens::check(conn, &group.token, &group.moves)? {
            Ok(balances) => updates.push((&group.token, balances)),
            Err(refused) => return Ok(code_of(refused)),
        }
    }
    for (account, change) in net {
        move_hbar(conn, moves, account, i64::try_from(change).unwrap_or_default())?;
    }
    for (token, balances) in updates {
        for (account, amount) in balances {
            conn.exec(
                "UPDATE balances SET amount = ?3 WHERE account = ?1 AND token = ?2",
                (&account.0, &token.0, amount),
            )
            .during("moving tokens")?;
        }
    }
    record.tokens = groups;
    Ok(Code::Success)
}

/// Net HBAR changes by account, checked: they sum to zero, the accounts exist, no balance goes
/// below zero. `Ok(Err(status))` is a refusal.
fn hbar_changes<'m>(
    conn: &Connection,
    hbar: &'m [TokenMove],
) -> Result<Result<BTreeMap<&'m AccountId, i128>, Code>, LedgerError> {
    let mut net: BTreeMap<&AccountId, i128> = BTreeMap::new();
    for m in hbar {
        *net.entry(&m.account).or_default() += i128::from(m.amount);
    }
    if net.values().sum::<i128>() != 0 {
        return Ok(Err(Code::InvalidAccountAmounts));
    }
    for (account, change) in &net {
        let Some(held) = accounts::hbar(conn, account)? else {
            return Ok(Err(Code::InvalidAccountId));
        };
        if i128::from(held) + change < 0 {
            return Ok(Err(Code::InsufficientAccountBalance));
        }
    }
    Ok(Ok(net))
}

/// The movements of each token together, in the order the tokens first appear.
fn merge_groups(groups: &[TokenMoves]) -> Vec<TokenMoves> {
    let mut merged: Vec<TokenMoves> = Vec::new();
    for group in groups {
        match merged.iter_mut().find(|g| g.token == group.token) {
            Some(existing) => existing.moves.extend(group.moves.iter().cloned()),
            None => merged.push(group.clone()),
        }
    }
    merged
}

/// The Hedera code of a refusal by the ledger's own transfer checks.
fn code_of(status: Status) -> Code {
    match status {
        Status::Success => Code::Success,
        Status::InsufficientTokenBalance => Code::InsufficientTokenBalance,
        Status::TokenNotAssociatedToAccount => Code::TokenNotAssociatedToAccount,
        Status::InvalidAccountId => Code::InvalidAccountId,
        Status::InvalidTokenId => Code::InvalidTokenId,
        Status::TransfersNotZeroSumForToken => Code::TransfersNotZeroSumForToken,
        Status::TokenTransferListSizeLimitExceeded => Code::TokenTransferListSizeLimitExceeded,
        Status::TransactionExpired => Code::TransactionExpired,
    }
}

fn create_token(conn: &Connection, token: &NewToken, record: &mut NetRecord) -> Result<Code, LedgerError> {
    if accounts::hbar(conn, &token.treasury)?.is_none() {
        return Ok(Code::InvalidTreasuryAccountForToken);
    }
    let id = TokenId(next_entity(conn)?);
    let plain = tokens::NewToken {
        id: &id,
        symbol: &token.symbol,
        decimals: token.decimals,
        treasury: &token.treasury,
        supply: token.supply,
    };
    tokens::ensure_token(conn, &plain)?;
    conn.exec(
        "INSERT INTO net_tokens (id, name, memo, admin_key, total_supply) VALUES (?1, ?2, ?3, ?4, ?5)",
        (
            &id.0,
            &token.name,
            &token.memo,
            token.admin_key.map(|k| k.to_vec()),
            token.supply,
        ),
    )
    .during("creating a token")?;
    record.total_supply = u64::try_from(token.supply).unwrap_or_default();
    if token.supply > 0 {
        record.tokens = vec![TokenMoves {
            token: id.clone(),
            moves: vec![TokenMove {
                account: token.treasury.clone(),
                amount: token.supply,
            }],
        }];
    }
    record.token = Some(id);
    Ok(Code::Success)
}

fn associate(conn: &Connection, account: &AccountId, tokens_to_add: &[TokenId]) -> Result<Code, LedgerError> {
    if !tokens::account_exists(conn, account)? {
        return Ok(Code::InvalidAccountId);
    }
    for token in tokens_to_add {
        if !tokens::token_exists(conn, token)? {
            return Ok(Code::InvalidTokenId);
        }
        if tokens::stored_balance(conn, account, token)?.is_some() {
            return Ok(Code::TokenAlreadyAssociatedToAccount);
        }
        tokens::associate(conn, account, token)?;
    }
    Ok(Code::Success)
}

fn create_schedule(conn: &Connection, schedule: &NewSchedule, record: &mut NetRecord) -> Result<Code, LedgerError> {
    if schedule.expiration <= now_at(conn)? {
        return Ok(Code::ScheduleExpirationTimeMustBeHigherThanConsensusTime);
    }
    match schedules::create(conn, schedule, now_at(conn)?)? {
        schedules::Created::New(id) => {
            record.schedule = Some(id);
            record.scheduled = Some(schedule.scheduled.clone());
            Ok(Code::Success)
        }
        schedules::Created::Identical(id, scheduled) => {
            record.schedule = Some(id);
            record.scheduled = Some(scheduled);
            Ok(Code::IdenticalScheduleAlreadyCreated)
        }
    }
}

/// Whether a transaction id key has a record, here or among the `Ledger` trait's receipts.
pub(super) fn seen(conn: &Connection, key: &str) -> Result<bool, LedgerError> {
    Ok(exists(
        conn,
        "SELECT 1 FROM net_records WHERE tx = ?1",
        [key],
        "looking up a record",
    )? || exists(
        conn,
        "SELECT 1 FROM receipts WHERE tx = ?1",
        [key],
        "looking up a receipt",
    )?)
}

fn store(conn: &Connection, key: &str, record: &NetRecord) -> Result<(), LedgerError> {
    let text = serde_json::to_string(record)
        .map_err(|e| LedgerError::Other(format!("a transaction record could not be stored: {e}")))?;
    conn.exec(
        "INSERT INTO net_records (tx, consensus, record) VALUES (?1, ?2, ?3)",
        (key, record.consensus.0, text),
    )
    .during("storing a record")?;
    Ok(())
}

/// The record kept under a transaction id key.
pub(super) fn record(conn: &Connection, key: &str) -> Result<Option<NetRecord>, LedgerError> {
    let text: Option<String> = conn
        .row("SELECT record FROM net_records WHERE tx = ?1", [key], |row| row.get(0))
        .optional()
        .during("reading a record")?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| LedgerError::Other(format!("the record of `{key}` is unreadable: {e}")))
    })
    .transpose()
}
