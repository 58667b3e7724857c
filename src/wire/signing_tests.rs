//! Messages signed together: each checked on its own, none passing for another.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// `n` heartbeats of `agent-a`, signed together by key 1 and read back from their bytes.
fn batch(n: usize) -> Vec<(Vec<u8>, Envelope)> {
    let body = Body::Heartbeat(Heartbeat {
        agent_id: "agent-a".into(),
    });
    let mut envelopes: Vec<Envelope> = (0..n)
        .map(|i| Envelope::new(body.kind(), "fest-1", "agent-a", i as u64 + 1, &body))
        .collect();
    seal_all(&mut envelopes, &key(1))
        .into_iter()
        .map(|bytes| {
            let (envelope, _) = decode(&bytes).expect("a message signed together decodes");
            (bytes, envelope)
        })
        .collect()
}

fn checks(envelope: &Envelope, seed: u8) -> bool {
    verify(envelope, &key(seed).verifying_key()).is_ok()
}

#[test]
fn each_message_of_a_batch_checks_alone_under_one_signature() {
    for n in [2, 3, 7, 16, SIGNED_TOGETHER] {
        let messages = batch(n);
        let signature = messages[0].1.signature.clone();
        for (i, (bytes, envelope)) in messages.iter().enumerate() {
            assert_eq!(envelope.signature, signature, "one signature for the batch");
            let place = envelope.batch.as_ref().expect("its place in the batch");
            assert_eq!((place.index as usize, place.size as usize), (i, n));
            assert!(checks(envelope, 1), "message {i} of {n}");
            assert!(!checks(envelope, 2), "another key's");
            verify_payload(bytes, envelope, &key(1).verifying_key()).expect("sealed bytes");
        }
    }
    // More than are signed together: batches of that many, and what is left over alone.
    let messages = batch(2 * SIGNED_TOGETHER + 1);
    let sizes: Vec<Option<u32>> = messages.iter().map(|(_, e)| e.batch.as_ref().map(|b| b.size)).collect();
    let full = Some(SIGNED_TOGETHER as u32);
    assert_eq!(sizes, [vec![full; 2 * SIGNED_TOGETHER], vec![None]].concat());
    assert_ne!(messages[0].1.signature, messages[SIGNED_TOGETHER].1.signature);
    assert!(messages.iter().all(|(_, e)| checks(e, 1)));
    // Checked again as a fresh process would, from nothing remembered.
    forget_checked();
    let messages = batch(5);
    forget_checked();
    assert!(messages.iter().all(|(_, e)| checks(e, 1)));
}

#[test]
fn a_lone_message_is_signed_as_sign_signs_it() {
    let (bytes, envelope) = batch(1).remove(0);
    assert_eq!(envelope.batch, None);
    assert!(!String::from_utf8_lossy(&bytes).contains("batch"));
    assert!(checks(&envelope, 1));
}

#[test]
fn no_message_of_a_batch_passes_changed_or_moved() {
    let messages = batch(6);
    let (first, second) = (&messages[1].1, &messages[2].1);
    let edits: Vec<(&str, Envelope)> = vec![
        ("a changed field", {
            let mut e = first.clone();
            e.sequence_num += 10;
            e
        }),
        ("another message's path", {
            let mut e = first.clone();
            e.batch = second.batch.clone();
            e
        }),
        ("another place", {
            let mut e = first.clone();
            e.batch.as_mut().expect("batch").index = 3;
            e
        }),
        ("another size", {
            let mut e = first.clone();
            e.batch.as_mut().expect("batch").size = 7;
            e
        }),
        ("a path cut short", {
            let mut e = first.clone();
            e.batch.as_mut().expect("batch").path.truncate(64);
            e
        }),
        ("no batch", {
            let mut e = first.clone();
            e.batch = None;
            e
        }),
        ("a garbled path", {
            let mut e = first.clone();
            e.batch.as_mut().expect("batch").path.replace_range(0..2, "zz");
            e
        }),
    ];
    for (what, envelope) in edits {
        assert_eq!(
            verify(&envelope, &key(1).verifying_key()),
            Err(WireError::BadSignature {
                sender: "agent-a".into()
            }),
            "{what}"
        );
    }
}

#[test]
fn the_schema_refuses_a_malformed_batch() {
    let (bytes, _) = batch(3).remove(0);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "a batch of one",
            json!({"index": 0, "size": 1, "path": "ab".repeat(32)}),
            "/batch/size",
        ),
        (
            "an uppercase path",
            json!({"index": 0, "size": 3, "path": "AB".repeat(32)}),
            "/batch/path",
        ),
        ("no path", json!({"index": 0, "size": 3}), "/batch"),
        (
            "an unknown field",
            json!({"index": 0, "size": 3, "path": "ab".repeat(32), "root": "x"}),
            "/batch",
        ),
    ];
    for (what, batch, at) in cases {
        let mut value: Value = serde_json::from_slice(&bytes).expect("JSON");
        value["batch"] = batch;
        let reason = decode(&serde_json::to_vec(&value).expect("JSON"))
            .map(|_| ())
            .expect_err(what)
            .reason();
        assert!(reason.starts_with(&format!("schema: {at}")), "{what}: {reason}");
    }
}

