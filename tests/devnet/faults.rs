//! Faults on demand: the SDK still gets every transaction through, exactly once.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_faults_still_pay_exactly_once() -> TestResult {
    let faults = Faults {
        busy_rate: 0.5,
        drop_rate: 0.2,
        seed: 7,
        ..Faults::default()
    };
    let net = Net::start(faults).await?;
    net.client.set_max_attempts(40);
    net.client.set_max_backoff(Duration::from_millis(50));
    // The node account: it receives each transfer and its fee, so both must arrive exactly once.
    let payee = AccountId::new(0, 0, 3);
    let (before, _) = net.balances(payee).await?;
    let mut expected = 0;
    for i in 1..=6 {
        let id = TransactionId::generate(net.operator);
        let mut transfer = TransferTransaction::new();
        transfer
            .transaction_id(id)
            .hbar_transfer(net.operator, Hbar::from_tinybars(-i))
            .hbar_transfer(payee, Hbar::from_tinybars(i));
        match transfer.execute(&net.client).await {
            Ok(_) => {}
            // The first attempt went through and its answer was lost: the id was seen.
            Err(Error::TransactionPreCheckStatus {
                status: Status::DuplicateTransaction,
                ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
        let receipt = TransactionReceiptQuery::new()
            .transaction_id(id)
            .execute(&net.client)
            .await?;
        assert_eq!(receipt.status, Status::Success);
        expected += i + 100_000;
    }
    let (after, _) = net.balances(payee).await?;
    assert_eq!(
        after - before,
        expected,
        "each transfer and its fee arrived exactly once"
    );
    net.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_latency_and_late_receipts_only_delay_answers() -> TestResult {
    let faults = Faults {
        consensus_latency: Duration::from_millis(300),
        receipt_delay: Duration::from_millis(300),
        ..Faults::default()
    };
    let net = Net::start(faults).await?;
    let started = std::time::Instant::now();
    let topic = net.topic().await?;
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "consensus and the receipt were not late"
    );
    let record = TopicMessageSubmitTransaction::new()
        .topic_id(topic)
        .message(b"late".to_vec())
        .execute(&net.client)
        .await?
        .get_record(&net.client)
        .await?;
    assert_eq!(record.receipt.topic_sequence_number, 1);
    net.finish().await;
    Ok(())
}
