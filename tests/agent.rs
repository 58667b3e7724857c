//! `baton agent`, the reference agent daemon, in its own process beside `baton run`: it runs each
//! task's command in a small shell project made here (or its `--program` with the assignment on
//! stdin), reports exit code and the test counts it parsed, and the gates judge those counts.

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use baton::ledger::{AccountId, Ledger, LocalLedger, TokenId};
use serde_json::Value;

/// A project whose script prints what `cargo test` prints, passing or failing.
const CHECK: &str = r#"#!/bin/sh
if [ "$1" = pass ]; then
  echo "running 3 tests"
  echo "test a ... ok"; echo "test b ... ok"; echo "test c ... ok"
  echo "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s"
  exit 0
fi
echo "running 3 tests"
echo "test a ... ok"; echo "test b ... ok"; echo "test c ... FAILED"
echo "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s" >&2
exit 101
"#;

/// The program for tasks without a command: keeps the assignment it read and runs the tests.
const PROGRAM: &str = r#"#!/bin/sh
cat > "assignment-$BATON_TASK_ID.json"
exec sh check.sh pass
"#;

fn workflow(gates: &Path) -> String {
    format!(
        r#"
version: 1
festival: {{ id: daemon-test, name: Daemon test }}
gates_dir: {gates}
payment: {{ token: "0.0.5005", decimals: 2 }}
agents:
  - {{ id: runner, account: "0.0.1001", capabilities: [sh] }}
tasks:
  - id: unit
    name: Unit tests
    requires: [sh]
    reward: 5.00
    input: {{ command: "sh check.sh pass" }}
    gates: [result_completed, {{ gate: tests_pass, params: {{ min_passed: 3 }} }}]
  - id: stdin
    name: Tests through the configured program
    depends_on: [unit]
    requires: [sh]
    reward: 3.00
    gates: [{{ gate: tests_pass, params: {{ min_passed: 3 }} }}]
  - id: broken
    name: A suite with a failing test
    requires: [sh]
    reward: 7.00
    max_attempts: 1
    input: {{ command: "sh check.sh fail" }}
    gates: [tests_pass]
"#,
        gates = gates.display()
    )
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scratch() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("baton-agent-{}-{nanos}-{n}", std::process::id()));
    std::fs::create_dir_all(dir.join("project")).expect("scratch dir");
    dir
}

fn baton(args: &[&str]) -> Process {
    let mut cmd = Process::new(cargo_bin("baton"));
    cmd.args(args).env("NO_COLOR", "1").env_remove("RUST_LOG");
    cmd
}

fn wait(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn the_daemon_runs_commands_and_the_gates_judge_their_test_counts() {
    let dir = scratch();
    let project = dir.join("project");
    std::fs::write(project.join("check.sh"), CHECK).expect("script");
    std::fs::write(project.join("program.sh"), PROGRAM).expect("program");
    let gates = Path::new(env!("CARGO_MANIFEST_DIR")).join("gates");
    let file = dir.join("daemon.yaml");
    std::fs::write(&file, workflow(&gates)).expect("workflow");
    let (file, state) = (file.display().to_string(), dir.join("state").display().to_string());

    // The agent starts first and waits for the festival.
    let agent = baton(&[
        "agent",
        &file,
        "--id",
        "runner",
        "--state",
        &state,
        "--program",
        "sh program.sh",
        "--heartbeat",
        "1",
    ])
    .arg("--workdir")
    .arg(&project)
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(dir.join("agent.log")).expect("agent log"))
    .spawn()
    .expect("baton agent starts");
    let _agent = Running(agent);
    let mut run = baton(&["run", &file, "--state", &state, "--quiet", "--heartbeat-grace", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baton run starts");
    let status = wait(&mut run, Duration::from_secs(120));
    let output = run.wait_with_output().expect("run output");
    assert!(
        status.is_some_and(|s| s.success()),
        "baton run: {status:?}\n{}\n{}\nbaton agent:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default()
    );

    let status = baton(&["status", &file, "--state", &state, "--format", "json"])
        .output()
        .expect("status");
    let report: Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    let task = |id: &str| -> Value {
        report["tasks"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["id"] == id))
            .cloned()
            .expect("task in status")
    };
    for (id, paid) in [("unit", 500), ("stdin", 300)] {
        let t = task(id);
        assert_eq!(t["state"], "paid", "{id}: {t}");
        assert_eq!(t["paid"], paid, "{id}: {t}");
        assert_eq!(t["agent"], "runner");
        assert_eq!(t["gate"]["passed"], true, "{id}: {t}");
    }
    let broken = task("broken");
    // Its one attempt used, the standard lifecycle gives the task up.
    assert_eq!(broken["state"], "cancelled", "{broken}");
    assert_eq!(broken["paid"], Value::Null);
    let reasons = broken["gate"]["reasons"].to_string();
    assert!(
        reasons.contains("1 test failed"),
        "the gate names the failed test count: {reasons}"
    );
    assert_eq!(
        report["rejections"],
        Value::Array(Vec::new()),
        "the daemon's messages are all accepted"
    );

    // The configured program read the assignment on stdin.
    let kept = std::fs::read_to_string(project.join("assignment-stdin.json")).expect("the program kept its input");
    let assignment: Value = serde_json::from_str(&kept).expect("the assignment is JSON");
    assert_eq!(assignment["task_id"], "stdin");
    assert_eq!(assignment["agent_id"], "runner");
    assert_eq!(assignment["dependencies"], serde_json::json!(["unit"]));

    let balance = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(async {
            let ledger = LocalLedger::open(&dir.join("state")).expect("ledger");
            let account: AccountId = "0.0.1001".parse().expect("account");
            let token: TokenId = "0.0.5005".parse().expect("token");
            ledger.token_balance(&account, &token).await.expect("balance")
        });
    assert_eq!(
        balance, 800,
        "the runner is paid for the two tasks that passed their gates"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_daemon_refuses_an_unknown_agent_and_a_key_the_festival_does_not_know() {
    let dir = scratch();
    let gates = Path::new(env!("CARGO_MANIFEST_DIR")).join("gates");
    let file = dir.join("daemon.yaml");
    std::fs::write(&file, workflow(&gates)).expect("workflow");
    let (file, state) = (file.display().to_string(), dir.join("state").display().to_string());

    let out = baton(&["agent", &file, "--id", "nobody", "--state", &state])
        .output()
        .expect("agent");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`nobody` is not an agent of festival `daemon-test`"),
        "{stderr}"
    );

    // Set the festival up: a simulated run finishes it.
    let run = baton(&[
        "run",
        &file,
        "--state",
        &state,
        "--quiet",
        "--simulate",
        "--work-ms",
        "10",
    ])
    .output()
    .expect("run");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stranger = baton::wire::secret_hex(&baton::wire::generate_key());
    let out = baton(&[
        "agent",
        &file,
        "--id",
        "runner",
        "--state",
        &state,
        "--key-env",
        "STRANGER_KEY",
    ])
    .env("STRANGER_KEY", &stranger)
    .output()
    .expect("agent");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the key given is not the key festival `daemon-test` knows for agent `runner`"),
        "{stderr}"
    );
    assert!(!stderr.contains(&stranger), "the key is never printed");
    let out = baton(&[
        "agent",
        &file,
        "--id",
        "runner",
        "--state",
        &state,
        "--key-env",
        "UNSET_KEY_VAR",
    ])
    .env_remove("UNSET_KEY_VAR")
    .output()
    .expect("agent");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`UNSET_KEY_VAR` is not set"));
    let _ = std::fs::remove_dir_all(&dir);
}
