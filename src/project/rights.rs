//! The `rights:` section of project.yml (every key optional), overridable on the command line:
//! a project setting, parsed once when the project loads (`Project::rights`).

use serde::Deserialize;

use crate::error::{Error, Result};

/// The rights ledger's table, in the target schema: every request answered, and the
/// subjects erased (which the materializations leave out of every declared write).
pub const LEDGER_TABLE: &str = "strata_rights_ledger";

fn d_subject_columns() -> Vec<String> {
    vec!["user_id".into(), "guid".into()]
}
fn d_pattern() -> String {
    // Letters, digits and the separators ids use; no quotes, no wildcards, no whitespace.
    r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$".into()
}
fn d_request_topic() -> String {
    "athena-user-right-request-v0".into()
}
fn d_result_topic() -> String {
    "athena-user-right-request-result-v0".into()
}
fn d_dead_letter_topic() -> String {
    "athena-user-right-request-dlq-v0".into()
}
fn d_group_id() -> String {
    "strata-rights".into()
}
fn d_batch_size() -> usize {
    500
}
fn d_batch_wait_ms() -> u64 {
    1000
}
fn d_access_path() -> String {
    "target/rights/access".into()
}
fn d_purge_deadline_hours() -> u64 {
    24
}
fn d_access_retention_hours() -> u64 {
    72
}
fn d_session_timeout_ms() -> u64 {
    10_000
}
fn d_produce_timeout_ms() -> u64 {
    30_000
}
fn d_fault_backoff_max_ms() -> u64 {
    30_000
}
fn d_service_name() -> String {
    "analytics".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RightsConfig {
    /// Column names that hold a subject id: a relation with one must declare its personal data.
    #[serde(default = "d_subject_columns")]
    pub subject_columns: Vec<String>,
    /// Tables in the project's schemas that no model or seed builds but that have a
    /// subject column, each with the reason it holds no one's personal data (otherwise
    /// requests are refused until it is dropped or declared).
    #[serde(default)]
    pub exempt_relations: std::collections::BTreeMap<String, String>,
    /// A subject id must match this before any SQL runs.
    #[serde(default = "d_pattern")]
    pub subject_id_pattern: String,
    #[serde(default)]
    pub brokers: Option<String>,
    #[serde(default = "d_request_topic")]
    pub request_topic: String,
    #[serde(default = "d_result_topic")]
    pub result_topic: String,
    #[serde(default = "d_dead_letter_topic")]
    pub dead_letter_topic: String,
    #[serde(default = "d_group_id")]
    pub group_id: String,
    #[serde(default = "d_batch_size")]
    pub batch_size: usize,
    #[serde(default = "d_batch_wait_ms")]
    pub batch_wait_ms: u64,
    /// PLAINTEXT (local) or SASL_SSL (MSK with IAM).
    #[serde(default)]
    pub security_protocol: Option<String>,
    /// `AWS_MSK_IAM` (OAUTHBEARER tokens signed from the AWS credential chain), or a
    /// librdkafka sasl.mechanism.
    #[serde(default)]
    pub sasl_mechanism: Option<String>,
    /// The MSK cluster's region for IAM tokens (default: $AWS_REGION).
    #[serde(default)]
    pub aws_region: Option<String>,
    /// Where ACCESS exports go: a folder locally, an s3:// prefix on Athena.
    #[serde(default = "d_access_path")]
    pub access_path: String,
    /// Deleted rows live on in older Iceberg snapshots: purge touched tables within this.
    #[serde(default = "d_purge_deadline_hours")]
    pub purge_deadline_hours: u64,
    /// ACCESS exports are copies of a subject's data: they are deleted this long after they
    /// were made (time for the requester to collect them), erased subject or not.
    #[serde(default = "d_access_retention_hours")]
    pub access_retention_hours: u64,
    #[serde(default = "d_service_name")]
    pub service_name: String,
    /// Serve Prometheus metrics on 127.0.0.1:PORT while consuming.
    #[serde(default)]
    pub metrics_port: Option<u16>,
    /// Kafka consumer session timeout: a group join takes about half of it.
    #[serde(default = "d_session_timeout_ms")]
    pub session_timeout_ms: u64,
    /// How long the producer tries to deliver one result before it reports a failure (the
    /// consumer then waits and tries the batch again).
    #[serde(default = "d_produce_timeout_ms")]
    pub produce_timeout_ms: u64,
    /// The longest wait between two attempts while the brokers or the warehouse fail (the
    /// waits double from one second up to this).
    #[serde(default = "d_fault_backoff_max_ms")]
    pub fault_backoff_max_ms: u64,
    /// Give up (exit 1, nothing committed that was not answered) after failing this long
    /// without a success; unset: wait for as long as it takes.
    #[serde(default)]
    pub fault_wait_limit_seconds: Option<u64>,
}

impl Default for RightsConfig {
    fn default() -> Self {
        RightsConfig {
            subject_columns: d_subject_columns(),
            exempt_relations: Default::default(),
            subject_id_pattern: d_pattern(),
            brokers: None,
            request_topic: d_request_topic(),
            result_topic: d_result_topic(),
            dead_letter_topic: d_dead_letter_topic(),
            group_id: d_group_id(),
            batch_size: d_batch_size(),
            batch_wait_ms: d_batch_wait_ms(),
            security_protocol: None,
            sasl_mechanism: None,
            aws_region: None,
            access_path: d_access_path(),
            purge_deadline_hours: d_purge_deadline_hours(),
            access_retention_hours: d_access_retention_hours(),
            service_name: d_service_name(),
            metrics_port: None,
            session_timeout_ms: d_session_timeout_ms(),
            produce_timeout_ms: d_produce_timeout_ms(),
            fault_backoff_max_ms: d_fault_backoff_max_ms(),
            fault_wait_limit_seconds: None,
        }
    }
}

impl RightsConfig {
    /// The settings of a `rights:` section (`None`: every default); errors name `path`.
    pub fn from_project(value: Option<&serde_json::Value>, path: &std::path::Path) -> Result<Self> {
        match value {
            None | Some(serde_json::Value::Null) => Ok(Self::default()),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| Error::config(path, format!("rights: {e}"))),
        }
    }
}

/// The project's rights settings: `None` without a `rights:` section (a plain dbt project,
/// which the personal-data checks leave alone).
pub(super) fn of_project_file(
    section: Option<&serde_json::Value>,
    path: &std::path::Path,
) -> Result<Option<RightsConfig>> {
    section
        .map(|v| RightsConfig::from_project(Some(v), path))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn no_section_is_none_and_an_empty_one_has_the_defaults() {
        let path = std::path::Path::new("project.yml");
        assert!(matches!(of_project_file(None, path), Ok(None)));
        let Ok(Some(c)) = of_project_file(Some(&serde_json::Value::Null), path) else {
            panic!("a null section has the defaults");
        };
        assert_eq!(c.subject_columns, vec!["user_id", "guid"]);
        let Ok(Some(c)) = of_project_file(Some(&json!({"batch_size": 7})), path) else {
            panic!("a section with a known key parses");
        };
        assert_eq!((c.batch_size, c.batch_wait_ms), (7, 1000));
    }

    #[test]
    fn errors_in_the_section_name_project_yml() {
        let path = std::path::Path::new("project.yml");
        let err = of_project_file(Some(&json!({"batch_sise": 7})), path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("project.yml: rights: unknown field `batch_sise`"),
            "{err}"
        );
    }
}
