//! Reading topics through the mirror: one subscription per topic, started on first use and kept
//! in memory, in sequence order.
//!
//! A topic's subscription first reads its history from the epoch up to a horizon (now minus the
//! mirror's lag), a stream the mirror ends by itself; until that is done the topic is not
//! *ready* and [`Feeds`] serves none of it, so a reader never sees one topic's recent messages
//! before another's older ones only because one subscription started later. It then follows the
//! topic live. A stream that ends or fails is opened again with back-off, from the last message
//! kept minus [`REWIND`] (so the first chunks of a message cut by the break are read again;
//! messages already kept are skipped by sequence number); a topic the mirror does not see yet
//! (`NOT_FOUND`, just after it was created) is asked for again the same way.
//!
//! The SDK joins a chunked message when its last chunk arrives; its sequence number and
//! consensus time here are those of its latest chunk, the point where it is complete, so
//! messages are kept in the order they become readable and sequence numbers only grow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hiero_sdk::{Client, TopicMessageQuery};
use hiero_sdk_proto::services::Timestamp;
use tokio::sync::Notify;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

use super::client::retry::Backoff;
use super::ids;
use crate::ledger::{ConsensusTime, LedgerError, TopicId, TopicMessage};

/// How far back a subscription opened again starts before the last message kept.
const REWIND: Duration = Duration::from_secs(180);

/// How long [`Feed::history`] waits without any progress before giving up.
const PATIENCE: Duration = Duration::from_secs(30);

/// The wall clock in ns since the Unix epoch.
pub(crate) fn wall_clock() -> ConsensusTime {
    ConsensusTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
    )
}

fn nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

/// The subscriptions of one client, by topic.
pub(crate) struct Feeds {
    client: Client,
    lag: Duration,
    stop: CancellationToken,
    by_topic: Mutex<HashMap<TopicId, Arc<Feed>>>,
}

impl Feeds {
    pub(crate) fn new(client: Client, lag: Duration, stop: CancellationToken) -> Feeds {
        Feeds {
            client,
            lag,
            stop,
            by_topic: Mutex::new(HashMap::new()),
        }
    }

    /// The feed of `topic`, its subscription started on first use (needs a tokio runtime).
    pub(crate) fn get(&self, topic: &TopicId) -> Result<Arc<Feed>, LedgerError> {
        let mut feeds = self.by_topic.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(feed) = feeds.get(topic) {
            return Ok(Arc::clone(feed));
        }
        let sdk_topic = ids::topic(topic)?;
        let feed = Arc::new(Feed::default());
        let follower = Follower {
            client: self.client.clone(),
            topic: topic.clone(),
            sdk_topic,
            feed: Arc::clone(&feed),
            stop: self.stop.clone(),
        };
        let horizon = ConsensusTime(wall_clock().0.saturating_sub(nanos(self.lag)));
        tokio::spawn(follower.run(horizon));
        feeds.insert(topic.clone(), Arc::clone(&feed));
        Ok(feed)
    }
}

/// One topic's messages as the mirror delivered them.
#[derive(Default)]
pub(crate) struct Feed {
    state: Mutex<State>,
    /// Woken when a message is kept or the history is complete.
    changed: Notify,
}

#[derive(Default)]
struct State {
    /// Strictly increasing sequence numbers.
    messages: Vec<TopicMessage>,
    /// The history up to the first horizon is in `messages`.
    ready: bool,
    /// Up to when the messages are known complete (the first horizon once ready).
    complete_to: ConsensusTime,
    /// The last error of the subscription, for a reader that waited in vain.
    problem: Option<String>,
}

impl Feed {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Messages with a sequence number above `after`, at most `limit`; `None` until the history
    /// is read.
    pub(crate) fn after(&self, after: u64, limit: usize) -> Option<Vec<TopicMessage>> {
        let state = self.state();
        if !state.ready {
            return None;
        }
        let start = state.messages.partition_point(|m| m.sequence <= after);
        Some(state.messages[start..].iter().take(limit).cloned().collect())
    }

    /// A future woken at the next change; enable it before looking, so no change is missed.
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    /// Waits until the history is read, as long as the subscription makes progress: an error
    /// naming `topic` (and the mirror's last answer) after [`PATIENCE`] without any.
    pub(crate) async fn history(&self, topic: &TopicId) -> Result<(), LedgerError> {
        loop {
            let changed = self.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.state().ready {
                return Ok(());
            }
            if tokio::time::timeout(PATIENCE, changed).await.is_err() {
                let problem = self.state().problem.clone();
                return Err(LedgerError::Network {
                    operation: format!("reading topic `{topic}` through the mirror"),
                    reason: problem.unwrap_or_else(|| format!("no message for {} s", PATIENCE.as_secs())),
                });
            }
        }
    }

    /// Keeps a message unless one with its sequence number or a later one is already kept.
    fn accept(&self, message: TopicMessage) {
        let mut state = self.state();
        if state
            .messages
            .last()
            .is_some_and(|last| message.sequence <= last.sequence)
        {
            return;
        }
        state.messages.push(message);
        drop(state);
        self.changed.notify_waiters();
    }

    fn set_ready(&self, horizon: ConsensusTime) {
        let mut state = self.state();
        state.ready = true;
        state.complete_to = horizon;
        drop(state);
        self.changed.notify_waiters();
    }

    fn note_problem(&self, problem: String) {
        self.state().problem = Some(problem);
    }

