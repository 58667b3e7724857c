//! The message log beside the database: what a failed transaction wrote is written over, and a
//! log that does not hold what the database committed is an error that names it.

use pretty_assertions::assert_eq;

use super::*;

fn texts(found: &[TopicMessage]) -> Vec<(u64, String)> {
    found
        .iter()
        .map(|m| (m.sequence, String::from_utf8_lossy(&m.payload).into_owned()))
        .collect()
}

/// A ledger in `scratch` with one topic holding `messages`, closed again.
async fn written(scratch: &Scratch, messages: &[&[u8]]) -> Result<TopicId, LedgerError> {
    let ledger = scratch.open();
    let topic = ledger.create_topic("t").await?;
    for message in messages {
        ledger.submit(&topic, message).await?;
    }
    Ok(topic)
}

#[tokio::test]
async fn what_a_transaction_that_did_not_commit_appended_is_written_over() -> TestResult {
    let scratch = Scratch::new();
    let ledger = scratch.open();
    let topic = ledger.create_topic("t").await?;
    ledger.submit(&topic, b"one").await?;
    // Another value on the same directory in this process shares the index of the file.
    let other = scratch.open();
    let failed: Result<(), LedgerError> = ledger.write("failing", |conn| {
        // The second append reads the first into the index before the transaction fails.
        topics::append(conn, &topic, b"lost-and-long")?;
        topics::append(conn, &topic, b"lost-too")?;
        Err(LedgerError::Other("refused".into()))
    });
    assert!(failed.is_err());
    let one: Vec<(u64, String)> = vec![(1, "one".into())];
    assert_eq!(texts(&other.messages(&topic, 0, 10).await?), one);
    assert_eq!(texts(&ledger.messages(&topic, 0, 10).await?), one);
    ledger.submit(&topic, b"two").await?;
    let both: Vec<(u64, String)> = vec![(1, "one".into()), (2, "two".into())];
    assert_eq!(texts(&ledger.messages(&topic, 0, 10).await?), both);
    assert_eq!(texts(&other.messages(&topic, 0, 10).await?), both);
    drop((ledger, other));
    // A fresh reader of the file finds the same.
    let ledger = scratch.open();
    assert_eq!(
        texts(&ledger.messages(&topic, 0, 10).await?),
        [(1, "one".into()), (2, "two".into())]
    );
    Ok(())
}

#[tokio::test]
async fn what_a_writer_indexed_as_it_committed_reads_as_the_file_does() -> TestResult {
    let scratch = Scratch::new();
    let ledger = scratch.open();
    let (t, u) = (ledger.create_topic("t").await?, ledger.create_topic("u").await?);
    let other = scratch.open();
    ledger.submit_many(&[
        (t.clone(), b"t1".to_vec()),
        (u.clone(), b"u1".to_vec()),
        (t.clone(), b"t2".to_vec()),
    ])?;
    // A failed transaction in between, whose records the next append writes over.
    let failed: Result<(), LedgerError> = ledger.write("failing", |conn| {
        topics::append(conn, &t, b"lost")?;
        Err(LedgerError::Other("refused".into()))
    });
    assert!(failed.is_err());
    // The other value reads what is committed so far, then the first appends after it.
    assert_eq!(
        texts(&other.messages(&t, 0, 10).await?),
        [(1, "t1".into()), (2, "t2".into())]
    );
    ledger.submit_many(&[(u.clone(), b"u2".to_vec()), (t.clone(), b"t3".to_vec())])?;
    other.submit_many(&[(t.clone(), b"t4".to_vec())])?;
    let want_t: Vec<(u64, String)> = (1..=4).map(|n| (n, format!("t{n}"))).collect();
    let want_u: Vec<(u64, String)> = vec![(1, "u1".into()), (2, "u2".into())];
    for reader in [&ledger, &other] {
        assert_eq!(texts(&reader.messages(&t, 0, 10).await?), want_t);
        assert_eq!(texts(&reader.messages(&u, 0, 10).await?), want_u);
    }
    drop((ledger, other));
    // A fresh reader of the file finds the same.
    let ledger = scratch.open();
    assert_eq!(texts(&ledger.messages(&t, 0, 10).await?), want_t);
    assert_eq!(texts(&ledger.messages(&u, 0, 10).await?), want_u);
    Ok(())
}

#[tokio::test]
async fn a_log_cut_short_is_refused_when_the_ledger_opens() -> TestResult {
    let scratch = Scratch::new();
    written(&scratch, &[b"one"]).await?;
    let file = scratch.0.join("ledger.messages");
    let size = std::fs::metadata(&file)
        .map_err(|e| LedgerError::Other(e.to_string()))?
        .len();
    let cut = std::fs::OpenOptions::new().write(true).open(&file);
    cut.and_then(|f| f.set_len(size - 1))
        .map_err(|e| LedgerError::Other(e.to_string()))?;
    let Err(error) = LocalLedger::open(&scratch.0) else {
        panic!("a ledger whose message log lost a byte opened");
    };
    let text = error.to_string();
    assert!(text.contains("ledger.messages") && text.contains("cut short"), "{text}");
    std::fs::remove_file(&file).map_err(|e| LedgerError::Other(e.to_string()))?;
    assert!(LocalLedger::open(&scratch.0).is_err(), "nor without it");
    Ok(())
}

#[tokio::test]
async fn a_damaged_record_is_an_error_naming_its_byte() -> TestResult {
    let scratch = Scratch::new();
    let topic = written(&scratch, &[b"one", b"two"]).await?;
    let file = scratch.0.join("ledger.messages");
    let mut bytes = std::fs::read(&file).map_err(|e| LedgerError::Other(e.to_string()))?;
    let second = bytes.len() / 2;
    assert_eq!(&bytes[second..second + 2], b"bm", "two records of the same size");
    bytes[second] = b'x';
    std::fs::write(&file, &bytes).map_err(|e| LedgerError::Other(e.to_string()))?;
    let ledger = scratch.open();
    let error = ledger.messages(&topic, 0, 10).await.expect_err("the damage is found");
    let text = error.to_string();
    assert!(text.contains(&format!("damaged at byte {second}")), "{text}");
    Ok(())
}

#[tokio::test]
async fn a_record_claiming_more_than_was_committed_is_damage_and_a_long_one_reads_whole() -> TestResult {
    let scratch = Scratch::new();
    // Longer than the 4 MiB a catch-up reads at once.
    let long = vec![b'x'; (4 << 20) + 10];
    let topic = written(&scratch, &[b"one", &long, b"three"]).await?;
    let ledger = scratch.open();
    let read = ledger.messages(&topic, 0, 10).await?;
    assert_eq!(
        read.iter().map(|m| m.payload.len()).collect::<Vec<_>>(),
        [3, long.len(), 5]
    );
    drop(ledger);
    let file = scratch.0.join("ledger.messages");
    let mut bytes = std::fs::read(&file).map_err(|e| LedgerError::Other(e.to_string()))?;
    // The first record's payload length, made huge: after `bm`, the topic id and 16 bytes of numbers.
    let at = 4 + topic.0.len() + 16;
    bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&file, &bytes).map_err(|e| LedgerError::Other(e.to_string()))?;
    let ledger = scratch.open();
    let text = ledger
        .messages(&topic, 0, 10)
        .await
        .expect_err("the damage is found")
        .to_string();
    assert!(
        text.contains("damaged at byte 0: a record runs past the committed length"),
        "{text}"
    );
    Ok(())
}
