//! One integration-test binary: each module drives the library or the `baton` binary.

mod agent;
mod cli;
mod crash;
#[cfg(feature = "hedera")]
mod devnet;
mod gates;
mod golden;
#[cfg(feature = "hedera")]
mod hedera;
#[cfg(feature = "hedera")]
mod hedera_boundary;
#[cfg(feature = "hedera")]
mod hedera_run;
mod rejections;
mod robustness;
mod run;
mod shipped;
