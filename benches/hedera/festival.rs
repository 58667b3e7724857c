//! A whole festival on the devnet, in this process, as `baton setup --network devnet` then `baton
//! run --network devnet --simulate` do it: the token, topics and one funded, associated account
//! per agent made through the SDK; the coordinator paying from the operator and each simulated
//! agent paying its own messages from its own account, every client counted ([`Counted`]). Then
//! the log, read back through the mirror, is what the transactions are counted and timed by.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton::agent::simulate::{self, Behaviour};
use baton::check::Festival;
use baton::engine::{Config, Engine};
use baton::executor::network::{Provision, Signer, signers, wiring};
use baton::executor::{Coordinator, Options, Summary, Wiring};
use baton::ledger::hedera::{HederaConfig, HederaLedger};
use baton::ledger::{Ledger, TopicId, TxId};
use baton::wire::{Body, Envelope, MessageType, ResultStatus, SigningKey, parse_secret_key};
use tokio_util::sync::CancellationToken;

use super::counted::{Counted, Tally};

/// Token minor units the treasury starts with.
const SUPPLY: i64 = 1_000_000_000;
/// HBAR each agent's account starts with, in tinybars (10 ℏ): it pays the agent's messages.
const AGENT_FUNDS: i64 = 10 * 100_000_000;

/// What a festival run did, read back from its log.
pub(crate) struct FestivalRun {
    pub(crate) id: String,
    pub(crate) tasks: usize,
    pub(crate) wall: Duration,
    pub(crate) summary: Summary,
    /// Transactions sent by the coordinator and by all the agents.
    pub(crate) coordinator: Arc<Tally>,
    pub(crate) agents: Arc<Tally>,
    /// Every message of both topics, in consensus order per topic.
    pub(crate) log: Vec<Logged>,
    /// The consensus time of each transfer in the log's payment intents, from its receipt.
    pub(crate) transfers: BTreeMap<String, i64>,
}

/// From a task's result message to its payment, at consensus.
pub(crate) struct Latency {
    pub(crate) to_intent: Duration,
    pub(crate) to_transfer: Duration,
    pub(crate) to_settled: Duration,
}

/// One message of the festival's log.
pub(crate) struct Logged {
    pub(crate) consensus: i64,
    pub(crate) envelope: Envelope,
}

/// Provisions the festival of `workflow` on the network of `config` (its operator paying), runs
/// it with simulated agents until it is over, and reads its log back.
pub(crate) async fn run(config: &HederaConfig, workflow: &Path) -> FestivalRun {
    let operator = HederaLedger::connect(config.clone()).expect("the operator's client connects");
    let env = provision(&operator, workflow).await;
    let loaded = baton::load::load(workflow, &env).expect("the workflow can be read");
    let festival = Arc::new(loaded.festival.expect("the workflow is valid"));
    let vars = |name: &str| env.get(name).cloned();
    let wiring = wiring(&operator, &config.operator, &festival, &vars)
        .await
        .expect("the festival is wired to the devnet");
    let keys = signer_keys(&signers(&loaded.sources, &festival), &env);
    let agents = Arc::new(Tally::default());
    let cancel = CancellationToken::new();
    spawn_signers(config, &festival, &wiring, &keys, &agents, &cancel);

    let coordinator = Arc::new(Tally::default());
    let ledger = Arc::new(Counted {
        inner: operator,
        tally: coordinator.clone(),
    });
    let engine_config = Config {
        payment_window_secs: crate::common::env_usize("BATON_BENCH_PAYMENT_WINDOW", 0) as u64,
        ..Config::default()
    };
    let engine = Engine::new(festival.clone(), &engine_config).expect("an engine");
    let mut run = Coordinator::new(ledger.clone(), engine, wiring.clone(), config.operator_key.clone());
    let options = Options {
        tick: Duration::from_secs(1),
        stop_when_done: true,
        ..Options::default()
    };
    let started = Instant::now();
    let summary = run
        .run(&options, &cancel, &mut |_| {})
        .await
        .expect("the festival runs");
    let wall = started.elapsed();
    cancel.cancel();
    let log = read_log(&ledger.inner, &wiring).await;
    let transfers = transfer_times(&ledger.inner, &log).await;
    FestivalRun {
        id: festival.id.clone(),
        tasks: festival.tasks.len(),
        wall,
        summary,
        coordinator,
        agents,
        log,
        transfers,
    }
}

