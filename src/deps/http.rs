//! The HTTP client of `deps`: blocking GETs with a timeout and dbt's five tries, for the hub's
//! JSON and package tarballs.

use std::time::Duration;

use crate::error::{Error, Result};

/// How often a request is tried (dbt's `connection_exception_retry(fn, 5)`).
const TRIES: u32 = 5;
/// The largest tarball accepted (dbt_utils is well under 1 MB).
const MAX_TARBALL_BYTES: u64 = 512 * 1024 * 1024;
const MAX_JSON_BYTES: u64 = 64 * 1024 * 1024;

pub struct Http {
    json: ureq::Agent,
    download: ureq::Agent,
    pause: Duration,
}

/// One failed try: worth another one (the network, a 5xx) or not (a 404).
enum Failure {
    Retry(String),
    Final(String),
}

impl Http {
    /// `download_timeout` is dbt's `DBT_HTTP_TIMEOUT` for tarballs; JSON gets 30 seconds.
    pub fn new(download_timeout: Duration) -> Self {
        let agent = |timeout: Duration| -> ureq::Agent {
            ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .user_agent(concat!("strata/", env!("CARGO_PKG_VERSION")))
                .build()
                .into()
        };
        Http {
            json: agent(Duration::from_secs(30)),
            download: agent(download_timeout),
            pause: Duration::from_secs(1),
        }
    }

    /// A JSON document, made into a `T` by `check`; a document `check` refuses is fetched
    /// again, as dbt does.
    pub fn get_json<T>(
        &self,
        url: &str,
        check: impl Fn(serde_json::Value) -> std::result::Result<T, String>,
    ) -> Result<T> {
        self.with_tries(url, || {
            let bytes = fetch(&self.json, url, MAX_JSON_BYTES)?;
            let doc = serde_json::from_slice(&bytes)
                .map_err(|e| Failure::Retry(format!("the response is not JSON: {e}")))?;
            check(doc).map_err(Failure::Retry)
        })
    }

    /// The bytes at `url` (a tarball).
    pub fn get_bytes(&self, url: &str) -> Result<Vec<u8>> {
        self.with_tries(url, || fetch(&self.download, url, MAX_TARBALL_BYTES))
    }

    /// `attempt` up to five times, a second apart, while it fails in a way worth retrying
    /// (the hub sometimes answers garbage under load, dbt-core#4577).
    fn with_tries<T>(&self, url: &str, attempt: impl Fn() -> Result<T, Failure>) -> Result<T> {
        let mut last = String::new();
        for n in 0..TRIES {
            if n > 0 {
                std::thread::sleep(self.pause);
            }
            match attempt() {
                Ok(v) => return Ok(v),
                Err(Failure::Final(message)) => return Err(http_error(url, &message)),
                Err(Failure::Retry(message)) => last = message,
            }
        }
        Err(http_error(url, &format!("{last} (tried {TRIES} times)")))
    }
}

fn http_error(url: &str, message: &str) -> Error {
    Error::Usage(format!(
        "External connection exception occurred: GET {url}: {message}"
    ))
}

fn fetch(agent: &ureq::Agent, url: &str, limit: u64) -> Result<Vec<u8>, Failure> {
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| Failure::Retry(e.to_string()))?;
    let status = response.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(Failure::Retry(format!("HTTP {status}")));
    }
    if !status.is_success() {
        return Err(Failure::Final(format!("HTTP {status}")));
    }
    response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| Failure::Retry(e.to_string()))
}
