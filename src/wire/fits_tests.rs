//! A body's payload as its sender writes it ([`PayloadJson::written`]) and its typed schema
//! check ([`Body::fits`]), held to the document [`Body::to_payload`] gives and to the schema
//! itself, over the bounds of every field the schema bounds.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::envelope::decode_full;
use super::fast_tests::unlike_their_bytes;
use super::payload::write_sorted;
use super::tests::samples;
use super::*;
use crate::ledger::{AccountId, ConsensusTime, TokenId};

/// Strings at and around the schema's bounds of 1 to 200 characters, in bytes and characters.
const TEXTS: [&str; 3] = ["", "a", "a \"quoted\"\\ line\n\t\u{1}\u{7f}/é\u{2028}"];

fn texts() -> Vec<String> {
    let mut all: Vec<String> = TEXTS.iter().map(|s| (*s).to_owned()).collect();
    for unit in ["x", "é", "\u{1F41D}"] {
        all.push(unit.repeat(200));
        all.push(unit.repeat(201));
    }
    all
}

const IDS: [&str; 10] = [
    "0.0.1", "10.20.30", "0.0", "0.0.1.2", "a.0.1", "0..1", "", " 0.0.1", "0.0.1\n", "٣.0.1",
];

/// Every sample body with one field changed to each of the values around its bounds.
fn variants() -> Vec<Body> {
    let [
        assign,
        gate,
        ask,
        intent,
        settled,
        event,
        _,
        status,
        result,
        beat,
        answer,
    ] = <[Body; 11]>::try_from(samples()).expect("eleven samples");
    let mut all = Vec::new();
    let mut edit = |base: &Body, change: &mut dyn FnMut(&mut Body)| {
        let mut body = base.clone();
        change(&mut body);
        all.push(body);
    };
    for text in texts() {
        let t = || text.clone();
        edit(&assign, &mut |b| with(b, |a: &mut Assignment| a.task_id = t()));
        edit(&assign, &mut |b| {
            with(b, |a: &mut Assignment| a.dependencies = vec![t()])
        });
        edit(&gate, &mut |b| with(b, |g: &mut GateReport| g.verdicts[0].gate = t()));
        edit(&ask, &mut |b| with(b, |a: &mut ApprovalRequest| a.approvers.push(t())));
        edit(&ask, &mut |b| with(b, |a: &mut ApprovalRequest| a.state = t()));
        edit(&intent, &mut |b| {
            with(b, |i: &mut PaymentIntent| i.payments[1].agent_id = t())
        });
        edit(&settled, &mut |b| with(b, |s: &mut Settlement| s.tx_status = t()));
        edit(&event, &mut |b| with(b, |e: &mut TaskEvent| e.event = t()));
        edit(&status, &mut |b| with(b, |s: &mut StatusUpdate| s.new_status = t()));
        edit(&status, &mut |b| with(b, |s: &mut StatusUpdate| s.agent_id = t()));
        edit(&result, &mut |b| with(b, |r: &mut TaskResult| r.task_id = t()));
        edit(&beat, &mut |b| with(b, |h: &mut Heartbeat| h.agent_id = t()));
        edit(&answer, &mut |b| with(b, |a: &mut ApprovalAnswer| a.task_id = t()));
    }
    for id in IDS {
        edit(&intent, &mut |b| {
            with(b, |i: &mut PaymentIntent| i.token_id = TokenId(id.into()))
        });
        edit(&intent, &mut |b| {
            with(b, |i: &mut PaymentIntent| i.payments[0].account = AccountId(id.into()))
        });
        edit(&settled, &mut |b| {
            with(b, |s: &mut Settlement| s.tx_id.payer = AccountId(id.into()))
        });
    }
    for secs in [i64::MIN, -1_000_000_001, -1, 0, 999_999_999, 1_000_000_000, i64::MAX] {
        edit(&settled, &mut |b| {
            with(b, |s: &mut Settlement| s.tx_id.valid_start = ConsensusTime(secs))
        });
    }
    for amount in [i64::MIN, -1, 0, 1, i64::MAX] {
        edit(&intent, &mut |b| {
            with(b, |i: &mut PaymentIntent| i.payments[0].amount = amount)
        });
        edit(&settled, &mut |b| with(b, |s: &mut Settlement| s.amount = amount));
    }
    for count in [0, 1, 10, 11] {
        edit(&intent, &mut |b| {
            with(b, |i: &mut PaymentIntent| {
                i.payments = vec![i.payments[0].clone(); count]
            })
        });
    }
    for n in [0, 1, u32::MAX] {
        edit(&ask, &mut |b| with(b, |a: &mut ApprovalRequest| a.quorum = n));
        edit(&assign, &mut |b| with(b, |a: &mut Assignment| a.attempt = n));
        edit(&status, &mut |b| with(b, |s: &mut StatusUpdate| s.attempt = Some(n)));
        edit(&result, &mut |b| with(b, |r: &mut TaskResult| r.attempt = Some(n)));
    }
    edit(&status, &mut |b| with(b, |s: &mut StatusUpdate| s.attempt = None));
    edit(&result, &mut |b| with(b, |r: &mut TaskResult| r.attempt = None));
    for output in [json!({}), json!(null), json!([1]), json!("done"), json!(3)] {
        edit(&result, &mut |b| {
            with(b, |r: &mut TaskResult| r.output = Some(output.clone().into()))
        });
    }
    all
}

