//! Several openers of a ledger that does not exist yet, at the same moment, as `baton agent`
//! and `baton run` started together are: each gets the same ledger, none an error.

use std::sync::Barrier;

use super::*;

#[test]
fn openers_racing_to_create_a_ledger_all_get_it() {
    const OPENERS: usize = 6;
    for round in 0..20 {
        let scratch = Scratch::new();
        let barrier = Barrier::new(OPENERS);
        let opened: Vec<Result<(), String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..OPENERS)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        LocalLedger::open(&scratch.0).map(drop).map_err(|e| e.to_string())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("the opener panicked".into())))
                .collect()
        });
        for result in opened {
            assert_eq!(result, Ok(()), "round {round}");
        }
    }
}

fn page_size(dir: &std::path::Path) -> i64 {
    let conn = Connection::open(dir.join(FILE_NAME)).expect("the database opens");
    conn.pragma_query_value(None, "page_size", |row| row.get(0))
        .expect("the page size reads")
}

#[tokio::test]
async fn a_new_ledger_takes_small_pages_and_an_older_one_keeps_its_own() -> Result<(), Box<dyn std::error::Error>> {
    let new = Scratch::new();
    let ledger = new.open();
    let topic = ledger.create_topic("new").await?;
    ledger.submit(&topic, b"{}").await?;
    assert_eq!(page_size(&new.0), schema::PAGE_SIZE);

    // A database made before, with SQLite's own page size and write-ahead logging.
    let older = Scratch::new();
    std::fs::create_dir_all(&older.0)?;
    {
        let conn = Connection::open(older.0.join(FILE_NAME))?;
        conn.pragma_update(None, "page_size", 4096)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch("CREATE TABLE made_before (x INTEGER)")?;
    }
    let ledger = older.open();
    let topic = ledger.create_topic("older").await?;
    assert_eq!(ledger.submit(&topic, b"{}").await?.0, 1);
    assert_eq!(page_size(&older.0), 4096);
    Ok(())
}
