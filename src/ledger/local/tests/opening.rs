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