/// The envelope's fields as a JSON object, as serde writes them, `signature` and `batch` kept
/// or left out.
fn as_object(envelope: &Envelope, with_signature: bool) -> Value {
    let mut value = serde_json::to_value(envelope).expect("an envelope serializes");
    let object = value.as_object_mut().expect("an object");
    if !with_signature {
        object.remove("signature");
        object.remove("batch");
    }
    value
}

/// The same object re-read and written with keys sorted, as the written bytes must be.
fn sorted(value: &Value) -> Vec<u8> {
    // serde_json's map keeps keys sorted (no `preserve_order`): writing it sorts them.
    serde_json::to_vec(value).expect("JSON")
}

#[test]
fn canonical_and_encoded_bytes_are_the_sorted_json_of_the_fields() {
    let lone = batch(1).remove(0).1;
    let together = batch(3).remove(1).1;
    let mut addressed = together.clone();
    addressed.recipient = Some("agent-b \"quoted\"\n".into());
    addressed.task_id = Some("t-é".into());
    for envelope in [lone, together, addressed] {
        assert_eq!(canonical(&envelope), sorted(&as_object(&envelope, false)));
        assert_eq!(encode(&envelope), sorted(&as_object(&envelope, true)));
    }
}

#[test]
fn sealed_bytes_are_the_encoding_of_the_signed_envelopes() {
    // Every kind of body, with a recipient, a task and without; alone, in a batch, and with one
    // left over after a full batch.
    let bodies = super::tests::samples();
    for n in [1, 2, bodies.len(), SIGNED_TOGETHER + 1] {
        let mut envelopes: Vec<Envelope> = bodies
            .iter()
            .cycle()
            .take(n)
            .enumerate()
            .map(|(i, body)| Envelope::new(body.kind(), "fest-\"1\"", "agent-a", i as u64, body))
            .collect();
        let sealed = seal_all(&mut envelopes, &key(1));
        let encoded: Vec<Vec<u8>> = envelopes.iter().map(encode).collect();
        assert_eq!(sealed, encoded, "{n} messages");
    }
}

#[test]
fn a_step_sent_is_sealed_as_a_step_and_named_by_its_digest() {
    let body = Body::Heartbeat(Heartbeat {
        agent_id: "agent-a".into(),
    });
    let envelopes: Vec<Envelope> = (1..=3)
        .map(|i| Envelope::new(body.kind(), "fest-1", "agent-a", i, &body))
        .collect();
    for together in [true, false] {
        let made: Vec<(Envelope, Body)> = envelopes.iter().map(|e| (e.clone(), body.clone())).collect();
        let sent = seal_sent(made, &key(1), together);
        let stepped = seal_step(&mut envelopes.clone(), &key(1), together);
        assert_eq!(sent.iter().map(|p| p.to_vec()).collect::<Vec<_>>(), stepped);
        for payload in &sent {
            assert_eq!(payload.digest(), &digest(payload));
        }
    }
}

#[test]
fn a_step_sent_where_decoded_messages_are_shared_is_known_good_to_its_readers() {
    super::share_decoded();
    let body = Body::Heartbeat(Heartbeat {
        agent_id: "agent-a".into(),
    });
    // A sender with a quote is written with an escape, which the readers' memo does not take.
    let made: Vec<(Envelope, Body)> = ["agent-a", "agent-\"b\""]
        .into_iter()
        .zip(1..)
        .map(|(sender, i)| (Envelope::new(body.kind(), "fest-1", sender, i, &body), body.clone()))
        .collect();
    let public = key(2).verifying_key();
    let sent = seal_sent(made, &key(2), true);
    // The first is kept with its payload: read from there and good without a lookup.
    let (envelope, _) = &*decode_payload(&sent[0]).expect("decodes");
    assert!(super::decoded::kept(&sent[0]));
    assert!(verify_read(&sent[0], envelope, &public).is_ok());
    // The second is not: its digest is what says it is good.
    assert!(!super::decoded::kept(&sent[1]));
    assert!(seen::known(&seen::mark_digest(&public, sent[1].digest())));
    let (envelope, _) = decode(&sent[1]).expect("decodes");
    assert!(verify_read(&sent[1], &envelope, &public).is_ok());
    assert!(verify_read(&sent[1], &envelope, &key(3).verifying_key()).is_err());
}
