//! One integration-test binary: each module drives the library or the `baton` binary.

mod agent;
#[cfg(feature = "browser")]
mod browser;
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
mod outage;
mod rejections;
mod robustness;
mod run;
#[cfg(feature = "hedera")]
mod sdk_js;
mod serve;
#[cfg(feature = "hedera")]
mod serve_hedera;
mod shipped;
mod snapshot;
mod wired;
