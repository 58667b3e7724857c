//! Queries, dispatched on the query's own kind whatever the route: balances (the SDK's ping is
//! the node account's balance), account, topic and token information, receipts, records and the
//! version. Every query costs nothing here: `COST_ANSWER` answers a cost of 0, and a payment
//! attached to `ANSWER_ONLY` is neither checked nor executed.

use std::time::Duration;

use hiero_sdk_proto::services::query::Query as Q;
use hiero_sdk_proto::services::response::Response as R;
use hiero_sdk_proto::services::{self as pb, ResponseCodeEnum as Code};
use tonic::Status;

use super::model::NetAccount;
use super::node::{Lookup, Node, dropped_call};
use super::sign::pb_key;
use super::{ids, records};
use crate::ledger::{ConsensusTime, LedgerError};

/// Expiration and auto-renew period shown for accounts and topics: entities do not expire on
/// the devnet, so "in 90 days" (Hedera's default renewal period).
const RENEW_PERIOD: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// The answer for a gRPC method the devnet does not serve.
pub(crate) fn unimplemented(what: &str) -> Status {
    Status::unimplemented(format!("`{what}` is not served by baton devnet"))
}

/// What the query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Answer,
    Cost,
}

impl Want {
    fn of(header: Option<&pb::QueryHeader>) -> Result<Want, Code> {
        match header.map_or(0, |h| h.response_type) {
            t if t == pb::ResponseType::AnswerOnly as i32 => Ok(Want::Answer),
            t if t == pb::ResponseType::CostAnswer as i32 => Ok(Want::Cost),
            _ => Err(Code::NotSupported),
        }
    }

    fn header(self, code: Code) -> Option<pb::ResponseHeader> {
        let response_type = match self {
            Want::Answer => pb::ResponseType::AnswerOnly,
            Want::Cost => pb::ResponseType::CostAnswer,
        };
        Some(pb::ResponseHeader {
            node_transaction_precheck_code: code as i32,
            response_type: response_type as i32,
            cost: 0,
            state_proof: Vec::new(),
        })
    }
}

/// Builds a response of the query's kind that carries only a header.
trait HeaderOnly: Default {
    fn set_header(&mut self, header: Option<pb::ResponseHeader>);

    fn header_only(header: Option<pb::ResponseHeader>) -> Self {
        let mut response = Self::default();
        response.set_header(header);
        response
    }
}

macro_rules! header_only {
    ($($response:ty),* $(,)?) => {$(
        impl HeaderOnly for $response {
            fn set_header(&mut self, header: Option<pb::ResponseHeader>) {
                self.header = header;
            }
        }
    )*};
}

header_only!(
    pb::CryptoGetAccountBalanceResponse,
    pb::CryptoGetInfoResponse,
    pb::TransactionGetReceiptResponse,
    pb::TransactionGetRecordResponse,
    pb::ConsensusGetTopicInfoResponse,
    pb::TokenGetInfoResponse,
    pb::NetworkGetVersionInfoResponse,
);

/// What a query asks for, or the header-only response when it was refused or only asked its
/// cost.
fn early<T: HeaderOnly>(header: Option<&pb::QueryHeader>) -> Result<Want, T> {
    match Want::of(header) {
        Ok(Want::Cost) => Err(T::header_only(Want::Cost.header(Code::Ok))),
        Ok(Want::Answer) => Ok(Want::Answer),
        Err(code) => Err(T::header_only(Want::Answer.header(code))),
    }
}

impl Node {
    /// Answers a query of one of the kinds the devnet serves.
    pub(crate) async fn query(&self, query: pb::Query) -> Result<pb::Response, Status> {
        if self.dice.dropped() {
            return Err(dropped_call());
        }
        let response = match query.query {
            Some(Q::CryptogetAccountBalance(q)) => R::CryptogetAccountBalance(self.balance(&q).map_err(internal)?),
            Some(Q::CryptoGetInfo(q)) => R::CryptoGetInfo(self.account_info(&q).map_err(internal)?),
            Some(Q::TransactionGetReceipt(q)) => R::TransactionGetReceipt(self.receipt(&q).map_err(internal)?),
            Some(Q::TransactionGetRecord(q)) => R::TransactionGetRecord(self.record(&q).map_err(internal)?),
            Some(Q::ConsensusGetTopicInfo(q)) => R::ConsensusGetTopicInfo(self.topic_info(&q).map_err(internal)?),
            Some(Q::TokenGetInfo(q)) => R::TokenGetInfo(self.token_info(&q).map_err(internal)?),
            Some(Q::NetworkGetVersionInfo(q)) => R::NetworkGetVersionInfo(version(&q)),
            Some(_) => return Err(unimplemented("this query")),
            None => return Err(Status::invalid_argument("the query is empty")),
        };
        Ok(pb::Response {
            response: Some(response),
        })
    }

