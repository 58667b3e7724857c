//! Ledger ids, messages, receipts and errors: Hedera's shapes, without the SDK.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// At most this many token movements in one transfer transaction (Hedera's limit).
pub const MAX_TOKEN_MOVES: usize = 10;

macro_rules! entity_id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A Hedera ", $what, " id, `shard.realm.num`.")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(pub String);

        impl FromStr for $name {
            type Err = LedgerError;
            fn from_str(s: &str) -> Result<Self, LedgerError> {
                Self::try_from(s.to_owned())
            }
        }
        impl TryFrom<String> for $name {
            type Error = LedgerError;
            fn try_from(s: String) -> Result<Self, LedgerError> {
                if is_entity_id(&s) {
                    Ok(Self(s))
                } else {
                    Err(LedgerError::BadId { kind: $what, id: s })
                }
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// Whether `s` is `shard.realm.num`: three runs of ASCII digits between two dots.
fn is_entity_id(s: &str) -> bool {
    let mut parts = 0;
    s.split('.').all(|part| {
        parts += 1;
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
    }) && parts == 3
}

entity_id!(AccountId, "account");
entity_id!(TopicId, "topic");
entity_id!(TokenId, "token");
entity_id!(ScheduleId, "schedule");

/// Consensus time: nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct ConsensusTime(pub i64);

impl ConsensusTime {
    #[must_use]
    pub fn plus_secs(self, secs: u64) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1_000_000_000)),
        )
    }
}

impl ConsensusTime {
    /// Writes `seconds.nanoseconds`, the nanoseconds nine digits, digit by digit: replicas write
    /// a transaction id for every payment they fold, and the formatting machinery showed in
    /// profiles.
    fn write_text(self, out: &mut String) {
        let secs = self.0.div_euclid(1_000_000_000);
        if secs < 0 {
            out.push('-');
        }
        push_digits(secs.unsigned_abs(), 1, out);
        out.push('.');
        push_digits(self.0.rem_euclid(1_000_000_000).unsigned_abs(), 9, out);
    }
}

/// Pushes `n` in decimal, with leading zeros up to `width` digits.
fn push_digits(mut n: u64, width: usize, out: &mut String) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    while n > 0 || digits.len() - at < width {
        at -= 1;
        // A digit is below ten.
        digits[at] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
    }
    out.extend(digits[at..].iter().map(|d| char::from(*d)));
}

impl fmt::Display for ConsensusTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(24);
        self.write_text(&mut text);
        f.pad(&text)
    }
}

/// A transaction id: the paying account and the valid-start time, `0.0.2@1700000000.000000001`.
/// Chosen by the caller, so that a retry with the same id can never execute twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TxId {
    pub payer: AccountId,
    pub valid_start: ConsensusTime,
}

impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(self.payer.0.len() + 32);
        text.push_str(&self.payer.0);
        text.push('@');
        self.valid_start.write_text(&mut text);
        f.pad(&text)
    }
}

impl FromStr for TxId {
    type Err = LedgerError;
    fn from_str(s: &str) -> Result<Self, LedgerError> {
        let bad = || LedgerError::BadId {
            kind: "transaction",
            id: s.to_owned(),
        };
        let (payer, start) = s.split_once('@').ok_or_else(bad)?;
        let (secs, nanos) = start.split_once('.').ok_or_else(bad)?;
        let secs: i64 = secs.parse().map_err(|_| bad())?;
        if nanos.len() != 9 {
            return Err(bad());
        }
        let nanos: i64 = nanos.parse().map_err(|_| bad())?;
        let ns = secs
            .checked_mul(1_000_000_000)
            .and_then(|s| s.checked_add(nanos))
            .ok_or_else(bad)?;
        Ok(Self {
            payer: payer.parse()?,
            valid_start: ConsensusTime(ns),
        })
    }
}

impl TryFrom<String> for TxId {
    type Error = LedgerError;
    fn try_from(s: String) -> Result<Self, LedgerError> {
        s.parse()
    }
}

impl From<TxId> for String {
    fn from(id: TxId) -> String {
        id.to_string()
    }
}

/// One message of a topic, as the mirror gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMessage {
    pub topic: TopicId,
    pub sequence: u64,
    pub consensus: ConsensusTime,
    pub payload: super::Payload,
}

/// One account's side of a token transfer, in minor units: negative leaves, positive arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMove {
    pub account: AccountId,
    pub amount: i64,
}

/// One transfer of [`super::Ledger::transfer_all`]: what [`super::Ledger::transfer`] takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenTransfer {
    pub tx: TxId,
    pub token: TokenId,
    pub moves: Vec<TokenMove>,
    pub memo: String,
}