/// `baton setup`'s work for a fresh network: the token, both topics, and an account for each
/// signer; returns the variables as `.env` would hold them.
async fn provision(operator: &HederaLedger, workflow: &Path) -> BTreeMap<String, String> {
    let first = baton::load::load(workflow, &BTreeMap::<String, String>::new()).expect("the workflow can be read");
    let festival = first.festival.expect("the workflow is valid with its defaults");
    let signers = signers(&first.sources, &festival);
    let provision = Provision {
        signers: &signers,
        decimals: festival.payment.decimals,
        supply: SUPPLY,
        fund_tinybars: AGENT_FUNDS,
    };
    let made = provision
        .apply(operator, &|_: &str| None)
        .await
        .expect("the token, topics and accounts are made");
    made.vars.into_iter().collect()
}

/// Each signer's account (from its variable) and key.
fn signer_keys(signers: &[Signer], env: &BTreeMap<String, String>) -> HashMap<String, SigningKey> {
    signers
        .iter()
        .map(|s| {
            let key = parse_secret_key(&env[&s.key_var]).expect("setup wrote a valid key");
            (s.id.clone(), key)
        })
        .collect()
}

/// Starts a simulated agent per agent and a simulated approver per approver, each with its own
/// client paid by its own account.
fn spawn_signers(
    config: &HederaConfig,
    festival: &Arc<Festival>,
    wiring: &Wiring,
    keys: &HashMap<String, SigningKey>,
    tally: &Arc<Tally>,
    cancel: &CancellationToken,
) {
    let behaviour = Behaviour {
        success_rate: 1.0,
        min_work: Duration::from_millis(2),
        max_work: Duration::from_millis(20),
        heartbeat: Duration::from_secs(30),
        downtime: Duration::from_secs(91),
        ..Behaviour::default()
    };
    let client = |id: &str| {
        let account = wiring
            .accounts
            .get(id)
            .cloned()
            .or_else(|| approver_account(festival, id))
            .expect("every signer has an account");
        let inner = HederaLedger::connect(config.with_operator(account, keys[id].clone())).expect("connects");
        Arc::new(Counted {
            inner,
            tally: tally.clone(),
        })
    };
    for agent in &festival.agents {
        let id = agent.id.value.clone();
        let members = vec![(id.clone(), keys[&id].clone())];
        let crew = simulate::crew(
            client(&id),
            festival.clone(),
            wiring.clone(),
            members,
            behaviour.clone(),
            cancel.clone(),
        );
        tokio::spawn(async move { crew.await.expect("a simulated agent runs") });
    }
    for approver in &festival.approvers {
        let id = approver.id.value.clone();
        let run = simulate::approver(
            client(&id),
            festival.clone(),
            wiring.clone(),
            id.clone(),
            keys[&id].clone(),
            cancel.clone(),
        );
        tokio::spawn(async move { run.await.expect("a simulated approver runs") });
    }
}

fn approver_account(festival: &Festival, id: &str) -> Option<baton::ledger::AccountId> {
    let approver = festival.approvers.iter().find(|a| a.id.value == id)?;
    approver.account.as_ref()?.value.parse().ok()
}

/// Both topics read through the mirror until nothing more arrives within twice the mirror's lag
/// (ticks scheduled before the run ended may still land).
async fn read_log(ledger: &HederaLedger, wiring: &Wiring) -> Vec<Logged> {
    let mut log = Vec::new();
    for topic in [&wiring.tasks_topic, &wiring.status_topic] {
        log.extend(read_topic(ledger, topic).await);
    }
    log
}

