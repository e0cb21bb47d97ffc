//! Retrying one Athena API call or query: a fixed number of retries with full-jitter
//! exponential backoff between them.

use std::future::Future;
use std::time::Duration;

/// How many retries, and the base of the delay between them (the profile's `num_retries`
/// and `retry_base_delay`).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub retries: u32,
    pub base_delay: Duration,
}

impl Backoff {
    /// Jittered exponential backoff: uniformly random in [0, base * 2^attempt], capped at 20 s
    /// ("full jitter", so that parallel model builds do not retry in lockstep).
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = Duration::from_secs(20);
        let max = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(cap);
        let millis = max.as_millis() as u64;
        Duration::from_millis(fastrand::u64(0..=millis))
    }

    /// Runs `op` until it succeeds, fails with an error `is_retryable` turns down, or has
    /// been retried `retries` times; the n-th retry waits `delay(n)` first. The last error
    /// is returned as it came.
    pub async fn retry<T, E, Fut>(
        &self,
        mut op: impl FnMut() -> Fut,
        mut is_retryable: impl FnMut(&E) -> bool,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Err(e) if attempt < self.retries && is_retryable(&e) => {
                    attempt += 1;
                    tokio::time::sleep(self.delay(attempt)).await;
                }
                done => return done,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn no_wait(retries: u32) -> Backoff {
        Backoff {
            retries,
            base_delay: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn retries_as_often_as_allowed_then_returns_the_last_error() {
        let calls = Cell::new(0);
        let out: Result<(), u32> = no_wait(3)
            .retry(
                || {
                    calls.set(calls.get() + 1);
                    std::future::ready(Err(calls.get()))
                },
                |_| true,
            )
            .await;
        assert_eq!(out, Err(4), "one try and three retries");
        assert_eq!(calls.get(), 4);
    }

    #[tokio::test]
    async fn stops_at_success_or_at_an_error_not_worth_retrying() {
        let calls = Cell::new(0);
        let out: Result<u32, &str> = no_wait(5)
            .retry(
                || {
                    calls.set(calls.get() + 1);
                    std::future::ready(if calls.get() < 3 {
                        Err("throttled")
                    } else {
                        Ok(7)
                    })
                },
                |e| *e == "throttled",
            )
            .await;
        assert_eq!((out, calls.get()), (Ok(7), 3));
        calls.set(0);
        let out: Result<u32, &str> = no_wait(5)
            .retry(
                || {
                    calls.set(calls.get() + 1);
                    std::future::ready(Err("syntax error"))
                },
                |e| *e == "throttled",
            )
            .await;
        assert_eq!((out, calls.get()), (Err("syntax error"), 1));
    }

    #[test]
    fn the_delay_is_jittered_below_the_doubled_base_and_the_cap() {
        let b = Backoff {
            retries: 3,
            base_delay: Duration::from_millis(500),
        };
        for attempt in 0..40 {
            let max = Duration::from_millis(500)
                .saturating_mul(1 << attempt.min(16))
                .min(Duration::from_secs(20));
            assert!(b.delay(attempt) <= max);
        }
    }
}
