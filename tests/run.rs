//! `baton run --simulate` end to end: every shipped workflow runs to payment on the local ledger,
//! forged messages are rejected, a second run pays nothing twice, and `status` agrees with the run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use assert_cmd::Command;
use baton::ledger::{AccountId, Ledger, LocalLedger, Status, TokenId};
use serde_json::Value;

const WORKFLOWS: [&str; 3] = [
    "workflows/hedera-foundation.yaml",
    "workflows/release-pipeline.yaml",
    "workflows/quality-pipeline.yaml",
];

const TOKEN: &str = "0.0.5005";
const TREASURY: &str = "0.0.2";

fn baton() -> Command {
    let mut cmd = Command::cargo_bin("baton").expect("the baton binary is built for integration tests");
    cmd.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    cmd
}

/// A fresh state directory under the system temp dir, removed when dropped.
struct StateDir(PathBuf);

impl StateDir {
    fn new(label: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("baton-run-{label}-{}-{nanos}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the temp state dir can be created");
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `baton run WORKFLOW --simulate --state DIR --quiet --work-ms 20 EXTRA...` (without the
/// `--work-ms 20` when EXTRA has one); asserts exit 0.
fn run_simulated(workflow: &str, state: &StateDir, extra: &[&str]) -> Output {
    let state_arg = state.arg();
    let mut args = vec!["run", workflow, "--simulate", "--state", &state_arg, "--quiet"];
    if !extra.contains(&"--work-ms") {
        args.extend(["--work-ms", "20"]);
    }
    args.extend_from_slice(extra);
    let out = baton().args(&args).output().expect("baton run can be started");
    assert_eq!(
        out.status.code(),
        Some(0),
        "baton {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `baton status WORKFLOW --state DIR --format json`, parsed.
fn status(workflow: &str, state: &StateDir) -> Value {
    let out = baton()
        .args(["status", workflow, "--state", &state.arg(), "--format", "json"])
        .output()
        .expect("baton status can be started");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "baton status {workflow}\nstdout:\n{text}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("status is not JSON ({e}): {text}"))
}

/// Parses a decimal amount with two decimals ("12.50", "40", "7.5") into minor units.
fn minor_units(amount: &str) -> i64 {
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, ""));
    assert!(frac.len() <= 2, "`{amount}` has more than 2 decimals");
    let whole: i64 = whole.parse().unwrap_or_else(|e| panic!("`{amount}`: {e}"));
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}")
            .parse()
            .unwrap_or_else(|e| panic!("`{amount}`: {e}"))
    };
    whole * 100 + frac
}

/// Task id → reward in minor units, from `baton plan --format json` (independent of the run).
fn planned_rewards(workflow: &str) -> BTreeMap<String, i64> {
    let out = baton()
        .args(["plan", "--format", "json", workflow])
        .output()
        .expect("baton plan can be started");
    let text = String::from_utf8_lossy(&out.stdout);
    let plan: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("plan is not JSON ({e}): {text}"));
    plan["tasks"]
        .as_array()
        .expect("plan has tasks")
        .iter()
        .map(|t| {
            let id = t["id"].as_str().expect("task id is a string").to_owned();
            let reward = t["reward"].as_str().expect("task reward is a decimal string");
            (id, minor_units(reward))
        })
        .collect()
}

/// The agents' accounts of a workflow: the defaults of `${AGENT_N_ACCOUNT:-0.0.X}`.
fn agent_accounts(workflow: &str) -> Vec<AccountId> {
    let text = std::fs::read_to_string(workflow).expect("workflow file is readable");
    let accounts: Vec<AccountId> = text
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("account: ${AGENT_")?;
            let (_, default) = rest.split_once(":-")?;
            let id = default.strip_suffix('}')?;
            Some(id.parse().expect("agent account default is an account id"))
        })
        .collect();
    assert!(!accounts.is_empty(), "no agent accounts found in {workflow}");
    accounts
}

