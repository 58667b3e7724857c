//! Reports are kept while a gate may read them, and no longer.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::flow::{World, drive};
use super::{Run, festival};

const CHAIN: &str = r#"
version: 1
festival: { id: chain, name: Chain }
payment: { token: "0.0.5005", decimals: 2 }
agents:
  - { id: a1, account: "0.0.1001", capabilities: [rust] }
tasks:
  - { id: a, name: A, reward: 1.00, requires: [rust] }
  - { id: b, name: B, reward: 1.00, requires: [rust], depends_on: [a], gates: [result_completed] }
  - { id: c, name: C, reward: 1.00, requires: [rust], depends_on: [b], gates: [result_completed] }
"#;

#[test]
fn a_report_is_kept_while_a_gate_may_read_it() {
    let mut run = Run::new(festival(CHAIN));
    let mut world = World::default();
    drive(&mut run, &mut world);
    assert_eq!(run.state("c"), "paid");
    // Each task's gates saw the report of the task before it, paid by then: a report outlives
    // its task's payment while a task after it may still judge it.
    let judged: Vec<_> = world.judged.iter().filter(|(task, ..)| task != "a").collect();
    assert_eq!(judged.len(), 2);
    for (task, upstream, states) in judged {
        let before = if task == "b" { "a" } else { "b" };
        assert_eq!(states, &["paid"], "{task} judged after {before} was paid");
        assert_eq!(upstream[before]["report"], json!({"status": "completed"}), "{task}");
    }
    // Every task has ended: no gate runs again, and no report is kept.
    assert!(run.engine.tasks.iter().all(|s| s.report.is_none()));
}
