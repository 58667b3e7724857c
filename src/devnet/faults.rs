//! Faults on demand: BUSY answers, dropped calls, consensus latency, late receipts, receipts
//! forgotten as Hedera's nodes forget them. Every draw
//! comes from one generator seeded by `Faults::seed`, so a sequence of calls in the same order
//! meets the same faults.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde::Deserialize;

use super::DevnetError;

/// What goes wrong, and how often.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Fraction (0 to 1) of transaction submissions answered with the pre-check status `BUSY`,
    /// without looking at them. The SDK tries again.
    pub busy_rate: f64,
    /// Fraction (0 to 1) of calls (transactions, queries, mirror subscriptions and each message
    /// a subscription streams) that fail with `UNAVAILABLE`, as a dropped connection does. Half
    /// of the dropped transaction submissions are dropped after the node accepted them, so the
    /// transaction still reaches consensus and a retry meets `DUPLICATE_TRANSACTION`.
    pub drop_rate: f64,
    /// Time between accepting a transaction and its consensus; meanwhile its receipt is
    /// `UNKNOWN`.
    pub consensus_latency: Duration,
    /// Time after consensus during which receipt and record queries answer `RECEIPT_NOT_FOUND`
    /// and `RECORD_NOT_FOUND`.
    pub receipt_delay: Duration,
    /// Time after consensus from which receipt and record queries answer `RECEIPT_NOT_FOUND`
    /// and `RECORD_NOT_FOUND` again, as Hedera's nodes forget receipts after about three
    /// minutes; zero keeps them for good. The mirror keeps every record, and a duplicate is
    /// still refused.
    pub receipt_ttl: Duration,
    /// Seed of the generator that draws the faults.
    pub seed: u64,
}

/// The faults file: a JSON object, every field optional, unknown fields refused.
/// `{"busy_rate": 0.1, "drop_rate": 0.05, "consensus_latency_ms": 250, "receipt_delay_ms": 500,
/// "receipt_ttl_ms": 180000, "seed": 7}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsFile {
    #[serde(default)]
    busy_rate: f64,
    #[serde(default)]
    drop_rate: f64,
    #[serde(default)]
    consensus_latency_ms: u64,
    #[serde(default)]
    receipt_delay_ms: u64,
    #[serde(default)]
    receipt_ttl_ms: u64,
    #[serde(default)]
    seed: u64,
}

impl Faults {
    /// Reads faults from a JSON object with the optional fields `busy_rate`, `drop_rate`,
    /// `consensus_latency_ms`, `receipt_delay_ms`, `receipt_ttl_ms` and `seed`, e.g. `{"busy_rate": 0.1,
    /// "consensus_latency_ms": 250}`; an unknown field is an error.
    ///
    /// # Errors
    /// [`DevnetError::Faults`] when the file cannot be read, is not such an object, or a rate
    /// is not between 0 and 1.
    pub fn from_file(path: &Path) -> Result<Faults, DevnetError> {
        let fail = |reason: String| DevnetError::Faults {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot be read: {e}")))?;
        let file: FaultsFile = serde_json::from_str(&text).map_err(|e| fail(format!("is not a faults object: {e}")))?;
        let faults = Faults {
            busy_rate: file.busy_rate,
            drop_rate: file.drop_rate,
            consensus_latency: Duration::from_millis(file.consensus_latency_ms),
            receipt_delay: Duration::from_millis(file.receipt_delay_ms),
            receipt_ttl: Duration::from_millis(file.receipt_ttl_ms),
            seed: file.seed,
        };
        faults.check().map_err(|reason| fail(format!("is wrong: {reason}")))?;
        Ok(faults)
    }

    /// Refuses rates outside 0 to 1 (and NaN).
    pub(crate) fn check(&self) -> Result<(), String> {
        for (name, rate) in [("busy_rate", self.busy_rate), ("drop_rate", self.drop_rate)] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("`{name}` is {rate}, not a fraction between 0 and 1"));
            }
        }
        Ok(())
    }
}

/// Where a dropped transaction submission is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drop {
    /// Before the node looked at it: nothing happened.
    Before,
    /// After the node accepted it: it goes on to consensus, the client never hears.
    After,
}

/// The seeded draws.
pub(crate) struct Dice {
    faults: Faults,
    rng: Mutex<SmallRng>,
}

impl Dice {
    pub(crate) fn new(faults: Faults) -> Self {
        let rng = Mutex::new(SmallRng::seed_from_u64(faults.seed));
        Self { faults, rng }
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Whether this transaction submission is answered `BUSY`.
    pub(crate) fn busy(&self) -> bool {
        self.draw(self.faults.busy_rate)
    }

    /// Whether this call is dropped.
    pub(crate) fn dropped(&self) -> bool {
        self.draw(self.faults.drop_rate)
    }

    /// Whether and where this transaction submission is dropped.
    pub(crate) fn drop_submission(&self) -> Option<Drop> {
        if !self.dropped() {
            return None;
        }
        Some(if self.draw(0.5) { Drop::After } else { Drop::Before })
    }

    fn draw(&self, rate: f64) -> bool {
        if rate.is_nan() || rate <= 0.0 {
            return false;
        }
        match self.rng.lock() {
            Ok(mut rng) => rng.random_bool(rate.min(1.0)),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(text: &str) -> std::path::PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!("baton-faults-{}-{nanos}.json", std::process::id()));
        if let Err(e) = std::fs::write(&path, text) {
            panic!("writing a faults file: {e}");
        }
        path
    }

    #[test]
    fn a_faults_file_is_read_and_checked() {
        let path = file_with(r#"{"busy_rate": 0.25, "consensus_latency_ms": 40, "receipt_ttl_ms": 1500, "seed": 9}"#);
        let faults = Faults::from_file(&path);
        let _ = std::fs::remove_file(&path);
        let faults = faults.unwrap_or_else(|e| panic!("a good faults file was refused: {e}"));
        assert!((faults.busy_rate - 0.25).abs() < f64::EPSILON);
        assert_eq!(faults.consensus_latency, Duration::from_millis(40));
        assert_eq!(faults.receipt_ttl, Duration::from_millis(1500));
        assert_eq!((faults.drop_rate, faults.seed), (0.0, 9));

        for bad in [r#"{"busy_rate": 1.5}"#, r#"{"busy": 0.1}"#, "not json"] {
            let path = file_with(bad);
            let refused = Faults::from_file(&path);
            let _ = std::fs::remove_file(&path);
            assert!(matches!(refused, Err(DevnetError::Faults { .. })), "{bad} was accepted");
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let faults = Faults {
            busy_rate: 0.5,
            drop_rate: 0.5,
            seed: 3,
            ..Faults::default()
        };
        let draws = |dice: &Dice| {
            (0..64)
                .map(|_| (dice.busy(), dice.drop_submission()))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(&Dice::new(faults.clone())), draws(&Dice::new(faults)));
        let calm = Dice::new(Faults::default());
        assert!((0..64).all(|_| !calm.busy() && !calm.dropped()));
    }
}
