//! The work an agent's replica shows it, and when it may begin the work with its start.

use pretty_assertions::assert_eq;

use super::{ONE_TASK, Run, festival};
use crate::engine::{Action, Command, Fact, Sender};

/// A one-task festival on a lifecycle whose `start` is the edge given.
fn with_start(edge: &str) -> String {
    format!(
        r#"
version: 1
festival: {{ id: starts, name: Starts }}
payment: {{ token: "0.0.5005", decimals: 2 }}
agents:
  - {{ id: a1, account: "0.0.1001", capabilities: [rust] }}
lifecycle:
  states: [pending, assigned, waiting, working, done, paid]
  initial: pending
  terminal: [paid]
  transitions:
    - {{ from: pending, to: assigned, on: assign }}
    - {edge}
    - {{ from: assigned, to: waiting, on: pause }}
    - {{ from: waiting, to: working, on: go }}
    - {{ from: working, to: done, on: submit }}
    - {{ from: done, to: paid, on: pay, do: [{{ effect: hts.transfer }}] }}
tasks:
  - {{ id: t, name: T, reward: 1.00, requires: [rust] }}
"#
    )
}

/// The first piece of work agent `a1` is shown once task `t` is assigned to it.
fn assigned_work(yaml: &str) -> crate::engine::Work {
    let mut run = Run::new(festival(yaml));
    let assigned = run.engine.decide().into_iter().find_map(|c| match c {
        Command::Assign { task, agent, attempt } => Some(Fact::Assigned { task, agent, attempt }),
        _ => None,
    });
    run.send(Sender::Coordinator, assigned.expect("an assignment"))
        .expect("assignment accepted");
    let work = run.engine.work_for("a1");
    assert_eq!(work.len(), 1, "{work:?}");
    work.into_iter().next().expect("one piece of work")
}

#[test]
fn the_standard_start_leads_straight_to_the_work() {
    let mut run = Run::new(festival(ONE_TASK));
    let assigned = run.engine.decide().into_iter().find_map(|c| match c {
        Command::Assign { task, agent, attempt } => Some((task, agent, attempt)),
        _ => None,
    });
    let (task, agent, attempt) = assigned.expect("an assignment");
    run.send(
        Sender::Coordinator,
        Fact::Assigned {
            task: task.clone(),
            agent: agent.clone(),
            attempt,
        },
    )
    .expect("assignment accepted");
    let work = run.engine.work_for(&agent);
    assert_eq!(
        work.iter()
            .map(|w| (w.action.clone(), w.works_on_start))
            .collect::<Vec<_>>(),
        [(Action::Start, true)]
    );
    let start = Fact::Status {
        task,
        agent: agent.clone(),
        status: "start".into(),
        attempt: None,
    };
    run.send(Sender::Agent(agent.clone()), start).expect("start accepted");
    let work = run.engine.work_for(&agent);
    assert_eq!(
        work.iter()
            .map(|w| (w.action.clone(), w.works_on_start))
            .collect::<Vec<_>>(),
        [(Action::Submit, false)]
    );
}

#[test]
fn a_start_with_something_on_the_way_waits_for_the_log() {
    let cases = [
        ("{ from: assigned, to: working, on: start }", true),
        ("{ from: assigned, to: waiting, on: start }", false),
        (
            "{ from: assigned, to: working, on: start, when: \"task.attempt > 0\" }",
            false,
        ),
        ("{ from: assigned, to: working, on: start, gates: task }", false),
    ];
    for (edge, straight) in cases {
        let work = assigned_work(&with_start(edge));
        assert_eq!(work.action, Action::Start, "{edge}");
        assert_eq!(work.works_on_start, straight, "{edge}");
    }
}
