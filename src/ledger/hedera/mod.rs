//! The Hedera backend of the ledger, through hiero-sdk.
