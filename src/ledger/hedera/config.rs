//! Which Hedera network to talk to and who pays: read from variables (`.env` or the environment).
//!
//! A key's text is never repeated in an error, and [`HederaConfig`]'s `Debug` leaves the key out.

use std::fmt;
use std::time::Duration;

use super::network::{Network, check_endpoint, rest_base};
use crate::ledger::{AccountId, LedgerError};
use crate::wire::{SigningKey, parse_secret_key};

/// Tinybars in one hbar.
const TINYBARS_PER_HBAR: i64 = 100_000_000;
/// The maximum fee per transaction when `HEDERA_MAX_FEE` is not set: 2 ℏ.
const DEFAULT_MAX_FEE: i64 = 2 * TINYBARS_PER_HBAR;
/// How far the public mirror nodes are assumed to lag consensus when `HEDERA_MIRROR_LAG_MS` is
/// not set.
const PUBLIC_MIRROR_LAG: Duration = Duration::from_secs(6);
/// The same for a custom network, which is usually a loopback emulator.
const LOCAL_MIRROR_LAG: Duration = Duration::from_millis(300);
/// `devnet`'s consensus node and mirror when `HEDERA_NODE` / `HEDERA_MIRROR` are not set.
const DEVNET_NODE: &str = "127.0.0.1:50211";
const DEVNET_MIRROR: &str = "127.0.0.1:5600";
/// `devnet`'s mirror REST API when `HEDERA_MIRROR_REST` is not set (5551, the port Hedera's
/// local networks and the SDKs use beside a mirror on 5600).
const DEVNET_MIRROR_REST: &str = "http://127.0.0.1:5551";
/// The node account of a custom network when `HEDERA_NODE_ACCOUNT` is not set.
const DEFAULT_NODE_ACCOUNT: &str = "0.0.3";

/// Where to connect and who pays.
#[derive(Clone)]
pub struct HederaConfig {
    pub network: Network,
    /// The account that pays for (and signs) every transaction this client sends.
    pub operator: AccountId,
    /// The operator's ed25519 key. Never printed.
    pub operator_key: SigningKey,
    /// The most a transaction may cost, in tinybars.
    pub max_fee_tinybars: i64,
    /// How far the mirror is assumed to lag consensus; the log is read up to now minus this.
    pub mirror_lag: Duration,
}

impl fmt::Debug for HederaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HederaConfig")
            .field("network", &self.network)
            .field("operator", &self.operator)
            .field("operator_key", &"<redacted>")
            .field("max_fee_tinybars", &self.max_fee_tinybars)
            .field("mirror_lag", &self.mirror_lag)
            .finish()
    }
}

