//! Running one query on Athena: StartQueryExecution, poll GetQueryExecution with backoff,
//! read GetQueryResults page by page. Throttling and Iceberg commit conflicts are retried
//! with jittered exponential backoff; SQL errors are not. Every query still running can be
//! stopped (Ctrl-C, SIGTERM).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_athena::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_athena::types::{
    QueryExecutionContext, QueryExecutionState, ResultConfiguration, StatementType,
};
use aws_sdk_athena::Client;

use super::retry::Backoff;
use super::settings::AthenaSettings;
use crate::adapters::ExecResult;
use crate::compile::Table;
use crate::error::{Error, Result};

/// API error codes that mean "slow down", whatever the operation.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "TooManyRequestsException",
    "Throttling",
    "RequestLimitExceeded",
    "SlowDown",
];

/// Failure reasons of a query that are worth running it again: a concurrent Iceberg commit
/// won the race, or the query itself was throttled.
const RETRYABLE_QUERY_FAILURES: &[&str] = &[
    "ICEBERG_COMMIT_ERROR",
    "TOO_MANY_REQUESTS",
    "ThrottlingException",
    "Rate exceeded",
    "Please reduce your request rate",
];

/// The query client: owns the running-query set and the engine counters.
pub struct QueryRunner {
    client: Client,
    settings: AthenaSettings,
    running: Mutex<Running>,
    engine_millis: AtomicU64,
}

/// The queries running now, and whether the run is stopping (one lock for both, so a query
/// started while `cancel_all` runs is either stopped by it or stops itself).
#[derive(Default)]
struct Running {
    ids: HashSet<String>,
    stopping: bool,
}

/// How a finished query ended.
struct Finished {
    id: String,
    bytes_scanned: Option<u64>,
    engine_millis: Option<u64>,
    statement_type: Option<StatementType>,
}

/// Throttling, and failures of the call itself (timeouts, dropped connections, 5xx): worth
/// another try. StartQueryExecution carries a ClientRequestToken, so a retry never starts a
/// second query.
fn is_retryable<E: ProvideErrorMetadata, R>(e: &aws_sdk_athena::error::SdkError<E, R>) -> bool {
    use aws_sdk_athena::error::SdkError;
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => e.code().is_some_and(|c| {
            THROTTLING_CODES.contains(&c)
                || c == "InternalServerException"
                || c == "ServiceUnavailableException"
        }),
    }
}

fn api_error<E>(what: &str, e: aws_sdk_athena::error::SdkError<E>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    Error::engine(
        format!("Athena {what} failed: {}", DisplayErrorContext(&e)),
        e,
    )
}

impl QueryRunner {
    pub fn new(client: Client, settings: AthenaSettings) -> Self {
        QueryRunner {
            client,
            settings,
            running: Mutex::new(Running::default()),
            engine_millis: AtomicU64::new(0),
        }
    }

    pub fn engine_time(&self) -> Duration {
        Duration::from_millis(self.engine_millis.load(Ordering::Relaxed))
    }

    /// The retries of API calls and of queries that failed in a way worth another try.
    fn backoff(&self) -> Backoff {
        Backoff {
            retries: self.settings.num_retries,
            base_delay: self.settings.retry_base_delay,
        }
    }

    /// Run `sql` (with `params` as ExecutionParameters, already SQL literals); with `fetch`,
    /// read every result page.
    pub async fn run(&self, sql: &str, params: &[String], fetch: bool) -> Result<ExecResult> {
        let once = move || async move {
            match self.run_once(sql, params).await {
                Ok(outcome) => outcome.map_err(RunFailure::Query),
                Err(e) => Err(RunFailure::Api(e)),
            }
        };
        let retryable = |f: &RunFailure| matches!(f, RunFailure::Query(q) if q.retryable);
        let done = match self.backoff().retry(once, retryable).await {
            Ok(done) => done,
            Err(RunFailure::Query(failure)) => return Err(Error::Adapter(failure.message)),
            Err(RunFailure::Api(e)) => return Err(e),
        };
        let mut result = ExecResult {
            bytes_scanned: done.bytes_scanned,
            engine_ms: done.engine_millis,
            query_id: Some(done.id.clone()),
            message: "OK".into(),
            ..Default::default()
        };
        if let Some(ms) = done.engine_millis {
            self.engine_millis.fetch_add(ms, Ordering::Relaxed);
        }
        if fetch {
            let table = self.results(&done.id, done.statement_type).await?;
            result.rows_affected = Some(table.rows.len() as u64);
            result.table = Some(table);
        }
        Ok(result)
    }

