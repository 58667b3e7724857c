use hiero_sdk_proto::services::ResponseCodeEnum as Code;

use crate::devnet::model::{NetOp, NetRecord, NetTxId, NewSchedule, Step};
use crate::ledger::local::tests::{Scratch, TestResult, account};
use crate::ledger::{ConsensusTime, LocalLedger, TokenMove, TopicId};

const KEY: [u8; 32] = [1; 32];
const FEE: i64 = 100;

fn genesis(scratch: &Scratch) -> Result<LocalLedger, crate::ledger::LedgerError> {
    let ledger = scratch.open();
    ledger.network_genesis(&account(2), &account(3), &KEY, 1_000_000)?;
    Ok(ledger)
}

fn step(start: i64, op: NetOp) -> Step {
    Step {
        id: NetTxId {
            payer: account(2),
            valid_start: ConsensusTime(start),
            scheduled: false,
            nonce: 0,
        },
        node: account(3),
        fee: FEE,
        memo: String::new(),
        hash: vec![0; 48],
        op,
        schedule_ref: None,
    }
}

fn executed(ledger: &LocalLedger, step: &Step) -> Result<NetRecord, crate::ledger::LedgerError> {
    ledger
        .network_execute(step)?
        .ok_or_else(|| crate::ledger::LedgerError::Other("the step was not executed".into()))
}

fn tinybars(ledger: &LocalLedger, n: u32) -> i64 {
    ledger
        .network_account(&account(n))
        .ok()
        .flatten()
        .map_or(-1, |a| a.tinybars)
}

#[test]
fn a_step_charges_its_fee_and_runs_once() -> TestResult {
    let scratch = Scratch::new();
    let ledger = genesis(&scratch)?;
    let create = step(
        1,
        NetOp::CreateAccount {
            key: [2; 32],
            initial_balance: 5_000,
            memo: "agent".into(),
        },
    );
    let record = executed(&ledger, &create)?;
    assert_eq!(record.status, Code::Success);
    let new = record
        .account
        .clone()
        .ok_or_else(|| crate::ledger::LedgerError::Other("no account".into()))?;
    assert_eq!(
        ledger.network_account(&new)?.map(|a| (a.tinybars, a.memo)),
        Some((5_000, "agent".into()))
    );
    assert_eq!(tinybars(&ledger, 2), 1_000_000 - 5_000 - FEE);
    assert_eq!(tinybars(&ledger, 3), FEE);
    assert!(ledger.network_execute(&create)?.is_none(), "a transaction id runs once");
    assert_eq!(ledger.network_record(&create.id.key())?, Some(record));
    Ok(())
}

#[test]
fn a_failed_operation_moves_nothing_but_the_fee() -> TestResult {
    let scratch = Scratch::new();
    let ledger = genesis(&scratch)?;
    let moves = vec![
        TokenMove {
            account: account(2),
            amount: -2_000_000,
        },
        TokenMove {
            account: account(3),
            amount: 2_000_000,
        },
    ];
    let record = executed(
        &ledger,
        &step(
            1,
            NetOp::Transfer {
                hbar: moves,
                tokens: vec![],
            },
        ),
    )?;
    assert_eq!(record.status, Code::InsufficientAccountBalance);
    assert_eq!(record.fee, FEE);
    assert_eq!(tinybars(&ledger, 2), 1_000_000 - FEE);
    let refused = executed(&ledger, &step(2, NetOp::Refused(Code::InvalidSignature)))?;
    assert_eq!(refused.status, Code::InvalidSignature);
    assert_eq!(tinybars(&ledger, 3), 2 * FEE);
    Ok(())
}

#[test]
fn messages_chain_running_hashes_and_keep_their_chunks() -> TestResult {
    let scratch = Scratch::new();
    let ledger = genesis(&scratch)?;
    let created = executed(
        &ledger,
        &step(
            1,
            NetOp::CreateTopic {
                memo: "log".into(),
                admin_key: None,
                submit_key: Some([3; 32]),
            },
        ),
    )?;
    let topic = created.topic.unwrap_or_else(|| TopicId("0.0.0".into()));
    let submit = |start, payload: &[u8], chunk: Option<Vec<u8>>| {
        step(
            start,
            NetOp::Submit {
                topic: topic.clone(),
                payload: payload.to_vec(),
                chunk,
            },
        )
    };
    let first = executed(&ledger, &submit(2, b"one", Some(vec![9, 9])))?;
    let second = executed(&ledger, &submit(3, b"two", None))?;
    assert_eq!((first.sequence, second.sequence), (1, 2));
    assert_eq!(first.running_hash.len(), 48);
    assert_ne!(first.running_hash, second.running_hash);
    let too_big = executed(&ledger, &submit(4, &[0; 1025], None))?;
    assert_eq!(too_big.status, Code::MessageSizeTooLarge);

    let read = ledger.network_messages(&topic, 0, ConsensusTime(0), 10)?;
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].chunk, Some(vec![9, 9]));
    assert_eq!(read[1].running_hash, second.running_hash);
    assert_eq!(ledger.network_messages(&topic, 0, second.consensus, 10)?.len(), 1);
    let info = ledger.network_topic(&topic)?;
    assert_eq!(info.map(|t| (t.sequence, t.submit_key)), Some((2, Some([3; 32]))));
    Ok(())
}

#[test]
fn identical_schedules_are_found_and_complete_ones_are_due() -> TestResult {
    let scratch = Scratch::new();
    let ledger = genesis(&scratch)?;
    let now = ledger.network_now()?;
    let schedule = |start| {
        step(
            start,
            NetOp::CreateSchedule(NewSchedule {
                fingerprint: vec![7; 32],
                body: vec![1, 2, 3],
                payer: account(2),
                scheduled: NetTxId {
                    payer: account(2),
                    valid_start: ConsensusTime(1),
                    scheduled: true,
                    nonce: 0,
                },
                memo: String::new(),
                admin_key: None,
                expiration: now.plus_secs(60),
                wait_for_expiry: false,
                required: vec![KEY],
                signatories: vec![KEY],
            }),
        )
    };
    let first = executed(&ledger, &schedule(1))?;
    let second = executed(&ledger, &schedule(2))?;
    assert_eq!(first.status, Code::Success);
    assert_eq!(second.status, Code::IdenticalScheduleAlreadyCreated);
    assert_eq!(second.schedule, first.schedule);
    let due = ledger.network_due_schedules(now)?;
    assert_eq!(due.len(), 1);
    assert!(due[0].satisfied());
    assert_eq!(ledger.network_next_expiry()?, Some(now.plus_secs(60)));
    Ok(())
}
