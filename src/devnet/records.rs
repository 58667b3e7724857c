//! A transaction's stored record as Hedera's `TransactionReceipt` and `TransactionRecord`.

use hiero_sdk_proto::services::{self as pb, ResponseCodeEnum as Code};

use super::ids;
use super::model::{NetRecord, RUNNING_HASH_VERSION, TokenMoves};
use crate::ledger::TokenMove;

/// The receipt of an executed transaction.
pub(crate) fn receipt(record: &NetRecord) -> pb::TransactionReceipt {
    let has_message = record.sequence > 0;
    pb::TransactionReceipt {
        status: record.status as i32,
        account_id: record.account.as_ref().map(ids::pb_account),
        topic_id: record.topic.as_ref().map(ids::pb_topic),
        token_id: record.token.as_ref().map(ids::pb_token),
        schedule_id: record.schedule.as_ref().map(ids::pb_schedule),
        scheduled_transaction_id: record.scheduled.as_ref().map(ids::pb_tx_id),
        topic_sequence_number: record.sequence,
        topic_running_hash: record.running_hash.clone(),
        topic_running_hash_version: if has_message { RUNNING_HASH_VERSION } else { 0 },
        new_total_supply: record.total_supply,
        ..pb::TransactionReceipt::default()
    }
}

/// The receipt of a transaction accepted but not yet at consensus.
pub(crate) fn pending_receipt() -> pb::TransactionReceipt {
    pb::TransactionReceipt {
        status: Code::Unknown as i32,
        ..pb::TransactionReceipt::default()
    }
}

/// The record of an executed transaction.
pub(crate) fn record(record: &NetRecord) -> pb::TransactionRecord {
    pb::TransactionRecord {
        receipt: Some(receipt(record)),
        transaction_hash: record.hash.clone(),
        consensus_timestamp: Some(ids::timestamp(record.consensus)),
        transaction_id: Some(ids::pb_tx_id(&record.id)),
        memo: record.memo.clone(),
        transaction_fee: u64::try_from(record.fee).unwrap_or(0),
        transfer_list: Some(pb::TransferList {
            account_amounts: amounts(&record.hbar),
        }),
        token_transfer_lists: record.tokens.iter().map(token_list).collect(),
        schedule_ref: record.schedule_ref.as_ref().map(ids::pb_schedule),
        ..pb::TransactionRecord::default()
    }
}

fn amounts(moves: &[TokenMove]) -> Vec<pb::AccountAmount> {
    moves
        .iter()
        .map(|m| pb::AccountAmount {
            account_id: Some(ids::pb_account(&m.account)),
            amount: m.amount,
            is_approval: false,
            hook_call: None,
        })
        .collect()
}

fn token_list(group: &TokenMoves) -> pb::TokenTransferList {
    pb::TokenTransferList {
        token: Some(ids::pb_token(&group.token)),
        transfers: amounts(&group.moves),
        nft_transfers: Vec::new(),
        expected_decimals: None,
    }
}
