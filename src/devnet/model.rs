//! The devnet's vocabulary for the local ledger's network layer (`ledger::local::network`):
//! Hedera-shaped operations in ledger terms, the record kept per transaction id, and what the
//! services read back. Plain data: the ledger stores and reads it, the devnet speaks protobuf.

use hiero_sdk_proto::services::ResponseCodeEnum as Code;
use serde::{Deserialize, Serialize};

use crate::ledger::{AccountId, ConsensusTime, ScheduleId, TokenId, TokenMove, TopicId, TxId};

/// An ed25519 public key.
pub(crate) type Key32 = [u8; 32];

/// The version of the topic running hash the ledger computes (see `ledger::local::network`).
pub(crate) const RUNNING_HASH_VERSION: u64 = 3;

/// A transaction id as Hedera has it: payer and valid start, plus the flag of a scheduled
/// execution and the nonce of a child transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct NetTxId {
    pub(crate) payer: AccountId,
    pub(crate) valid_start: ConsensusTime,
    #[serde(default)]
    pub(crate) scheduled: bool,
    #[serde(default)]
    pub(crate) nonce: i32,
}

impl NetTxId {
    /// The key its record is kept under: `0.0.2@1700000000.000000001`, with `?scheduled` for the
    /// execution of a schedule and `/N` for a nonce.
    pub(crate) fn key(&self) -> String {
        let mut key = TxId {
            payer: self.payer.clone(),
            valid_start: self.valid_start,
        }
        .to_string();
        if self.scheduled {
            key.push_str("?scheduled");
        }
        if self.nonce != 0 {
            key.push_str(&format!("/{}", self.nonce));
        }
        key
    }
}

/// The movements of one token in a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TokenMoves {
    pub(crate) token: TokenId,
    pub(crate) moves: Vec<TokenMove>,
}

/// A fungible token to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewToken {
    pub(crate) name: String,
    pub(crate) symbol: String,
    pub(crate) decimals: u32,
    pub(crate) supply: i64,
    pub(crate) treasury: AccountId,
    pub(crate) admin_key: Option<Key32>,
    pub(crate) memo: String,
}

/// A schedule to create. `body` is the encoded `SchedulableTransactionBody`, opaque to the
/// ledger; `fingerprint` identifies identical schedules; `required` are the keys whose
/// signatures the inner transaction needs and `signatories` those that have signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewSchedule {
    pub(crate) fingerprint: Vec<u8>,
    pub(crate) body: Vec<u8>,
    pub(crate) payer: AccountId,
    pub(crate) scheduled: NetTxId,
    pub(crate) memo: String,
    pub(crate) admin_key: Option<Key32>,
    pub(crate) expiration: ConsensusTime,
    pub(crate) wait_for_expiry: bool,
    pub(crate) required: Vec<Key32>,
    pub(crate) signatories: Vec<Key32>,
}

/// What a transaction does to the ledger at consensus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NetOp {
    /// A new account with `key`, funded by the payer.
    CreateAccount {
        key: Key32,
        initial_balance: i64,
        memo: String,
    },
    /// HBAR (tinybars) and token movements, all or nothing.
    Transfer {
        hbar: Vec<TokenMove>,
        tokens: Vec<TokenMoves>,
    },
    CreateTopic {
        memo: String,
        admin_key: Option<Key32>,
        submit_key: Option<Key32>,
    },
    /// One message (one chunk) to a topic; `chunk` is the encoded `ConsensusMessageChunkInfo`.
    Submit {
        topic: TopicId,
        payload: Vec<u8>,
        chunk: Option<Vec<u8>>,
    },
    CreateToken(NewToken),
    Associate {
        account: AccountId,
        tokens: Vec<TokenId>,
    },
    CreateSchedule(NewSchedule),
    SignSchedule {
        schedule: ScheduleId,
        signatories: Vec<Key32>,
    },
    /// Refused before it could act (a missing signature, an unknown entity): the payer pays the
    /// fee and the record carries the status.
    Refused(Code),
}

/// One transaction to execute at consensus.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub(crate) id: NetTxId,
    /// The node account that is paid the fee.
    pub(crate) node: AccountId,
    /// The fee charged to the payer, in tinybars.
    pub(crate) fee: i64,
    pub(crate) memo: String,
    /// SHA-384 of the signed transaction.
    pub(crate) hash: Vec<u8>,
    pub(crate) op: NetOp,
    /// The schedule this step executes; it is marked executed in the same write.
    pub(crate) schedule_ref: Option<ScheduleId>,
}

