//! Shared by the engine, replay and run benches: the generated layered workflow (the shape of
//! `benches/validate.rs`: layers of tasks, each depending on two tasks of the layer before),
//! timing helpers, peak memory, and an engine driven by instant agents and a perfect shell.

// Each bench uses a part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton::check::Festival;
use baton::engine::{Action, Command, Config, Engine, Event, Fact, Nanos, Outcome, Sender};
use serde_json::{Value as Json, json};

/// Tasks per layer.
pub(crate) const WIDTH: usize = 100;
/// Simulated agents in the workflow.
pub(crate) const AGENTS: usize = 10;
/// One second in consensus nanoseconds.
pub(crate) const SEC: Nanos = 1_000_000_000;

/// A workflow of `layers` layers of [`WIDTH`] tasks and [`AGENTS`] agents.
pub(crate) fn generate(layers: usize) -> String {
    let mut out = String::from("version: 1\nfestival:\n  id: bench\npayment:\n  decimals: 2\nagents:\n");
    for a in 0..AGENTS {
        let _ = writeln!(
            out,
            "  - id: agent-{a}\n    account: 0.0.{}\n    capabilities: [rust, review]",
            1000 + a
        );
    }
    out.push_str("tasks:\n");
    for layer in 0..layers {
        for i in 0..WIDTH {
            let _ = write!(
                out,
                "  - id: t{layer}-{i}\n    reward: 1.25\n    requires: [rust]\n    estimate: 1h\n"
            );
            if layer > 0 {
                let _ = writeln!(
                    out,
                    "    depends_on: [t{}-{}, t{}-{}]",
                    layer - 1,
                    i,
                    layer - 1,
                    (i + 1) % WIDTH
                );
            }
        }
    }
    out
}

/// The generated workflow, checked and compiled.
pub(crate) fn festival(layers: usize) -> Arc<Festival> {
    let path = std::env::temp_dir().join("baton-bench.yaml");
    let env = BTreeMap::<String, String>::new();
    let loaded = baton::load::load_text(&path, generate(layers), &env);
    Arc::new(loaded.festival.expect("the generated workflow is valid"))
}

/// A number from the environment, or `default`.
pub(crate) fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub(crate) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Time this thread has spent on a CPU (from `/proc/thread-self/schedstat`): unlike the wall
/// clock, it does not grow while other processes of a shared machine hold the cores.
pub(crate) fn cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// The median wall-clock time of `runs` calls, after one untimed warm-up call, and their mean
/// on-CPU time (the scheduler counts it in ticks of a few milliseconds, so it is summed over all
/// runs). What a call returns is dropped outside the measured time.
pub(crate) fn time<T, F: FnMut() -> T>(runs: usize, mut f: F) -> Timed {
    drop(f());
    let runs = runs.max(1);
    let (mut wall, mut cpu) = (Vec::new(), Duration::ZERO);
    for _ in 0..runs {
        let (start, on_cpu) = (Instant::now(), cpu_time());
        let kept = f();
        wall.push(start.elapsed());
        cpu += cpu_time().saturating_sub(on_cpu);
        drop(kept);
    }
    Timed {
        wall: median(wall),
        cpu: cpu / u32::try_from(runs).unwrap_or(u32::MAX),
    }
}

/// Times of a measurement: median wall clock, mean time on a CPU.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timed {
    pub(crate) wall: Duration,
    pub(crate) cpu: Duration,
}

