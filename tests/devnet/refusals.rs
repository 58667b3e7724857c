//! Input Hedera refuses, answered with its own statuses: at pre-check or in the receipt.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_refuses_token_moves_it_cannot_make() -> TestResult {
    let net = Net::start(Faults::default()).await?;
    let token = net.token().await?;
    let (stranger, stranger_key) = net.account(1).await?;

    let mut to_stranger = TransferTransaction::new();
    to_stranger
        .token_transfer(token, net.operator, -5)
        .token_transfer(token, stranger, 5);
    let mut response = to_stranger.execute(&net.client).await?;
    assert_eq!(
        receipt(&net.client, &mut response).await?.status,
        Status::TokenNotAssociatedToAccount
    );

    net.associate(stranger, &stranger_key, token).await?;
    let mut overdraw = TransferTransaction::new();
    overdraw
        .token_transfer(token, stranger, -5)
        .token_transfer(token, net.operator, 5);
    overdraw.freeze_with(&net.client)?.sign(stranger_key);
    let mut response = overdraw.execute(&net.client).await?;
    assert_eq!(
        receipt(&net.client, &mut response).await?.status,
        Status::InsufficientTokenBalance
    );
    assert_eq!(net.balances(stranger).await?.1.get(&token), Some(&0));

    let mut nowhere = TopicMessageSubmitTransaction::new();
    nowhere.topic_id(TopicId::new(0, 0, 999_999)).message(b"lost".to_vec());
    let mut response = nowhere.execute(&net.client).await?;
    assert_eq!(
        receipt(&net.client, &mut response).await?.status,
        Status::InvalidTopicId
    );
    net.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_refuses_bad_signatures_duplicates_and_low_fees() -> TestResult {
    let net = Net::start(Faults::default()).await?;
    let (stranger, _) = net.account(1).await?;

    let mut unsigned = TransferTransaction::new();
    unsigned
        .hbar_transfer(stranger, Hbar::from_tinybars(-10))
        .hbar_transfer(net.operator, Hbar::from_tinybars(10));
    let mut response = unsigned.execute(&net.client).await?;
    assert_eq!(
        receipt(&net.client, &mut response).await?.status,
        Status::InvalidSignature
    );

    let impostor = client_for(&net.devnet, net.operator, PrivateKey::generate_ed25519())?;
    let refused = TopicCreateTransaction::new().execute(&impostor).await;
    assert_eq!(precheck_status(refused), Some(Status::InvalidSignature));

    let id = TransactionId::generate(net.operator);
    pay(&net, stranger, 1)
        .transaction_id(id)
        .execute(&net.client)
        .await?
        .get_receipt(&net.client)
        .await?;
    let again = pay(&net, stranger, 1).transaction_id(id).execute(&net.client).await;
    assert_eq!(precheck_status(again), Some(Status::DuplicateTransaction));

    let cheap = pay(&net, stranger, 1)
        .max_transaction_fee(Hbar::from_tinybars(1))
        .execute(&net.client)
        .await;
    assert_eq!(precheck_status(cheap), Some(Status::InsufficientTxFee));
    net.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_refuses_oversized_messages_and_transactions() -> TestResult {
    let net = Net::start(Faults::default()).await?;
    let topic = net.topic().await?;
    let mut big_chunk = TopicMessageSubmitTransaction::new();
    big_chunk.topic_id(topic).chunk_size(2048).message(vec![7; 1500]);
    let mut response = big_chunk.execute(&net.client).await?;
    assert_eq!(
        receipt(&net.client, &mut response).await?.status,
        Status::MessageSizeTooLarge
    );

    let mut oversize = TopicMessageSubmitTransaction::new();
    oversize.topic_id(topic).chunk_size(8192).message(vec![7; 7000]);
    assert_eq!(
        precheck_status(oversize.execute(&net.client).await),
        Some(Status::TransactionOversize)
    );
    net.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_answers_malformed_requests_with_statuses() -> TestResult {
    use hiero_sdk_proto::services as pb;
    use pb::crypto_service_client::CryptoServiceClient;

    let net = Net::start(Faults::default()).await?;
    let mut raw = CryptoServiceClient::connect(format!("http://{}", net.devnet.node)).await?;
    let garbage = pb::Transaction {
        signed_transaction_bytes: vec![0xff; 40],
        ..Default::default()
    };
    let answer = raw.crypto_transfer(garbage).await?.into_inner();
    assert_eq!(answer.node_transaction_precheck_code, Status::InvalidTransaction as i32);
    let empty = raw.get_account_info(pb::Query::default()).await;
    assert_eq!(empty.err().map(|s| s.code()), Some(tonic::Code::InvalidArgument));
    let unserved = raw.get_account_records(pb::Query::default()).await;
    assert_eq!(unserved.err().map(|s| s.code()), Some(tonic::Code::Unimplemented));
    net.finish().await;
    Ok(())
}