fn tasks(status: &Value) -> &Vec<Value> {
    status["tasks"].as_array().expect("status has a tasks array")
}

fn task_id(task: &Value) -> &str {
    task["id"].as_str().expect("task id is a string")
}

/// Token balances of the given accounts, read from the ledger under `state`.
fn balances(state: &StateDir, accounts: &[AccountId]) -> BTreeMap<AccountId, i64> {
    let ledger = LocalLedger::open(state.path()).expect("the local ledger opens");
    let token: TokenId = TOKEN.parse().expect("token id parses");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    runtime.block_on(async {
        let mut out = BTreeMap::new();
        for account in accounts {
            let balance = ledger
                .token_balance(account, &token)
                .await
                .unwrap_or_else(|e| panic!("balance of {account}: {e}"));
            out.insert(account.clone(), balance);
        }
        out
    })
}

/// Asserts that a finished status has every task paid and returns Σ paid (minor units).
fn assert_all_paid(workflow: &str, status: &Value) -> i64 {
    assert_eq!(status["outcome"], "finished", "{workflow}: {status}");
    let mut sum = 0;
    for task in tasks(status) {
        assert_eq!(task["state"], "paid", "{workflow}: {task}");
        sum += task["paid"]
            .as_i64()
            .unwrap_or_else(|| panic!("{workflow}: paid task without amount: {task}"));
    }
    assert_eq!(
        status["paid"]["minor_units"].as_i64(),
        Some(sum),
        "{workflow}: paid.minor_units vs Σ tasks' paid"
    );
    assert_eq!(
        status["paid"]["tasks"].as_u64(),
        Some(tasks(status).len() as u64),
        "{workflow}: paid.tasks"
    );
    sum
}

#[test]
fn each_shipped_workflow_runs_to_payment() {
    // Every workflow with the simulated agents on one replica of the log (the default), and one
    // with a replica per agent, each checking and folding the log itself.
    let runs = WORKFLOWS
        .iter()
        .map(|w| (*w, &[][..]))
        .chain([("workflows/release-pipeline.yaml", &["--replica-per-agent"][..])]);
    for (workflow, extra) in runs {
        let state = StateDir::new("shipped");
        run_simulated(workflow, &state, extra);
        let status = status(workflow, &state);
        let paid = assert_all_paid(workflow, &status);

        // Rewards from the plan: every task paid exactly its reward.
        let rewards = planned_rewards(workflow);
        assert_eq!(tasks(&status).len(), rewards.len(), "{workflow}: task count");
        for task in tasks(&status) {
            assert_eq!(
                task["paid"].as_i64(),
                rewards.get(task_id(task)).copied(),
                "{workflow}: task {} paid vs planned reward",
                task_id(task)
            );
        }
        assert_eq!(paid, rewards.values().sum::<i64>(), "{workflow}: Σ paid vs Σ reward");

        // The ledger: balances, one successful transfer per task, at most 10 movements each.
        let agents = agent_accounts(workflow);
        let balances = balances(&state, &agents);
        assert_eq!(
            balances.values().sum::<i64>(),
            paid,
            "{workflow}: agents' balances {balances:?}"
        );

        let ledger = LocalLedger::open(state.path()).expect("the local ledger opens");
        let transfers = ledger.transfers().expect("transfers can be listed");
        let treasury: AccountId = TREASURY.parse().expect("treasury id parses");
        let mut moved: BTreeMap<String, i64> = BTreeMap::new();
        for (tx, _, moves, tx_status) in &transfers {
            assert!(moves.len() <= 10, "{workflow}: {tx} has {} movements", moves.len());
            if *tx_status != Status::Success {
                continue;
            }
            for mv in moves.iter().filter(|m| m.amount > 0) {
                assert!(
                    agents.contains(&mv.account),
                    "{workflow}: {tx} pays {} which is not an agent",
                    mv.account
                );
            }
            assert!(
                moves.iter().filter(|m| m.amount < 0).all(|m| m.account == treasury),
                "{workflow}: {tx} takes from an account other than the treasury: {moves:?}"
            );
            let paid: i64 = moves.iter().filter(|m| m.amount > 0).map(|m| m.amount).sum();
            assert!(
                moved.insert(tx.to_string(), paid).is_none(),
                "{workflow}: {tx} listed twice"
            );
        }
        assert_paid_by_their_transactions(workflow, &status, &moved);
    }
}

