//! From a transaction body to what the ledger executes: the body's own checks (Hedera's "pure
//! checks", answered as pre-check statuses), the keys it needs besides the payer's, and the
//! lookups that can refuse it at consensus (an unknown account or topic: the payer still pays).

use hiero_sdk_proto::services::{self as pb, ResponseCodeEnum as Code, transaction_body::Data};
use prost::Message;

use super::model::{Key32, NetOp, NetTxId, NewToken, TokenMoves};
use super::sign::{self, Opened};
use super::{ids, schedule};
use crate::ledger::{AccountId, ConsensusTime, LedgerError, LocalLedger, TokenMove};

/// Longest memo, token name or symbol, in bytes.
pub(crate) const MAX_MEMO_BYTES: usize = 100;

/// Hedera's limit on HBAR movements in one transfer.
const MAX_HBAR_MOVES: usize = 10;

/// Why a transaction is not accepted: a pre-check status, a fee above the maximum the payer
/// allowed (`INSUFFICIENT_TX_FEE`, with the fee), or the ledger failed.
#[derive(Debug)]
pub(crate) enum Reject {
    Code(Code),
    Fee(i64),
    Ledger(LedgerError),
}

impl From<Code> for Reject {
    fn from(code: Code) -> Self {
        Self::Code(code)
    }
}

impl From<LedgerError> for Reject {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

/// A body ready for consensus.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) op: NetOp,
    /// Keys besides the payer's that must have signed.
    pub(crate) required: Vec<Key32>,
}

impl Prepared {
    fn new(op: NetOp, required: Vec<Key32>) -> Self {
        Self { op, required }
    }

    /// Refused at consensus with `code`.
    pub(crate) fn refused(code: Code) -> Self {
        Self::new(NetOp::Refused(code), Vec::new())
    }
}

/// What a body is prepared with.
pub(crate) struct Context<'a> {
    pub(crate) ledger: &'a LocalLedger,
    pub(crate) id: &'a NetTxId,
    /// The submitted transaction; `None` for the execution of a schedule.
    pub(crate) opened: Option<&'a Opened>,
    pub(crate) now: ConsensusTime,
}

/// Prepares a body of one of the kinds the devnet executes (`NOT_SUPPORTED` otherwise).
pub(crate) fn prepare(data: &Data, cx: &Context<'_>) -> Result<Prepared, Reject> {
    match data {
        Data::CryptoCreateAccount(body) => create_account(body),
        Data::CryptoTransfer(body) => transfer(body, cx),
        Data::ConsensusCreateTopic(body) => create_topic(body),
        Data::ConsensusSubmitMessage(body) => submit(body, cx),
        Data::TokenCreation(body) => create_token(body, cx),
        Data::TokenAssociate(body) => associate(body, cx),
        Data::ScheduleCreate(body) => schedule::prepare_create(body, cx),
        Data::ScheduleSign(body) => schedule::prepare_sign(body, cx),
        _ => Err(Code::NotSupported.into()),
    }
}

fn memo_ok(memo: &str) -> Result<(), Reject> {
    if memo.len() > MAX_MEMO_BYTES {
        return Err(Code::MemoTooLong.into());
    }
    Ok(())
}

/// The key of an existing account; `None` when there is no such account.
fn key_of(cx: &Context<'_>, account: &AccountId) -> Result<Option<Key32>, Reject> {
    Ok(cx.ledger.network_account(account)?.map(|a| a.key))
}

#[allow(deprecated)]
fn create_account(body: &pb::CryptoCreateTransactionBody) -> Result<Prepared, Reject> {
    memo_ok(&body.memo)?;
    if !body.alias.is_empty() {
        return Err(Code::NotSupported.into());
    }
    let key = sign::key32(body.key.as_ref().ok_or(Code::KeyRequired)?)?;
    let initial_balance = i64::try_from(body.initial_balance).map_err(|_| Code::InvalidInitialBalance)?;
    let op = NetOp::CreateAccount {
        key,
        initial_balance,
        memo: body.memo.clone(),
    };
    Ok(Prepared::new(op, Vec::new()))
}

/// One list of movements: ids by number, amounts summing to zero.
fn movements(list: &[pb::AccountAmount], unbalanced: Code) -> Result<Vec<TokenMove>, Reject> {
    let mut moves = Vec::with_capacity(list.len());
    let mut sum: i128 = 0;
    for amount in list {
        if amount.is_approval || amount.hook_call.is_some() {
            return Err(Code::NotSupported.into());
        }
        let account = amount
            .account_id
            .as_ref()
            .and_then(ids::account)
            .ok_or(Code::InvalidAccountId)?;
        sum += i128::from(amount.amount);
        moves.push(TokenMove {
            account,
            amount: amount.amount,
        });
    }
    if sum != 0 {
        return Err(unbalanced.into());
    }
    Ok(moves)
}