impl HederaConfig {
    /// From variables: `HEDERA_NETWORK` (`testnet` when unset, `previewnet`, `mainnet`, `devnet`
    /// or `custom`), `OPERATOR_ID` (or `OPERATOR_ACCOUNT_ID`), `OPERATOR_KEY` (hex or DER, see
    /// [`parse_secret_key`]), `HEDERA_NODE` (`host:port`), `HEDERA_NODE_ACCOUNT` (default
    /// `0.0.3`), `HEDERA_MIRROR` (`host:port`), `HEDERA_MIRROR_REST` (the mirror's REST API,
    /// `http://host:port`; a custom network may have none), `HEDERA_MAX_FEE` (ℏ, default 2) and
    /// `HEDERA_MIRROR_LAG_MS` (default 6000 on public networks, 300 on custom ones). `devnet` is
    /// a custom network whose node, mirror and REST API default to `127.0.0.1:50211`,
    /// `127.0.0.1:5600` and `http://127.0.0.1:5551`. Public networks use Hedera's mirrors. An
    /// empty variable counts as unset.
    pub fn from_vars(get: &dyn Fn(&str) -> Option<String>) -> Result<HederaConfig, LedgerError> {
        let var = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let network = network(&var)?;
        let operator_text = var("OPERATOR_ID")
            .or_else(|| var("OPERATOR_ACCOUNT_ID"))
            .ok_or_else(|| {
                missing(
                    "OPERATOR_ID",
                    "the operator's account id (`0.0.N`) that pays for transactions",
                )
            })?;
        let operator = operator_text.parse().map_err(|_| LedgerError::Config {
            variable: "OPERATOR_ID",
            reason: format!("`{operator_text}` is not an account id `shard.realm.num`"),
        })?;
        let key_text =
            var("OPERATOR_KEY").ok_or_else(|| missing("OPERATOR_KEY", "the operator's ed25519 private key"))?;
        let operator_key = parse_secret_key(&key_text).map_err(|e| LedgerError::Config {
            variable: "OPERATOR_KEY",
            reason: e.to_string(),
        })?;
        let max_fee_tinybars = match var("HEDERA_MAX_FEE") {
            Some(text) => hbar_to_tinybars(&text).ok_or_else(|| LedgerError::Config {
                variable: "HEDERA_MAX_FEE",
                reason: format!("`{text}` is not a positive amount of hbar with at most 8 decimals"),
            })?,
            None => DEFAULT_MAX_FEE,
        };
        let mirror_lag = match var("HEDERA_MIRROR_LAG_MS") {
            Some(text) => Duration::from_millis(text.parse().map_err(|_| LedgerError::Config {
                variable: "HEDERA_MIRROR_LAG_MS",
                reason: format!("`{text}` is not a number of milliseconds"),
            })?),
            None if network.is_public() => PUBLIC_MIRROR_LAG,
            None => LOCAL_MIRROR_LAG,
        };
        Ok(HederaConfig {
            network,
            operator,
            operator_key,
            max_fee_tinybars,
            mirror_lag,
        })
    }

    /// The same network and settings, paid by another account (each agent pays its own messages).
    #[must_use]
    pub fn with_operator(&self, account: AccountId, key: SigningKey) -> HederaConfig {
        HederaConfig {
            operator: account,
            operator_key: key,
            ..self.clone()
        }
    }
}

fn missing(variable: &'static str, what: &str) -> LedgerError {
    LedgerError::Config {
        variable,
        reason: format!("not set: {what}"),
    }
}

/// The network `HEDERA_NETWORK` and, for custom ones, `HEDERA_NODE`, `HEDERA_NODE_ACCOUNT`,
/// `HEDERA_MIRROR` and `HEDERA_MIRROR_REST` name.
fn network(var: &dyn Fn(&str) -> Option<String>) -> Result<Network, LedgerError> {
    let name = var("HEDERA_NETWORK").unwrap_or_else(|| "testnet".to_owned());
    let (node_default, mirror_default, rest_default) = match name.to_ascii_lowercase().as_str() {
        "testnet" => return Ok(Network::Testnet),
        "previewnet" => return Ok(Network::Previewnet),
        "mainnet" => return Ok(Network::Mainnet),
        "devnet" => (Some(DEVNET_NODE), Some(DEVNET_MIRROR), Some(DEVNET_MIRROR_REST)),
        "custom" => (None, None, None),
        _ => {
            return Err(LedgerError::Config {
                variable: "HEDERA_NETWORK",
                reason: format!("`{name}` is not one of testnet, previewnet, mainnet, devnet, custom"),
            });
        }
    };
    let endpoint = |variable: &'static str, default: Option<&str>, what: &str| {
        let text = var(variable)
            .or_else(|| default.map(str::to_owned))
            .ok_or_else(|| missing(variable, what))?;
        check_endpoint(&text).map_err(|reason| LedgerError::Config { variable, reason })?;
        Ok::<_, LedgerError>(text)
    };
    let node = endpoint("HEDERA_NODE", node_default, "the consensus node's `host:port`")?;
    let mirror = endpoint("HEDERA_MIRROR", mirror_default, "the mirror node's `host:port`")?;
    let rest = var("HEDERA_MIRROR_REST")
        .or_else(|| rest_default.map(str::to_owned))
        .map(|text| {
            rest_base(&text).map_err(|reason| LedgerError::Config {
                variable: "HEDERA_MIRROR_REST",
                reason,
            })
        })
        .transpose()?;
    let account_text = var("HEDERA_NODE_ACCOUNT").unwrap_or_else(|| DEFAULT_NODE_ACCOUNT.to_owned());
    let node_account = account_text.parse().map_err(|_| LedgerError::Config {
        variable: "HEDERA_NODE_ACCOUNT",
        reason: format!("`{account_text}` is not an account id `shard.realm.num`"),
    })?;
    Ok(Network::Custom {
        node,
        node_account,
        mirror,
        rest,
    })
}

