//! Round trips, signatures, canonical bytes and the schema's rejections.

use std::time::{Duration, UNIX_EPOCH};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

const STAMP: &str = "2025-03-01T12:00:00.000Z";
const ID: &str = "0123456789abcdef0123456789abcdef";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn payment(task: &str, amount: i64) -> IntendedPayment {
    IntendedPayment {
        task_id: task.into(),
        agent_id: "agent-a".into(),
        account: "0.0.1001".parse().expect("a valid id"),
        amount,
        memo: format!("pay {task}"),
    }
}

/// One body of every message type.
pub(super) fn samples() -> Vec<Body> {
    vec![
        Body::TaskAssignment(Assignment {
            task_id: "t1".into(),
            task_name: "Write the intro".into(),
            agent_id: "agent-a".into(),
            attempt: 1,
            input: json!({"topic": "bees", "words": 300}),
            dependencies: vec!["t0".into()],
            command: Some("echo hi".into()),
        }),
        Body::QualityGate(GateReport {
            task_id: "t1".into(),
            attempt: 2,
            passed: false,
            verdicts: vec![VerdictRecord {
                gate: "length".into(),
                script_hash: "ab".repeat(32),
                pass: false,
                reasons: vec!["too short".into()],
                score: Some(0.25),
                error: None,
            }],
        }),
        Body::ApprovalRequest(ApprovalRequest {
            task_id: "t1".into(),
            state: "review".into(),
            approvers: vec!["alice".into(), "bob".into()],
            quorum: 1,
        }),
        Body::PaymentIntent(PaymentIntent {
            tx_id: "0.0.2@1700000000.000000001".parse().expect("a valid id"),
            token_id: "0.0.5005".parse().expect("a valid id"),
            payments: vec![payment("t1", 1000), payment("t2", 250)],
        }),
        Body::PaymentSettled(Settlement {
            task_id: "t1".into(),
            agent_id: "agent-a".into(),
            amount: 1000,
            token_id: "0.0.5005".parse().expect("a valid id"),
            tx_status: "SUCCESS".into(),
            tx_id: "0.0.2@1700000000.000000001".parse().expect("a valid id"),
        }),
        Body::TaskEvent(TaskEvent {
            task_id: "t1".into(),
            event: "timeout".into(),
            reason: "no result in 10m".into(),
        }),
        Body::Tick,
        Body::StatusUpdate(StatusUpdate {
            task_id: "t1".into(),
            agent_id: "agent-a".into(),
            new_status: "in_progress".into(),
            message: Some("started".into()),
            attempt: Some(1),
        }),
        Body::TaskResult(TaskResult {
            task_id: "t1".into(),
            status: ResultStatus::Completed,
            output: Some(json!({"words": 312, "text": "Bees..."}).into()),
            error: None,
            duration_ms: Some(1234),
            attempt: Some(1),
            started: true,
        }),
        Body::Heartbeat(Heartbeat {
            agent_id: "agent-a".into(),
        }),
        Body::Approval(ApprovalAnswer {
            task_id: "t1".into(),
            decision: Decision::Reject,
            reason: Some("typos".into()),
        }),
    ]
}

fn signed(body: &Body) -> Envelope {
    let mut envelope = Envelope::new(body.kind(), "fest-1", "coordinator", 7, body)
        .with_timestamp(STAMP)
        .with_id(ID);
    sign(&mut envelope, &key(1));
    envelope
}

fn intent() -> Body {
    samples().swap_remove(3)
}

#[test]
fn every_type_round_trips() {
    let kinds: Vec<MessageType> = samples().iter().map(body_kind).collect();
    assert_eq!(kinds, MessageType::ALL.to_vec());
    for body in samples() {
        let envelope = signed(&body);
        let (back, typed) = decode(&encode(&envelope)).unwrap_or_else(|e| panic!("{}: {e}", body.kind()));
        assert_eq!(back, envelope, "{}", body.kind());
        assert_eq!(typed, body, "{}", body.kind());
        verify(&back, &key(1).verifying_key()).expect("verifies");
    }
}