/// Changes `body` where it is of the type `change` takes.
fn with<T: 'static>(body: &mut Body, change: impl FnOnce(&mut T)) {
    let inner: Option<&mut dyn std::any::Any> = match body {
        Body::TaskAssignment(b) => Some(b as &mut dyn std::any::Any),
        Body::QualityGate(b) => Some(b as &mut dyn std::any::Any),
        Body::ApprovalRequest(b) => Some(b as &mut dyn std::any::Any),
        Body::PaymentIntent(b) => Some(b as &mut dyn std::any::Any),
        Body::PaymentSettled(b) => Some(b as &mut dyn std::any::Any),
        Body::TaskEvent(b) => Some(b as &mut dyn std::any::Any),
        Body::StatusUpdate(b) => Some(b as &mut dyn std::any::Any),
        Body::TaskResult(b) => Some(b as &mut dyn std::any::Any),
        Body::Heartbeat(b) => Some(b as &mut dyn std::any::Any),
        Body::Approval(b) => Some(b as &mut dyn std::any::Any),
        Body::Tick => None,
    };
    let typed = inner.and_then(|b| b.downcast_mut::<T>());
    change(typed.expect("the body is of the type the change takes"));
}

fn all_bodies() -> Vec<Body> {
    samples()
        .into_iter()
        .chain(unlike_their_bytes())
        .chain(variants())
        .collect()
}

#[test]
fn a_body_is_written_as_the_canonical_text_of_its_document() {
    for body in all_bodies() {
        let written = PayloadJson::written(&body);
        assert!(matches!(written, PayloadJson::Written(_)), "{body:?}");
        let (mut text, mut from_document) = (Vec::new(), Vec::new());
        written.write_canonical(&mut text);
        write_sorted(&body.to_payload(), &mut from_document);
        assert_eq!(String::from_utf8_lossy(&text), String::from_utf8_lossy(&from_document));
        assert_eq!(written.document().into_owned(), body.to_payload(), "{body:?}");
        assert_eq!(written, PayloadJson::from(body.to_payload()));
    }
}

#[test]
fn a_body_fits_where_the_schema_says_its_payload_does() {
    let (mut fit, mut unfit, mut unknown) = (0, 0, 0);
    for body in all_bodies() {
        let payload = body.to_payload();
        let schema = schema::payload_fits(body.kind(), &payload).expect("the schema compiles");
        match body.fits() {
            Some(fits) => assert_eq!(fits, schema, "{payload}"),
            None => unknown += 1,
        }
        if schema { fit += 1 } else { unfit += 1 }
    }
    assert!(fit > 100 && unfit > 50, "{fit} fit and {unfit} do not");
    // Only the ids with a digit beyond ASCII are left to the schema.
    assert_eq!(unknown, 3);
}

/// What a sender keeps for its readers is what they read from the bytes, at every bound: the
/// fast decode's body where it takes the bytes (the same as the full decode's), nothing where not.
#[test]
fn a_sent_body_at_its_bounds_is_kept_as_its_bytes_read() {
    let key = SigningKey::from_bytes(&[5; 32]);
    let mut kept = 0;
    for body in variants() {
        let mut envelope = Envelope::new(body.kind(), "fest-1", "agent-a", 1, &body);
        sign(&mut envelope, &key);
        let bytes = encode(&envelope);
        let fast_read = fast::decode(&bytes).map(|(_, body)| body);
        let full_read = decode_full(&bytes).ok().map(|(_, body)| body);
        assert!(fast_read.is_none() || fast_read == full_read, "{body:?}");
        assert_eq!(fast::as_read(&envelope, body.clone()), fast_read, "{body:?}");
        kept += usize::from(fast_read.is_some());
    }
    assert!(kept > 100, "{kept} kept");
}

#[test]
fn a_written_payload_changed_as_a_document_is_written_from_the_change() {
    let body = samples().swap_remove(10);
    let mut payload = PayloadJson::written(&body);
    payload.document_mut()["extra"] = json!([2, 1]);
    assert!(matches!(payload, PayloadJson::Document(_)));
    let mut text = Vec::new();
    payload.write_canonical(&mut text);
    let expected = r#"{"decision":"reject","extra":[2,1],"reason":"typos","task_id":"t1"}"#;
    assert_eq!(String::from_utf8_lossy(&text), expected);
    assert!(payload.document().is_object() && PayloadJson::default().document().is_object());
    let value: Value = serde_json::to_value(&payload).expect("serializes");
    assert_eq!(PayloadJson::from(value), payload);
}

/// Strings are written as serde_json writes them, with or without anything to escape.
#[test]
fn a_string_is_written_as_serde_json_writes_it() {
    let mut texts: Vec<String> = (0..=0x7f_u8).map(|b| format!("a{}b", char::from(b))).collect();
    texts.extend(["", "é\u{2028}\u{1F41D}", "\"\\", "0123abcdef"].map(str::to_owned));
    for text in texts {
        let mut out = Vec::new();
        super::payload::write_string(&text, &mut out);
        let expected = serde_json::to_string(&text).expect("a string serializes");
        assert_eq!(String::from_utf8_lossy(&out), expected);
    }
}
