//! The Hedera path through the real SDK against `baton devnet`, in release mode: `cargo bench
//! --features hedera --bench hedera` (`BATON_BENCH_MESSAGES=N` messages, 500 unless set,
//! `BATON_BENCH_MESSAGE_BYTES` their size, 512, `BATON_BENCH_IN_FLIGHT` messages sent at once in
//! the concurrent case, 8, `BATON_BENCH_PAYMENTS` payments, 500, `BATON_BENCH_WORKFLOW` the
//! festival, `workflows/quality-pipeline.yaml`, `BATON_BENCH_FESTIVAL=0` to skip it,
//! `BATON_BENCH_TIMELINE=1` to print its log with consensus times, `BATON_BENCH_PAYMENT_WINDOW`
//! the coordinator's payment window in seconds, 0, `BATON_BENCH_RUNS` runs of
//! each message and payment loop, 5).
//!
//! A devnet ([`baton::devnet::Devnet`], a Hedera-compatible node and mirror) is started in this
//! process on free loopback ports, with no faults, and a `HederaLedger` (hiero-sdk) connects as
//! its operator. Each operation goes through the SDK, gRPC over loopback, the devnet's checks
//! (signatures, validity window, fees) and its SQLite ledger; each submission then asks for the
//! receipt and the record, as the backend does. Client and devnet share this process's runtime
//! and the machine's cores. It is a loopback emulator, not a network: there is no consensus
//! latency (a real network adds seconds), no throttling and no fee in dollars.
//!
//! Measured, wall clock, the median of the runs for each loop and once for the rest:
//! - messages per second: N topic messages submitted one after another, then N with several in
//!   flight (that many tasks each submitting its share one after another);
//! - payments per second: N payments each in its own transfer (two movements), then N payments
//!   ten to a transfer, paid to nine accounts as the executor batches them (payments to the same
//!   account merged, the treasury's debit the tenth movement); the ratio of the two rates; and
//!   the time a receipt query takes to answer that a transaction was never sent (the executor
//!   asks it before each transfer, to settle an intent a crashed run may have executed);
//! - a festival run by the executor with simulated agents on the devnet (see `hedera/festival.rs`):
//!   the transactions each party sent (counted by a wrapping ledger), the log's messages by type
//!   per festival and per task against the targets (one assignment message per task, one
//!   transfer per ten payments), and the time from each task's result message to the payment
//!   intent naming it, to the consensus time of the transfer that paid it (from its receipt) and
//!   to its settlement message (median and max, all consensus times).
//!
//! Baselines, in the same process: the same message and payment loops on the local ledger the
//! devnet is built on, called directly (no SDK, no gRPC, no signature checks): the gap is the
//! cost of speaking Hedera's protocol, as a ratio.

mod common;
#[path = "hedera/counted.rs"]
mod counted;
#[path = "hedera/festival.rs"]
mod festival;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use baton::devnet::{Config, Devnet, Faults};
use baton::ledger::hedera::{HederaConfig, HederaLedger, Network};
use baton::ledger::{AccountId, ConsensusTime, Ledger, LocalLedger, Status, TokenId, TokenMove, TopicId, TxId};
use baton::wire::generate_key;
use tokio_util::sync::CancellationToken;

use common::{env_usize, median};
use counted::Tally;
use festival::FestivalRun;

/// Accounts paid in the payment loops: nine, so that a transfer of ten payments has ten
/// movements with the treasury's debit.
const PAYEES: usize = 9;
/// Payments per batched transfer, as the executor batches them.
const BATCH: usize = 10;

/// What the loops need: sizes from the environment.
struct Sizes {
    messages: usize,
    bytes: usize,
    in_flight: usize,
    payments: usize,
    /// Runs of each loop; the median is reported.
    runs: usize,
}

/// A token, its treasury and the accounts the payment loops pay.
struct Wallet {
    treasury: AccountId,
    token: TokenId,
    payees: Vec<AccountId>,
}

