//! The log reader's checks: refusals and their reasons, batches checked in parallel.

use super::*;
use crate::ledger::ConsensusTime;
use crate::wire::{Envelope, Heartbeat, SigningKey};

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn wiring() -> Wiring {
    Wiring {
        festival: "fest".into(),
        tasks_topic: TopicId("0.0.10".into()),
        status_topic: TopicId("0.0.11".into()),
        token: TokenId("0.0.5005".into()),
        treasury: AccountId("0.0.2".into()),
        accounts: HashMap::from([("a1".to_string(), AccountId("0.0.1001".into()))]),
        coordinator_key: key(1).verifying_key(),
        agent_keys: HashMap::from([("a1".to_string(), key(2).verifying_key())]),
        approver_keys: HashMap::new(),
    }
}

fn on_status(payload: Vec<u8>) -> TopicMessage {
    TopicMessage {
        topic: wiring().status_topic,
        sequence: 1,
        consensus: ConsensusTime(5),
        payload: payload.into(),
    }
}

/// A heartbeat from `sender` for festival `festival`, signed with `signer`.
fn heartbeat(festival: &str, sender: &str, signer: u8) -> Envelope {
    let body = Body::Heartbeat(Heartbeat {
        agent_id: sender.into(),
    });
    let mut envelope = Envelope::new(body.kind(), festival, sender, 1, &body).with_id(&"ab".repeat(16));
    wire::sign(&mut envelope, &key(signer));
    envelope
}

fn refusal(payload: Vec<u8>) -> Refusal {
    to_event(&wiring(), 1, &on_status(payload)).expect_err("the message is refused")
}

#[test]
fn refusals_name_what_is_wrong_and_which_message_it_was() {
    let mut unsigned: serde_json::Value =
        serde_json::from_slice(&wire::encode(&heartbeat("fest", "a1", 2))).expect("JSON");
    unsigned["payload"] = json!({});
    let cases = [
        (
            b"not json".to_vec(),
            "",
            "",
            "not JSON: the message is not a JSON document",
        ),
        (
            serde_json::to_vec(&unsigned).expect("JSON"),
            "abababababababababababababababab",
            "a1",
            "schema: /payload: \"agent_id\" is a required property",
        ),
        (
            wire::encode(&heartbeat("other", "a1", 2)),
            "abababababababababababababababab",
            "a1",
            "message for festival `other`, not `fest`",
        ),
        (
            wire::encode(&heartbeat("fest", "mallory", 3)),
            "abababababababababababababababab",
            "mallory",
            "unknown sender `mallory`: not the coordinator, an agent or an approver of festival `fest`",
        ),
        (
            wire::encode(&heartbeat("fest", "a1", 3)),
            "abababababababababababababababab",
            "a1",
            "bad signature: the message is not signed by the key of `a1`",
        ),
    ];
    for (payload, id, sender, reason) in cases {
        let refused = refusal(payload);
        assert_eq!(
            (refused.id.as_str(), refused.sender.as_str(), refused.reason.as_str()),
            (id, sender, reason)
        );
    }
}

#[test]
fn a_message_on_the_wrong_topic_names_both_topics() {
    let body = Body::TaskEvent(wire::TaskEvent {
        task_id: "t".into(),
        event: "give_up".into(),
        reason: "test".into(),
    });
    let mut envelope = Envelope::new(body.kind(), "fest", "coordinator", 1, &body);
    wire::sign(&mut envelope, &key(1));
    let refused = refusal(wire::encode(&envelope));
    assert_eq!(
        refused.reason,
        "`task_event` belongs on the task topic, not the status topic"
    );
    assert_eq!(refused.task.as_deref(), Some("t"));
}

#[test]
fn claims_of_undecodable_messages_are_cut_short() {
    let long = "x".repeat(1000);
    let bytes = serde_json::to_vec(&json!({"id": long, "sender": 5, "payload": {"task_id": "t"}})).expect("JSON");
    let refused = claimed(&bytes, "schema".into());
    assert_eq!(refused.id.chars().count(), MAX_CLAIM_CHARS);
    assert_eq!((refused.sender.as_str(), refused.task.as_deref()), ("", Some("t")));
}

#[test]
fn a_large_batch_is_checked_in_parallel_exactly_as_one_by_one() {
    let wiring = wiring();
    let batch: Vec<(u64, TopicMessage)> = (0..3 * PARALLEL_FROM as u64)
        .map(|i| {
            // Every third message is signed with a key that is not the sender's.
            let signer = if i % 3 == 0 { 3 } else { 2 };
            let mut envelope = heartbeat("fest", "a1", signer);
            envelope.id = format!("{i:032x}");
            wire::sign(&mut envelope, &key(signer));
            let mut message = on_status(wire::encode(&envelope));
            message.sequence = i + 1;
            (i + 1, message)
        })
        .collect();
    let parallel = check_all(&wiring, &batch);
    let one_by_one: Vec<_> = batch.iter().map(|(p, m)| to_event(&wiring, *p, m)).collect();
    assert_eq!(parallel, one_by_one);
    assert_eq!(parallel.iter().filter(|e| e.is_err()).count(), PARALLEL_FROM);
    assert_eq!(parallel[1].as_ref().map(|e| e.position), Ok(2));
}

#[tokio::test]
async fn a_poll_reads_each_topic_to_its_end_in_consensus_order() {
    use crate::ledger::{Ledger, LocalLedger};
    let dir = std::env::temp_dir().join(format!("baton-log-poll-{}", std::process::id()));
    let ledger = LocalLedger::open(&dir).expect("the local ledger opens");
    let tasks = ledger.create_topic("tasks").await.expect("a topic");
    let status = ledger.create_topic("status").await.expect("a topic");
    // More messages on the task topic than a poll asks for at once, the status topic's between.
    let mut written = Vec::new();
    for n in 0..READ_AT_ONCE + 5 {
        let topic = if n % 4000 == 7 { &status } else { &tasks };
        written.push((topic.clone(), format!("m{n}").into_bytes()));
    }
    ledger.submit_many(&written).expect("the messages are written");
    let mut reader = LogReader::new(&Wiring {
        tasks_topic: tasks,
        status_topic: status,
        ..wiring()
    });
    let read = reader.poll(&ledger).await.expect("the log reads");
    let texts: Vec<Vec<u8>> = read.iter().map(|(_, m)| m.payload.to_vec()).collect();
    let expected: Vec<Vec<u8>> = written.into_iter().map(|(_, p)| p).collect();
    assert_eq!(texts.len(), expected.len(), "every message is read in one poll");
    assert!(
        texts == expected,
        "the messages are read in the order they were written"
    );
    let positions: Vec<u64> = read.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, (1..=expected.len() as u64).collect::<Vec<_>>());
    assert!(reader.poll(&ledger).await.expect("the log reads").is_empty());
    drop(ledger);
    let _ = std::fs::remove_dir_all(&dir);
}
