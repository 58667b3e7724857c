//! Group commit with a caller that writes for itself: the thread a run blocks on writes what
//! waits on its own thread, while the runtime's tasks queue for the writer on the blocking
//! threads; every message is written once, each caller's in its order.

use std::sync::Arc;

use super::*;

/// The numbers of the messages `writer` wrote, in the log's order (each payload is
/// `[writer, n]`).
fn written_by(all: &[TopicMessage], writer: u8) -> Vec<u8> {
    all.iter()
        .filter(|m| m.payload.first() == Some(&writer))
        .filter_map(|m| m.payload.get(1).copied())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_and_the_thread_a_run_blocks_on_write_together_each_in_order() -> TestResult {
    let scratch = Scratch::new();
    let ledger = Arc::new(scratch.open());
    let topic = ledger.create_topic("busy").await?;
    let mut tasks = Vec::new();
    for writer in 1..=4u8 {
        let (ledger, topic) = (Arc::clone(&ledger), topic.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..40u8 {
                ledger.submit_all(&topic, &[vec![writer, n].into()]).await?;
            }
            Ok::<(), LedgerError>(())
        }));
    }
    // This test's body is not one of the runtime's tasks: it writes for itself, taking whatever
    // the tasks queued meanwhile with its own.
    for n in 0..40u8 {
        let pair: [Payload; 2] = [vec![0, 2 * n].into(), vec![0, 2 * n + 1].into()];
        ledger.submit_all(&topic, &pair).await?;
    }
    for task in tasks {
        task.await.map_err(|e| LedgerError::Other(e.to_string()))??;
    }
    let all = scratch.open().messages(&topic, 0, 1000).await?;
    assert_eq!(sequences(&all), (1..=240).collect::<Vec<_>>());
    assert_strictly_increasing(&all);
    assert_eq!(written_by(&all, 0), (0..80).collect::<Vec<_>>());
    for writer in 1..=4u8 {
        assert_eq!(written_by(&all, writer), (0..40).collect::<Vec<_>>(), "writer {writer}");
    }
    Ok(())
}
