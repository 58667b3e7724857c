//! Replay of a real log of 1,000,000 messages into a fresh engine, in release mode:
//! `cargo bench --bench replay` (`BATON_BENCH_MESSAGES=N` for about N messages).
//!
//! The log is one festival big enough to give the messages: the generated layered workflow of
//! `benches/validate.rs` grown to 3,226 layers of 100 tasks (322,600 tasks, 10 agents), about 3.1
//! messages a task (assigned, a result that begins its work, settled, and a payment intent for up
//! to ten tasks; no verdict, as the tasks have no gates to run): about 1,000,000 messages. It is driven to payment by the engine alone with instant
//! agents, and each event becomes the signed envelope its sender would publish (with the keys
//! `baton run` creates), agents' results carrying the simulated agents' passing report. Each
//! sender's messages of a round are signed together (`wire::seal_all`), as `baton run` signs a
//! step's messages on the local ledger; with `BATON_BENCH_SINGLE_SIGNATURES=1` each is signed
//! alone (`wire::seal`), as on Hedera. The messages go on the festival's two topics of a `LocalLedger` in a temporary
//! directory, in bulk (`LocalLedger::submit_many`). Building the log is not timed.
//!
//! Timed, once (a run takes about a minute): a fresh engine reading the log through the
//! coordinator's own path, `LogReader::poll` then `executor::fold_all` (decoding and signature
//! checks spread over every core, folding in order); reported as messages per second and
//! seconds, with the time reading from the ledger, and the peak memory of the replay. The rest
//! of the time is split into decoding, checking the signature and the engine's fold in the
//! proportions measured by timing each step (`wire::decode`, `log::to_event`,
//! `Engine::apply`) on the first tenth of the log folded into another fresh engine, on one
//! thread.
//!
//! The baseline, in the same process, is reading the same log and parsing every payload as JSON
//! (`serde_json::Value`): the floor of any reader of a JSON log.
//!
//! Then a restart from a snapshot, as `baton run` on the local ledger takes one up: the replayed
//! engine written as a snapshot (`executor::Snapshots::write`, timed) and taken up by a fresh
//! coordinator's path (reading and checking the snapshot, then reading the log again to its mark
//! and hashing it, `LogReader::resume`), timed against the replay.

mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton::agent::simulate::passing_report;
use baton::check::Festival;
use baton::engine::{Config, Engine, Event, Fact, Outcome, PaymentOrder, Sender};
use baton::executor::log::to_event;
use baton::executor::{LogMark, LogReader, Snapshots, Wiring, fold_all, memo, setup};
use baton::ledger::{LocalLedger, TopicId, TxId};
use baton::wire::{self, Body, Envelope, Keyring};
use serde_json::Value as Json;

use common::{Drive, WIDTH, env_usize};

/// Messages per layer of 100 tasks: three a task and ten payment intents.
const MESSAGES_PER_LAYER: usize = 310;
/// Events signed and written at a time while building the log.
const CHUNK: usize = 50_000;
/// The split of the fold is timed on the first 1/PREFIX of the log.
const PREFIX: usize = 10;

