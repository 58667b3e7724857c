//! What the rejection test checks at the end: each case refused once with its reason, every
//! task paid once, and `baton status` listing the same rejections.

use super::*;

/// Every injected message has its rejection, with its reason, and nothing else was rejected.
pub(super) fn assert_rejected(rejections: &[Rejection], expected: &[Expected]) {
    assert_eq!(expected.len(), CASES.len(), "each case is injected once: {expected:#?}");
    let mut left: Vec<&Rejection> = rejections.iter().collect();
    for (case, id, reason) in expected {
        let found = left.iter().position(|r| r.id == *id && r.reason.starts_with(reason));
        let found = found.unwrap_or_else(|| panic!("{case}: no rejection of `{id}` for {reason:?}: {rejections:#?}"));
        eprintln!("{case:<18} {}", left[found].reason);
        left.remove(found);
    }
    assert!(left.is_empty(), "rejections nobody injected: {left:#?}");
}

/// Every task is paid its reward by exactly one successful transfer, and each agent holds it.
pub(super) async fn assert_paid_once(engine: &Engine, fixture: &Fixture) {
    for (task, agent, reward) in PAID {
        crate::wired::assert_paid_by_one_transfer(engine, &fixture.ledger, task, reward);
        let account = &fixture.wiring.accounts[agent];
        let balance = fixture.ledger.token_balance(account, &fixture.wiring.token).await;
        assert_eq!(balance.expect("the balance reads"), reward, "agent `{agent}`'s balance");
    }
}

/// `baton status` on the same state directory lists the same rejections, with their reasons.
pub(super) fn assert_status_lists(fixture: &Fixture, rejections: &[Rejection]) {
    let status = |format: &str| {
        let mut cmd = Command::cargo_bin("baton").expect("the baton binary is built for integration tests");
        let (workflow, state) = (fixture.dir.join("rejections.yaml"), fixture.dir.join("state"));
        cmd.env("NO_COLOR", "1")
            .arg("status")
            .arg(workflow)
            .arg("--state")
            .arg(state);
        let out = cmd
            .args(["--format", format])
            .output()
            .expect("baton status can be started");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "baton status: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let json: Value = serde_json::from_str(&status("json")).expect("baton status prints JSON");
    assert_eq!(json["outcome"], "finished", "{json:#}");
    let listed = serde_json::to_value(rejections).expect("rejections serialize");
    assert_eq!(json["rejections"], listed, "{json:#}");
    let text = status("text");
    let count = format!("rejected messages ({}), latest first:", rejections.len());
    assert!(text.contains(&count), "the status table lists the rejections:\n{text}");
    let latest = rejections.last().expect("there are rejections");
    assert!(text.contains(&latest.reason), "the latest rejection is shown:\n{text}");
}
