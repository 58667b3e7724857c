//! Back-off between attempts: doubling delays from a first one up to a ceiling, either for a
//! bounded number of attempts (operations) or until cancelled (mirror subscriptions).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Attempts an operation gets for errors the SDK surfaces as transient (it has already retried
/// busy and unavailable nodes itself by then).
pub(crate) const OPERATION_ATTEMPTS: u32 = 3;

/// The state of one series of attempts.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
    attempts_left: Option<u32>,
}

impl Backoff {
    /// For an operation: [`OPERATION_ATTEMPTS`] attempts, 1 s, then 2 s, ... apart.
    pub(crate) fn operation() -> Backoff {
        Backoff {
            next: Duration::from_secs(1),
            max: Duration::from_secs(8),
            attempts_left: Some(OPERATION_ATTEMPTS.saturating_sub(1)),
        }
    }

    /// For a subscription: unbounded, from 250 ms up to 5 s apart (a new topic appears on the
    /// mirror within seconds; it is noticed soon after).
    pub(crate) fn subscription() -> Backoff {
        Backoff {
            next: Duration::from_millis(250),
            max: Duration::from_secs(5),
            attempts_left: None,
        }
    }

    /// Starts over from the first delay (after an attempt that made progress).
    pub(crate) fn reset(&mut self) {
        let fresh = if self.attempts_left.is_some() {
            Backoff::operation()
        } else {
            Backoff::subscription()
        };
        *self = fresh;
    }

    /// The delay before the next attempt, or `None` when the attempts are used up.
    pub(crate) fn next_delay(&mut self) -> Option<Duration> {
        if let Some(left) = &mut self.attempts_left {
            if *left == 0 {
                return None;
            }
            *left -= 1;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        Some(delay)
    }

    /// Sleeps before the next attempt: `false` when the attempts are used up or `stop` fired.
    pub(crate) async fn pause(&mut self, stop: &CancellationToken) -> bool {
        let Some(delay) = self.next_delay() else {
            return false;
        };
        tokio::select! {
            biased;
            () = stop.cancelled() => false,
            () = tokio::time::sleep(delay) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_get_a_bounded_number_of_doubling_delays() {
        let mut backoff = Backoff::operation();
        let delays: Vec<_> = std::iter::from_fn(|| backoff.next_delay()).collect();
        assert_eq!(delays, [Duration::from_secs(1), Duration::from_secs(2)]);
    }

    #[test]
    fn subscriptions_retry_forever_up_to_a_ceiling() {
        let mut backoff = Backoff::subscription();
        let delays: Vec<_> = (0..8).filter_map(|_| backoff.next_delay()).collect();
        assert_eq!(delays.len(), 8);
        assert_eq!(delays[0], Duration::from_millis(250));
        assert_eq!(delays[7], Duration::from_secs(5));
        backoff.reset();
        assert_eq!(backoff.next_delay(), Some(Duration::from_millis(250)));
    }
}
