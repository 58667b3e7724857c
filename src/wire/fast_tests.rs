//! The fast decode accepts nothing the full decode refuses and reads what it accepts as the full
//! decode does: every kind of message, signed alone and in a batch, and many mutations of each.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::envelope::decode_full;
use super::tests::samples;
use super::*;

/// Every sample signed alone, and all of them signed together (each with a `batch`).
fn messages() -> Vec<Value> {
    let key = SigningKey::from_bytes(&[3; 32]);
    let envelope = |body: &Body| Envelope::new(body.kind(), "fest-1", "coordinator", 7, body);
    let mut alone: Vec<Envelope> = samples().iter().map(envelope).collect();
    let mut together = alone.clone();
    alone.iter_mut().for_each(|e| sign(e, &key));
    sign_all(&mut together, &key);
    let mut all: Vec<Value> = alone.iter().chain(&together).map(to_value).collect();
    // A recipient on a message that is not an assignment, and an escaped string.
    let mut odd = to_value(&alone[7]);
    odd["recipient"] = json!("coordinator");
    odd["payload"]["message"] = json!("a \"quoted\"\nline");
    all.push(odd);
    all
}

fn to_value(envelope: &Envelope) -> Value {
    serde_json::from_slice(&encode(envelope)).expect("an encoded message is JSON")
}

/// Values a field may be replaced with: of every JSON type, at and past the schema's bounds.
fn replacements() -> Vec<Value> {
    let mut values = vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(1),
        json!(-1),
        json!(1.0),
        json!(1.5),
        json!(u64::MAX),
        json!(65_535),
        json!(65_536),
        json!(4_294_967_296_u64),
        json!(""),
        json!("x"),
        json!([]),
        json!(["a"]),
        json!({}),
        json!({"tick": null}),
        json!("completed"),
        json!("approve"),
        json!("0.0.1"),
        json!("0.0.1@1.000000001"),
        json!("a \"quoted\" name"),
        json!("back\\slash"),
        json!("two\nlines"),
    ];
    for len in [31, 32, 33, 63, 64, 127, 128, 129, 200, 201, 1024, 1025] {
        values.push(json!("a".repeat(len)));
        values.push(json!("é".repeat(len)));
    }
    values.extend([json!("A".repeat(32)), json!("g".repeat(32)), json!("A".repeat(128))]);
    values
}

/// A copy of `message` with `f` applied to the field at `path`.
fn edited(message: &Value, path: &[String], f: &dyn Fn(&mut Value)) -> Value {
    let mut copy = message.clone();
    let mut at = &mut copy;
    for key in path {
        at = match at {
            Value::Array(items) => &mut items[0],
            other => &mut other[key.as_str()],
        };
    }
    f(at);
    copy
}

/// Copies of `message` with the field at `path` (object keys, `0` for an array's first item)
/// replaced by each replacement and, below it, each field removed, mutated the same way, and an
/// unknown one added.
fn mutations_at(message: &Value, path: &[String], out: &mut Vec<Value>) {
    let Some(target) = path
        .iter()
        .try_fold(message, |v, k| v.get(k).or_else(|| v.get(k.parse::<usize>().ok()?)))
    else {
        return;
    };
    for replacement in replacements() {
        out.push(edited(message, path, &|v| *v = replacement.clone()));
    }
    let deeper = |key: String, out: &mut Vec<Value>| {
        let mut below = path.to_vec();
        below.push(key);
        mutations_at(message, &below, out);
    };
    if let Value::Object(fields) = target {
        out.push(edited(message, path, &|v| v["unknown"] = json!(1)));
        for key in fields.keys() {
            out.push(edited(message, path, &|v| {
                v.as_object_mut().map(|m| m.remove(key));
            }));
            deeper(key.clone(), out);
        }
    }
    if let Value::Array(items) = target
        && !items.is_empty()
    {
        out.push(edited(message, path, &|v| {
            v.as_array_mut().map(Vec::clear);
        }));
        deeper("0".into(), out);
    }
}

