//! `strata rights consume`: read requests from Kafka in batches, answer them through the
//! rights engine, publish the results, and only then commit the offsets.
//!
//! At-least-once with a ledger: a crash after publishing but before committing redelivers
//! the batch, and the ledger answers it again with the same codes instead of re-running it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use super::engine::{BatchMetrics, RightsEngine};
use super::message::{parse_request, RightsRequest, RightsResult};
use super::msk::{self, KafkaContext};
use crate::error::{Error, Result};
use crate::session::printer::Printer;

/// Where to connect and how to batch; the `rights:` settings overlaid with the command line.
#[derive(Debug, Clone)]
pub struct ConsumeOptions {
    pub brokers: String,
    pub request_topic: String,
    pub result_topic: String,
    pub dead_letter_topic: String,
    pub group_id: String,
    pub batch_size: usize,
    pub batch_wait: Duration,
    /// Stop after this long without a message (drain mode for cron and tests).
    pub idle_exit: Option<Duration>,
    pub security_protocol: Option<String>,
    /// `AWS_MSK_IAM`: SASL/OAUTHBEARER with tokens signed from the AWS credential chain.
    pub sasl_mechanism: Option<String>,
    /// The MSK cluster's region (for IAM tokens).
    pub aws_region: Option<String>,
    pub session_timeout_ms: u64,
    /// Serve Prometheus metrics on 127.0.0.1:PORT.
    pub metrics_port: Option<u16>,
}

/// Totals of one `consume` run.
#[derive(Debug, Clone, Default)]
pub struct ConsumeStats {
    pub batches: usize,
    pub requests: usize,
    pub dead_lettered: usize,
    pub elapsed: Duration,
}

type Consumer_ = StreamConsumer<KafkaContext>;
type Producer_ = FutureProducer<KafkaContext>;

fn client_config(opts: &ConsumeOptions) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &opts.brokers);
    match (&opts.security_protocol, opts.sasl_mechanism.as_deref()) {
        (Some(p), _) => {
            c.set("security.protocol", p);
        }
        // IAM tokens are bearer credentials: never send them in plain text.
        (None, Some("AWS_MSK_IAM")) => {
            c.set("security.protocol", "SASL_SSL");
        }
        _ => {}
    }
    if opts.sasl_mechanism.as_deref() == Some("AWS_MSK_IAM") {
        c.set("sasl.mechanism", "OAUTHBEARER");
    } else if let Some(m) = &opts.sasl_mechanism {
        c.set("sasl.mechanism", m);
    }
    c
}

/// The client context: with `sasl_mechanism: AWS_MSK_IAM`, one that signs MSK IAM tokens.
async fn context(opts: &ConsumeOptions) -> Result<KafkaContext> {
    if opts.sasl_mechanism.as_deref() != Some("AWS_MSK_IAM") {
        return Ok(KafkaContext::default());
    }
    let region = opts
        .aws_region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            Error::Usage(
                "MSK IAM needs the cluster's region: rights.aws_region, or AWS_REGION".into(),
            )
        })?;
    let iam = msk::from_environment(&region)
        .await
        .map_err(Error::Adapter)?;
    Ok(KafkaContext { iam: Some(iam) })
}

pub async fn consumer(opts: &ConsumeOptions) -> Result<Consumer_> {
    let c: Consumer_ = client_config(opts)
        .set("group.id", &opts.group_id)
        // Offsets are committed by hand, after the results are acknowledged.
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", opts.session_timeout_ms.to_string())
        .set(
            "heartbeat.interval.ms",
            (opts.session_timeout_ms / 10).max(100).to_string(),
        )
        .create_with_context(context(opts).await?)
        .map_err(Error::kafka)?;
    c.subscribe(&[&opts.request_topic]).map_err(Error::kafka)?;
    Ok(c)
}

/// The largest message the producer sends (librdkafka's default `message.max.bytes`, said
/// out loud): results and dead letters are made to fit it.
const MAX_MESSAGE_BYTES: usize = 1_000_000;
/// Room left in a message for its key, headers and framing.
const MESSAGE_OVERHEAD: usize = 16 * 1024;

