//! Whole runs in the engine alone: a perfect shell and perfect agents answer every command.

use std::sync::Arc;

use pretty_assertions::assert_eq;
use serde_json::json;

use super::{ONE_TASK, Run, SEC, coordinator, decided, festival, shipped};
use crate::engine::{Command, Event, Fact, Outcome, PaymentOrder, Sender};

/// How the simulated world answers.
#[derive(Default, Clone)]
pub(super) struct World {
    /// Gates fail for these tasks.
    pub(super) failing: Vec<String>,
    /// Assignments seen, in order: (task, agent).
    assigned: Vec<(String, String)>,
    pub(super) pays: Vec<Vec<PaymentOrder>>,
    /// Most tasks held at once.
    peak_active: usize,
    /// Gates run: (task, the upstream they were given, the states of its dependencies then).
    pub(super) judged: Vec<(String, serde_json::Value, Vec<String>)>,
}

fn execute(run: &mut Run, world: &mut World, command: Command) {
    let fact = match command {
        Command::Assign { task, agent, attempt } => {
            let t = run.engine.festival().index[&task];
            for d in run.engine.festival().dependencies(t) {
                let m = run.engine.machine(d);
                assert!(
                    m.done[run.engine.tasks[d].state],
                    "{task} assigned before its dependency completed"
                );
            }
            world.assigned.push((task.clone(), agent.clone()));
            Fact::Assigned { task, agent, attempt }
        }
        Command::RunGates {
            task,
            attempt,
            upstream,
            ..
        } => {
            let t = run.engine.festival().index[&task];
            let festival = run.engine.festival_shared();
            let states = festival
                .dependencies(t)
                .into_iter()
                .map(|d| run.engine.task_view(d).state);
            world.judged.push((task.clone(), upstream, states.collect()));
            Fact::Judged {
                passed: !world.failing.contains(&task),
                task,
                attempt,
                verdicts: json!([{"gate": "g", "pass": true, "reasons": []}]),
            }
        }
        Command::RequestApproval {
            task,
            approvers,
            quorum,
            ..
        } => {
            coordinator(run, Fact::ApprovalRequested { task: task.clone() }).expect("approval request");
            for who in approvers.iter().take(quorum as usize) {
                let answer = Fact::Answered {
                    task: task.clone(),
                    approve: true,
                    reason: None,
                };
                run.send(Sender::Approver(who.clone()), answer).expect("approval");
            }
            return;
        }
        Command::Pay { valid_start, payments } => {
            world.pays.push(payments.clone());
            let tx = format!("0.0.2@{}.{:09}", valid_start / SEC, valid_start % SEC);
            Fact::PaymentIntended { tx, payments }
        }
        Command::Transfer { tx, payments } => {
            for p in payments {
                let fact = Fact::PaymentSettled {
                    task: p.task,
                    tx: tx.clone(),
                    status: "SUCCESS".into(),
                    amount: p.amount,
                };
                coordinator(run, fact).expect("settlement");
            }
            return;
        }
        Command::Fire { task, event, reason } => Fact::Decided { task, event, reason },
    };
    coordinator(run, fact).expect("the engine's own command is accepted");
}

/// Agents start and submit every task they hold.
fn agents_work(run: &mut Run) -> bool {
    let mut worked = false;
    for t in 0..run.engine.tasks.len() {
        let s = &run.engine.tasks[t];
        let Some(a) = s.agent else { continue };
        let m = run.engine.machine(t);
        let who = run.engine.festival().agents[a].id.value.clone();
        let task = run.engine.festival().tasks[t].id.value.clone();
        let fact = if m.has_event(s.state, "start") {
            Fact::Status {
                task,
                agent: who.clone(),
                status: "start".into(),
                attempt: None,
            }
        } else if m.has_event(s.state, "submit") {
            Fact::Result {
                task,
                completed: true,
                report: json!({"status": "completed"}).into(),
                error: None,
                attempt: None,
                started: false,
            }
        } else {
            continue;
        };
        run.send(Sender::Agent(who), fact).expect("agent message accepted");
        worked = true;
    }
    worked
}

