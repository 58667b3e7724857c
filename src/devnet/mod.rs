//! `baton devnet`: the local ledger served over Hedera's gRPC API on loopback.