    /// Where a new stream starts: [`REWIND`] before the last message kept (or the history's
    /// horizon), the epoch at the first.
    fn resume_from(&self) -> ConsensusTime {
        let state = self.state();
        let last = state
            .messages
            .last()
            .map_or(state.complete_to, |m| m.consensus.max(state.complete_to));
        if last == ConsensusTime(0) {
            return last;
        }
        ConsensusTime(last.0.saturating_sub(nanos(REWIND)).max(0))
    }
}

/// How a stream ended.
enum Ended {
    /// The mirror closed it (after the end time, for the history).
    Complete,
    /// The ledger was dropped.
    Stopped,
}

/// The task following one topic.
struct Follower {
    client: Client,
    topic: TopicId,
    sdk_topic: hiero_sdk::TopicId,
    feed: Arc<Feed>,
    stop: CancellationToken,
}

impl Follower {
    /// Reads the history up to `horizon`, marks the feed ready, then follows the topic until the
    /// ledger is dropped.
    async fn run(self, horizon: ConsensusTime) {
        let mut backoff = Backoff::subscription();
        loop {
            match self.stream(Some(horizon), &mut backoff).await {
                Ok(Ended::Complete) => break,
                Ok(Ended::Stopped) => return,
                Err(()) if !backoff.pause(&self.stop).await => return,
                Err(()) => {}
            }
        }
        self.feed.set_ready(horizon);
        loop {
            match self.stream(None, &mut backoff).await {
                Ok(Ended::Stopped) => return,
                Ok(Ended::Complete) | Err(()) => {
                    if !backoff.pause(&self.stop).await {
                        return;
                    }
                }
            }
        }
    }

    /// One subscription from [`Feed::resume_from`] to `end` (open-ended without one), keeping
    /// what it delivers. An error is noted on the feed and logged.
    async fn stream(&self, end: Option<ConsensusTime>, backoff: &mut Backoff) -> Result<Ended, ()> {
        let mut query = TopicMessageQuery::new();
        query
            .topic_id(self.sdk_topic)
            .start_time(ids::timestamp(self.feed.resume_from()).into());
        if let Some(end) = end {
            query.end_time(ids::timestamp(end).into());
        }
        let mut messages = query.subscribe(&self.client);
        loop {
            let item = tokio::select! {
                biased;
                () = self.stop.cancelled() => return Ok(Ended::Stopped),
                item = messages.next() => item,
            };
            match item {
                None => return Ok(Ended::Complete),
                Some(Ok(message)) => {
                    backoff.reset();
                    self.feed.accept(message_of(&self.topic, message));
                }
                Some(Err(error)) => {
                    tracing::warn!(topic = %self.topic, %error, "the mirror subscription failed; it will be opened again");
                    self.feed.note_problem(error.to_string());
                    return Err(());
                }
            }
        }
    }
}

/// The ledger's message for one the SDK delivered: a chunked message takes the sequence number
/// and consensus time of its latest chunk.
fn message_of(topic: &TopicId, message: hiero_sdk::TopicMessage) -> TopicMessage {
    let time = |t| ids::consensus(&Timestamp::from(t));
    let mut sequence = message.sequence_number;
    let mut consensus = time(message.consensus_timestamp);
    for chunk in message.chunks.iter().flatten() {
        sequence = sequence.max(chunk.sequence_number);
        consensus = consensus.max(time(chunk.consensus_timestamp));
    }
    TopicMessage {
        topic: topic.clone(),
        sequence,
        consensus,
        payload: message.contents.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(sequence: u64, consensus: i64) -> TopicMessage {
        TopicMessage {
            topic: TopicId("0.0.9".into()),
            sequence,
            consensus: ConsensusTime(consensus),
            payload: Vec::new().into(),
        }
    }

    #[test]
    fn messages_are_kept_once_in_sequence_order() {
        let feed = Feed::default();
        for (sequence, consensus) in [(1, 10), (3, 30), (2, 20), (3, 30), (5, 50)] {
            feed.accept(message(sequence, consensus));
        }
        assert_eq!(feed.after(0, 10), None, "nothing is served before the history is read");
        feed.set_ready(ConsensusTime(40));
        let kept: Vec<u64> = feed
            .after(0, 10)
            .unwrap_or_default()
            .iter()
            .map(|m| m.sequence)
            .collect();
        assert_eq!(kept, [1, 3, 5]);
        let later: Vec<u64> = feed
            .after(1, 1)
            .unwrap_or_default()
            .iter()
            .map(|m| m.sequence)
            .collect();
        assert_eq!(later, [3]);
    }

    #[test]
    fn a_new_stream_starts_before_the_last_message() {
        let feed = Feed::default();
        assert_eq!(feed.resume_from(), ConsensusTime(0));
        let minutes = |m: i64| m * 60 * 1_000_000_000;
        feed.accept(message(1, minutes(10)));
        assert_eq!(feed.resume_from(), ConsensusTime(minutes(7)));
        feed.set_ready(ConsensusTime(minutes(20)));
        assert_eq!(feed.resume_from(), ConsensusTime(minutes(17)));
        let early = Feed::default();
        early.accept(message(1, 5));
        assert_eq!(early.resume_from(), ConsensusTime(0));
    }

    #[tokio::test]
    async fn waiting_for_the_history_ends_when_it_is_read() {
        let feed = Arc::new(Feed::default());
        let reader = Arc::clone(&feed);
        let waiting = tokio::spawn(async move { reader.history(&TopicId("0.0.9".into())).await });
        tokio::task::yield_now().await;
        feed.set_ready(ConsensusTime(1));
        let answer = waiting.await.expect("the waiting task finishes");
        assert!(answer.is_ok());
    }
}
