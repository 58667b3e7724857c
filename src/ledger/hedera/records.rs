//! Transactions whose receipts the nodes no longer keep (about three minutes after consensus):
//! their records on the mirror, kept for good, or, once their validity window is long past and
//! the mirror still has none, the certainty that they never executed.

use std::time::Duration;

use hiero_sdk::Status as Code;
use tokio_util::sync::CancellationToken;

use super::feed::wall_clock;
use super::rest::MirrorRest;
use super::status::{refused, status};
use crate::ledger::{ConsensusTime, LedgerError, Receipt, Status, TxId};

/// The longest validity window Hedera accepts (`transactionValidDuration`): a transaction can
/// reach consensus only before its valid start plus this.
const MAX_VALID_DURATION: Duration = Duration::from_secs(180);
/// Added to the mirror's assumed lag before the mirror's silence counts as proof: for a mirror
/// slower than assumed and a local clock behind the network's.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// How often the mirror is asked again while a transaction may still appear there.
const POLL: Duration = Duration::from_secs(2);

/// The receipt the mirror's record of `tx` amounts to, with the status a node's receipt would
/// have given; `None` when the mirror has no record of it (yet). A status the ledger does not
/// name is a [`LedgerError::Refused`] naming it, as for a receipt.
pub(crate) async fn record(rest: &MirrorRest, tx: &TxId) -> Result<Option<Receipt>, LedgerError> {
    let Some(found) = rest.transaction(tx).await? else {
        return Ok(None);
    };
    let operation = format!("reading the mirror's record of transaction `{tx}`");
    let named = match Code::from_str_name(&found.result) {
        Some(code) => status(code).ok_or_else(|| refused(&operation, code))?,
        None => {
            return Err(LedgerError::Refused {
                operation,
                status: found.result,
            });
        }
    };
    Ok(Some(Receipt {
        tx: tx.clone(),
        status: named,
        consensus: found.consensus,
    }))
}

/// The final outcome of `tx` once its receipt is gone: its mirror record, or a receipt with
/// status [`Status::TransactionExpired`] (at the close of its longest possible window) once the
/// window is past by more than the mirror's lag and a margin and the mirror has no record.
/// While the transaction could still appear on the mirror, asks again every [`POLL`], for at
/// most until 180 s after its valid start plus the lag and the margin (3.6 minutes on a public
/// network);
/// `None` when `stop` fires first or the window has not opened yet (the transaction can still
/// execute: nothing can be concluded).
pub(crate) async fn settled(
    rest: &MirrorRest,
    tx: &TxId,
    mirror_lag: Duration,
    stop: &CancellationToken,
) -> Result<Option<Receipt>, LedgerError> {
    let window_closes = tx.valid_start.0.saturating_add(nanos(MAX_VALID_DURATION));
    let proven_at = window_closes.saturating_add(nanos(mirror_lag.saturating_add(EXPIRY_MARGIN)));
    loop {
        let asked_at = wall_clock().0;
        if let Some(receipt) = record(rest, tx).await? {
            return Ok(Some(receipt));
        }
        if asked_at > proven_at {
            tracing::info!(transaction = %tx, "no record on the mirror and its validity window is long past");
            return Ok(Some(Receipt {
                tx: tx.clone(),
                status: Status::TransactionExpired,
                consensus: ConsensusTime(window_closes),
            }));
        }
        if asked_at < tx.valid_start.0 {
            return Ok(None);
        }
        let left = Duration::from_nanos(u64::try_from(proven_at - asked_at).unwrap_or(0));
        tokio::select! {
            biased;
            () = stop.cancelled() => return Ok(None),
            () = tokio::time::sleep(left.min(POLL)) => {}
        }
    }
}

fn nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}