pub(super) fn drive(run: &mut Run, world: &mut World) {
    for _ in 0..100_000 {
        let commands = run.engine.decide();
        world.peak_active = world.peak_active.max(run.engine.active + run.engine.reserved);
        let busy = !commands.is_empty();
        for c in commands {
            execute(run, world, c);
        }
        if !agents_work(run) && !busy {
            return;
        }
    }
    panic!("the run did not settle");
}

#[test]
fn each_shipped_workflow_runs_to_payment() {
    for name in [
        "hedera-foundation.yaml",
        "release-pipeline.yaml",
        "quality-pipeline.yaml",
    ] {
        let festival = shipped(name);
        let mut run = Run::new(festival.clone());
        let mut world = World::default();
        drive(&mut run, &mut world);
        assert_eq!(run.engine.outcome(), Outcome::Finished, "{name}");
        assert!(
            run.engine.rejections().is_empty(),
            "{name}: {:?}",
            run.engine.rejections()
        );
        let expected: i64 = festival
            .tasks
            .iter()
            .filter_map(|t| t.reward.as_ref()?.value.to_minor(festival.payment.decimals))
            .map(|m| i64::try_from(m).expect("small"))
            .sum();
        assert_eq!(run.engine.paid().0, expected, "{name}");
        for v in run.engine.task_views() {
            assert_eq!(v.state, "paid", "{name}: {}", v.id);
        }
        assert!(world.pays.iter().all(|b| b.len() <= 10), "{name}");
        if let Some(max) = festival.max_parallel {
            assert!(
                world.peak_active <= max as usize,
                "{name}: {} at once",
                world.peak_active
            );
        }
    }
}

#[test]
fn replay_gives_the_same_state() {
    let festival = shipped("release-pipeline.yaml");
    let mut run = Run::new(festival.clone());
    drive(&mut run, &mut World::default());
    let log = run.log.clone();
    let mut again = Run::new(festival);
    for e in &log {
        again.engine.apply(e);
    }
    again.engine.forget_in_flight();
    assert_eq!(again.engine.task_views(), run.engine.task_views());
    assert_eq!(again.engine.decide(), Vec::new());
    assert_eq!(again.engine.outcome(), Outcome::Finished);
}

pub(super) const THREE: &str = r#"
version: 1
festival: { id: three, name: Three }
payment: { token: "0.0.5005", decimals: 2 }
agents:
  - { id: a1, account: "0.0.1001", capabilities: [rust] }
  - { id: a2, account: "0.0.1002", capabilities: [rust] }
tasks:
  - { id: x, name: X, reward: 1.00, requires: [rust], gates: [result_completed] }
  - { id: y, name: Y, reward: 1.00, requires: [rust] }
  - { id: z, name: Z, reward: 1.00, requires: [rust], depends_on: [x, y] }
"#;

#[test]
fn least_loaded_agents_and_fan_in() {
    let mut run = Run::new(festival(THREE));
    let mut world = World::default();
    drive(&mut run, &mut world);
    let order: Vec<(&str, &str)> = world.assigned.iter().map(|(t, a)| (t.as_str(), a.as_str())).collect();
    assert_eq!(order, vec![("x", "a1"), ("y", "a2"), ("z", "a1")]);
}

