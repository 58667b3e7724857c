//! Forged, malformed, replayed and out-of-order messages injected into a live run on the local
//! ledger: each is rejected with its reason, in the coordinator's engine and in `baton status`,
//! and the run still pays every task exactly once.
//!
//! The run is deterministic: some messages are in the log before the coordinator starts; the
//! others are submitted once a replica of the log (a second reader folding into its own engine)
//! shows a given state. The test answers approvals itself as `carol`, so a task waits in `review`
//! until the messages aimed at that state are in, and it starts agent `alice` only once the
//! result she could not have sent yet is in the log.

use std::time::{Duration, Instant};

use assert_cmd::Command;
use baton::agent::simulate::{self, Behaviour};
use baton::engine::{Config, Engine, Outcome, Rejection, TaskView};
use baton::executor::{Coordinator, LogReader, Options, fold};
use baton::ledger::{Ledger, TopicMessage};
use baton::wire::{self, Body, Envelope, MessageType, SigningKey, Topic};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Two tasks in a row, one agent each, a gate, and a sign-off by `carol` before payment. `dave`
/// is an approver of the festival who may not sign off.
mod checks;

use checks::{assert_paid_once, assert_rejected, assert_status_lists};

use crate::wired::{Wired, wired};

const WORKFLOW: &str = r#"version: 1
festival: { id: rejections }
gates_dir: "@GATES@"
payment: { decimals: 2, budget: 100 }
agents: [{ id: alice, capabilities: [build] }, { id: bob, capabilities: [docs] }]
approvers: [{ id: carol }, { id: dave }]
lifecycle:
  name: signoff
  states: [pending, assigned, in_progress, testing, review, complete, paid]
  initial: pending
  terminal: [paid]
  transitions:
    - { from: pending, to: assigned, on: assign }
    - { from: assigned, to: in_progress, on: start }
    - { from: in_progress, to: testing, on: submit }
    - { from: testing, to: review, on: gates_passed, gates: task }
    - { from: testing, to: in_progress, on: gates_failed }
    - { from: review, to: complete, on: approve, approval: { approvers: [carol], quorum: 1 } }
    - { from: review, to: in_progress, on: reject }
    - { from: complete, to: paid, on: pay, do: [{ effect: hts.transfer, memo: "payment:task:<task id>" }] }
tasks:
  - { id: one, requires: [build], reward: 10, gates: [result_completed] }
  - { id: two, depends_on: [one], requires: [docs], reward: 20, gates: [result_completed] }
"#;

/// Each task's agent and reward, in minor units.
const PAID: [(&str, &str, i64); 2] = [("one", "alice", 1000), ("two", "bob", 2000)];

/// Every injected message, by case, and the start of the reason it must be rejected for: the
/// whole reason, but where the schema validator words the rest. `@ID@` is the message's id.
#[rustfmt::skip]
const CASES: [(&str, &str); 18] = [
    // Malformed, in the log before the coordinator starts.
    ("not JSON", "not JSON: the message is not a JSON document"),
    ("not an envelope", "schema: envelope: \"type\" is a required property"),
    ("unknown type", "schema: /type: \"teleport\" is not one of \"task_assignment\", \"quality_gate\" or 9 other"),
    ("missing field", "schema: /payload: \"new_status\" is a required property"),
    ("other festival", "message for festival `elsewhere`, not `rejections`"),
    ("wrong topic", "`task_event` belongs on the task topic, not the status topic"),
    // Forged.
    ("coordinator forged", "bad signature: the message is not signed by the key of `coordinator`"),
    ("unknown sender",
        "unknown sender `mallory`: not the coordinator, an agent or an approver of festival `rejections`"),
    ("signed by bob", "bad signature: the message is not signed by the key of `alice`"),
    ("agent approves", "only an approver may answer an approval request, not the agent `alice`"),
    ("dave approves", "approver `dave` may not approve task `one` in this state"),
    // Replayed.
    ("same bytes", "message id `@ID@` was already seen"),
    ("fresh id", "bad signature: the message is not signed by the key of `alice`"),
    // Out of order.
    ("result unassigned", "agent `bob` is not assigned task `two`"),
    ("result unstarted", "`submit` is not allowed in state `assigned` of task `one`"),
    ("start in review", "status `start` does not follow from state `review`"),
    ("earlier attempt", "a report on attempt 1 of task `one`, which is at attempt 2"),
    ("start when paid", "status `start` does not follow from state `paid`"),
];