/// What the ledger keeps per transaction id: the receipt and the record in one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NetRecord {
    pub(crate) id: NetTxId,
    #[serde(with = "code_name")]
    pub(crate) status: Code,
    pub(crate) consensus: ConsensusTime,
    pub(crate) fee: i64,
    pub(crate) memo: String,
    #[serde(with = "hex_bytes")]
    pub(crate) hash: Vec<u8>,
    /// Net HBAR movements, fee included, by account.
    pub(crate) hbar: Vec<TokenMove>,
    pub(crate) tokens: Vec<TokenMoves>,
    pub(crate) account: Option<AccountId>,
    pub(crate) topic: Option<TopicId>,
    pub(crate) token: Option<TokenId>,
    pub(crate) schedule: Option<ScheduleId>,
    pub(crate) scheduled: Option<NetTxId>,
    pub(crate) sequence: u64,
    #[serde(with = "hex_bytes")]
    pub(crate) running_hash: Vec<u8>,
    pub(crate) total_supply: u64,
    pub(crate) schedule_ref: Option<ScheduleId>,
}

impl NetRecord {
    /// An empty record of `step`, status `SUCCESS`, to be filled in by its execution.
    pub(crate) fn of(step: &Step) -> Self {
        Self {
            id: step.id.clone(),
            status: Code::Success,
            consensus: ConsensusTime::default(),
            fee: 0,
            memo: step.memo.clone(),
            hash: step.hash.clone(),
            hbar: Vec::new(),
            tokens: Vec::new(),
            account: None,
            topic: None,
            token: None,
            schedule: None,
            scheduled: None,
            sequence: 0,
            running_hash: Vec::new(),
            total_supply: 0,
            schedule_ref: step.schedule_ref.clone(),
        }
    }
}

/// An account as the queries show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetAccount {
    pub(crate) id: AccountId,
    pub(crate) key: Key32,
    pub(crate) tinybars: i64,
    pub(crate) memo: String,
    pub(crate) tokens: Vec<NetTokenBalance>,
}

/// One token relationship of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetTokenBalance {
    pub(crate) token: TokenId,
    pub(crate) symbol: String,
    pub(crate) decimals: u32,
    pub(crate) balance: i64,
}

/// A topic as the services need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetTopic {
    pub(crate) id: TopicId,
    pub(crate) memo: String,
    pub(crate) admin_key: Option<Key32>,
    pub(crate) submit_key: Option<Key32>,
    pub(crate) running_hash: Vec<u8>,
    pub(crate) sequence: u64,
}

/// A token as the token info query shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetToken {
    pub(crate) id: TokenId,
    pub(crate) name: String,
    pub(crate) symbol: String,
    pub(crate) decimals: u32,
    pub(crate) total_supply: i64,
    pub(crate) treasury: AccountId,
    pub(crate) admin_key: Option<Key32>,
    pub(crate) memo: String,
}

/// One message of a topic as the mirror serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetMessage {
    pub(crate) sequence: u64,
    pub(crate) consensus: ConsensusTime,
    pub(crate) payload: Vec<u8>,
    pub(crate) running_hash: Vec<u8>,
    /// The encoded `ConsensusMessageChunkInfo` the message was submitted with.
    pub(crate) chunk: Option<Vec<u8>>,
}

/// Where a schedule stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScheduleState {
    Pending,
    Executed,
    Expired,
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetSchedule {
    pub(crate) id: ScheduleId,
    pub(crate) body: Vec<u8>,
    pub(crate) payer: AccountId,
    pub(crate) scheduled: NetTxId,
    pub(crate) expiration: ConsensusTime,
    pub(crate) wait_for_expiry: bool,
    pub(crate) required: Vec<Key32>,
    pub(crate) signatories: Vec<Key32>,
    pub(crate) state: ScheduleState,
}

impl NetSchedule {
    /// Whether every required key has signed.
    pub(crate) fn satisfied(&self) -> bool {
        self.required.iter().all(|key| self.signatories.contains(key))
    }
}

/// Status codes stored by their protobuf name (`INVALID_SIGNATURE`), which stays stable when
/// codes are added.
mod code_name {
    use hiero_sdk_proto::services::ResponseCodeEnum;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(code: &ResponseCodeEnum, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(code.as_str_name())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ResponseCodeEnum, D::Error> {
        let name = String::deserialize(d)?;
        ResponseCodeEnum::from_str_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown status `{name}`")))
    }
}

/// Bytes stored as lowercase hex.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}