fn main() {
    let target = env_usize("BATON_BENCH_MESSAGES", 1_000_000);
    let layers = target.div_ceil(MESSAGES_PER_LAYER).max(1);
    let dir = std::env::temp_dir().join(format!("baton-bench-replay-{}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let festival = common::festival(layers);
    let started = Instant::now();
    let (ledger, wiring) = runtime.block_on(build(&dir, &festival));
    let built = started.elapsed();
    // The log was signed in this process: forget those signatures, as a reader in another would.
    wire::forget_checked();
    let (total, engine, mark) = runtime.block_on(replay(&ledger, &wiring, &festival));
    let baseline = runtime.block_on(baseline(&ledger, &wiring));
    let restart = runtime.block_on(restart(&ledger, &wiring, &festival, &dir, engine, &mark));
    let split = runtime.block_on(split(&ledger, &wiring, &festival));
    report(&festival, built, &total, baseline, &split);
    restart.report(&total);
    drop(ledger);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the replay measured.
struct Replayed {
    messages: usize,
    /// Bytes of the messages' payloads.
    bytes: usize,
    /// Reading and folding, from a fresh engine to the last message.
    whole: Duration,
    /// Reading alone (`LogReader::poll`).
    read: Duration,
    /// Peak memory during the replay, when the peak could be reset before it.
    peak_mib: Option<f64>,
}

/// Task id to the agent that holds it.
type Holders = HashMap<String, String>;

/// What turning events into signed messages needs.
struct Signer<'a> {
    festival: &'a Festival,
    wiring: &'a Wiring,
    keyring: &'a Keyring,
    holders: &'a Holders,
}

/// Drives the festival with instant agents and writes every event as a signed message.
async fn build(dir: &Path, festival: &Arc<Festival>) -> (LocalLedger, Wiring) {
    let _ = std::fs::remove_dir_all(dir);
    let ledger = LocalLedger::open(dir).expect("a local ledger");
    let keyring = setup::keyring(dir, festival).expect("keys");
    let wiring = setup::local(&ledger, dir, festival, &keyring)
        .await
        .expect("topics, accounts and token");
    let mut drive = Drive::new(festival.clone(), passing_report(100), true);
    // Events by round: a sender signs what it publishes in one step together.
    let mut pending: Vec<Vec<Event>> = Vec::new();
    let mut held = 0;
    let mut holders = Holders::new();
    let mut sequence = 0;
    let together = std::env::var_os("BATON_BENCH_SINGLE_SIGNATURES").is_none();
    loop {
        let more = drive.round();
        for e in &drive.log {
            if let Fact::Assigned { task, agent, .. } = &e.fact {
                holders.insert(task.clone(), agent.clone());
            }
        }
        held += drive.log.len();
        pending.push(std::mem::take(&mut drive.log));
        if held >= CHUNK || !more {
            let signer = Signer {
                festival,
                wiring: &wiring,
                keyring: &keyring,
                holders: &holders,
            };
            let messages = sign_rounds(&pending, &signer, sequence, together);
            sequence += held as u64;
            ledger.submit_many(&messages).expect("messages written");
            (pending, held) = (Vec::new(), 0);
        }
        if !more {
            break;
        }
    }
    drive.check();
    (ledger, wiring)
}

/// The rounds' events as signed messages on their topics, in order, signed on every core: each
/// sender's messages of a round under one signature when `together` (as `baton run` signs a
/// step's messages on the local ledger), else each alone (as on Hedera).
fn sign_rounds(rounds: &[Vec<Event>], log: &Signer, sequence: u64, together: bool) -> Vec<(TopicId, Vec<u8>)> {
    let mut first = Vec::with_capacity(rounds.len());
    let mut next = sequence;
    for round in rounds {
        first.push(next + 1);
        next += round.len() as u64;
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let size = rounds.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = rounds
            .chunks(size)
            .zip(first.chunks(size))
            .map(|(part, first)| {
                scope.spawn(move || {
                    part.iter()
                        .zip(first)
                        .flat_map(|(round, &n)| sign_round(round, log, n, together))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a signing thread"))
            .collect()
    })
}

/// One round's events as their senders would publish them, numbered from `first`.
fn sign_round(round: &[Event], log: &Signer, first: u64, together: bool) -> Vec<(TopicId, Vec<u8>)> {
    let mut envelopes: Vec<(&str, TopicId, Envelope)> =
        round.iter().zip(first..).map(|(e, n)| message(e, log, n)).collect();
    let mut senders: Vec<&str> = envelopes.iter().map(|m| m.0).collect();
    senders.sort_unstable();
    senders.dedup();
    let mut bytes: Vec<Vec<u8>> = vec![Vec::new(); envelopes.len()];
    for sender in senders {
        let key = log.keyring.get(sender).expect("a key for every sender");
        let (places, mut mine): (Vec<usize>, Vec<Envelope>) = envelopes
            .iter_mut()
            .enumerate()
            .filter(|(_, m)| m.0 == sender)
            .map(|(i, m)| (i, m.2.clone()))
            .unzip();
        for (i, b) in places.into_iter().zip(wire::seal_step(&mut mine, key, together)) {
            bytes[i] = b;
        }
    }
    envelopes
        .into_iter()
        .zip(bytes)
        .map(|((_, topic, _), b)| (topic, b))
        .collect()
}

/// One event as its sender would publish it, not signed yet: its sender, topic and envelope.
fn message<'e>(event: &'e Event, log: &Signer, n: u64) -> (&'e str, TopicId, Envelope) {
    let wiring = log.wiring;
    let (sender, topic) = match &event.sender {
        Sender::Coordinator => ("coordinator", &wiring.tasks_topic),
        Sender::Agent(id) | Sender::Approver(id) => (id.as_str(), &wiring.status_topic),
    };
    let body = body(&event.fact, log.festival, log.wiring, log.holders);
    (
        sender,
        topic.clone(),
        Envelope::new(body.kind(), &wiring.festival, sender, n, &body),
    )
}

/// The body the coordinator or an agent publishes for a fact.
fn body(fact: &Fact, festival: &Festival, wiring: &Wiring, holders: &Holders) -> Body {
    let tx = |tx: &str| tx.parse::<TxId>().expect("the engine's transaction ids parse");
    match fact.clone() {
        Fact::Assigned { task, agent, attempt } => {
            let spec = &festival.tasks[festival.index[&task]];
            Body::TaskAssignment(wire::Assignment {
                task_id: task,
                task_name: spec.name.clone(),
                agent_id: agent,
                attempt,
                command: None,
                input: spec.input.clone(),
                dependencies: spec.depends_on.iter().map(|d| d.value.clone()).collect(),
            })
        }
        Fact::Status {
            task,
            agent,
            status,
            attempt,
        } => Body::StatusUpdate(wire::StatusUpdate {
            task_id: task,
            agent_id: agent,
            new_status: status,
            message: None,
            attempt,
        }),
        Fact::Result {
            task,
            report,
            attempt,
            started,
            ..
        } => Body::TaskResult(wire::TaskResult {
            task_id: task,
            status: wire::ResultStatus::Completed,
            output: Some(report),
            error: None,
            duration_ms: Some(100),
            attempt,
            started,
        }),
        Fact::Judged {
            task, attempt, passed, ..
        } => Body::QualityGate(wire::GateReport {
            task_id: task,
            attempt,
            passed,
            verdicts: Vec::new(),
        }),
        Fact::PaymentIntended { tx: id, payments } => intent(wiring, tx(&id), payments),
        Fact::PaymentSettled {
            task,
            tx: id,
            status,
            amount,
        } => Body::PaymentSettled(wire::Settlement {
            agent_id: holders[&task].clone(),
            task_id: task,
            amount,
            token_id: wiring.token.clone(),
            tx_status: status,
            tx_id: tx(&id),
        }),
        other => panic!("the instant run logs no {other:?}"),
    }
}

/// A payment intent as the coordinator publishes it.
fn intent(wiring: &Wiring, tx: TxId, payments: Vec<PaymentOrder>) -> Body {
    Body::PaymentIntent(wire::PaymentIntent {
        tx_id: tx,
        token_id: wiring.token.clone(),
        payments: payments
            .into_iter()
            .map(|p| wire::IntendedPayment {
                memo: memo(&p.task),
                account: wiring.accounts[&p.agent].clone(),
                task_id: p.task,
                agent_id: p.agent,
                amount: p.amount,
            })
            .collect(),
    })
}

/// A fresh engine reads and folds the whole log, hashing it as a coordinator does.
async fn replay(ledger: &LocalLedger, wiring: &Wiring, festival: &Arc<Festival>) -> (Replayed, Engine, LogMark) {
    let peak_before = common::reset_peak();
    let started = Instant::now();
    let mut engine = Engine::new(festival.clone(), &Config::default()).expect("engine");
    let mut reader = LogReader::hashing(wiring);
    let messages = reader.poll(ledger).await.expect("the log reads");
    let read = started.elapsed();
    fold_all(&mut engine, wiring, &messages);
    let whole = started.elapsed();
    assert!(engine.rejections().is_empty(), "{:?}", engine.rejections().first());
    assert_eq!(engine.outcome(), Outcome::Finished);
    let replayed = Replayed {
        messages: messages.len(),
        bytes: messages.iter().map(|(_, m)| m.payload.len()).sum(),
        whole,
        read,
        peak_mib: if peak_before { Some(common::peak_mib()) } else { None },
    };
    let mark = reader.mark().expect("a hashing reader has a mark");
    (replayed, engine, mark)
}

/// What a restart from a snapshot measured.
struct Restart {
    bytes: u64,
    write: Duration,
    take_up: Duration,
}

/// Writes the replayed engine as a snapshot, then takes it up as a restarting coordinator does.
async fn restart(
    ledger: &LocalLedger,
    wiring: &Wiring,
    festival: &Arc<Festival>,
    dir: &Path,
    engine: Engine,
    mark: &LogMark,
) -> Restart {
    let mut snapshots = Snapshots::new(dir, festival, &Config::default(), 1);
    let started = Instant::now();
    snapshots.write(&engine, mark).expect("the snapshot is written");
    let write = started.elapsed();
    let tasks = engine.task_views();
    drop(engine);
    let started = Instant::now();
    let (restored, found) = snapshots
        .read(festival)
        .expect("the snapshot reads")
        .expect("there is a snapshot");
    let mut reader = LogReader::hashing(wiring);
    let rest = reader.resume(ledger, &found).await.expect("the log reads");
    let take_up = started.elapsed();
    assert_eq!(rest.map(|r| r.len()), Some(0), "the log matches its snapshot");
    assert_eq!(restored.task_views(), tasks);
    let bytes = std::fs::metadata(snapshots.path()).map_or(0, |m| m.len());
    Restart { bytes, write, take_up }
}

impl Restart {
    fn report(&self, replay: &Replayed) {
        let secs = self.take_up.as_secs_f64();
        println!(
            "restart   from a snapshot of {} MiB:    {:6.2} s  ({:.2}x the replay; writing it took {:.2} s)",
            self.bytes / (1024 * 1024),
            secs,
            secs / replay.whole.as_secs_f64(),
            self.write.as_secs_f64()
        );
    }
}

/// Reading the log and parsing every payload as JSON.
async fn baseline(ledger: &LocalLedger, wiring: &Wiring) -> Duration {
    let started = Instant::now();
    let mut reader = LogReader::new(wiring);
    let messages = reader.poll(ledger).await.expect("the log reads");
    for (_, m) in &messages {
        black_box(serde_json::from_slice::<Json>(&m.payload).expect("JSON"));
    }
    started.elapsed()
}

/// How folding a message splits, timed step by step on the first tenth of the log folded into a
/// fresh engine: (decoding, checking the signature and making the event, the engine's fold).
async fn split(ledger: &LocalLedger, wiring: &Wiring, festival: &Arc<Festival>) -> Split {
    // The replay checked these signatures in this process: check them again in full.
    wire::forget_checked();
    let mut reader = LogReader::new(wiring);
    let mut messages = reader.poll(ledger).await.expect("the log reads");
    messages.truncate(messages.len() / PREFIX);
    let mut engine = Engine::new(festival.clone(), &Config::default()).expect("engine");
    let mut split = Split::default();
    for (position, m) in &messages {
        let t0 = Instant::now();
        black_box(wire::decode(&m.payload).expect("a valid message"));
        let t1 = Instant::now();
        let event = to_event(wiring, *position, m).expect("a valid message");
        let t2 = Instant::now();
        engine.apply(&event);
        let t3 = Instant::now();
        split.decode += t1 - t0;
        split.verify += (t2 - t1).saturating_sub(t1 - t0);
        split.fold += t3 - t2;
    }
    assert!(engine.rejections().is_empty(), "{:?}", engine.rejections().first());
    split.messages = messages.len();
    split
}

/// Time spent in each step of folding a message, summed over a prefix of the log.
#[derive(Default)]
struct Split {
    messages: usize,
    decode: Duration,
    verify: Duration,
    fold: Duration,
}

fn report(festival: &Festival, built: Duration, total: &Replayed, baseline: Duration, split: &Split) {
    let n = total.messages as f64;
    let secs = total.whole.as_secs_f64();
    let folding = secs - total.read.as_secs_f64();
    let parts = (split.decode + split.verify + split.fold).as_secs_f64().max(1e-9);
    let share = |d: Duration| folding * d.as_secs_f64() / parts;
    println!(
        "{} tasks ({} layers), {} messages, {} MiB of payloads; log built in {:.1} s",
        festival.tasks.len(),
        festival.tasks.len() / WIDTH,
        total.messages,
        total.bytes / (1024 * 1024),
        built.as_secs_f64()
    );
    println!(
        "baseline  read + parse JSON:              {:6.2} s  {:8.0} messages/s",
        baseline.as_secs_f64(),
        n / baseline.as_secs_f64()
    );
    println!(
        "replay    poll + fold (a fresh engine):   {:6.2} s  {:8.0} messages/s  ({:.1}x baseline)",
        secs,
        n / secs,
        secs / baseline.as_secs_f64()
    );
    println!(
        "  read from the ledger (LogReader::poll): {:6.2} s  {:6.1} us/message",
        total.read.as_secs_f64(),
        total.read.as_secs_f64() * 1e6 / n
    );
    println!(
        "  split of the fold, from the first {} messages timed step by step:",
        split.messages
    );
    for (label, d) in [
        ("decode (JSON, schema, body)       ", split.decode),
        ("verify signature, make the event  ", split.verify),
        ("engine fold (Engine::apply)       ", split.fold),
    ] {
        println!(
            "    {label}  {:6.2} s  {:6.1} us/message  {:4.1}%",
            share(d),
            share(d) * 1e6 / n,
            100.0 * d.as_secs_f64() / parts
        );
    }
    match total.peak_mib {
        Some(mib) => println!("peak memory of the replay (VmHWM): {mib:.0} MiB"),
        None => println!("peak memory of the process (VmHWM): {:.0} MiB", common::peak_mib()),
    }
}
