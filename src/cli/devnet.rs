//! `baton devnet`: a Hedera-compatible node and mirror on loopback, serving the local ledger over
//! Hedera's gRPC API and the mirror's REST API, until Ctrl-C.

use std::path::PathBuf;

use super::FAILURE;
#[cfg(feature = "hedera")]
use {
    super::OK,
    super::run::runtime,
    crate::devnet::{Config, Devnet, Faults},
    crate::wire::secret_hex,
    std::net::{Ipv4Addr, SocketAddr},
    std::time::Duration,
    tokio_util::sync::CancellationToken,
};

#[derive(Debug, clap::Args)]
pub struct DevnetArgs {
    /// The consensus node's port (0: any free port).
    #[arg(long, default_value_t = 50211)]
    pub port: u16,
    /// The mirror node's port (0: any free port).
    #[arg(long, default_value_t = 5600)]
    pub mirror_port: u16,
    /// The mirror REST API's port (0: any free port).
    #[arg(long, default_value_t = 5551)]
    pub rest_port: u16,
    /// Where the devnet keeps its ledger and its operator's key.
    #[arg(long, default_value = ".baton/devnet")]
    pub state: PathBuf,
    /// Faults from a JSON file (busy_rate, drop_rate, consensus_latency_ms, receipt_delay_ms,
    /// receipt_ttl_ms, seed).
    #[arg(long)]
    pub faults: Option<PathBuf>,
    /// Fraction of transactions answered BUSY.
    #[arg(long)]
    pub busy_rate: Option<f64>,
    /// Fraction of calls whose connection is dropped.
    #[arg(long)]
    pub drop_rate: Option<f64>,
    /// Milliseconds added before consensus.
    #[arg(long)]
    pub latency_ms: Option<u64>,
    /// Milliseconds during which a new receipt is not found yet.
    #[arg(long)]
    pub receipt_delay_ms: Option<u64>,
    /// Milliseconds after consensus from which receipts are forgotten, as Hedera's nodes forget
    /// them after about three minutes (the mirror keeps the records).
    #[arg(long)]
    pub receipt_ttl_ms: Option<u64>,
    /// Seed of the faults' choices.
    #[arg(long)]
    pub seed: Option<u64>,
}

#[cfg(feature = "hedera")]
impl DevnetArgs {
    fn faults(&self) -> Result<Faults, String> {
        let mut faults = match &self.faults {
            Some(path) => Faults::from_file(path).map_err(|e| e.to_string())?,
            None => Faults::default(),
        };
        if let Some(rate) = self.busy_rate {
            faults.busy_rate = rate;
        }
        if let Some(rate) = self.drop_rate {
            faults.drop_rate = rate;
        }
        if let Some(ms) = self.latency_ms {
            faults.consensus_latency = Duration::from_millis(ms);
        }
        if let Some(ms) = self.receipt_delay_ms {
            faults.receipt_delay = Duration::from_millis(ms);
        }
        if let Some(ms) = self.receipt_ttl_ms {
            faults.receipt_ttl = Duration::from_millis(ms);
        }
        if let Some(seed) = self.seed {
            faults.seed = seed;
        }
        Ok(faults)
    }
}

#[cfg(not(feature = "hedera"))]
pub(super) fn run(_args: &DevnetArgs) -> u8 {
    eprintln!("error: {}", super::NEEDS_HEDERA);
    FAILURE
}

#[cfg(feature = "hedera")]
pub(super) fn run(args: &DevnetArgs) -> u8 {
    let faults = match args.faults() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: faults: {e}");
            return FAILURE;
        }
    };
    let config = Config {
        node: SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)),
        mirror: SocketAddr::from((Ipv4Addr::LOCALHOST, args.mirror_port)),
        rest: SocketAddr::from((Ipv4Addr::LOCALHOST, args.rest_port)),
        state: args.state.clone(),
        faults,
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let cancel = CancellationToken::new();
        let devnet = match Devnet::start(config, cancel.clone()).await {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: devnet: {e}");
                return FAILURE;
            }
        };
        print!("{}", banner(&devnet));
        if tokio::signal::ctrl_c().await.is_err() {
            eprintln!("error: cannot listen for Ctrl-C; stopping");
        }
        cancel.cancel();
        devnet.stopped().await;
        OK
    })
}

#[cfg(feature = "hedera")]
/// What a client needs: the addresses, the node's account and the operator's account and key,
/// as `.env` lines.
fn banner(devnet: &Devnet) -> String {
    format!(
        "devnet: consensus node {node} (account {node_account}), mirror {mirror}, mirror REST http://{rest}\n\
         use these in .env (the key is the devnet's own operator, kept in its state directory):\n\
         HEDERA_NETWORK=devnet\nHEDERA_NODE={node}\nHEDERA_NODE_ACCOUNT={node_account}\nHEDERA_MIRROR={mirror}\n\
         HEDERA_MIRROR_REST=http://{rest}\nOPERATOR_ID={operator}\nOPERATOR_KEY={key}\n",
        node = devnet.node,
        node_account = devnet.node_account,
        mirror = devnet.mirror,
        rest = devnet.rest,
        operator = devnet.operator,
        key = secret_hex(&devnet.operator_key),
    )
}
