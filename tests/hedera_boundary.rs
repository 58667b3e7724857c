//! Bad input at the boundary, in a whole run on devnet through the binary and the real SDK: an
//! agent whose account exists and holds its key but is not associated with the payment token.
//! The network refuses the transfer that pays it (`TOKEN_NOT_ASSOCIATED_TO_ACCOUNT`); the run
//! records the refusal in the log, ends with an error naming the task, the agent, the account,
//! the operation and the status, and neither a restart nor `baton status` pays anything twice.

use std::collections::BTreeMap;
use std::path::Path;

use baton::ledger::hedera::{HederaConfig, HederaLedger};
use baton::ledger::{AccountId, Ledger, TokenId};
use baton::wire::{generate_key, secret_hex};

use super::hedera_run::{baton, prepared, run_args, text};

/// The agent left unassociated, its account variable and its only task.
const AGENT: &str = "gatekeeper";
const AGENT_VAR: &str = "AGENT_5";
const TASK: &str = "quality-gate";

/// A client paid by the `.env` operator, in its own runtime.
struct Client {
    ledger: HederaLedger,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    fn new(env: &BTreeMap<String, String>) -> Client {
        let config = HederaConfig::from_vars(&|name: &str| env.get(name).cloned()).expect("the .env is valid");
        Client {
            ledger: HederaLedger::connect(config).expect("the client connects"),
            runtime: tokio::runtime::Runtime::new().expect("a runtime"),
        }
    }

    /// A new account with 10 ℏ to pay its messages, associated with nothing; its key in hex.
    fn unassociated_account(&self) -> (AccountId, String) {
        let key = generate_key();
        let account = self
            .runtime
            .block_on(self.ledger.create_account(&key.verifying_key(), 10 * 100_000_000))
            .expect("an account");
        (account, secret_hex(&key))
    }

    fn balance(&self, account: &AccountId, token: &TokenId) -> i64 {
        self.runtime
            .block_on(self.ledger.token_balance(account, token))
            .expect("a balance")
    }
}

/// Points `var` (`AGENT_5`) in `dir/.env` at `account` and `key`.
fn replace_agent(dir: &Path, var: &str, account: &AccountId, key: &str) {
    let path = dir.join(".env");
    let old = std::fs::read_to_string(&path).expect(".env");
    let mut lines: Vec<String> = old
        .lines()
        .filter(|l| !l.starts_with(&format!("{var}_")))
        .map(str::to_owned)
        .collect();
    lines.push(format!("{var}_ACCOUNT={account}"));
    lines.push(format!("{var}_KEY={key}"));
    std::fs::write(&path, lines.join("\n") + "\n").expect(".env");
}

#[test]
fn a_payment_to_an_unassociated_account_is_refused_once_named_and_never_retried() {
    let (_devnet, dir, env, agents, workflow) = prepared(&[]);
    let client = Client::new(&env);
    let token: TokenId = env["PAYMENT_TOKEN_ID"].parse().expect("a token id");
    let treasury: AccountId = env["OPERATOR_ID"].parse().expect("an account id");
    let supply = client.balance(&treasury, &token);
    let (stranger, key) = client.unassociated_account();
    replace_agent(&dir, AGENT_VAR, &stranger, &key);
    let state = dir.join("state").display().to_string();

    let run = baton(&dir, &run_args(&workflow, &state));
    let out = text(&run);
    assert_eq!(run.status.code(), Some(2), "the refusal ends the run: {out}");
    for expected in [
        format!("error: task `{TASK}`: payment transfer failed"),
        "TOKEN_NOT_ASSOCIATED_TO_ACCOUNT".to_owned(),
        format!("`{TASK}` to agent `{AGENT}` (account `{stranger}`)"),
        format!("associated with token `{token}`"),
    ] {
        assert!(out.contains(&expected), "`{expected}` missing from: {out}");
    }

    // The refusal is in the log: a restart finishes the other tasks and retries nothing.
    let rerun = baton(&dir, &run_args(&workflow, &state));
    let out = text(&rerun);
    assert_eq!(rerun.status.code(), Some(1), "{out}");
    assert!(out.contains("paid 60.00 to 9 task(s); outcome: Stuck"), "{out}");
    let again = baton(&dir, &run_args(&workflow, &state));
    assert!(text(&again).contains("0 transfer(s)"), "{}", text(&again));

    let status = baton(&dir, &["status", &workflow, "--network", "devnet", "--format", "json"]);
    assert!(status.status.success(), "{}", text(&status));
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    let task = report["tasks"]
        .as_array()
        .and_then(|tasks| tasks.iter().find(|t| t["id"] == TASK))
        .expect("the task is listed");
    let error = task["payment_error"].as_str().unwrap_or_default();
    assert!(error.contains("TOKEN_NOT_ASSOCIATED_TO_ACCOUNT"), "{task}");
    assert_eq!(report["paid"]["minor_units"], 6000, "{report}");
    assert_eq!(report["outcome"], "stuck", "as the run ended: {report}");

    // Nothing paid twice, nothing lost: the treasury gave exactly what the others hold.
    let others: i64 = agents[..4]
        .iter()
        .map(|a| client.balance(&a.parse().expect("an account id"), &token))
        .sum();
    assert_eq!(others, 6000, "every other task paid once");
    assert_eq!(client.balance(&stranger, &token), 0);
    assert_eq!(client.balance(&treasury, &token), supply - 6000);
    drop(client);
    let _ = std::fs::remove_dir_all(&dir);
}
