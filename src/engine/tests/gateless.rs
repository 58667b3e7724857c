//! A task whose judging edge runs no gates passes them as its result is folded: no
//! `quality_gate` message, the same state in every replica of the log.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::{Run, coordinator, festival};
use crate::engine::{Command, Fact};

const GATELESS: &str = r#"
version: 1
festival: { id: gateless, name: Gateless }
payment: { token: "0.0.5005", decimals: 2 }
agents:
  - { id: a1, account: "0.0.1001", capabilities: [rust] }
tasks:
  - { id: t, name: T, reward: 10.00, requires: [rust] }
"#;

/// A one-task festival whose lifecycle judges twice after the result: `review` on the edge
/// given, then `check`.
fn judged_twice(review: &str) -> String {
    format!(
        r#"
version: 1
festival: {{ id: twice, name: Twice }}
payment: {{ token: "0.0.5005", decimals: 2 }}
agents:
  - {{ id: a1, account: "0.0.1001", capabilities: [rust] }}
lifecycle:
  states: [pending, assigned, in_progress, review, check, complete, paid]
  initial: pending
  terminal: [paid]
  transitions:
    - {{ from: pending, to: assigned, on: assign }}
    - {{ from: assigned, to: in_progress, on: start }}
    - {{ from: in_progress, to: review, on: submit }}
    - {review}
    - {{ from: review, to: in_progress, on: gates_failed }}
    - {{ from: check, to: complete, on: gates_passed }}
    - {{ from: check, to: in_progress, on: gates_failed }}
    - {{ from: complete, to: paid, on: pay, do: [{{ effect: hts.transfer }}] }}
tasks:
  - {{ id: t, name: T, reward: 1.00, requires: [rust] }}
"#
    )
}

/// Task `t` assigned to `a1`, started and its result folded.
fn submitted() -> Run {
    submitted_in(GATELESS)
}

fn submitted_in(yaml: &str) -> Run {
    let mut run = Run::new(festival(yaml));
    super::reach(&mut run, "in_progress");
    super::message(&mut run, "submit").expect("result");
    run
}

#[test]
fn a_result_with_no_gates_to_run_completes_the_task_and_asks_for_its_payment() {
    let mut run = submitted();
    assert_eq!(run.state("t"), "complete");
    let gate = run.engine.task_view(0).gate.expect("a verdict");
    assert_eq!(
        (gate.attempt, gate.passed, gate.reasons),
        (1, true, Vec::<String>::new())
    );
    let commands = run.engine.decide();
    assert!(
        matches!(commands.as_slice(), [Command::Pay { payments, .. }] if payments.len() == 1),
        "{commands:?}"
    );
}

#[test]
fn a_verdict_on_no_gates_agreeing_with_the_fold_changes_nothing_and_another_is_refused() {
    let mut run = submitted();
    let verdict = |passed| Fact::Judged {
        task: "t".into(),
        attempt: 1,
        passed,
        verdicts: json!([]),
    };
    // As a log written before such a pass took no message holds it.
    coordinator(&mut run, verdict(true)).expect("the same pass");
    assert_eq!(
        coordinator(&mut run, verdict(false)),
        Err("task `t` had no gates to run at attempt 1: it passed them as its result came".to_string())
    );
    assert_eq!(run.state("t"), "complete");
    assert_eq!(run.engine.task_view(0).gate.map(|g| g.passed), Some(true));
}

#[test]
fn the_log_folded_again_passes_the_same_task_at_the_same_point() {
    let run = submitted();
    let mut again = Run::new(run.engine.festival_shared());
    for e in &run.log {
        again.engine.apply(e);
    }
    assert_eq!(again.engine.task_views(), run.engine.task_views());
    assert_eq!(again.engine.rejections(), run.engine.rejections());
}

/// The commands decided for task `t`, by kind.
fn decided_kinds(run: &mut Run) -> Vec<&'static str> {
    let kind = |c: &Command| match c {
        Command::RunGates { .. } => "run gates",
        Command::Pay { .. } => "pay",
        _ => "other",
    };
    run.engine.decide().iter().map(kind).collect()
}

#[test]
fn one_pass_follows_an_event_and_the_next_state_waits_for_a_verdict() {
    let mut run = submitted_in(&judged_twice("{ from: review, to: check, on: gates_passed }"));
    assert_eq!(run.state("t"), "check");
    assert_eq!(decided_kinds(&mut run), ["run gates"]);
    let verdict = Fact::Judged {
        task: "t".into(),
        attempt: 1,
        passed: true,
        verdicts: json!([]),
    };
    coordinator(&mut run, verdict).expect("the verdict on `check`");
    assert_eq!(run.state("t"), "complete");
}

#[test]
fn a_pass_its_guard_refuses_leaves_the_task_to_the_gates_command() {
    let edge = r#"{ from: review, to: check, on: gates_passed, when: "task.attempt > 1" }"#;
    let mut run = submitted_in(&judged_twice(edge));
    assert_eq!(run.state("t"), "review");
    assert_eq!(run.engine.task_view(0).gate, None);
    assert_eq!(decided_kinds(&mut run), ["run gates"]);
}
