//! A coordinator restarted after the nodes forgot its transfers' receipts, through the real SDK
//! against devnet: intents whose transfers executed (refused again as expired, or as duplicates)
//! are settled from the mirror's records and paid once; one that never executed and whose window
//! is long past is settled as failed with `TRANSACTION_EXPIRED`, which `baton status` shows on its
//! task.
//!
//! A first coordinator runs the festival with simulated agents on a ledger that holds its payment
//! intents back (as if it died just before publishing them); the test then publishes intents of
//! its own under transaction ids started long enough ago, executes one of them itself, waits for
//! the receipt to be forgotten and the window to close, and runs a second coordinator.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use assert_cmd::cargo::cargo_bin;
use baton::agent::simulate::{self, Behaviour};
use baton::engine::{Config as EngineConfig, Engine, TaskView};
use baton::executor::{Coordinator, Options, Wiring, network, transfer_memo};
use baton::ledger::{Payload, ScheduleId};
use baton::wire::{self, Body, Envelope, IntendedPayment, MessageType, PaymentIntent};

use super::*;

const WORKFLOW: &str = r#"version: 1
festival: { id: mirror-settle }
gates_dir: "@GATES@"
payment: { token: "${PAYMENT_TOKEN_ID}", decimals: 2 }
agents:
  - { id: alice, account: "${ALICE_ACCOUNT}", capabilities: [build] }
  - { id: bob, account: "${BOB_ACCOUNT}", capabilities: [build] }
lifecycle:
  name: plain
  states: [pending, assigned, in_progress, review, complete, paid]
  initial: pending
  terminal: [paid]
  transitions:
    - { from: pending, to: assigned, on: assign }
    - { from: assigned, to: in_progress, on: start }
    - { from: in_progress, to: review, on: submit }
    - { from: review, to: complete, on: gates_passed, gates: task }
    - { from: review, to: in_progress, on: gates_failed }
    - { from: complete, to: paid, on: pay, do: [{ effect: hts.transfer, memo: "payment:task:<task id>" }] }
tasks:
  - { id: one, requires: [build], reward: 10, gates: [result_completed] }
  - { id: two, requires: [build], reward: 20, gates: [result_completed] }
  - { id: three, requires: [build], reward: 30, gates: [result_completed] }
"#;

/// How long the devnet keeps receipts here (Hedera: about three minutes).
const RECEIPT_TTL: Duration = Duration::from_secs(2);
/// The validity window the SDK gives a transaction.
const VALID_FOR: Duration = Duration::from_secs(120);

/// A ledger that holds back every payment intent published through it and stops the run once
/// `tasks` tasks are in held intents.
struct HoldIntents {
    inner: Arc<HederaLedger>,
    held: Mutex<Vec<IntendedPayment>>,
    tasks: usize,
    stop: CancellationToken,
}

impl HoldIntents {
    /// The payloads that are not payment intents; the intents' payments are kept.
    fn pass(&self, payloads: &[Payload]) -> Vec<Payload> {
        let mut held = self.held.lock().expect("not poisoned");
        let mut passed = Vec::new();
        for payload in payloads {
            match wire::decode(payload) {
                Ok((_, Body::PaymentIntent(intent))) => held.extend(intent.payments),
                _ => passed.push(payload.clone()),
            }
        }
        if held.len() >= self.tasks {
            self.stop.cancel();
        }
        passed
    }
}

