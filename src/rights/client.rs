//! Connecting to Kafka: the consumer's and producers' options (the `rights:` settings
//! overlaid with the command line) and the client configuration they share (security, MSK
//! IAM tokens).

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::FutureProducer;

use super::msk::{self, KafkaContext};
use crate::error::{Error, Result};

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
    /// How long the producer tries to deliver one message.
    pub produce_timeout: Duration,
    /// The longest wait between attempts while brokers or warehouse fail.
    pub fault_backoff_max: Duration,
    /// Give up after failing this long (`None`: never).
    pub fault_wait_limit: Option<Duration>,
}

impl ConsumeOptions {
    /// The project's `rights:` settings with `brokers`; the command line overrides fields.
    pub fn from_config(brokers: &str, config: &crate::project::RightsConfig) -> Self {
        ConsumeOptions {
            brokers: brokers.to_string(),
            request_topic: config.request_topic.clone(),
            result_topic: config.result_topic.clone(),
            dead_letter_topic: config.dead_letter_topic.clone(),
            group_id: config.group_id.clone(),
            batch_size: config.batch_size.max(1),
            batch_wait: Duration::from_millis(config.batch_wait_ms),
            idle_exit: None,
            security_protocol: config.security_protocol.clone(),
            sasl_mechanism: config.sasl_mechanism.clone(),
            aws_region: config.aws_region.clone(),
            session_timeout_ms: config.session_timeout_ms,
            metrics_port: config.metrics_port,
            produce_timeout: Duration::from_millis(config.produce_timeout_ms),
            fault_backoff_max: Duration::from_millis(config.fault_backoff_max_ms),
            fault_wait_limit: config.fault_wait_limit_seconds.map(Duration::from_secs),
        }
    }
}

pub(super) type Consumer_ = StreamConsumer<KafkaContext>;
pub(super) type Producer_ = FutureProducer<KafkaContext>;

pub(super) fn client_config(opts: &ConsumeOptions) -> ClientConfig {
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
pub(super) async fn context(opts: &ConsumeOptions) -> Result<KafkaContext> {
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