#[test]
fn new_fills_ids_task_recipient_and_topic() {
    let body = samples().swap_remove(0);
    let envelope = Envelope::new(MessageType::TaskAssignment, "fest-1", "coordinator", 3, &body);
    assert_eq!(envelope.id.len(), 32);
    assert!(
        envelope
            .id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_ne!(
        envelope.id,
        Envelope::new(MessageType::TaskAssignment, "f", "c", 3, &body).id
    );
    assert_eq!(envelope.task_id.as_deref(), Some("t1"));
    assert_eq!(envelope.recipient.as_deref(), Some("agent-a"));
    assert_eq!(envelope.signature, None);
    assert!(
        envelope.timestamp.ends_with('Z') && envelope.timestamp.len() == 24,
        "{}",
        envelope.timestamp
    );
    assert_eq!(envelope.topic(), Topic::Tasks);
    let tick = Envelope::new(MessageType::Tick, "f", "c", 4, &Body::Tick);
    assert_eq!(
        (tick.task_id, tick.recipient, tick.payload),
        (None, None, json!({}).into())
    );
    let topics: Vec<Topic> = MessageType::ALL.iter().map(|k| k.topic()).collect();
    assert_eq!(topics.iter().filter(|t| **t == Topic::Status).count(), 4);
    assert_eq!(MessageType::Approval.topic(), Topic::Status);
    assert_eq!(
        "payment_settled".parse::<MessageType>().expect("a message type"),
        MessageType::PaymentSettled
    );
}

#[test]
fn rfc3339_formats_known_instants() {
    let cases: &[(u64, u32, &str)] = &[
        (0, 0, "1970-01-01T00:00:00.000Z"),
        (1_700_000_000, 123, "2023-11-14T22:13:20.123Z"),
        (1_709_164_800, 999, "2024-02-29T00:00:00.999Z"),
        (951_782_400, 0, "2000-02-29T00:00:00.000Z"),
        (4_102_444_799, 1, "2099-12-31T23:59:59.001Z"),
    ];
    for (secs, millis, want) in cases {
        let at = UNIX_EPOCH + Duration::from_secs(*secs) + Duration::from_millis(u64::from(*millis));
        assert_eq!(rfc3339(at), *want);
    }
    // The second kept from the last call serves only the same second.
    let second = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(rfc3339(second + Duration::from_millis(7)), "2023-11-14T22:13:20.007Z");
    assert_eq!(
        rfc3339(second + Duration::from_millis(1_050)),
        "2023-11-14T22:13:21.050Z"
    );
    assert_eq!(rfc3339(second), "2023-11-14T22:13:20.000Z");
}

#[test]
fn signatures_verify_and_catch_changes() {
    let envelope = signed(&intent());
    let signature = envelope.signature.clone().expect("signed");
    assert_eq!(signature.len(), 128);
    verify(&envelope, &key(1).verifying_key()).expect("verifies");

    let other = verify(&envelope, &key(2).verifying_key()).expect_err("does not verify");
    assert_eq!(
        other,
        WireError::BadSignature {
            sender: "coordinator".into()
        }
    );
    assert!(other.reason().contains("coordinator"), "{other}");

    // Flip one byte inside the payload of the encoded message: still a valid message, wrong signature.
    let mut bytes = encode(&envelope);
    let memo = b"pay t2";
    let at = bytes
        .windows(memo.len())
        .position(|w| w == memo)
        .expect("the memo is in the message");
    bytes[at + 5] = b'3';
    let (tampered, _) = decode(&bytes).expect("decodes");
    assert_eq!(tampered.payload.document()["payments"][1]["memo"], json!("pay t3"));
    let err = verify(&tampered, &key(1).verifying_key()).expect_err("does not verify");
    assert!(matches!(err, WireError::BadSignature { .. }), "{err}");

    let mut unsigned = envelope.clone();
    unsigned.signature = None;
    assert_eq!(verify(&unsigned, &key(1).verifying_key()), Err(WireError::Unsigned));
    let mut garbled = envelope;
    garbled.signature = Some("zz".repeat(64));
    assert!(matches!(
        verify(&garbled, &key(1).verifying_key()),
        Err(WireError::BadSignature { .. })
    ));
}

/// JSON with every object's keys in reverse order, as another signer's serializer might write it.
fn reversed(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            keys.reverse();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{}: {}", json!(k), reversed(&map[*k])))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(reversed).collect::<Vec<_>>().join(", ")),
        scalar => scalar.to_string(),
    }
}

