//! A network that stops answering in the middle of a payment, on the local ledger behind a
//! wrapper that drops answers: the coordinator asks again, with pauses, and the run pays every
//! task once; a run stopped during the wait returns at once; an outage that outlasts
//! `Options::network_patience` ends the run with the error naming the task. Neither loses or
//! repeats a payment: the intent is in the log, and the next run settles it once.
//!
//! The wrapper executes a transfer and then drops its answer (the worst case: the money moved
//! and the coordinator cannot know it) and drops receipt queries before asking; it drops the
//! agents' submissions before writing them, and the simulated agents send them again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use baton::agent::simulate::{self, Behaviour};
use baton::engine::{Config, Engine, Outcome};
use baton::executor::{Coordinator, Options, RunError, Summary};
use baton::ledger::{
    AccountId, ConsensusTime, Ledger, LedgerError, LocalLedger, Payload, Receipt, ScheduleId, ScheduledOp, TokenId,
    TokenMove, TopicId, TopicMessage, TxId,
};
use tokio_util::sync::CancellationToken;

use crate::wired::{Wired, assert_paid_by_one_transfer, wired};

const WORKFLOW: &str = r#"version: 1
festival: { id: outage }
gates_dir: "@GATES@"
lifecycle: standard
payment: { decimals: 2, budget: 100 }
agents: [{ id: alice, capabilities: [build] }, { id: bob, capabilities: [build] }]
tasks:
  - { id: one, requires: [build], reward: 10, gates: [result_completed] }
  - { id: two, requires: [build], reward: 20, gates: [result_completed] }
  - { id: three, depends_on: [one, two], requires: [build], reward: 30, gates: [result_completed] }
"#;

/// Each task's reward, in minor units.
const REWARDS: [(&str, i64); 3] = [("one", 1000), ("two", 2000), ("three", 3000)];

/// The local ledger, with the next `drops` payment calls (transfers and receipt queries) and the
/// next `status_drops` submissions to the status topic (the agents') answered as a dropped
/// connection.
struct Outage {
    inner: Arc<LocalLedger>,
    status: TopicId,
    drops: AtomicU32,
    dropped: AtomicU32,
    status_drops: AtomicU32,
    status_dropped: AtomicU32,
}

impl Outage {
    fn dropping(&self, operation: &str) -> Result<(), LedgerError> {
        drop_one(&self.drops, &self.dropped, operation)
    }
}

/// A dropped connection while `left` counts down from above zero, counted in `dropped`.
fn drop_one(left: &AtomicU32, dropped: &AtomicU32, operation: &str) -> Result<(), LedgerError> {
    if left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_err()
    {
        return Ok(());
    }
    dropped.fetch_add(1, Ordering::SeqCst);
    Err(LedgerError::Network {
        operation: operation.to_string(),
        reason: "connection dropped (outage)".into(),
    })
}

