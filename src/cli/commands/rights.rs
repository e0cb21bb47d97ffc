//! `rights`: the data-subject rights commands (apply, consume, retry, submit, purge, declared),
//! run with a rights engine over the project's warehouse.

use std::sync::Arc;

use serde_json::json;

use crate::cli::args::RightsCmd;
use crate::error::{Error, Result};
use crate::project::LoadOptions;
use crate::rights::consumer::ConsumeOptions;
use crate::rights::{message, RightsEngine, RightsRequest};
use crate::session::printer::Printer;
use crate::session::Session;

use super::flags_for;

pub(crate) async fn rights(
    load: &LoadOptions,
    printer: Arc<Printer>,
    cmd: RightsCmd,
) -> Result<i32> {
    let session = Session::open(load, flags_for("rights"), printer.clone())?;
    let config = session.project.rights.clone().unwrap_or_default();
    let engine = RightsEngine::new(&session, config).await?;
    // Requests are answered only once what the warehouse holds is covered.
    let answers = matches!(
        cmd,
        RightsCmd::Apply { .. } | RightsCmd::Consume { .. } | RightsCmd::Retry { .. }
    );
    let outcome = if answers {
        match crate::rights::coverage::check_warehouse(&session, &engine.config, engine.declared())
            .await
        {
            Ok(()) => rights_with(&engine, &printer, cmd).await,
            Err(e) => Err(e),
        }
    } else {
        rights_with(&engine, &printer, cmd).await
    };
    // This process's batch table goes, whatever happened.
    engine.close().await;
    outcome
}

async fn rights_with(engine: &RightsEngine, printer: &Arc<Printer>, cmd: RightsCmd) -> Result<i32> {
    match cmd {
        RightsCmd::Apply {
            right_type,
            guid,
            request_id,
        } => apply(engine, right_type, guid, request_id).await,
        RightsCmd::Consume {
            brokers,
            request_topic,
            result_topic,
            dead_letter_topic,
            group_id,
            batch_size,
            batch_wait_ms,
            idle_exit_seconds,
            metrics_port,
        } => {
            let flags = ConsumeFlags {
                brokers,
                request_topic,
                result_topic,
                dead_letter_topic,
                group_id,
                batch_size,
                batch_wait_ms,
                idle_exit_seconds,
                metrics_port,
            };
            consume_requests(engine, printer, flags).await
        }
        RightsCmd::Retry {
            request_id,
            brokers,
            result_topic,
            no_publish,
        } => {
            let publish_to = if no_publish {
                None
            } else {
                brokers.or_else(|| engine.config.brokers.clone()).map(|b| {
                    let mut opts = ConsumeOptions::from_config(&b, &engine.config);
                    if let Some(t) = result_topic {
                        opts.result_topic = t;
                    }
                    opts
                })
            };
            retry(engine, printer, &request_id, publish_to).await
        }
        RightsCmd::Submit {
            brokers,
            request_topic,
        } => submit(engine, printer, brokers, request_topic).await,
        RightsCmd::Purge => purge(engine, printer).await,
        RightsCmd::Declared => {
            declared(engine);
            Ok(0)
        }
    }
}

/// `rights apply`: answer one request without Kafka and print the result message; exit 1
/// when the answer is a failure (code 500).
async fn apply(
    engine: &RightsEngine,
    right_type: String,
    guid: String,
    request_id: Option<String>,
) -> Result<i32> {
    let payload = json!({
        "request_id": request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        "guid": guid,
        "right_type": right_type,
        "created_at": message::now_epoch(),
    });
    let bytes = serde_json::to_vec(&payload).map_err(|e| Error::Usage(e.to_string()))?;
    let result = match message::parse_request(&bytes, &|g| engine.valid_guid(g)) {
        Ok(mut req) => {
            req.source = "apply".into();
            let (mut results, _) = engine
                .process(std::slice::from_ref::<RightsRequest>(&req))
                .await?;
            results
                .pop()
                .ok_or_else(|| Error::Adapter("no result".into()))?
        }
        Err(m) => m
            .answer(&engine.config.service_name)
            .ok_or_else(|| Error::Usage(m.reason.clone()))?,
    };
    println!(
        "{}",
        serde_json::to_string(&result).map_err(|e| Error::Adapter(e.to_string()))?
    );
    Ok(if result.result.code == "500" { 1 } else { 0 })
}

/// `rights consume`'s flags; each one left out is the project's `rights:` setting.
struct ConsumeFlags {
    brokers: Option<String>,
    request_topic: Option<String>,
    result_topic: Option<String>,
    dead_letter_topic: Option<String>,
    group_id: Option<String>,
    batch_size: Option<usize>,
    batch_wait_ms: Option<u64>,
    idle_exit_seconds: Option<u64>,
    metrics_port: Option<u16>,
}

