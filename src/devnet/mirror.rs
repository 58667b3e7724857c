//! The mirror node's `com.hedera.mirror.api.proto.ConsensusService/subscribeTopic`: a topic's
//! messages from a start time, in consensus order, then new ones as they reach consensus.
//!
//! The stream waits for the ledger's change signal, created before each read, so a message that
//! arrives while the backlog is read is seen by the next read; reads resume after the last
//! sequence number sent, so nothing is sent twice or skipped. `consensusStartTime` is inclusive
//! (default: now), `consensusEndTime` exclusive (the stream ends once the clock has passed it),
//! `limit` counts responses (chunks), 0 meaning none. An unknown topic is `NOT_FOUND`.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use hiero_sdk_proto::mirror::{ConsensusTopicQuery, ConsensusTopicResponse};
use hiero_sdk_proto::services as pb;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::ids;
use super::model::{NetMessage, RUNNING_HASH_VERSION};
use super::node::{Node, dropped_call};
use crate::ledger::{ConsensusTime, TopicId};

/// The generated server of the mirror's consensus service (see `build.rs`).
#[allow(
    unreachable_pub,
    missing_docs,
    non_camel_case_types,
    clippy::all,
    clippy::pedantic,
    clippy::nursery
)]
mod generated {
    include!(concat!(
        env!("OUT_DIR"),
        "/com.hedera.mirror.api.proto.ConsensusService.rs"
    ));
}

use generated::consensus_service_server::ConsensusService;
pub(crate) use generated::consensus_service_server::ConsensusServiceServer;

/// Messages read from the ledger at a time.
const BATCH: usize = 256;

/// Responses buffered for a slow subscriber.
const BUFFER: usize = 64;

/// How often a waiting stream looks at the ledger, for writes its signal does not cover.
const POLL: Duration = Duration::from_millis(50);

type Sender = mpsc::Sender<Result<ConsensusTopicResponse, Status>>;

/// The mirror service over the node's ledger.
pub(crate) struct Mirror(pub(crate) Arc<Node>);

/// One subscription, once its query is checked.
struct Subscription {
    topic: TopicId,
    start: ConsensusTime,
    end: Option<ConsensusTime>,
    /// Responses still to send; `None` for no limit.
    remaining: Option<u64>,
}

/// The generated trait names the stream type after the route, `subscribeTopic`.
#[allow(non_camel_case_types)]
type subscribeTopicStream = ReceiverStream<Result<ConsensusTopicResponse, Status>>;

impl Subscription {
    /// A subscription from its query; the message says what is wrong with it.
    fn of(query: &ConsensusTopicQuery, now: ConsensusTime) -> Result<Subscription, &'static str> {
        let topic = query
            .topic_id
            .as_ref()
            .and_then(ids::topic)
            .ok_or("a topic id is required")?;
        let time = |ts: Option<&pb::Timestamp>| ts.map(|t| ids::time(t).ok_or("a time is out of range")).transpose();
        Ok(Subscription {
            start: time(query.consensus_start_time.as_ref())?.unwrap_or(now),
            end: time(query.consensus_end_time.as_ref())?,
            remaining: (query.limit > 0).then_some(query.limit),
            topic,
        })
    }
}

#[tonic::async_trait]
impl ConsensusService for Mirror {
    type subscribeTopicStream = subscribeTopicStream;

    async fn subscribe_topic(
        &self,
        request: Request<ConsensusTopicQuery>,
    ) -> Result<Response<subscribeTopicStream>, Status> {
        let node = &self.0;
        if node.dice.dropped() {
            return Err(dropped_call());
        }
        let now = node.ledger.network_now().map_err(|e| Status::internal(e.to_string()))?;
        let subscription = Subscription::of(&request.into_inner(), now).map_err(Status::invalid_argument)?;
        if node
            .ledger
            .network_topic(&subscription.topic)
            .map_err(|e| Status::internal(e.to_string()))?
            .is_none()
        {
            return Err(Status::not_found(format!(
                "topic `{}` does not exist",
                subscription.topic
            )));
        }
        let (sender, receiver) = mpsc::channel(BUFFER);
        tokio::spawn(stream(Arc::clone(node), subscription, sender));
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

/// Feeds one subscription until its end, its limit, a drop fault, the subscriber leaving or the
/// devnet stopping.
async fn stream(node: Arc<Node>, mut sub: Subscription, sender: Sender) {
    let mut after = 0;
    loop {
        let changed = node.ledger.network_changed();
        let mut changed = pin!(changed);
        changed.as_mut().enable();
        let batch = match node.ledger.network_messages(&sub.topic, after, sub.start, BATCH) {
            Ok(batch) => batch,
            Err(e) => {
                let _ = sender.send(Err(Status::internal(e.to_string()))).await;
                return;
            }
        };
        let full = batch.len() == BATCH;
        for message in batch {
            if sub.end.is_some_and(|end| message.consensus >= end) {
                return;
            }
            after = message.sequence;
            if !send(&node, &sender, &message, &mut sub).await {
                return;
            }
        }
        if full {
            continue;
        }
        if ended(&node, &sub) {
            return;
        }
        let until_end = sub.end.map_or(POLL, |end| nanos_until(&node, end).min(POLL));
        tokio::select! {
            () = node.cancel.cancelled() => return,
            () = sender.closed() => return,
            () = changed => {}
            () = tokio::time::sleep(until_end) => {}
        }
    }
}

/// Sends one message; `false` when the stream is over (limit reached, subscriber gone, or a
/// drop fault, which ends it with `UNAVAILABLE` as a broken connection would).
async fn send(node: &Node, sender: &Sender, message: &NetMessage, sub: &mut Subscription) -> bool {
    if sender.send(Ok(response(message))).await.is_err() {
        return false;
    }
    if let Some(remaining) = &mut sub.remaining {
        *remaining = remaining.saturating_sub(1);
        if *remaining == 0 {
            return false;
        }
    }
    if node.dice.dropped() {
        let _ = sender.send(Err(dropped_call())).await;
        return false;
    }
    true
}

/// Whether the end time has passed: no message can reach consensus before it any more.
fn ended(node: &Node, sub: &Subscription) -> bool {
    match (sub.end, node.ledger.network_now()) {
        (Some(end), Ok(now)) => now >= end,
        _ => false,
    }
}

fn nanos_until(node: &Node, at: ConsensusTime) -> Duration {
    let now = node.ledger.network_now().map_or(at.0, |now| now.0);
    Duration::from_nanos(u64::try_from(at.0.saturating_sub(now)).unwrap_or(0))
}

fn response(message: &NetMessage) -> ConsensusTopicResponse {
    ConsensusTopicResponse {
        consensus_timestamp: Some(ids::timestamp(message.consensus)),
        message: message.payload.clone(),
        running_hash: message.running_hash.clone(),
        sequence_number: message.sequence,
        running_hash_version: RUNNING_HASH_VERSION,
        chunk_info: message
            .chunk
            .as_deref()
            .and_then(|bytes| pb::ConsensusMessageChunkInfo::decode(bytes).ok()),
    }
}