impl Ledger for Outage {
    async fn create_topic(&self, memo: &str) -> Result<TopicId, LedgerError> {
        self.inner.create_topic(memo).await
    }
    async fn submit(&self, topic: &TopicId, payload: &[u8]) -> Result<(u64, ConsensusTime), LedgerError> {
        self.inner.submit(topic, payload).await
    }
    async fn submit_all(&self, topic: &TopicId, payloads: &[Payload]) -> Result<(), LedgerError> {
        if *topic == self.status {
            drop_one(&self.status_drops, &self.status_dropped, "submitting status messages")?;
        }
        self.inner.submit_all(topic, payloads).await
    }
    fn batch_signatures(&self) -> bool {
        self.inner.batch_signatures()
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
    async fn ensure_account(&self, account: &AccountId, key: &[u8; 32]) -> Result<(), LedgerError> {
        self.inner.ensure_account(account, key).await
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
        token: &TokenId,
        moves: &[TokenMove],
        memo: &str,
    ) -> Result<Receipt, LedgerError> {
        let receipt = self.inner.transfer(tx, token, moves, memo).await?;
        self.dropping(&format!("transferring under `{tx}`"))?;
        Ok(receipt)
    }
    async fn receipt(&self, tx: &TxId) -> Result<Option<Receipt>, LedgerError> {
        self.dropping(&format!("reading the receipt of `{tx}`"))?;
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

/// A festival wired to the local ledger in a temp dir (removed when dropped), its simulated
/// agents following the log on the ledger itself, and the coordinator's view of it through
/// [`Outage`].
struct Fixture {
    wired: Wired,
    outage: Arc<Outage>,
    agents: CancellationToken,
}

impl Fixture {
    async fn new() -> Self {
        let wired = wired("outage", WORKFLOW).await;
        let outage = Arc::new(Outage {
            inner: wired.ledger.clone(),
            status: wired.wiring.status_topic.clone(),
            drops: AtomicU32::new(0),
            dropped: AtomicU32::new(0),
            status_drops: AtomicU32::new(0),
            status_dropped: AtomicU32::new(0),
        });
        let fixture = Self {
            wired,
            outage,
            agents: CancellationToken::new(),
        };
        fixture.spawn_agents();
        fixture
    }

    fn spawn_agents(&self) {
        let behaviour = Behaviour {
            seed: 3,
            success_rate: 1.0,
            min_work: Duration::from_millis(5),
            max_work: Duration::from_millis(20),
            ..Behaviour::default()
        };
        for agent in ["alice", "bob"] {
            let key = self
                .wired
                .keys
                .get(agent)
                .cloned()
                .expect("the keyring has the agent's key");
            let run = simulate::run(
                self.outage.clone(),
                self.wired.festival.clone(),
                self.wired.wiring.clone(),
                agent.to_string(),
                key,
                behaviour.clone(),
                self.agents.clone(),
            );
            tokio::spawn(run);
        }
    }

    /// Runs a fresh coordinator (as a restart does) until the festival is over, it fails, or
    /// `stop` fires.
    async fn run(&self, patience: Duration, stop: &CancellationToken) -> (Result<Summary, RunError>, Engine) {
        let engine = Engine::new(self.wired.festival.clone(), &Config::default()).expect("the engine starts");
        let key = self
            .wired
            .keys
            .get("coordinator")
            .cloned()
            .expect("the keyring has the coordinator's key");
        let mut coordinator = Coordinator::new(self.outage.clone(), engine, self.wired.wiring.clone(), key);
        let options = Options {
            network_patience: patience,
            ..Options::default()
        };
        let summary = coordinator.run(&options, stop, &mut |_| {}).await;
        (summary, coordinator.into_engine())
    }

    /// Every task paid its reward by exactly one successful transfer, and the agents hold it all.
    async fn assert_paid_once(&self, engine: &Engine) {
        for (task, reward) in REWARDS {
            assert_paid_by_one_transfer(engine, &self.outage.inner, task, reward);
        }
        let mut held = 0;
        for agent in ["alice", "bob"] {
            let account = &self.wired.wiring.accounts[agent];
            let balance = self.outage.inner.token_balance(account, &self.wired.wiring.token).await;
            held += balance.expect("the balance reads");
        }
        assert_eq!(
            held,
            REWARDS.iter().map(|r| r.1).sum::<i64>(),
            "the agents hold every reward once"
        );
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.agents.cancel();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("a tokio runtime starts")
}

#[test]
fn a_payment_asks_again_while_the_network_is_away_and_pays_once() {
    let runtime = runtime();
    runtime.block_on(async {
        let fixture = Fixture::new().await;
        fixture.outage.drops.store(3, Ordering::SeqCst);
        let never = CancellationToken::new();
        let run = tokio::time::timeout(Duration::from_secs(60), fixture.run(Duration::from_secs(120), &never));
        let (summary, engine) = run.await.expect("the run ends within 60 s");
        let summary = summary.expect("the run rides out the outage");
        assert_eq!(summary.outcome, Outcome::Finished, "{summary:?}");
        assert_eq!(fixture.outage.dropped.load(Ordering::SeqCst), 3, "every drop was met");
        fixture.assert_paid_once(&engine).await;
    });
}

#[test]
fn agents_whose_messages_the_network_drops_send_them_again_and_every_task_is_paid_once() {
    let runtime = runtime();
    runtime.block_on(async {
        let fixture = Fixture::new().await;
        fixture.outage.status_drops.store(4, Ordering::SeqCst);
        let never = CancellationToken::new();
        let run = tokio::time::timeout(Duration::from_secs(60), fixture.run(Duration::from_secs(120), &never));
        let (summary, engine) = run.await.expect("the run ends within 60 s");
        assert_eq!(summary.expect("the run finishes").outcome, Outcome::Finished);
        assert_eq!(
            fixture.outage.status_dropped.load(Ordering::SeqCst),
            4,
            "every drop was met"
        );
        assert!(engine.rejections().is_empty(), "{:#?}", engine.rejections());
        fixture.assert_paid_once(&engine).await;
    });
}

#[test]
fn an_outage_that_outlasts_a_stop_or_the_patience_loses_and_repeats_no_payment() {
    let runtime = runtime();
    runtime.block_on(async {
        let fixture = Fixture::new().await;
        fixture.outage.drops.store(u32::MAX, Ordering::SeqCst);
        // Stopped while it waits for the network: it returns at once, nothing settled.
        let stop = CancellationToken::new();
        let stopping = stop.clone();
        let outage = fixture.outage.clone();
        tokio::spawn(async move {
            while outage.dropped.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            stopping.cancel();
        });
        let run = tokio::time::timeout(Duration::from_secs(30), fixture.run(Duration::from_secs(600), &stop));
        let (summary, _) = run.await.expect("a stopped run does not wait out its patience");
        let summary = summary.expect("a stop is not an error");
        assert_eq!(summary.outcome, Outcome::Running, "{summary:?}");
        assert_eq!(summary.transfers, 0, "no transfer settled while the network was away");

        // The next run waits its patience (1 s, then 2 s), then ends with the error.
        let started = Instant::now();
        let never = CancellationToken::new();
        let (summary, _) = fixture.run(Duration::from_secs(2), &never).await;
        let error = summary
            .expect_err("an outage past the patience ends the run")
            .to_string();
        assert!(
            error.starts_with("task `")
                && error.contains("payment transfer failed")
                && error.contains("did not answer"),
            "{error}"
        );
        assert!(
            started.elapsed() >= Duration::from_secs(3),
            "it waited before giving up"
        );

        // The network is back: the next run settles what moved and pays the rest, each once.
        fixture.outage.drops.store(0, Ordering::SeqCst);
        let run = tokio::time::timeout(Duration::from_secs(60), fixture.run(Duration::from_secs(120), &never));
        let (summary, engine) = run.await.expect("the run ends within 60 s");
        assert_eq!(summary.expect("the run finishes").outcome, Outcome::Finished);
        fixture.assert_paid_once(&engine).await;
    });
}