/// A workflow file and a state directory under the system temp dir, with the festival wired to
/// the local ledger there; removed when dropped.
struct Fixture(Wired);

impl std::ops::Deref for Fixture {
    type Target = Wired;

    fn deref(&self) -> &Wired {
        &self.0
    }
}

impl Fixture {
    async fn new() -> Self {
        Self(wired("rejections", WORKFLOW).await)
    }

    fn key(&self, name: &str) -> SigningKey {
        self.keys.get(name).cloned().expect("the keyring has the key")
    }

    /// Starts a simulated agent, as `baton run --simulate` does, until `cancel` fires.
    fn spawn_agent(&self, agent: &str, cancel: &CancellationToken) {
        let behaviour = Behaviour {
            seed: 5,
            success_rate: 1.0,
            min_work: Duration::from_millis(5),
            max_work: Duration::from_millis(20),
            ..Behaviour::default()
        };
        let (ledger, festival, wiring) = (self.ledger.clone(), self.festival.clone(), self.wiring.clone());
        let run = simulate::run(
            ledger,
            festival,
            wiring,
            agent.into(),
            self.key(agent),
            behaviour,
            cancel.clone(),
        );
        tokio::spawn(async move { run.await.expect("the simulated agent runs") });
    }
}

/// An injected message: its case, the id its rejection names (empty when the bytes carry
/// none) and how the reason begins.
type Expected = (&'static str, String, String);

/// Where the test's driving stands: each phase waits for a state of the replica, then injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Task `one` assigned to alice, whose agent is not running yet.
    Assigned,
    /// Task `one` waits for sign-off at attempt 1.
    FirstReview,
    /// Task `one` waits for sign-off at attempt 2.
    SecondReview,
    /// Task `one` is paid.
    Paid,
    /// Task `two` waits for sign-off.
    LastReview,
    Done,
}

/// Builds messages, signs them with whatever key a case calls for and submits them, remembering
/// why each must be rejected; follows the log with its own replica to inject at given states.
struct Driver<'f> {
    fixture: &'f Fixture,
    sent: u64,
    expected: Vec<Expected>,
    replica: Engine,
    reader: LogReader,
    log: Vec<TopicMessage>,
    phase: Phase,
    agents: CancellationToken,
    /// Alice's first result for task `one`, as it is in the log.
    first: Vec<u8>,
}

impl<'f> Driver<'f> {
    fn new(fixture: &'f Fixture, agents: CancellationToken) -> Self {
        Self {
            fixture,
            sent: 0,
            expected: Vec::new(),
            replica: Engine::new(fixture.festival.clone(), &Config::default()).expect("the engine starts"),
            reader: LogReader::new(&fixture.wiring),
            log: Vec::new(),
            phase: Phase::Assigned,
            agents,
            first: Vec::new(),
        }
    }

    /// A fresh, deterministic message id.
    fn fresh_id(&mut self) -> String {
        self.sent += 1;
        format!("{:032x}", 0x0bad_0000_0000_u64 + self.sent)
    }

    /// An unsigned message from `sender` with a fresh id.
    fn envelope(&mut self, sender: &str, (kind, payload): (MessageType, Value)) -> Envelope {
        let body = Body::from_payload(kind, &payload).expect("the payload fits its type");
        let id = self.fresh_id();
        let envelope = Envelope::new(kind, &self.fixture.wiring.festival, sender, self.sent, &body);
        envelope.with_id(&id).with_timestamp("2025-03-01T12:00:00.000Z")
    }