    /// The account a query names, if it exists.
    fn named_account(&self, id: Option<&pb::AccountId>) -> Result<Option<NetAccount>, LedgerError> {
        match id.and_then(ids::account) {
            Some(id) => self.ledger.network_account(&id),
            None => Ok(None),
        }
    }

    fn balance(
        &self,
        q: &pb::CryptoGetAccountBalanceQuery,
    ) -> Result<pb::CryptoGetAccountBalanceResponse, LedgerError> {
        use pb::crypto_get_account_balance_query::BalanceSource;
        let want = match early(q.header.as_ref()) {
            Ok(want) => want,
            Err(response) => return Ok(response),
        };
        let id = match &q.balance_source {
            Some(BalanceSource::AccountId(id)) => Some(id),
            _ => None,
        };
        let Some(account) = self.named_account(id)? else {
            return Ok(HeaderOnly::header_only(want.header(Code::InvalidAccountId)));
        };
        #[allow(deprecated)]
        let token_balances = account
            .tokens
            .iter()
            .map(|t| pb::TokenBalance {
                token_id: Some(ids::pb_token(&t.token)),
                balance: u64::try_from(t.balance).unwrap_or(0),
                decimals: t.decimals,
            })
            .collect();
        #[allow(deprecated)]
        Ok(pb::CryptoGetAccountBalanceResponse {
            header: want.header(Code::Ok),
            account_id: Some(ids::pb_account(&account.id)),
            balance: u64::try_from(account.tinybars).unwrap_or(0),
            token_balances,
        })
    }

    fn account_info(&self, q: &pb::CryptoGetInfoQuery) -> Result<pb::CryptoGetInfoResponse, LedgerError> {
        let want = match early(q.header.as_ref()) {
            Ok(want) => want,
            Err(response) => return Ok(response),
        };
        let Some(account) = self.named_account(q.account_id.as_ref())? else {
            return Ok(HeaderOnly::header_only(want.header(Code::InvalidAccountId)));
        };
        let now = self.ledger.network_now()?;
        Ok(pb::CryptoGetInfoResponse {
            header: want.header(Code::Ok),
            account_info: Some(account_info(&account, now)),
        })
    }

    fn receipt(&self, q: &pb::TransactionGetReceiptQuery) -> Result<pb::TransactionGetReceiptResponse, LedgerError> {
        let want = match early(q.header.as_ref()) {
            Ok(want) => want,
            Err(response) => return Ok(response),
        };
        let Some(id) = q.transaction_id.as_ref().and_then(ids::tx_id) else {
            return Ok(HeaderOnly::header_only(want.header(Code::InvalidTransactionId)));
        };
        let receipt = match self.lookup(&id)? {
            Lookup::Found(record) => records::receipt(&record),
            Lookup::Pending => records::pending_receipt(),
            Lookup::NotFound => return Ok(HeaderOnly::header_only(want.header(Code::ReceiptNotFound))),
        };
        Ok(pb::TransactionGetReceiptResponse {
            header: want.header(Code::Ok),
            receipt: Some(receipt),
            ..Default::default()
        })
    }

    fn record(&self, q: &pb::TransactionGetRecordQuery) -> Result<pb::TransactionGetRecordResponse, LedgerError> {
        let want = match early(q.header.as_ref()) {
            Ok(want) => want,
            Err(response) => return Ok(response),
        };
        let Some(id) = q.transaction_id.as_ref().and_then(ids::tx_id) else {
            return Ok(HeaderOnly::header_only(want.header(Code::InvalidTransactionId)));
        };
        let Lookup::Found(record) = self.lookup(&id)? else {
            return Ok(HeaderOnly::header_only(want.header(Code::RecordNotFound)));
        };
        Ok(pb::TransactionGetRecordResponse {
            header: want.header(Code::Ok),
            transaction_record: Some(records::record(&record)),
            ..Default::default()
        })
    }