/// A `VmHWM`-style field of `/proc/PID/status`, in KiB.
pub(crate) fn proc_status_kib(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(Path::new("/proc").join(pid).join("status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets this process's peak resident memory (`VmHWM`) to its current size; `false` if the
/// kernel refused.
pub(crate) fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Peak resident memory of this process, in MiB.
pub(crate) fn peak_mib() -> f64 {
    proc_status_kib("self", "VmHWM:").unwrap_or(0) as f64 / 1024.0
}

/// The id the driver gives a message: its position as 32 lowercase hex digits, the shape of the
/// ids baton makes, written without `format!` (the formatting machinery would cost the driver as
/// much as some of the folds it measures).
fn message_id(position: u64) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut id = [b'0'; 32];
    let mut n = position;
    for digit in id.iter_mut().rev() {
        *digit = DIGITS[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    // Hex digits are text; a character at a time cost the driver a tenth of the drive.
    String::from_utf8(id.to_vec()).unwrap_or_default()
}

/// An engine driven to the end with a perfect shell and agents that answer at once, as in
/// `src/engine/tests/flow.rs`, but asking the engine for each agent's work (`Engine::work_for`)
/// the way simulated agents do.
pub(crate) struct Drive {
    pub(crate) engine: Engine,
    /// Every event folded, in order, when recording.
    pub(crate) log: Vec<Event>,
    record: bool,
    /// Shared by every result, as a decoded message shares its report with the engine.
    report: Arc<Json>,
    agents: Vec<String>,
    position: u64,
    now: Nanos,
    /// Commands the engine gave.
    pub(crate) decisions: u64,
    /// Calls of `decide`.
    pub(crate) rounds: u64,
}

impl Drive {
    /// A fresh engine; agents answer with `report`.
    pub(crate) fn new(festival: Arc<Festival>, report: Json, record: bool) -> Self {
        let agents = festival.agents.iter().map(|a| a.id.value.clone()).collect();
        let engine = Engine::new(festival, &Config::default()).expect("engine");
        Self {
            engine,
            log: Vec::new(),
            record,
            report: Arc::new(report),
            agents,
            position: 0,
            now: 1_700_000_000 * SEC,
            decisions: 0,
            rounds: 0,
        }
    }

    /// Runs the festival until nothing moves; it must end with every task paid.
    pub(crate) fn run(&mut self) {
        while self.round() {}
        self.check();
    }

    /// One decision and the answers to it; `false` once nothing moves any more.
    pub(crate) fn round(&mut self) -> bool {
        let commands = self.engine.decide();
        self.rounds += 1;
        self.decisions += commands.len() as u64;
        let acted = !commands.is_empty();
        for c in commands {
            self.execute(c);
        }
        self.agents_work() || acted
    }

    /// The run finished with no message refused.
    pub(crate) fn check(&self) {
        assert_eq!(self.engine.outcome(), Outcome::Finished, "the festival finishes");
        assert!(
            self.engine.rejections().is_empty(),
            "{:?}",
            self.engine.rejections().first()
        );
    }

    fn send(&mut self, sender: Sender, fact: Fact) {
        self.position += 1;
        self.now += 1_000;
        let event = Event {
            consensus: self.now,
            position: self.position,
            id: message_id(self.position),
            sender,
            fact,
        };
        self.engine.apply(&event);
        if self.record {
            self.log.push(event);
        }
    }

    fn coordinator(&mut self, fact: Fact) {
        self.send(Sender::Coordinator, fact);
    }

    /// What the coordinator would publish for a command, folded at once.
    fn execute(&mut self, command: Command) {
        match command {
            Command::Assign { task, agent, attempt } => self.coordinator(Fact::Assigned { task, agent, attempt }),
            Command::RunGates { task, attempt, .. } => self.coordinator(Fact::Judged {
                task,
                attempt,
                passed: true,
                verdicts: json!([]),
            }),
            Command::RequestApproval { .. } => panic!("the generated workflow asks for no approval"),
            Command::Pay { valid_start, payments } => {
                let tx = format!("0.0.2@{}.{:09}", valid_start / SEC, valid_start % SEC);
                self.coordinator(Fact::PaymentIntended { tx, payments });
            }
            Command::Transfer { tx, payments } => {
                for p in payments {
                    self.coordinator(Fact::PaymentSettled {
                        task: p.task,
                        tx: tx.clone(),
                        status: "SUCCESS".into(),
                        amount: p.amount,
                    });
                }
            }
            Command::Fire { task, event, reason } => self.coordinator(Fact::Decided { task, event, reason }),
        }
    }

    /// Each agent starts or submits every piece of work the engine gives it; work whose start
    /// leads straight to it is done at once, its result beginning it too, as instant simulated
    /// agents do.
    fn agents_work(&mut self) -> bool {
        let mut worked = false;
        for a in 0..self.agents.len() {
            let agent = self.agents[a].clone();
            for work in self.engine.work_for(&agent) {
                let start = work.action == Action::Start;
                let fact = if start && !work.works_on_start {
                    Fact::Status {
                        task: work.task,
                        agent: agent.clone(),
                        status: "start".into(),
                        attempt: Some(work.attempt),
                    }
                } else {
                    Fact::Result {
                        task: work.task,
                        completed: true,
                        report: self.report.clone(),
                        error: None,
                        attempt: Some(work.attempt),
                        started: start,
                    }
                };
                self.send(Sender::Agent(agent.clone()), fact);
                worked = true;
            }
        }
        worked
    }
}
