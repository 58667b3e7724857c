//! `baton agent`: the reference agent daemon for one agent of a festival, in its own process.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::run::runtime;
use super::{FAILURE, INVALID, OK};
use crate::agent::daemon::{self, Settings};
use crate::check::Festival;
use crate::executor::{RunError, Wiring, setup};
use crate::ledger::LocalLedger;
use crate::wire::{Keyring, SigningKey, parse_secret_key, public_hex};

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// A workflow file or festival directory.
    pub path: PathBuf,
    /// The agent this daemon is, as named in the workflow.
    #[arg(long)]
    pub id: String,
    /// Where the local ledger and keys live.
    #[arg(long, default_value = ".baton")]
    pub state: PathBuf,
    /// The ledger: `local`, or a Hedera network (`hedera` feature), where the agent pays its
    /// messages from its own account (the workflow's `account:` variable) with its key (the
    /// variable beside it ending in `_KEY`, or `--key-env`).
    #[arg(long, default_value = "local")]
    pub network: String,
    /// The program to run for tasks whose input has no `command`; it reads the assignment as
    /// JSON on stdin. Run through the shell.
    #[arg(long)]
    pub program: Option<String>,
    /// Where commands run (default: the current directory).
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// Seconds between heartbeats while a task is held; keep it well under the coordinator's
    /// `--heartbeat-grace`.
    #[arg(long, default_value_t = 10)]
    pub heartbeat: u64,
    /// The environment variable holding the agent's private key (e.g. AGENT_1_KEY, read from
    /// `.env` too); without it the key comes from the state directory's keyring.
    #[arg(long)]
    pub key_env: Option<String>,
}

pub(super) fn run(args: &AgentArgs, color: bool) -> u8 {
    let festival = match super::festival_on(&args.path, &args.network, color) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if !festival.agents.iter().any(|a| a.id.value == args.id) {
        eprintln!("error: `{}` is not an agent of festival `{}`", args.id, festival.id);
        return INVALID;
    }
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(serve(args, festival)) {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("error: agent `{}`: {e}", args.id);
            FAILURE
        }
    }
}

async fn serve(args: &AgentArgs, festival: Arc<Festival>) -> Result<(), RunError> {
    let cancel = CancellationToken::new();
    let ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: stopping the commands in hand");
            ctrl_c.cancel();
        }
    });
    #[cfg(feature = "hedera")]
    if args.network != "local" {
        let (ledger, wiring, key) = super::agent_hedera::connect(args, &festival).await?;
        return daemon::run(Arc::new(ledger), festival, wiring, key, settings(args)?, cancel).await;
    }
    let ledger = Arc::new(LocalLedger::open(&args.state)?);
    let Some(wiring) = wait_for_festival(&ledger, args, &festival, &cancel).await? else {
        return Ok(());
    };
    let key = key(args)?;
    let known = wiring.agent_keys.get(&args.id).map(public_hex);
    if known.as_deref() != Some(public_hex(&key.verifying_key()).as_str()) {
        return Err(RunError::Setup(format!(
            "the key given is not the key festival `{}` knows for agent `{}`",
            festival.id, args.id
        )));
    }
    eprintln!("agent `{}` follows festival `{}`", args.id, festival.id);
    daemon::run(ledger, festival, wiring, key, settings(args)?, cancel).await
}

fn settings(args: &AgentArgs) -> Result<Settings, RunError> {
    let workdir = match &args.workdir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().map_err(|e| RunError::Setup(format!("no working directory: {e}")))?,
    };
    Ok(Settings {
        agent: args.id.clone(),
        program: args.program.clone(),
        workdir,
        heartbeat: Duration::from_secs(args.heartbeat.max(1)),
        poll: Duration::from_millis(500),
    })
}

/// The festival's wiring, once `baton run` has set it up; `None` when cancelled first.
async fn wait_for_festival(
    ledger: &LocalLedger,
    args: &AgentArgs,
    festival: &Festival,
    cancel: &CancellationToken,
) -> Result<Option<Wiring>, RunError> {
    let mut told = false;
    loop {
        if let Some(wiring) = setup::existing(ledger, &args.state, festival).await? {
            return Ok(Some(wiring));
        }
        if !told {
            eprintln!(
                "waiting for festival `{}` to start in `{}`",
                festival.id,
                args.state.display()
            );
            told = true;
        }
        tokio::select! {
            () = cancel.cancelled() => return Ok(None),
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// The agent's private key: from the named environment variable, or the state's keyring.
pub(super) fn key(args: &AgentArgs) -> Result<SigningKey, RunError> {
    if let Some(var) = &args.key_env {
        let text =
            std::env::var(var).map_err(|_| RunError::Setup(format!("the environment variable `{var}` is not set")))?;
        // The parse error never quotes the key.
        return parse_secret_key(&text).map_err(|e| RunError::Setup(format!("`{var}`: {e}")));
    }
    let keyring = Keyring::load_or_create(args.state.join("keys.json")).map_err(RunError::Keys)?;
    keyring.get(&args.id).cloned().ok_or_else(|| {
        RunError::Setup(format!(
            "the keyring `{}` has no key for `{}`; pass `--key-env VAR`",
            keyring.path().display(),
            args.id
        ))
    })
}
