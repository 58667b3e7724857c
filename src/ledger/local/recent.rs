//! Messages this ledger value wrote lately, read back by its readers without the database.
//!
//! In one process the coordinator and the simulated agents share one [`LocalLedger`], and every
//! one of them reads every message moments after it was written: with a replica per agent, a
//! run read each message from SQLite eleven times, the largest share of its time. What this
//! value committed is kept here per topic, as one unbroken run of sequence numbers up to the
//! topic's last message, and a read whose next message is in the run is answered from it, as the
//! database would answer it.
//!
//! The runs hold only while nobody else writes: SQLite's `data_version` of this value's
//! connection changes when another connection (another process, another value on the file)
//! commits, and then every run is dropped. This value's own writes that append messages it does
//! not keep (scheduled messages, the network layer) drop them too ([`Recent::forget`]). A run
//! that would have a gap in its numbers starts again after the gap. Whatever is not kept is read
//! from the database.
//!
//! [`LocalLedger`]: super::LocalLedger

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use crate::ledger::{ConsensusTime, Payload, TopicId, TopicMessage};

/// Messages kept per topic: readers in one process read a message soon after it is written.
const KEEP: usize = 8192;

/// One topic's latest messages written by this value: sequence numbers `first..first + len`,
/// the last of them the topic's last message.
#[derive(Default)]
struct Run {
    first: u64,
    messages: VecDeque<(ConsensusTime, Payload)>,
}

impl Run {
    fn next(&self) -> u64 {
        self.first + self.messages.len() as u64
    }
}

/// The runs of every topic this value wrote to, and the connection's `data_version` they hold
/// at.
#[derive(Default)]
struct Runs {
    runs: HashMap<TopicId, Run>,
    version: Option<i64>,
}

impl Runs {
    /// Drops every run if another connection wrote since they were last known whole.
    fn at(&mut self, version: i64) {
        if self.version != Some(version) {
            self.runs.clear();
            self.version = Some(version);
        }
    }
}

/// What this value wrote lately.
#[derive(Default)]
pub(super) struct Recent(Mutex<Runs>);

