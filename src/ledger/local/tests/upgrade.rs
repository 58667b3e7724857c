//! A ledger written by an earlier baton opens with every message where it was: schema versions 1
//! and 2 kept the messages in the database, in a table without and with row ids; opening one
//! moves them to the message log.

use pretty_assertions::assert_eq;
use rusqlite::Connection;

use super::*;

/// The messages table of schema version 1 and of version 2.
const TABLE_V1: &str = "CREATE TABLE messages (
    topic TEXT NOT NULL REFERENCES topics(id),
    sequence INTEGER NOT NULL,
    consensus INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (topic, sequence)
) WITHOUT ROWID;";
const TABLE_V2: &str = "CREATE TABLE messages (
    topic TEXT NOT NULL REFERENCES topics(id),
    sequence INTEGER NOT NULL,
    consensus INTEGER NOT NULL,
    payload BLOB NOT NULL,
    UNIQUE (topic, sequence)
);";

/// Puts `messages` back in the database as schema `version` kept them, with no message log.
fn downgrade(dir: &Path, version: i64, messages: &[TopicMessage]) -> rusqlite::Result<()> {
    let _ = std::fs::remove_file(dir.join("ledger.messages"));
    let mut conn = Connection::open(dir.join(FILE_NAME))?;
    let tx = conn.transaction()?;
    tx.execute_batch(if version == 1 { TABLE_V1 } else { TABLE_V2 })?;
    let mut in_order: Vec<&TopicMessage> = messages.iter().collect();
    in_order.sort_by_key(|m| m.consensus);
    for m in in_order {
        tx.execute(
            "INSERT INTO messages VALUES (?1, ?2, ?3, ?4)",
            (
                &m.topic.0,
                i64::try_from(m.sequence).unwrap_or(0),
                m.consensus.0,
                &m.payload[..],
            ),
        )?;
    }
    tx.execute("DELETE FROM meta WHERE key = 'log_length'", [])?;
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()
}

fn schema_of(dir: &Path) -> rusqlite::Result<(i64, i64)> {
    let conn = Connection::open(dir.join(FILE_NAME))?;
    let version = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let tables = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages'",
        [],
        |row| row.get(0),
    )?;
    Ok((version, tables))
}

fn db(e: rusqlite::Error) -> LedgerError {
    LedgerError::Other(e.to_string())
}

async fn an_older_ledger_keeps_its_messages_and_numbering(version: i64) -> TestResult {
    let scratch = Scratch::new();
    let (topic, other, before) = {
        let ledger = scratch.open();
        let topic = ledger.create_topic("runs").await?;
        let other = ledger.create_topic("other").await?;
        for i in 0..300u32 {
            let payload = vec![u8::try_from(i % 251).unwrap_or(0); 1500];
            ledger
                .submit(if i % 3 == 0 { &other } else { &topic }, &payload)
                .await?;
        }
        let before = (
            ledger.messages(&topic, 0, 1000).await?,
            ledger.messages(&other, 0, 1000).await?,
        );
        (topic, other, before)
    };
    let all: Vec<TopicMessage> = before.0.iter().chain(&before.1).cloned().collect();
    downgrade(&scratch.0, version, &all).map_err(db)?;
    assert_eq!(schema_of(&scratch.0).map_err(db)?, (version, 1));

    let ledger = scratch.open();
    let after = (
        ledger.messages(&topic, 0, 1000).await?,
        ledger.messages(&other, 0, 1000).await?,
    );
    assert_eq!(after, before);
    assert_eq!(ledger.submit(&topic, b"next").await?.0, 201);
    assert_eq!(ledger.submit(&other, b"next").await?.0, 101);
    assert_eq!(schema_of(&scratch.0).map_err(db)?, (3, 0));
    drop(ledger);
    // And once more, as version 3 now.
    let ledger = scratch.open();
    assert_eq!(ledger.messages(&topic, 199, 10).await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_version_1_ledger_keeps_its_messages_and_numbering() -> TestResult {
    an_older_ledger_keeps_its_messages_and_numbering(1).await
}

#[tokio::test]
async fn a_version_2_ledger_keeps_its_messages_and_numbering() -> TestResult {
    an_older_ledger_keeps_its_messages_and_numbering(2).await
}
