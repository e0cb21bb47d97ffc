//! `strata rights consume`: read requests from Kafka in batches, answer them through the
//! rights engine, publish the results, and only then commit the offsets.
//!
//! At-least-once with a ledger: a crash after publishing but before committing redelivers
//! the batch, and the ledger answers it again with the same codes instead of re-running it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::FutureRecord;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::backoff::Backoff;
pub use super::client::ConsumeOptions;
use super::client::{client_config, context, Consumer_, Producer_};
use super::engine::{BatchMetrics, RightsEngine};
use super::message::{parse_request, RightsRequest, RightsResult};
use super::publish::{dead_letter, fails_for_good, producer, result_body};
use crate::error::{Error, Result};
use crate::session::printer::Printer;

/// Totals of one `consume` run.
#[derive(Debug, Clone, Default)]
pub struct ConsumeStats {
    pub batches: usize,
    pub requests: usize,
    pub dead_lettered: usize,
    pub elapsed: Duration,
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

/// Read up to `batch_size` messages, starting with the ones `held` back (received while a
/// purge ran): wait for the first, then at most `batch_wait` more. `None` when idle for
/// `idle_exit`. A failure to read the first message is an error (the caller waits and tries
/// again); one while the batch fills ends the batch there.
async fn next_batch(
    consumer: &Consumer_,
    opts: &ConsumeOptions,
    held: &mut Vec<OwnedMessage>,
) -> Result<Option<Vec<OwnedMessage>>> {
    let mut batch: Vec<OwnedMessage> = held.drain(..held.len().min(opts.batch_size)).collect();
    if batch.is_empty() {
        let first = match opts.idle_exit {
            Some(idle) => match tokio::time::timeout(idle, consumer.recv()).await {
                Ok(m) => m.map_err(Error::kafka)?.detach(),
                Err(_) => return Ok(None),
            },
            None => consumer.recv().await.map_err(Error::kafka)?.detach(),
        };
        batch.push(first);
    }
    let deadline = Instant::now() + opts.batch_wait;
    while batch.len() < opts.batch_size {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, consumer.recv()).await {
            Ok(Ok(m)) => batch.push(m.detach()),
            Ok(Err(_)) | Err(_) => break,
        }
    }
    Ok(Some(batch))
}