impl Ledger for HoldIntents {
    async fn create_topic(&self, memo: &str) -> Result<TopicId, LedgerError> {
        self.inner.create_topic(memo).await
    }
    async fn submit(&self, topic: &TopicId, payload: &[u8]) -> Result<(u64, ConsensusTime), LedgerError> {
        self.inner.submit(topic, payload).await
    }
    async fn submit_all(&self, topic: &TopicId, payloads: &[Payload]) -> Result<(), LedgerError> {
        let passed = self.pass(payloads);
        self.inner.submit_all(topic, &passed).await
    }
    async fn messages(&self, topic: &TopicId, after: u64, limit: usize) -> Result<Vec<TopicMessage>, LedgerError> {
        self.inner.messages(topic, after, limit).await
    }
    async fn wait_messages(
        &self,
        topic: &TopicId,
        after: u64,
        limit: usize,
        cancel: &CancellationToken,
    ) -> Result<Vec<TopicMessage>, LedgerError> {
        self.inner.wait_messages(topic, after, limit, cancel).await
    }
    async fn ensure_account(&self, account: &AccountId, public_key: &[u8; 32]) -> Result<(), LedgerError> {
        self.inner.ensure_account(account, public_key).await
    }
    async fn account_key(&self, account: &AccountId) -> Result<Option<[u8; 32]>, LedgerError> {
        self.inner.account_key(account).await
    }
    async fn ensure_token(
        &self,
        id: &TokenId,
        symbol: &str,
        decimals: u32,
        treasury: &AccountId,
        supply: i64,
    ) -> Result<(), LedgerError> {
        self.inner.ensure_token(id, symbol, decimals, treasury, supply).await
    }
    async fn associate(&self, account: &AccountId, token: &TokenId) -> Result<(), LedgerError> {
        self.inner.associate(account, token).await
    }
    async fn transfer(
        &self,
        tx: &TxId,
        _token: &TokenId,
        _moves: &[TokenMove],
        _memo: &str,
    ) -> Result<baton::ledger::Receipt, LedgerError> {
        Err(LedgerError::Other(format!("transfer `{tx}`: its intent was held back")))
    }
    async fn receipt(&self, tx: &TxId) -> Result<Option<baton::ledger::Receipt>, LedgerError> {
        self.inner.receipt(tx).await
    }
    async fn token_balance(&self, account: &AccountId, token: &TokenId) -> Result<i64, LedgerError> {
        self.inner.token_balance(account, token).await
    }
    async fn schedule(&self, op: &ScheduledOp, at: ConsensusTime, memo: &str) -> Result<ScheduleId, LedgerError> {
        self.inner.schedule(op, at, memo).await
    }
    async fn now(&self) -> Result<ConsensusTime, LedgerError> {
        self.inner.now().await
    }
}

/// The festival, its variables and its wiring on the harness's devnet: a token, two topics and
/// an account for each agent.
struct Setup {
    festival: Arc<baton::check::Festival>,
    wiring: Wiring,
    vars: BTreeMap<String, String>,
    agents: Vec<(String, SigningKey)>,
    workflow: PathBuf,
}

