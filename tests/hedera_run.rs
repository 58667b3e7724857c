//! The whole cycle on Hedera's API, through the binary and the real SDK: `baton devnet` on free
//! ports, `baton setup` creating the token, topics and one account per agent, `baton run
//! --network devnet --simulate` with each simulated agent paying from its own account, balances
//! read back through the SDK, and a second run paying nothing.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use assert_cmd::cargo::cargo_bin;
use hiero_sdk::{AccountBalanceQuery, AccountId, Client, PrivateKey, TokenId};

const WORKFLOW: &str = "workflows/quality-pipeline.yaml";

/// The devnet child, killed when dropped.
struct Devnet(Child);

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scratch() -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("baton-hedera-run-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn baton(dir: &Path, args: &[&str]) -> Output {
    Command::new(cargo_bin("baton"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("baton runs")
}

/// Starts `baton devnet` and returns it with the `.env` lines it printed.
fn start_devnet(dir: &Path) -> (Devnet, Vec<String>) {
    let state = dir.join("devnet").display().to_string();
    let mut child = Command::new(cargo_bin("baton"))
        .args(["devnet", "--port", "0", "--mirror-port", "0", "--state", &state])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("baton devnet starts");
    let stdout = child.stdout.take().expect("devnet stdout");
    let devnet = Devnet(child);
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("devnet prints its banner");
        let done = line.starts_with("OPERATOR_KEY=");
        if line
            .split_once('=')
            .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        {
            lines.push(line);
        }
        if done {
            break;
        }
    }
    (devnet, lines)
}

fn read_env(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .expect(".env")
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The token balances of the given accounts, through the SDK, paid by the operator.
fn balances(env: &BTreeMap<String, String>, accounts: &[String]) -> i64 {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let node_account: AccountId = env["HEDERA_NODE_ACCOUNT"].parse().expect("node account");
        let client = Client::for_network(HashMap::from([(env["HEDERA_NODE"].clone(), node_account)])).expect("client");
        client.set_mirror_network([env["HEDERA_MIRROR"].clone()]);
        let key = PrivateKey::from_str_ed25519(&env["OPERATOR_KEY"]).expect("operator key");
        client.set_operator(env["OPERATOR_ID"].parse().expect("operator"), key);
        let token: TokenId = env["PAYMENT_TOKEN_ID"].parse().expect("token");
        let mut total = 0;
        for account in accounts {
            let balance = AccountBalanceQuery::new()
                .account_id(account.parse().expect("account"))
                .execute(&client)
                .await
                .expect("balance query");
            #[allow(deprecated)]
            let held = balance.tokens.get(&token).copied().unwrap_or(0);
            total += i64::try_from(held).expect("balance fits");
        }
        total
    })
}

#[test]
fn a_festival_runs_on_devnet_through_the_sdk_and_pays_each_task_once() {
    let dir = scratch();
    let (_devnet, lines) = start_devnet(&dir);
    std::fs::write(dir.join(".env"), lines.join("\n") + "\n").expect(".env");
    let workflow = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(WORKFLOW)
        .display()
        .to_string();

    let setup = baton(&dir, &["setup", "--network", "devnet", "--festival", &workflow]);
    assert!(setup.status.success(), "{}", text(&setup));
    assert!(String::from_utf8_lossy(&setup.stdout).contains("created account"));
    let again = baton(&dir, &["setup", "--network", "devnet", "--festival", &workflow]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("nothing new"),
        "setup twice creates nothing: {}",
        text(&again)
    );
    let env = read_env(&dir.join(".env"));
    let agents: Vec<String> = (1..=5).map(|n| env[&format!("AGENT_{n}_ACCOUNT")].clone()).collect();

    let state = dir.join("state").display().to_string();
    let args = [
        "run",
        &workflow,
        "--network",
        "devnet",
        "--simulate",
        "--quiet",
        "--success-rate",
        "1",
    ];
    let run = baton(&dir, &[&args[..], &["--work-ms", "20", "--state", &state]].concat());
    let out = text(&run);
    assert!(run.status.success(), "{out}");
    assert!(out.contains("paid 65.00 to 10 task(s); outcome: Finished"), "{out}");
    assert!(out.contains(", 0 rejected"), "{out}");
    assert!(
        out.contains("HBAR spent by operation:") && out.contains("transfer"),
        "{out}"
    );
    assert_eq!(
        balances(&env, &agents),
        6500,
        "the agents hold the rewards, read through the SDK"
    );

    let rerun = baton(&dir, &[&args[..], &["--state", &state]].concat());
    let out = text(&rerun);
    assert!(rerun.status.success(), "{out}");
    assert!(out.contains("0 transfer(s)"), "a second run pays nothing: {out}");
    assert_eq!(balances(&env, &agents), 6500);
    let _ = std::fs::remove_dir_all(&dir);
}
