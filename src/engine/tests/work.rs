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

/// Decides, and folds the first assignment decided: task and agent.
fn assign(run: &mut Run) -> (String, String) {
    let assigned = run.engine.decide().into_iter().find_map(|c| match c {
        Command::Assign { task, agent, attempt } => Some((task, agent, attempt)),
        _ => None,
    });
    let (task, agent, attempt) = assigned.expect("an assignment decided");
    let fact = Fact::Assigned {
        task: task.clone(),
        agent: agent.clone(),
        attempt,
    };
    run.send(Sender::Coordinator, fact).expect("assignment accepted");
    (task, agent)
}

/// What `agent`'s work asks of it, and whether it may begin with the start.
fn shown(run: &Run, agent: &str) -> Vec<(Action, bool)> {
    let work = run.engine.work_for(agent);
    work.into_iter().map(|w| (w.action, w.works_on_start)).collect()
}

#[test]
fn the_standard_start_leads_straight_to_the_work() {
    let mut run = Run::new(festival(ONE_TASK));
    let (task, agent) = assign(&mut run);
    assert_eq!(shown(&run, &agent), [(Action::Start, true)]);
    let start = Fact::Status {
        task,
        agent: agent.clone(),
        status: "start".into(),
        attempt: None,
    };
    run.send(Sender::Agent(agent.clone()), start).expect("start accepted");
    assert_eq!(shown(&run, &agent), [(Action::Submit, false)]);
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
        let mut run = Run::new(festival(&with_start(edge)));
        let (_, agent) = assign(&mut run);
        assert_eq!(shown(&run, &agent), [(Action::Start, straight)], "{edge}");
    }
}
