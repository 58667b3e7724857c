//! The mirror node's REST API, the two routes baton reads, from the devnet's ledger:
//!
//! - `GET /api/v1/transactions/{payer}-{seconds}-{nanos}`: `{"transactions": [...]}` with the
//!   record under the id and, if a schedule executed under it, the scheduled one (`scheduled:
//!   true`); each with `transaction_id`, `consensus_timestamp`, `valid_start_timestamp`,
//!   `result`, `scheduled`, `nonce`, `charged_tx_fee`, `memo_base64`, `transaction_hash`,
//!   `node`, `entity_id`, `transfers` and `token_transfers`. A record is there from consensus
//!   on and for good: the receipt lifetime fault does not touch it.
//! - `GET /api/v1/accounts/{id}/tokens[?token.id=T]`: `{"tokens": [...], "links": {"next":
//!   null}}`, the account's token relationships in token order with `token_id`, `balance`,
//!   `decimals`, `automatic_association`, `created_timestamp`, `freeze_status`, `kyc_status`.
//!
//! As the real mirror answers: 404 `{"_status": {"messages": [{"message": "Not found"}]}}` for
//! an unknown transaction or account, 400 for a malformed id; a dropped call (the drop fault) is
//! a 503. Other routes are 404.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value as Json, json};
use tokio::net::TcpListener;

use super::model::{NetRecord, NetTxId};
use super::node::Node;
use crate::ledger::{AccountId, ConsensusTime, LedgerError, TokenMove};

/// Serves the REST API until the node's cancellation.
pub(crate) async fn serve(node: Arc<Node>, listener: TcpListener) {
    let cancel = node.cancel.clone();
    let app = Router::new()
        .route("/api/v1/transactions/:id", get(transaction))
        .route("/api/v1/accounts/:id/tokens", get(tokens))
        .fallback(|| async { not_found() })
        .with_state(node);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "the devnet's mirror REST API stopped");
    }
}

async fn transaction(State(node): State<Arc<Node>>, Path(id): Path<String>) -> Response {
    if node.dice.dropped() {
        return unavailable();
    }
    let Some((payer, valid_start)) = tx_id(&id) else {
        return invalid("transactionId");
    };
    let mut found = Vec::new();
    for scheduled in [false, true] {
        let key = NetTxId {
            payer: payer.clone(),
            valid_start,
            scheduled,
            nonce: 0,
        }
        .key();
        match node.ledger.network_record(&key) {
            Ok(Some(record)) => found.push(entry(&record, &node.account)),
            Ok(None) => {}
            Err(e) => return internal(&e),
        }
    }
    if found.is_empty() {
        return not_found();
    }
    ok(&json!({ "transactions": found }))
}

async fn tokens(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if node.dice.dropped() {
        return unavailable();
    }
    let Some(account) = entity_id(&id).map(AccountId) else {
        return invalid("idOrAliasOrEvmAddress");
    };
    let wanted = query.get("token.id").map(|t| t.trim_start_matches("eq:"));
    let found = match node.ledger.network_account(&account) {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(e) => return internal(&e),
    };
    let mut held: Vec<_> = found
        .tokens
        .iter()
        .filter(|t| wanted.is_none_or(|w| entity_id(w).is_some_and(|w| w == t.token.0)))
        .collect();
    held.sort_by_key(|t| entity_order(&t.token.0));
    let tokens: Vec<Json> = held
        .iter()
        .map(|t| {
            json!({
                "automatic_association": false,
                "balance": t.balance,
                "created_timestamp": null,
                "decimals": t.decimals,
                "freeze_status": "NOT_APPLICABLE",
                "kyc_status": "NOT_APPLICABLE",
                "token_id": t.token.0,
            })
        })
        .collect();
    ok(&json!({ "tokens": tokens, "links": { "next": null } }))
}