pub async fn producer(opts: &ConsumeOptions) -> Result<Producer_> {
    client_config(opts)
        .set("acks", "all")
        // A retried send after a lost acknowledgement must not publish a result twice.
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "30000")
        .set("message.max.bytes", MAX_MESSAGE_BYTES.to_string())
        .create_with_context(context(opts).await?)
        .map_err(Error::kafka)
}

/// Read up to `batch_size` messages: wait for the first, then at most `batch_wait` more.
/// `None` when idle for `idle_exit`.
async fn next_batch(
    consumer: &Consumer_,
    opts: &ConsumeOptions,
) -> Result<Option<Vec<OwnedMessage>>> {
    let first = match opts.idle_exit {
        Some(idle) => match tokio::time::timeout(idle, consumer.recv()).await {
            Ok(m) => m.map_err(Error::kafka)?.detach(),
            Err(_) => return Ok(None),
        },
        None => consumer.recv().await.map_err(Error::kafka)?.detach(),
    };
    let mut batch = vec![first];
    let deadline = Instant::now() + opts.batch_wait;
    while batch.len() < opts.batch_size {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, consumer.recv()).await {
            Ok(m) => batch.push(m.map_err(Error::kafka)?.detach()),
            Err(_) => break,
        }
    }
    Ok(Some(batch))
}

/// Put a message nobody can be answered for on the dead-letter topic as it came (its key,
/// payload, null or not, and headers), with headers saying why and where it came from.
async fn dead_letter(
    producer: &Producer_,
    topic: &str,
    m: &OwnedMessage,
    reason: &str,
) -> Result<()> {
    let mut headers = OwnedHeaders::new();
    if let Some(original) = m.headers() {
        for h in original.iter() {
            headers = headers.insert(Header {
                key: h.key,
                value: h.value,
            });
        }
    }
    let partition = m.partition().to_string();
    let offset = m.offset().to_string();
    let at = super::message::now_epoch().to_string();
    for (key, value) in [
        ("strata-error", reason),
        ("strata-source-topic", m.topic()),
        ("strata-source-partition", partition.as_str()),
        ("strata-source-offset", offset.as_str()),
        ("strata-dead-lettered-at", at.as_str()),
    ] {
        headers = headers.insert(Header {
            key,
            value: Some(value),
        });
    }
    // A message near the limit does not fit with the headers: its start is kept, and a
    // header says how long it was.
    let room = MAX_MESSAGE_BYTES.saturating_sub(MESSAGE_OVERHEAD);
    let payload = m.payload().map(|p| {
        if p.len() > room {
            (&p[..room], Some(p.len().to_string()))
        } else {
            (p, None)
        }
    });
    if let Some((_, Some(full))) = &payload {
        headers = headers.insert(Header {
            key: "strata-payload-truncated-from-bytes",
            value: Some(full.as_str()),
        });
    }
    let fallback_key = format!("{}-{partition}-{offset}", m.topic());
    let key = m.key().unwrap_or(fallback_key.as_bytes());
    let key = &key[..key.len().min(MESSAGE_OVERHEAD / 2)];
    let mut record: FutureRecord<'_, [u8], [u8]> =
        FutureRecord::to(topic).key(key).headers(headers);
    if let Some((payload, _)) = payload {
        record = record.payload(payload);
    }
    producer
        .send(record, Timeout::After(Duration::from_secs(30)))
        .await
        .map(|_| ())
        .map_err(|(e, _)| Error::kafka(e))
}

/// A purge that fails is reported and tried again at the next check: requests keep being
/// answered (the purge is recorded only once it succeeds, so nothing is lost).
async fn purge_if_due(engine: &RightsEngine, printer: &Printer) {
    match engine.sweep_exports().await {
        Ok(0) => {}
        Ok(n) => printer.info(
            "rights_exports_removed",
            &format!("Removed the ACCESS exports of {n} requests (past their retention)"),
        ),
        Err(e) => printer.error(
            "rights_exports_failed",
            &format!("removing old ACCESS exports failed (tried again later): {e}"),
        ),
    }
    match engine.purge_if_due().await {
        Ok(0) => {}
        Ok(n) => printer.info(
            "rights_purge",
            &format!("Purged the tables of {n} erasures (deadline)"),
        ),
        Err(e) => printer.error(
            "rights_purge_failed",
            &format!("purge failed (tried again at the next check): {e}"),
        ),
    }
}

