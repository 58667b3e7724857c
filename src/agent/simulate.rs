//! Simulated agents: in-process agents that follow the log like real ones and answer their
//! assignments after a seeded, random delay, with a report that passes the shipped gates or,
//! by chance, fails them. Failure modes: a failing report, a crash (the agent goes silent, sends
//! no heartbeat, and comes back later), a forged message (signed with the wrong key) and a
//! malformed one. Where the lifecycle takes a task from the start straight to the work, an agent
//! begins the work as it sends its start (work that takes no time goes out with it), rather than
//! once the start is back from the log. The same seed gives the same choices. The agents of one
//! process ([`crew`]) share one replica of the log, each in its own task with its own timing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value as Json, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::check::Festival;
use crate::engine::{Action, Config, Engine, Work};
use crate::executor::{LogReader, RunError, Wiring, fold_all};
use crate::ledger::{Ledger, LedgerError, Payload};
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
        let messages = reader.poll(ledger.as_ref()).await?;
        fold_all(&mut engine, &wiring, &messages);
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
        reader.wait(ledger.as_ref(), POLL, &cancel).await;
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

/// How long simulated agents wait for the log at most before they look again.
const POLL: Duration = Duration::from_millis(20);
/// How long a simulated agent waits after the network did not answer before it goes on.
const NETWORK_PAUSE: Duration = Duration::from_secs(1);

/// What a replica of the log tells each agent of a crew, by agent: its work, and whether a task
/// it holds expects its heartbeats. Sent after every batch of messages folded.
type Views = HashMap<String, (Vec<Work>, bool)>;

/// What each simulated agent reaches: the ledger and the festival's wiring.
struct Shared<L: Ledger> {
    ledger: Arc<L>,
    wiring: Wiring,
}

/// One simulated agent: its key, its choices and the work it has in hand.
struct Sim {
    agent: String,
    key: SigningKey,
    behaviour: Behaviour,
    sent: u64,
    /// Work answered or in hand, by (task, entered).
    handled: HashSet<(String, i64)>,
    /// Work begun together with its start, by (task, attempt): once the start is back from the
    /// log, the state it entered asks for the same work, which is in hand already.
    started: HashSet<(String, u32)>,
    /// Work in hand: (due, work, passes).
    working: Vec<(Instant, Work, bool)>,
    silent_until: Option<Instant>,
    next_heartbeat: Instant,
    crashes: u64,
    /// Messages of this step, sent together at its end.
    outbox: Vec<(Envelope, Body)>,
    /// Sealed messages the network did not take, sent again first at the next step.
    unsent: Vec<Payload>,
    /// The reports it sends, passing and failing: the same for every piece of work.
    reports: (Arc<Json>, Arc<Json>),
}

/// How long every piece of simulated work says it took, in its report.
const REPORTED_MS: u64 = 100;

/// Runs one simulated agent until `cancel` fires, following the log with its own replica.
pub async fn run<L: Ledger + 'static>(
    ledger: Arc<L>,
    festival: Arc<Festival>,
    wiring: Wiring,
    agent: String,
    key: SigningKey,
    behaviour: Behaviour,
    cancel: CancellationToken,
) -> Result<(), RunError> {
    crew(ledger, festival, wiring, vec![(agent, key)], behaviour, cancel).await
}

/// Runs simulated agents until `cancel` fires, each in its own task with its own seeded choices,
/// key and timing, as [`run`] does for one. They share one replica of the log, so each message
/// is decoded, its signature checked and folded once for all of them rather than once each. An
/// agent that fails stops alone, with its error in the log; the crew returns the first such
/// error once every agent has stopped.
pub async fn crew<L: Ledger + 'static>(
    ledger: Arc<L>,
    festival: Arc<Festival>,
    wiring: Wiring,
    agents: Vec<(String, SigningKey)>,
    behaviour: Behaviour,
    cancel: CancellationToken,
) -> Result<(), RunError> {
    // This process now holds more than one replica of the log: each decodes the same messages.
    wire::share_decoded();
    let mut engine = Engine::new(festival, &Config::default())?;
    let names: Vec<String> = agents.iter().map(|(agent, _)| agent.clone()).collect();
    let views = watch::Sender::new(Arc::new(views_of(&engine, &names)));
    let mut reader = LogReader::new(&wiring);
    let shared = Arc::new(Shared { ledger, wiring });
    // The agents stop with the crew, also when following the log fails.
    let stop = cancel.child_token();
    let mut running = tokio::task::JoinSet::new();
    for (agent, key) in agents {
        let sim = Sim::new(agent, key, behaviour.clone());
        running.spawn(sim.run(shared.clone(), views.subscribe(), stop.clone()));
    }
    let mut failed = None;
    let followed = {
        let replica = Replica {
            engine: &mut engine,
            reader: &mut reader,
            names: &names,
            views: &views,
        };
        let follow = replica.follow(&shared, &stop);
        tokio::pin!(follow);
        loop {
            tokio::select! {
                followed = &mut follow => break followed,
                joined = running.join_next() => match joined {
                    Some(Ok(Err(e))) => failed = failed.or(Some(e)),
                    Some(_) => {}
                    // Every agent stopped: nobody needs the log any more.
                    None => break Ok(()),
                },
            }
        }
    };
    stop.cancel();
    while let Some(joined) = running.join_next().await {
        if let Ok(Err(e)) = joined {
            failed = failed.or(Some(e));
        }
    }
    followed.and(failed.map_or(Ok(()), Err))
}