/// One record as the mirror's `Transaction` object.
fn entry(record: &NetRecord, node: &AccountId) -> Json {
    let transfers = |moves: &[TokenMove]| -> Vec<Json> {
        moves
            .iter()
            .map(|m| json!({ "account": m.account.0, "amount": m.amount, "is_approval": false }))
            .collect()
    };
    let token_transfers: Vec<Json> = record
        .tokens
        .iter()
        .flat_map(|group| {
            group.moves.iter().map(move |m| {
                json!({ "token_id": group.token.0, "account": m.account.0, "amount": m.amount, "is_approval": false })
            })
        })
        .collect();
    let entity = (record.account.as_ref().map(|a| &a.0))
        .or(record.topic.as_ref().map(|t| &t.0))
        .or(record.token.as_ref().map(|t| &t.0))
        .or(record.schedule.as_ref().map(|s| &s.0));
    json!({
        "charged_tx_fee": record.fee,
        "consensus_timestamp": record.consensus.to_string(),
        "entity_id": entity,
        "memo_base64": STANDARD.encode(record.memo.as_bytes()),
        "node": node.0,
        "nonce": record.id.nonce,
        "parent_consensus_timestamp": null,
        "result": record.status.as_str_name(),
        "scheduled": record.id.scheduled,
        "token_transfers": token_transfers,
        "transaction_hash": STANDARD.encode(&record.hash),
        "transaction_id": rest_id(&record.id.payer, record.id.valid_start),
        "transfers": transfers(&record.hbar),
        "valid_start_timestamp": record.id.valid_start.to_string(),
    })
}

/// `0.0.2-1700000000-000000001` (the nanoseconds may have fewer digits).
fn tx_id(text: &str) -> Option<(AccountId, ConsensusTime)> {
    let mut parts = text.rsplitn(3, '-');
    let nanos = parts.next()?;
    let secs = parts.next()?;
    let payer = AccountId(entity_id(parts.next()?)?);
    if nanos.is_empty() || nanos.len() > 9 || !nanos.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: i64 = nanos.parse().ok()?;
    let secs: i64 = secs.parse().ok().filter(|s| *s >= 0)?;
    let start = secs.checked_mul(1_000_000_000)?.checked_add(nanos)?;
    Some((payer, ConsensusTime(start)))
}

fn rest_id(payer: &AccountId, start: ConsensusTime) -> String {
    format!(
        "{payer}-{}-{:09}",
        start.0.div_euclid(1_000_000_000),
        start.0.rem_euclid(1_000_000_000)
    )
}

/// An entity id as the mirror accepts it, `shard.realm.num` or `num` (shard and realm 0), as
/// `shard.realm.num`.
fn entity_id(text: &str) -> Option<String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("0.0.{text}"));
    }
    text.parse::<AccountId>().ok().map(|id| id.0)
}

/// Sorts `shard.realm.num` ids by their numbers, not as text.
fn entity_order(id: &str) -> Vec<u64> {
    id.split('.').map(|n| n.parse().unwrap_or(u64::MAX)).collect()
}

fn ok(body: &Json) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn status(code: StatusCode, message: &str) -> Response {
    (
        code,
        axum::Json(json!({ "_status": { "messages": [{ "message": message }] } })),
    )
        .into_response()
}

fn not_found() -> Response {
    status(StatusCode::NOT_FOUND, "Not found")
}

fn invalid(parameter: &str) -> Response {
    status(StatusCode::BAD_REQUEST, &format!("Invalid parameter: {parameter}"))
}

fn unavailable() -> Response {
    status(StatusCode::SERVICE_UNAVAILABLE, "connection dropped (devnet fault)")
}

fn internal(error: &LedgerError) -> Response {
    status(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_as_the_mirror_reads_them() {
        let start = ConsensusTime(1_700_000_000_000_000_001);
        let cases = [
            ("0.0.2-1700000000-000000001", Some(("0.0.2", start))),
            ("0.0.2-1700000000-1", Some(("0.0.2", start))),
            ("2-1700000000-1", Some(("0.0.2", start))),
            ("0.0.2-1700000000", None),
            ("0.0.2-1700000000-0000000001", None),
            ("0.0.2--1700000000-1", None),
            ("0.0.2@1700000000.000000001", None),
        ];
        for (text, expected) in cases {
            let read = tx_id(text);
            let expected = expected.map(|(payer, start)| (AccountId(payer.into()), start));
            assert_eq!(read, expected, "{text}");
        }
        assert_eq!(rest_id(&AccountId("0.0.2".into()), start), "0.0.2-1700000000-000000001");
        assert!(entity_order("0.0.10") > entity_order("0.0.9"));
    }
}
