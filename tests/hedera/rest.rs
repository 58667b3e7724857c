//! The mirror's REST API through the backend: records of transactions whose receipts the nodes
//! forgot, transactions that never executed, and token balances.

use super::*;

/// How long the devnet keeps receipts in these tests (Hedera: about three minutes).
const RECEIPT_TTL: Duration = Duration::from_secs(3);

/// A transaction id paid by `payer` whose valid start is `secs_ago` seconds in the past.
fn started_ago(payer: &AccountId, secs_ago: i64) -> TxId {
    tx_id(payer, -secs_ago * 1_000_000_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_whose_receipt_is_gone_is_found_in_the_mirror_with_its_status() {
    let faults = Faults {
        receipt_ttl: RECEIPT_TTL,
        ..Faults::default()
    };
    let harness = Harness::with_faults("rest-record", faults).await;
    let ledger = &harness.ledger;
    let operator = ledger.operator().clone();
    let agent = account(ledger, 0).await;
    let token = token_for(ledger, &[&agent]).await;
    let paid = tx_id(&operator, 0);
    let pay = moves(&[(&operator, -25), (&agent.0, 25)]);
    let receipt = ledger
        .transfer(&paid, &token, &pay, "payment:task:one")
        .await
        .expect("paid");
    assert_eq!(receipt.status, Status::Success);
    let short = tx_id(&operator, 1);
    let too_much = moves(&[(&operator, -2_000_000), (&agent.0, 2_000_000)]);
    let refused = ledger
        .transfer(&short, &token, &too_much, "overdrawn")
        .await
        .expect("executed");
    assert_eq!(refused.status, Status::InsufficientTokenBalance);

    tokio::time::sleep(RECEIPT_TTL + Duration::from_millis(500)).await;
    assert_eq!(
        ledger.receipt(&paid).await.expect("readable"),
        None,
        "the receipt is forgotten"
    );
    assert_eq!(ledger.record(&paid).await.expect("readable"), Some(receipt.clone()));
    assert_eq!(ledger.record(&short).await.expect("readable"), Some(refused));
    assert_eq!(ledger.settled_record(&paid).await.expect("readable"), Some(receipt));
    // Still inside its validity window, the same id is refused as a duplicate: nothing paid twice.
    let again = ledger.transfer(&paid, &token, &pay, "payment:task:one").await;
    assert!(matches!(again, Err(LedgerError::Duplicate(_))), "{again:?}");
    assert_eq!(ledger.token_balance(&agent.0, &token).await.expect("a balance"), 25);

    let unknown = tx_id(&operator, 2);
    assert_eq!(ledger.record(&unknown).await.expect("readable"), None);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_never_executed_is_expired_once_its_window_is_long_past() {
    let harness = Harness::start("rest-expired").await;
    let ledger = &harness.ledger;
    let operator = ledger.operator().clone();
    let agent = account(ledger, 0).await;
    let token = token_for(ledger, &[&agent]).await;
    let pay = moves(&[(&operator, -5), (&agent.0, 5)]);

    let stale = started_ago(&operator, 300);
    let refused = ledger.transfer(&stale, &token, &pay, "late").await;
    assert!(matches!(refused, Err(LedgerError::Expired(_))), "{refused:?}");
    assert_eq!(ledger.record(&stale).await.expect("readable"), None);
    let settled = ledger.settled_record(&stale).await.expect("settled");
    let settled = settled.expect("a transaction long past its window is settled");
    assert_eq!(settled.status, Status::TransactionExpired);
    assert_eq!(settled.status.to_string(), "TRANSACTION_EXPIRED");
    assert_eq!(settled.tx, stale);

    // One whose window has not opened yet may still execute: nothing can be said of it.
    let future = tx_id(&operator, 60_000_000_000);
    assert_eq!(ledger.settled_record(&future).await.expect("readable"), None);
    assert_eq!(ledger.token_balance(&agent.0, &token).await.expect("a balance"), 0);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_balances_read_from_the_mirror_match_the_nodes() {
    let harness = Harness::start("rest-balances").await;
    let ledger = &harness.ledger;
    let operator = ledger.operator().clone();
    let agent = account(ledger, 0).await;
    let stranger = account(ledger, 0).await;
    let token = token_for(ledger, &[&agent]).await;
    let pay = moves(&[(&operator, -1_234), (&agent.0, 1_234)]);
    ledger
        .transfer(&tx_id(&operator, 0), &token, &pay, "pay")
        .await
        .expect("paid");
    for (who, expected) in [(&operator, 1_000_000 - 1_234), (&agent.0, 1_234), (&stranger.0, 0)] {
        let node = ledger.token_balance(who, &token).await.expect("from the node");
        let mirror = ledger.mirror_token_balance(who, &token).await.expect("from the mirror");
        assert_eq!((node, mirror), (expected, expected), "account `{who}`");
    }
    let absent = AccountId("0.0.987654".into());
    let missing = ledger.mirror_token_balance(&absent, &token).await;
    assert!(matches!(missing, Err(LedgerError::UnknownAccount(_))), "{missing:?}");
    harness.stop().await;
}
