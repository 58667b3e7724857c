//! `baton devnet` serves other Hedera SDKs than the Rust one: the official JavaScript SDK
//! (`tests/sdk-js/cycle.mjs`, `@hashgraph/sdk` pinned in its package-lock) creates a topic and
//! submits to it (one message chunked, as over 1024 bytes), follows it through the mirror, creates
//! an account and a token, is refused a transfer to an unassociated account with Hedera's status,
//! associates, pays and reads the balance back. Needs Node.js; the test installs the SDK with
//! `npm ci` when `tests/sdk-js/node_modules` is missing.

use std::path::Path;
use std::process::Command;

use super::hedera_run::{scratch, start_devnet};

/// `npm ci` in `dir` unless its packages are there.
fn installed(dir: &Path) {
    if dir.join("node_modules/@hashgraph/sdk").is_dir() {
        return;
    }
    let npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .expect("npm runs (this test needs Node.js and npm)");
    assert!(
        npm.status.success(),
        "npm ci in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&npm.stderr)
    );
}

#[test]
fn the_javascript_sdk_runs_the_festivals_operations_against_devnet() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk-js");
    installed(&sdk);
    let dir = scratch();
    let (_devnet, lines) = start_devnet(&dir, &[]);
    let mut node = Command::new("node");
    node.arg(sdk.join("cycle.mjs")).current_dir(&sdk);
    for line in &lines {
        if let Some((name, value)) = line.split_once('=') {
            node.env(name, value);
        }
    }
    let out = node.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(seen["unassociated"], "TOKEN_NOT_ASSOCIATED_TO_ACCOUNT", "{seen}");
    assert_eq!(seen["transfer"], "SUCCESS", "{seen}");
    assert_eq!(seen["balance"], "1250", "{seen}");
    assert_eq!(seen["hbar"], "500000000", "the new account holds its 5 HBAR: {seen}");
    assert_eq!(
        seen["messages"],
        serde_json::json!([5, 3000]),
        "both messages, the long one reassembled, through the mirror: {seen}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
