//! A whole `baton run --simulate` of the generated 10,000-task workflow (100 layers x 100 tasks,
//! each depending on two tasks of the layer before, 10 agents) on the local ledger, with instant
//! agents, in release mode: `cargo bench --bench run` (`BATON_BENCH_LAYERS=N` for N layers,
//! `BATON_BENCH_RUNS` runs of the default mode, 3 unless set, `BATON_BENCH_PER_AGENT_RUNS` runs
//! with `--replica-per-agent`, 1 unless set, 0 to skip it, and `BATON_BENCH_BIN` to time another
//! build of `baton`).
//!
//! It starts the release binary as a user would: `baton run FILE --simulate --work-ms 0
//! --success-rate 1 --quiet --state DIR` in a fresh state directory each run, so every message is
//! signed, written to the ledger, read back, checked and folded, and every payment is a transfer on
//! the ledger (the simulated agents share one replica of the log); then the same with
//! `--replica-per-agent` (each agent checks and folds the log itself). For each it reports tasks
//! per second, microseconds per task and the child's CPU time (median of the runs), and its peak
//! memory (`VmHWM` of `/proc/PID/status`, read every 10 ms while it runs; its wall time is taken by
//! a thread waiting for it, not at the next of those reads). Each run starts once what the runs
//! before wrote is on the disk (`sync`), so that none runs beside the writing back of another's
//! files. The baselines are the median of three runs.
//!
//! Baselines, in the same process: loading and checking the same workflow file (`load::load`,
//! which the run does first), the engine alone driving the same festival to payment with
//! instant agents and no I/O (as in `benches/engine.rs`), and signing and encoding as many
//! messages as a run logs (3.1 a task, `wire::seal`), each alone, on one thread: what a run whose
//! every message carries its own signature (as on Hedera) spends on signing at least. On the
//! local ledger a sender signs the messages of a step together (`wire::seal_all`), so a run can
//! be faster than that. And the local ledger storing as many messages of a run's average size
//! (950 bytes), 15 to a transaction on two topics as a run's steps write them
//! (`LocalLedger::submit_many`), against appending the same bytes to a file 15 at a time: what
//! storing the log costs a run at least, and what of it is the database's. Last, where `python3`
//! can `import dask`, Dask's synchronous scheduler on the same graph of tasks that do nothing
//! (`benches/dask_baseline.py`), run once after each run of the default mode: the reference the
//! engine's issue gives for scale (about 32 us a task on its machines), measured on the same host
//! at the same time, since these hosts' speed drifts by half from one hour to the next.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use common::{Drive, WIDTH, env_usize, proc_status_kib, time};

/// One run of the binary.
struct Run {
    wall: Duration,
    /// User and system time of the child, in seconds.
    cpu: f64,
    /// Peak resident memory of the child, in KiB.
    peak_kib: u64,
    messages: u64,
}

