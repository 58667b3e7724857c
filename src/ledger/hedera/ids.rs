//! Conversions between the ledger's ids and times and hiero-sdk's.
//!
//! Times cross as `hiero_sdk_proto::services::Timestamp` (seconds and nanoseconds), which the SDK
//! turns into and out of its own date type; every consensus time baton can hold (nanoseconds in an
//! `i64`, years 1677 to 2262) is in that type's range.

use hiero_sdk_proto::services::Timestamp;

use crate::ledger::{AccountId, ConsensusTime, LedgerError, ScheduleId, TokenId, TopicId, TxId};

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// `shard.realm.num` as numbers; `kind` names the id in the error.
fn parts(text: &str, kind: &'static str) -> Result<(u64, u64, u64), LedgerError> {
    let bad = || LedgerError::BadId {
        kind,
        id: text.to_owned(),
    };
    let mut numbers = text.split('.').map(|p| p.parse::<u64>().map_err(|_| bad()));
    let (Some(shard), Some(realm), Some(num), None) = (numbers.next(), numbers.next(), numbers.next(), numbers.next())
    else {
        return Err(bad());
    };
    Ok((shard?, realm?, num?))
}

pub(crate) fn account(id: &AccountId) -> Result<hiero_sdk::AccountId, LedgerError> {
    let (shard, realm, num) = parts(&id.0, "account")?;
    Ok(hiero_sdk::AccountId::new(shard, realm, num))
}

pub(crate) fn topic(id: &TopicId) -> Result<hiero_sdk::TopicId, LedgerError> {
    let (shard, realm, num) = parts(&id.0, "topic")?;
    Ok(hiero_sdk::TopicId::new(shard, realm, num))
}

pub(crate) fn token(id: &TokenId) -> Result<hiero_sdk::TokenId, LedgerError> {
    let (shard, realm, num) = parts(&id.0, "token")?;
    Ok(hiero_sdk::TokenId::new(shard, realm, num))
}

pub(crate) fn schedule(id: &ScheduleId) -> Result<hiero_sdk::ScheduleId, LedgerError> {
    let (shard, realm, num) = parts(&id.0, "schedule")?;
    Ok(hiero_sdk::ScheduleId::new(shard, realm, num))
}

pub(crate) fn from_account(id: &hiero_sdk::AccountId) -> AccountId {
    AccountId(format!("{}.{}.{}", id.shard, id.realm, id.num))
}

pub(crate) fn from_topic(id: &hiero_sdk::TopicId) -> TopicId {
    TopicId(format!("{}.{}.{}", id.shard, id.realm, id.num))
}

pub(crate) fn from_token(id: &hiero_sdk::TokenId) -> TokenId {
    TokenId(format!("{}.{}.{}", id.shard, id.realm, id.num))
}

pub(crate) fn from_schedule(id: &hiero_sdk::ScheduleId) -> ScheduleId {
    ScheduleId(format!("{}.{}.{}", id.shard, id.realm, id.num))
}

/// A consensus time as a protobuf timestamp (`nanos` always in `0..1e9`).
pub(crate) fn timestamp(time: ConsensusTime) -> Timestamp {
    let nanos = time.0.rem_euclid(NANOS_PER_SECOND);
    Timestamp {
        seconds: time.0.div_euclid(NANOS_PER_SECOND),
        // `rem_euclid` keeps it in 0..1e9, which fits an i32.
        nanos: i32::try_from(nanos).unwrap_or(0),
    }
}

/// A protobuf timestamp as a consensus time, saturating outside the `i64` range.
pub(crate) fn consensus(stamp: &Timestamp) -> ConsensusTime {
    let nanos = i128::from(stamp.seconds) * i128::from(NANOS_PER_SECOND) + i128::from(stamp.nanos);
    ConsensusTime(i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX }))
}

