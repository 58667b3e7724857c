//! Crash recovery: `baton run` killed with SIGKILL at seeded random moments, restarted each
//! time; at the end every task is paid exactly once and the ledger agrees with the log.
//!
//! The festival is the seed festival (39 tasks, agents on accounts 0.0.1001 to 0.0.1004) with
//! work of 50 to 500 ms a task, so that twenty kills at 30 to 400 ms after each start all land
//! while it is under way, whatever the speed of the build: a release build had paid about a
//! quarter of its tasks by the twentieth kill (the work in hand is lost at each kill).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use baton::ledger::{Ledger, LocalLedger, Status};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const WORKFLOW: &str = "workflows/hedera-foundation.yaml";
/// The agents' accounts.
const ACCOUNTS: std::ops::RangeInclusive<u32> = 1001..=1004;

fn state_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run_command(state: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.args([
        "run",
        WORKFLOW,
        "--simulate",
        "--quiet",
        "--work-ms",
        "500",
        "--seed",
        "3",
        // Snapshots every few messages, so that kills land before, during and after writing one.
        "--snapshot-every",
        "5",
        "--state",
    ])
    .arg(state)
    .env("NO_COLOR", "1")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    cmd
}

fn status(state: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["status", WORKFLOW, "--format", "json", "--state"])
        .arg(state)
        .output()
        .expect("baton status runs");
    serde_json::from_slice(&out.stdout).expect("status prints JSON")
}

#[test]
fn killed_at_random_moments_it_pays_every_task_exactly_once() {
    let state = state_dir("crash");
    let mut rng = SmallRng::seed_from_u64(20_261_125);
    let mut kills = 0;
    while kills < 20 {
        let mut child = run_command(&state).spawn().expect("baton run starts");
        std::thread::sleep(Duration::from_millis(rng.random_range(30..400)));
        if child.try_wait().expect("child status").is_some() {
            break; // finished before the kill: nothing left to interrupt
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        kills += 1;
    }
    let finished = run_command(&state).status().expect("final run");
    assert!(finished.success(), "the last run ends the festival");
    assert_eq!(kills, 20, "kills that landed before the festival finished");

    let status = status(&state);
    assert_eq!(status["outcome"], "finished");
    let tasks = status["tasks"].as_array().expect("tasks");
    let mut owed = 0i64;
    for t in tasks {
        assert_eq!(t["state"], "paid", "task {}", t["id"]);
        owed += t["paid"].as_i64().expect("paid amount");
    }

    let ledger = LocalLedger::open(&state).expect("ledger");
    // Each task names the transaction that paid it; every successful transfer moved exactly what
    // the tasks it paid were owed, so no task was paid twice.
    let mut moved: BTreeMap<String, i64> = BTreeMap::new();
    for (tx, _, moves, status) in ledger.transfers().expect("transfers") {
        if status == Status::Success {
            let paid = moves.iter().filter(|m| m.amount > 0).map(|m| m.amount).sum();
            assert!(moved.insert(tx.to_string(), paid).is_none(), "{tx} listed twice");
        }
    }
    let mut owed_by_tx: BTreeMap<String, i64> = BTreeMap::new();
    for t in tasks {
        let tx = t["tx"].as_str().expect("a paid task names its transaction");
        *owed_by_tx.entry(tx.to_string()).or_default() += t["paid"].as_i64().expect("paid amount");
    }
    assert_eq!(
        owed_by_tx, moved,
        "successful transfers against what their tasks were owed"
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let token = "0.0.5005".parse().expect("token id");
    let balances: i64 = ACCOUNTS
        .map(|n| {
            let account = format!("0.0.{n}").parse().expect("account id");
            runtime
                .block_on(ledger.token_balance(&account, &token))
                .expect("balance")
        })
        .sum();
    assert_eq!(
        balances, owed,
        "the agents hold exactly what the log says they were paid"
    );
    let _ = std::fs::remove_dir_all(&state);
}