fn main() {
    let layers = env_usize("BATON_BENCH_LAYERS", 100);
    let binary = std::env::var("BATON_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_baton").to_string());
    let dir = std::env::temp_dir().join(format!("baton-bench-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let workflow = dir.join("bench.yaml");
    std::fs::write(&workflow, common::generate(layers)).expect("the workflow is written");
    let tasks = layers * WIDTH;
    println!("{tasks} tasks; {binary}");
    let (engine, sealing) = baselines(layers, &workflow, &dir);
    let modes: [(&str, &[&str], usize); 2] = [
        (
            "run       baton run --simulate:                    ",
            &[],
            env_usize("BATON_BENCH_RUNS", 3).max(1),
        ),
        (
            "run       baton run --simulate --replica-per-agent:",
            &["--replica-per-agent"],
            env_usize("BATON_BENCH_PER_AGENT_RUNS", 1),
        ),
    ];
    let mut dask = Dask::new(layers);
    for (label, extra, runs) in modes.into_iter().filter(|m| m.2 > 0) {
        let mut results: Vec<Run> = (0..runs)
            .map(|i| {
                let run = run_once(&binary, &workflow, &dir.join(format!("state-{i}")), extra);
                // Alternated with the runs of the default mode, so that both see the same host.
                if extra.is_empty() {
                    dask.time_once();
                }
                run
            })
            .collect();
        results.sort_by_key(|r| r.wall);
        print(label, tasks, &results, engine, sealing);
        if extra.is_empty() {
            dask.print(tasks, results[results.len() / 2].wall);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Measures and prints the baselines measured in this process; the engine's time and the
/// sealing's, which the runs are set against.
fn baselines(layers: usize, workflow: &Path, dir: &Path) -> (Duration, Duration) {
    let tasks = layers * WIDTH;
    let env = BTreeMap::<String, String>::new();
    let load = time(3, || baton::load::load(workflow, &env).expect("the workflow loads"));
    let festival = common::festival(layers);
    let engine = time(3, || {
        let mut d = Drive::new(festival.clone(), json!({"status": "completed"}), false);
        d.run();
        d
    });
    // Every message signed alone by its sender: the floor of a run that signs them one by one.
    let messages = tasks * 31 / 10;
    let key = baton::wire::SigningKey::from_bytes(&[7; 32]);
    let body = baton::wire::Body::Heartbeat(baton::wire::Heartbeat {
        agent_id: "agent-1".into(),
    });
    let sealing = time(3, || {
        for n in 0..messages {
            let mut envelope = baton::wire::Envelope::new(body.kind(), "bench", "agent-1", n as u64, &body);
            std::hint::black_box(baton::wire::seal(&mut envelope, &key));
        }
    });
    let (stored, appended) = storage(dir, messages);
    let us = |d: Duration| d.as_secs_f64() * 1e6 / tasks as f64;
    println!(
        "baseline  load and check the workflow:        {:7.3} s  {:8.2} us/task",
        load.wall.as_secs_f64(),
        us(load.wall)
    );
    println!(
        "baseline  engine alone to payment:            {:7.3} s  {:8.2} us/task",
        engine.wall.as_secs_f64(),
        us(engine.wall)
    );
    println!(
        "baseline  sign and encode {messages} messages, each alone: {:7.3} s  {:8.2} us/task (one thread)",
        sealing.wall.as_secs_f64(),
        us(sealing.wall)
    );
    println!(
        "baseline  store {messages} messages on the local ledger: {:7.3} s  {:8.2} us/task ({:.1}x appending them to a file: {:.3} s)",
        stored.wall.as_secs_f64(),
        us(stored.wall),
        stored.wall.as_secs_f64() / appended.wall.as_secs_f64(),
        appended.wall.as_secs_f64()
    );
    (engine.wall, sealing.wall)
}

/// Messages a run's steps write to the ledger at once, on average, and their average size.
const STORED_TOGETHER: usize = 15;
const STORED_BYTES: usize = 950;

/// Times the local ledger storing `messages` messages ([`STORED_TOGETHER`] to a transaction, half
/// on the status topic), each run in a new state directory, and appending the same bytes
/// to a file as many at a time.
fn storage(dir: &Path, messages: usize) -> (common::Timed, common::Timed) {
    let payloads: Vec<Vec<u8>> = (0..messages)
        .map(|n| {
            let mut bytes = format!("{n:>16}").into_bytes();
            bytes.resize(STORED_BYTES, b'x');
            bytes
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut round = 0;
    let stored = time(3, || {
        round += 1;
        let state = dir.join(format!("storage-{round}"));
        let _ = std::fs::remove_dir_all(&state);
        let ledger = baton::ledger::LocalLedger::open(&state).expect("the ledger opens");
        let topics = runtime.block_on(async {
            use baton::ledger::Ledger as _;
            [
                ledger.create_topic("tasks").await.expect("a topic"),
                ledger.create_topic("status").await.expect("a topic"),
            ]
        });
        for (g, group) in payloads.chunks(STORED_TOGETHER).enumerate() {
            let step: Vec<_> = group
                .iter()
                .enumerate()
                .map(|(i, p)| (topics[(g + i) % 2].clone(), p.clone()))
                .collect();
            ledger.submit_many(&step).expect("the messages are stored");
        }
        ledger
    });
    let appended = time(3, || {
        use std::io::Write as _;
        let path = dir.join("appended");
        let mut file = std::fs::File::create(&path).expect("a file");
        for group in payloads.chunks(STORED_TOGETHER) {
            let bytes: Vec<u8> = group.concat();
            file.write_all(&bytes).expect("the bytes are written");
        }
        file
    });
    (stored, appended)
}

/// Prints the median run and the peak memory of all runs.
fn print(label: &str, tasks: usize, results: &[Run], engine: Duration, sealing: Duration) {
    let median = &results[results.len() / 2];
    let peak = results.iter().map(|r| r.peak_kib).max().unwrap_or(0);
    let secs = median.wall.as_secs_f64();
    println!(
        "{label} {:7.3} s  {:8.2} us/task  {:6.0} tasks/s  {:6.0} messages/s ({} messages, median of {})",
        secs,
        secs * 1e6 / tasks as f64,
        tasks as f64 / secs,
        median.messages as f64 / secs,
        median.messages,
        results.len()
    );
    println!(
        "          CPU time (user + system, all threads) {:.2} s, {:.1} us/task; peak memory (VmHWM) {:.0} MiB; {:.0}x the engine alone, {:.2}x signing every message alone",
        median.cpu,
        median.cpu * 1e6 / tasks as f64,
        peak as f64 / 1024.0,
        secs / engine.as_secs_f64(),
        secs / sealing.as_secs_f64()
    );
}

/// Dask's synchronous scheduler on the same graph with tasks that do nothing
/// (`benches/dask_baseline.py`), the reference the engine's issue gives for scale, timed between
/// the runs: where it cannot run (no `python3`, no `dask`), why.
struct Dask {
    layers: usize,
    walls: Vec<Duration>,
    missing: Option<String>,
}

impl Dask {
    fn new(layers: usize) -> Self {
        Self {
            layers,
            walls: Vec::new(),
            missing: None,
        }
    }

    fn time_once(&mut self) {
        if self.missing.is_some() {
            return;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/dask_baseline.py");
        let output = Command::new("python3")
            .arg(&script)
            .arg(self.layers.to_string())
            .arg(WIDTH.to_string())
            .output();
        let timed = match output {
            Err(e) => Err(format!("python3: {e}")),
            Ok(out) if !out.status.success() => Err(String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("failed")
                .to_string()),
            Ok(out) => String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse::<f64>()
                .map(Duration::from_secs_f64)
                .map_err(|e| format!("its output: {e}")),
        };
        match timed {
            Ok(wall) => self.walls.push(wall),
            Err(why) => self.missing = Some(why),
        }
    }

    /// The median of its runs against the median run of baton's.
    fn print(&mut self, tasks: usize, run: Duration) {
        if let Some(why) = &self.missing {
            println!("baseline  Dask's synchronous scheduler: not measured ({why}; `pip install dask`)");
            return;
        }
        self.walls.sort();
        let Some(median) = self.walls.get(self.walls.len() / 2) else {
            return;
        };
        let secs = median.as_secs_f64();
        println!(
            "baseline  Dask's synchronous scheduler, tasks doing nothing: {secs:7.3} s  {:8.2} us/task (median of {}, alternated with the runs); the run took {:.2}x its time",
            secs * 1e6 / tasks as f64,
            self.walls.len(),
            run.as_secs_f64() / secs
        );
    }
}

/// Runs the binary once in a fresh state directory, following its peak memory.
fn run_once(binary: &str, workflow: &Path, state: &Path, extra: &[&str]) -> Run {
    let _ = std::fs::remove_dir_all(state);
    // The runs before wrote tens of megabytes the kernel writes back to the disk a few seconds
    // later: that is done before this run starts, not while it runs.
    let _ = Command::new("sync").status();
    let cpu_before = children_cpu();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .arg("run")
        .arg(workflow)
        .args([
            "--simulate",
            "--work-ms",
            "0",
            "--success-rate",
            "1",
            "--quiet",
            "--state",
        ])
        .arg(state)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baton starts");
    let pid = child.id().to_string();
    let mut peak_kib = 0;
    // Read the output while it runs, so that a full pipe never stops the child.
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let stdout = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let stderr = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    // Waited for on a thread of its own, so that its end is timed when it comes rather than at
    // the next look at its memory.
    let waiter = std::thread::spawn(move || {
        let status = child.wait().expect("the child can be waited for");
        (status, started.elapsed())
    });
    while !waiter.is_finished() {
        peak_kib = peak_kib.max(proc_status_kib(&pid, "VmHWM:").unwrap_or(0));
        std::thread::sleep(Duration::from_millis(10));
    }
    let (status, wall) = waiter.join().expect("the waiter");
    let stdout = stdout.join().expect("the output reader");
    let stderr = stderr.join().expect("the error reader");
    assert!(status.success(), "baton run failed: {stderr}");
    assert!(stdout.contains("outcome: Finished"), "the run finishes: {stdout}");
    let messages = stdout
        .lines()
        .find_map(|l| l.strip_suffix(" rejected")?.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Run {
        wall,
        cpu: children_cpu() - cpu_before,
        peak_kib,
        messages,
    }
}

/// User and system time of the children this process has waited for, in seconds
/// (`cutime` and `cstime` of `/proc/self/stat`, in ticks of 1/100 s).
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // `cutime` and `cstime` are fields 16 and 17 of the line; the first after the name is 3.
    (ticks(13) + ticks(14)) / 100.0
}
