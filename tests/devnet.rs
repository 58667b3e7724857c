//! `baton devnet` against the real hiero-sdk client: accounts, topics and chunked messages through
//! the mirror, tokens, records and fees, schedules, information queries and restarts; the
//! statuses of bad input (`refusals`) and faults (`faults`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use baton::devnet::{Config, Devnet, Faults};
use hiero_sdk::{
    AccountBalanceQuery, AccountCreateTransaction, AccountId, Client, Error, Hbar, PrivateKey,
    ScheduleCreateTransaction, ScheduleSignTransaction, Status, TokenAssociateTransaction, TokenCreateTransaction,
    TokenId, TopicCreateTransaction, TopicId, TopicMessageQuery, TopicMessageSubmitTransaction, TransactionId,
    TransactionReceipt, TransactionReceiptQuery, TransactionResponse, TransferTransaction,
};
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

mod faults;
mod refusals;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A devnet on free ports with its own state directory, and a client paid by its operator.
struct Net {
    devnet: Devnet,
    cancel: CancellationToken,
    client: Client,
    operator: AccountId,
    state: PathBuf,
}

impl Net {
    async fn start(faults: Faults) -> Result<Net, Box<dyn std::error::Error>> {
        Self::start_in(scratch(), faults).await
    }

    async fn start_in(state: PathBuf, faults: Faults) -> Result<Net, Box<dyn std::error::Error>> {
        let cancel = CancellationToken::new();
        let config = Config {
            node: "127.0.0.1:0".parse()?,
            mirror: "127.0.0.1:0".parse()?,
            rest: "127.0.0.1:0".parse()?,
            state: state.clone(),
            faults,
        };
        let devnet = Devnet::start(config, cancel.clone()).await?;
        let operator: AccountId = devnet.operator.0.parse()?;
        let key = PrivateKey::from_bytes_ed25519(&devnet.operator_key.to_bytes())?;
        let client = client_for(&devnet, operator, key)?;
        Ok(Net {
            devnet,
            cancel,
            client,
            operator,
            state,
        })
    }

    /// Stops the devnet; the state directory stays for a restart.
    async fn stop(self) -> PathBuf {
        drop(self.client);
        self.cancel.cancel();
        self.devnet.stopped().await;
        self.state
    }

    async fn finish(self) {
        let state = self.stop().await;
        let _ = std::fs::remove_dir_all(state);
    }

    /// A new account holding `hbar` and the key that controls it.
    async fn account(&self, hbar: i64) -> Result<(AccountId, PrivateKey), Box<dyn std::error::Error>> {
        let key = PrivateKey::generate_ed25519();
        let receipt = AccountCreateTransaction::new()
            .set_key_without_alias(key.public_key())
            .initial_balance(Hbar::new(hbar))
            .execute(&self.client)
            .await?
            .get_receipt(&self.client)
            .await?;
        Ok((receipt.account_id.ok_or("no account id in the receipt")?, key))
    }

    async fn topic(&self) -> Result<TopicId, Box<dyn std::error::Error>> {
        let receipt = TopicCreateTransaction::new()
            .topic_memo("devnet test")
            .execute(&self.client)
            .await?
            .get_receipt(&self.client)
            .await?;
        Ok(receipt.topic_id.ok_or("no topic id in the receipt")?)
    }

    /// A token of 1,000,000 minor units (2 decimals) held by the operator.
    async fn token(&self) -> Result<TokenId, Box<dyn std::error::Error>> {
        let receipt = TokenCreateTransaction::new()
            .name("Festival Token")
            .symbol("FEST")
            .decimals(2)
            .initial_supply(1_000_000)
            .treasury_account_id(self.operator)
            .execute(&self.client)
            .await?
            .get_receipt(&self.client)
            .await?;
        Ok(receipt.token_id.ok_or("no token id in the receipt")?)
    }

    async fn associate(&self, account: AccountId, key: &PrivateKey, token: TokenId) -> TestResult {
        TokenAssociateTransaction::new()
            .account_id(account)
            .token_ids([token])
            .freeze_with(&self.client)?
            .sign(key.clone())
            .execute(&self.client)
            .await?
            .get_receipt(&self.client)
            .await?;
        Ok(())
    }

    async fn balances(&self, account: AccountId) -> Result<(i64, HashMap<TokenId, u64>), Box<dyn std::error::Error>> {
        let balance = AccountBalanceQuery::new()
            .account_id(account)
            .execute(&self.client)
            .await?;
        #[allow(deprecated)]
        Ok((balance.hbars.to_tinybars(), balance.tokens))
    }
}

fn client_for(devnet: &Devnet, operator: AccountId, key: PrivateKey) -> Result<Client, Box<dyn std::error::Error>> {
    let node_account: AccountId = devnet.node_account.0.parse()?;
    let client = Client::for_network(HashMap::from([(
        format!("127.0.0.1:{}", devnet.node.port()),
        node_account,
    )]))?;
    client.set_mirror_network([format!("127.0.0.1:{}", devnet.mirror.port())]);
    client.set_operator(operator, key);
    Ok(client)
}