#[test]
fn canonical_bytes_ignore_key_order_and_whitespace() {
    let body = intent();
    let mut a = signed(&body);
    a.payload = json!({"b": 1, "a": {"d": [{"y": 2, "x": 1}], "c": "é\n"}}).into();
    let mut b = a.clone();
    b.payload = serde_json::from_str::<Value>(r#"{"a": {"c": "é\n", "d": [{"x": 1, "y": 2}]}, "b": 1}"#)
        .expect("JSON")
        .into();
    assert_eq!(canonical(&a), canonical(&b));
    let text = String::from_utf8(canonical(&a)).expect("UTF-8");
    assert!(
        text.contains(r#""payload":{"a":{"c":"é\n","d":[{"x":1,"y":2}]},"b":1}"#),
        "{text}"
    );
    assert!(text.starts_with(r#"{"festival":"fest-1","id":"#), "{text}");
    assert!(!text.contains("signature") && !text.contains(": "), "{text}");

    // A message written with other key order and spacing still verifies.
    let envelope = signed(&body);
    let value: Value = serde_json::from_slice(&encode(&envelope)).expect("JSON");
    let (back, _) = decode(reversed(&value).as_bytes()).expect("decodes");
    verify(&back, &key(1).verifying_key()).expect("verifies");
}

#[test]
fn extra_payload_fields_are_kept_signed_and_ignored_by_the_types() {
    let body = samples().swap_remove(8);
    let mut envelope = signed(&body);
    envelope.payload.document_mut()["model_id"] = json!("gpt-x");
    envelope.payload.document_mut()["max_tokens"] = json!(4096);
    sign(&mut envelope, &key(1));
    let (back, typed) = decode(&encode(&envelope)).expect("decodes");
    assert_eq!(typed, body);
    assert_eq!(back.payload.document()["model_id"], json!("gpt-x"));
    verify(&back, &key(1).verifying_key()).expect("verifies");
}

/// The encoded intent as JSON, changed by `edit`, as bytes.
fn edited(body: &Body, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&encode(&signed(body))).expect("JSON");
    edit(&mut value);
    serde_json::to_vec(&value).expect("serializes")
}

#[test]
fn decode_rejects_bad_messages_with_a_reason() {
    let result = samples().swap_remove(8);
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("not json", b"{\"type\": ".to_vec(), &["not JSON"]),
        ("too large", vec![b' '; MAX_MESSAGE_BYTES + 1], &["too large"]),
        (
            "missing payload field",
            edited(&result, |v| {
                drop(v["payload"].as_object_mut().expect("an object").remove("task_id"))
            }),
            &["schema: /payload: ", "\"task_id\" is a required property"],
        ),
        (
            "missing signature",
            edited(&result, |v| {
                drop(v.as_object_mut().expect("an object").remove("signature"))
            }),
            &["schema: envelope: ", "\"signature\""],
        ),
        (
            "wrong type name",
            edited(&result, |v| v["type"] = json!("task_done")),
            &["schema: /type: ", "task_done"],
        ),
        (
            "negative amount",
            edited(&intent(), |v| v["payload"]["payments"][0]["amount"] = json!(-5)),
            &["schema: /payload/payments/0/amount: -5 is less than the minimum of 1"],
        ),
        (
            "eleven payments",
            edited(&intent(), |v| {
                let one = v["payload"]["payments"][0].clone();
                v["payload"]["payments"] = Value::Array(vec![one; 11]);
            }),
            &["schema: /payload/payments: ", "more than 10 items"],
        ),
        (
            "no payments",
            edited(&intent(), |v| v["payload"]["payments"] = json!([])),
            &["schema: /payload/payments: "],
        ),
        (
            "non-object output",
            edited(&result, |v| v["payload"]["output"] = json!("done")),
            &["schema: /payload/output: ", "\"done\" is not of type"],
        ),
        (
            "bad tx id",
            edited(&intent(), |v| v["payload"]["tx_id"] = json!("0.0.2@1700000000.1")),
            &["schema: /payload/tx_id: ", "does not match"],
        ),
        (
            "bad account",
            edited(&intent(), |v| v["payload"]["payments"][1]["account"] = json!("alice")),
            &["schema: /payload/payments/1/account: "],
        ),
        (
            "bad status",
            edited(&result, |v| v["payload"]["status"] = json!("done")),
            &["schema: /payload/status: "],
        ),
        (
            "uppercase signature",
            edited(&result, |v| v["signature"] = json!("AB".repeat(64))),
            &["schema: /signature: "],
        ),
        (
            "unknown envelope field",
            edited(&result, |v| v["priority"] = json!(1)),
            &["schema: envelope: ", "priority"],
        ),
        (
            "empty task id",
            edited(&result, |v| v["payload"]["task_id"] = json!("")),
            &["schema: /payload/task_id: "],
        ),
    ];
    for (name, bytes, wants) in cases {
        let err = decode(&bytes).map(|_| ()).expect_err("rejected");
        let reason = err.reason();
        for want in wants {
            assert!(reason.contains(want), "{name}: `{reason}` lacks `{want}`");
        }
    }
}

#[test]
fn long_values_are_not_quoted_in_reasons() {
    let bytes = edited(&samples().swap_remove(8), |v| {
        v["payload"]["output"] = json!("x".repeat(10_000))
    });
    let reason = decode(&bytes).map(|_| ()).expect_err("rejected").reason();
    assert_eq!(
        reason,
        r#"schema: /payload/output: value is not of types "null", "object""#
    );
}

#[test]
fn sealed_bytes_are_known_only_under_their_key_and_only_unchanged() {
    let mut envelope = Envelope::new(intent().kind(), "fest-1", "coordinator", 8, &intent());
    let bytes = seal(&mut envelope, &key(1));
    let (decoded, _) = decode(&bytes).expect("decodes");
    for _ in 0..2 {
        verify_payload(&bytes, &decoded, &key(1).verifying_key()).expect("the sealed bytes verify");
        assert!(verify_payload(&bytes, &decoded, &key(2).verifying_key()).is_err());
    }
    let mut changed = bytes.clone();
    let at = changed
        .windows(6)
        .position(|w| w == b"pay t2")
        .expect("the memo is in the message");
    changed[at + 5] = b'3';
    let (tampered, _) = decode(&changed).expect("decodes");
    for _ in 0..2 {
        assert!(verify_payload(&changed, &tampered, &key(1).verifying_key()).is_err());
    }
    // Bytes never seen here are checked in full, and then known.
    let other = encode(&signed(&intent()));
    let (envelope, _) = decode(&other).expect("decodes");
    verify_payload(&other, &envelope, &key(1).verifying_key()).expect("verifies");
    verify_payload(&other, &envelope, &key(1).verifying_key()).expect("verifies again");
}

#[test]
fn hex_text_writes_every_byte_as_the_hex_crate_does() {
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(super::hex_text(&all), hex::encode(&all));
    assert_eq!(super::hex_text(&[]), "");
}

#[test]
fn hex_and_plain_checks_agree_with_byte_by_byte_ones_at_every_byte_and_length() {
    let hex = |s: &[u8]| s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let plain = |s: &[u8]| !s.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20);
    // Lengths below, at and past the widths the checks are made at, with one odd byte at each
    // place of the string.
    for len in [0, 1, 15, 16, 17, 31, 32, 33, 64, 128, 320] {
        let good = vec![b'7'; len];
        assert!(super::lower_hex(&good) && super::plain_json(&good), "{len}");
        for at in 0..len {
            for byte in 0..=255u8 {
                let mut text = good.clone();
                text[at] = byte;
                assert_eq!(super::lower_hex(&text), hex(&text), "byte {byte} at {at} of {len}");
                assert_eq!(super::plain_json(&text), plain(&text), "byte {byte} at {at} of {len}");
            }
        }
    }
}
