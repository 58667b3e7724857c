//! Between Hedera's protobuf ids and times and the ledger's.

use hiero_sdk_proto::services as pb;

use super::model::NetTxId;
use crate::ledger::{AccountId, ConsensusTime, ScheduleId, TokenId, TopicId};

const NANOS: i64 = 1_000_000_000;

/// `shard.realm.num` from three numbers that must not be negative.
fn entity(shard: i64, realm: i64, num: i64) -> Option<String> {
    (shard >= 0 && realm >= 0 && num >= 0).then(|| format!("{shard}.{realm}.{num}"))
}

/// The three numbers of a ledger id (zeros where unreadable; ledger ids are always readable).
fn numbers(id: &str) -> (i64, i64, i64) {
    let mut parts = id.split('.').map(|p| p.parse::<i64>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

/// An account id by number; aliases are not supported.
pub(crate) fn account(id: &pb::AccountId) -> Option<AccountId> {
    match id.account {
        Some(pb::account_id::Account::AccountNum(num)) => entity(id.shard_num, id.realm_num, num).map(AccountId),
        _ => None,
    }
}

pub(crate) fn pb_account(id: &AccountId) -> pb::AccountId {
    let (shard_num, realm_num, num) = numbers(&id.0);
    pb::AccountId {
        shard_num,
        realm_num,
        account: Some(pb::account_id::Account::AccountNum(num)),
    }
}

pub(crate) fn topic(id: &pb::TopicId) -> Option<TopicId> {
    entity(id.shard_num, id.realm_num, id.topic_num).map(TopicId)
}

pub(crate) fn pb_topic(id: &TopicId) -> pb::TopicId {
    let (shard_num, realm_num, topic_num) = numbers(&id.0);
    pb::TopicId {
        shard_num,
        realm_num,
        topic_num,
    }
}

pub(crate) fn token(id: &pb::TokenId) -> Option<TokenId> {
    entity(id.shard_num, id.realm_num, id.token_num).map(TokenId)
}

pub(crate) fn pb_token(id: &TokenId) -> pb::TokenId {
    let (shard_num, realm_num, token_num) = numbers(&id.0);
    pb::TokenId {
        shard_num,
        realm_num,
        token_num,
    }
}

pub(crate) fn schedule(id: &pb::ScheduleId) -> Option<ScheduleId> {
    entity(id.shard_num, id.realm_num, id.schedule_num).map(ScheduleId)
}

pub(crate) fn pb_schedule(id: &ScheduleId) -> pb::ScheduleId {
    let (shard_num, realm_num, schedule_num) = numbers(&id.0);
    pb::ScheduleId {
        shard_num,
        realm_num,
        schedule_num,
    }
}

/// A timestamp as consensus time; `None` when out of range.
pub(crate) fn time(ts: &pb::Timestamp) -> Option<ConsensusTime> {
    if !(0..NANOS).contains(&i64::from(ts.nanos)) {
        return None;
    }
    ts.seconds
        .checked_mul(NANOS)
        .and_then(|s| s.checked_add(i64::from(ts.nanos)))
        .map(ConsensusTime)
}

pub(crate) fn timestamp(time: ConsensusTime) -> pb::Timestamp {
    pb::Timestamp {
        seconds: time.0.div_euclid(NANOS),
        nanos: i32::try_from(time.0.rem_euclid(NANOS)).unwrap_or(0),
    }
}

/// A transaction id with a payer by number and a valid start.
pub(crate) fn tx_id(id: &pb::TransactionId) -> Option<NetTxId> {
    Some(NetTxId {
        payer: account(id.account_id.as_ref()?)?,
        valid_start: time(id.transaction_valid_start.as_ref()?)?,
        scheduled: id.scheduled,
        nonce: id.nonce,
    })
}

pub(crate) fn pb_tx_id(id: &NetTxId) -> pb::TransactionId {
    pb::TransactionId {
        transaction_valid_start: Some(timestamp(id.valid_start)),
        account_id: Some(pb_account(&id.payer)),
        scheduled: id.scheduled,
        nonce: id.nonce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_times_round_trip() {
        let account_id = AccountId("0.0.1234".into());
        assert_eq!(account(&pb_account(&account_id)), Some(account_id));
        let t = ConsensusTime(1_700_000_000_123_456_789);
        assert_eq!(time(&timestamp(t)), Some(t));
        assert_eq!(time(&pb::Timestamp { seconds: 1, nanos: -1 }), None);
        let negative = pb::AccountId {
            shard_num: 0,
            realm_num: -1,
            account: Some(pb::account_id::Account::AccountNum(3)),
        };
        assert_eq!(account(&negative), None);
    }
}
