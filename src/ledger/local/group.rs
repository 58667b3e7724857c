//! Group commit: messages submitted at the same time by several callers of one
//! [`LocalLedger`] (the coordinator and the simulated agents of a process share one) are written
//! in one transaction by whichever of them takes the connection first, instead of one
//! transaction each. Each caller's messages stay together and in its order; a group that fails
//! is written again submission by submission, so that a bad one fails alone.

use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;

use super::recent::Recent;
use super::{LedgerError, LocalLedger};
use crate::ledger::{Payload, TopicId};

/// The answer to one submission, filled by the caller that wrote it.
type Slot = Arc<Mutex<Option<Result<(), LedgerError>>>>;

/// A submission waiting for the connection.
pub(super) struct Waiting {
    topic: TopicId,
    payloads: Vec<Payload>,
    answer: Slot,
}

/// Submissions waiting for the connection, oldest first.
#[derive(Default)]
pub(super) struct Queue(Mutex<Vec<Waiting>>);

impl LocalLedger {
    /// Appends `payloads` to `topic` in one transaction with whatever other submissions wait
    /// for the connection at the same time.
    pub(super) fn submit_grouped(&self, topic: &TopicId, payloads: &[Payload]) -> Result<(), LedgerError> {
        let answer: Slot = Arc::default();
        self.waiting
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Waiting {
                topic: topic.clone(),
                payloads: payloads.to_vec(),
                answer: answer.clone(),
            });
        let conn = self.lock()?;
        if let Some(done) = take(&answer) {
            return done;
        }
        let group = std::mem::take(&mut *self.waiting.0.lock().unwrap_or_else(PoisonError::into_inner));
        write_group(&conn, &group, &self.recent);
        drop(conn);
        take(&answer).unwrap_or_else(|| Err(LedgerError::Other("a submission was lost from its group".into())))
    }
}

fn take(answer: &Slot) -> Option<Result<(), LedgerError>> {
    answer.lock().unwrap_or_else(PoisonError::into_inner).take()
}

fn answer(waiting: &Waiting, result: Result<(), LedgerError>) {
    *waiting.answer.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
}

/// Writes every submission of `group` and answers each: all in one transaction, or, when that
/// fails, each in its own. What is written is kept in `recent` for this value's readers.
fn write_group(conn: &Connection, group: &[Waiting], recent: &Recent) {
    let all: Vec<(&TopicId, &Payload)> = group
        .iter()
        .flat_map(|w| w.payloads.iter().map(move |p| (&w.topic, p)))
        .collect();
    match super::append_kept_on(conn, recent, &all) {
        Ok(_) => group.iter().for_each(|waiting| answer(waiting, Ok(()))),
        // A group of one failed as it is: its error goes to its caller.
        Err(e) if group.len() == 1 => answer(&group[0], Err(e)),
        Err(_) => each_alone(conn, group, recent),
    }
}

/// Writes each submission of `group` in its own transaction and answers it.
fn each_alone(conn: &Connection, group: &[Waiting], recent: &Recent) {
    for waiting in group {
        let one: Vec<(&TopicId, &Payload)> = waiting.payloads.iter().map(|p| (&waiting.topic, p)).collect();
        let result = super::append_kept_on(conn, recent, &one);
        answer(waiting, result.map(|_| ()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use pretty_assertions::assert_eq;

    use super::*;
    use crate::ledger::Ledger;
    use crate::ledger::local::tests::Scratch;

    fn waiting(topic: &TopicId, payloads: &[&str]) -> Waiting {
        Waiting {
            topic: topic.clone(),
            payloads: payloads.iter().map(|p| Payload::from(p.as_bytes())).collect(),
            answer: Arc::default(),
        }
    }

    async fn texts(ledger: &LocalLedger, topic: &TopicId) -> Vec<String> {
        let read = ledger.messages(topic, 0, 1000).await.expect("the topic reads");
        read.iter()
            .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
            .collect()
    }

    #[tokio::test]
    async fn a_group_is_written_in_its_order_and_a_bad_submission_fails_alone() {
        let scratch = Scratch::new();
        let ledger = scratch.open();
        let topic = ledger.create_topic("t").await.expect("a topic");
        let missing = TopicId("0.0.999".into());
        let group = [
            waiting(&topic, &["a1", "a2"]),
            waiting(&missing, &["lost"]),
            waiting(&topic, &["b1"]),
        ];
        write_group(&ledger.lock().expect("the connection"), &group, &ledger.recent);
        let answers: Vec<_> = group.iter().map(|w| take(&w.answer).expect("answered")).collect();
        assert!(answers[0].is_ok() && answers[2].is_ok(), "{answers:?}");
        assert!(
            matches!(&answers[1], Err(LedgerError::UnknownTopic(t)) if *t == missing),
            "{answers:?}"
        );
        assert_eq!(texts(&ledger, &topic).await, ["a1", "a2", "b1"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_submissions_each_stay_whole_and_in_order() {
        let scratch = Scratch::new();
        let ledger = Arc::new(scratch.open());
        let topic = ledger.create_topic("t").await.expect("a topic");
        let mut writers = Vec::new();
        for w in 0..8 {
            let (ledger, topic) = (ledger.clone(), topic.clone());
            writers.push(tokio::spawn(async move {
                for n in 0..20 {
                    let step: Vec<Payload> = (0..3).map(|k| format!("{w}:{n}:{k}").into_bytes().into()).collect();
                    ledger.submit_all(&topic, &step).await.expect("submitted");
                }
            }));
        }
        for writer in writers {
            writer.await.expect("the writer ends");
        }
        let all = texts(&ledger, &topic).await;
        assert_eq!(all.len(), 8 * 20 * 3);
        for step in all.chunks(3) {
            let [a, b, c] = step else { unreachable!() };
            let head = a.strip_suffix(":0").expect("a step starts with its first message");
            assert_eq!([b.as_str(), c.as_str()], [format!("{head}:1"), format!("{head}:2")]);
        }
        for w in 0..8 {
            let mine: Vec<&String> = all.iter().filter(|m| m.starts_with(&format!("{w}:"))).collect();
            let expected: Vec<String> = (0..20)
                .flat_map(|n| (0..3).map(move |k| format!("{w}:{n}:{k}")))
                .collect();
            assert_eq!(mine, expected.iter().collect::<Vec<_>>());
        }
    }
}
