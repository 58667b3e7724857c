//! The Hedera backend end to end: the real SDK through the `Ledger` trait against `baton devnet`
//! (a Hedera-compatible node and mirror on loopback, on free ports); the mirror's REST API when
//! receipts are gone (`rest`), and a coordinator settling through it (`settle`).

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use baton::devnet::{Config, Devnet, Faults};
use baton::ledger::hedera::{HederaConfig, HederaLedger, Network};
use baton::ledger::{
    AccountId, ConsensusTime, Ledger, LedgerError, ScheduledOp, Status, TokenId, TokenMove, TopicId, TopicMessage, TxId,
};
use baton::wire::{SigningKey, generate_key};
use tokio_util::sync::CancellationToken;

mod rest;
mod settle;

/// A devnet on free ports with its own state directory, and a ledger paid by its operator.
struct Harness {
    devnet: Devnet,
    cancel: CancellationToken,
    ledger: HederaLedger,
    state: PathBuf,
}

impl Harness {
    async fn start(name: &str) -> Harness {
        Harness::with_faults(name, Faults::default()).await
    }

    async fn with_faults(name: &str, faults: Faults) -> Harness {
        let state = scratch(name);
        let cancel = CancellationToken::new();
        let config = Config {
            node: "127.0.0.1:0".parse().expect("a socket address"),
            mirror: "127.0.0.1:0".parse().expect("a socket address"),
            rest: "127.0.0.1:0".parse().expect("a socket address"),
            state: state.clone(),
            faults,
        };
        let devnet = Devnet::start(config, cancel.clone()).await.expect("the devnet starts");
        let ledger = HederaLedger::connect(hedera_config(&devnet)).expect("the client connects");
        Harness {
            devnet,
            cancel,
            ledger,
            state,
        }
    }

    async fn stop(self) {
        drop(self.ledger);
        self.cancel.cancel();
        self.devnet.stopped().await;
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

fn hedera_config(devnet: &Devnet) -> HederaConfig {
    HederaConfig {
        network: Network::Custom {
            node: devnet.node.to_string(),
            node_account: devnet.node_account.clone(),
            mirror: devnet.mirror.to_string(),
            rest: Some(format!("http://{}", devnet.rest)),
        },
        operator: devnet.operator.clone(),
        operator_key: devnet.operator_key.clone(),
        max_fee_tinybars: 20 * 100_000_000,
        mirror_lag: Duration::from_millis(300),
    }
}

fn scratch(name: &str) -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("baton-hedera-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("the scratch directory can be created");
    dir
}

/// A transaction id paid by `payer`, valid from a second ago (as the engine chooses them).
fn tx_id(payer: &AccountId, offset_ns: i64) -> TxId {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    TxId {
        payer: payer.clone(),
        valid_start: ConsensusTime(i64::try_from(nanos).expect("a time before 2262") - 1_000_000_000 + offset_ns),
    }
}

/// Reads `topic` until it holds `count` messages, waiting on the ledger between reads.
async fn read_all(ledger: &HederaLedger, topic: &TopicId, count: usize) -> Vec<TopicMessage> {
    let mut read: Vec<TopicMessage> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while read.len() < count {
        let after = read.last().map_or(0, |m| m.sequence);
        let cancel = CancellationToken::new();
        let waiting = ledger.wait_messages(topic, after, 100, &cancel);
        let batch = tokio::time::timeout_at(deadline, waiting)
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} messages of `{topic}` arrived", read.len()))
            .expect("the topic can be read");
        read.extend(batch);
    }
    read
}

/// What `wait_messages` returns when cancelled after `delay`.
async fn wait_cancelled_after(
    ledger: &HederaLedger,
    topic: &TopicId,
    after: u64,
    delay: Duration,
) -> Vec<TopicMessage> {
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        stop.cancel();
    });
    ledger.wait_messages(topic, after, 10, &cancel).await.expect("readable")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_go_through_the_node_and_come_back_through_the_mirror() {
    let harness = Harness::start("topics").await;
    let ledger = &harness.ledger;
    let topic = ledger.create_topic("baton:test:tasks").await.expect("a topic");
    let small = b"{\"hello\":1}".to_vec();
    let large: Vec<u8> = (0..3000u32)
        .map(|i| b'a' + u8::try_from(i % 26).expect("a letter"))
        .collect();
    let first = ledger.submit(&topic, &small).await.expect("a one-chunk message");
    let second = ledger.submit(&topic, &large).await.expect("a message of three chunks");
    assert!(second.0 > first.0 && second.1 > first.1, "{first:?} then {second:?}");

    let read = read_all(ledger, &topic, 2).await;
    assert_eq!(read.len(), 2);
    assert_eq!(
        (read[0].sequence, read[0].consensus, &read[0].payload[..]),
        (first.0, first.1, &small[..])
    );
    assert_eq!(
        (read[1].sequence, read[1].consensus, &read[1].payload[..]),
        (second.0, second.1, &large[..])
    );
    assert_eq!(ledger.messages(&topic, second.0, 10).await.expect("readable"), vec![]);

    // Waiting with nothing new ends when cancelled.
    assert!(
        wait_cancelled_after(ledger, &topic, second.0, Duration::from_millis(200))
            .await
            .is_empty()
    );

    // The log's horizon passes a message once the mirror's lag has.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(ledger.now().await.expect("a time") >= second.1);

    // A second client (another process, after a restart) reads the whole log from the start.
    let other = HederaLedger::connect(hedera_config(&harness.devnet)).expect("connects");
    let again = read_all(&other, &topic, 2).await;
    assert_eq!(again, read);
    drop(other);

    let spent = ledger.spent();
    for operation in ["create_topic", "submit"] {
        let paid = spent.iter().any(|(name, fee)| name == operation && *fee > 0);
        assert!(paid, "no fee for {operation} in {spent:?}");
    }
    harness.stop().await;
}

