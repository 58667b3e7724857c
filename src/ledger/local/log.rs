//! The messages of every topic, in one append-only file beside the database (`ledger.messages`),
//! whose committed length the database keeps (`meta.log_length`).
//!
//! A writer appends inside its `BEGIN IMMEDIATE` transaction: it reads the committed length,
//! writes its records there and sets the length past them, all before the commit. So the
//! database's write lock orders the appends of every process, a commit makes its records part of
//! the log at once, and a transaction that is rolled back (or a process that dies before its
//! commit) leaves bytes past the committed length that no reader looks at and the next writer
//! writes over. A record is written once and never changes.
//!
//! Each process keeps one index per file (shared by every [`super::LocalLedger`] value on it):
//! where each topic's messages are, by sequence number, read from the file up to the committed
//! length when a reader or writer needs more of it, or taken from what a writer in this process
//! appended as its transaction commits ([`MessageLog::committed`]), which spares reading back
//! every byte this process writes. A transaction that appends twice reads its
//! own first records into it; a reader's view leaves out whatever lies past the length it sees
//! committed, and a writer's append forgets what lies past the length it writes at. The
//! checkpointing thread syncs the file before each checkpoint ([`super::checkpoint`]).
//!
//! A row per message in SQLite cost a run more than everything else it did (`cargo bench --bench
//! run`: 51 us a task, 6.9x appending the same bytes to a file).
//!
//! A record: `bm`, the topic's id (2-byte length, then its bytes), the sequence number (8 bytes),
//! the consensus time (8 bytes), the payload (4-byte length, then its bytes); integers little
//! endian. A record that is not where the committed length says, that runs past it, or whose
//! number does not follow its topic's last, is an error that names the file and the byte.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};

use rusqlite::Connection;

use super::{META_LOG_LENGTH, meta, set_meta};
use crate::ledger::{ConsensusTime, LedgerError, Payload, TopicId, TopicMessage};

/// What starts every record.
const MAGIC: &[u8; 2] = b"bm";

/// Bytes of a record besides its topic id and payload.
const HEADER: usize = 2 + 2 + 8 + 8 + 4;

/// How much of the file a catch-up reads at once.
const CHUNK: u64 = 4 << 20;

/// The log of every database file this process has open, by the database's path.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<MessageLog>>>> = LazyLock::new(Mutex::default);

/// One database's message file and this process's index of it.
pub(super) struct MessageLog {
    path: PathBuf,
    file: File,
    index: Mutex<Index>,
}

/// Where each topic's messages are in the file, up to `scanned`.
#[derive(Default)]
struct Index {
    scanned: u64,
    topics: HashMap<TopicId, Vec<Entry>>,
}

/// A message's payload in the file, and its consensus time; its sequence number is its place in
/// its topic's list, from 1.
#[derive(Clone, Copy)]
struct Entry {
    offset: u64,
    len: u32,
    consensus: i64,
}

/// Where [`MessageLog::append`] wrote its records: from `at` to `end`, one entry per record.
#[must_use = "the records are indexed by `MessageLog::committed` once their transaction commits"]
pub(super) struct Appended {
    at: u64,
    end: u64,
    entries: Vec<Entry>,
}

/// A message to append: its topic, sequence number, consensus time and payload.
pub(super) type Record<'a> = (&'a TopicId, u64, ConsensusTime, &'a [u8]);

/// The file beside the database at `db`.
fn file_of(db: &Path) -> PathBuf {
    db.with_extension("messages")
}