impl Recent {
    /// Keeps messages just committed, in the order written (topic, sequence number, consensus
    /// time and bytes), with the connection's `data_version` read inside their transaction.
    pub(super) fn wrote<'a>(
        &self,
        version: i64,
        written: impl IntoIterator<Item = (&'a TopicId, u64, ConsensusTime, &'a Payload)>,
    ) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.at(version);
        let runs = &mut state.runs;
        for (topic, sequence, consensus, payload) in written {
            let run = match runs.get_mut(topic) {
                Some(run) => run,
                None => runs.entry(topic.clone()).or_default(),
            };
            if run.messages.is_empty() || run.next() != sequence {
                // Nothing is kept yet, or a message this value did not keep came between (every
                // write that may append one forgets the runs, so this only guards): start here.
                run.first = sequence;
                run.messages.clear();
            }
            run.messages.push_back((consensus, payload.clone()));
            if run.messages.len() > KEEP {
                run.messages.pop_front();
                run.first += 1;
            }
        }
    }

    /// Messages of `topic` after sequence `after`, at most `limit`, when the next one is kept
    /// here and nobody else wrote since (`version` is the connection's `data_version` now);
    /// `None` sends the read to the database.
    pub(super) fn after(&self, version: i64, topic: &TopicId, after: u64, limit: usize) -> Option<Vec<TopicMessage>> {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.at(version);
        let run = state.runs.get(topic)?;
        let wanted = after.checked_add(1)?;
        if wanted == run.next() {
            // The run reaches the topic's last message: nothing is newer.
            return Some(Vec::new());
        }
        if wanted < run.first || wanted > run.next() || limit == 0 {
            return None;
        }
        let skip = usize::try_from(wanted - run.first).ok()?;
        let found = run
            .messages
            .iter()
            .skip(skip)
            .take(limit)
            .zip(wanted..)
            .map(|((consensus, payload), sequence)| TopicMessage {
                topic: topic.clone(),
                sequence,
                consensus: *consensus,
                payload: payload.clone(),
            })
            .collect();
        Some(found)
    }

    /// Whether this value wrote a message of `topic` after sequence `after`, as far as what it
    /// keeps tells; `None` when it keeps nothing of the topic. Another writer is not seen here.
    pub(super) fn wrote_after(&self, topic: &TopicId, after: u64) -> Option<bool> {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let run = state.runs.get(topic)?;
        Some(run.next() > after.saturating_add(1))
    }

    /// Forgets every topic's run: this value appended messages it does not keep.
    pub(super) fn forget(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).runs.clear();
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn topic() -> TopicId {
        TopicId("0.0.4001".into())
    }

    fn sequences(found: Option<Vec<TopicMessage>>) -> Option<Vec<u64>> {
        found.map(|m| m.iter().map(|m| m.sequence).collect())
    }

    fn write(recent: &Recent, sequences: std::ops::RangeInclusive<u64>) {
        let t = topic();
        let payloads: Vec<(u64, Payload)> = sequences.map(|s| (s, s.to_be_bytes().to_vec().into())).collect();
        let at = |s: u64| ConsensusTime(i64::try_from(s).unwrap_or(0) * 10);
        recent.wrote(1, payloads.iter().map(|(s, p)| (&t, *s, at(*s), p)));
    }

    #[test]
    fn a_read_inside_the_run_is_answered_and_one_outside_it_is_not() {
        let recent = Recent::default();
        assert_eq!(sequences(recent.after(1, &topic(), 0, 10)), None);
        write(&recent, 5..=9);
        assert_eq!(sequences(recent.after(1, &topic(), 4, 10)), Some(vec![5, 6, 7, 8, 9]));
        assert_eq!(sequences(recent.after(1, &topic(), 6, 2)), Some(vec![7, 8]));
        // At its end nothing is newer; before the run, past it, another topic: the database
        // answers.
        assert_eq!(sequences(recent.after(1, &topic(), 9, 10)), Some(vec![]));
        assert_eq!(sequences(recent.after(1, &topic(), 3, 10)), None);
        assert_eq!(sequences(recent.after(1, &topic(), 10, 10)), None);
        assert_eq!(sequences(recent.after(1, &TopicId("0.0.4002".into()), 4, 10)), None);
        let found = recent.after(1, &topic(), 8, 1).unwrap_or_default();
        assert_eq!(
            found,
            vec![TopicMessage {
                topic: topic(),
                sequence: 9,
                consensus: ConsensusTime(90),
                payload: 9u64.to_be_bytes().to_vec().into(),
            }]
        );
    }

    #[test]
    fn a_gap_in_the_numbers_starts_the_run_again() {
        let recent = Recent::default();
        write(&recent, 1..=3);
        // 4 was written by someone else.
        write(&recent, 5..=6);
        assert_eq!(sequences(recent.after(1, &topic(), 2, 10)), None);
        assert_eq!(sequences(recent.after(1, &topic(), 3, 10)), None);
        assert_eq!(sequences(recent.after(1, &topic(), 4, 10)), Some(vec![5, 6]));
    }

    #[test]
    fn only_the_latest_messages_are_kept() {
        let recent = Recent::default();
        let last = KEEP as u64 + 10;
        write(&recent, 1..=last);
        assert_eq!(sequences(recent.after(1, &topic(), 5, 1)), None);
        assert_eq!(sequences(recent.after(1, &topic(), 10, 1)), Some(vec![11]));
        assert_eq!(sequences(recent.after(1, &topic(), last - 1, 5)), Some(vec![last]));
        assert_eq!(sequences(recent.after(1, &topic(), last, 5)), Some(vec![]));
        recent.forget();
        assert_eq!(sequences(recent.after(1, &topic(), 10, 1)), None);
    }

    #[test]
    fn another_writer_drops_every_run() {
        let recent = Recent::default();
        write(&recent, 1..=3);
        assert_eq!(sequences(recent.after(2, &topic(), 0, 10)), None);
        assert_eq!(sequences(recent.after(1, &topic(), 0, 10)), None);
        write(&recent, 4..=5);
        // Written at version 1 again: the earlier run was dropped, the new one holds.
        assert_eq!(sequences(recent.after(1, &topic(), 3, 10)), Some(vec![4, 5]));
        assert_eq!(sequences(recent.after(1, &topic(), 0, 10)), None);
    }
}