    /// Start the query (retrying throttled starts) and wait for it to end. The outer `Err` is
    /// an error that no retry can help; the inner one a failed query, maybe retryable.
    async fn run_once(
        &self,
        sql: &str,
        params: &[String],
    ) -> Result<Result<Finished, QueryFailure>> {
        if self.is_stopping() {
            return Err(Error::Adapter("cancelled: the run is stopping".into()));
        }
        let id = self.start(sql, params).await?;
        let stopping = match self.running.lock() {
            Ok(mut r) => {
                r.ids.insert(id.clone());
                r.stopping
            }
            Err(_) => false,
        };
        if stopping {
            // cancel_all ran while this query was starting: stop it here.
            self.stop(&id).await;
            self.forget(&id);
            return Err(Error::Adapter(format!(
                "cancelled: Athena query {id} was stopped as the run is stopping"
            )));
        }
        let outcome = self.wait(&id).await;
        if outcome.is_err() {
            // We lost track of it (an API error): do not leave it running, unwatched.
            self.stop(&id).await;
        }
        self.forget(&id);
        outcome
    }

    fn is_stopping(&self) -> bool {
        self.running.lock().map(|r| r.stopping).unwrap_or(true)
    }

    fn forget(&self, id: &str) {
        if let Ok(mut r) = self.running.lock() {
            r.ids.remove(id);
        }
    }

    async fn stop(&self, id: &str) {
        match self
            .client
            .stop_query_execution()
            .query_execution_id(id)
            .send()
            .await
        {
            Ok(_) => eprintln!("stopped Athena query {id}"),
            Err(e) => eprintln!(
                "could not stop Athena query {id}: {}",
                DisplayErrorContext(&e)
            ),
        }
    }

    async fn start(&self, sql: &str, params: &[String]) -> Result<String> {
        // The same token on every attempt: Athena starts the query once.
        let token = uuid::Uuid::new_v4().to_string();
        let send = || {
            let mut req = self
                .client
                .start_query_execution()
                .client_request_token(&token)
                .query_string(sql)
                .query_execution_context(
                    QueryExecutionContext::builder()
                        .catalog(&self.settings.catalog)
                        .database(&self.settings.schema)
                        .build(),
                );
            if let Some(wg) = &self.settings.work_group {
                req = req.work_group(wg);
            }
            if let Some(dir) = &self.settings.s3_staging_dir {
                req = req.result_configuration(
                    ResultConfiguration::builder().output_location(dir).build(),
                );
            }
            if !params.is_empty() {
                req = req.set_execution_parameters(Some(params.to_vec()));
            }
            req.send()
        };
        let out = self
            .backoff()
            .retry(send, |e| is_retryable(e) && !self.is_stopping())
            .await
            .map_err(|e| api_error("StartQueryExecution", e))?;
        out.query_execution_id()
            .map(str::to_string)
            .ok_or_else(|| Error::Adapter("Athena returned no query id".into()))
    }

    /// Poll until the query ends: the interval doubles from `poll_interval` up to
    /// `max_poll_interval`.
    async fn wait(&self, id: &str) -> Result<Result<Finished, QueryFailure>> {
        let mut interval = self.settings.poll_interval;
        loop {
            // Each poll has its own retries: a throttled poll after a good one starts again
            // from the first delay.
            let out = self
                .backoff()
                .retry(
                    || {
                        self.client
                            .get_query_execution()
                            .query_execution_id(id)
                            .send()
                    },
                    is_retryable,
                )
                .await
                .map_err(|e| api_error(&format!("GetQueryExecution({id})"), e))?;
            let qe = out.query_execution().ok_or_else(|| {
                Error::Adapter(format!("Athena query {id}: no execution returned"))
            })?;
            let status = qe.status();
            let state = status.and_then(|s| s.state()).cloned();
            let stats = qe.statistics();
            let finished = || Finished {
                id: id.to_string(),
                bytes_scanned: stats
                    .and_then(|s| s.data_scanned_in_bytes())
                    .and_then(|b| u64::try_from(b).ok()),
                engine_millis: stats
                    .and_then(|s| s.engine_execution_time_in_millis())
                    .and_then(|b| u64::try_from(b).ok()),
                statement_type: qe.statement_type().cloned(),
            };
            match state {
                Some(QueryExecutionState::Succeeded) => return Ok(Ok(finished())),
                Some(QueryExecutionState::Failed) => {
                    let reason = status
                        .and_then(|s| s.state_change_reason())
                        .unwrap_or("no reason given");
                    let athena_retryable =
                        status.and_then(|s| s.athena_error()).map(|e| e.retryable());
                    let retryable = RETRYABLE_QUERY_FAILURES.iter().any(|p| reason.contains(p))
                        || athena_retryable == Some(true) && reason.contains("ICEBERG");
                    return Ok(Err(QueryFailure {
                        retryable,
                        message: format!("Athena query {id} failed: {reason}"),
                    }));
                }
                Some(QueryExecutionState::Cancelled) => {
                    let reason = status.and_then(|s| s.state_change_reason()).unwrap_or("");
                    return Ok(Err(QueryFailure {
                        retryable: false,
                        message: format!("Athena query {id} was cancelled {reason}")
                            .trim_end()
                            .to_string(),
                    }));
                }
                _ => {
                    tokio::time::sleep(interval).await;
                    interval = (interval * 2).min(self.settings.max_poll_interval);
                }
            }
        }
    }

