//! The mirror node's REST API (`/api/v1`): the records of transactions, kept for good where the
//! nodes keep receipts about three minutes, and token balances, which the nodes of public
//! networks no longer report.
//!
//! One HTTP/1.1 client per ledger, on the hyper stack the SDK itself is built on (OpenSSL for
//! `https://`, plain TCP for `http://` such as `baton devnet` on loopback). Every request has a
//! timeout and is tried again with back-off while the mirror does not answer, throttles (429) or
//! fails (5xx), until the attempts are spent or the ledger stops. A 404 is "not known"; any
//! other answer that is not what the API documents is an error naming the URL.

use std::time::Duration;

use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_openssl::client::legacy::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use openssl::ssl::{SslConnector, SslMethod};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::client::retry::Backoff;
use crate::ledger::{AccountId, ConsensusTime, LedgerError, TokenId, TxId};

/// How long one request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read: a transaction's few records or one token relationship are a few KiB.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// A client of one mirror's REST API.
pub(crate) struct MirrorRest {
    /// `scheme://host[:port]`, without a trailing slash.
    base: String,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    /// Cuts retry pauses short when the ledger is dropped.
    stop: CancellationToken,
}

/// A transaction as the mirror recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MirrorRecord {
    /// Hedera's status name (`SUCCESS`, `INSUFFICIENT_TOKEN_BALANCE`, ...).
    pub(crate) result: String,
    pub(crate) consensus: ConsensusTime,
}

/// `GET /api/v1/transactions/{id}`: every transaction under the id (duplicates that reached
/// consensus, scheduled executions and child transactions included).
#[derive(Deserialize)]
struct TransactionsAnswer {
    transactions: Vec<TransactionEntry>,
}

#[derive(Deserialize)]
struct TransactionEntry {
    consensus_timestamp: String,
    result: String,
    #[serde(default)]
    nonce: i64,
    #[serde(default)]
    scheduled: bool,
    #[serde(default)]
    transaction_id: Option<String>,
}

/// `GET /api/v1/accounts/{id}/tokens?token.id={token}`: the account's relationship with the
/// token, if it has one.
#[derive(Deserialize)]
struct TokensAnswer {
    tokens: Vec<TokenEntry>,
}

#[derive(Deserialize)]
struct TokenEntry {
    token_id: String,
    balance: i64,
}

impl MirrorRest {
    /// A client of the REST API at `base` (`scheme://host[:port]`). Starts nothing, so it works
    /// outside a tokio runtime.
    pub(crate) fn new(base: String, stop: CancellationToken) -> Result<MirrorRest, LedgerError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(REQUEST_TIMEOUT));
        let tls = SslConnector::builder(SslMethod::tls())
            .and_then(|ssl| HttpsConnector::with_connector(http, ssl))
            .map_err(|e| LedgerError::Config {
                variable: "HEDERA_MIRROR_REST",
                reason: format!("no TLS client for `{base}`: {e}"),
            })?;
        let client = Client::builder(TokioExecutor::new()).build(tls);
        Ok(MirrorRest { base, client, stop })
    }

    /// How the mirror recorded transaction `tx`: the first execution under its id (not a
    /// duplicate that reached consensus after it, a scheduled execution or a child
    /// transaction); `None` when the mirror has no record of it (yet).
    pub(crate) async fn transaction(&self, tx: &TxId) -> Result<Option<MirrorRecord>, LedgerError> {
        let id = rest_tx_id(tx);
        let url = format!("{}/api/v1/transactions/{id}", self.base);
        let operation = format!("reading the mirror's record of transaction `{tx}`");
        let Some(answer) = self.get::<TransactionsAnswer>(&operation, &url).await? else {
            return Ok(None);
        };
        first_execution(&answer.transactions, &id).map_err(|reason| malformed(&operation, &url, &reason))
    }

    /// `account`'s balance of `token` in minor units (0 when the account is not associated with
    /// it); `None` when the mirror does not know the account.
    pub(crate) async fn token_balance(&self, account: &AccountId, token: &TokenId) -> Result<Option<i64>, LedgerError> {
        let url = format!("{}/api/v1/accounts/{account}/tokens?token.id={token}", self.base);
        let operation = format!("reading the balance of token `{token}` of account `{account}` from the mirror");
        let Some(answer) = self.get::<TokensAnswer>(&operation, &url).await? else {
            return Ok(None);
        };
        let held = answer.tokens.iter().find(|entry| entry.token_id == token.0);
        Ok(Some(held.map_or(0, |entry| entry.balance)))
    }

    /// `GET url` as JSON of type `T`; `None` on 404. Transient failures are tried again.
    async fn get<T: DeserializeOwned>(&self, operation: &str, url: &str) -> Result<Option<T>, LedgerError> {
        let mut backoff = Backoff::operation();
        loop {
            let reason = match self.attempt(url).await {
                Attempt::Answer(body) => {
                    return serde_json::from_slice(&body)
                        .map(Some)
                        .map_err(|e| malformed(operation, url, &e.to_string()));
                }
                Attempt::NotFound => return Ok(None),
                Attempt::Refused(reason) => {
                    return Err(LedgerError::Other(format!("{operation}: `GET {url}` {reason}")));
                }
                Attempt::Transient(reason) => reason,
            };
            tracing::warn!(operation, url, %reason, "asking the mirror again");
            if !backoff.pause(&self.stop).await {
                return Err(LedgerError::Network {
                    operation: operation.to_owned(),
                    reason: format!("`GET {url}` {reason}"),
                });
            }
        }
    }

    /// One request, bounded by [`REQUEST_TIMEOUT`].
    async fn attempt(&self, url: &str) -> Attempt {
        let request = match Request::get(url)
            .header(hyper::header::ACCEPT, "application/json")
            .body(Empty::new())
        {
            Ok(request) => request,
            Err(e) => return Attempt::Refused(format!("cannot be sent: {e}")),
        };
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| e.to_string())?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| format!("answered {status} but its body could not be read: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, body))
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Err(_) => Attempt::Transient(format!("did not answer within {} s", REQUEST_TIMEOUT.as_secs())),
            Ok(Err(reason)) => Attempt::Transient(reason),
            Ok(Ok((status, body))) => judge(status, body),
        }
    }
}

