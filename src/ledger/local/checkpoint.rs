//! Checkpoints off the writers' path. In WAL mode SQLite copies the log back into the database
//! from inside whichever commit crosses its threshold: a transfer on the coordinator's thread,
//! or the group writer with every submission waiting on it (7% of a run's CPU time went to
//! them, all of it on those paths). A thread of each [`super::LocalLedger`] checkpoints instead,
//! on a connection of its own, a tenth of a second after the database changed: a `PASSIVE`
//! checkpoint, which waits for no reader or writer and copies what they are done with. The
//! writers' own threshold stays, raised, for a log this thread cannot keep up with. Before each
//! checkpoint it syncs the message log ([`super::log`]) to disk, so that the database, once its
//! commits are copied into it and synced, never counts bytes of the message log that a power
//! loss could take back.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::log::MessageLog;

/// How long after a change the thread checkpoints.
const EVERY: Duration = Duration::from_millis(100);
/// How long the thread's connection waits for a lock another one holds.
const BUSY: Duration = Duration::from_secs(1);

/// The checkpointing thread; stopped and joined when dropped.
pub(super) struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`. `None` when its connection or thread cannot
    /// be made: the writers' commits then checkpoint, as SQLite does by itself.
    pub(super) fn start(path: &Path, log: Arc<MessageLog>) -> Option<Checkpointer> {
        let opened = Connection::open(path).and_then(|conn| conn.busy_timeout(BUSY).map(|()| conn));
        let conn = match opened {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "no checkpointing thread: commits checkpoint");
                return None;
            }
        };
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("baton-checkpoint".into())
            .spawn(move || run(&conn, &log, &stopped));
        match thread {
            Ok(thread) => Some(Checkpointer {
                stop,
                thread: Some(thread),
            }),
            Err(error) => {
                tracing::warn!(%error, "no checkpointing thread: commits checkpoint");
                None
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (stopping, wake) = &*self.stop;
        *stopping.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Checkpoints every [`EVERY`] while the database changes (its `data_version` moves when
/// another connection commits), until told to stop.
fn run(conn: &Connection, log: &MessageLog, stop: &(Mutex<bool>, Condvar)) {
    let (stopping, wake) = stop;
    let mut seen: Option<i64> = None;
    let mut stopped = stopping.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let (guard, _) = wake
            .wait_timeout(stopped, EVERY)
            .unwrap_or_else(PoisonError::into_inner);
        stopped = guard;
        if *stopped {
            return;
        }
        let version = conn.query_row("PRAGMA data_version", [], |row| row.get::<_, i64>(0));
        match version {
            Ok(version) if seen == Some(version) => continue,
            Ok(version) => seen = Some(version),
            // Busy past the timeout: the next round looks again.
            Err(error) => {
                tracing::debug!(%error, "the database could not be looked at for a checkpoint");
                continue;
            }
        }
        if let Err(error) = log.sync() {
            tracing::warn!(%error, "the message log could not be synced to disk");
        }
        // Busy (another checkpoint runs) or behind a reader: the next round does the rest.
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(%error, "a checkpoint was put off");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::local::tests::Scratch;
    use crate::ledger::{ConsensusTime, Ledger, ScheduledOp};

    #[tokio::test]
    async fn the_thread_copies_the_log_into_the_database_soon_after_a_write() {
        let scratch = Scratch::new();
        let ledger = scratch.open();
        let topic = ledger.create_topic("t").await.expect("a topic");
        let size = || std::fs::metadata(ledger.path()).map_or(0, |m| m.len());
        let before = size();
        // Some 600 pages of scheduled messages (the messages themselves go to the message log):
        // far below the writers' own threshold, so only a checkpoint by the thread moves them
        // from the write-ahead log into the database file.
        for n in 0..200 {
            let op = ScheduledOp::Submit {
                topic: topic.clone(),
                payload: vec![b'x'; 3000],
            };
            let later = ConsensusTime(i64::MAX / 2);
            ledger
                .schedule(&op, later, &format!("later {n}"))
                .await
                .expect("scheduled");
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() < before + 500_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "not checkpointed: {before} -> {} bytes",
                size()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