/// Answer one batch of raw messages; returns the metrics, the result codes and how many
/// went to dead letters.
async fn answer(
    engine: &RightsEngine,
    producer: &Producer_,
    opts: &ConsumeOptions,
    batch: &[OwnedMessage],
) -> Result<(BatchMetrics, Vec<String>, usize)> {
    let mut requests: Vec<RightsRequest> = Vec::new();
    let mut early: Vec<RightsResult> = Vec::new();
    let mut dead = 0;
    for m in batch {
        let payload = m.payload().unwrap_or_default();
        match parse_request(payload, &|g| engine.valid_guid(g)) {
            Ok(mut r) => {
                r.source = format!("{}/{}@{}", m.topic(), m.partition(), m.offset());
                requests.push(r);
            }
            Err(bad) => match bad.answer(&engine.config.service_name) {
                Some(result) => early.push(result),
                None => {
                    // Nothing to answer to: keep the message for a person to look at.
                    dead_letter(producer, &opts.dead_letter_topic, m, &bad.reason).await?;
                    eprintln!(
                        "rights: dead-lettered {}-{}-{}: {}",
                        m.topic(),
                        m.partition(),
                        m.offset(),
                        bad.reason
                    );
                    dead += 1;
                }
            },
        }
    }
    let (mut results, metrics) = engine.process(&requests).await?;
    results.extend(early);
    // Enqueue every result at once, then wait for the broker's acknowledgement of each.
    let mut deliveries = Vec::with_capacity(results.len());
    for r in &results {
        let body = result_body(r)?;
        let record = FutureRecord::to(&opts.result_topic)
            .key(&r.request_id)
            .payload(&body);
        let delivery = producer
            .send_result(record)
            .map_err(|(e, _)| Error::kafka(e))?;
        deliveries.push(delivery);
    }
    for d in deliveries {
        d.await
            .map_err(|_| Error::kafka_message("result delivery was cancelled"))?
            .map_err(|(e, _)| Error::kafka(e))?;
    }
    let codes = results.iter().map(|r| r.result.code.clone()).collect();
    Ok((metrics, codes, dead))
}

/// A result as the message that carries it; one too large for a Kafka message (which the
/// bounded echoes and reasons should never make) becomes a 500 that says so, so the
/// request is still answered and the partition goes on.
fn result_body(r: &RightsResult) -> Result<Vec<u8>> {
    let body = serde_json::to_vec(r).map_err(|e| Error::Adapter(e.to_string()))?;
    if body.len() + MESSAGE_OVERHEAD <= MAX_MESSAGE_BYTES {
        return Ok(body);
    }
    let small = RightsResult {
        guid: r
            .guid
            .chars()
            .take(super::message::MAX_ECHOED_CHARS)
            .collect(),
        right_type: r
            .right_type
            .chars()
            .take(super::message::MAX_ECHOED_CHARS)
            .collect(),
        result: super::message::Outcome::error(format!(
            "the result ({} bytes) is larger than a Kafka message may be ({MAX_MESSAGE_BYTES}): \
             it was not sent (code {})",
            body.len(),
            r.result.code
        )),
        ..r.clone()
    };
    serde_json::to_vec(&small).map_err(|e| Error::Adapter(e.to_string()))
}

fn commit(consumer: &Consumer_, batch: &[OwnedMessage]) -> Result<()> {
    let mut next: HashMap<(String, i32), i64> = HashMap::new();
    for m in batch {
        let e = next
            .entry((m.topic().to_string(), m.partition()))
            .or_insert(0);
        *e = (*e).max(m.offset() + 1);
    }
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), offset) in next {
        tpl.add_partition_offset(&topic, partition, Offset::Offset(offset))
            .map_err(Error::kafka)?;
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .map_err(Error::kafka)
}

/// Consumer lag (messages not yet committed) over the assigned partitions.
fn lag(consumer: &Consumer_) -> Option<i64> {
    let assignment = consumer.assignment().ok()?;
    let committed = consumer.committed(Duration::from_secs(5)).ok()?;
    let mut total = 0;
    for el in assignment.elements() {
        let (_, high) = consumer
            .fetch_watermarks(el.topic(), el.partition(), Duration::from_secs(5))
            .ok()?;
        let done = committed
            .find_partition(el.topic(), el.partition())
            .and_then(|p| match p.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            })
            .unwrap_or(0);
        total += (high - done).max(0);
    }
    Some(total)
}

