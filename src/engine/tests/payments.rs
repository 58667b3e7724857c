//! Payments: batches of at most ten payments to nine agents, and the payment window that fills
//! them.

use pretty_assertions::assert_eq;

use super::flow::{World, drive};
use super::{Run, shipped};
use crate::engine::{Config, Outcome, PaymentOrder};

#[test]
fn payments_are_batched_by_ten_and_nine_agents() {
    let orders: Vec<PaymentOrder> = (0..25)
        .map(|i| PaymentOrder {
            task: format!("t{i}"),
            agent: format!("a{}", i % 12),
            amount: 1,
        })
        .collect();
    let batches = crate::engine::decide::batches(orders);
    let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![9, 9, 7]);
    let orders: Vec<PaymentOrder> = (0..25)
        .map(|i| PaymentOrder {
            task: format!("t{i}"),
            agent: format!("a{}", i % 2),
            amount: 1,
        })
        .collect();
    let sizes: Vec<usize> = crate::engine::decide::batches(orders).iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![10, 10, 5]);
}

/// Every batch the festival paid, run with `window` seconds of payment window.
fn paid_batches(window: u64) -> Vec<Vec<PaymentOrder>> {
    let config = Config {
        payment_window_secs: window,
        ..Config::default()
    };
    let mut run = Run::with(shipped("hedera-foundation.yaml"), &config);
    let mut world = World::default();
    drive(&mut run, &mut world);
    assert_eq!(run.engine.outcome(), Outcome::Finished);
    assert_eq!(run.engine.paid().1, 39, "every task paid");
    world.pays
}

#[test]
fn a_payment_window_fills_transfers_before_paying() {
    let at_once = paid_batches(0);
    let windowed = paid_batches(3600);
    let count = |batches: &[Vec<PaymentOrder>]| batches.iter().map(Vec::len).sum::<usize>();
    assert_eq!((count(&at_once), count(&windowed)), (39, 39));
    assert!(
        windowed.len() < at_once.len(),
        "{} transfers with the window, {} without",
        windowed.len(),
        at_once.len()
    );
    // Held until ten are due (or nine agents fill one), except what is left at the end.
    let agents = |b: &Vec<PaymentOrder>| {
        let mut names: Vec<&str> = b.iter().map(|p| p.agent.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    };
    let (last, full) = windowed.split_last().expect("payments were made");
    assert!(full.iter().all(|b| b.len() == 10 || agents(b) == 9), "{windowed:?}");
    assert!(!last.is_empty());
}
