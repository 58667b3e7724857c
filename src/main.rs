//! The `baton` binary: parse arguments, run the command, map the outcome to an exit code.

use std::process::ExitCode;

/// A run allocates and frees small values at a high rate (messages, JSON trees, events), which
/// took about a sixth of a run's time in glibc's allocator (`perf` on `cargo bench --bench run`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    baton::cli::main()
}
