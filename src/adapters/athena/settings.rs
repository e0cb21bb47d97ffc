//! The `athena` target's settings, read from the profiles.yml output.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::project::Target;

/// Everything the Athena adapter reads from its target.
#[derive(Debug, Clone)]
pub struct AthenaSettings {
    pub region: String,
    pub work_group: Option<String>,
    /// Where Athena writes query results (`s3://bucket/prefix/`).
    pub s3_staging_dir: Option<String>,
    /// Where tables' data goes; each build of a table gets a unique folder below it.
    pub s3_data_dir: String,
    /// The data catalog (`awsdatacatalog` unless a federated one is named).
    pub catalog: String,
    /// The Glue database models are built in.
    pub schema: String,
    /// Retries of throttled calls and of retryable query failures (ICEBERG_COMMIT_ERROR).
    pub num_retries: u32,
    /// First poll interval of GetQueryExecution; doubles up to `max_poll_interval`.
    pub poll_interval: Duration,
    pub max_poll_interval: Duration,
    /// Base delay of the jittered exponential backoff between retries.
    pub retry_base_delay: Duration,
    /// An AWS API endpoint to use instead of AWS (a local emulator in tests).
    pub endpoint_url: Option<String>,
    /// A named profile of the shared AWS config; otherwise the default credential chain.
    pub aws_profile_name: Option<String>,
    /// `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`): these keys
    /// instead of the credential chain, as dbt-athena takes them.
    pub static_keys: Option<StaticKeys>,
    /// `assume_role_arn` (+ external id, session name, duration): that role, assumed through
    /// STS with the credentials above, is who runs the queries.
    pub assume_role: Option<AssumeRole>,
    /// dbt-athena's `seed_s3_upload_args`: S3 arguments of seed uploads (a seed's own win).
    pub seed_s3_upload_args: Option<serde_json::Map<String, serde_json::Value>>,
    /// dbt-athena's `lf_tags_database`: Lake Formation tags of the databases Strata creates.
    pub lf_tags_database: std::collections::BTreeMap<String, String>,
    /// dbt-athena's `s3_data_naming` (a model's own wins): whether a Hive table's rebuild
    /// gets a folder of its own (then it is built aside and swapped in).
    pub s3_data_naming: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StaticKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AssumeRole {
    pub arn: String,
    pub external_id: Option<String>,
    /// dbt-athena's default: `dbt-athena`.
    pub session_name: String,
    pub duration: Duration,
}

/// The profile keys the Athena target honours.
const HONOURED: &[&str] = &[
    "type",
    "threads",
    "database",
    "catalog",
    "schema",
    "region_name",
    "region",
    "work_group",
    "s3_staging_dir",
    "s3_data_dir",
    "num_retries",
    "poll_interval",
    "max_poll_interval",
    "retry_base_delay",
    "endpoint_url",
    "aws_profile_name",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "assume_role_arn",
    "assume_role_external_id",
    "assume_role_session_name",
    "assume_role_duration_seconds",
    "lf_tags_database",
    "s3_data_naming",
    "s3_tmp_table_dir",
    "seed_s3_upload_args",
];

/// dbt-athena profile keys that change nothing here, and why (said once per run).
const NO_EFFECT: &[(&str, &str)] = &[
    (
        "num_boto3_retries",
        "Strata's num_retries covers Glue and S3 calls too",
    ),
    (
        "num_iceberg_retries",
        "Strata retries ICEBERG_COMMIT_ERROR up to num_retries",
    ),
    (
        "skip_workgroup_check",
        "Strata does not check the work group before a run",
    ),
    ("debug_query_state", "Strata does not log query states"),
    ("connection_manager", "Strata calls the Athena API directly"),
];

/// dbt-athena profile keys Strata does not support yet, which would change where data lands
/// or who may read it if ignored: refused.
const REFUSED: &[(&str, &str)] = &[("spark_work_group", "Strata runs no Python (Spark) models")];

/// Every key of an athena profile output honoured, refused or warned about.
pub fn check_keys(target: &Target) -> Result<Vec<String>> {
    crate::adapters::keys::check_profile(target, &PROFILE_KEYS)
}

const PROFILE_KEYS: crate::adapters::keys::ProfileKeys = crate::adapters::keys::ProfileKeys {
    engine: "athena",
    label: "Athena",
    dbt_adapter: "dbt-athena",
    honoured: HONOURED,
    no_effect: NO_EFFECT,
    refused: REFUSED,
};

impl AthenaSettings {
    pub fn from_target(target: &Target) -> Result<Self> {
        let s = |k: &str| target.setting_str(k).map(str::to_string);
        let missing = |k: &str| {
            Error::Usage(format!(
                "target '{}' (type athena) needs `{k}` in profiles.yml",
                target.name
            ))
        };
        let millis = |k: &str, default: u64| -> Result<Duration> {
            match target.settings.get(k) {
                None => Ok(Duration::from_millis(default)),
                Some(v) => {
                    // dbt-athena gives poll_interval in seconds (may be fractional).
                    let secs = v.as_f64().ok_or_else(|| {
                        Error::Usage(format!(
                            "target '{}': `{k}` must be a number of seconds, not {v}",
                            target.name
                        ))
                    })?;
                    if !(0.005..=3600.0).contains(&secs) {
                        return Err(Error::Usage(format!(
                            "target '{}': `{k}` must be between 0.005 and 3600 seconds",
                            target.name
                        )));
                    }
                    Ok(Duration::from_secs_f64(secs))
                }
            }
        };
        let s3_data_dir = s("s3_data_dir")
            .or_else(|| s("s3_staging_dir").map(|d| format!("{}/tables", d.trim_end_matches('/'))))
            .ok_or_else(|| missing("s3_data_dir (or s3_staging_dir)"))?;
        if let Some(naming) = s("s3_data_naming") {
            if !crate::adapters::keys::athena::S3_DATA_NAMINGS.contains(&naming.as_str()) {
                return Err(Error::Usage(format!(
                    "target '{}': `s3_data_naming: {naming}` is not one of {}",
                    target.name,
                    crate::adapters::keys::athena::S3_DATA_NAMINGS.join(", ")
                )));
            }
        }
        for (key, value) in [
            ("s3_data_dir", Some(&s3_data_dir)),
            ("s3_staging_dir", s("s3_staging_dir").as_ref()),
            ("s3_tmp_table_dir", s("s3_tmp_table_dir").as_ref()),
        ] {
            if let Some(v) = value {
                if !v.starts_with("s3://") {
                    return Err(Error::Usage(format!(
                        "target '{}': `{key}` must be an s3:// URI, not '{v}'",
                        target.name
                    )));
                }
            }
        }
        let num_retries = match target.settings.get("num_retries") {
            None => 5,
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "target '{}': `num_retries` must be a non-negative integer, not {v}",
                        target.name
                    ))
                })?,
        };
        Ok(AthenaSettings {
            region: s("region_name")
                .or_else(|| s("region"))
                .ok_or_else(|| missing("region_name"))?,
            work_group: s("work_group"),
            s3_staging_dir: s("s3_staging_dir"),
            s3_data_dir,
            catalog: target.database.clone(),
            schema: target.schema.clone(),
            num_retries,
            poll_interval: millis("poll_interval", 250)?,
            max_poll_interval: millis("max_poll_interval", 5_000)?,
            retry_base_delay: millis("retry_base_delay", 500)?,
            endpoint_url: s("endpoint_url"),
            aws_profile_name: s("aws_profile_name"),
            static_keys: static_keys(target)?,
            assume_role: assume_role(target)?,
            lf_tags_database: lf_tags_database(target)?,
            s3_data_naming: s("s3_data_naming"),
            seed_s3_upload_args: match target.settings.get("seed_s3_upload_args") {
                None | Some(serde_json::Value::Null) => None,
                Some(args) => {
                    crate::adapters::keys::athena::check_upload_args(args)
                        .map_err(|e| Error::Usage(format!("target '{}': {e}", target.name)))?;
                    args.as_object().cloned()
                }
            },
        })
    }
}

