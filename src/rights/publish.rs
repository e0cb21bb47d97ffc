//! The producer side of the rights consumer: results that always fit in a Kafka message,
//! dead letters that keep the message they stand for, and the operators' publishing
//! (`rights submit`, `rights retry`).

use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::FutureRecord;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;

use super::client::{client_config, context, ConsumeOptions, Producer_};
use super::message::RightsResult;
use crate::error::{Error, Result};

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
        .set(
            "message.timeout.ms",
            opts.produce_timeout.as_millis().to_string(),
        )
        .set("message.max.bytes", MAX_MESSAGE_BYTES.to_string())
        .create_with_context(context(opts).await?)
        .map_err(Error::kafka)
}

/// Put a message nobody can be answered for on the dead-letter topic as it came (its key,
/// payload, null or not, and headers), with headers saying why and where it came from.
pub(super) async fn dead_letter(
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

/// A result as the message that carries it; one too large for a Kafka message (which the
/// bounded echoes and reasons should never make) becomes a 500 that says so, so the
/// request is still answered and the partition goes on.
pub(super) fn result_body(r: &RightsResult) -> Result<Vec<u8>> {
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

/// Whether a failed delivery would fail again for this message whatever the brokers' state
/// (the message is too large or invalid for them): it then goes to the dead-letter topic
/// instead of being tried again.
pub(super) fn fails_for_good(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::MessageBatchTooLarge
                | RDKafkaErrorCode::InvalidRecord
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_messages_the_brokers_can_never_take_fail_for_good() {
        let produce = |code| KafkaError::MessageProduction(code);
        assert!(fails_for_good(&produce(
            RDKafkaErrorCode::MessageSizeTooLarge
        )));
        assert!(fails_for_good(&produce(RDKafkaErrorCode::InvalidRecord)));
        assert!(!fails_for_good(&produce(RDKafkaErrorCode::MessageTimedOut)));
        assert!(!fails_for_good(&produce(
            RDKafkaErrorCode::UnknownTopicOrPartition
        )));
        assert!(!fails_for_good(&produce(RDKafkaErrorCode::AllBrokersDown)));
    }
}
