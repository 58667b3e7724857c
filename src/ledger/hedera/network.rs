//! Hedera networks: the public ones' consensus nodes and mirrors, and custom ones (one node and a
//! mirror, such as `baton devnet`).

use crate::ledger::AccountId;

/// The consensus nodes of testnet (node account 0.0.3 onwards), spoken to in plaintext on 50211.
const TESTNET_NODES: &[&str] = &[
    "0.testnet.hedera.com",
    "1.testnet.hedera.com",
    "2.testnet.hedera.com",
    "3.testnet.hedera.com",
    "4.testnet.hedera.com",
    "5.testnet.hedera.com",
    "6.testnet.hedera.com",
];
const PREVIEWNET_NODES: &[&str] = &[
    "0.previewnet.hedera.com",
    "1.previewnet.hedera.com",
    "2.previewnet.hedera.com",
    "3.previewnet.hedera.com",
    "4.previewnet.hedera.com",
    "5.previewnet.hedera.com",
    "6.previewnet.hedera.com",
];
/// Mainnet's nodes 0.0.3 to 0.0.31 (one address each, from hiero-sdk 0.45's address book).
const MAINNET_NODES: &[&str] = &[
    "35.237.200.180",
    "35.186.191.247",
    "35.192.2.25",
    "35.199.161.108",
    "35.203.82.240",
    "35.236.5.219",
    "35.197.192.225",
    "35.242.233.154",
    "35.240.118.96",
    "35.204.86.32",
    "35.234.132.107",
    "35.236.2.27",
    "35.228.11.53",
    "34.91.181.183",
    "34.86.212.247",
    "141.94.175.187",
    "34.89.87.138",
    "34.82.78.255",
    "34.76.140.109",
    "34.64.141.166",
    "35.232.244.145",
    "34.89.103.38",
    "34.93.112.7",
    "34.87.150.174",
    "34.125.200.96",
    "35.198.220.75",
    "34.142.71.129",
    "35.234.249.150",
    "34.107.78.179",
];
/// The port consensus nodes serve plaintext gRPC on.
const NODE_PORT: u16 = 50211;

/// A Hedera network: one of the public ones, or a custom one (one consensus node and a mirror).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    Testnet,
    Previewnet,
    Mainnet,
    Custom {
        /// The consensus node, `host:port`.
        node: String,
        /// The node's account (`0.0.3` on most local networks).
        node_account: AccountId,
        /// The mirror node's gRPC endpoint, `host:port`. Plaintext only when the host contains
        /// `localhost` or `127.0.0.1` (the SDK uses TLS otherwise).
        mirror: String,
        /// The base URL of the mirror node's REST API (`http://127.0.0.1:5551`, without
        /// `/api/v1`), if it serves one.
        rest: Option<String>,
    },
}

impl Network {
    /// Every consensus node address (`host:port`) with its node account.
    #[must_use]
    pub fn nodes(&self) -> Vec<(String, AccountId)> {
        let public = |hosts: &[&str]| {
            hosts
                .iter()
                .zip(3u64..)
                .map(|(host, num)| (format!("{host}:{NODE_PORT}"), AccountId(format!("0.0.{num}"))))
                .collect()
        };
        match self {
            Network::Testnet => public(TESTNET_NODES),
            Network::Previewnet => public(PREVIEWNET_NODES),
            Network::Mainnet => public(MAINNET_NODES),
            Network::Custom { node, node_account, .. } => vec![(node.clone(), node_account.clone())],
        }
    }

    /// The mirror node's gRPC endpoint, `host:port`.
    #[must_use]
    pub fn mirror(&self) -> String {
        match self {
            Network::Testnet => "testnet.mirrornode.hedera.com:443".to_owned(),
            Network::Previewnet => "previewnet.mirrornode.hedera.com:443".to_owned(),
            Network::Mainnet => "mainnet-public.mirrornode.hedera.com:443".to_owned(),
            Network::Custom { mirror, .. } => mirror.clone(),
        }
    }

    /// The base URL of the mirror node's REST API (`/api/v1/...` follows), if there is one: the
    /// public mirrors Hedera runs, or a custom network's `rest`.
    #[must_use]
    pub fn mirror_rest(&self) -> Option<String> {
        match self {
            Network::Testnet => Some("https://testnet.mirrornode.hedera.com".to_owned()),
            Network::Previewnet => Some("https://previewnet.mirrornode.hedera.com".to_owned()),
            Network::Mainnet => Some("https://mainnet-public.mirrornode.hedera.com".to_owned()),
            Network::Custom { rest, .. } => rest.clone(),
        }
    }

