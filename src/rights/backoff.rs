//! Waiting out a fault (brokers down, the warehouse failing): the consumer never exits on
//! one. It waits, doubling the wait from one second up to `rights.fault_backoff_max_ms`, and
//! tries again; the metrics say it is waiting and why. Only with
//! `rights.fault_wait_limit_seconds` set does it give up, after failing that long.

use std::time::Duration;

use tokio::time::Instant;

use super::metrics::Metrics;
use crate::error::{Error, Result};
use crate::session::printer::Printer;

const FIRST_WAIT: Duration = Duration::from_secs(1);

pub struct Backoff {
    max: Duration,
    limit: Option<Duration>,
    next: Duration,
    /// When the current stretch of failures began.
    failing_since: Option<Instant>,
}

impl Backoff {
    pub fn new(max: Duration, limit: Option<Duration>) -> Self {
        Backoff {
            max: max.max(Duration::from_millis(1)),
            limit,
            next: FIRST_WAIT.min(max),
            failing_since: None,
        }
    }

    /// `error` happened while `doing`: say so, wait, and return to try again; an error when
    /// failures have lasted past the limit.
    pub async fn wait(
        &mut self,
        doing: &str,
        error: &Error,
        printer: &Printer,
        metrics: &Metrics,
    ) -> Result<()> {
        let since = *self.failing_since.get_or_insert_with(Instant::now);
        metrics.fault(doing);
        if let Some(limit) = self.limit {
            if since.elapsed() >= limit {
                metrics.set_waiting(None);
                return Err(Error::Adapter(format!(
                    "rights consume: {doing} has failed for {}s (rights.fault_wait_limit_seconds: {}): {error}",
                    since.elapsed().as_secs(),
                    limit.as_secs()
                )));
            }
        }
        let wait = self.next;
        metrics.set_waiting(Some(doing));
        printer.error(
            "rights_waiting",
            &format!(
                "{doing} failed (waiting {:.1}s, then trying again; failing for {:.0}s): {error}",
                wait.as_secs_f64(),
                since.elapsed().as_secs_f64()
            ),
        );
        tokio::time::sleep(wait).await;
        self.next = (self.next * 2).min(self.max);
        Ok(())
    }

    /// A success ends the stretch of failures.
    pub fn succeeded(&mut self, metrics: &Metrics) {
        if self.failing_since.take().is_some() {
            metrics.set_waiting(None);
        }
        self.next = FIRST_WAIT.min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_double_up_to_the_cap_and_give_up_past_the_limit() {
        let printer = Printer::new(crate::session::printer::LogFormat::Text);
        let metrics = Metrics::default();
        let mut b = Backoff::new(Duration::from_secs(4), Some(Duration::from_secs(10)));
        let err = Error::kafka_message("down");
        let mut waits = Vec::new();
        let started = tokio::time::Instant::now();
        let mut last = started;
        loop {
            match b.wait("publishing", &err, &printer, &metrics).await {
                Ok(()) => {
                    let now = tokio::time::Instant::now();
                    waits.push((now - last).as_secs());
                    last = now;
                }
                Err(e) => {
                    assert!(e.to_string().contains("has failed for"), "{e}");
                    break;
                }
            }
        }
        assert_eq!(
            waits,
            vec![1, 2, 4, 4],
            "doubling, capped at 4s, until 11s > 10s"
        );
        assert!(metrics
            .render()
            .contains("strata_rights_faults_total{doing=\"publishing\"} 5"));
        b.succeeded(&metrics);
        assert!(metrics.render().contains("strata_rights_waiting 0"));
    }
}
