//! The devnet's fee schedule: one fixed fee per transaction type, in tinybars, charged to the
//! payer and credited to the node account. Hedera prices by resource use and an exchange rate;
//! these round figures are of the same order as its US-dollar fees.

use hiero_sdk_proto::services::transaction_body::Data;

/// Tinybars in one HBAR.
pub(crate) const TINYBARS_PER_HBAR: i64 = 100_000_000;

/// 0.001 ℏ: a transfer of HBAR and tokens.
pub(crate) const TRANSFER: i64 = TINYBARS_PER_HBAR / 1_000;
/// 0.0001 ℏ: one topic message (one chunk).
pub(crate) const SUBMIT_MESSAGE: i64 = TINYBARS_PER_HBAR / 10_000;
/// 0.01 ℏ: a topic.
pub(crate) const CREATE_TOPIC: i64 = TINYBARS_PER_HBAR / 100;
/// 1 ℏ: a token.
pub(crate) const CREATE_TOKEN: i64 = TINYBARS_PER_HBAR;
/// 0.05 ℏ: associating an account with tokens.
pub(crate) const ASSOCIATE: i64 = TINYBARS_PER_HBAR / 20;
/// 0.05 ℏ: an account.
pub(crate) const CREATE_ACCOUNT: i64 = TINYBARS_PER_HBAR / 20;
/// 0.01 ℏ: a schedule.
pub(crate) const CREATE_SCHEDULE: i64 = TINYBARS_PER_HBAR / 100;
/// 0.001 ℏ: a signature added to a schedule.
pub(crate) const SIGN_SCHEDULE: i64 = TINYBARS_PER_HBAR / 1_000;

/// The fee of a transaction body; `None` for the kinds the devnet does not execute.
pub(crate) fn fee(data: &Data) -> Option<i64> {
    Some(match data {
        Data::CryptoTransfer(_) => TRANSFER,
        Data::ConsensusSubmitMessage(_) => SUBMIT_MESSAGE,
        Data::ConsensusCreateTopic(_) => CREATE_TOPIC,
        Data::TokenCreation(_) => CREATE_TOKEN,
        Data::TokenAssociate(_) => ASSOCIATE,
        Data::CryptoCreateAccount(_) => CREATE_ACCOUNT,
        Data::ScheduleCreate(_) => CREATE_SCHEDULE,
        Data::ScheduleSign(_) => SIGN_SCHEDULE,
        _ => return None,
    })
}