/// Whether the fast decode took `bytes`; fails the test if it took them differently from the full
/// decode.
fn fast_agrees(bytes: &[u8]) -> bool {
    let Some(fast) = fast::decode(bytes) else {
        return false;
    };
    assert_eq!(
        decode_full(bytes).as_ref(),
        Ok(&fast),
        "the fast decode took a message the full decode reads otherwise: {}",
        String::from_utf8_lossy(bytes)
    );
    true
}

#[test]
fn the_fast_decode_takes_every_well_formed_message() {
    for message in messages() {
        let bytes = serde_json::to_vec(&message).expect("serializes");
        assert!(fast_agrees(&bytes), "{message}");
    }
}

#[test]
fn the_fast_decode_never_takes_what_the_full_decode_refuses() {
    let (mut taken, mut total) = (0, 0);
    for message in messages() {
        let mut mutated = Vec::new();
        mutations_at(&message, &[], &mut mutated);
        for copy in mutated {
            let bytes = serde_json::to_vec(&copy).expect("serializes");
            taken += usize::from(fast_agrees(&bytes));
            total += 1;
        }
    }
    // Unknown payload fields, other strings of the right shape and numbers in range are taken;
    // most mutations are not.
    assert!(
        total > 10_000 && taken > 100 && taken < total / 2,
        "{taken} of {total} taken"
    );
}

#[test]
fn the_fast_decode_leaves_odd_texts_to_the_full_decode() {
    let message = messages().swap_remove(0);
    let bytes = serde_json::to_vec(&message).expect("serializes");
    let text = String::from_utf8(bytes.clone()).expect("UTF-8");
    let id = message["id"].as_str().expect("an id");
    let other = "f".repeat(32);
    let cases = [
        format!(" \n{text}\t"),
        format!("[{text}]"),
        format!("{text}x"),
        text.replacen('{', &format!("{{\"id\":\"{other}\","), 1),
        text.replacen(
            &format!("\"id\":\"{id}\""),
            &format!("\"id\":\"{id}\",\"id\":\"{other}\""),
            1,
        ),
        text.replacen("fest-1", "fest\\u002d1", 1),
        text.replacen("\"sequence_num\":7", "\"sequence_num\":7.0", 1),
        text.replacen("\"sequence_num\":7", "\"sequence_num\":7e0", 1),
        text.replacen("\"type\":\"task_assignment\"", "\"type\":{\"task_assignment\":null}", 1),
        text[..text.len() - 1].to_owned(),
    ];
    for case in cases {
        let _ = fast_agrees(case.as_bytes());
    }
    // The fields in the struct's order as an array: a struct reads from one, the schema does not.
    let fields = [
        "type",
        "id",
        "festival",
        "sender",
        "recipient",
        "task_id",
        "sequence_num",
        "timestamp",
        "payload",
    ];
    let mut items: Vec<Value> = fields.iter().map(|f| message[*f].clone()).collect();
    items.push(message["signature"].clone());
    assert!(!fast_agrees(Value::Array(items).to_string().as_bytes()));
    let batched = messages().swap_remove(12);
    let batch = serde_json::to_string(&batched["batch"]).expect("serializes");
    let text = serde_json::to_string(&batched).expect("serializes");
    let items = format!(
        "[{},{},{}]",
        batched["batch"]["index"], batched["batch"]["size"], batched["batch"]["path"]
    );
    assert!(!fast_agrees(text.replacen(&batch, &items, 1).as_bytes()));
    assert!(fast_agrees(text.as_bytes()));
}