/// What one request came to.
enum Attempt {
    Answer(Bytes),
    NotFound,
    /// Worth asking again: no answer, throttled, or the mirror failed.
    Transient(String),
    /// Not worth asking again.
    Refused(String),
}

fn judge(status: StatusCode, body: Bytes) -> Attempt {
    let excerpt = || String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    match status {
        s if s.is_success() => Attempt::Answer(body),
        StatusCode::NOT_FOUND => Attempt::NotFound,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => Attempt::Transient(format!("answered {status}")),
        s if s.is_server_error() => Attempt::Transient(format!("answered {status}: {}", excerpt())),
        s => Attempt::Refused(format!("answered {s}: {}", excerpt())),
    }
}

fn malformed(operation: &str, url: &str, reason: &str) -> LedgerError {
    LedgerError::Other(format!(
        "{operation}: the mirror's answer to `GET {url}` is not what its API documents: {reason}"
    ))
}

/// A transaction id as the REST API writes it: `0.0.2-1700000000-000000001`.
pub(crate) fn rest_tx_id(tx: &TxId) -> String {
    let start = tx.valid_start.0;
    format!(
        "{}-{}-{:09}",
        tx.payer,
        start.div_euclid(1_000_000_000),
        start.rem_euclid(1_000_000_000)
    )
}

/// The first execution among the records under id `id` (written as [`rest_tx_id`] does).
fn first_execution(entries: &[TransactionEntry], id: &str) -> Result<Option<MirrorRecord>, String> {
    let mut first: Option<MirrorRecord> = None;
    for entry in entries {
        if entry.nonce != 0 || entry.scheduled || entry.result == "DUPLICATE_TRANSACTION" {
            continue;
        }
        if let Some(other) = entry.transaction_id.as_deref().filter(|other| !same_id(other, id)) {
            return Err(format!("it holds transaction `{other}`"));
        }
        let consensus = timestamp(&entry.consensus_timestamp)
            .ok_or_else(|| format!("`{}` is not a consensus timestamp", entry.consensus_timestamp))?;
        if first.as_ref().is_none_or(|f| consensus < f.consensus) {
            first = Some(MirrorRecord {
                result: entry.result.clone(),
                consensus,
            });
        }
    }
    Ok(first)
}

/// Whether two REST transaction ids are the same (the mirror may drop the nanoseconds' zeros).
fn same_id(a: &str, b: &str) -> bool {
    let parts = |id: &str| {
        let mut it = id.rsplitn(3, '-');
        let nanos = it.next()?.parse::<u32>().ok()?;
        let secs = it.next()?.parse::<i64>().ok()?;
        Some((it.next()?.to_owned(), secs, nanos))
    };
    parts(a).is_some_and(|pa| parts(b) == Some(pa))
}