#[test]
fn a_timeout_returns_the_task_to_another_agent() {
    let mut run = Run::new(festival(ONE_TASK));
    let commands = run.engine.decide();
    assert_eq!(
        commands,
        vec![Command::Assign {
            task: "t".into(),
            agent: "a1".into(),
            attempt: 1
        }]
    );
    coordinator(
        &mut run,
        Fact::Assigned {
            task: "t".into(),
            agent: "a1".into(),
            attempt: 1,
        },
    )
    .expect("assign");
    let beat = |run: &mut Run| {
        run.now += 60 * SEC;
        run.send(Sender::Agent("a1".into()), Fact::Heartbeat { agent: "a1".into() })
            .expect("heartbeat");
    };
    for _ in 0..4 {
        beat(&mut run);
    }
    assert_eq!(
        run.engine.decide(),
        Vec::new(),
        "4 minutes are within the 5-minute timeout"
    );
    beat(&mut run);
    beat(&mut run);
    let commands = run.engine.decide();
    let [Command::Fire { event, .. }] = commands.as_slice() else {
        panic!("{commands:?}")
    };
    assert_eq!(event, "timeout");
    coordinator(&mut run, decided("t", "timeout")).expect("timeout");
    assert_eq!(run.state("t"), "pending");
    let commands = run.engine.decide();
    assert_eq!(
        commands,
        vec![Command::Assign {
            task: "t".into(),
            agent: "a2".into(),
            attempt: 2
        }]
    );
}

#[test]
fn heartbeats_keep_a_task_and_their_absence_loses_it() {
    let mut run = Run::new(festival(ONE_TASK));
    run.engine.decide();
    coordinator(
        &mut run,
        Fact::Assigned {
            task: "t".into(),
            agent: "a1".into(),
            attempt: 1,
        },
    )
    .expect("assign");
    let start = Fact::Status {
        task: "t".into(),
        agent: "a1".into(),
        status: "in_progress".into(),
        attempt: None,
    };
    run.send(Sender::Agent("a1".into()), start).expect("start");
    for _ in 0..5 {
        run.now += 60 * SEC;
        run.send(Sender::Agent("a1".into()), Fact::Heartbeat { agent: "a1".into() })
            .expect("heartbeat");
        assert_eq!(run.engine.decide(), Vec::new());
    }
    run.now += 91 * SEC;
    coordinator(&mut run, Fact::Tick).expect("tick");
    let commands = run.engine.decide();
    let [Command::Fire { event, reason, .. }] = commands.as_slice() else {
        panic!("{commands:?}")
    };
    assert_eq!(
        (event.as_str(), reason.as_str()),
        ("heartbeat_missed", "no heartbeat from agent `a1` for 1m30s")
    );
}

#[test]
fn failing_gates_use_up_attempts_then_dependents_are_stuck() {
    let mut run = Run::new(festival(THREE));
    let mut world = World {
        failing: vec!["x".into()],
        ..World::default()
    };
    drive(&mut run, &mut world);
    assert_eq!(run.state("x"), "cancelled");
    assert_eq!(run.engine.task_view(0).attempt, 3);
    assert_eq!((run.state("y").as_str(), run.state("z").as_str()), ("paid", "pending"));
    assert_eq!(run.engine.outcome(), Outcome::Stuck);
    // The same log folded again, as `baton status` does, ends where the run did.
    let mut again = Run::new(run.engine.festival_shared());
    for e in &run.log {
        again.engine.apply(e);
    }
    assert_eq!(again.engine.outcome(), Outcome::Running, "not looked at yet");
    assert_eq!(again.engine.replayed_outcome(), Outcome::Stuck);
    assert_eq!(again.engine.task_views(), run.engine.task_views());
}