/// What a sender keeps for its readers ([`fast::as_read`]) is what the fast decode reads from the
/// envelope's bytes, and it keeps nothing the fast decode would not take: over every message and
/// every mutation of it that still makes an envelope.
#[test]
fn a_sent_message_is_kept_as_its_bytes_decode() {
    let (mut kept, mut total) = (0, 0);
    for message in messages() {
        let mut mutated = vec![message.clone()];
        mutations_at(&message, &[], &mut mutated);
        for copy in mutated {
            let Ok(envelope) = serde_json::from_value::<Envelope>(copy) else {
                continue;
            };
            let bytes = encode(&envelope);
            // What the fast decode takes, the full decode reads the same.
            fast_agrees(&bytes);
            let read = fast::decode(&bytes).map(|(read, body)| {
                assert_eq!(read, envelope, "the bytes give back the envelope");
                body
            });
            // The body it was made of, as a sender holds it.
            let made_of = Body::from_payload(envelope.kind, &envelope.payload.document()).ok();
            let as_read = made_of.and_then(|body| fast::as_read(&envelope, body));
            assert_eq!(as_read, read, "{}", String::from_utf8_lossy(&bytes));
            kept += usize::from(as_read.is_some());
            total += 1;
        }
    }
    assert!(kept > 100 && kept < total / 2, "{kept} of {total} kept");
}

/// Bodies that are not written as they are held: a score that is not a number, a `null` report,
/// ids that do not read back. Each of them also as it reads back.
pub(super) fn unlike_their_bytes() -> Vec<Body> {
    let gate = |score| {
        Body::QualityGate(GateReport {
            task_id: "t1".into(),
            attempt: 1,
            passed: true,
            verdicts: vec![VerdictRecord {
                gate: "g".into(),
                script_hash: "ab".repeat(32),
                pass: true,
                reasons: Vec::new(),
                score,
                error: None,
            }],
        })
    };
    let result = |output| {
        Body::TaskResult(TaskResult {
            task_id: "t1".into(),
            status: ResultStatus::Completed,
            output,
            error: None,
            duration_ms: None,
            attempt: Some(1),
            started: false,
        })
    };
    let settled = |account: &str| {
        Body::PaymentSettled(Settlement {
            task_id: "t1".into(),
            agent_id: "agent-a".into(),
            amount: 5,
            token_id: crate::ledger::TokenId(account.into()),
            tx_status: "SUCCESS".into(),
            tx_id: "0.0.2@1700000000.000000001".parse().expect("a valid id"),
        })
    };
    let intent = |account: &str| {
        Body::PaymentIntent(PaymentIntent {
            tx_id: "0.0.2@1700000000.000000001".parse().expect("a valid id"),
            token_id: "0.0.5005".parse().expect("a valid id"),
            payments: vec![IntendedPayment {
                task_id: "t1".into(),
                agent_id: "agent-a".into(),
                account: crate::ledger::AccountId(account.into()),
                amount: 5,
                memo: "payment:task:t1".into(),
            }],
        })
    };
    let mut late = match settled("0.0.7") {
        Body::PaymentSettled(s) => s,
        _ => unreachable!(),
    };
    late.tx_id.valid_start = crate::ledger::ConsensusTime(i64::MIN);
    vec![
        intent("0.0.1001"),
        intent("1001"),
        Body::PaymentSettled(late),
        gate(Some(f64::NAN)),
        gate(Some(f64::INFINITY)),
        gate(None),
        gate(Some(-0.0)),
        result(Some(Value::Null.into())),
        result(None),
        result(Some(json!({"tests": {"passed": 3, "ratio": 0.1}}).into())),
        settled("not-an-id"),
        settled("0.0.7"),
    ]
}

/// A body that [`Body::reads_back`] reads back as it is, and a sender keeps what its readers
/// read from the bytes whether its body reads back or not.
#[test]
fn a_sent_body_is_kept_as_its_bytes_read() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let mut told = 0;
    for body in samples().into_iter().chain(unlike_their_bytes()) {
        let read_back = Body::from_payload(body.kind(), &body.to_payload());
        if body.reads_back() {
            assert_eq!(read_back.as_ref(), Ok(&body), "{body:?} reads back");
            told += 1;
        }
        let mut envelope = Envelope::new(body.kind(), "fest-1", "agent-a", 1, &body);
        sign(&mut envelope, &key);
        let bytes = encode(&envelope);
        let read = decode_full(&bytes).ok().map(|(_, body)| body);
        assert_eq!(fast::as_read(&envelope, body.clone()), read, "{body:?}");
    }
    assert!(told > 10, "{told} bodies read back as they are");
}
