//! `baton setup [NETWORK]`: creates on a Hedera network what festivals need (the payment token,
//! the two topics, an account with a key for each signer) and writes their ids and keys to
//! `.env`. Run twice, it creates nothing new; it never replaces a value in `.env` without
//! `--force`.

use std::path::PathBuf;

use super::FAILURE;

#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// testnet, previewnet, mainnet or devnet (default: HEDERA_NETWORK, else testnet).
    pub network: Option<String>,
    /// The same as the positional NETWORK.
    #[arg(long = "network", value_name = "NETWORK")]
    pub network_flag: Option<String>,
    /// Workflows whose agents and approvers need accounts (the variables their `account:` reads);
    /// without one, two agents: AGENT_1 and AGENT_2.
    #[arg(long = "festival", value_name = "FILE")]
    pub festivals: Vec<PathBuf>,
    /// The file to read and write.
    #[arg(long, default_value = ".env")]
    pub env: PathBuf,
    /// Replace values in the file that name nothing on the network.
    #[arg(long)]
    pub force: bool,
    /// HBAR each new account receives from the operator.
    #[arg(long, default_value_t = 20)]
    pub fund: u32,
}

#[cfg(not(feature = "hedera"))]
pub(super) fn run(_args: &SetupArgs, _color: bool) -> u8 {
    eprintln!("error: {}", super::NEEDS_HEDERA);
    FAILURE
}

#[cfg(feature = "hedera")]
pub(super) fn run(args: &SetupArgs, color: bool) -> u8 {
    match provisioned::run(args, color) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            FAILURE
        }
    }
}

#[cfg(feature = "hedera")]
mod provisioned {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::SetupArgs;
    use crate::cli::run::runtime;
    use crate::cli::{INVALID, OK};
    use crate::executor::network::{Provision, Signer, key_var, signers};
    use crate::ledger::hedera::{HederaConfig, HederaLedger};
    use crate::load::load;
    use crate::spec::ProcessEnv;

    pub(super) fn run(args: &SetupArgs, color: bool) -> Result<u8, String> {
        let network = match (&args.network, &args.network_flag) {
            (Some(a), Some(b)) if a != b => return Err(format!("two networks given: `{a}` and `{b}`")),
            (Some(n), _) | (None, Some(n)) => Some(n.clone()),
            (None, None) => None,
        };
        let file = read_env(&args.env)?;
        let lookup = |name: &str| -> Option<String> {
            if name == "HEDERA_NETWORK"
                && let Some(n) = &network
            {
                return Some(n.clone());
            }
            file.get(name)
                .filter(|v| !v.trim().is_empty())
                .cloned()
                .or_else(|| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        };
        let config = HederaConfig::from_vars(&lookup).map_err(|e| e.to_string())?;
        let (signers, decimals) = festival_signers(&args.festivals, color)?;
        let provision = Provision {
            signers: &signers,
            decimals,
            supply: 1_000_000_000_000_000,
            fund_tinybars: i64::from(args.fund) * 100_000_000,
        };
        let runtime = runtime().map_err(|_| "cannot start the runtime".to_string())?;
        let chosen = lookup("HEDERA_NETWORK").unwrap_or_else(|| config.network.name().to_string());
        runtime.block_on(async {
            let ledger = HederaLedger::connect(config.clone()).map_err(|e| e.to_string())?;
            let stale = provision.stale(&ledger, &lookup).await.map_err(|e| e.to_string())?;
            if !stale.is_empty() && !args.force {
                eprintln!(
                    "error: `{}` has {} that name nothing on {} (or do not match); pass `--force` to replace them",
                    args.env.display(),
                    stale.join(", "),
                    chosen
                );
                return Ok(INVALID);
            }
            let done = provision.apply(&ledger, &lookup).await.map_err(|e| e.to_string())?;
            let mut vars = done.vars;
            vars.insert(0, ("HEDERA_NETWORK".into(), chosen));
            write_env(&args.env, &vars)?;
            report(&args.env, &done.created, &vars, &ledger.spent());
            Ok(OK)
        })
    }

    /// The signers of the given festivals (or the original two agents) and the token's decimals.
    fn festival_signers(files: &[std::path::PathBuf], color: bool) -> Result<(Vec<Signer>, u32), String> {
        if files.is_empty() {
            let two = (1..=2)
                .map(|n| Signer {
                    id: format!("agent-{n}"),
                    account_var: format!("AGENT_{n}_ACCOUNT"),
                    key_var: key_var(&format!("AGENT_{n}_ACCOUNT")),
                })
                .collect();
            return Ok((two, 2));
        }
        let mut all: Vec<Signer> = Vec::new();
        let mut decimals = 2;
        for file in files {
            let loaded = load(file, &ProcessEnv).map_err(|e| e.to_string())?;
            eprint!(
                "{}",
                crate::diagnostics::render_human(&loaded.sources, &loaded.diagnostics, color)
            );
            let festival = loaded
                .festival
                .as_ref()
                .ok_or_else(|| format!("{}: invalid; run `baton validate` for details", file.display()))?;
            decimals = festival.payment.decimals;
            for signer in signers(&loaded.sources, festival) {
                if !all.iter().any(|s| s.account_var == signer.account_var) {
                    all.push(signer);
                }
            }
        }
        Ok((all, decimals))
    }

    fn read_env(path: &Path) -> Result<BTreeMap<String, String>, String> {
        if !path.exists() {
            return Ok(BTreeMap::new());
        }
        dotenvy::from_path_iter(path)
            .and_then(Iterator::collect)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))
    }

    /// Sets each variable in the file: in place where it has a line, appended otherwise. The file
    /// holds keys: it is written whole to a temporary file with mode 0600, then renamed.
    fn write_env(path: &Path, vars: &[(String, String)]) -> Result<(), String> {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for (name, value) in vars {
            let line = format!("{name}={value}");
            let at = lines.iter().position(|l| {
                let l = l.trim_start().strip_prefix("export ").unwrap_or(l.trim_start());
                l.split_once('=').is_some_and(|(n, _)| n.trim() == name)
            });
            match at {
                Some(i) => lines[i] = line,
                None => lines.push(line),
            }
        }
        let temp = path.with_extension("tmp");
        let body = lines.join("\n") + "\n";
        write_private(&temp, body.as_bytes())
            .and_then(|()| std::fs::rename(&temp, path))
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
    }

    fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(path)?.write_all(bytes)
    }

    fn report(env: &Path, created: &[String], vars: &[(String, String)], spent: &[(String, i64)]) {
        if created.is_empty() {
            println!("nothing new: everything in `{}` exists on the network", env.display());
        }
        for item in created {
            println!("created {item}");
        }
        for (name, value) in vars {
            let shown = if name.ends_with("_KEY") {
                "<written, not shown>"
            } else {
                value
            };
            println!("{name}={shown}");
        }
        let total: i64 = spent.iter().map(|(_, t)| t).sum();
        #[allow(clippy::cast_precision_loss)]
        let hbar = total as f64 / 1e8;
        println!("spent {hbar:.8} ℏ");
    }
}
