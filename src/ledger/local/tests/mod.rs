use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

mod log;
mod opening;
mod upgrade;
mod waiting;
mod writing;

/// A fresh directory under the system's temp dir, removed when dropped.
pub(super) struct Scratch(PathBuf);

impl Scratch {
    pub(super) fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("baton-ledger-test-{}-{n}-{}", std::process::id(), wall_clock());
        Self(std::env::temp_dir().join(name))
    }

    pub(super) fn open(&self) -> LocalLedger {
        match LocalLedger::open(&self.0) {
            Ok(ledger) => ledger,
            Err(e) => panic!("opening the ledger: {e}"),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) type TestResult = Result<(), LedgerError>;

pub(super) fn account(n: u32) -> AccountId {
    AccountId(format!("0.0.{n}"))
}

pub(super) fn tx(n: i64) -> TxId {
    TxId {
        payer: account(2),
        valid_start: ConsensusTime(n),
    }
}

pub(super) fn mv(n: u32, amount: i64) -> TokenMove {
    TokenMove {
        account: account(n),
        amount,
    }
}

const TREASURY: u32 = 2;
const ALICE: u32 = 10;
const BOB: u32 = 11;
const CAROL: u32 = 12; // exists, not associated

pub(super) fn token() -> TokenId {
    TokenId("0.0.5000".to_owned())
}

/// A ledger with a token of 1000 units at the treasury; Alice and Bob associated, Carol not.
pub(super) async fn funded(scratch: &Scratch) -> Result<LocalLedger, LedgerError> {
    let ledger = scratch.open();
    for (n, key) in [(TREASURY, 1), (ALICE, 2), (BOB, 3), (CAROL, 4)] {
        ledger.ensure_account(&account(n), &[key; 32]).await?;
    }
    ledger
        .ensure_token(&token(), "FEST", 2, &account(TREASURY), 1000)
        .await?;
    ledger.associate(&account(ALICE), &token()).await?;
    ledger.associate(&account(BOB), &token()).await?;
    Ok(ledger)
}

pub(super) async fn balances(ledger: &LocalLedger) -> Result<Vec<i64>, LedgerError> {
    let mut all = Vec::new();
    for n in [TREASURY, ALICE, BOB, CAROL] {
        all.push(ledger.token_balance(&account(n), &token()).await?);
    }
    Ok(all)
}

pub(super) fn sequences(messages: &[TopicMessage]) -> Vec<u64> {
    messages.iter().map(|m| m.sequence).collect()
}

pub(super) fn assert_strictly_increasing(messages: &[TopicMessage]) {
    for pair in messages.windows(2) {
        assert!(pair[0].consensus < pair[1].consensus, "{pair:?}");
    }
}

#[tokio::test]
async fn sequence_numbers_and_strictly_increasing_consensus() -> TestResult {
    let scratch = Scratch::new();
    let ledger = scratch.open();
    let topic = ledger.create_topic("runs").await?;
    let other = ledger.create_topic("other").await?;
    assert_eq!(topic.0, "0.0.4001");
    assert_eq!(other.0, "0.0.4002");
    let mut last = ConsensusTime(0);
    for i in 1..=20u64 {
        let (sequence, consensus) = ledger.submit(&topic, &i.to_be_bytes()).await?;
        assert_eq!(sequence, i);
        assert!(consensus > last);
        last = consensus;
    }
    assert_eq!(ledger.submit(&other, b"x").await?.0, 1);
    assert!(ledger.now().await? >= last);

    let all = ledger.messages(&topic, 0, 100).await?;
    assert_eq!(sequences(&all), (1..=20).collect::<Vec<_>>());
    assert_strictly_increasing(&all);
    assert_eq!(all[4].payload, 5u64.to_be_bytes());
    assert_eq!(sequences(&ledger.messages(&topic, 5, 3).await?), [6, 7, 8]);
    assert!(ledger.messages(&topic, 20, 10).await?.is_empty());

    let missing = TopicId("0.0.9999".to_owned());
    assert!(matches!(ledger.submit(&missing, b"x").await, Err(LedgerError::UnknownTopic(t)) if t == missing));
    assert!(matches!(
        ledger.messages(&missing, 0, 10).await,
        Err(LedgerError::UnknownTopic(_))
    ));
    Ok(())
}

#[tokio::test]
async fn a_bulk_submit_numbers_and_times_like_single_submits() -> TestResult {
    let scratch = Scratch::new();
    let ledger = scratch.open();
    let (a, b) = (ledger.create_topic("a").await?, ledger.create_topic("b").await?);
    let (_, before) = ledger.submit(&a, b"first").await?;
    let batch: Vec<(TopicId, Vec<u8>)> = (0..6u8)
        .map(|i| (if i % 3 == 0 { b.clone() } else { a.clone() }, vec![i]))
        .collect();
    let written = ledger.submit_many(&batch)?;
    let sequences: Vec<u64> = written.iter().map(|w| w.0).collect();
    assert_eq!(sequences, [1, 2, 3, 2, 4, 5]);
    assert!(written[0].1 > before);
    assert!(written.windows(2).all(|w| w[0].1 < w[1].1), "{written:?}");
    let (sequence, after) = ledger.submit(&a, b"last").await?;
    assert_eq!((sequence, after > written[5].1), (6, true));
    let on_b = ledger.messages(&b, 0, 10).await?;
    assert_eq!(
        on_b.iter().map(|m| m.payload.clone()).collect::<Vec<_>>(),
        [vec![0], vec![3]]
    );
    assert_strictly_increasing(&ledger.messages(&a, 0, 10).await?);
    let missing = TopicId("0.0.9999".to_owned());
    assert!(matches!(
        ledger.submit_many(&[(a.clone(), vec![9]), (missing, vec![9])]),
        Err(LedgerError::UnknownTopic(_))
    ));
    assert_eq!(
        ledger.messages(&a, 6, 10).await?.len(),
        0,
        "a refused batch writes nothing"
    );
    Ok(())
}

#[tokio::test]
async fn submit_all_appends_in_order_at_once_or_not_at_all() -> TestResult {
    let scratch = Scratch::new();
    let ledger = scratch.open();
    let topic = ledger.create_topic("t").await?;
    ledger.submit(&topic, b"first").await?;
    ledger.submit_all(&topic, &[]).await?;
    let batch: Vec<Payload> = (0..5u8).map(|i| vec![i].into()).collect();
    ledger.submit_all(&topic, &batch).await?;
    let messages = ledger.messages(&topic, 1, 10).await?;
    assert_eq!(sequences(&messages), [2, 3, 4, 5, 6]);
    assert_eq!(messages.iter().map(|m| m.payload.clone()).collect::<Vec<_>>(), batch);
    assert_strictly_increasing(&messages);
    let missing = TopicId("0.0.9999".to_owned());
    assert!(matches!(
        ledger.submit_all(&missing, &batch).await,
        Err(LedgerError::UnknownTopic(_))
    ));
    Ok(())
}

#[tokio::test]
async fn consensus_time_never_goes_back_even_if_the_clock_does() -> TestResult {
    let scratch = Scratch::new();
    let ledger = scratch.open();
    let topic = ledger.create_topic("t").await?;
    let future = wall_clock() + 3_600_000_000_000;
    ledger.write("test", |conn| set_meta(conn, META_LAST_CONSENSUS, future))?;
    assert_eq!(ledger.now().await?, ConsensusTime(future));
    assert_eq!(ledger.submit(&topic, b"a").await?.1, ConsensusTime(future + 1));
    assert_eq!(ledger.submit(&topic, b"b").await?.1, ConsensusTime(future + 2));
    Ok(())
}

#[tokio::test]
async fn two_ledgers_on_one_dir_are_one_ledger() -> TestResult {
    let scratch = Scratch::new();
    let a = scratch.open();
    let b = scratch.open();
    let topic = a.create_topic("shared").await?;
    assert_eq!(b.submit(&topic, b"from b").await?.0, 1);
    assert_eq!(a.submit(&topic, b"from a").await?.0, 2);
    let seen_by_a = a.messages(&topic, 0, 10).await?;
    let seen_by_b = b.messages(&topic, 0, 10).await?;
    assert_eq!(seen_by_a, seen_by_b);
    assert_eq!(seen_by_a[0].payload, b"from b");
    assert_strictly_increasing(&seen_by_a);
    assert_eq!(b.create_topic("second").await?.0, "0.0.4002");
    drop(a);
    drop(b);
    let reopened = scratch.open();
    assert_eq!(reopened.messages(&topic, 0, 10).await?, seen_by_b);
    assert_eq!(reopened.create_topic("third").await?.0, "0.0.4003");
    Ok(())
}

#[tokio::test]
async fn reads_of_what_a_value_wrote_itself_match_the_database_whoever_wrote_between() -> TestResult {
    let scratch = Scratch::new();
    let (a, b) = (scratch.open(), scratch.open());
    let topic = a.create_topic("shared").await?;
    let other = a.create_topic("other").await?;
    // Runs of a's own writes broken by b's, on two topics, alone, in bulk and grouped.
    for round in 0..4u8 {
        a.submit(&topic, &[round, 1]).await?;
        a.submit_all(&topic, &[vec![round, 2].into(), vec![round, 3].into()])
            .await?;
        a.submit_many(&[(other.clone(), vec![round, 4]), (topic.clone(), vec![round, 5])])?;
        if round % 2 == 0 {
            b.submit(&topic, &[round, 6]).await?;
        }
    }
    // A value that wrote nothing reads everything from the database.
    let fresh = scratch.open();
    for t in [&topic, &other] {
        let whole = fresh.messages(t, 0, 1000).await?;
        for after in 0..=whole.len() as u64 + 1 {
            for limit in [1, 3, 1000] {
                let want: Vec<TopicMessage> = whole
                    .iter()
                    .filter(|m| m.sequence > after)
                    .take(limit)
                    .cloned()
                    .collect();
                let got = a.messages(t, after, limit).await?;
                assert_eq!(got, want, "topic {t}, after {after}, limit {limit}");
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_get_distinct_sequences() -> TestResult {
    let scratch = Scratch::new();
    let ledgers = [Arc::new(scratch.open()), Arc::new(scratch.open())];
    let topic = ledgers[0].create_topic("busy").await?;
    let mut tasks = Vec::new();
    for writer in 0..4usize {
        let ledger = Arc::clone(&ledgers[writer % 2]);
        let topic = topic.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25usize {
                ledger.submit(&topic, format!("{writer}-{i}").as_bytes()).await?;
            }
            Ok::<(), LedgerError>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|e| LedgerError::Other(e.to_string()))??;
    }
    let all = ledgers[1].messages(&topic, 0, 1000).await?;
    assert_eq!(sequences(&all), (1..=100).collect::<Vec<_>>());
    assert_strictly_increasing(&all);
    Ok(())
}

#[tokio::test]
async fn accounts_tokens_and_associations() -> TestResult {
    let scratch = Scratch::new();
    let ledger = funded(&scratch).await?;
    ledger.ensure_account(&account(ALICE), &[99; 32]).await?;
    assert_eq!(ledger.account_key(&account(ALICE)).await?, Some([2; 32]));
    assert_eq!(ledger.account_key(&account(77)).await?, None);
    ledger
        .ensure_token(&token(), "FEST", 2, &account(TREASURY), 5000)
        .await?;
    ledger.associate(&account(ALICE), &token()).await?;
    assert_eq!(balances(&ledger).await?, [1000, 0, 0, 0]);

    let other = TokenId("0.0.5001".to_owned());
    assert!(matches!(
        ledger.ensure_token(&other, "X", 0, &account(77), 1).await,
        Err(LedgerError::UnknownAccount(a)) if a == account(77)
    ));
    assert!(matches!(
        ledger.associate(&account(77), &token()).await,
        Err(LedgerError::UnknownAccount(_))
    ));
    assert!(matches!(
        ledger.associate(&account(ALICE), &other).await,
        Err(LedgerError::UnknownToken(_))
    ));
    assert!(matches!(
        ledger.token_balance(&account(77), &token()).await,
        Err(LedgerError::UnknownAccount(_))
    ));
    assert!(matches!(
        ledger.token_balance(&account(ALICE), &other).await,
        Err(LedgerError::UnknownToken(_))
    ));
    Ok(())
}

#[tokio::test]
async fn a_transfer_moves_balances_and_is_listed() -> TestResult {
    let scratch = Scratch::new();
    let ledger = funded(&scratch).await?;
    let moves = [mv(TREASURY, -300), mv(ALICE, 200), mv(BOB, 100)];
    let receipt = ledger.transfer(&tx(1), &token(), &moves, "pay task a").await?;
    assert_eq!(receipt.status, Status::Success);
    assert_eq!(receipt.tx, tx(1));
    assert_eq!(balances(&ledger).await?, [700, 200, 100, 0]);
    assert_eq!(ledger.receipt(&tx(1)).await?, Some(receipt));
    assert_eq!(ledger.receipt(&tx(2)).await?, None);
    let listed = ledger.transfers()?;
    assert_eq!(
        listed,
        [(tx(1), "pay task a".to_owned(), moves.to_vec(), Status::Success)]
    );
    // The same account twice nets out.
    let receipt = ledger
        .transfer(&tx(2), &token(), &[mv(ALICE, -150), mv(ALICE, 50), mv(BOB, 100)], "")
        .await?;
    assert_eq!(receipt.status, Status::Success);
    assert_eq!(balances(&ledger).await?, [700, 100, 200, 0]);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_transaction_id_changes_nothing() -> TestResult {
    let scratch = Scratch::new();
    let ledger = funded(&scratch).await?;
    let first = ledger
        .transfer(&tx(7), &token(), &[mv(TREASURY, -10), mv(ALICE, 10)], "once")
        .await?;
    let again = ledger
        .transfer(&tx(7), &token(), &[mv(TREASURY, -10), mv(ALICE, 10)], "once")
        .await;
    assert!(matches!(again, Err(LedgerError::Duplicate(t)) if t == tx(7)));
    let other = scratch.open();
    let different = other
        .transfer(&tx(7), &token(), &[mv(TREASURY, -99), mv(BOB, 99)], "other")
        .await;
    assert!(matches!(different, Err(LedgerError::Duplicate(_))));
    assert_eq!(balances(&ledger).await?, [990, 10, 0, 0]);
    assert_eq!(ledger.receipt(&tx(7)).await?, Some(first));
    assert_eq!(ledger.transfers()?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn every_refusal_moves_nothing_and_consumes_the_id() -> TestResult {
    let scratch = Scratch::new();
    let ledger = funded(&scratch).await?;
    let eleven: Vec<TokenMove> = std::iter::once(mv(TREASURY, -10))
        .chain((0..10).map(|_| mv(ALICE, 1)))
        .collect();
    let cases: Vec<(Vec<TokenMove>, TokenId, Status)> = vec![
        (eleven, token(), Status::TokenTransferListSizeLimitExceeded),
        (
            vec![mv(TREASURY, -10), mv(ALICE, 9)],
            token(),
            Status::TransfersNotZeroSumForToken,
        ),
        (
            vec![mv(TREASURY, -10), mv(ALICE, 10)],
            TokenId("0.0.5999".to_owned()),
            Status::InvalidTokenId,
        ),
        (vec![mv(TREASURY, -10), mv(88, 10)], token(), Status::InvalidAccountId),
        (
            vec![mv(TREASURY, -10), mv(CAROL, 10)],
            token(),
            Status::TokenNotAssociatedToAccount,
        ),
        (
            vec![mv(ALICE, -1), mv(BOB, 1)],
            token(),
            Status::InsufficientTokenBalance,
        ),
        (
            vec![mv(TREASURY, -1001), mv(BOB, 1001)],
            token(),
            Status::InsufficientTokenBalance,
        ),
    ];
    for (i, (moves, token_id, status)) in cases.into_iter().enumerate() {
        let id = tx(100 + i64::try_from(i).unwrap_or_default());
        let receipt = ledger.transfer(&id, &token_id, &moves, "refused").await?;
        assert_eq!(receipt.status, status, "case {i}");
        assert_eq!(balances(&ledger).await?, [1000, 0, 0, 0], "case {i}");
        assert_eq!(ledger.receipt(&id).await?, Some(receipt));
        let retry = ledger
            .transfer(&id, &token(), &[mv(TREASURY, -1), mv(ALICE, 1)], "retry")
            .await;
        assert!(matches!(retry, Err(LedgerError::Duplicate(_))), "case {i}");
        assert_eq!(balances(&ledger).await?, [1000, 0, 0, 0], "case {i}");
    }
    assert_eq!(ledger.transfers()?.len(), 7);
    Ok(())
}

#[tokio::test]
async fn ten_moves_pass_and_eleven_are_refused() -> TestResult {
    let scratch = Scratch::new();
    let ledger = funded(&scratch).await?;
    let ten: Vec<TokenMove> = std::iter::once(mv(TREASURY, -9))
        .chain((0..9).map(|_| mv(ALICE, 1)))
        .collect();
    assert_eq!(
        ledger.transfer(&tx(1), &token(), &ten, "").await?.status,
        Status::Success
    );
    let eleven: Vec<TokenMove> = std::iter::once(mv(TREASURY, -10))
        .chain((0..10).map(|_| mv(BOB, 1)))
        .collect();
    let receipt = ledger.transfer(&tx(2), &token(), &eleven, "").await?;
    assert_eq!(receipt.status, Status::TokenTransferListSizeLimitExceeded);
    assert_eq!(balances(&ledger).await?, [991, 9, 0, 0]);
    Ok(())
}

#[tokio::test]
async fn transfers_together_answer_as_one_after_the_other() -> TestResult {
    let order = |n: i64, moves: Vec<TokenMove>| TokenTransfer {
        tx: tx(n),
        token: token(),
        moves,
        memo: format!("t{n}"),
    };
    let batch = [
        order(1, vec![mv(TREASURY, -600), mv(ALICE, 600)]),
        order(2, vec![mv(TREASURY, -10), mv(CAROL, 10)]),
        order(1, vec![mv(TREASURY, -1), mv(BOB, 1)]),
        // Only possible after the first: Alice's tokens come from it.
        order(3, vec![mv(ALICE, -500), mv(BOB, 500)]),
        order(4, vec![mv(TREASURY, -500), mv(BOB, 500)]),
        order(9, vec![mv(TREASURY, -1), mv(ALICE, 1)]),
    ];
    let (one, other) = (Scratch::new(), Scratch::new());
    let (together, apart) = (funded(&one).await?, funded(&other).await?);
    for ledger in [&together, &apart] {
        ledger
            .transfer(&tx(9), &token(), &[mv(TREASURY, -1), mv(BOB, 1)], "before")
            .await?;
    }
    let answers = together.transfer_all(&batch).await?;
    let outcome = |a: &Result<Receipt, LedgerError>| match a {
        Ok(receipt) => Ok(receipt.status),
        Err(LedgerError::Duplicate(t)) => Err(t.clone()),
        Err(e) => panic!("unexpected answer: {e}"),
    };
    let mut one_by_one = Vec::new();
    for t in &batch {
        one_by_one.push(apart.transfer(&t.tx, &t.token, &t.moves, &t.memo).await);
    }
    let seen: Vec<_> = answers.iter().map(outcome).collect();
    assert_eq!(seen, one_by_one.iter().map(outcome).collect::<Vec<_>>());
    assert_eq!(
        seen,
        [
            Ok(Status::Success),
            Ok(Status::TokenNotAssociatedToAccount),
            Err(tx(1)),
            Ok(Status::Success),
            Ok(Status::InsufficientTokenBalance),
            Err(tx(9)),
        ]
    );
    assert_eq!(balances(&together).await?, [399, 100, 501, 0]);
    assert_eq!(balances(&together).await?, balances(&apart).await?);
    assert_eq!(together.transfers()?.len(), 5);
    Ok(())
}
