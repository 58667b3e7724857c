//! baton: a workflow-as-data rules engine for festivals, plans of tasks that agents carry out and
//! get paid for on Hedera.
//!
//! The pipeline: files are loaded with spans (`spec`, `festival_dir`), checked and compiled
//! (`check`), planned (`plan`). Every stage reports problems as `diagnostics`.

#![forbid(unsafe_code)]

pub mod agent;
pub mod approval;
pub mod check;
pub mod cli;
#[cfg(feature = "hedera")]
pub mod devnet;
pub mod diagnostics;
pub mod engine;
pub mod executor;
pub mod festival_dir;
pub mod gates;
pub mod ledger;
pub mod load;
pub mod plan;
pub mod serve;
pub mod spec;
pub mod wire;