/// Hedera's final status of a transaction, for the statuses baton meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Success,
    InsufficientTokenBalance,
    TokenNotAssociatedToAccount,
    InvalidAccountId,
    InvalidTokenId,
    TransfersNotZeroSumForToken,
    TokenTransferListSizeLimitExceeded,
    /// The transaction never executed and no longer can: its validity window closed before it
    /// reached consensus. Not a receipt a node gives, but the settlement of a transaction the
    /// ledger has no trace of once its window is long past (see [`super::Ledger::settled_record`]).
    TransactionExpired,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_value(self).ok();
        f.write_str(text.as_ref().and_then(|v| v.as_str()).unwrap_or("UNKNOWN"))
    }
}

/// What the ledger says about an executed transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub tx: TxId,
    pub status: Status,
    pub consensus: ConsensusTime,
}

/// A transaction the schedule service executes later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ScheduledOp {
    /// Submit `payload` to `topic`.
    Submit { topic: TopicId, payload: Vec<u8> },
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("`{id}` is not a valid {kind} id")]
    BadId { kind: &'static str, id: String },
    #[error("topic `{0}` does not exist")]
    UnknownTopic(TopicId),
    #[error("account `{0}` does not exist")]
    UnknownAccount(AccountId),
    #[error("token `{0}` does not exist")]
    UnknownToken(TokenId),
    #[error("transaction `{0}` was already submitted")]
    Duplicate(TxId),
    #[error("transaction `{tx}` failed: {status}")]
    Failed { tx: TxId, status: Status },
    #[error("the ledger's state at `{path}` could not be opened: {source}")]
    Open {
        path: std::path::PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the ledger's database failed during {operation}: {source}")]
    Database {
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The transaction's validity window does not hold the network's time: it expired, or its
    /// valid start is in the future (Hedera's `TRANSACTION_EXPIRED`, `INVALID_TRANSACTION_START`).
    #[error("transaction `{0}` is outside its validity window: it expired or starts in the future")]
    Expired(TxId),
    /// The network could not be reached or kept failing with transient errors (timeouts,
    /// unavailable or busy nodes) after the retries.
    #[error("{operation}: the network did not answer: {reason}")]
    Network { operation: String, reason: String },
    /// The network refused an operation with a status (pre-check or receipt).
    #[error("{operation}: refused by the network with status {status}")]
    Refused { operation: String, status: String },
    /// The backend cannot do this operation (as asked) on this network.
    #[error("{operation}: not supported: {reason}")]
    Unsupported { operation: String, reason: String },
    /// An account exists but does not hold the key it was expected to hold.
    #[error("account `{0}` exists but does not hold the expected key")]
    KeyMismatch(AccountId),
    /// A configuration variable is missing or unreadable (its value is never repeated, since it may be
    /// a key).
    #[error("`{variable}`: {reason}")]
    Config { variable: &'static str, reason: String },
    #[error("{0}")]
    Other(String),
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::{AccountId, ConsensusTime, TxId};

    /// The text is what formatting seconds and nine digits of nanoseconds gives, at every edge.
    #[test]
    fn a_time_and_a_transaction_id_are_written_as_seconds_and_nine_digits() {
        let edges = [
            i64::MIN,
            -1_000_000_001,
            -1_000_000_000,
            -999_999_999,
            -1,
            0,
            1,
            999_999_999,
        ];
        let more = [1_000_000_000, 1_700_000_000_000_000_001, i64::MAX - 1, i64::MAX];
        for n in edges.into_iter().chain(more) {
            let expected = format!("{}.{:09}", n.div_euclid(1_000_000_000), n.rem_euclid(1_000_000_000));
            assert_eq!(ConsensusTime(n).to_string(), expected);
            let tx = TxId {
                payer: AccountId("0.0.2".into()),
                valid_start: ConsensusTime(n),
            };
            assert_eq!(tx.to_string(), format!("0.0.2@{expected}"));
        }
        assert_eq!(format!("{:>14}", ConsensusTime(5)), "   0.000000005");
    }

    /// An entity id is three runs of digits between two dots, and nothing else.
    #[test]
    fn entity_ids_are_three_runs_of_digits() {
        for good in ["0.0.2", "0.0.1001", "12.345.6789"] {
            assert_eq!(
                good.parse::<AccountId>().ok().map(|a| a.0),
                Some(good.to_string()),
                "{good}"
            );
        }
        for bad in [
            "", "0", "0.0", "0.0.", ".0.1", "0..1", "0.0.1.2", "0.0.a", "0.0.-1", "0.0.1 ", "٣.0.1",
        ] {
            assert!(bad.parse::<AccountId>().is_err(), "`{bad}` parsed");
            assert!(AccountId::try_from(bad.to_string()).is_err(), "`{bad}` taken");
        }
    }
}
