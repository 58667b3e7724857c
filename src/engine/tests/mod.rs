//! Table-driven tests of the engine, with no ledger: every valid and invalid transition of the
//! standard lifecycle and of the release lifecycle, scheduling, payments, timers and replay.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;

mod flow;
mod gateless;
mod payments;
mod reports;
mod snapshot;
mod work;

pub(super) const SEC: Nanos = 1_000_000_000;

pub(super) fn festival(yaml: &str) -> Arc<Festival> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/engine-test.yaml");
    let env: BTreeMap<String, String> = BTreeMap::new();
    let loaded = crate::load::load_text(&path, yaml.to_string(), &env);
    let errors: Vec<String> = loaded.diagnostics.iter().map(|d| d.message.clone()).collect();
    Arc::new(
        loaded
            .festival
            .unwrap_or_else(|| panic!("test workflow invalid: {errors:?}")),
    )
}

pub(super) fn shipped(name: &str) -> Arc<Festival> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows").join(name);
    let env: BTreeMap<String, String> = BTreeMap::new();
    let loaded = crate::load::load(&path, &env).expect("shipped workflow readable");
    Arc::new(loaded.festival.expect("shipped workflow valid"))
}

pub(super) const ONE_TASK: &str = r#"
version: 1
festival: { id: one, name: One }
payment: { token: "0.0.5005", decimals: 2 }
agents:
  - { id: a1, account: "0.0.1001", capabilities: [rust] }
  - { id: a2, account: "0.0.1002", capabilities: [rust] }
tasks:
  - { id: t, name: T, reward: 10.00, requires: [rust], max_attempts: 3, gates: [result_completed] }
"#;

/// A run driven by hand: each `send` is one message of the log.
pub(super) struct Run {
    pub(super) engine: Engine,
    position: u64,
    pub(super) now: Nanos,
    pub(super) log: Vec<Event>,
}

impl Run {
    pub(super) fn new(festival: Arc<Festival>) -> Self {
        Self::with(festival, &Config::default())
    }

    pub(super) fn with(festival: Arc<Festival>, config: &Config) -> Self {
        let engine = Engine::new(festival, config).expect("engine");
        Self {
            engine,
            position: 0,
            now: 1_000 * SEC,
            log: Vec::new(),
        }
    }

    /// Folds one message; `Err` with the rejection's reason when it was refused.
    pub(super) fn send(&mut self, sender: Sender, fact: Fact) -> Result<(), String> {
        self.position += 1;
        self.now += SEC / 1000;
        let before = self.engine.rejections().len();
        let event = Event {
            consensus: self.now,
            position: self.position,
            id: format!("m{}", self.position),
            sender,
            fact,
        };
        self.engine.apply(&event);
        self.log.push(event);
        match self.engine.rejections().get(before) {
            Some(r) => Err(r.reason.clone()),
            None => Ok(()),
        }
    }

    pub(super) fn state(&self, task: &str) -> String {
        let t = self.engine.festival().index[task];
        self.engine.task_view(t).state
    }

    fn agent_of(&self, task: &str) -> String {
        let t = self.engine.festival().index[task];
        self.engine.task_view(t).agent.unwrap_or_else(|| "a1".into())
    }
}

pub(super) fn coordinator(run: &mut Run, fact: Fact) -> Result<(), String> {
    run.send(Sender::Coordinator, fact)
}

fn agent(run: &mut Run, task: &str, fact: Fact) -> Result<(), String> {
    let who = run.agent_of(task);
    run.send(Sender::Agent(who), fact)
}

pub(super) fn decided(task: &str, event: &str) -> Fact {
    Fact::Decided {
        task: task.into(),
        event: event.into(),
        reason: "test".into(),
    }
}

/// The messages tried in every state, by name.
fn message(run: &mut Run, name: &str) -> Result<(), String> {
    let attempt = run.engine.task_view(0).attempt;
    match name {
        "assign" => coordinator(
            run,
            Fact::Assigned {
                task: "t".into(),
                agent: "a1".into(),
                attempt,
            },
        ),
        "start" => {
            let who = run.agent_of("t");
            agent(
                run,
                "t",
                Fact::Status {
                    task: "t".into(),
                    agent: who,
                    status: "in_progress".into(),
                    attempt: None,
                },
            )
        }
        "submit" | "fail" => agent(
            run,
            "t",
            Fact::Result {
                task: "t".into(),
                completed: name == "submit",
                report: json!({"status": "completed"}).into(),
                error: None,
                attempt: None,
                started: false,
            },
        ),
        "pass" | "reject_gates" => coordinator(
            run,
            Fact::Judged {
                task: "t".into(),
                attempt,
                passed: name == "pass",
                verdicts: json!([{"gate": "result_completed", "pass": name == "pass", "reasons": []}]),
            },
        ),
        "pay" => coordinator(run, decided("t", "pay")),
        other => coordinator(run, decided("t", other)),
    }
}

