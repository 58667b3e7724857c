//! `baton serve --network devnet`: the page's API follows a festival through the mirror, and an
//! answer given through it is paid from the approver's own account and carries the task to
//! payment.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;
use serde_json::json;

use super::hedera_run::{APPROVAL, balances, set_up};
use super::serve::{Running, Served, get, request, served, wait_for};

/// Starts `baton serve --network devnet` in `dir` on a free port.
fn start_serve(dir: &Path, workflow: &str) -> Served {
    let mut command = Command::new(cargo_bin("baton"));
    command
        .args(["serve", workflow, "--network", "devnet", "--addr", "127.0.0.1:0"])
        .current_dir(dir)
        .env("NO_COLOR", "1");
    served(command)
}

#[test]
fn on_devnet_the_page_follows_the_mirror_and_its_answers_are_paid_by_the_approver() {
    let (_devnet, dir, env, workflow) = set_up(APPROVAL, &[]);
    let Served {
        addr,
        token,
        child: _served,
        ..
    } = start_serve(&dir, &workflow);
    let state = dir.join("state").display().to_string();
    let args = [
        "run",
        &workflow,
        "--network",
        "devnet",
        "--simulate",
        "--manual-approvals",
        "--quiet",
        "--success-rate",
        "1",
        "--work-ms",
        "20",
        "--state",
        &state,
    ];
    let mut run = Running(
        Command::new(cargo_bin("baton"))
            .args(args)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("baton run starts"),
    );
    let bearer = format!("Bearer {token}");
    for (state, approver) in [("design_approval", "release-manager"), ("review", "qa-lead")] {
        wait_for(Duration::from_secs(120), state, || {
            let approvals = get(&addr, "/api/approvals");
            let waiting = approvals["approvals"].as_array()?.first()?.clone();
            (waiting["state"] == state).then_some(waiting)
        });
        let body = json!({ "as": approver }).to_string();
        let (status, reply) = request(
            &addr,
            "POST",
            "/api/tasks/change/approve",
            &[("Authorization", &bearer), ("Content-Type", "application/json")],
            &body,
        );
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["as"], approver, "{reply}");
    }
    let ended = wait_for(Duration::from_secs(120), "baton run to end", || {
        run.0.try_wait().ok().flatten()
    });
    assert!(ended.success(), "{ended:?}");
    let tasks = wait_for(Duration::from_secs(30), "the page to show the payment", || {
        let tasks = get(&addr, "/api/tasks");
        (tasks["outcome"] == "finished").then_some(tasks)
    });
    assert_eq!(tasks["tasks"][0]["state"], "paid", "{tasks}");
    assert_eq!(tasks["rejections"], json!([]), "{tasks}");
    assert_eq!(balances(&env, &[env["AGENT_1_ACCOUNT"].clone()]), 500);
    let _ = std::fs::remove_dir_all(&dir);
}