/// `2`, `0.5` or `1.25000000` ℏ in tinybars; `None` unless positive with at most 8 decimals.
fn hbar_to_tinybars(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) || fraction.len() > 8 {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<8}").parse().ok()?
    };
    let tinybars = whole.checked_mul(TINYBARS_PER_HBAR)?.checked_add(fraction)?;
    (tinybars > 0).then_some(tinybars)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const KEY: &str =
        "302e020100300506032b65700422042091132178e72057a1d7528025956fe39b0b847f200ab59b2fdd367017f3087137";

    fn config(vars: &[(&str, &str)]) -> Result<HederaConfig, LedgerError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        HederaConfig::from_vars(&|name| map.get(name).cloned())
    }

    fn with_operator<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut vars = vec![("OPERATOR_ID", "0.0.1234"), ("OPERATOR_KEY", KEY)];
        vars.extend_from_slice(extra);
        vars
    }

    fn custom(node: &str, account: &str, mirror: &str, rest: Option<&str>) -> Network {
        Network::Custom {
            node: node.into(),
            node_account: AccountId(account.into()),
            mirror: mirror.into(),
            rest: rest.map(str::to_owned),
        }
    }

    #[test]
    fn each_network_is_read_with_its_defaults() {
        type Vars = &'static [(&'static str, &'static str)];
        let cases: Vec<(Vars, Network, u64)> = vec![
            (&[], Network::Testnet, 6000),
            (&[("HEDERA_NETWORK", "testnet")], Network::Testnet, 6000),
            (&[("HEDERA_NETWORK", "previewnet")], Network::Previewnet, 6000),
            (&[("HEDERA_NETWORK", "Mainnet")], Network::Mainnet, 6000),
            (
                &[("HEDERA_NETWORK", "devnet")],
                custom(
                    "127.0.0.1:50211",
                    "0.0.3",
                    "127.0.0.1:5600",
                    Some("http://127.0.0.1:5551"),
                ),
                300,
            ),
            (
                &[
                    ("HEDERA_NETWORK", "devnet"),
                    ("HEDERA_MIRROR_REST", "http://127.0.0.1:6000/api/v1"),
                ],
                custom(
                    "127.0.0.1:50211",
                    "0.0.3",
                    "127.0.0.1:5600",
                    Some("http://127.0.0.1:6000"),
                ),
                300,
            ),
            (
                &[
                    ("HEDERA_NETWORK", "custom"),
                    ("HEDERA_NODE", "10.0.0.5:50211"),
                    ("HEDERA_NODE_ACCOUNT", "0.0.4"),
                    ("HEDERA_MIRROR", "mirror.example:5600"),
                    ("HEDERA_MIRROR_LAG_MS", "1500"),
                ],
                custom("10.0.0.5:50211", "0.0.4", "mirror.example:5600", None),
                1500,
            ),
        ];
        for (vars, network, lag_ms) in cases {
            let read = config(&with_operator(vars)).expect("the configuration is valid");
            assert_eq!(read.network, network, "{vars:?}");
            assert_eq!(read.mirror_lag, Duration::from_millis(lag_ms), "{vars:?}");
            assert_eq!(read.operator, AccountId("0.0.1234".into()));
            assert_eq!(read.max_fee_tinybars, DEFAULT_MAX_FEE);
        }
    }

    #[test]
    fn max_fee_is_read_in_hbar_without_floats() {
        let cases = [
            ("2", Some(200_000_000)),
            ("0.5", Some(50_000_000)),
            (".00000001", Some(1)),
            ("1.25000000", Some(125_000_000)),
            ("0", None),
            ("-1", None),
            ("1.000000001", None),
            ("1e3", None),
            (".", None),
        ];
        for (text, expected) in cases {
            assert_eq!(hbar_to_tinybars(text), expected, "{text}");
        }
        let read = config(&with_operator(&[("HEDERA_MAX_FEE", "0.5")])).expect("valid");
        assert_eq!(read.max_fee_tinybars, 50_000_000);
    }

    #[test]
    fn missing_and_bad_values_name_their_variable() {
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![("OPERATOR_KEY", KEY)], "`OPERATOR_ID`: not set"),
            (vec![("OPERATOR_ID", "0.0.1234")], "`OPERATOR_KEY`: not set"),
            (
                vec![("OPERATOR_ID", "alice"), ("OPERATOR_KEY", KEY)],
                "`OPERATOR_ID`: `alice` is not an account id",
            ),
            (
                with_operator(&[("HEDERA_NETWORK", "moon")]),
                "`HEDERA_NETWORK`: `moon` is not one of",
            ),
            (with_operator(&[("HEDERA_NETWORK", "custom")]), "`HEDERA_NODE`: not set"),
            (
                with_operator(&[("HEDERA_NETWORK", "custom"), ("HEDERA_NODE", "127.0.0.1:1")]),
                "`HEDERA_MIRROR`: not set",
            ),
            (
                with_operator(&[("HEDERA_NETWORK", "devnet"), ("HEDERA_NODE", "127.0.0.1")]),
                "`HEDERA_NODE`: `127.0.0.1` is not `host:port`: no port",
            ),
            (
                with_operator(&[("HEDERA_NETWORK", "devnet"), ("HEDERA_MIRROR", "a b:80")]),
                "`HEDERA_MIRROR`: `a b:80` is not `host:port`",
            ),
            (
                with_operator(&[("HEDERA_NETWORK", "devnet"), ("HEDERA_MIRROR_REST", "127.0.0.1:5551")]),
                "`HEDERA_MIRROR_REST`: `127.0.0.1:5551` is not a mirror REST address",
            ),
            (with_operator(&[("HEDERA_MAX_FEE", "lots")]), "`HEDERA_MAX_FEE`: `lots`"),
            (
                with_operator(&[("HEDERA_MIRROR_LAG_MS", "soon")]),
                "`HEDERA_MIRROR_LAG_MS`: `soon`",
            ),
        ];
        for (vars, expected) in cases {
            let error = config(&vars).expect_err("the configuration is refused").to_string();
            assert!(
                error.starts_with(expected),
                "{error:?} does not start with {expected:?}"
            );
        }
    }

    #[test]
    fn a_bad_key_is_never_repeated() {
        let secrets = [
            "91132178e72057a1d7528025956fe39b0b847f200ab59b2fdd367017f30871",
            "zz132178e72057a1d7528025956fe39b0b847f200ab59b2fdd367017f3087137",
            "302e020100300506032b65700422042191132178e72057a1d7528025956fe39b0b847f200ab59b2fdd367017f3087137",
        ];
        for secret in secrets {
            let error = config(&[("OPERATOR_ID", "0.0.2"), ("OPERATOR_KEY", secret)])
                .expect_err("the key is refused")
                .to_string();
            assert!(error.starts_with("`OPERATOR_KEY`: key: "), "{error}");
            assert!(!error.contains(&secret[8..40]), "the error repeats the key: {error}");
        }
    }

    #[test]
    fn debug_leaves_the_key_out() {
        let read = config(&with_operator(&[])).expect("valid");
        let shown = format!("{read:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains(&KEY[32..64]));
        assert!(!shown.contains(&hex::encode(read.operator_key.as_bytes())));
    }

    #[test]
    fn another_operator_keeps_the_network() {
        let read = config(&with_operator(&[("HEDERA_NETWORK", "devnet")])).expect("valid");
        let agent = read.with_operator(AccountId("0.0.77".into()), SigningKey::from_bytes(&[7; 32]));
        assert_eq!((agent.network, agent.operator.0.as_str()), (read.network, "0.0.77"));
    }
}