async fn read_topic(ledger: &HederaLedger, topic: &TopicId) -> Vec<Logged> {
    let mut out = Vec::new();
    let mut after = 0;
    let mut quiet = 0;
    while quiet < 2 {
        let batch = ledger
            .messages(topic, after, 1000)
            .await
            .expect("the topic can be read");
        if batch.is_empty() {
            quiet += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        }
        quiet = 0;
        for m in batch {
            after = m.sequence;
            let envelope: Envelope = serde_json::from_slice(&m.payload).expect("every message is an envelope");
            out.push(Logged {
                consensus: m.consensus.0,
                envelope,
            });
        }
    }
    out
}

/// The consensus time of every transfer a payment intent in the log names, from its receipt.
async fn transfer_times(ledger: &HederaLedger, log: &[Logged]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for m in log {
        if let Ok(Body::PaymentIntent(intent)) = m.envelope.body() {
            let tx: TxId = intent.tx_id;
            let receipt = ledger.receipt(&tx).await.expect("the receipt can be read");
            out.insert(tx.to_string(), receipt.expect("every intent was executed").consensus.0);
        }
    }
    out
}

impl FestivalRun {
    /// Messages in the log by sender (`coordinator` or `agents`) and type.
    pub(crate) fn messages_by_type(&self) -> BTreeMap<(&'static str, MessageType), u64> {
        let mut out = BTreeMap::new();
        for m in &self.log {
            let who = if m.envelope.sender == "coordinator" {
                "coordinator"
            } else {
                "agents"
            };
            *out.entry((who, m.envelope.kind)).or_default() += 1;
        }
        out
    }

    /// Payments in the log's intents, and tasks paid successfully.
    pub(crate) fn payments(&self) -> (usize, usize) {
        let mut intended = 0;
        let mut settled = 0;
        for m in &self.log {
            match m.envelope.body() {
                Ok(Body::PaymentIntent(intent)) => intended += intent.payments.len(),
                Ok(Body::PaymentSettled(s)) if s.tx_status == "SUCCESS" => settled += 1,
                _ => {}
            }
        }
        (intended, settled)
    }

    /// For each task paid, the steps from the consensus time of its (last) completed result to
    /// its payment: to the payment intent naming it, to the transfer's consensus time, and to its
    /// settlement message.
    pub(crate) fn result_to_payment(&self) -> Vec<Latency> {
        let mut result_at: HashMap<&str, i64> = HashMap::new();
        let mut intent_at: HashMap<String, i64> = HashMap::new();
        let mut paid: Vec<(String, String, i64)> = Vec::new();
        for m in &self.log {
            match m.envelope.body() {
                Ok(Body::TaskResult(r)) if r.status == ResultStatus::Completed => {
                    if let Some(task) = m.envelope.task_id.as_deref() {
                        result_at.insert(task, m.consensus);
                    }
                }
                Ok(Body::PaymentIntent(intent)) => {
                    for p in intent.payments {
                        intent_at.insert(p.task_id, m.consensus);
                    }
                }
                Ok(Body::PaymentSettled(s)) if s.tx_status == "SUCCESS" => {
                    paid.push((s.task_id, s.tx_id.to_string(), m.consensus));
                }
                _ => {}
            }
        }
        let since = |from: i64, to: i64| Duration::from_nanos(u64::try_from(to - from).unwrap_or(0));
        paid.iter()
            .filter_map(|(task, tx, settled)| {
                let result = *result_at.get(task.as_str())?;
                let (intent, transfer) = (*intent_at.get(task)?, *self.transfers.get(tx)?);
                Some(Latency {
                    to_intent: since(result, intent),
                    to_transfer: since(result, transfer),
                    to_settled: since(result, *settled),
                })
            })
            .collect()
    }
}
