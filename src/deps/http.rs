//! The HTTP client of `deps`: blocking GETs with a timeout and dbt's five tries, for the hub's
//! JSON and package tarballs.

use std::path::Path;
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
    /// `ca_bundle` (a PEM file, `REQUESTS_CA_BUNDLE` as dbt's HTTP library reads it) replaces
    /// the built-in Mozilla roots, for a mirror behind an internal CA. Proxies come from
    /// `HTTPS_PROXY`/`NO_PROXY`.
    pub fn new(download_timeout: Duration, ca_bundle: Option<&Path>) -> Result<Self> {
        let roots = match ca_bundle {
            Some(path) => Some(root_certs(path)?),
            None => None,
        };
        let agent = |timeout: Duration| -> ureq::Agent {
            let mut tls = ureq::tls::TlsConfig::builder();
            if let Some(r) = &roots {
                tls = tls.root_certs(r.clone());
            }
            ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .user_agent(concat!("strata/", env!("CARGO_PKG_VERSION")))
                .tls_config(tls.build())
                .build()
                .into()
        };
        Ok(Http {
            json: agent(Duration::from_secs(30)),
            download: agent(download_timeout),
            pause: Duration::from_secs(1),
        })
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

/// The certificates of a PEM file.
fn root_certs(path: &Path) -> Result<ureq::tls::RootCerts> {
    let pem = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::config(
                    path,
                    format!("not a PEM certificate bundle: {e}"),
                ))
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::config(
            path,
            "the CA bundle holds no PEM certificate",
        ));
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certs))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_bundle_without_certificates_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let err = Http::new(Duration::from_secs(1), Some(&file))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("ca.pem") && err.contains("no PEM certificate"),
            "{err}"
        );
    }
}