fn main() {
    let sizes = Sizes {
        messages: env_usize("BATON_BENCH_MESSAGES", 500).max(1),
        bytes: env_usize("BATON_BENCH_MESSAGE_BYTES", 512).clamp(1, 1024),
        in_flight: env_usize("BATON_BENCH_IN_FLIGHT", 8).max(1),
        payments: env_usize("BATON_BENCH_PAYMENTS", 500).max(BATCH),
        runs: env_usize("BATON_BENCH_RUNS", 5).max(1),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let dir = std::env::temp_dir().join(format!("baton-bench-hedera-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    runtime.block_on(bench(&sizes, &dir));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn bench(sizes: &Sizes, dir: &Path) {
    println!(
        "devnet on loopback in this process, hiero-sdk client; {} messages of {} bytes, {} payments, median of {} runs",
        sizes.messages, sizes.bytes, sizes.payments, sizes.runs
    );
    let local = local_rates(sizes, &dir.join("local")).await;
    let cancel = CancellationToken::new();
    let devnet = start_devnet(&dir.join("devnet"), cancel.clone()).await;
    let config = hedera_config(&devnet);
    let ledger = Arc::new(HederaLedger::connect(config.clone()).expect("the operator's client connects"));
    devnet_rates(sizes, &ledger, &local).await;
    if env_usize("BATON_BENCH_FESTIVAL", 1) > 0 {
        let workflow = std::env::var("BATON_BENCH_WORKFLOW").map_or_else(
            |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/quality-pipeline.yaml"),
            PathBuf::from,
        );
        let run = festival::run(&config, &workflow).await;
        print_festival(&run);
    }
    drop(ledger);
    cancel.cancel();
    devnet.stopped().await;
}

/// Time per message and per payment (one per transfer, ten per transfer) on the local ledger.
struct Local {
    message: Duration,
    single: Duration,
    batched: Duration,
}

async fn local_rates(sizes: &Sizes, dir: &Path) -> Local {
    let ledger = LocalLedger::open(dir).expect("a local ledger");
    let topic = ledger.create_topic("bench").await.expect("a topic");
    let payload = vec![b'x'; sizes.bytes];
    let (runs, messages, payments) = (sizes.runs, sizes.messages, sizes.payments);
    let message = median_of(runs, async || {
        submit_one_by_one(&ledger, &topic, messages, &payload).await
    })
    .await;
    let wallet = local_wallet(&ledger).await;
    let single = median_of(runs, async || pay(&ledger, &wallet, payments, 1).await).await;
    let batched = median_of(runs, async || pay(&ledger, &wallet, payments, BATCH).await).await;
    let local = Local {
        message: message / count(messages),
        single: single / count(payments),
        batched: batched / count(payments),
    };
    print_rate(
        "baseline  local ledger, messages one at a time:   ",
        "messages",
        local.message,
        None,
    );
    print_rate(
        "baseline  local ledger, one payment per transfer: ",
        "payments",
        local.single,
        None,
    );
    print_rate(
        "baseline  local ledger, ten payments per transfer:",
        "payments",
        local.batched,
        None,
    );
    local
}

async fn devnet_rates(sizes: &Sizes, ledger: &Arc<HederaLedger>, local: &Local) {
    let topic = ledger.create_topic("bench").await.expect("a topic");
    let payload = vec![b'x'; sizes.bytes];
    let (runs, messages, payments) = (sizes.runs, sizes.messages, sizes.payments);
    let one = median_of(runs, async || {
        submit_one_by_one(ledger.as_ref(), &topic, messages, &payload).await
    })
    .await
        / count(messages);
    print_rate(
        "messages  SDK to devnet, one at a time:           ",
        "messages",
        one,
        Some(local.message),
    );
    let label = format!("messages  SDK to devnet, {:2} in flight:           ", sizes.in_flight);
    let many =
        median_of(runs, async || submit_in_flight(ledger, &topic, sizes, &payload).await).await / count(messages);
    print_rate(&label, "messages", many, Some(local.message));

    let wallet = devnet_wallet(ledger).await;
    let single = median_of(runs, async || pay(ledger.as_ref(), &wallet, payments, 1).await).await / count(payments);
    print_rate(
        "payments  SDK to devnet, one per transfer:        ",
        "payments",
        single,
        Some(local.single),
    );
    let batched =
        median_of(runs, async || pay(ledger.as_ref(), &wallet, payments, BATCH).await).await / count(payments);
    print_rate(
        "payments  SDK to devnet, ten per transfer:        ",
        "payments",
        batched,
        Some(local.batched),
    );
    println!(
        "          batched / single: {:.1}x the payments per second ({:.1} ms a transfer of one, {:.1} ms of ten)",
        single.as_secs_f64() / batched.as_secs_f64(),
        ms(single),
        ms(batched * u32::try_from(BATCH).unwrap_or(1)),
    );
    let unseen = next_tx(&wallet.treasury, &mut 0);
    let started = Instant::now();
    let answer = ledger.receipt(&unseen).await.expect("a receipt query");
    assert!(answer.is_none(), "{unseen} was never sent");
    println!(
        "receipts  SDK to devnet, a transaction never sent:  {:.0} ms to answer that there is none (the executor asks before each transfer)",
        ms(started.elapsed())
    );
}

/// The median of `runs` calls of `f`.
async fn median_of(runs: usize, mut f: impl AsyncFnMut() -> Duration) -> Duration {
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        times.push(f().await);
    }
    median(times)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One line: the rate, the time each, and the ratio to the baseline's time each.
fn print_rate(label: &str, unit: &str, each: Duration, baseline: Option<Duration>) {
    let ratio = baseline.map_or_else(String::new, |b| {
        format!(
            "  {:6.1}x the local ledger's time",
            each.as_secs_f64() / b.as_secs_f64()
        )
    });
    println!(
        "{label} {:9.0} {unit}/s  {:8.3} ms each{ratio}",
        1.0 / each.as_secs_f64(),
        ms(each)
    );
}

async fn submit_one_by_one<L: Ledger>(ledger: &L, topic: &TopicId, n: usize, payload: &[u8]) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        ledger.submit(topic, payload).await.expect("a message is submitted");
    }
    started.elapsed()
}

/// `sizes.messages` messages from `sizes.in_flight` tasks at once, each submitting its share.
async fn submit_in_flight(ledger: &Arc<HederaLedger>, topic: &TopicId, sizes: &Sizes, payload: &[u8]) -> Duration {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..sizes.in_flight {
        let share = sizes.messages / sizes.in_flight + usize::from(i < sizes.messages % sizes.in_flight);
        let (ledger, topic, payload) = (ledger.clone(), topic.clone(), payload.to_vec());
        tasks.spawn(async move { submit_one_by_one(ledger.as_ref(), &topic, share, &payload).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a submitting task ends");
    }
    started.elapsed()
}

/// `n` payments of 1.00, `per_transfer` to a transfer, to the payees in turn; every transfer
/// must succeed.
async fn pay<L: Ledger>(ledger: &L, wallet: &Wallet, n: usize, per_transfer: usize) -> Duration {
    let mut last = 0;
    let started = Instant::now();
    for (batch, first) in (0..n).step_by(per_transfer).enumerate() {
        let payees = (first..n.min(first + per_transfer)).map(|i| &wallet.payees[i % PAYEES]);
        let tx = next_tx(&wallet.treasury, &mut last);
        let memo = format!("bench:{batch}");
        let receipt = ledger
            .transfer(&tx, &wallet.token, &moves(&wallet.treasury, payees), &memo)
            .await
            .expect("a transfer is executed");
        assert_eq!(receipt.status, Status::Success, "transfer {tx}");
    }
    started.elapsed()
}

/// The movements of payments of 100 minor units to `payees`, merged by account, after the
/// treasury's debit.
fn moves<'a>(treasury: &AccountId, payees: impl Iterator<Item = &'a AccountId>) -> Vec<TokenMove> {
    let mut out = vec![TokenMove {
        account: treasury.clone(),
        amount: 0,
    }];
    for payee in payees {
        out[0].amount -= 100;
        match out.iter_mut().find(|m| m.account == *payee) {
            Some(m) => m.amount += 100,
            None => out.push(TokenMove {
                account: payee.clone(),
                amount: 100,
            }),
        }
    }
    out
}

/// A transaction id paid by `payer`, valid from a second ago (as the engine chooses them from
/// consensus time) and after the last one.
fn next_tx(payer: &AccountId, last: &mut i64) -> TxId {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let now = i64::try_from(nanos).unwrap_or(i64::MAX) - 1_000_000_000;
    *last = now.max(*last + 1);
    TxId {
        payer: payer.clone(),
        valid_start: ConsensusTime(*last),
    }
}

async fn local_wallet(ledger: &LocalLedger) -> Wallet {
    let account = |n: usize| AccountId(format!("0.0.{}", 1000 + n));
    let treasury = account(0);
    let token = TokenId("0.0.5005".into());
    for n in 0..=PAYEES {
        let key = generate_key().verifying_key();
        ledger
            .ensure_account(&account(n), key.as_bytes())
            .await
            .expect("an account");
    }
    ledger
        .ensure_token(&token, "BATON", 2, &treasury, 1_000_000_000_000_000)
        .await
        .expect("a token");
    let payees: Vec<AccountId> = (1..=PAYEES).map(account).collect();
    for payee in &payees {
        ledger.associate(payee, &token).await.expect("associated");
    }
    Wallet {
        treasury,
        token,
        payees,
    }
}

async fn devnet_wallet(ledger: &HederaLedger) -> Wallet {
    let token = ledger
        .create_token("bench", "BENCH", 2, 1_000_000_000_000_000)
        .await
        .expect("a token");
    let mut payees = Vec::new();
    for _ in 0..PAYEES {
        let key = generate_key();
        let account = ledger
            .create_account(&key.verifying_key(), 0)
            .await
            .expect("an account");
        ledger.associate_as(&account, &key, &token).await.expect("associated");
        payees.push(account);
    }
    Wallet {
        treasury: ledger.operator().clone(),
        token,
        payees,
    }
}

async fn start_devnet(state: &Path, cancel: CancellationToken) -> Devnet {
    let config = Config {
        node: "127.0.0.1:0".parse().expect("a socket address"),
        mirror: "127.0.0.1:0".parse().expect("a socket address"),
        rest: "127.0.0.1:0".parse().expect("a socket address"),
        state: state.to_path_buf(),
        faults: Faults::default(),
    };
    Devnet::start(config, cancel).await.expect("the devnet starts")
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

/// The festival's transactions per festival and per task, against the targets, and the time
/// from result to payment.
fn print_festival(run: &FestivalRun) {
    let tasks = run.tasks as f64;
    println!(
        "festival  {}: {} tasks in {:.1} s, outcome {:?}, {} messages in the log",
        run.id,
        run.tasks,
        run.wall.as_secs_f64(),
        run.summary.outcome,
        run.log.len()
    );
    print_transactions("coordinator", &run.coordinator, tasks);
    print_transactions("agents", &run.agents, tasks);
    let mut line = String::from("          messages by type (per task):");
    for ((who, kind), n) in run.messages_by_type() {
        line.push_str(&format!(" {who} {kind} {n} ({:.1});", n as f64 / tasks));
    }
    println!("{}", line.trim_end_matches(';'));
    print_targets(run, tasks);
    print_latency(run);
    if std::env::var_os("BATON_BENCH_TIMELINE").is_some() {
        print_timeline(run);
    }
}

/// One assignment message per task; one transfer per ten payments.
fn print_targets(run: &FestivalRun, tasks: f64) {
    let assignments = run
        .messages_by_type()
        .get(&("coordinator", baton::wire::MessageType::TaskAssignment))
        .copied()
        .unwrap_or(0);
    let (payments, paid) = run.payments();
    let transfers = run.transfers.len();
    println!(
        "          targets: assignment messages per task {:.2} (target 1); transfers {transfers} for {payments} payments, {:.1} payments a transfer (target {BATCH}: {} transfer(s)); {paid} paid",
        assignments as f64 / tasks,
        payments as f64 / transfers.max(1) as f64,
        payments.div_ceil(BATCH)
    );
}

/// From each task's result message to its payment, median and max of each step.
fn print_latency(run: &FestivalRun) {
    let steps = run.result_to_payment();
    if steps.is_empty() {
        println!("          no task was paid: no time from result to payment");
        return;
    }
    let mut line = format!(
        "          result message to payment, {} tasks, median / max:",
        steps.len()
    );
    let parts = [
        ("payment intent", steps.iter().map(|l| l.to_intent).collect::<Vec<_>>()),
        ("transfer at consensus", steps.iter().map(|l| l.to_transfer).collect()),
        ("settlement in the log", steps.iter().map(|l| l.to_settled).collect()),
    ];
    for (what, times) in parts {
        let max = times.iter().copied().max().unwrap_or_default();
        line.push_str(&format!(" {what} {:.0} / {:.0} ms;", ms(median(times)), ms(max)));
    }
    println!("{}", line.trim_end_matches(';'));
}

/// Every message of the festival's log in consensus order, from the first.
fn print_timeline(run: &FestivalRun) {
    let mut log: Vec<&festival::Logged> = run.log.iter().collect();
    log.sort_by_key(|m| m.consensus);
    let first = log.first().map_or(0, |m| m.consensus);
    for m in log {
        let e = &m.envelope;
        println!(
            "          {:8.3} s  {:12} {:16} {}",
            (m.consensus - first) as f64 / 1e9,
            e.sender,
            e.kind.as_str(),
            e.task_id.as_deref().unwrap_or("")
        );
    }
}

fn print_transactions(who: &str, tally: &Tally, tasks: f64) {
    let get = Tally::get;
    let chunks = get(&tally.message_chunks);
    let (transfers, schedules) = (get(&tally.transfers), get(&tally.schedules));
    let total = chunks + transfers + schedules;
    println!(
        "          {who:<11} transactions {total} ({:.1} per task): {chunks} message chunks ({} messages), {transfers} transfers, {schedules} schedule creates; {} receipt queries",
        total as f64 / tasks,
        get(&tally.messages),
        get(&tally.receipts)
    );
}
