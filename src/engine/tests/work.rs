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

/// `start` edges, and whether each leads straight to the work: only the first does, as a state
/// on the way, a guard or a gate stand between.
const STARTS: [(&str, bool); 4] = [
    ("{ from: assigned, to: working, on: start }", true),
    ("{ from: assigned, to: waiting, on: start }", false),
    (
        "{ from: assigned, to: working, on: start, when: \"task.attempt > 0\" }",
        false,
    ),
    ("{ from: assigned, to: working, on: start, gates: task }", false),
];

#[test]
fn a_start_with_something_on_the_way_waits_for_the_log() {
    for (edge, straight) in STARTS {
        let mut run = Run::new(festival(&with_start(edge)));
        let (_, agent) = assign(&mut run);
        assert_eq!(shown(&run, &agent), [(Action::Start, straight)], "{edge}");
    }
}

/// Folds a completed result from `agent` on `task` that says it begins the work too.
fn result(run: &mut Run, task: &str, agent: &str, started: bool) -> Result<(), String> {
    let fact = Fact::Result {
        task: task.into(),
        completed: true,
        report: serde_json::json!({"status": "completed"}).into(),
        error: None,
        attempt: None,
        started,
    };
    run.send(Sender::Agent(agent.into()), fact)
}

#[test]
fn a_result_begins_its_work_only_where_the_start_leads_straight_to_it() {
    for (edge, straight) in STARTS {
        let mut run = Run::new(festival(&with_start(edge)));
        let (task, agent) = assign(&mut run);
        let got = result(&mut run, &task, &agent, true).map(|()| run.state(&task));
        let want = if straight {
            Ok("done".to_string())
        } else {
            Err(format!(
                "task `{task}` is in state `assigned`, not where a result may begin its work"
            ))
        };
        assert_eq!(got, want, "{edge}");
    }
}

#[test]
fn a_result_that_does_not_say_it_begins_the_work_needs_the_start() {
    let mut run = Run::new(festival(&with_start("{ from: assigned, to: working, on: start }")));
    let (task, agent) = assign(&mut run);
    assert_eq!(
        result(&mut run, &task, &agent, false),
        Err(format!("`submit` is not allowed in state `assigned` of task `{task}`"))
    );
    let failed = Fact::Result {
        task: task.clone(),
        completed: false,
        report: serde_json::json!({}).into(),
        error: Some("no".into()),
        attempt: None,
        started: true,
    };
    assert_eq!(
        run.send(Sender::Agent(agent.clone()), failed),
        Err(format!("a failed result on task `{task}` cannot begin its work"))
    );
    assert_eq!(run.state(&task), "assigned");
}

#[test]
fn a_guard_on_the_submit_keeps_the_start_apart() {
    let text = with_start("{ from: assigned, to: working, on: start }").replace(
        "{ from: working, to: done, on: submit }",
        "{ from: working, to: done, on: submit, when: \"task.attempt > 0\" }",
    );
    let mut run = Run::new(festival(&text));
    let (task, agent) = assign(&mut run);
    assert_eq!(shown(&run, &agent), [(Action::Start, false)]);
    assert_eq!(
        result(&mut run, &task, &agent, true),
        Err(format!(
            "task `{task}` is in state `assigned`, not where a result may begin its work"
        ))
    );
}

#[test]
fn a_result_that_begins_its_work_folds_as_the_start_and_the_result_did() {
    let festival = festival(ONE_TASK);
    let (mut apart, mut together) = (Run::new(festival.clone()), Run::new(festival));
    let (task, agent) = assign(&mut apart);
    assign(&mut together);
    let start = Fact::Status {
        task: task.clone(),
        agent: agent.clone(),
        status: "start".into(),
        attempt: None,
    };
    apart.send(Sender::Agent(agent.clone()), start).expect("start accepted");
    result(&mut apart, &task, &agent, false).expect("result accepted");
    result(&mut together, &task, &agent, true).expect("result accepted as the start too");
    assert_eq!(together.state(&task), "review");
    assert_eq!(together.engine.task_view(0), apart.engine.task_view(0));
    assert_eq!(together.engine.decide(), apart.engine.decide());
}
