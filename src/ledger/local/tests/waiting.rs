//! Schedules, waiting for messages, and other processes sharing the ledger.

use std::sync::Arc;
use std::time::Duration;

use super::*;

#[tokio::test]
async fn a_due_schedule_executes_once() -> TestResult {
    let scratch = Scratch::new();
    let a = scratch.open();
    let b = scratch.open();
    let topic = a.create_topic("deadlines").await?;
    let op = ScheduledOp::Submit {
        topic: topic.clone(),
        payload: b"timeout".to_vec(),
    };
    a.schedule(&op, a.now().await?, "deadline 1").await?;
    let first = a.messages(&topic, 0, 10).await?;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].payload, b"timeout");
    assert_eq!(a.messages(&topic, 0, 10).await?, first);
    assert_eq!(b.messages(&topic, 0, 10).await?, first);
    b.now().await?;
    assert_eq!(b.submit(&topic, b"later").await?.0, 2);
    assert_eq!(a.messages(&topic, 0, 10).await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_schedule_waits_for_its_time() -> TestResult {
    let scratch = Scratch::new();
    let ledger = scratch.open();
    let topic = ledger.create_topic("deadlines").await?;
    let op = ScheduledOp::Submit {
        topic: topic.clone(),
        payload: b"late".to_vec(),
    };
    let at = ConsensusTime(ledger.now().await?.0 + 150_000_000);
    ledger.schedule(&op, at, "soon").await?;
    assert!(ledger.messages(&topic, 0, 10).await?.is_empty());
    let cancel = CancellationToken::new();
    let found = tokio::time::timeout(Duration::from_secs(5), ledger.wait_messages(&topic, 0, 10, &cancel))
        .await
        .map_err(|_| LedgerError::Other("the schedule never executed".to_owned()))??;
    assert_eq!(found.len(), 1);
    assert!(found[0].consensus >= at);
    Ok(())
}

#[tokio::test]
async fn an_identical_pending_schedule_is_not_duplicated() -> TestResult {
    let scratch = Scratch::new();
    let a = scratch.open();
    let b = scratch.open();
    let topic = a.create_topic("deadlines").await?;
    let op = ScheduledOp::Submit {
        topic: topic.clone(),
        payload: b"p".to_vec(),
    };
    let later = ConsensusTime(a.now().await?.0 + 3_600_000_000_000);
    let id = a.schedule(&op, later, "m").await?;
    assert_eq!(b.schedule(&op, later, "m").await?, id);
    assert_ne!(a.schedule(&op, later, "other memo").await?, id);
    let other_op = ScheduledOp::Submit {
        topic: topic.clone(),
        payload: b"q".to_vec(),
    };
    assert_ne!(a.schedule(&other_op, later, "m").await?, id);

    let now_op = ScheduledOp::Submit {
        topic: topic.clone(),
        payload: b"now".to_vec(),
    };
    let now = a.now().await?;
    let first = a.schedule(&now_op, now, "n").await?;
    assert_eq!(a.messages(&topic, 0, 10).await?.len(), 1);
    // Executed, so the same schedule again is a new one.
    assert_ne!(a.schedule(&now_op, now, "n").await?, first);

    let missing = ScheduledOp::Submit {
        topic: TopicId("0.0.9999".to_owned()),
        payload: Vec::new(),
    };
    assert!(matches!(
        a.schedule(&missing, now, "x").await,
        Err(LedgerError::UnknownTopic(_))
    ));
    Ok(())
}

#[tokio::test]
async fn wait_messages_returns_empty_when_cancelled() -> TestResult {
    let scratch = Scratch::new();
    let ledger = scratch.open();
    let topic = ledger.create_topic("quiet").await?;
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        trigger.cancel();
    });
    let found = tokio::time::timeout(Duration::from_secs(5), ledger.wait_messages(&topic, 0, 10, &cancel))
        .await
        .map_err(|_| LedgerError::Other("cancel was not noticed".to_owned()))??;
    assert!(found.is_empty());
    // Messages already there are returned even with the token cancelled.
    ledger.submit(&topic, b"x").await?;
    assert_eq!(ledger.wait_messages(&topic, 0, 10, &cancel).await?.len(), 1);
    assert!(ledger.wait_messages(&topic, 1, 10, &cancel).await?.is_empty());
    Ok(())
}