impl ConsumeOptions {
    /// Options for a client that only produces (submit, retry): `brokers`, and the
    /// project's security settings from `config`.
    pub fn producing(brokers: &str, config: &crate::project::RightsConfig) -> Self {
        ConsumeOptions {
            brokers: brokers.to_string(),
            request_topic: config.request_topic.clone(),
            result_topic: config.result_topic.clone(),
            dead_letter_topic: config.dead_letter_topic.clone(),
            group_id: config.group_id.clone(),
            batch_size: 1,
            batch_wait: Duration::ZERO,
            idle_exit: None,
            security_protocol: config.security_protocol.clone(),
            sasl_mechanism: config.sasl_mechanism.clone(),
            aws_region: config.aws_region.clone(),
            session_timeout_ms: config.session_timeout_ms,
            metrics_port: None,
        }
    }
}

/// Publish one request per non-empty line of `input` (each must be a JSON object, keyed by
/// its request_id) to `opts.request_topic`. Returns how many were published and
/// acknowledged.
pub async fn submit(opts: &ConsumeOptions, input: impl std::io::BufRead) -> Result<usize> {
    let producer = producer(opts).await?;
    let topic = opts.request_topic.as_str();
    let mut deliveries = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| Error::Usage(format!("stdin: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| Error::Usage(format!("stdin line {}: not JSON: {e}", i + 1)))?;
        let key = v
            .get("request_id")
            .and_then(|r| r.as_str())
            .unwrap_or_default()
            .to_string();
        let record = FutureRecord::to(topic).key(&key).payload(&line);
        deliveries.push(
            producer
                .send_result(record)
                .map_err(|(e, _)| Error::kafka(e))?,
        );
    }
    let n = deliveries.len();
    for d in deliveries {
        d.await
            .map_err(|_| Error::kafka_message("delivery was cancelled"))?
            .map_err(|(e, _)| Error::kafka(e))?;
    }
    Ok(n)
}

/// Publish one result to `opts.result_topic` (an operator's retry) and wait for the
/// broker's acknowledgement.
pub async fn publish_result(opts: &ConsumeOptions, result: &RightsResult) -> Result<()> {
    let producer = producer(opts).await?;
    let body = result_body(result)?;
    let record = FutureRecord::to(&opts.result_topic)
        .key(&result.request_id)
        .payload(&body);
    producer
        .send(record, Timeout::After(Duration::from_secs(30)))
        .await
        .map(|_| ())
        .map_err(|(e, _)| Error::kafka(e))
}

/// How often the consumer lag is read from the broker.
const LAG_EVERY: Duration = Duration::from_secs(5);

/// The consumer lag, read on a blocking thread at most every [`LAG_EVERY`]: the lag takes
/// broker round trips (committed offsets, high watermarks; over a second on some brokers),
/// so each batch reports the latest value instead of waiting for a fresh one.
#[derive(Default)]
struct LagWatch {
    reading: Option<tokio::task::JoinHandle<Option<i64>>>,
    read_at: Option<Instant>,
    current: Option<i64>,
}

impl LagWatch {
    /// Take a finished reading, start the next one when due; returns the latest lag.
    async fn latest(
        &mut self,
        consumer: &std::sync::Arc<Consumer_>,
        served: &super::metrics::Metrics,
    ) -> Option<i64> {
        if self.reading.as_ref().is_some_and(|h| h.is_finished()) {
            if let Some(h) = self.reading.take() {
                self.current = h.await.ok().flatten();
            }
        }
        if self.reading.is_none() && self.read_at.is_none_or(|t| t.elapsed() >= LAG_EVERY) {
            let c = consumer.clone();
            let gauge = served.clone();
            self.reading = Some(tokio::task::spawn_blocking(move || {
                let l = lag(&c);
                gauge.set_lag(l);
                l
            }));
            self.read_at = Some(Instant::now());
        }
        self.current
    }
}

/// Run until SIGTERM / Ctrl-C (or `idle_exit`). A batch being answered is finished; a batch
/// being collected is abandoned without committing, so its messages come again.
pub async fn consume(
    engine: &RightsEngine,
    opts: &ConsumeOptions,
    printer: &Printer,
) -> Result<ConsumeStats> {
    let consumer = std::sync::Arc::new(consumer(opts).await?);
    let producer = producer(opts).await?;
    let mut lag = LagWatch::default();
    let started = Instant::now();
    let mut stats = ConsumeStats::default();
    let served = super::metrics::Metrics::default();
    if let Some(port) = opts.metrics_port {
        served.serve(port)?;
        printer.info(
            "rights_metrics",
            &format!("Metrics at http://127.0.0.1:{port}/metrics"),
        );
    }
    let stop = crate::session::shutdown_signal();
    tokio::pin!(stop);
    printer.info(
        "rights_consume",
        &format!(
            "Consuming {} from {} as group {}",
            opts.request_topic, opts.brokers, opts.group_id
        ),
    );
    // Purges are checked at most every few minutes (each check is a query) and at exit.
    let mut last_purge_check = Instant::now();
    loop {
        if last_purge_check.elapsed() >= Duration::from_secs(300) {
            last_purge_check = Instant::now();
            purge_if_due(engine, printer).await;
        }
        let batch = tokio::select! {
            b = next_batch(&consumer, opts) => b?,
            _ = &mut stop => {
                printer.info("rights_stop", "Stopping: no batch in progress; uncommitted messages will be redelivered");
                break;
            }
        };
        let Some(batch) = batch else { break };
        printer.info(
            "rights_batch_started",
            &format!("batch of {} messages started", batch.len()),
        );
        let t = Instant::now();
        let (metrics, codes, dead) = answer(engine, &producer, opts, &batch).await?;
        let publish_ms = (t.elapsed().as_secs_f64() * 1000.0 - metrics.total_ms).max(0.0);
        let t = Instant::now();
        commit(&consumer, &batch)?;
        let commit_ms = t.elapsed().as_secs_f64() * 1000.0;
        let current_lag = lag.latest(&consumer, &served).await;
        served.record(
            &metrics,
            &codes.iter().map(String::as_str).collect::<Vec<_>>(),
            dead,
            current_lag,
        );
        stats.batches += 1;
        stats.requests += batch.len();
        stats.dead_lettered += dead;
        let report = BatchReport {
            metrics: &metrics,
            messages: batch.len(),
            publish_ms,
            commit_ms,
            lag: current_lag,
        };
        printer.info("rights_batch", &report.line(&stats, started.elapsed()));
        if futures_ready(&mut stop).await {
            printer.info(
                "rights_stop",
                "Stopping after the batch that was in progress",
            );
            break;
        }
    }
    purge_if_due(engine, printer).await;
    stats.elapsed = started.elapsed();
    Ok(stats)
}

/// What one answered batch took, for its `rights_batch` line.
struct BatchReport<'a> {
    metrics: &'a BatchMetrics,
    messages: usize,
    publish_ms: f64,
    commit_ms: f64,
    lag: Option<i64>,
}