fn scratch() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("baton-devnet-{}-{nanos}-{n}", std::process::id()))
}

/// The receipt of a response whatever its status.
async fn receipt(client: &Client, response: &mut TransactionResponse) -> Result<TransactionReceipt, Error> {
    response.validate_status(false).get_receipt(client).await
}

fn precheck_status<T: std::fmt::Debug>(result: Result<T, Error>) -> Option<Status> {
    match result {
        Err(Error::TransactionPreCheckStatus { status, .. }) => Some(status),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_accounts_topics_and_chunked_messages() -> TestResult {
    let net = Net::start(Faults::default()).await?;
    let (account, _key) = net.account(10).await?;
    let (hbar, _) = net.balances(account).await?;
    assert_eq!(hbar, 10 * 100_000_000);

    let topic = net.topic().await?;
    let start = TransactionId::generate(net.operator).valid_start;
    let message: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
    let responses = TopicMessageSubmitTransaction::new()
        .topic_id(topic)
        .message(message.clone())
        .execute_all(&net.client)
        .await?;
    assert_eq!(responses.len(), 3, "2500 bytes go in three chunks");
    let last = responses[2].get_receipt(&net.client).await?;
    assert_eq!(last.topic_sequence_number, 3);

    let mut subscription = TopicMessageQuery::new()
        .topic_id(topic)
        .start_time(start)
        .subscribe(&net.client);
    let read = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await?
        .ok_or("the subscription ended")??;
    assert_eq!(read.contents, message);
    assert_eq!(read.chunks.as_ref().map(Vec::len), Some(3));

    let single = TopicMessageSubmitTransaction::new()
        .topic_id(topic)
        .message(b"after".to_vec())
        .execute(&net.client)
        .await?;
    single.get_receipt(&net.client).await?;
    let live = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await?
        .ok_or("the subscription ended")??;
    assert_eq!(live.contents, b"after");
    assert_eq!(live.sequence_number, 4);
    assert!(live.consensus_timestamp > read.consensus_timestamp);
    drop(subscription);
    net.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_mirror_honours_limits_and_refuses_unknown_topics() -> TestResult {
    let net = Net::start(Faults::default()).await?;
    let topic = net.topic().await?;
    let start = TransactionId::generate(net.operator).valid_start;
    for text in ["one", "two", "three"] {
        TopicMessageSubmitTransaction::new()
            .topic_id(topic)
            .message(text.as_bytes().to_vec())
            .execute(&net.client)
            .await?
            .get_receipt(&net.client)
            .await?;
    }
    let two = TopicMessageQuery::new()
        .topic_id(topic)
        .start_time(start)
        .limit(2)
        .execute(&net.client)
        .await?;
    let texts: Vec<&[u8]> = two.iter().map(|m| m.contents.as_slice()).collect();
    assert_eq!(texts, [b"one".as_slice(), b"two"]);

    let unknown = TopicMessageQuery::new()
        .topic_id(TopicId::new(0, 0, 999_999))
        .start_time(start)
        .execute(&net.client)
        .await;
    assert!(unknown.is_err(), "an unknown topic is refused: {unknown:?}");
    net.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_tokens_move_in_batches_and_records_show_fees() -> TestResult {
    let net = Net::start(Faults::default()).await?;
    let token = net.token().await?;
    let mut agents = Vec::new();
    for _ in 0..3 {
        let (account, key) = net.account(1).await?;
        net.associate(account, &key, token).await?;
        agents.push(account);
    }
    let mut batch = TransferTransaction::new();
    batch.token_transfer(token, net.operator, -600);
    for (i, agent) in agents.iter().enumerate() {
        batch.token_transfer(token, *agent, 100 * (i as i64 + 1));
    }
    let response = batch.execute(&net.client).await?;
    response.get_receipt(&net.client).await?;
    for (i, agent) in agents.iter().enumerate() {
        let (_, tokens) = net.balances(*agent).await?;
        assert_eq!(tokens.get(&token), Some(&(100 * (i as u64 + 1))));
    }
    let (_, treasury) = net.balances(net.operator).await?;
    assert_eq!(treasury.get(&token), Some(&(1_000_000 - 600)));

    let record = response.get_record(&net.client).await?;
    assert_eq!(
        record.transaction_fee.to_tinybars(),
        100_000,
        "a transfer costs 0.001 ℏ"
    );
    assert_eq!(
        record.token_transfers.get(&token).and_then(|t| t.get(&agents[2])),
        Some(&300)
    );
    net.finish().await;
    Ok(())
}

/// A transfer of `tinybars` from the operator to `to`.
fn pay(net: &Net, to: AccountId, tinybars: i64) -> TransferTransaction {
    let mut transfer = TransferTransaction::new();
    transfer
        .hbar_transfer(net.operator, Hbar::from_tinybars(-tinybars))
        .hbar_transfer(to, Hbar::from_tinybars(tinybars));
    transfer
}

/// A schedule of a 777-tinybar payment to `payee` that waits for its expiry, 10 s after the
/// valid start of `base` (valid starts are 5 to 8 s in the past: 2 to 5 s from now).
fn scheduled_payment(net: &Net, payee: AccountId, base: TransactionId) -> ScheduleCreateTransaction {
    let mut create = ScheduleCreateTransaction::new();
    create
        .scheduled_transaction(pay(net, payee, 777))
        .expiration_time(base.valid_start + Duration::from_secs(10))
        .wait_for_expiry(true)
        .schedule_memo("pay later");
    create
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_schedules_are_created_once_and_run_at_expiry() -> TestResult {
    let net = Net::start(Faults::default()).await?;
    let (payee, _) = net.account(1).await?;
    let (before, _) = net.balances(payee).await?;
    let base = TransactionId::generate(net.operator);
    let first = scheduled_payment(&net, payee, base)
        .execute(&net.client)
        .await?
        .get_receipt(&net.client)
        .await?;
    let schedule_id = first.schedule_id.ok_or("no schedule id")?;
    let scheduled_id = first.scheduled_transaction_id.ok_or("no scheduled transaction id")?;

    let mut response = scheduled_payment(&net, payee, base).execute(&net.client).await?;
    let second = receipt(&net.client, &mut response).await?;
    assert_eq!(second.status, Status::IdenticalScheduleAlreadyCreated);
    assert_eq!(second.schedule_id, Some(schedule_id));

    let mut signed = ScheduleSignTransaction::new()
        .schedule_id(schedule_id)
        .execute(&net.client)
        .await?;
    assert_eq!(
        receipt(&net.client, &mut signed).await?.status,
        Status::NoNewValidSignatures
    );
    assert_eq!(
        net.balances(payee).await?.0,
        before,
        "a schedule that waits for its expiry has not run yet"
    );

    // Not found until the expiry; the SDK asks again until it is.
    let executed = TransactionReceiptQuery::new()
        .transaction_id(scheduled_id)
        .execute(&net.client)
        .await?;
    assert_eq!(executed.status, Status::Success);
    assert_eq!(net.balances(payee).await?.0, before + 777);
    net.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_complete_schedules_run_at_once() -> TestResult {
    let net = Net::start(Faults::default()).await?;
    let topic = net.topic().await?;
    let mut message = TopicMessageSubmitTransaction::new();
    message.topic_id(topic).message(b"scheduled".to_vec());
    let created = ScheduleCreateTransaction::new()
        .scheduled_transaction(message)
        .execute(&net.client)
        .await?
        .get_receipt(&net.client)
        .await?;
    let ran = TransactionReceiptQuery::new()
        .transaction_id(created.scheduled_transaction_id.ok_or("no scheduled transaction id")?)
        .execute(&net.client)
        .await?;
    assert_eq!(ran.status, Status::Success);
    assert_eq!(ran.topic_sequence_number, 1);
    net.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_keeps_its_state_and_key_across_restarts() -> TestResult {
    let net = Net::start(Faults::default()).await?;
    let key = net.devnet.operator_key.to_bytes();
    let (account, _) = net.account(3).await?;
    let state = net.stop().await;
    let net = Net::start_in(state, Faults::default()).await?;
    assert_eq!(net.devnet.operator_key.to_bytes(), key);
    assert_eq!(net.balances(account).await?.0, 3 * 100_000_000);
    net.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_answers_info_queries() -> TestResult {
    let net = Net::start(Faults::default()).await?;
    let (account, key) = net.account(2).await?;
    let info = hiero_sdk::AccountInfoQuery::new()
        .account_id(account)
        .execute(&net.client)
        .await?;
    assert_eq!(info.balance.to_tinybars(), 2 * 100_000_000);
    assert_eq!(info.key, hiero_sdk::Key::from(key.public_key()));

    let topic = net.topic().await?;
    TopicMessageSubmitTransaction::new()
        .topic_id(topic)
        .message(b"hello".to_vec())
        .execute(&net.client)
        .await?
        .get_receipt(&net.client)
        .await?;
    let topic_info = hiero_sdk::TopicInfoQuery::new()
        .topic_id(topic)
        .execute(&net.client)
        .await?;
    assert_eq!(
        (topic_info.topic_memo.as_str(), topic_info.sequence_number),
        ("devnet test", 1)
    );

    let token = net.token().await?;
    let token_info = hiero_sdk::TokenInfoQuery::new()
        .token_id(token)
        .execute(&net.client)
        .await?;
    assert_eq!(
        (token_info.symbol.as_str(), token_info.total_supply),
        ("FEST", 1_000_000)
    );
    assert_eq!(token_info.treasury_account_id, net.operator);

    let version = hiero_sdk::NetworkVersionInfoQuery::new().execute(&net.client).await?;
    assert_eq!(version.services_version.prerelease, "baton-devnet");
    net.finish().await;
    Ok(())
}
