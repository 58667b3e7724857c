//! The engine alone, no I/O, on the generated 10,000-task workflow (100 layers x 100 tasks, each
//! depending on two tasks of the layer before, 10 agents), in release mode:
//! `cargo bench --bench engine` (`BATON_BENCH_LAYERS=N` for N layers, `BATON_BENCH_RUNS` runs).
//!
//! It drives the whole festival to payment with a perfect shell and instant agents: every
//! decision is answered at once with the events the coordinator and the agents would log
//! (assigned, `start`, result, judged pass, payment intended, payment settled), and each agent
//! asks the engine for its work (`Engine::work_for`) after every round, as simulated agents do.
//! It reports events applied per second, decisions (commands) per second and microseconds per
//! task, median of several runs.
//!
//! Baselines, in the same process: a petgraph toposort of the same graph (the floor of anything
//! that visits the DAG), and the replay of the events recorded from the first run into a fresh
//! engine (the plain fold, without deciding).

mod common;

/// The allocator the `baton` binary runs the engine with (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Duration;

use baton::engine::{Config, Engine};
use serde_json::json;

use common::{Drive, Timed, WIDTH, env_usize, time};

fn main() {
    let layers = env_usize("BATON_BENCH_LAYERS", 100);
    let runs = env_usize("BATON_BENCH_RUNS", 7);
    let festival = common::festival(layers);
    let tasks = festival.tasks.len();
    assert_eq!(tasks, layers * WIDTH);
    let report = json!({"status": "completed"});

    let mut first = Drive::new(festival.clone(), report.clone(), true);
    first.run();
    let log = std::mem::take(&mut first.log);
    let (decisions, rounds) = (first.decisions, first.rounds);
    let (paid, paid_tasks) = first.engine.paid();
    assert_eq!(paid_tasks, tasks, "every task is paid");

    let topo = time(runs, || {
        black_box(petgraph::algo::toposort(&festival.graph, None).expect("acyclic"))
    });
    let replay = time(runs, || {
        let mut engine = Engine::new(festival.clone(), &Config::default()).expect("engine");
        for event in &log {
            engine.apply(event);
        }
        black_box(engine)
    });
    let drive = time(runs, || {
        let mut d = Drive::new(festival.clone(), report.clone(), false);
        d.run();
        black_box(d)
    });

    let counts = Counts {
        tasks,
        events: log.len(),
        decisions,
        rounds,
        paid,
    };
    print(&counts, runs, topo, replay, drive);
}

/// What one drive to payment did.
struct Counts {
    tasks: usize,
    events: usize,
    decisions: u64,
    rounds: u64,
    paid: i64,
}

fn print(c: &Counts, runs: usize, topo: Timed, replay: Timed, drive: Timed) {
    let (tasks, decisions, rounds, paid) = (c.tasks, c.decisions, c.rounds, c.paid);
    let events = c.events as f64;
    println!(
        "{tasks} tasks, {} events, {decisions} decisions in {rounds} rounds, {paid} minor units paid; median of {runs} runs",
        c.events
    );
    println!("wall clock (on-CPU time in brackets, the steadier figure on a shared machine)");
    println!(
        "baseline  toposort of the DAG:            {:8.2} ms             {:6.3} us/task (too short to count on-CPU)",
        secs(topo.wall) * 1e3,
        secs(topo.wall) * 1e6 / tasks as f64
    );
    line(
        "baseline  replay (fold recorded events):",
        replay,
        tasks,
        Some((events, None)),
    );
    line(
        "engine    drive to payment:             ",
        drive,
        tasks,
        Some((events, Some(decisions))),
    );
    println!(
        "ratios    drive/replay {:.1}x [{:.1}x], drive/toposort {:.0}x",
        secs(drive.wall) / secs(replay.wall),
        secs(drive.cpu) / secs(replay.cpu),
        secs(drive.wall) / secs(topo.wall)
    );
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// One measurement: time, microseconds per task and, given `(events, decisions)`, their rates.
fn line(label: &str, t: Timed, tasks: usize, rates: Option<(f64, Option<u64>)>) {
    let per_task = |d: Duration| secs(d) * 1e6 / tasks as f64;
    let mut text = format!(
        "{label} {:8.2} ms [{:8.2}]  {:6.3} us/task [{:6.3}]",
        secs(t.wall) * 1e3,
        secs(t.cpu) * 1e3,
        per_task(t.wall),
        per_task(t.cpu)
    );
    if let Some((events, decisions)) = rates {
        text += &format!(
            "  {:5.2} M events/s [{:5.2}]",
            events / secs(t.wall) / 1e6,
            events / secs(t.cpu) / 1e6
        );
        if let Some(d) = decisions {
            text += &format!(
                "  {:5.2} M decisions/s [{:5.2}]",
                d as f64 / secs(t.wall) / 1e6,
                d as f64 / secs(t.cpu) / 1e6
            );
        }
    }
    println!("{text}");
}