#[test]
fn a_task_is_paid_once_whatever_the_log_repeats() {
    let mut run = Run::new(festival(ONE_TASK));
    super::reach(&mut run, "complete");
    let order = PaymentOrder {
        task: "t".into(),
        agent: "a1".into(),
        amount: 1000,
    };
    let intent = |tx: &str| Fact::PaymentIntended {
        tx: tx.into(),
        payments: vec![order.clone()],
    };
    coordinator(&mut run, intent("0.0.2@1.000000001")).expect("first intent");
    let second = coordinator(&mut run, intent("0.0.2@1.000000002"));
    assert_eq!(
        second,
        Err("task `t` is already in the intent of transaction `0.0.2@1.000000001`".into())
    );
    let wrong = Fact::PaymentSettled {
        task: "t".into(),
        tx: "0.0.2@1.000000002".into(),
        status: "SUCCESS".into(),
        amount: 1000,
    };
    assert!(coordinator(&mut run, wrong).is_err());
    let settled = Fact::PaymentSettled {
        task: "t".into(),
        tx: "0.0.2@1.000000001".into(),
        status: "SUCCESS".into(),
        amount: 1000,
    };
    coordinator(&mut run, settled.clone()).expect("settlement");
    assert_eq!(
        coordinator(&mut run, settled),
        Err("the payment of task `t` is already settled".into())
    );
    assert_eq!(run.engine.paid(), (1000, 1));
}

#[test]
fn repeated_ids_and_forged_senders_are_refused() {
    let mut run = Run::new(festival(ONE_TASK));
    let event = Event {
        consensus: SEC,
        position: 1,
        id: "same".into(),
        sender: Sender::Coordinator,
        fact: Fact::Tick,
    };
    run.engine.apply(&event);
    run.engine.apply(&event);
    let forged = Fact::Assigned {
        task: "t".into(),
        agent: "a1".into(),
        attempt: 1,
    };
    assert!(run.send(Sender::Agent("a1".into()), forged).is_err());
    let reasons: Vec<&str> = run.engine.rejections().iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(
        reasons,
        vec![
            "message id `same` was already seen",
            "only the coordinator may send `task_assignment`, not the agent `a1`"
        ]
    );
}

#[test]
fn approvals_follow_the_release_lifecycle() {
    let festival: Arc<_> = shipped("release-pipeline.yaml");
    let mut run = Run::new(festival);
    let task = run.engine.festival().tasks[0].id.value.clone();
    let t = 0;
    let commands = run.engine.decide();
    let agent = commands
        .iter()
        .find_map(|c| match c {
            Command::Assign { task: x, agent, .. } if *x == task => Some(agent.clone()),
            _ => None,
        })
        .expect("first task assigned");
    coordinator(
        &mut run,
        Fact::Assigned {
            task: task.clone(),
            agent: agent.clone(),
            attempt: 1,
        },
    )
    .expect("assign");
    for _ in 0..2 {
        let result = Fact::Result {
            task: task.clone(),
            completed: true,
            report: json!({}).into(),
            error: None,
            attempt: None,
            started: false,
        };
        run.send(Sender::Agent(agent.clone()), result).expect("submit");
    }
    assert_eq!(run.engine.task_view(t).state, "design_approval");
    let answer = |approve| Fact::Answered {
        task: task.clone(),
        approve,
        reason: Some("no".into()),
    };
    let refusals = [
        (
            Sender::Approver("qa-lead".into()),
            format!("approver `qa-lead` may not approve task `{task}` in this state"),
        ),
        (
            Sender::Approver("mallory".into()),
            format!("approver `mallory` may not approve task `{task}` in this state"),
        ),
        (
            Sender::Agent(agent.clone()),
            format!("only an approver may answer an approval request, not the agent `{agent}`"),
        ),
    ];
    for (sender, reason) in refusals {
        assert_eq!(run.send(sender, answer(true)), Err(reason));
    }
    run.send(Sender::Approver("release-manager".into()), answer(false))
        .expect("reject");
    assert_eq!(
        (run.engine.task_view(t).state.as_str(), run.engine.task_view(t).attempt),
        ("design", 2)
    );
    let result = Fact::Result {
        task: task.clone(),
        completed: true,
        report: json!({}).into(),
        error: None,
        attempt: None,
        started: false,
    };
    run.send(Sender::Agent(agent.clone()), result).expect("submit again");
    run.send(Sender::Approver("release-manager".into()), answer(true))
        .expect("approve");
    assert_eq!(run.engine.task_view(t).state, "development");
}