impl MessageLog {
    /// The log of the database at `db`: the one this process has open, else its file opened
    /// (created if missing).
    pub(super) fn open(db: &Path) -> Result<Arc<Self>, LedgerError> {
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        open.retain(|_, log| log.strong_count() > 0);
        if let Some(log) = open.get(db).and_then(Weak::upgrade) {
            return Ok(log);
        }
        let path = file_of(db);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                LedgerError::Other(format!(
                    "the ledger's message log `{}` cannot be opened: {e}",
                    path.display()
                ))
            })?;
        let log = Arc::new(Self {
            path,
            file,
            index: Mutex::default(),
        });
        open.insert(db.to_owned(), Arc::downgrade(&log));
        Ok(log)
    }

    /// The log of the database `conn` is on, which [`Self::open`] opened.
    pub(super) fn of(conn: &Connection) -> Result<Arc<Self>, LedgerError> {
        let db = conn.path().map(Path::new).unwrap_or(Path::new(""));
        let open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(db)
            .and_then(Weak::upgrade)
            .ok_or_else(|| LedgerError::Other(format!("no message log is open for the ledger at `{}`", db.display())))
    }

    /// Checks that the file holds every byte the database on `conn` says was committed.
    pub(super) fn check(&self, conn: &Connection) -> Result<(), LedgerError> {
        let committed = u64::try_from(meta(conn, META_LOG_LENGTH)?).unwrap_or(0);
        let size = self.file.metadata().map_or(0, |m| m.len());
        if size < committed {
            return Err(self.short(size, committed, "it was cut short, removed or replaced"));
        }
        Ok(())
    }

    fn short(&self, size: u64, committed: u64, why: &str) -> LedgerError {
        LedgerError::Other(format!(
            "the ledger's message log `{}` holds {size} bytes where its database committed {committed}: {why}",
            self.path.display()
        ))
    }

    /// The log as committed, read on `conn` (in its transaction if it is in one), with the index
    /// read up to it. Records past it that this process indexed (written in a transaction that
    /// has not committed, or never will) are left out of the view.
    pub(super) fn caught_up(&self, conn: &Connection) -> Result<View<'_>, LedgerError> {
        let committed = u64::try_from(meta(conn, META_LOG_LENGTH)?).unwrap_or(0);
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        while index.scanned < committed {
            let end = committed.min(index.scanned + CHUNK);
            let bytes = self.read_at(index.scanned, end.saturating_sub(index.scanned), committed)?;
            if self.scan(&mut index, &bytes)? > 0 {
                continue;
            }
            // A record longer than a chunk, or one that runs past the committed length.
            let needed = record_len(&bytes).unwrap_or(usize::MAX) as u64;
            if needed > committed - index.scanned {
                return Err(self.damaged(index.scanned, "a record runs past the committed length"));
            }
            let bytes = self.read_at(index.scanned, needed, committed)?;
            if self.scan(&mut index, &bytes)? == 0 {
                return Err(self.damaged(index.scanned, "a record does not read whole"));
            }
        }
        Ok(View { committed, index })
    }

    /// Appends `records` at the committed length of `view`, and commits the length past them when
    /// `conn`'s transaction commits. Call inside a write transaction, with the view it read.
    /// Once that transaction has committed, [`Self::committed`] indexes the records from what is
    /// returned, instead of the next reader reading them back from the file.
    pub(super) fn append(
        &self,
        conn: &Connection,
        view: &mut View<'_>,
        records: &[Record<'_>],
    ) -> Result<Appended, LedgerError> {
        let at = view.committed;
        // What this process indexed past the committed length was never committed: written over.
        view.index.truncate(at);
        let mut bytes = Vec::with_capacity(records.iter().map(|(t, _, _, p)| HEADER + t.0.len() + p.len()).sum());
        let mut entries = Vec::with_capacity(records.len());
        for &(topic, sequence, consensus, payload) in records {
            let (Ok(topic_len), Ok(payload_len)) = (u16::try_from(topic.0.len()), u32::try_from(payload.len())) else {
                return Err(LedgerError::Other(format!(
                    "a message to topic `{topic}` is too large to keep"
                )));
            };
            bytes.extend_from_slice(MAGIC);
            bytes.extend_from_slice(&topic_len.to_le_bytes());
            bytes.extend_from_slice(topic.0.as_bytes());
            bytes.extend_from_slice(&sequence.to_le_bytes());
            bytes.extend_from_slice(&consensus.0.to_le_bytes());
            bytes.extend_from_slice(&payload_len.to_le_bytes());
            entries.push(Entry {
                offset: at + bytes.len() as u64,
                len: payload_len,
                consensus: consensus.0,
            });
            bytes.extend_from_slice(payload);
        }
        self.file.write_all_at(&bytes, at).map_err(|e| {
            LedgerError::Other(format!(
                "writing to the ledger's message log `{}`: {e}",
                self.path.display()
            ))
        })?;
        let end = at.saturating_add(bytes.len() as u64);
        set_meta(conn, META_LOG_LENGTH, i64::try_from(end).unwrap_or(i64::MAX))?;
        view.committed = end;
        Ok(Appended { at, end, entries })
    }

    /// Indexes what [`Self::append`] wrote, once its transaction has committed, for records of
    /// `topics` in the order appended. While that transaction held the write lock no other
    /// writer could write there, so the records are where the append put them; where this
    /// process has read the index past them already, or not up to them, nothing is done and a
    /// reader reads them from the file as before.
    pub(super) fn committed<'t>(&self, appended: Appended, topics: impl IntoIterator<Item = &'t TopicId>) {
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        if index.scanned != appended.at {
            return;
        }
        for (topic, entry) in topics.into_iter().zip(appended.entries) {
            match index.topics.get_mut(topic) {
                Some(entries) => entries.push(entry),
                None => {
                    index.topics.insert(topic.clone(), vec![entry]);
                }
            }
        }
        index.scanned = appended.end;
    }

    /// Messages of `topic` with a sequence number above `after`, oldest first, at most `limit`,
    /// as `view` holds them.
    pub(super) fn read(
        &self,
        view: &View<'_>,
        topic: &TopicId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<TopicMessage>, LedgerError> {
        let committed = view.committed;
        let entries = view.after(topic, after, limit);
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(Vec::new());
        };
        let end = last.offset + u64::from(last.len);
        let bytes = self.read_at(first.offset, end - first.offset, committed)?;
        let mut out = Vec::with_capacity(entries.len());
        for (sequence, entry) in (after + 1..).zip(entries) {
            let from = usize::try_from(entry.offset - first.offset).unwrap_or(usize::MAX);
            let payload = bytes
                .get(from..from.saturating_add(entry.len as usize))
                .ok_or_else(|| self.damaged(entry.offset, "a message is not where the index says"))?;
            out.push(TopicMessage {
                topic: topic.clone(),
                sequence,
                consensus: ConsensusTime(entry.consensus),
                payload: Payload::from(payload),
            });
        }
        Ok(out)
    }

    /// Writes what was appended to the file through to the disk.
    pub(super) fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    fn read_at(&self, offset: u64, len: u64, committed: u64) -> Result<Vec<u8>, LedgerError> {
        let mut bytes = vec![0; usize::try_from(len).unwrap_or(usize::MAX)];
        self.file.read_exact_at(&mut bytes, offset).map_err(|e| {
            let size = self.file.metadata().map_or(0, |m| m.len());
            self.short(size, committed, &format!("it was cut short, removed or replaced ({e})"))
        })?;
        Ok(bytes)
    }

    /// Reads the whole records at the start of `bytes` (which start at `index.scanned`) into the
    /// index; returns how many bytes they took.
    fn scan(&self, index: &mut Index, bytes: &[u8]) -> Result<usize, LedgerError> {
        let mut at = 0;
        while let Some(record) = parse(&bytes[at..]).map_err(|what| self.damaged(index.scanned, what))? {
            let offset = index.scanned;
            let entries = index.topics.entry(record.topic).or_default();
            if record.sequence != entries.len() as u64 + 1 {
                return Err(self.damaged(offset, "a message's number does not follow its topic's last"));
            }
            entries.push(Entry {
                offset: offset + (record.len - record.payload_len) as u64,
                len: u32::try_from(record.payload_len).unwrap_or(u32::MAX),
                consensus: record.consensus,
            });
            at += record.len;
            index.scanned += record.len as u64;
        }
        Ok(at)
    }

    fn damaged(&self, offset: u64, what: &str) -> LedgerError {
        LedgerError::Other(format!(
            "the ledger's message log `{}` is damaged at byte {offset}: {what}",
            self.path.display()
        ))
    }
}