async fn wakes_on_submit_from(writer: Arc<LocalLedger>, reader: Arc<LocalLedger>) -> TestResult {
    let topic = writer.create_topic("wake").await?;
    let cancel = CancellationToken::new();
    let waiting = {
        let (reader, topic, cancel) = (Arc::clone(&reader), topic.clone(), cancel.clone());
        tokio::spawn(async move { reader.wait_messages(&topic, 0, 10, &cancel).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    writer.submit(&topic, b"hello").await?;
    let found = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .map_err(|_| LedgerError::Other("the waiter never woke".to_owned()))?
        .map_err(|e| LedgerError::Other(e.to_string()))??;
    assert_eq!(sequences(&found), [1]);
    assert_eq!(found[0].payload, b"hello");
    Ok(())
}

#[tokio::test]
async fn wait_messages_wakes_on_a_submit_from_another_task() -> TestResult {
    let scratch = Scratch::new();
    let ledger = Arc::new(scratch.open());
    wakes_on_submit_from(Arc::clone(&ledger), ledger).await
}

#[tokio::test]
async fn wait_messages_wakes_on_a_submit_through_another_connection() -> TestResult {
    let scratch = Scratch::new();
    wakes_on_submit_from(Arc::new(scratch.open()), Arc::new(scratch.open())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_sees_another_writer_while_its_own_value_keeps_writing_elsewhere() -> TestResult {
    let scratch = Scratch::new();
    let reader = Arc::new(scratch.open());
    let other = scratch.open();
    let (watched, busy) = (
        reader.create_topic("watched").await?,
        reader.create_topic("busy").await?,
    );
    // What the reader's value wrote itself, it keeps: it knows its own writes add nothing here.
    reader.submit(&watched, b"own").await?;
    let cancel = CancellationToken::new();
    // The reader's own value writes to another topic every millisecond: each write wakes the
    // wait, none of them is what it waits for.
    let chatter = {
        let (reader, cancel) = (Arc::clone(&reader), cancel.clone());
        tokio::spawn(async move {
            while !cancel.is_cancelled() {
                reader.submit(&busy, b"noise").await?;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Ok::<(), LedgerError>(())
        })
    };
    let waiting = {
        let (reader, watched, cancel) = (Arc::clone(&reader), watched.clone(), cancel.clone());
        tokio::spawn(async move { reader.wait_messages(&watched, 1, 10, &cancel).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    other.submit(&watched, b"from elsewhere").await?;
    let found = tokio::time::timeout(Duration::from_secs(5), waiting).await;
    cancel.cancel();
    chatter.await.map_err(|e| LedgerError::Other(e.to_string()))??;
    let found = found
        .map_err(|_| LedgerError::Other("the other writer's message was never seen".to_owned()))?
        .map_err(|e| LedgerError::Other(e.to_string()))??;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].payload, b"from elsewhere");
    Ok(())
}

/// The clock and every topic read at one look give what reading them one by one gives, from
/// what the value kept of its own writes and, once another connection wrote, from the database.
#[tokio::test]
async fn the_clock_and_the_topics_read_at_one_look_are_what_they_read_alone() -> TestResult {
    let scratch = Scratch::new();
    let (ledger, other) = (scratch.open(), scratch.open());
    let (a, b) = (ledger.create_topic("a").await?, ledger.create_topic("b").await?);
    let texts = |all: &[Vec<TopicMessage>]| -> Vec<Vec<String>> {
        let text = |m: &TopicMessage| String::from_utf8_lossy(&m.payload).into_owned();
        all.iter().map(|one| one.iter().map(text).collect()).collect()
    };
    ledger
        .submit_all(&a, &[b"a1".to_vec().into(), b"a2".to_vec().into()])
        .await?;
    ledger.submit_all(&b, &[b"b1".to_vec().into()]).await?;
    let before = ledger.now().await?;
    let (now, kept) = ledger.now_and_messages(&[(&a, 0), (&b, 0), (&a, 2)], 10).await?;
    assert!(now >= before);
    assert_eq!(texts(&kept), [vec!["a1", "a2"], vec!["b1"], vec![]]);
    other.submit(&a, b"a3").await?;
    other.submit(&b, b"b2").await?;
    let (later, read) = ledger.now_and_messages(&[(&a, 1), (&b, 1)], 10).await?;
    assert!(later > now);
    assert_eq!(texts(&read), [vec!["a2", "a3"], vec!["b2"]]);
    let alone = vec![ledger.messages(&a, 1, 10).await?, ledger.messages(&b, 1, 10).await?];
    assert_eq!(read, alone);
    let (_, limited) = ledger.now_and_messages(&[(&a, 0)], 2).await?;
    assert_eq!(texts(&limited), [vec!["a1", "a2"]]);
    Ok(())
}

/// Set for a child process of `other_processes_share_the_ledger_and_their_commits_survive_abort`.
const CHILD_DIR: &str = "BATON_LEDGER_TEST_CHILD_DIR";
const CHILD_TOPIC: &str = "BATON_LEDGER_TEST_CHILD_TOPIC";
const CHILD_MESSAGES: usize = 30;

/// Not a test of its own: run as a child process, it writes to the ledger then dies without
/// closing anything. Does nothing otherwise.
#[tokio::test]
async fn child_process_writer() -> TestResult {
    let (Ok(dir), Ok(topic)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_TOPIC)) else {
        return Ok(());
    };
    let ledger = LocalLedger::open(Path::new(&dir))?;
    let topic = TopicId(topic);
    for i in 0..CHILD_MESSAGES {
        ledger
            .submit(&topic, format!("child {}: {i}", std::process::id()).as_bytes())
            .await?;
    }
    std::process::abort();
}

fn io(e: std::io::Error) -> LedgerError {
    LedgerError::Other(e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_processes_share_the_ledger_and_their_commits_survive_abort() -> TestResult {
    let scratch = Scratch::new();
    let ledger = scratch.open();
    let topic = ledger.create_topic("crowded").await?;
    let exe = std::env::current_exe().map_err(io)?;
    let mut children = Vec::new();
    for _ in 0..2 {
        let child = tokio::process::Command::new(&exe)
            .args([
                "--exact",
                "ledger::local::tests::waiting::child_process_writer",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, &scratch.0)
            .env(CHILD_TOPIC, &topic.0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(io)?;
        children.push(child);
    }
    for i in 0..CHILD_MESSAGES {
        ledger.submit(&topic, format!("parent: {i}").as_bytes()).await?;
    }
    for mut child in children {
        let status = child.wait().await.map_err(io)?;
        assert!(!status.success(), "the child should have aborted: {status}");
    }
    let all = ledger.messages(&topic, 0, 1000).await?;
    assert_eq!(sequences(&all), (1..=3 * CHILD_MESSAGES as u64).collect::<Vec<_>>());
    assert_strictly_increasing(&all);
    let from_children = all.iter().filter(|m| m.payload.starts_with(b"child")).count();
    assert_eq!(from_children, 2 * CHILD_MESSAGES);
    Ok(())
}