/// Movements of a transfer from (account, amount) pairs.
fn moves(pairs: &[(&AccountId, i64)]) -> Vec<TokenMove> {
    pairs
        .iter()
        .map(|(account, amount)| TokenMove {
            account: (*account).clone(),
            amount: *amount,
        })
        .collect()
}

/// A new account holding a new key and `tinybars`.
async fn account(ledger: &HederaLedger, tinybars: i64) -> (AccountId, SigningKey) {
    let key = generate_key();
    let id = ledger
        .create_account(&key.verifying_key(), tinybars)
        .await
        .expect("an account");
    (id, key)
}

/// A new token (2 decimals, 1,000,000 minor units held by the operator) that each account is
/// associated with, twice (the second time is not an error).
async fn token_for(ledger: &HederaLedger, accounts: &[&(AccountId, SigningKey)]) -> TokenId {
    let operator = ledger.operator().clone();
    let token = ledger
        .create_token("Baton", "BATON", 2, 1_000_000)
        .await
        .expect("a token");
    ledger
        .ensure_token(&token, "BATON", 2, &operator, 1_000_000)
        .await
        .expect("it exists");
    ledger
        .associate(&operator, &token)
        .await
        .expect("the treasury is associated already");
    for (id, key) in accounts {
        ledger.associate_as(id, key, &token).await.expect("associated");
        ledger.associate_as(id, key, &token).await.expect("associated twice");
        let refused = ledger.associate(id, &token).await;
        assert!(matches!(refused, Err(LedgerError::Unsupported { .. })), "{refused:?}");
    }
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_chosen_by_the_network_and_checked_by_their_key() {
    let harness = Harness::start("accounts").await;
    let ledger = &harness.ledger;
    let (one, key) = account(ledger, 1_000_000_000).await;
    let public = key.verifying_key();
    assert_eq!(ledger.hbar_balance(&one).await.expect("a balance"), 1_000_000_000);
    assert_eq!(
        ledger.account_key(&one).await.expect("readable"),
        Some(*public.as_bytes())
    );
    ledger
        .ensure_account(&one, public.as_bytes())
        .await
        .expect("it holds the key");
    let other = generate_key().verifying_key();
    let mismatch = ledger.ensure_account(&one, other.as_bytes()).await;
    assert!(matches!(mismatch, Err(LedgerError::KeyMismatch(_))), "{mismatch:?}");
    let absent = AccountId("0.0.987654".into());
    let missing = ledger.ensure_account(&absent, public.as_bytes()).await;
    assert!(matches!(missing, Err(LedgerError::Unsupported { .. })), "{missing:?}");
    assert_eq!(ledger.account_key(&absent).await.expect("readable"), None);
    assert!(
        ledger
            .spent()
            .iter()
            .any(|(name, fee)| name == "create_account" && *fee > 0)
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_transfers_pay_exactly_once() {
    let harness = Harness::start("transfers").await;
    let ledger = &harness.ledger;
    let operator = ledger.operator().clone();
    let (one, two) = (account(ledger, 0).await, account(ledger, 0).await);
    let token = token_for(ledger, &[&one, &two]).await;
    let balance = |account: AccountId| {
        let token = token.clone();
        async move { ledger.token_balance(&account, &token).await.expect("a balance") }
    };

    let tx = tx_id(&operator, 0);
    let batch = moves(&[(&operator, -300), (&one.0, 100), (&two.0, 200)]);
    let receipt = ledger
        .transfer(&tx, &token, &batch, "payment:task:t1")
        .await
        .expect("executed");
    assert_eq!((receipt.status, &receipt.tx), (Status::Success, &tx));
    let again = ledger.transfer(&tx, &token, &batch, "payment:task:t1").await;
    assert!(
        matches!(&again, Err(LedgerError::Duplicate(id)) if *id == tx),
        "{again:?}"
    );
    let stored = ledger.receipt(&tx).await.expect("readable").expect("known");
    assert_eq!(stored.status, Status::Success);
    assert_eq!(balance(one.0.clone()).await, 100);
    assert_eq!(balance(two.0.clone()).await, 200);
    assert_eq!(balance(operator.clone()).await, 1_000_000 - 300);

    // A refused transfer consumes its id and moves nothing.
    let (stranger, _) = account(ledger, 0).await;
    let refused_tx = tx_id(&operator, 1);
    let to_stranger = moves(&[(&operator, -5), (&stranger, 5)]);
    let refused = ledger
        .transfer(&refused_tx, &token, &to_stranger, "payment:task:t2")
        .await;
    assert_eq!(refused.expect("executed").status, Status::TokenNotAssociatedToAccount);
    assert_eq!(balance(operator.clone()).await, 1_000_000 - 300);
    assert_eq!(ledger.receipt(&tx_id(&operator, 2)).await.expect("readable"), None);

    let spent = ledger.spent();
    for operation in ["create_account", "create_token", "associate", "transfer"] {
        let paid = spent.iter().any(|(name, fee)| name == operation && *fee > 0);
        assert!(paid, "no fee for {operation} in {spent:?}");
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_message_arrives_when_its_time_comes() {
    let harness = Harness::start("schedules").await;
    let ledger = &harness.ledger;
    let topic = ledger.create_topic("baton:test:status").await.expect("a topic");
    let at = ledger.now().await.expect("a time").plus_secs(2);
    let op = ScheduledOp::Submit {
        topic: topic.clone(),
        payload: b"{\"tick\":true}".to_vec(),
    };
    let schedule = ledger.schedule(&op, at, "heartbeat").await.expect("scheduled");
    let again = ledger
        .schedule(&op, at, "heartbeat")
        .await
        .expect("the identical schedule");
    assert_eq!(again, schedule);
    let operator_key: SigningKey = harness.devnet.operator_key.clone();
    ledger
        .sign_schedule(&schedule, &operator_key)
        .await
        .expect("signing again with a key it has is not an error");

    let read = read_all(ledger, &topic, 1).await;
    assert_eq!(read[0].payload, b"{\"tick\":true}");
    assert!(read[0].consensus >= at, "executed at {} before {at}", read[0].consensus);
    assert!(ledger.spent().iter().any(|(name, _)| name == "schedule"));

    let unknown = ScheduledOp::Submit {
        topic: TopicId("0.0.999999".into()),
        payload: b"x".to_vec(),
    };
    assert!(ledger.schedule(&unknown, at, "nowhere").await.is_err());
    harness.stop().await;
}

/// A transfer whose answer was lost is settled from its receipt, as the executor does.
async fn settle(ledger: &HederaLedger, tx: &TxId, token: &TokenId, moves: &[TokenMove]) -> Status {
    match ledger.transfer(tx, token, moves, "payment").await {
        Ok(receipt) => receipt.status,
        Err(LedgerError::Duplicate(_)) => {
            ledger
                .receipt(tx)
                .await
                .expect("readable")
                .expect("a duplicate has a receipt")
                .status
        }
        Err(e) => panic!("transfer `{tx}`: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_nodes_dropped_calls_and_late_receipts_neither_lose_nor_repeat_anything() {
    let faults = Faults {
        busy_rate: 0.2,
        drop_rate: 0.1,
        consensus_latency: Duration::from_millis(100),
        receipt_delay: Duration::from_millis(200),
        seed: 7,
        ..Faults::default()
    };
    let harness = Harness::with_faults("faults", faults).await;
    let ledger = &harness.ledger;
    let operator = ledger.operator().clone();
    let topic = ledger.create_topic("baton:test:faults").await.expect("a topic");
    let payloads: Vec<Vec<u8>> = (0..6u8)
        .map(|i| vec![b'0' + i; if i == 3 { 2500 } else { 40 }])
        .collect();
    for payload in &payloads {
        ledger
            .submit(&topic, payload)
            .await
            .expect("submitted despite the faults");
    }
    let read = read_all(ledger, &topic, payloads.len()).await;
    let mut delivered: Vec<Vec<u8>> = read.into_iter().map(|m| m.payload.to_vec()).collect();
    // A retried submission may be on the topic twice (readers drop repeated message ids).
    delivered.dedup();
    assert_eq!(delivered, payloads);

    let agent = account(ledger, 0).await;
    let token = token_for(ledger, &[&agent]).await;
    for i in 0..4 {
        let tx = tx_id(&operator, i);
        let pay = moves(&[(&operator, -10), (&agent.0, 10)]);
        assert_eq!(settle(ledger, &tx, &token, &pay).await, Status::Success, "{tx}");
        // Paying the same intent again never pays twice.
        assert_eq!(settle(ledger, &tx, &token, &pay).await, Status::Success, "{tx}");
    }
    assert_eq!(ledger.token_balance(&agent.0, &token).await.expect("a balance"), 40);
    harness.stop().await;
}