/// Run the purge check while the consumer stays in its group: the assigned partitions are
/// paused and polled (a purge can outlast `max.poll.interval.ms`, and a consumer that stops
/// polling that long is dropped from the group, its batch redelivered). Messages fetched
/// before the pause are `held` for the next batch.
async fn purge_while_polling(
    engine: &RightsEngine,
    printer: &Printer,
    consumer: &Consumer_,
    held: &mut Vec<OwnedMessage>,
) {
    let assignment = consumer.assignment().ok();
    if let Some(a) = &assignment {
        if let Err(e) = consumer.pause(a) {
            printer.error(
                "rights_pause_failed",
                &format!("pausing for the purge: {e}"),
            );
        }
    }
    let purge = purge_if_due(engine, printer);
    tokio::pin!(purge);
    loop {
        tokio::select! {
            _ = &mut purge => break,
            m = consumer.recv() => {
                if let Ok(m) = m {
                    held.push(m.detach());
                }
            }
        }
    }
    if let Some(a) = &assignment {
        if let Err(e) = consumer.resume(a) {
            printer.error(
                "rights_resume_failed",
                &format!("resuming after the purge: {e}"),
            );
        }
    }
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

/// What has been done for the messages of one batch; kept while the batch is tried again
/// after a fault, so no result is published twice and no message dead-lettered twice.
#[derive(Default)]
struct Answered {
    /// Positions in the batch of the messages answered or dead-lettered.
    done: HashSet<usize>,
    codes: Vec<String>,
    dead: usize,
    metrics: BatchMetrics,
}

/// Answer the messages of `batch` not answered yet. A result the brokers can never take is
/// dead-lettered with the reason (the request's answer is in the ledger); any other failure
/// is returned for the caller to wait out and try again.
async fn answer(
    engine: &RightsEngine,
    producer: &Producer_,
    opts: &ConsumeOptions,
    batch: &[OwnedMessage],
    answered: &mut Answered,
) -> Result<()> {
    let mut requests: Vec<RightsRequest> = Vec::new();
    let mut request_at: Vec<usize> = Vec::new();
    let mut early: Vec<(usize, RightsResult)> = Vec::new();
    for (i, m) in batch.iter().enumerate() {
        if answered.done.contains(&i) {
            continue;
        }
        let payload = m.payload().unwrap_or_default();
        match parse_request(payload, &|g| engine.valid_guid(g)) {
            Ok(mut r) => {
                r.source = format!("{}/{}@{}", m.topic(), m.partition(), m.offset());
                requests.push(r);
                request_at.push(i);
            }
            Err(bad) => match bad.answer(&engine.config.service_name) {
                Some(result) => early.push((i, result)),
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
                    answered.done.insert(i);
                    answered.dead += 1;
                }
            },
        }
    }
    let (results, metrics) = engine.process(&requests).await?;
    answered.metrics = metrics;
    let mut to_send: Vec<(usize, RightsResult)> = request_at.into_iter().zip(results).collect();
    to_send.extend(early);
    // Enqueue every result at once, then wait for the broker's acknowledgement of each.
    let mut deliveries = Vec::with_capacity(to_send.len());
    for (i, r) in &to_send {
        let body = result_body(r)?;
        let record = FutureRecord::to(&opts.result_topic)
            .key(&r.request_id)
            .payload(&body);
        deliveries.push((*i, r, producer.send_result(record).map_err(|(e, _)| e)));
    }
    let mut failure: Option<Error> = None;
    for (i, r, enqueued) in deliveries {
        let delivered = match enqueued {
            Ok(d) => match d.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(e),
                Err(_) => Err(KafkaError::Canceled),
            },
            Err(e) => Err(e),
        };
        match delivered {
            Ok(()) => {
                answered.done.insert(i);
                answered.codes.push(r.result.code.clone());
            }
            Err(e) if fails_for_good(&e) => {
                let reason = format!(
                    "its result (code {}) could not be published to {}: {e}",
                    r.result.code, opts.result_topic
                );
                match dead_letter(producer, &opts.dead_letter_topic, &batch[i], &reason).await {
                    Ok(()) => {
                        answered.done.insert(i);
                        answered.dead += 1;
                    }
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
            }
            Err(e) => {
                failure.get_or_insert(Error::kafka(e));
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
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

/// Whether a failed commit failed because this consumer's generation of the group is over
/// (trying again cannot succeed: the consumer must poll to rejoin).
fn group_moved_on(e: &Error) -> bool {
    let Error::Kafka {
        source: Some(source),
        ..
    } = e
    else {
        return false;
    };
    matches!(
        source.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::UnknownMemberId
                | RDKafkaErrorCode::IllegalGeneration
                | RDKafkaErrorCode::RebalanceInProgress
                | RDKafkaErrorCode::FencedInstanceId
        )
    )
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
    let mut producer = producer(opts).await?;
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
    let mut backoff = Backoff::new(opts.fault_backoff_max, opts.fault_wait_limit);
    let mut held: Vec<OwnedMessage> = Vec::new();
    // Purges are checked at most every few minutes (each check is a query) and at exit.
    let mut last_purge_check = Instant::now();
    'batches: loop {
        if last_purge_check.elapsed() >= Duration::from_secs(300) {
            last_purge_check = Instant::now();
            purge_while_polling(engine, printer, &consumer, &mut held).await;
        }
        let batch = tokio::select! {
            b = next_batch(&consumer, opts, &mut held) => b,
            _ = &mut stop => {
                printer.info("rights_stop", "Stopping: no batch in progress; uncommitted messages will be redelivered");
                break;
            }
        };
        let batch = match batch {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => {
                tokio::select! {
                    waited = backoff.wait("reading requests", &e, printer, &served) => waited?,
                    _ = &mut stop => {
                        printer.info("rights_stop", "Stopping while waiting to read requests");
                        break;
                    }
                }
                continue;
            }
        };
        printer.info(
            "rights_batch_started",
            &format!("batch of {} messages started", batch.len()),
        );
        let t = Instant::now();
        let mut answered = Answered::default();
        while let Err(e) = answer(engine, &producer, opts, &batch, &mut answered).await {
            // Brokers or warehouse failing: wait and answer what is left (the ledger
            // answers what was done before as it was done).
            tokio::select! {
                waited = backoff.wait("answering a batch", &e, printer, &served) => waited?,
                _ = &mut stop => {
                    printer.info("rights_stop", "Stopping while waiting to answer a batch: its messages will be redelivered and answered from the ledger");
                    break 'batches;
                }
            }
            // A new producer for the next attempt: an idempotent producer whose messages timed
            // out can be fenced for good (every later send refused: ProducerFenced), without
            // librdkafka calling that fatal.
            if matches!(e, Error::Kafka { .. }) {
                match super::publish::producer(opts).await {
                    Ok(p) => producer = p,
                    Err(e) => printer.error("rights_producer_failed", &e.to_string()),
                }
            }
        }
        let metrics = answered.metrics;
        let publish_ms = (t.elapsed().as_secs_f64() * 1000.0 - metrics.total_ms).max(0.0);
        let t = Instant::now();
        while let Err(e) = commit(&consumer, &batch) {
            if group_moved_on(&e) {
                // Not a member any more (the session expired while the brokers were away):
                // the batch goes to whoever holds its partition now, maybe this consumer once
                // it rejoins, and is answered from the ledger as it was here.
                printer.error(
                    "rights_commit_abandoned",
                    &format!("committing offsets failed and will not be tried again ({e}): the group has moved on; the batch will be redelivered and answered from the ledger"),
                );
                break;
            }
            tokio::select! {
                waited = backoff.wait("committing offsets", &e, printer, &served) => waited?,
                _ = &mut stop => {
                    printer.info("rights_stop", "Stopping while waiting to commit: the batch will be redelivered and answered from the ledger");
                    break 'batches;
                }
            }
        }
        backoff.succeeded(&served);
        let commit_ms = t.elapsed().as_secs_f64() * 1000.0;
        let current_lag = lag.latest(&consumer, &served).await;
        served.record(
            &metrics,
            &answered
                .codes
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            answered.dead,
            current_lag,
        );
        stats.batches += 1;
        stats.requests += batch.len();
        stats.dead_lettered += answered.dead;
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