    /// Whether this is one of Hedera's public networks (where nodes no longer answer token
    /// balances).
    #[must_use]
    pub fn is_public(&self) -> bool {
        !matches!(self, Network::Custom { .. })
    }

    /// The name `HEDERA_NETWORK` gives it (`custom` for any custom network).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Network::Testnet => "testnet",
            Network::Previewnet => "previewnet",
            Network::Mainnet => "mainnet",
            Network::Custom { .. } => "custom",
        }
    }
}

/// Checks that `text` is `host:port` with a host the SDK can put in a URI (it panics on one it
/// cannot): a name or IPv4 address, or an IPv6 address in brackets.
pub(super) fn check_endpoint(text: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("`{text}` is not `host:port`: {why}"));
    let Some((host, port)) = text.rsplit_once(':') else {
        return bad("no port");
    };
    if !port.parse::<u16>().is_ok_and(|p| p > 0) {
        return bad("the port is not a number from 1 to 65535");
    }
    let plain = |h: &str| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    };
    let bracketed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.'));
    if plain(host) || bracketed {
        Ok(())
    } else {
        bad("the host is not a name, an IPv4 address or a bracketed IPv6 address")
    }
}

/// The base URL of a mirror's REST API from `text`: `http://` or `https://`, a host and an
/// optional port, and no path but an optional `/` or `/api/v1` (dropped: requests add it).
pub(super) fn rest_base(text: &str) -> Result<String, String> {
    let bad = |why: &str| Err(format!("`{text}` is not a mirror REST address: {why}"));
    let Ok(uri) = text.parse::<hyper::Uri>() else {
        return bad("not a URL");
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return bad("it does not start with `http://` or `https://`");
    }
    let Some(authority) = uri.authority() else {
        return bad("no host");
    };
    if authority.as_str().contains('@') || uri.query().is_some() {
        return bad("it has credentials or a query");
    }
    if !matches!(uri.path().trim_end_matches('/'), "" | "/api/v1") {
        return bad("its path is neither empty nor `/api/v1`");
    }
    Ok(format!("{}://{authority}", uri.scheme_str().unwrap_or("http")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_networks_list_their_nodes_and_mirror() {
        let nodes = Network::Testnet.nodes();
        assert_eq!(nodes.len(), 7);
        assert_eq!(
            nodes[0],
            ("0.testnet.hedera.com:50211".into(), AccountId("0.0.3".into()))
        );
        assert_eq!(
            Network::Mainnet.nodes().last().map(|n| n.1.0.clone()),
            Some("0.0.31".into())
        );
        assert_eq!(Network::Previewnet.mirror(), "previewnet.mirrornode.hedera.com:443");
        assert_eq!(
            Network::Testnet.mirror_rest().as_deref(),
            Some("https://testnet.mirrornode.hedera.com")
        );
        assert_eq!(
            Network::Mainnet.mirror_rest().as_deref(),
            Some("https://mainnet-public.mirrornode.hedera.com")
        );
    }

    #[test]
    fn rest_addresses_are_normalised_or_refused() {
        let cases = [
            ("http://127.0.0.1:5551", Ok("http://127.0.0.1:5551")),
            ("http://127.0.0.1:5551/", Ok("http://127.0.0.1:5551")),
            (
                "https://testnet.mirrornode.hedera.com/api/v1/",
                Ok("https://testnet.mirrornode.hedera.com"),
            ),
            ("127.0.0.1:5551", Err("does not start with")),
            ("ftp://mirror:21", Err("does not start with")),
            ("http://mirror/other", Err("its path")),
            ("http://user:pw@mirror", Err("credentials")),
            ("http://mirror?x=1", Err("credentials or a query")),
            ("http://", Err("not a mirror REST address")),
        ];
        for (text, expected) in cases {
            match (rest_base(text), expected) {
                (Ok(base), Ok(want)) => assert_eq!(base, want, "{text}"),
                (Err(error), Err(part)) => assert!(error.contains(part), "{text}: {error}"),
                (got, _) => panic!("{text}: {got:?}"),
            }
        }
    }

    #[test]
    fn endpoints_the_sdk_could_not_parse_are_refused() {
        for good in [
            "localhost:50211",
            "127.0.0.1:5600",
            "[::1]:5600",
            "node-1.example_net:443",
        ] {
            assert_eq!(check_endpoint(good), Ok(()), "{good}");
        }
        for bad in [
            "localhost",
            ":80",
            "host:0",
            "host:99999",
            "ho/st:80",
            "[]:80",
            "http://x:80",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
    }
}