impl BatchReport<'_> {
    /// The line, with the run's totals so far (`stats`, over `elapsed`).
    fn line(&self, stats: &ConsumeStats, elapsed: Duration) -> String {
        let metrics = self.metrics;
        let elapsed = elapsed.as_secs_f64().max(1e-9);
        format!(
            "batch {}: {} requests, {} statements, existence {:.1} ms, deletion {:.1} ms, access {:.1} ms, \
             total {:.1} ms ({:.1} ms/request), results acknowledged in {:.1} ms, offsets committed in {:.1} ms, \
             throughput {:.0} requests/hour, lag {}",
            stats.batches,
            metrics.requests,
            metrics.statements,
            metrics.existence_ms,
            metrics.deletion_ms,
            metrics.access_ms,
            metrics.total_ms,
            metrics.total_ms / (self.messages.max(1) as f64),
            self.publish_ms,
            self.commit_ms,
            stats.requests as f64 / elapsed * 3600.0,
            self.lag.map(|l| l.to_string()).unwrap_or_else(|| "?".into())
        )
    }
}

/// Whether the stop signal has fired, without waiting for it.
async fn futures_ready<F: std::future::Future<Output = ()> + Unpin>(f: &mut F) -> bool {
    tokio::select! {
        biased;
        _ = f => true,
        _ = std::future::ready(()) => false,
    }
}