    fn topic_info(&self, q: &pb::ConsensusGetTopicInfoQuery) -> Result<pb::ConsensusGetTopicInfoResponse, LedgerError> {
        let want = match early(q.header.as_ref()) {
            Ok(want) => want,
            Err(response) => return Ok(response),
        };
        let topic = match q.topic_id.as_ref().and_then(ids::topic) {
            Some(id) => self.ledger.network_topic(&id)?,
            None => None,
        };
        let Some(topic) = topic else {
            return Ok(HeaderOnly::header_only(want.header(Code::InvalidTopicId)));
        };
        let now = self.ledger.network_now()?;
        let info = pb::ConsensusTopicInfo {
            memo: topic.memo,
            running_hash: topic.running_hash,
            sequence_number: topic.sequence,
            expiration_time: Some(ids::timestamp(renewal(now))),
            admin_key: topic.admin_key.as_ref().map(pb_key),
            submit_key: topic.submit_key.as_ref().map(pb_key),
            auto_renew_period: Some(renew_period()),
            ..Default::default()
        };
        Ok(pb::ConsensusGetTopicInfoResponse {
            header: want.header(Code::Ok),
            topic_id: Some(ids::pb_topic(&topic.id)),
            topic_info: Some(info),
        })
    }

    fn token_info(&self, q: &pb::TokenGetInfoQuery) -> Result<pb::TokenGetInfoResponse, LedgerError> {
        let want = match early(q.header.as_ref()) {
            Ok(want) => want,
            Err(response) => return Ok(response),
        };
        let token = match q.token.as_ref().and_then(ids::token) {
            Some(id) => self.ledger.network_token(&id)?,
            None => None,
        };
        let Some(token) = token else {
            return Ok(HeaderOnly::header_only(want.header(Code::InvalidTokenId)));
        };
        let info = pb::TokenInfo {
            token_id: Some(ids::pb_token(&token.id)),
            name: token.name,
            symbol: token.symbol,
            decimals: token.decimals,
            total_supply: u64::try_from(token.total_supply).unwrap_or(0),
            treasury: Some(ids::pb_account(&token.treasury)),
            admin_key: token.admin_key.as_ref().map(pb_key),
            memo: token.memo,
            ..Default::default()
        };
        Ok(pb::TokenGetInfoResponse {
            header: want.header(Code::Ok),
            token_info: Some(info),
        })
    }
}

#[allow(deprecated)]
fn account_info(account: &NetAccount, now: ConsensusTime) -> pb::crypto_get_info_response::AccountInfo {
    let token_relationships = account
        .tokens
        .iter()
        .map(|t| pb::TokenRelationship {
            token_id: Some(ids::pb_token(&t.token)),
            symbol: t.symbol.clone(),
            balance: u64::try_from(t.balance).unwrap_or(0),
            decimals: t.decimals,
            ..Default::default()
        })
        .collect();
    pb::crypto_get_info_response::AccountInfo {
        account_id: Some(ids::pb_account(&account.id)),
        key: Some(pb_key(&account.key)),
        balance: u64::try_from(account.tinybars).unwrap_or(0),
        memo: account.memo.clone(),
        token_relationships,
        expiration_time: Some(ids::timestamp(renewal(now))),
        auto_renew_period: Some(renew_period()),
        ..Default::default()
    }
}

fn renewal(now: ConsensusTime) -> ConsensusTime {
    now.plus_secs(RENEW_PERIOD.as_secs())
}

fn renew_period() -> pb::Duration {
    pb::Duration {
        seconds: i64::try_from(RENEW_PERIOD.as_secs()).unwrap_or(i64::MAX),
    }
}

/// The version query: baton's own version as the services version.
fn version(q: &pb::NetworkGetVersionInfoQuery) -> pb::NetworkGetVersionInfoResponse {
    let want = match early(q.header.as_ref()) {
        Ok(want) => want,
        Err(response) => return response,
    };
    let mut numbers = env!("CARGO_PKG_VERSION").split('.').map(|n| n.parse().unwrap_or(0));
    let mut next = || numbers.next().unwrap_or(0);
    let services = pb::SemanticVersion {
        major: next(),
        minor: next(),
        patch: next(),
        pre: "baton-devnet".into(),
        build: String::new(),
    };
    pb::NetworkGetVersionInfoResponse {
        header: want.header(Code::Ok),
        hapi_proto_version: Some(pb::SemanticVersion::default()),
        hedera_services_version: Some(services),
    }
}

fn internal(e: LedgerError) -> Status {
    Status::internal(e.to_string())
}