fn transfer(body: &pb::CryptoTransferTransactionBody, cx: &Context<'_>) -> Result<Prepared, Reject> {
    let hbar = movements(
        body.transfers.as_ref().map_or(&[][..], |t| &t.account_amounts),
        Code::InvalidAccountAmounts,
    )?;
    if hbar.len() > MAX_HBAR_MOVES {
        return Err(Code::TransferListSizeLimitExceeded.into());
    }
    let mut tokens = Vec::with_capacity(body.token_transfers.len());
    for list in &body.token_transfers {
        if !list.nft_transfers.is_empty() {
            return Err(Code::NotSupported.into());
        }
        let token = list.token.as_ref().and_then(ids::token).ok_or(Code::InvalidTokenId)?;
        let moves = movements(&list.transfers, Code::TransfersNotZeroSumForToken)?;
        tokens.push(TokenMoves { token, moves });
    }
    if tokens.iter().map(|t| t.moves.len()).sum::<usize>() > crate::ledger::MAX_TOKEN_MOVES {
        return Err(Code::TokenTransferListSizeLimitExceeded.into());
    }
    let mut required = Vec::new();
    let debits = hbar
        .iter()
        .chain(tokens.iter().flat_map(|t| &t.moves))
        .filter(|m| m.amount < 0);
    for debit in debits {
        match key_of(cx, &debit.account)? {
            Some(key) => required.push(key),
            None => return Ok(Prepared::refused(Code::InvalidAccountId)),
        }
    }
    Ok(Prepared::new(NetOp::Transfer { hbar, tokens }, required))
}

fn create_topic(body: &pb::ConsensusCreateTopicTransactionBody) -> Result<Prepared, Reject> {
    memo_ok(&body.memo)?;
    if !body.custom_fees.is_empty() || body.fee_schedule_key.is_some() {
        return Err(Code::NotSupported.into());
    }
    let admin_key = sign::optional_key32(body.admin_key.as_ref())?;
    let submit_key = sign::optional_key32(body.submit_key.as_ref())?;
    let op = NetOp::CreateTopic {
        memo: body.memo.clone(),
        admin_key,
        submit_key,
    };
    Ok(Prepared::new(op, admin_key.into_iter().collect()))
}

fn submit(body: &pb::ConsensusSubmitMessageTransactionBody, cx: &Context<'_>) -> Result<Prepared, Reject> {
    let topic = body
        .topic_id
        .as_ref()
        .and_then(ids::topic)
        .ok_or(Code::InvalidTopicId)?;
    if body.message.is_empty() {
        return Err(Code::InvalidTopicMessage.into());
    }
    if let Some(chunk) = &body.chunk_info {
        check_chunk(chunk, cx.id)?;
    }
    let Some(found) = cx.ledger.network_topic(&topic)? else {
        return Ok(Prepared::refused(Code::InvalidTopicId));
    };
    let op = NetOp::Submit {
        topic,
        payload: body.message.clone(),
        chunk: body.chunk_info.as_ref().map(Message::encode_to_vec),
    };
    Ok(Prepared::new(op, found.submit_key.into_iter().collect()))
}

/// Chunk numbers run from 1 to the total; the first chunk's id is the initial id, and every
/// chunk is paid by the initial id's payer.
fn check_chunk(chunk: &pb::ConsensusMessageChunkInfo, id: &NetTxId) -> Result<(), Reject> {
    if chunk.total < 1 || chunk.number < 1 || chunk.number > chunk.total {
        return Err(Code::InvalidChunkNumber.into());
    }
    let initial = chunk
        .initial_transaction_id
        .as_ref()
        .and_then(ids::tx_id)
        .ok_or(Code::InvalidChunkTransactionId)?;
    if initial.payer != id.payer || (chunk.number == 1 && initial != *id) {
        return Err(Code::InvalidChunkTransactionId.into());
    }
    Ok(())
}

fn create_token(body: &pb::TokenCreateTransactionBody, cx: &Context<'_>) -> Result<Prepared, Reject> {
    memo_ok(&body.memo)?;
    for (text, missing, too_long) in [
        (&body.name, Code::MissingTokenName, Code::TokenNameTooLong),
        (&body.symbol, Code::MissingTokenSymbol, Code::TokenSymbolTooLong),
    ] {
        if text.is_empty() {
            return Err(missing.into());
        }
        if text.len() > MAX_MEMO_BYTES {
            return Err(too_long.into());
        }
    }
    if body.token_type != pb::TokenType::FungibleCommon as i32 || !body.custom_fees.is_empty() {
        return Err(Code::NotSupported.into());
    }
    let supply = i64::try_from(body.initial_supply).map_err(|_| Code::InvalidTokenInitialSupply)?;
    let treasury = body
        .treasury
        .as_ref()
        .and_then(ids::account)
        .ok_or(Code::InvalidTreasuryAccountForToken)?;
    let admin_key = sign::optional_key32(body.admin_key.as_ref())?;
    let Some(treasury_key) = key_of(cx, &treasury)? else {
        return Ok(Prepared::refused(Code::InvalidTreasuryAccountForToken));
    };
    let token = NewToken {
        name: body.name.clone(),
        symbol: body.symbol.clone(),
        decimals: body.decimals,
        supply,
        treasury,
        admin_key,
        memo: body.memo.clone(),
    };
    let required = std::iter::once(treasury_key).chain(admin_key).collect();
    Ok(Prepared::new(NetOp::CreateToken(token), required))
}

fn associate(body: &pb::TokenAssociateTransactionBody, cx: &Context<'_>) -> Result<Prepared, Reject> {
    let account = body
        .account
        .as_ref()
        .and_then(ids::account)
        .ok_or(Code::InvalidAccountId)?;
    let mut tokens = Vec::with_capacity(body.tokens.len());
    for token in &body.tokens {
        let token = ids::token(token).ok_or(Code::InvalidTokenId)?;
        if tokens.contains(&token) {
            return Err(Code::TokenIdRepeatedInTokenList.into());
        }
        tokens.push(token);
    }
    let Some(key) = key_of(cx, &account)? else {
        return Ok(Prepared::refused(Code::InvalidAccountId));
    };
    Ok(Prepared::new(NetOp::Associate { account, tokens }, vec![key]))
}