    /// The message signed with `signer`'s key (a key of its own when `signer` is not in the
    /// keyring), as bytes for a topic.
    fn signed(&self, mut envelope: Envelope, signer: &str) -> Vec<u8> {
        let key = self.fixture.keys.get(signer).cloned();
        wire::sign(&mut envelope, &key.unwrap_or_else(wire::generate_key));
        wire::encode(&envelope)
    }

    async fn submit(&self, topic: Topic, bytes: &[u8]) {
        let wiring = &self.fixture.wiring;
        let topic = match topic {
            Topic::Tasks => &wiring.tasks_topic,
            Topic::Status => &wiring.status_topic,
        };
        let submitted = self.fixture.ledger.submit(topic, bytes).await;
        submitted.expect("the ledger takes the message");
    }

    /// Submits bytes that must be rejected for the reason of `case`.
    async fn reject(&mut self, case: &'static str, topic: Topic, id: &str, bytes: &[u8]) {
        let (_, reason) = CASES.iter().find(|(c, _)| *c == case).expect("the case is in CASES");
        self.submit(topic, bytes).await;
        self.expected.push((case, id.to_owned(), reason.replace("@ID@", id)));
    }

    /// Sends a message as `sender`, signed with `signer`'s key, on its type's topic.
    async fn forge(&mut self, case: &'static str, sender: &str, signer: &str, message: (MessageType, Value)) {
        let topic = message.0.topic();
        let envelope = self.envelope(sender, message);
        let (id, bytes) = (envelope.id.clone(), self.signed(envelope, signer));
        self.reject(case, topic, &id, &bytes).await;
    }

    /// Carol's answer, which the run accepts.
    async fn answer(&mut self, message: (MessageType, Value)) {
        let envelope = self.envelope("carol", message);
        let bytes = self.signed(envelope, "carol");
        self.submit(Topic::Status, &bytes).await;
    }
}

fn result(task: &str) -> (MessageType, Value) {
    let payload = json!({"task_id": task, "status": "completed", "output": simulate::passing_report(1)});
    (MessageType::TaskResult, payload)
}

fn start(task: &str) -> (MessageType, Value) {
    let payload = json!({"task_id": task, "agent_id": "alice", "new_status": "start"});
    (MessageType::StatusUpdate, payload)
}

fn approve(task: &str) -> (MessageType, Value) {
    (MessageType::Approval, json!({"task_id": task, "decision": "approve"}))
}