/// `rights consume`: answer requests from Kafka until stopped (or idle).
async fn consume_requests(
    engine: &RightsEngine,
    printer: &Arc<Printer>,
    flags: ConsumeFlags,
) -> Result<i32> {
    use crate::rights::consumer::consume;
    let c = &engine.config;
    let brokers = flags.brokers.or_else(|| c.brokers.clone()).ok_or_else(|| {
        Error::Usage(
            "rights consume: no brokers (give --brokers or set rights.brokers in project.yml)"
                .into(),
        )
    })?;
    let mut opts = ConsumeOptions::from_config(&brokers, c);
    if let Some(t) = flags.request_topic {
        opts.request_topic = t;
    }
    if let Some(t) = flags.result_topic {
        opts.result_topic = t;
    }
    if let Some(t) = flags.dead_letter_topic {
        opts.dead_letter_topic = t;
    }
    if let Some(g) = flags.group_id {
        opts.group_id = g;
    }
    if let Some(n) = flags.batch_size {
        opts.batch_size = n.max(1);
    }
    if let Some(ms) = flags.batch_wait_ms {
        opts.batch_wait = std::time::Duration::from_millis(ms);
    }
    opts.idle_exit = flags.idle_exit_seconds.map(std::time::Duration::from_secs);
    opts.metrics_port = flags.metrics_port.or(opts.metrics_port);
    let stats = consume(engine, &opts, printer).await?;
    printer.info(
        "rights_done",
        &format!(
            "Answered {} requests in {} batches ({} dead-lettered) in {:.1}s",
            stats.requests,
            stats.batches,
            stats.dead_lettered,
            stats.elapsed.as_secs_f64()
        ),
    );
    Ok(0)
}

/// `rights retry`: run a request answered 500 once more, print its new result, and publish
/// it (`publish_to`); exit 1 when the new answer is a failure too.
async fn retry(
    engine: &RightsEngine,
    printer: &Printer,
    request_id: &str,
    publish_to: Option<ConsumeOptions>,
) -> Result<i32> {
    let result = engine.retry(request_id).await?;
    println!(
        "{}",
        serde_json::to_string(&result).map_err(|e| Error::Adapter(e.to_string()))?
    );
    if let Some(opts) = publish_to {
        crate::rights::publish::publish_result(&opts, &result)
            .await
            .map_err(|e| {
                Error::Adapter(format!(
                    "the new answer is in the ledger, but publishing it to {} failed: {e}",
                    opts.result_topic
                ))
            })?;
        printer.info(
            "rights_retry_published",
            &format!("Published the new answer to {}", opts.result_topic),
        );
    }
    Ok(if result.result.code == "500" { 1 } else { 0 })
}

/// `rights submit`: publish the requests on stdin (JSON lines) to the request topic.
async fn submit(
    engine: &RightsEngine,
    printer: &Printer,
    brokers: Option<String>,
    request_topic: Option<String>,
) -> Result<i32> {
    let c = &engine.config;
    let brokers = brokers.or_else(|| c.brokers.clone()).ok_or_else(|| {
        Error::Usage("rights submit: no brokers (give --brokers or set rights.brokers)".into())
    })?;
    let mut opts = ConsumeOptions::from_config(&brokers, c);
    if let Some(t) = request_topic {
        opts.request_topic = t;
    }
    let topic = opts.request_topic.clone();
    let n = crate::rights::publish::submit(&opts, std::io::stdin().lock()).await?;
    printer.info(
        "rights_submit",
        &format!("Published {n} requests to {topic}"),
    );
    Ok(0)
}

/// `rights purge`: rewrite the tables erasures touched, and delete expired ACCESS exports.
async fn purge(engine: &RightsEngine, printer: &Printer) -> Result<i32> {
    let n = engine.purge().await?;
    printer.info("purge", &format!("Purged the tables of {n} erasures"));
    let swept = engine.sweep_exports().await?;
    printer.info(
        "exports_removed",
        &format!("Removed the ACCESS exports of {swept} requests (past their retention)"),
    );
    Ok(0)
}

/// `rights declared`: the relations that declare personal data, and how each reaches the
/// subject.
fn declared(engine: &RightsEngine) {
    for d in engine.declared() {
        match &d.via {
            Some(v) => println!(
                "{}: {} via {}.{} -> {}",
                d.name, d.key, v.relation, v.key, v.subject_key
            ),
            None => println!("{}: {}", d.name, d.key),
        }
    }
}