/// The log up to a committed length, and the index of it.
pub(super) struct View<'a> {
    committed: u64,
    index: MutexGuard<'a, Index>,
}

impl View<'_> {
    /// The sequence number of `topic`'s last message, 0 when it has none.
    pub(super) fn last_sequence(&self, topic: &TopicId) -> u64 {
        self.entries(topic).len() as u64
    }

    fn entries(&self, topic: &TopicId) -> &[Entry] {
        let entries = self.index.topics.get(topic).map_or(&[][..], Vec::as_slice);
        let visible = entries.partition_point(|e| e.offset + u64::from(e.len) <= self.committed);
        &entries[..visible]
    }

    fn after(&self, topic: &TopicId, after: u64, limit: usize) -> &[Entry] {
        let entries = self.entries(topic);
        let from = usize::try_from(after).unwrap_or(usize::MAX).min(entries.len());
        &entries[from..from.saturating_add(limit).min(entries.len())]
    }
}

impl Index {
    /// Forgets every record from `at` on.
    fn truncate(&mut self, at: u64) {
        if self.scanned <= at {
            return;
        }
        for entries in self.topics.values_mut() {
            let kept = entries.partition_point(|e| e.offset + u64::from(e.len) <= at);
            entries.truncate(kept);
        }
        self.scanned = at;
    }
}

/// A record's fields as [`parse`] reads them; `len` is the whole record's.
struct Parsed {
    topic: TopicId,
    sequence: u64,
    consensus: i64,
    payload_len: usize,
    len: usize,
}

/// The length of the record whose header starts `bytes`, if they hold the header.
fn record_len(bytes: &[u8]) -> Option<usize> {
    let topic_len = usize::from(u16::from_le_bytes([*bytes.get(2)?, *bytes.get(3)?]));
    let at = HEADER - 4 + topic_len;
    let payload_len = u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?);
    Some(HEADER + topic_len + usize::try_from(payload_len).ok()?)
}

/// The record at the start of `bytes`: `None` when they end before it does.
fn parse(bytes: &[u8]) -> Result<Option<Parsed>, &'static str> {
    if bytes.len() < HEADER {
        return Ok(None);
    }
    if &bytes[..2] != MAGIC {
        return Err("no record starts there");
    }
    let topic_len = usize::from(u16::from_le_bytes([bytes[2], bytes[3]]));
    let Some(rest) = bytes.get(4 + topic_len..HEADER + topic_len) else {
        return Ok(None);
    };
    let number = |at: usize| <[u8; 8]>::try_from(&rest[at..at + 8]).unwrap_or_default();
    let payload_len = u32::from_le_bytes(<[u8; 4]>::try_from(&rest[16..20]).unwrap_or_default()) as usize;
    let len = HEADER + topic_len + payload_len;
    if bytes.len() < len {
        return Ok(None);
    }
    let topic = std::str::from_utf8(&bytes[4..4 + topic_len]).map_err(|_| "a topic id is not text")?;
    Ok(Some(Parsed {
        topic: TopicId(topic.to_owned()),
        sequence: u64::from_le_bytes(number(0)),
        consensus: i64::from_le_bytes(number(8)),
        payload_len,
        len,
    }))
}