impl Driver<'_> {
    /// Malformed messages, in the log before the coordinator starts.
    async fn malformed(&mut self) {
        self.reject("not JSON", Topic::Tasks, "", b"pay alice 1000").await;
        let bare = serde_json::to_vec(&result("one").1).expect("JSON serializes");
        self.reject("not an envelope", Topic::Status, "", &bare).await;

        let envelope = self.envelope("alice", (MessageType::Heartbeat, json!({"agent_id": "alice"})));
        let id = envelope.id.clone();
        let mut value: Value = serde_json::from_slice(&self.signed(envelope, "alice")).expect("JSON");
        value["type"] = json!("teleport");
        let bytes = serde_json::to_vec(&value).expect("JSON serializes");
        self.reject("unknown type", Topic::Status, &id, &bytes).await;

        let mut envelope = self.envelope("alice", start("one"));
        envelope
            .payload
            .document_mut()
            .as_object_mut()
            .map(|p| p.remove("new_status"));
        let (id, bytes) = (envelope.id.clone(), self.signed(envelope, "alice"));
        self.reject("missing field", Topic::Status, &id, &bytes).await;

        let mut envelope = self.envelope("alice", result("one"));
        envelope.festival = "elsewhere".into();
        let (id, bytes) = (envelope.id.clone(), self.signed(envelope, "alice"));
        self.reject("other festival", Topic::Status, &id, &bytes).await;

        let event = json!({"task_id": "one", "event": "give_up", "reason": "wrong topic"});
        let envelope = self.envelope("coordinator", (MessageType::TaskEvent, event));
        let (id, bytes) = (envelope.id.clone(), self.signed(envelope, "coordinator"));
        self.reject("wrong topic", Topic::Status, &id, &bytes).await;
    }

    /// Forged messages and a result before its task is assigned, in the log before the
    /// coordinator starts. The intent would pay alice for task `one` if it were believed.
    async fn forged(&mut self) {
        let wiring = &self.fixture.wiring;
        let account = &wiring.accounts["alice"];
        let payment = json!({"task_id": "one", "agent_id": "alice", "account": account, "amount": 1000, "memo": ""});
        let tx = "0.0.2@1700000000.000000001";
        let intent = json!({"tx_id": tx, "token_id": wiring.token, "payments": [payment]});
        let intent = (MessageType::PaymentIntent, intent);
        self.forge("coordinator forged", "coordinator", "alice", intent).await;
        self.forge("unknown sender", "mallory", "mallory", approve("one")).await;
        self.forge("result unassigned", "bob", "bob", result("two")).await;
    }

    /// While task `one` is assigned and alice has not started it: her result, and a result in
    /// her name signed with bob's key. Then alice's agent starts.
    async fn before_start(&mut self) {
        self.forge("result unstarted", "alice", "alice", result("one")).await;
        self.forge("signed by bob", "alice", "bob", result("one")).await;
        self.fixture.spawn_agent("alice", &self.agents);
    }

    /// While task `one` waits for carol's sign-off after alice's first result: that result
    /// replayed, a late `start`, approvals from who may not give them; then carol sends the
    /// work back.
    async fn first_review(&mut self) {
        self.first = self.first_result();
        let (accepted, _) = wire::decode(&self.first).expect("alice's result decodes");
        let original = self.first.clone();
        self.reject("same bytes", Topic::Status, &accepted.id, &original).await;
        let id = self.fresh_id();
        let copy = wire::encode(&accepted.with_id(&id));
        self.reject("fresh id", Topic::Status, &id, &copy).await;

        self.forge("start in review", "alice", "alice", start("one")).await;
        self.forge("agent approves", "alice", "alice", approve("one")).await;
        self.forge("dave approves", "dave", "dave", approve("one")).await;
        let redo = json!({"task_id": "one", "decision": "reject", "reason": "redo it"});
        self.answer((MessageType::Approval, redo)).await;
    }

    /// While task `one` waits for carol's sign-off again: alice's first result, sent again
    /// under a fresh id and signed again, is one for an earlier attempt; then carol signs off.
    async fn second_review(&mut self) {
        let (accepted, _) = wire::decode(&self.first).expect("alice's result decodes");
        let id = self.fresh_id();
        let bytes = self.signed(accepted.with_id(&id), "alice");
        self.reject("earlier attempt", Topic::Status, &id, &bytes).await;
        self.answer(approve("one")).await;
    }

    /// Injects what the phase calls for once the replica shows its state.
    async fn step(&mut self) {
        let view = |task: &str| {
            let views = self.replica.task_views();
            let view = views.into_iter().find(|v| v.id == task);
            view.unwrap_or_else(|| panic!("task `{task}` is in the festival"))
        };
        let (one, two) = (view("one"), view("two"));
        let at = |v: &TaskView, state: &str, attempt: u32| v.state == state && v.attempt == attempt;
        self.phase = match self.phase {
            Phase::Assigned if at(&one, "assigned", 1) => {
                self.before_start().await;
                Phase::FirstReview
            }
            Phase::FirstReview if at(&one, "review", 1) => {
                self.first_review().await;
                Phase::SecondReview
            }
            Phase::SecondReview if at(&one, "review", 2) => {
                self.second_review().await;
                Phase::Paid
            }
            Phase::Paid if one.state == "paid" => {
                self.forge("start when paid", "alice", "alice", start("one")).await;
                Phase::LastReview
            }
            Phase::LastReview if two.state == "review" => {
                self.answer(approve("two")).await;
                Phase::Done
            }
            unchanged => unchanged,
        };
    }

    /// Follows the log until every phase is through; returns what was injected.
    async fn run(mut self) -> Vec<Expected> {
        let fixture = self.fixture;
        let deadline = Instant::now() + Duration::from_secs(20);
        let never = CancellationToken::new();
        while self.phase != Phase::Done {
            let views = self.replica.task_views();
            assert!(Instant::now() < deadline, "stuck before {:?}: {views:#?}", self.phase);
            let batch = self.reader.poll(fixture.ledger.as_ref()).await.expect("the log reads");
            for (position, message) in batch {
                fold(&mut self.replica, &fixture.wiring, position, &message);
                self.log.push(message);
            }
            self.step().await;
            let wait = self
                .reader
                .wait(fixture.ledger.as_ref(), Duration::from_millis(20), &never);
            wait.await;
        }
        self.expected
    }

    /// The bytes of the result alice's agent sent for task `one` (her only one so far).
    fn first_result(&self) -> Vec<u8> {
        let injected: Vec<&str> = self.expected.iter().map(|e| e.1.as_str()).collect();
        let from_alice = |m: &&TopicMessage| {
            wire::decode(&m.payload).is_ok_and(|(envelope, body)| {
                envelope.sender == "alice"
                    && body.kind() == MessageType::TaskResult
                    && !injected.contains(&envelope.id.as_str())
            })
        };
        let found = self.log.iter().find(from_alice);
        found
            .expect("alice's agent sent a result for task `one`")
            .payload
            .to_vec()
    }
}

