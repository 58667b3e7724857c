//! Simulated agents: in-process agents that follow the log like real ones and answer their
//! assignments after a seeded, random delay, with a report that passes the shipped gates or,
//! by chance, fails them. Failure modes: a failing report, a crash (the agent goes silent, sends
//! no heartbeat, and comes back later), a forged message (signed with the wrong key) and a
//! malformed one. The same seed gives the same choices.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value as Json, json};
use tokio_util::sync::CancellationToken;

use crate::check::Festival;
use crate::engine::{Action, Config, Engine, Work};
use crate::executor::{LogReader, RunError, Wiring, fold};
use crate::ledger::Ledger;
use crate::wire::{self, Body, Envelope, Heartbeat, ResultStatus, SigningKey, StatusUpdate, TaskResult};

/// Runs a simulated approver: it approves every task it may approve, as soon as it waits.
pub async fn approver<L: Ledger>(
    ledger: Arc<L>,
    festival: Arc<Festival>,
    wiring: Wiring,
    approver: String,
    key: SigningKey,
    cancel: CancellationToken,
) -> Result<(), RunError> {
    let mut engine = Engine::new(festival.clone(), &Config::default())?;
    let mut reader = LogReader::new(&wiring);
    let mut answered: HashSet<(usize, i64)> = HashSet::new();
    let mut sent = 0;
    while !cancel.is_cancelled() {
        for (position, m) in reader.poll(ledger.as_ref()).await? {
            fold(&mut engine, &wiring, position, &m);
        }
        for t in 0..festival.tasks.len() {
            if !engine.approvers_for(t).contains(&approver) || !answered.insert((t, engine.entered(t))) {
                continue;
            }
            sent += 1;
            let body = Body::Approval(wire::ApprovalAnswer {
                task_id: festival.tasks[t].id.value.clone(),
                decision: wire::Decision::Approve,
                reason: Some("simulated approver".into()),
            });
            let mut envelope = Envelope::new(body.kind(), &wiring.festival, &approver, sent, &body);
            wire::sign(&mut envelope, &key);
            ledger.submit(&wiring.status_topic, &wire::encode(&envelope)).await?;
        }
        reader.wait(ledger.as_ref(), Duration::from_millis(20), &cancel).await;
    }
    Ok(())
}

/// How simulated agents behave.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub seed: u64,
    /// Chance that a piece of work passes its gates.
    pub success_rate: f64,
    /// Chance that an agent crashes on a piece of work.
    pub crash_rate: f64,
    /// Chance that an agent also sends a forged or malformed message.
    pub forge_rate: f64,
    /// Work takes between these.
    pub min_work: Duration,
    pub max_work: Duration,
    pub heartbeat: Duration,
    /// How long a crashed agent stays silent.
    pub downtime: Duration,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            seed: 1,
            success_rate: 0.9,
            crash_rate: 0.0,
            forge_rate: 0.0,
            min_work: Duration::from_millis(20),
            max_work: Duration::from_millis(200),
            heartbeat: Duration::from_secs(1),
            downtime: Duration::from_secs(4),
        }
    }
}

/// A report every shipped gate passes.
#[must_use]
pub fn passing_report(duration_ms: u64) -> Json {
    json!({
        "status": "completed", "exit_code": 0, "duration_ms": duration_ms,
        "build": {"ok": true, "errors": []},
        "tests": {"passed": 24, "failed": 0, "ignored": 0, "total": 24, "races": 0},
        "lint": {"findings": []}, "vet": {"findings": []}, "fmt": {"unformatted": []},
        "coverage": {"percent": 91.5},
        "bench": {"results": [{"name": "main", "baseline_ns": 100.0, "current_ns": 99.0}]},
        "review": {"approved": true, "comments": []}, "approved": true, "comments": [],
    })
}

/// A report the test gates fail.
#[must_use]
pub fn failing_report(duration_ms: u64) -> Json {
    let mut report = passing_report(duration_ms);
    report["tests"] = json!({"passed": 20, "failed": 4, "ignored": 0, "total": 24, "races": 0});
    report["build"] = json!({"ok": false, "errors": ["error[E0308]: mismatched types"]});
    report
}

struct Sim<L: Ledger> {
    ledger: Arc<L>,
    wiring: Wiring,
    agent: String,
    key: SigningKey,
    behaviour: Behaviour,
    engine: Engine,
    reader: LogReader,
    sent: u64,
    /// Work answered or in hand, by (task, entered).
    handled: HashSet<(String, i64)>,
    /// Work in hand: (due, work, passes).
    working: Vec<(Instant, Work, bool)>,
    silent_until: Option<Instant>,
    next_heartbeat: Instant,
    crashes: u64,
}

/// Runs one simulated agent until `cancel` fires.
pub async fn run<L: Ledger>(
    ledger: Arc<L>,
    festival: Arc<Festival>,
    wiring: Wiring,
    agent: String,
    key: SigningKey,
    behaviour: Behaviour,
    cancel: CancellationToken,
) -> Result<(), RunError> {
    let engine = Engine::new(festival, &Config::default())?;
    let reader = LogReader::new(&wiring);
    let mut sim = Sim {
        ledger,
        wiring,
        agent,
        key,
        behaviour,
        engine,
        reader,
        sent: 0,
        handled: HashSet::new(),
        working: Vec::new(),
        silent_until: None,
        next_heartbeat: Instant::now(),
        crashes: 0,
    };
    while !cancel.is_cancelled() {
        sim.step().await?;
        sim.reader
            .wait(sim.ledger.as_ref(), Duration::from_millis(20), &cancel)
            .await;
    }
    Ok(())
}

