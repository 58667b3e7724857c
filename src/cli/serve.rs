//! `baton serve`: the live web view of a festival, with approvals, beside `baton run`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::run::runtime;
use super::{FAILURE, INVALID, OK};
use crate::approval;
use crate::check::Festival;
use crate::serve::{Options, Server};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The workflow file.
    pub path: PathBuf,
    /// Where the local ledger and keys live (`baton run --state`).
    #[arg(long, default_value = ".baton")]
    pub state: PathBuf,
    /// The ledger: `local`, or a Hedera network (`hedera` feature), read through its mirror;
    /// answers are then paid from each approver's own account.
    #[arg(long, default_value = "local")]
    pub network: String,
    /// The address to listen on; port 0 picks a free one. Loopback unless you say otherwise.
    #[arg(long, default_value = "127.0.0.1:8700")]
    pub addr: SocketAddr,
    /// An approver answers through the page are signed as (repeatable); by default every
    /// approver of the workflow whose key the state directory's keyring holds (on Hedera, whose
    /// key variable is set).
    #[arg(long = "as", value_name = "APPROVER")]
    pub approvers: Vec<String>,
    /// The environment variable holding the private key of the one approver of `--as` (read
    /// from `.env` too); without it keys come from the state directory's keyring (on Hedera, from
    /// the variable beside the approver's account variable).
    #[arg(long)]
    pub key_env: Option<String>,
}

pub(super) fn run(args: &ServeArgs, color: bool) -> u8 {
    let festival = match super::festival_on(&args.path, &args.network, color) {
        Ok(f) => f,
        Err(code) => return code,
    };
    #[cfg(feature = "hedera")]
    if args.network != "local"
        && let Err(e) = crate::serve::hedera::check(&args.network)
    {
        eprintln!("error: network `{}`: {e}", args.network);
        return FAILURE;
    }
    let signers = match signers(args, &festival) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let options = Options {
        workflow: args.path.clone(),
        network: args.network.clone(),
        state: args.state.clone(),
        signers,
        key_env: args.key_env.clone(),
    };
    match runtime.block_on(serve(args.addr, festival, options)) {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("error: {e}");
            FAILURE
        }
    }
}

/// The approvers the server signs as: those of `--as`, each named in the workflow, or every
/// approver of the workflow; exactly one with `--key-env`.
fn signers(args: &ServeArgs, festival: &Festival) -> Result<Vec<String>, u8> {
    for approver in &args.approvers {
        if let Err(e) = approval::named(festival, approver) {
            eprintln!("error: {e}");
            return Err(INVALID);
        }
    }
    let signers: Vec<String> = if args.approvers.is_empty() {
        festival.approvers.iter().map(|a| a.id.value.clone()).collect()
    } else {
        args.approvers.clone()
    };
    if args.key_env.is_some() && signers.len() != 1 {
        eprintln!("error: `--key-env` holds one approver's key: say whose with one `--as APPROVER`");
        return Err(FAILURE);
    }
    Ok(signers)
}

/// Binds, prints where to look and the token, and serves until Ctrl-C.
async fn serve(addr: SocketAddr, festival: Arc<Festival>, options: Options) -> Result<(), crate::serve::ServeError> {
    let id = festival.id.clone();
    let signers = options.signers.join(", ");
    let server = Server::bind(addr, festival, options).await?;
    let addr = server.addr();
    if !addr.ip().is_loopback() {
        eprintln!("warning: listening on {addr}, not loopback: whoever reaches it can read the festival");
    }
    println!("serving festival `{id}` on http://{addr}/");
    println!("open http://{addr}/#token={}", server.token());
    println!(
        "token: {} (approve and reject need `Authorization: Bearer TOKEN`)",
        server.token()
    );
    println!(
        "answers are signed as: {}",
        if signers.is_empty() { "nobody" } else { &signers }
    );
    let cancel = CancellationToken::new();
    let ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: stopping the server");
            ctrl_c.cancel();
        }
    });
    server.run(cancel).await
}
