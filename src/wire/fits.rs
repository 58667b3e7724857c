//! Whether a body, written as a payload ([`super::payload::PayloadJson::written`]), fits its
//! type's schema in `schemas/message.schema.json`, told from the body's fields: what the
//! schema's `$defs` ask that the types do not already hold (string lengths, the shape of ledger
//! ids, amounts and counts in range). `wire::fits_tests` holds it to the schema itself over the
//! bounds of every field.
//!
//! The schema's `\d` is any Unicode decimal digit; a ledger id with a character beyond ASCII
//! gets no answer here, and its payload goes to the schema.

use super::body::{Body, IntendedPayment};
use crate::ledger::{AccountId, TokenId, TxId};

impl Body {
    /// Whether this body's payload fits the schema of its message type; `None` when only the
    /// schema can tell (a ledger id with a character beyond ASCII).
    #[must_use]
    pub(super) fn fits(&self) -> Option<bool> {
        self.ascii_ids().then(|| self.fits_ascii())
    }

    /// Whether every ledger id of the body is ASCII.
    fn ascii_ids(&self) -> bool {
        match self {
            Body::PaymentIntent(b) => {
                b.tx_id.payer.0.is_ascii()
                    && b.token_id.0.is_ascii()
                    && b.payments.iter().all(|p| p.account.0.is_ascii())
            }
            Body::PaymentSettled(b) => b.tx_id.payer.0.is_ascii() && b.token_id.0.is_ascii(),
            _ => true,
        }
    }

    fn fits_ascii(&self) -> bool {
        match self {
            Body::TaskAssignment(b) => task(&b.task_id) && name(&b.agent_id) && b.dependencies.iter().all(|d| task(d)),
            Body::QualityGate(b) => task(&b.task_id) && b.verdicts.iter().all(|v| name(&v.gate)),
            Body::ApprovalRequest(b) => {
                task(&b.task_id) && !b.state.is_empty() && b.approvers.iter().all(|a| name(a)) && b.quorum >= 1
            }
            Body::PaymentIntent(b) => {
                tx(&b.tx_id)
                    && token(&b.token_id)
                    && (1..=10).contains(&b.payments.len())
                    && b.payments.iter().all(payment)
            }
            Body::PaymentSettled(b) => {
                task(&b.task_id)
                    && name(&b.agent_id)
                    && b.amount >= 0
                    && token(&b.token_id)
                    && !b.tx_status.is_empty()
                    && tx(&b.tx_id)
            }
            Body::TaskEvent(b) => task(&b.task_id) && !b.event.is_empty(),
            Body::Tick => true,
            Body::StatusUpdate(b) => {
                task(&b.task_id) && name(&b.agent_id) && !b.new_status.is_empty() && b.attempt.is_none_or(|a| a >= 1)
            }
            Body::TaskResult(b) => {
                task(&b.task_id)
                    && b.output.as_deref().is_none_or(|o| o.is_object() || o.is_null())
                    && b.attempt.is_none_or(|a| a >= 1)
            }
            Body::Heartbeat(b) => name(&b.agent_id),
            Body::Approval(b) => task(&b.task_id),
        }
    }
}

fn payment(p: &IntendedPayment) -> bool {
    task(&p.task_id) && name(&p.agent_id) && account(&p.account) && p.amount >= 1
}

/// `$defs/task_id`: 1 to 200 characters.
fn task(s: &str) -> bool {
    super::fast::text(s, 200)
}

/// `$defs/name`: 1 to 200 characters.
fn name(s: &str) -> bool {
    super::fast::text(s, 200)
}

fn account(id: &AccountId) -> bool {
    entity(&id.0)
}

fn token(id: &TokenId) -> bool {
    entity(&id.0)
}

/// `$defs/entity_id`: `shard.realm.num`, each one or more digits.
fn entity(s: &str) -> bool {
    let mut parts = s.split('.');
    let three = (parts.next(), parts.next(), parts.next(), parts.next());
    matches!(three, (Some(a), Some(b), Some(c), None) if digits(a) && digits(b) && digits(c))
}

/// `$defs/tx_id`: `shard.realm.num@seconds.nanoseconds`, the nanoseconds nine digits.
fn tx(id: &TxId) -> bool {
    let secs = id.valid_start.0.div_euclid(1_000_000_000);
    // The text's nanoseconds are always nine digits; the seconds are digits unless negative.
    entity(&id.payer.0) && secs >= 0
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}