/// The SDK's transaction id for one chosen by the engine: same payer, same valid start.
pub(crate) fn transaction(tx: &TxId) -> Result<hiero_sdk::TransactionId, LedgerError> {
    Ok(hiero_sdk::TransactionId {
        account_id: account(&tx.payer)?,
        valid_start: timestamp(tx.valid_start).into(),
        nonce: None,
        scheduled: false,
    })
}

/// The engine's transaction id for one of the SDK's; scheduled and child (nonce) ids have none.
/// (The backend only sends ids the engine chose; this direction checks that they survive.)
#[cfg(test)]
pub(crate) fn from_transaction(id: &hiero_sdk::TransactionId) -> Result<TxId, LedgerError> {
    if id.scheduled || id.nonce.is_some_and(|n| n != 0) {
        return Err(LedgerError::BadId {
            kind: "transaction",
            id: id.to_string(),
        });
    }
    Ok(TxId {
        payer: from_account(&id.account_id),
        valid_start: consensus(&Timestamp::from(id.valid_start)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_cross_both_ways_unchanged() {
        for text in [
            "0.0.2@1700000000.000000001",
            "0.0.1234@1700000000.999999999",
            "1.2.3@0.000000000",
            "0.0.5@9223372036.854775807",
        ] {
            let tx: TxId = text.parse().expect("a valid id");
            let sdk = transaction(&tx).expect("converts");
            assert_eq!(from_transaction(&sdk).expect("converts back"), tx, "{text}");
            // The SDK's own text form parses to the same id.
            let reparsed: hiero_sdk::TransactionId = sdk.to_string().parse().expect("the SDK reads its text");
            assert_eq!(reparsed, sdk, "{text}");
        }
    }

    #[test]
    fn the_sdk_reads_the_engine_text_form() {
        let tx: TxId = "0.0.2@1700000000.000000042".parse().expect("valid");
        let sdk: hiero_sdk::TransactionId = tx.to_string().parse().expect("the SDK reads it");
        assert_eq!(sdk, transaction(&tx).expect("converts"));
        assert_eq!(sdk.valid_start.unix_timestamp_nanos(), 1_700_000_000_000_000_042);
    }

    #[test]
    fn scheduled_and_child_ids_are_refused() {
        let mut sdk = transaction(&"0.0.2@1.000000000".parse().expect("valid")).expect("converts");
        sdk.scheduled = true;
        assert!(from_transaction(&sdk).is_err());
        sdk.scheduled = false;
        sdk.nonce = Some(1);
        assert!(from_transaction(&sdk).is_err());
    }

    #[test]
    fn entity_ids_cross_both_ways() {
        let sdk = account(&AccountId("0.0.1001".into())).expect("valid");
        assert_eq!(sdk, hiero_sdk::AccountId::new(0, 0, 1001));
        assert_eq!(from_account(&sdk), AccountId("0.0.1001".into()));
        let topic_id = topic(&TopicId("1.2.3".into())).expect("valid");
        assert_eq!(from_topic(&topic_id), TopicId("1.2.3".into()));
        let token_id = token(&TokenId("0.0.5005".into())).expect("valid");
        assert_eq!(from_token(&token_id), TokenId("0.0.5005".into()));
        let schedule_id = schedule(&ScheduleId("0.0.9".into())).expect("valid");
        assert_eq!(from_schedule(&schedule_id), ScheduleId("0.0.9".into()));
    }

    #[test]
    fn ids_too_large_for_the_sdk_are_refused() {
        let huge = AccountId("0.0.99999999999999999999".into());
        assert!(matches!(
            account(&huge),
            Err(LedgerError::BadId { kind: "account", .. })
        ));
        assert!(topic(&TopicId("0.0".into())).is_err());
    }

    #[test]
    fn times_before_the_epoch_keep_positive_nanoseconds() {
        let stamp = timestamp(ConsensusTime(-1));
        assert_eq!((stamp.seconds, stamp.nanos), (-1, 999_999_999));
        assert_eq!(consensus(&stamp), ConsensusTime(-1));
        assert_eq!(consensus(&timestamp(ConsensusTime(i64::MAX))), ConsensusTime(i64::MAX));
    }
}