/// Runs the coordinator and the driver together until the festival is over; returns the
/// coordinator's engine and what each injected message must be rejected for.
async fn run(fixture: &Fixture) -> (Engine, Vec<Expected>) {
    let cancel = CancellationToken::new();
    let agents = cancel.child_token();
    let mut driver = Driver::new(fixture, agents.clone());
    driver.malformed().await;
    driver.forged().await;
    fixture.spawn_agent("bob", &agents);
    let engine = Engine::new(fixture.festival.clone(), &Config::default()).expect("the engine starts");
    let (ledger, wiring, key) = (
        fixture.ledger.clone(),
        fixture.wiring.clone(),
        fixture.key("coordinator"),
    );
    let mut coordinator = Coordinator::new(ledger, engine, wiring, key);
    let options = Options {
        tick: Duration::from_secs(1),
        stop_when_done: true,
        ..Options::default()
    };
    let mut progress = |_: &Engine| {};
    let (summary, expected) = tokio::join!(coordinator.run(&options, &cancel, &mut progress), driver.run());
    agents.cancel();
    let summary = summary.expect("the coordinator runs");
    assert_eq!(summary.outcome, Outcome::Finished, "{summary:?}");
    (coordinator.into_engine(), expected)
}

#[test]
fn bad_messages_are_rejected_with_their_reason_and_the_run_completes() {
    let started = Instant::now();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    let fixture = runtime.block_on(Fixture::new());
    let (engine, expected) = runtime.block_on(async {
        let run = tokio::time::timeout(Duration::from_secs(30), run(&fixture)).await;
        run.expect("the run ends within 30 s")
    });
    assert_rejected(engine.rejections(), &expected);
    runtime.block_on(assert_paid_once(&engine, &fixture));
    drop(runtime);
    assert_status_lists(&fixture, engine.rejections());
    eprintln!("{} rejections, in {:?}", expected.len(), started.elapsed());
}