/// The path of messages that brings task `t` to each state of the standard lifecycle.
pub(super) fn reach(run: &mut Run, state: &str) {
    let path: &[&str] = match state {
        "pending" => &[],
        "assigned" => &["assign"],
        "in_progress" => &["assign", "start"],
        "review" => &["assign", "start", "submit"],
        "complete" => &["assign", "start", "submit", "pass"],
        "failed" => &["assign", "fail"],
        "cancelled" => &["assign", "fail", "give_up"],
        _ => &[],
    };
    for m in path {
        message(run, m).unwrap_or_else(|e| panic!("reaching {state} by {m}: {e}"));
    }
    if state == "paid" {
        reach(run, "complete");
        pay(run, "t", "0.0.2@1000.000000001");
    }
    assert_eq!(run.state("t"), state);
}

fn pay(run: &mut Run, task: &str, tx: &str) {
    let who = run.agent_of(task);
    coordinator(
        run,
        Fact::PaymentIntended {
            tx: tx.into(),
            payments: vec![PaymentOrder {
                task: task.into(),
                agent: who,
                amount: 1000,
            }],
        },
    )
    .expect("intent");
    coordinator(
        run,
        Fact::PaymentSettled {
            task: task.into(),
            tx: tx.into(),
            status: "SUCCESS".into(),
            amount: 1000,
        },
    )
    .expect("settlement");
}

#[test]
fn every_transition_of_the_standard_lifecycle() {
    const MESSAGES: [&str; 11] = [
        "assign",
        "start",
        "submit",
        "fail",
        "pass",
        "reject_gates",
        "timeout",
        "heartbeat_missed",
        "retry",
        "give_up",
        "pay",
    ];
    // For each state, the state each message leads to, or "-" where it is refused.
    let table: [(&str, [&str; 11]); 8] = [
        (
            "pending",
            ["assigned", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"],
        ),
        (
            "assigned",
            [
                "-",
                "in_progress",
                "-",
                "failed",
                "-",
                "-",
                "pending",
                "pending",
                "-",
                "-",
                "-",
            ],
        ),
        (
            "in_progress",
            [
                "-", "-", "review", "failed", "-", "-", "pending", "pending", "-", "-", "-",
            ],
        ),
        (
            "review",
            [
                "-",
                "-",
                "-",
                "failed",
                "complete",
                "in_progress",
                "-",
                "-",
                "-",
                "-",
                "-",
            ],
        ),
        ("complete", ["-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"]),
        ("paid", ["-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"]),
        (
            "failed",
            ["-", "-", "-", "-", "-", "-", "-", "-", "pending", "cancelled", "-"],
        ),
        ("cancelled", ["-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"]),
    ];
    let festival = festival(ONE_TASK);
    let mut failures = Vec::new();
    for (state, expected) in table {
        for (name, want) in MESSAGES.iter().zip(expected) {
            let mut run = Run::new(festival.clone());
            reach(&mut run, state);
            let got = match message(&mut run, name) {
                Ok(()) => run.state("t"),
                Err(_) => "-".to_string(),
            };
            if got != want {
                failures.push(format!("{state} --{name}--> {got}, expected {want}"));
            }
        }
    }
    assert_eq!(failures, Vec::<String>::new());
}

#[test]
fn refusals_say_why() {
    let cases: [(&str, &str, &str); 6] = [
        ("pending", "start", "agent `a1` is not assigned task `t`"),
        (
            "assigned",
            "submit",
            "`submit` is not allowed in state `assigned` of task `t`",
        ),
        (
            "review",
            "timeout",
            "`timeout` is not allowed in state `review` of task `t`",
        ),
        (
            "complete",
            "pay",
            "task `t` is owed a payment: `pay` needs a settlement",
        ),
        (
            "in_progress",
            "pass",
            "task `t` is in state `in_progress`, not waiting for its gates",
        ),
        ("pending", "approve", "`approve` is not an event the coordinator fires"),
    ];
    let festival = festival(ONE_TASK);
    for (state, name, reason) in cases {
        let mut run = Run::new(festival.clone());
        reach(&mut run, state);
        assert_eq!(message(&mut run, name), Err(reason.to_string()), "{state} --{name}-->");
    }
}

#[test]
fn a_report_naming_another_attempt_is_refused() {
    let mut run = Run::new(festival(ONE_TASK));
    let assign = Fact::Assigned {
        task: "t".into(),
        agent: "a1".into(),
        attempt: 1,
    };
    coordinator(&mut run, assign).expect("assigned");
    let start = |attempt| Fact::Status {
        task: "t".into(),
        agent: "a1".into(),
        status: "start".into(),
        attempt,
    };
    let late = run.send(Sender::Agent("a1".into()), start(Some(2)));
    assert_eq!(
        late,
        Err("a report on attempt 2 of task `t`, which is at attempt 1".to_string())
    );
    run.send(Sender::Agent("a1".into()), start(Some(1)))
        .expect("its own attempt");
    let result = |attempt| Fact::Result {
        task: "t".into(),
        completed: true,
        report: json!({}).into(),
        error: None,
        attempt,
        started: false,
    };
    assert!(run.send(Sender::Agent("a1".into()), result(Some(3))).is_err());
    run.send(Sender::Agent("a1".into()), result(None))
        .expect("an agent that names no attempt");
    assert_eq!(run.state("t"), "review");
}
