//! Hedera's response codes as the ledger's statuses and errors, and which SDK errors are worth a
//! retry.

use hiero_sdk::Error;
use hiero_sdk::Status as Code;

use crate::ledger::{LedgerError, Status};

/// A Hedera status as the ledger's [`Status`] of the same name; `None` for one the ledger does
/// not name (callers report it as a refusal with the network's name).
pub(crate) fn status(code: Code) -> Option<Status> {
    serde_json::from_value(serde_json::Value::String(code.as_str_name().to_owned())).ok()
}

/// The error under any number of [`Error::TimedOut`] wrappers: what the last attempt met.
pub(crate) fn last_attempt(error: &Error) -> &Error {
    match error {
        Error::TimedOut(inner) => last_attempt(inner),
        other => other,
    }
}

/// The pre-check status an error carries, if it is a pre-check failure (not looking through
/// timeouts: a status the SDK retried until it gave up is a timeout).
pub(crate) fn precheck(error: &Error) -> Option<Code> {
    match error {
        Error::TransactionPreCheckStatus { status, .. }
        | Error::QueryPreCheckStatus { status, .. }
        | Error::QueryPaymentPreCheckStatus { status, .. }
        | Error::QueryNoPaymentPreCheckStatus { status } => Some(*status),
        _ => None,
    }
}

/// Whether trying again later may succeed: timeouts, unreachable or overloaded nodes, and the
/// pre-check statuses that say the network is busy.
pub(crate) fn is_transient(error: &Error) -> bool {
    use tonic::Code as Grpc;
    match error {
        Error::TimedOut(_) => true,
        Error::GrpcStatus(status) => matches!(
            status.code(),
            Grpc::Unavailable
                | Grpc::DeadlineExceeded
                | Grpc::ResourceExhausted
                | Grpc::Aborted
                | Grpc::Unknown
                | Grpc::Internal
                | Grpc::Cancelled
        ),
        other => precheck(other).is_some_and(|code| {
            matches!(
                code,
                Code::Busy | Code::PlatformNotActive | Code::PlatformTransactionNotCreated
            )
        }),
    }
}

/// An SDK error as a ledger error naming `operation` (which names its entity): a refusal with
/// the network's status, or a network failure with the SDK's reason.
pub(crate) fn ledger_error(operation: &str, error: &Error) -> LedgerError {
    // A node still busy (or not active) when the retries ran out took nothing: that is the
    // network not answering, which a caller may try again, not a refusal of the transaction.
    if let Some(code) = precheck(error).filter(|_| !is_transient(error)) {
        return refused(operation, code);
    }
    if let Error::ReceiptStatus { status, .. } = error {
        return refused(operation, *status);
    }
    LedgerError::Network {
        operation: operation.to_owned(),
        reason: error.to_string(),
    }
}

/// A refusal of `operation` with Hedera status `code`.
pub(crate) fn refused(operation: &str, code: Code) -> LedgerError {
    LedgerError::Refused {
        operation: operation.to_owned(),
        status: code.as_str_name().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_by_name() {
        let cases = [
            (Code::Success, Some(Status::Success)),
            (Code::InsufficientTokenBalance, Some(Status::InsufficientTokenBalance)),
            (
                Code::TokenNotAssociatedToAccount,
                Some(Status::TokenNotAssociatedToAccount),
            ),
            (Code::InvalidAccountId, Some(Status::InvalidAccountId)),
            (Code::InvalidTokenId, Some(Status::InvalidTokenId)),
            (
                Code::TransfersNotZeroSumForToken,
                Some(Status::TransfersNotZeroSumForToken),
            ),
            (
                Code::TokenTransferListSizeLimitExceeded,
                Some(Status::TokenTransferListSizeLimitExceeded),
            ),
            (Code::TransactionExpired, Some(Status::TransactionExpired)),
            (Code::TokenIsPaused, None),
            (Code::InvalidTopicId, None),
            (Code::Ok, None),
        ];
        for (code, expected) in cases {
            assert_eq!(status(code), expected, "{code:?}");
        }
    }

    #[test]
    fn statuses_keep_hedera_names_in_text() {
        for code in [
            Code::Success,
            Code::InsufficientTokenBalance,
            Code::TokenNotAssociatedToAccount,
        ] {
            let named = status(code).map(|s| s.to_string());
            assert_eq!(named.as_deref(), Some(code.as_str_name()));
        }
    }

    #[test]
    fn busy_nodes_and_timeouts_are_transient_refusals_are_not() {
        let precheck = |status| Error::QueryNoPaymentPreCheckStatus { status };
        let cases = [
            (precheck(Code::Busy), true),
            (precheck(Code::PlatformNotActive), true),
            (precheck(Code::InvalidAccountId), false),
            (Error::GrpcStatus(tonic::Status::unavailable("down")), true),
            (Error::GrpcStatus(tonic::Status::deadline_exceeded("slow")), true),
            (Error::GrpcStatus(tonic::Status::not_found("no topic")), false),
            (Error::TimedOut(Box::new(precheck(Code::Busy))), true),
        ];
        for (error, transient) in cases {
            assert_eq!(is_transient(&error), transient, "{error}");
        }
    }

    #[test]
    fn errors_name_the_operation_and_status() {
        let error = ledger_error(
            "creating a token",
            &Error::QueryNoPaymentPreCheckStatus {
                status: Code::InvalidSignature,
            },
        );
        assert_eq!(
            error.to_string(),
            "creating a token: refused by the network with status INVALID_SIGNATURE"
        );
        let timed_out = Error::TimedOut(Box::new(Error::QueryNoPaymentPreCheckStatus {
            status: Code::ReceiptNotFound,
        }));
        assert_eq!(precheck(last_attempt(&timed_out)), Some(Code::ReceiptNotFound));
        assert_eq!(precheck(&timed_out), None);
    }

    #[test]
    fn a_node_still_busy_after_the_retries_is_the_network_not_answering() {
        for code in [Code::Busy, Code::PlatformNotActive] {
            let error = ledger_error(
                "submitting a message",
                &Error::TransactionPreCheckStatus {
                    status: code,
                    transaction_id: Box::new(hiero_sdk::TransactionId::generate(hiero_sdk::AccountId::new(0, 0, 2))),
                    cost: None,
                },
            );
            assert!(matches!(error, LedgerError::Network { .. }), "{code:?}: {error}");
        }
        let refused = ledger_error(
            "submitting a message",
            &Error::QueryNoPaymentPreCheckStatus {
                status: Code::InsufficientPayerBalance,
            },
        );
        assert!(matches!(refused, LedgerError::Refused { .. }), "{refused}");
    }
}