/// The crew's replica of the log and who it answers.
struct Replica<'a> {
    engine: &'a mut Engine,
    reader: &'a mut LogReader,
    names: &'a [String],
    views: &'a watch::Sender<Arc<Views>>,
}

impl Replica<'_> {
    /// Folds the log as it grows and tells the agents, until `cancel` fires.
    async fn follow<L: Ledger>(self, shared: &Shared<L>, cancel: &CancellationToken) -> Result<(), RunError> {
        while !cancel.is_cancelled() {
            let messages = self.reader.poll(shared.ledger.as_ref()).await?;
            if !messages.is_empty() {
                fold_all(self.engine, &shared.wiring, &messages);
                self.views.send_replace(Arc::new(views_of(self.engine, self.names)));
            }
            self.reader.wait(shared.ledger.as_ref(), POLL, cancel).await;
        }
        Ok(())
    }
}

/// Each agent's work and whether it must send heartbeats, as the engine tells it.
fn views_of(engine: &Engine, names: &[String]) -> Views {
    names
        .iter()
        .map(|n| (n.clone(), (engine.work_for(n), engine.expects_heartbeat(n))))
        .collect()
}

impl Sim {
    /// Agent `agent`, signing with `key`, that has not sent anything yet.
    fn new(agent: String, key: SigningKey, behaviour: Behaviour) -> Self {
        Sim {
            agent,
            key,
            behaviour,
            sent: 0,
            handled: HashSet::new(),
            started: HashSet::new(),
            working: Vec::new(),
            silent_until: None,
            next_heartbeat: Instant::now(),
            crashes: 0,
            outbox: Vec::new(),
            unsent: Vec::new(),
            reports: (
                Arc::new(passing_report(REPORTED_MS)),
                Arc::new(failing_report(REPORTED_MS)),
            ),
        }
    }

    /// Steps on every change of the replica, when work in hand is due, and at least every
    /// [`POLL`], until `cancel` fires.
    async fn run<L: Ledger>(
        mut self,
        shared: Arc<Shared<L>>,
        mut views: watch::Receiver<Arc<Views>>,
        cancel: CancellationToken,
    ) -> Result<(), RunError> {
        while !cancel.is_cancelled() {
            let view = views.borrow_and_update().get(&self.agent).cloned().unwrap_or_default();
            match self.step(&shared, view).await {
                Ok(()) => {}
                // A dropped call or a busy node past the ledger client's retries: the agent
                // goes on, and sends the step's messages again with its next ones.
                Err(RunError::Ledger(LedgerError::Network { operation, reason })) => {
                    tracing::warn!(agent = %self.agent, %operation, %reason, "the network did not answer; going on");
                    tokio::select! {
                        () = tokio::time::sleep(NETWORK_PAUSE) => {}
                        () = cancel.cancelled() => {}
                    }
                    continue;
                }
                Err(e) => {
                    tracing::error!(agent = %self.agent, "simulated agent stopped: {e}");
                    return Err(e);
                }
            }
            let now = Instant::now();
            let wait = self
                .working
                .iter()
                .map(|w| w.0.saturating_duration_since(now))
                .fold(POLL, Duration::min);
            tokio::select! {
                _ = views.changed() => {}
                () = tokio::time::sleep(wait) => {}
                () = cancel.cancelled() => {}
            }
        }
        Ok(())
    }

