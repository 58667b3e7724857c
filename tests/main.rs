//! One integration-test binary: each module drives the library or the `baton` binary.

mod agent;
mod cli;
mod crash;
mod gates;
mod golden;
mod rejections;
mod robustness;
mod run;
mod shipped;
