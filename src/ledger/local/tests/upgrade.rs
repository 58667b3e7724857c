//! A ledger written by an earlier baton opens with every message where it was.

use pretty_assertions::assert_eq;
use rusqlite::Connection;

use super::*;

/// Puts the messages back as schema version 1 kept them: a table without row ids.
fn downgrade_to_v1(path: &Path) -> rusqlite::Result<()> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "BEGIN;
         ALTER TABLE messages RENAME TO messages_v2;
         CREATE TABLE messages (
             topic TEXT NOT NULL REFERENCES topics(id),
             sequence INTEGER NOT NULL,
             consensus INTEGER NOT NULL,
             payload BLOB NOT NULL,
             PRIMARY KEY (topic, sequence)
         ) WITHOUT ROWID;
         INSERT INTO messages SELECT topic, sequence, consensus, payload FROM messages_v2;
         DROP TABLE messages_v2;
         PRAGMA user_version = 1;
         COMMIT;",
    )
}

fn table_sql(path: &Path) -> rusqlite::Result<(i64, String)> {
    let conn = Connection::open(path)?;
    let version = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let sql = conn.query_row("SELECT sql FROM sqlite_master WHERE name = 'messages'", [], |row| {
        row.get(0)
    })?;
    Ok((version, sql))
}

#[tokio::test]
async fn a_version_1_ledger_keeps_its_messages_and_numbering() -> TestResult {
    let scratch = Scratch::new();
    let (topic, other, before) = {
        let ledger = scratch.open();
        let topic = ledger.create_topic("runs").await?;
        let other = ledger.create_topic("other").await?;
        for i in 0..300u32 {
            // Long enough that version 1 put part of each on a page of its own.
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
    let path = scratch.0.join(FILE_NAME);
    downgrade_to_v1(&path).map_err(|e| LedgerError::Other(e.to_string()))?;
    assert!(
        table_sql(&path)
            .map_err(|e| LedgerError::Other(e.to_string()))?
            .1
            .contains("WITHOUT ROWID")
    );

    let ledger = scratch.open();
    let after = (
        ledger.messages(&topic, 0, 1000).await?,
        ledger.messages(&other, 0, 1000).await?,
    );
    assert_eq!(after, before);
    assert_eq!(ledger.submit(&topic, b"next").await?.0, 201);
    assert_eq!(ledger.submit(&other, b"next").await?.0, 101);
    let (version, sql) = table_sql(&path).map_err(|e| LedgerError::Other(e.to_string()))?;
    assert_eq!(version, 2);
    assert!(!sql.contains("WITHOUT ROWID"), "{sql}");
    Ok(())
}