    /// Every result page. The first row of a SELECT's first page repeats the column labels.
    async fn results(&self, id: &str, statement_type: Option<StatementType>) -> Result<Table> {
        let mut table = Table::default();
        let mut types: Vec<String> = Vec::new();
        let mut next: Option<String> = None;
        let mut first_page = true;
        loop {
            let page = || {
                self.client
                    .get_query_results()
                    .query_execution_id(id)
                    .max_results(1000)
                    .set_next_token(next.clone())
                    .send()
            };
            let out = self
                .backoff()
                .retry(page, is_retryable)
                .await
                .map_err(|e| api_error(&format!("GetQueryResults({id})"), e))?;
            let Some(rs) = out.result_set() else { break };
            if first_page {
                if let Some(meta) = rs.result_set_metadata() {
                    for c in meta.column_info() {
                        table.columns.push(c.name().to_string());
                        types.push(c.r#type().to_ascii_lowercase());
                        table.column_types.push(c.r#type().to_string());
                    }
                }
            }
            let mut rows = rs.rows().iter();
            if first_page && statement_type != Some(StatementType::Ddl) {
                // Skip the header row when it is one (a DDL's SHOW output has none).
                let is_header = rs.rows().first().is_some_and(|r| {
                    r.data().len() == table.columns.len()
                        && r.data()
                            .iter()
                            .zip(&table.columns)
                            .all(|(d, c)| d.var_char_value() == Some(c.as_str()))
                });
                if is_header {
                    rows.next();
                }
            }
            for row in rows {
                table.rows.push(
                    row.data()
                        .iter()
                        .enumerate()
                        .map(|(i, d)| typed(d.var_char_value(), types.get(i).map(String::as_str)))
                        .collect(),
                );
            }
            first_page = false;
            match out.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(table)
    }

    /// StopQueryExecution for every query still running; no query starts afterwards.
    pub async fn cancel_all(&self) {
        let ids: Vec<String> = match self.running.lock() {
            Ok(mut r) => {
                r.stopping = true;
                r.ids.iter().cloned().collect()
            }
            Err(_) => Vec::new(),
        };
        for id in ids {
            self.stop(&id).await;
        }
    }
}

struct QueryFailure {
    retryable: bool,
    message: String,
}

/// Why one run of a query gave no result: the query failed (maybe worth another run), or an
/// API call did (its own retries are spent).
enum RunFailure {
    Query(QueryFailure),
    Api(Error),
}

/// Athena returns every value as text; give numbers and booleans their JSON type.
fn typed(v: Option<&str>, athena_type: Option<&str>) -> serde_json::Value {
    use serde_json::Value as J;
    let Some(v) = v else { return J::Null };
    match athena_type.unwrap_or("varchar") {
        "tinyint" | "smallint" | "integer" | "int" | "bigint" => v
            .parse::<i64>()
            .map(J::from)
            .unwrap_or_else(|_| J::String(v.to_string())),
        "double" | "float" | "real" | "decimal" => v
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(J::Number)
            .unwrap_or_else(|| J::String(v.to_string())),
        "boolean" => match v {
            "true" => J::Bool(true),
            "false" => J::Bool(false),
            _ => J::String(v.to_string()),
        },
        _ => J::String(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::typed;
    use serde_json::json;

    #[test]
    fn values_get_their_athena_type() {
        assert_eq!(typed(Some("12"), Some("bigint")), json!(12));
        assert_eq!(typed(Some("1.5"), Some("double")), json!(1.5));
        assert_eq!(typed(Some("true"), Some("boolean")), json!(true));
        assert_eq!(typed(Some("12"), Some("varchar")), json!("12"));
        assert_eq!(typed(None, Some("bigint")), json!(null));
        // A value that does not parse stays text rather than becoming a wrong number.
        assert_eq!(typed(Some("NaN?"), Some("bigint")), json!("NaN?"));
    }
}