/// A REST timestamp, `seconds.nanoseconds` (`1700000000.000000001`), as consensus time.
pub(crate) fn timestamp(text: &str) -> Option<ConsensusTime> {
    let (secs, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if secs.is_empty() || !digits(secs) || !digits(fraction) || fraction.len() > 9 {
        return None;
    }
    let nanos: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").parse().ok()?
    };
    let secs: i64 = secs.parse().ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos).map(ConsensusTime)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(json: &str) -> Vec<TransactionEntry> {
        serde_json::from_str::<TransactionsAnswer>(json)
            .map(|a| a.transactions)
            .unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    #[test]
    fn ids_and_timestamps_are_written_as_the_api_does() {
        let tx: TxId = "0.0.2@1700000000.000000001".parse().expect("a transaction id");
        assert_eq!(rest_tx_id(&tx), "0.0.2-1700000000-000000001");
        assert!(same_id("0.0.2-1700000000-1", "0.0.2-1700000000-000000001"));
        assert!(!same_id("0.0.3-1700000000-1", "0.0.2-1700000000-000000001"));
        let cases = [
            ("1700000000.000000001", Some(1_700_000_000_000_000_001)),
            ("1700000000.5", Some(1_700_000_000_500_000_000)),
            ("1700000000", Some(1_700_000_000_000_000_000)),
            ("1700000000.0000000001", None),
            ("-1.0", None),
            ("", None),
            ("soon", None),
        ];
        for (text, expected) in cases {
            assert_eq!(timestamp(text), expected.map(ConsensusTime), "{text}");
        }
    }

    #[test]
    fn the_first_execution_is_the_truth() {
        let id = "0.0.2-1700000000-000000001";
        let json = r#"{"transactions": [
            {"consensus_timestamp": "1700000002.000000000", "result": "DUPLICATE_TRANSACTION", "nonce": 0, "scheduled": false},
            {"consensus_timestamp": "1700000001.000000000", "result": "SUCCESS", "nonce": 0, "scheduled": false,
             "transaction_id": "0.0.2-1700000000-000000001", "name": "CRYPTOTRANSFER"},
            {"consensus_timestamp": "1700000001.000000001", "result": "SUCCESS", "nonce": 1, "scheduled": false},
            {"consensus_timestamp": "1700000000.500000000", "result": "INVALID_SIGNATURE", "scheduled": true}
        ]}"#;
        let first = first_execution(&entries(json), id).expect("well formed");
        assert_eq!(
            first,
            Some(MirrorRecord {
                result: "SUCCESS".into(),
                consensus: ConsensusTime(1_700_000_001_000_000_000),
            })
        );
        assert_eq!(first_execution(&entries(r#"{"transactions": []}"#), id), Ok(None));
    }

    #[test]
    fn answers_that_are_not_what_the_api_documents_are_refused() {
        let id = "0.0.2-1700000000-000000001";
        let wrong_id = r#"{"transactions": [{"consensus_timestamp": "1.0", "result": "SUCCESS",
            "transaction_id": "0.0.9-1700000000-000000001"}]}"#;
        let error = first_execution(&entries(wrong_id), id).expect_err("another transaction");
        assert!(error.contains("0.0.9-1700000000-000000001"), "{error}");
        let bad_time = r#"{"transactions": [{"consensus_timestamp": "later", "result": "SUCCESS"}]}"#;
        let error = first_execution(&entries(bad_time), id).expect_err("not a timestamp");
        assert!(error.contains("`later`"), "{error}");
        for json in [r#"{"transactions": {}}"#, r#"{"tokens": []}"#, "[]", "<html>"] {
            assert!(serde_json::from_str::<TransactionsAnswer>(json).is_err(), "{json}");
        }
    }

    /// A mirror on a free loopback port answering every request with `status` and `body`.
    async fn mirror_answering(status: u16, body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("bound");
        let answer = move || async move {
            (
                axum::http::StatusCode::from_u16(status).expect("a status"),
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
        };
        let app = axum::Router::new().fallback(answer);
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_malformed_or_refused_answer_is_an_error_naming_the_url_and_the_transaction() {
        let tx: TxId = "0.0.2@1700000000.000000001".parse().expect("a transaction id");
        let cases = [
            (200, r#"{"transactions": "none"}"#, "is not what its API documents"),
            (200, "<html>busy</html>", "is not what its API documents"),
            (
                400,
                r#"{"_status": {"messages": [{"message": "Invalid parameter"}]}}"#,
                "answered 400",
            ),
        ];
        for (status, body, expected) in cases {
            let base = mirror_answering(status, body).await;
            let rest = MirrorRest::new(base.clone(), CancellationToken::new()).expect("a client");
            let error = rest.transaction(&tx).await.expect_err("refused").to_string();
            let url = format!("{base}/api/v1/transactions/0.0.2-1700000000-000000001");
            assert!(error.contains(&url), "{error}");
            assert!(error.contains("`0.0.2@1700000000.000000001`"), "{error}");
            assert!(error.contains(expected), "{error}");
        }
        let base = mirror_answering(404, r#"{"_status": {"messages": [{"message": "Not found"}]}}"#).await;
        let rest = MirrorRest::new(base, CancellationToken::new()).expect("a client");
        assert_eq!(rest.transaction(&tx).await.expect("not found is an answer"), None);
    }

    #[test]
    fn statuses_are_judged_by_whether_asking_again_can_help() {
        let cases = [
            (StatusCode::OK, "answer"),
            (StatusCode::NOT_FOUND, "not found"),
            (StatusCode::TOO_MANY_REQUESTS, "transient"),
            (StatusCode::SERVICE_UNAVAILABLE, "transient"),
            (StatusCode::BAD_REQUEST, "refused"),
        ];
        for (status, expected) in cases {
            let judged = match judge(status, Bytes::from_static(b"{}")) {
                Attempt::Answer(_) => "answer",
                Attempt::NotFound => "not found",
                Attempt::Transient(_) => "transient",
                Attempt::Refused(_) => "refused",
            };
            assert_eq!(judged, expected, "{status}");
        }
    }
}
