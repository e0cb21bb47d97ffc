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
}

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
        for (key, value) in [
            ("s3_data_dir", Some(&s3_data_dir)),
            ("s3_staging_dir", s("s3_staging_dir").as_ref()),
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
        })
    }
}
