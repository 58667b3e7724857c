//! Folding messages one by one: refused messages and their ids, agents' statuses.

use super::super::tests::{ONE_TASK, Run, coordinator, festival, reach};
use super::*;

fn assignment() -> Fact {
    Fact::Assigned {
        task: "t".into(),
        agent: "a1".into(),
        attempt: 1,
    }
}

#[test]
fn a_refused_message_does_not_take_its_id() {
    let mut run = Run::new(festival(ONE_TASK));
    // The next message `Run` sends has id `m1`; a forgery under that id comes first.
    run.engine.refuse(Rejection {
        position: 1,
        consensus: 1,
        id: "m1".into(),
        sender: "a1".into(),
        task: Some("t".into()),
        reason: "bad signature".into(),
    });
    assert_eq!(coordinator(&mut run, assignment()), Ok(()));
    assert_eq!(run.state("t"), "assigned");
    let rejections = run.engine.rejections();
    assert_eq!(rejections.len(), 1);
    assert_eq!(rejections[0].task.as_deref(), Some("t"));
    assert_eq!(run.engine.applied(), 2);
}

#[test]
fn out_of_order_messages_name_the_state() {
    let cases = [
        (
            "review",
            "in_progress",
            "status `in_progress` does not follow from state `review`",
        ),
        (
            "paid",
            "in_progress",
            "status `in_progress` does not follow from state `paid`",
        ),
        ("paid", "submit", "`submit` is not allowed in state `paid` of task `t`"),
        (
            "complete",
            "submit",
            "`submit` is not allowed in state `complete` of task `t`",
        ),
    ];
    for (state, message, reason) in cases {
        let mut run = Run::new(festival(ONE_TASK));
        reach(&mut run, state);
        let fact = if message == "submit" {
            Fact::Result {
                task: "t".into(),
                completed: true,
                report: serde_json::json!({}).into(),
                error: None,
                attempt: None,
                started: false,
            }
        } else {
            Fact::Status {
                task: "t".into(),
                agent: "a1".into(),
                status: message.into(),
                attempt: None,
            }
        };
        let sent = run.send(Sender::Agent("a1".into()), fact);
        assert_eq!(sent, Err(reason.to_string()), "{message} in {state}");
        assert_eq!(run.state("t"), state, "{message} in {state} changed nothing");
    }
}