impl<L: Ledger> Sim<L> {
    async fn step(&mut self) -> Result<(), RunError> {
        for (position, m) in self.reader.poll(self.ledger.as_ref()).await? {
            fold(&mut self.engine, &self.wiring, position, &m);
        }
        let now = Instant::now();
        if self.silent_until.is_some_and(|t| now < t) {
            return Ok(());
        }
        self.silent_until = None;
        if now >= self.next_heartbeat && self.engine.expects_heartbeat(&self.agent) {
            let body = Body::Heartbeat(Heartbeat {
                agent_id: self.agent.clone(),
            });
            self.send(&body).await?;
            self.next_heartbeat = now + self.behaviour.heartbeat;
        }
        for work in self.engine.work_for(&self.agent) {
            if self.handled.insert((work.task.clone(), work.entered)) {
                self.take(work).await?;
            }
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.working).into_iter().partition(|w| w.0 <= now);
        self.working = later;
        for (_, work, passes) in due {
            self.finish(&work, passes).await?;
        }
        Ok(())
    }

    fn rng(&self, work: &Work, salt: u64) -> SmallRng {
        let mut h = self.behaviour.seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for b in self.agent.bytes().chain(work.task.bytes()).chain(work.state.bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        SmallRng::seed_from_u64(h ^ u64::from(work.attempt))
    }

    async fn take(&mut self, work: Work) -> Result<(), RunError> {
        if work.action == Action::Start {
            let body = Body::StatusUpdate(StatusUpdate {
                task_id: work.task.clone(),
                agent_id: self.agent.clone(),
                new_status: "start".into(),
                message: None,
            });
            return self.send(&body).await;
        }
        let mut rng = self.rng(&work, 1 + self.crashes);
        if rng.random_bool(self.behaviour.crash_rate.clamp(0.0, 1.0)) {
            tracing::info!(agent = %self.agent, task = %work.task, "simulated crash: the agent goes silent");
            self.crashes += 1;
            self.silent_until = Some(Instant::now() + self.behaviour.downtime);
            // Back from the crash, the agent has forgotten everything it had in hand.
            for (_, w, _) in self.working.drain(..) {
                self.handled.remove(&(w.task.clone(), w.entered));
            }
            self.handled.remove(&(work.task.clone(), work.entered));
            return Ok(());
        }
        if rng.random_bool(self.behaviour.forge_rate.clamp(0.0, 1.0)) {
            self.forge(&work).await?;
        }
        let (min, max) = (
            self.behaviour.min_work,
            self.behaviour.max_work.max(self.behaviour.min_work),
        );
        let span = u64::try_from((max - min).as_millis()).unwrap_or(0);
        let delay = min + Duration::from_millis(if span == 0 { 0 } else { rng.random_range(0..=span) });
        let passes = rng.random_bool(self.behaviour.success_rate.clamp(0.0, 1.0));
        self.working.push((Instant::now() + delay, work, passes));
        Ok(())
    }

    async fn finish(&mut self, work: &Work, passes: bool) -> Result<(), RunError> {
        let ms = 100;
        let report = if passes { passing_report(ms) } else { failing_report(ms) };
        let body = Body::TaskResult(TaskResult {
            task_id: work.task.clone(),
            status: ResultStatus::Completed,
            output: Some(report),
            error: None,
            duration_ms: Some(ms),
        });
        self.send(&body).await
    }

    /// A message the coordinator must refuse: another agent's result signed with this agent's
    /// key, or bytes that are not a message at all.
    async fn forge(&mut self, work: &Work) -> Result<(), RunError> {
        let other = self.wiring.agent_keys.keys().find(|a| **a != self.agent).cloned();
        let payload = match other {
            Some(other) => {
                let body = Body::TaskResult(TaskResult {
                    task_id: work.task.clone(),
                    status: ResultStatus::Completed,
                    output: Some(passing_report(1)),
                    error: None,
                    duration_ms: Some(1),
                });
                let mut envelope = Envelope::new(body.kind(), &self.wiring.festival, &other, 1, &body);
                wire::sign(&mut envelope, &self.key);
                wire::encode(&envelope)
            }
            None => b"{\"type\": \"task_result\", \"oops\"".to_vec(),
        };
        self.ledger.submit(&self.wiring.status_topic, &payload).await?;
        Ok(())
    }

    async fn send(&mut self, body: &Body) -> Result<(), RunError> {
        self.sent += 1;
        let mut envelope = Envelope::new(body.kind(), &self.wiring.festival, &self.agent, self.sent, body);
        wire::sign(&mut envelope, &self.key);
        self.ledger
            .submit(&self.wiring.status_topic, &wire::encode(&envelope))
            .await?;
        Ok(())
    }
}