/// Each task names the transaction that paid it; that transaction succeeded, and every successful
/// transfer moved exactly what the tasks it paid were owed: no task paid twice, none unpaid.
fn assert_paid_by_their_transactions(workflow: &str, status: &Value, moved: &BTreeMap<String, i64>) {
    let mut owed: BTreeMap<String, i64> = BTreeMap::new();
    for task in tasks(status) {
        let id = task_id(task);
        let tx = task["tx"]
            .as_str()
            .unwrap_or_else(|| panic!("{workflow}: task {id} names no transaction"));
        assert!(
            moved.contains_key(tx),
            "{workflow}: task {id}'s transaction {tx} did not succeed"
        );
        *owed.entry(tx.to_owned()).or_default() += task["paid"].as_i64().unwrap_or_default();
    }
    assert_eq!(
        &owed, moved,
        "{workflow}: successful transfers against what their tasks were owed"
    );
}

#[test]
fn forged_and_malformed_messages_are_rejected_and_the_run_completes() {
    let workflow = "workflows/hedera-foundation.yaml";
    let state = StateDir::new("forged");
    run_simulated(workflow, &state, &["--forge-rate", "0.5", "--seed", "7"]);
    let status = status(workflow, &state);
    assert_all_paid(workflow, &status);
    let rejections = status["rejections"].as_array().expect("status has a rejections array");
    assert!(!rejections.is_empty(), "no rejections with --forge-rate 0.5: {status}");
    for rejection in rejections {
        assert!(
            rejection["reason"].as_str().is_some_and(|r| !r.trim().is_empty()),
            "rejection without a reason: {rejection}"
        );
    }
    assert!(
        rejections.iter().any(|r| {
            r["reason"]
                .as_str()
                .is_some_and(|r| r.contains("bad signature") || r.contains("schema") || r.contains("not JSON"))
        }),
        "no rejection for a bad signature, a schema violation or non-JSON: {rejections:?}"
    );
}

#[test]
fn a_second_run_pays_nothing_twice() {
    let workflow = "workflows/quality-pipeline.yaml";
    let state = StateDir::new("second");
    let mut accounts = agent_accounts(workflow);
    accounts.push(TREASURY.parse().expect("treasury id parses"));

    run_simulated(workflow, &state, &["--seed", "3"]);
    let first_status = status(workflow, &state);
    let paid = assert_all_paid(workflow, &first_status);
    let successes = |state: &StateDir| {
        LocalLedger::open(state.path())
            .expect("the local ledger opens")
            .transfers()
            .expect("transfers can be listed")
            .into_iter()
            .filter(|t| t.3 == Status::Success)
            .count()
    };
    let first_successes = successes(&state);
    let first_balances = balances(&state, &accounts);
    assert!(first_successes > 0, "the first run made no successful transfer");

    run_simulated(workflow, &state, &["--seed", "3"]);
    assert_eq!(successes(&state), first_successes, "the second run made new transfers");
    assert_eq!(
        balances(&state, &accounts),
        first_balances,
        "the second run moved tokens"
    );
    let second_status = status(workflow, &state);
    assert_eq!(assert_all_paid(workflow, &second_status), paid, "Σ paid changed");
}