    /// Acts on what the replica tells this agent: `(work, heartbeats expected)`.
    async fn step<L: Ledger>(
        &mut self,
        shared: &Shared<L>,
        (work, watched): (Vec<Work>, bool),
    ) -> Result<(), RunError> {
        let now = Instant::now();
        if self.silent_until.is_some_and(|t| now < t) {
            return Ok(());
        }
        self.silent_until = None;
        if now >= self.next_heartbeat && watched {
            let body = Body::Heartbeat(Heartbeat {
                agent_id: self.agent.clone(),
            });
            self.send(&shared.wiring.festival, body);
            self.next_heartbeat = now + self.behaviour.heartbeat;
        }
        self.started.retain(|(task, _)| work.iter().any(|w| w.task == *task));
        for work in work {
            let begun = work.action == Action::Submit && self.started.remove(&(work.task.clone(), work.attempt));
            if self.handled.insert((work.task.clone(), work.entered)) && !begun {
                self.take(shared, work).await?;
            }
        }
        // Work taken in this step may be due already (work that takes no time is).
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.working).into_iter().partition(|w| w.0 <= now);
        self.working = later;
        for (_, work, passes) in due {
            self.finish(&shared.wiring.festival, &work, passes);
        }
        self.flush(shared).await
    }

    fn rng(&self, work: &Work, salt: u64) -> SmallRng {
        let mut h = self.behaviour.seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for b in self.agent.bytes().chain(work.task.bytes()).chain(work.state.bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        SmallRng::seed_from_u64(h ^ u64::from(work.attempt))
    }

    async fn take<L: Ledger>(&mut self, shared: &Shared<L>, work: Work) -> Result<(), RunError> {
        if work.action == Action::Start {
            let body = Body::StatusUpdate(StatusUpdate {
                task_id: work.task.clone(),
                agent_id: self.agent.clone(),
                new_status: "start".into(),
                message: None,
                attempt: Some(work.attempt),
            });
            self.send(&shared.wiring.festival, body);
            if !work.works_on_start {
                return Ok(());
            }
            // The work begins with the start, not once the start is back from the log.
            self.started.insert((work.task.clone(), work.attempt));
        }
        let mut rng = self.rng(&work, 1 + self.crashes);
        if rng.random_bool(self.behaviour.crash_rate.clamp(0.0, 1.0)) {
            tracing::info!(agent = %self.agent, task = %work.task, "simulated crash: the agent goes silent");
            self.crashes += 1;
            self.silent_until = Some(Instant::now() + self.behaviour.downtime);
            // Back from the crash, the agent has forgotten everything it had in hand.
            for (_, w, _) in self.working.drain(..) {
                self.handled.remove(&(w.task.clone(), w.entered));
                self.started.remove(&(w.task.clone(), w.attempt));
            }
            self.handled.remove(&(work.task.clone(), work.entered));
            self.started.remove(&(work.task.clone(), work.attempt));
            return Ok(());
        }
        if rng.random_bool(self.behaviour.forge_rate.clamp(0.0, 1.0)) {
            self.forge(shared, &work).await?;
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

    fn finish(&mut self, festival: &str, work: &Work, passes: bool) {
        // A start still waiting in this step's outbox goes no further: the result says it begins
        // the work too (`Work::works_on_start`), so work that takes no time is one message.
        let queued = work
            .works_on_start
            .then(|| self.outbox.iter().position(|(_, body)| is_start_of(body, work)))
            .flatten();
        let started = queued.map(|i| self.outbox.remove(i)).is_some();
        let report = if passes { &self.reports.0 } else { &self.reports.1 };
        let body = Body::TaskResult(TaskResult {
            task_id: work.task.clone(),
            status: ResultStatus::Completed,
            output: Some(report.clone()),
            error: None,
            duration_ms: Some(REPORTED_MS),
            attempt: Some(work.attempt),
            started,
        });
        self.send(festival, body);
    }

    /// A message the coordinator must refuse: another agent's result signed with this agent's
    /// key, or bytes that are not a message at all.
    async fn forge<L: Ledger>(&mut self, shared: &Shared<L>, work: &Work) -> Result<(), RunError> {
        let wiring = &shared.wiring;
        let other = wiring.agent_keys.keys().find(|a| **a != self.agent).cloned();
        let payload = match other {
            Some(other) => {
                let body = Body::TaskResult(TaskResult {
                    task_id: work.task.clone(),
                    status: ResultStatus::Completed,
                    output: Some(passing_report(1).into()),
                    error: None,
                    duration_ms: Some(1),
                    attempt: Some(work.attempt),
                    started: false,
                });
                let mut envelope = Envelope::new(body.kind(), &wiring.festival, &other, 1, &body);
                wire::sign(&mut envelope, &self.key);
                wire::encode(&envelope)
            }
            None => b"{\"type\": \"task_result\", \"oops\"".to_vec(),
        };
        shared.ledger.submit(&wiring.status_topic, &payload).await?;
        Ok(())
    }

    /// A message for the status topic, sent with the step's others at [`Self::flush`].
    fn send(&mut self, festival: &str, body: Body) {
        self.sent += 1;
        let envelope = Envelope::new(body.kind(), festival, &self.agent, self.sent, &body);
        self.outbox.push((envelope, body));
    }

    /// Signs this step's messages (under one signature where the ledger takes batches) and
    /// submits them in order, after what the network did not take before. Messages the network
    /// does not answer for are kept and sent again (those of them that did reach the log come
    /// back as replays, refused as such).
    async fn flush<L: Ledger>(&mut self, shared: &Shared<L>) -> Result<(), RunError> {
        let mut payloads = std::mem::take(&mut self.unsent);
        if !self.outbox.is_empty() {
            let outbox = std::mem::take(&mut self.outbox);
            payloads.extend(wire::seal_sent(outbox, &self.key, shared.ledger.batch_signatures()));
        }
        if payloads.is_empty() {
            return Ok(());
        }
        match shared.ledger.submit_all(&shared.wiring.status_topic, &payloads).await {
            Ok(()) => Ok(()),
            Err(e @ LedgerError::Network { .. }) => {
                self.unsent = payloads;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether `body` is the start of `work`.
fn is_start_of(body: &Body, work: &Work) -> bool {
    matches!(body, Body::StatusUpdate(s) if s.task_id == work.task && s.new_status == "start" && s.attempt == Some(work.attempt))
}
