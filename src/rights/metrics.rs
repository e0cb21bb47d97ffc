//! The consumer's metrics, served in Prometheus' text format on 127.0.0.1:PORT when
//! `rights.metrics_port` is set: what reference document 000 tracks (per-request time,
//! existence-check, deletion and access time, throughput, lag) as counters and gauges.

use std::sync::{Arc, Mutex};

use super::engine::BatchMetrics;

#[derive(Debug, Default, Clone)]
struct Totals {
    batches: u64,
    requests: u64,
    dead_lettered: u64,
    by_code: std::collections::BTreeMap<String, u64>,
    statements: u64,
    seconds_total: f64,
    existence_seconds: f64,
    deletion_seconds: f64,
    access_seconds: f64,
    last_batch_seconds: f64,
    last_request_seconds: f64,
    lag: Option<i64>,
    started: Option<std::time::Instant>,
    /// What the consumer is waiting to be able to do again (a fault), if anything.
    waiting: Option<String>,
    faults: std::collections::BTreeMap<String, u64>,
}

/// Shared between the consumer loop and the HTTP thread.
#[derive(Clone, Default)]
pub struct Metrics(Arc<Mutex<Totals>>);

impl Metrics {
    pub fn record(&self, m: &BatchMetrics, codes: &[&str], dead: usize, lag: Option<i64>) {
        if let Ok(mut t) = self.0.lock() {
            t.started.get_or_insert_with(std::time::Instant::now);
            t.batches += 1;
            t.requests += (codes.len() + dead) as u64;
            t.dead_lettered += dead as u64;
            for c in codes {
                *t.by_code.entry(c.to_string()).or_default() += 1;
            }
            t.statements += m.statements as u64;
            t.seconds_total += m.total_ms / 1000.0;
            t.existence_seconds += m.existence_ms / 1000.0;
            t.deletion_seconds += m.deletion_ms / 1000.0;
            t.access_seconds += m.access_ms / 1000.0;
            t.last_batch_seconds = m.total_ms / 1000.0;
            t.last_request_seconds = m.total_ms / 1000.0 / (m.requests.max(1) as f64);
            if lag.is_some() {
                t.lag = lag;
            }
        }
    }

    /// A failure while `doing` something (the consumer waits and tries again).
    pub fn fault(&self, doing: &str) {
        if let Ok(mut t) = self.0.lock() {
            *t.faults.entry(doing.to_string()).or_default() += 1;
        }
    }

    /// What the consumer waits to be able to do again; `None` once it works again.
    pub fn set_waiting(&self, doing: Option<&str>) {
        if let Ok(mut t) = self.0.lock() {
            t.waiting = doing.map(str::to_string);
        }
    }

    /// A fresh reading of the consumer lag (read off the batch path).
    pub fn set_lag(&self, lag: Option<i64>) {
        if let (Ok(mut t), Some(l)) = (self.0.lock(), lag) {
            t.lag = Some(l);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let t = match self.0.lock() {
            Ok(t) => t.clone(),
            Err(_) => return String::new(),
        };
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<(String, f64)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, v) in lines {
                out.push_str(&format!("{name}{labels} {v}\n"));
            }
        };
        metric(
            "strata_rights_batches_total",
            "counter",
            "Batches answered.",
            vec![(String::new(), t.batches as f64)],
        );
        metric(
            "strata_rights_requests_total",
            "counter",
            "Requests answered, by result code (dead letters have code \"dlq\").",
            t.by_code
                .iter()
                .map(|(c, n)| (format!("{{code=\"{c}\"}}"), *n as f64))
                .chain(std::iter::once((
                    "{code=\"dlq\"}".to_string(),
                    t.dead_lettered as f64,
                )))
                .collect(),
        );
        metric(
            "strata_rights_statements_total",
            "counter",
            "Warehouse statements run.",
            vec![(String::new(), t.statements as f64)],
        );
        metric(
            "strata_rights_seconds_total",
            "counter",
            "Time spent answering, by phase.",
            vec![
                ("{phase=\"all\"}".into(), t.seconds_total),
                ("{phase=\"existence\"}".into(), t.existence_seconds),
                ("{phase=\"deletion\"}".into(), t.deletion_seconds),
                ("{phase=\"access\"}".into(), t.access_seconds),
            ],
        );
        metric(
            "strata_rights_last_batch_seconds",
            "gauge",
            "Duration of the last batch.",
            vec![(String::new(), t.last_batch_seconds)],
        );
        metric(
            "strata_rights_last_request_seconds",
            "gauge",
            "Mean time per request in the last batch.",
            vec![(String::new(), t.last_request_seconds)],
        );
        let hours = t
            .started
            .map_or(0.0, |s| s.elapsed().as_secs_f64() / 3600.0);
        let throughput = if hours > 0.0 {
            t.requests as f64 / hours
        } else {
            0.0
        };
        metric(
            "strata_rights_throughput_per_hour",
            "gauge",
            "Requests answered per hour since start.",
            vec![(String::new(), throughput)],
        );
        metric(
            "strata_rights_waiting",
            "gauge",
            "1 while the consumer waits out a fault (brokers or warehouse failing) before trying again.",
            vec![(String::new(), if t.waiting.is_some() { 1.0 } else { 0.0 })],
        );
        metric(
            "strata_rights_faults_total",
            "counter",
            "Failures waited out, by what was being done.",
            t.faults
                .iter()
                .map(|(d, n)| (format!("{{doing=\"{d}\"}}"), *n as f64))
                .collect(),
        );
        if let Some(lag) = t.lag {
            metric(
                "strata_rights_consumer_lag",
                "gauge",
                "Messages not yet committed.",
                vec![(String::new(), lag as f64)],
            );
        }
        out
    }

    /// Serve `/metrics` on 127.0.0.1:`port` from a background thread.
    pub fn serve(&self, port: u16) -> crate::error::Result<()> {
        let server = tiny_http::Server::http(("127.0.0.1", port)).map_err(|e| {
            crate::error::Error::Adapter(format!("metrics: cannot listen on 127.0.0.1:{port}: {e}"))
        })?;
        let metrics = self.clone();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let response = if request.url() == "/metrics" {
                    let header = tiny_http::Header::from_bytes(
                        &b"Content-Type"[..],
                        &b"text/plain; version=0.0.4"[..],
                    );
                    let mut r = tiny_http::Response::from_string(metrics.render());
                    if let Ok(h) = header {
                        r.add_header(h);
                    }
                    r
                } else {
                    tiny_http::Response::from_string("see /metrics").with_status_code(404)
                };
                let _ = request.respond(response);
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_by_code() {
        let m = Metrics::default();
        let b = BatchMetrics {
            requests: 3,
            statements: 9,
            existence_ms: 2.0,
            deletion_ms: 4.0,
            access_ms: 0.0,
            total_ms: 9.0,
        };
        m.record(&b, &["200", "200", "201"], 1, Some(5));
        let text = m.render();
        assert!(
            text.contains("strata_rights_requests_total{code=\"200\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("strata_rights_requests_total{code=\"201\"} 1\n"));
        assert!(text.contains("strata_rights_requests_total{code=\"dlq\"} 1\n"));
        assert!(text.contains("strata_rights_statements_total 9\n"));
        assert!(text.contains("strata_rights_consumer_lag 5\n"));
        assert!(text.contains("# TYPE strata_rights_batches_total counter\n"));
    }
}