async fn set_up(harness: &Harness, ledger: &HederaLedger) -> Setup {
    let alice = account(ledger, 0).await;
    let bob = account(ledger, 0).await;
    let token = token_for(ledger, &[&alice, &bob]).await;
    let tasks_topic = ledger.create_topic("baton:mirror-settle:tasks").await.expect("a topic");
    let status_topic = ledger
        .create_topic("baton:mirror-settle:status")
        .await
        .expect("a topic");
    let vars: BTreeMap<String, String> = [
        ("PAYMENT_TOKEN_ID", token.0.clone()),
        ("ALICE_ACCOUNT", alice.0.0.clone()),
        ("BOB_ACCOUNT", bob.0.0.clone()),
        ("TASK_TOPIC_ID", tasks_topic.0.clone()),
        ("STATUS_TOPIC_ID", status_topic.0.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let workflow = harness.state.join("mirror-settle.yaml");
    let gates = concat!(env!("CARGO_MANIFEST_DIR"), "/gates");
    std::fs::write(&workflow, WORKFLOW.replace("@GATES@", gates)).expect("the workflow is written");
    let loaded = baton::load::load(&workflow, &vars).expect("the workflow reads");
    let festival = Arc::new(loaded.festival.expect("the workflow is valid"));
    let lookup = |name: &str| vars.get(name).cloned();
    let wiring = network::wiring(ledger, ledger.operator(), &festival, &lookup)
        .await
        .expect("the festival is wired");
    let agents = vec![("alice".to_owned(), alice.1), ("bob".to_owned(), bob.1)];
    Setup {
        festival,
        wiring,
        vars,
        agents,
        workflow,
    }
}

/// Runs a coordinator on `ledger` until the festival is over, `stop` fires or a minute passes.
async fn coordinate<L: Ledger + 'static>(
    ledger: Arc<L>,
    setup: &Setup,
    key: &SigningKey,
    stop: &CancellationToken,
) -> Engine {
    let engine = Engine::new(setup.festival.clone(), &EngineConfig::default()).expect("the engine starts");
    let mut coordinator = Coordinator::new(ledger, engine, setup.wiring.clone(), key.clone());
    let options = Options {
        tick: Duration::from_secs(1),
        stop_when_done: true,
        ..Options::default()
    };
    let mut progress = |_: &Engine| {};
    let run = coordinator.run(&options, stop, &mut progress);
    let summary = tokio::time::timeout(Duration::from_secs(60), run).await;
    summary
        .expect("the run ends within a minute")
        .expect("the run succeeds");
    coordinator.into_engine()
}

/// Runs a first coordinator, with simulated agents, until every task waits for its payment and
/// the coordinator has tried to publish its intents; returns their payments, by task.
async fn run_to_payment(ledger: &Arc<HederaLedger>, setup: &Setup, key: &SigningKey) -> Vec<IntendedPayment> {
    let stop = CancellationToken::new();
    let holding = Arc::new(HoldIntents {
        inner: ledger.clone(),
        held: Mutex::new(Vec::new()),
        tasks: setup.festival.tasks.len(),
        stop: stop.clone(),
    });
    let agents = CancellationToken::new();
    let behaviour = Behaviour {
        success_rate: 1.0,
        ..Behaviour::default()
    };
    let crew = simulate::crew(
        ledger.clone(),
        setup.festival.clone(),
        setup.wiring.clone(),
        setup.agents.clone(),
        behaviour,
        agents.clone(),
    );
    let crew = tokio::spawn(crew);
    coordinate(holding.clone(), setup, key, &stop).await;
    agents.cancel();
    let _ = crew.await;
    let mut held = holding.held.lock().expect("not poisoned").clone();
    held.sort_by(|a, b| a.task_id.cmp(&b.task_id));
    held
}

/// Publishes each intent `(tx, payment, executed)`, executes those marked `executed` as the
/// coordinator would have, and waits until the network has forgotten their receipts and the
/// oldest one's validity window has closed.
async fn publish_and_forget(
    ledger: &HederaLedger,
    setup: &Setup,
    key: &SigningKey,
    intents: &[(&TxId, &IntendedPayment, bool)],
) {
    let operator = ledger.operator().clone();
    let mut oldest = i64::MAX;
    for (tx, payment, executed) in intents {
        publish_intent(ledger, setup, key, tx, (*payment).clone()).await;
        if !executed {
            continue;
        }
        let pay = moves(&[(&operator, -payment.amount), (&payment.account, payment.amount)]);
        let memo = transfer_memo(&[payment.task_id.as_str()]);
        let receipt = ledger.transfer(tx, &setup.wiring.token, &pay, &memo).await;
        assert_eq!(receipt.expect("paid").status, Status::Success);
        oldest = oldest.min(tx.valid_start.0);
    }
    let nanos = |d: Duration| i64::try_from(d.as_nanos()).expect("fits");
    let forgotten = oldest.saturating_add(nanos(VALID_FOR + RECEIPT_TTL));
    while oldest < i64::MAX && wall_clock() < forgotten {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for (tx, ..) in intents.iter().filter(|(.., executed)| *executed) {
        assert_eq!(ledger.receipt(tx).await.expect("readable"), None, "`{tx}` is forgotten");
    }
}

/// Publishes an intent of the coordinator's paying `payment` under `tx`.
async fn publish_intent(ledger: &HederaLedger, setup: &Setup, key: &SigningKey, tx: &TxId, payment: IntendedPayment) {
    let body = Body::PaymentIntent(PaymentIntent {
        tx_id: tx.clone(),
        token_id: setup.wiring.token.clone(),
        payments: vec![payment],
    });
    let festival = &setup.wiring.festival;
    let mut envelope = Envelope::new(MessageType::PaymentIntent, festival, "coordinator", 1_000, &body);
    let bytes = wire::seal(&mut envelope, key);
    ledger
        .submit(&setup.wiring.tasks_topic, &bytes)
        .await
        .expect("the intent is published");
}

/// Nanoseconds since the Unix epoch.
fn wall_clock() -> i64 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    i64::try_from(nanos).expect("a time before 2262")
}

fn view<'a>(views: &'a [TaskView], task: &str) -> &'a TaskView {
    views
        .iter()
        .find(|v| v.id == task)
        .expect("the task is in the festival")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_coordinator_settles_forgotten_transfers_from_the_mirror_and_pays_nothing_twice() {
    let faults = Faults {
        receipt_ttl: RECEIPT_TTL,
        ..Faults::default()
    };
    let harness = Harness::with_faults("settle", faults).await;
    let ledger = Arc::new(HederaLedger::connect(hedera_config(&harness.devnet)).expect("connects"));
    let key = harness.devnet.operator_key.clone();
    let operator = ledger.operator().clone();
    let setup = set_up(&harness, &ledger).await;

    // The first coordinator carries every task to payment; its intents never reach the log.
    let held = run_to_payment(&ledger, &setup, &key).await;
    assert_eq!(
        held.iter().map(|p| (p.task_id.as_str(), p.amount)).collect::<Vec<_>>(),
        [("one", 1000), ("three", 3000), ("two", 2000)]
    );
    let (one, three, two) = (&held[0], &held[1], &held[2]);

    // Task `one`'s transfer executed and its window closes in seconds; task `three`'s executed
    // moments ago; task `two`'s never did and its window closed minutes ago.
    let executed = tx_id(&operator, -110_000_000_000);
    let recent = tx_id(&operator, 0);
    let never = tx_id(&operator, -300_000_000_000);
    let intents = [(&executed, one, true), (&recent, three, true), (&never, two, false)];
    publish_and_forget(&ledger, &setup, &key, &intents).await;

    // The second coordinator settles them from the mirror: `one` refused as expired, `three` as
    // a duplicate, `two` expired with no record.
    let engine = coordinate(ledger.clone(), &setup, &key, &CancellationToken::new()).await;
    let views = engine.task_views();
    for (task, amount, tx) in [("one", 1000, &executed), ("three", 3000, &recent)] {
        let paid = view(&views, task);
        assert_eq!(
            (paid.state.as_str(), paid.paid, paid.tx.clone()),
            ("paid", Some(amount), Some(tx.to_string())),
            "task `{task}`"
        );
    }
    let failed = view(&views, "two");
    assert_eq!(failed.paid, None);
    let error = failed.payment_error.clone().expect("task `two`'s payment failed");
    assert_eq!(error, format!("transfer `{never}` failed: TRANSACTION_EXPIRED"));
    let mut expected: BTreeMap<&AccountId, i64> = BTreeMap::from([(&operator, 1_000_000 - 4000)]);
    for (payment, paid) in [(one, 1000), (three, 3000), (two, 0)] {
        *expected.entry(&payment.account).or_insert(0) += paid;
    }
    for (who, expected) in expected {
        let balance = ledger.token_balance(who, &setup.wiring.token).await.expect("a balance");
        assert_eq!(balance, expected, "account `{who}`");
    }

    // `baton status` reads the same log through the mirror and names the failed payment.
    let status = status_through_binary(&harness, &setup);
    assert!(
        status.contains(&format!("task `two`: transfer `{never}` failed: TRANSACTION_EXPIRED")),
        "{status}"
    );
    assert!(status.contains(&executed.to_string()), "{status}");
    drop(ledger);
    harness.stop().await;
}

/// `baton status WORKFLOW --network devnet` in the harness's directory, with a `.env` naming
/// the devnet, its operator and the festival's ids.
fn status_through_binary(harness: &Harness, setup: &Setup) -> String {
    let devnet = &harness.devnet;
    let mut env = setup.vars.clone();
    for (name, value) in [
        ("HEDERA_NODE", devnet.node.to_string()),
        ("HEDERA_NODE_ACCOUNT", devnet.node_account.0.clone()),
        ("HEDERA_MIRROR", devnet.mirror.to_string()),
        ("HEDERA_MIRROR_REST", format!("http://{}", devnet.rest)),
        ("OPERATOR_ID", devnet.operator.0.clone()),
        ("OPERATOR_KEY", wire::secret_hex(&devnet.operator_key)),
    ] {
        env.insert(name.to_owned(), value);
    }
    let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(harness.state.join(".env"), text).expect("the .env is written");
    let out = std::process::Command::new(cargo_bin("baton"))
        .args(["status", &setup.workflow.display().to_string(), "--network", "devnet"])
        .current_dir(&harness.state)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("baton runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}