#[test]
fn status_of_a_run_matches_the_run() {
    let workflow = "workflows/quality-pipeline.yaml";
    let state = StateDir::new("table");
    let out = run_simulated(workflow, &state, &["--seed", "11"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let status = status(workflow, &state);
    let from_status: BTreeMap<&str, &str> = tasks(&status)
        .iter()
        .map(|t| (task_id(t), t["state"].as_str().expect("task state is a string")))
        .collect();
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|cols| cols.first().is_some_and(|id| from_status.contains_key(id)))
        .collect();
    let from_table: BTreeMap<&str, &str> = rows.iter().map(|cols| (cols[0], cols[1])).collect();
    assert_eq!(from_table, from_status, "run table:\n{stdout}");
    // The amount paid, second to last after the transaction, as the log says, task by task
    // (rewards differ from one task to the next).
    let paid_status: BTreeMap<&str, Option<i64>> = tasks(&status)
        .iter()
        .map(|t| (task_id(t), t["paid"].as_i64()))
        .collect();
    let paid_table: BTreeMap<&str, Option<i64>> = rows
        .iter()
        .map(|cols| {
            let paid = cols[cols.len() - 2];
            (cols[0], (paid != "-").then(|| minor_units(paid)))
        })
        .collect();
    assert_eq!(paid_table, paid_status, "run table:\n{stdout}");
}

#[test]
fn status_and_approve_only_read_a_festival_that_never_ran() {
    let state = StateDir::new("never-ran");
    let inside = state.path().join("nothing-here");
    let inside_arg = inside.display().to_string();
    let out = baton()
        .args([
            "status",
            "workflows/release-pipeline.yaml",
            "--state",
            &inside_arg,
            "--format",
            "json",
        ])
        .output()
        .expect("status");
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert!(tasks(&report).iter().all(|t| t["state"] == "pending"), "{report}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("has not run in"));
    let out = baton()
        .args([
            "approve",
            "workflows/release-pipeline.yaml",
            "release-notes",
            "--as",
            "release-manager",
            "--state",
            &inside_arg,
        ])
        .output()
        .expect("approve");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has not run in"));
    assert!(!inside.exists(), "reading a festival creates nothing");
}

/// Each agent message on the status topic of the festival's state dir, parsed.
fn agent_messages(state: &StateDir) -> Vec<Value> {
    let topics = std::fs::read_to_string(state.path().join("topics.json")).expect("the run wrote topics.json");
    let topics: BTreeMap<String, Vec<String>> = serde_json::from_str(&topics).expect("topics.json is JSON");
    let status_topic = topics.values().next().and_then(|t| t.get(1)).expect("a status topic");
    let ledger = LocalLedger::open(state.path()).expect("the local ledger opens");
    let topic = baton::ledger::TopicId(status_topic.clone());
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let messages = runtime
        .block_on(ledger.messages(&topic, 0, usize::MAX))
        .expect("the status topic reads");
    messages
        .iter()
        .map(|m| serde_json::from_slice(m.payload.as_ref()).expect("an agent message is JSON"))
        .collect()
}

#[test]
fn an_instant_agent_sends_its_result_alone_as_its_start_too() {
    let workflow = "workflows/hedera-foundation.yaml";
    let state = StateDir::new("instant");
    run_simulated(workflow, &state, &["--work-ms", "0", "--success-rate", "1"]);
    let status = status(workflow, &state);
    let paid = assert_all_paid(workflow, &status);
    assert!(paid > 0);
    assert_eq!(status["rejections"], serde_json::json!([]), "{status}");
    // Work that takes no time is done before its start goes out: the result alone begins it.
    let mut sent: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for m in agent_messages(&state) {
        let task = m["task_id"].to_string();
        match m["type"].as_str() {
            Some("status_update") => sent.entry(task).or_default().0 += 1,
            Some("task_result") => sent.entry(task).or_default().1 += 1,
            _ => {}
        }
    }
    assert_eq!(sent.len(), tasks(&status).len());
    for (task, counts) in sent {
        assert_eq!(counts, (0, 1), "task {task}: (starts, results)");
    }
}