/// The profile's static keys: both or neither (a session token only with them).
fn static_keys(target: &Target) -> Result<Option<StaticKeys>> {
    let s = |k: &str| target.setting_str(k).map(str::to_string);
    let token = s("aws_session_token");
    match (s("aws_access_key_id"), s("aws_secret_access_key")) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Some(StaticKeys {
            access_key_id,
            secret_access_key,
            session_token: token,
        })),
        (None, None) if token.is_none() => Ok(None),
        _ => Err(Error::Usage(format!(
            "target '{}': `aws_access_key_id` and `aws_secret_access_key` go together (and \
             `aws_session_token` only with them); give both, or neither to use the AWS \
             credential chain",
            target.name
        ))),
    }
}

/// The profile's role to assume, as dbt-athena reads it.
fn assume_role(target: &Target) -> Result<Option<AssumeRole>> {
    let s = |k: &str| target.setting_str(k).map(str::to_string);
    let Some(arn) = s("assume_role_arn") else {
        for key in [
            "assume_role_external_id",
            "assume_role_session_name",
            "assume_role_duration_seconds",
        ] {
            if target.settings.contains_key(key) {
                return Err(Error::Usage(format!(
                    "target '{}': `{key}` is set but `assume_role_arn` is not: name the role \
                     to assume",
                    target.name
                )));
            }
        }
        return Ok(None);
    };
    let seconds = match target.settings.get("assume_role_duration_seconds") {
        None => 3600,
        Some(v) => v
            .as_u64()
            .filter(|n| (900..=43_200).contains(n))
            .ok_or_else(|| {
                Error::Usage(format!(
                "target '{}': `assume_role_duration_seconds` must be a whole number of seconds \
                 from 900 to 43200 (STS's range), not {v}",
                target.name
            ))
            })?,
    };
    Ok(Some(AssumeRole {
        arn,
        external_id: s("assume_role_external_id"),
        session_name: s("assume_role_session_name").unwrap_or_else(|| "dbt-athena".into()),
        duration: Duration::from_secs(seconds),
    }))
}

/// `lf_tags_database`: tag key -> value (numbers and booleans as written).
fn lf_tags_database(target: &Target) -> Result<std::collections::BTreeMap<String, String>> {
    let mut tags = std::collections::BTreeMap::new();
    match target.settings.get("lf_tags_database") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(map)) => {
            for (key, value) in map {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    other => {
                        return Err(Error::Usage(format!(
                            "target '{}': `lf_tags_database: {key}` must be one tag value, \
                             not {other}",
                            target.name
                        )))
                    }
                };
                tags.insert(key.clone(), text);
            }
        }
        Some(other) => {
            return Err(Error::Usage(format!(
                "target '{}': `lf_tags_database` must map tag keys to values, not {other}",
                target.name
            )))
        }
    }
    Ok(tags)
}
