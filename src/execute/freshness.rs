//! `strata source freshness`: how long ago each source table was last loaded (the newest
//! value of its `loaded_at_field`, or what its `loaded_at_query` returns) against its
//! `freshness` thresholds, as dbt checks it; results go to `target/sources.json`.

use std::time::Instant;

use chrono::{DateTime, Utc};
use minijinja::Value;
use serde_json::{json, Value as Json};

use crate::error::YamlStep::{Key, Named};
use crate::error::{Error, Result};
use crate::project::{Node, Source};
use crate::session::printer::Tone;
use crate::session::Session;

/// A threshold such as `{count: 12, period: hour}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub count: u64,
    pub period: Period,
}

/// The unit of a freshness threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Minute,
    Hour,
    Day,
}

impl Period {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "minute" => Some(Period::Minute),
            "hour" => Some(Period::Hour),
            "day" => Some(Period::Day),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Period::Minute => "minute",
            Period::Hour => "hour",
            Period::Day => "day",
        }
    }

    fn seconds(self) -> f64 {
        match self {
            Period::Minute => 60.0,
            Period::Hour => 3600.0,
            Period::Day => 86400.0,
        }
    }
}

impl Threshold {
    fn seconds(&self) -> f64 {
        self.count as f64 * self.period.seconds()
    }

    fn json(&self) -> Json {
        json!({"count": self.count, "period": self.period.as_str()})
    }
}

/// What a source's check came to (dbt's freshness statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreshnessStatus {
    Pass,
    Warn,
    /// Stale: past `error_after`, or never loaded.
    Error,
    /// The load time could not be read.
    RuntimeError,
}

impl FreshnessStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FreshnessStatus::Pass => "pass",
            FreshnessStatus::Warn => "warn",
            FreshnessStatus::Error => "error",
            FreshnessStatus::RuntimeError => "runtime error",
        }
    }
}

/// A source table's `freshness:` (the table's own replaces its source's, as in dbt).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Criteria {
    pub warn_after: Option<Threshold>,
    pub error_after: Option<Threshold>,
    pub filter: Option<String>,
}

impl Criteria {
    /// None when the source has no freshness to check (none set, or thresholds without a
    /// count).
    pub fn of(source: &Source) -> Result<Option<Self>> {
        let Some(Json::Object(f)) = &source.freshness else {
            return Ok(None);
        };
        // The table's `freshness:` replaces its source's: point at whichever is written.
        let in_source = [Key("sources"), Named(&source.source_name)];
        let table = [Key("tables"), Named(&source.name), Key("freshness")];
        let bad = |m: String| {
            Error::config(
                &source.original_file_path,
                format!(
                    "source {}.{}: freshness {m}",
                    source.source_name, source.name
                ),
            )
            .at_yaml_key_of_file(
                &source.original_file_path,
                &[&in_source[..], &table].concat(),
            )
            .at_yaml_key_of_file(
                &source.original_file_path,
                &[&in_source[..], &[Key("freshness")]].concat(),
            )
        };
        let threshold = |key: &str| -> Result<Option<Threshold>> {
            let Some(t) = f.get(key).filter(|t| !t.is_null()) else {
                return Ok(None);
            };
            let count = match t.get("count") {
                None | Some(Json::Null) => return Ok(None),
                Some(c) => c
                    .as_u64()
                    .ok_or_else(|| bad(format!("{key}.count should be a whole number, not {c}")))?,
            };
            let written = t.get("period").and_then(Json::as_str).unwrap_or_default();
            let Some(period) = Period::parse(written) else {
                return Err(bad(format!(
                    "{key}.period should be minute, hour or day, not {:?}",
                    written
                )));
            };
            Ok(Some(Threshold { count, period }))
        };
        let criteria = Criteria {
            warn_after: threshold("warn_after")?,
            error_after: threshold("error_after")?,
            filter: f.get("filter").and_then(Json::as_str).map(String::from),
        };
        Ok((criteria.warn_after.is_some() || criteria.error_after.is_some()).then_some(criteria))
    }

    /// dbt's rule: past error_after is an error, else past warn_after a warning.
    pub fn status(&self, age_seconds: f64) -> FreshnessStatus {
        let past = |t: &Option<Threshold>| t.as_ref().is_some_and(|t| age_seconds > t.seconds());
        if past(&self.error_after) {
            FreshnessStatus::Error
        } else if past(&self.warn_after) {
            FreshnessStatus::Warn
        } else {
            FreshnessStatus::Pass
        }
    }
}

/// One source's check.
#[derive(Debug, Clone)]
pub struct Freshness {
    pub unique_id: String,
    pub status: FreshnessStatus,
    pub max_loaded_at: Option<DateTime<Utc>>,
    pub snapshotted_at: Option<DateTime<Utc>>,
    pub age_seconds: Option<f64>,
    pub criteria: Criteria,
    pub message: Option<String>,
    pub seconds: f64,
}

impl Freshness {
    pub fn failed(&self) -> bool {
        matches!(
            self.status,
            FreshnessStatus::Error | FreshnessStatus::RuntimeError
        )
    }
}

/// Check the selected sources that have freshness to check, one after another, printing a
/// line for each as dbt does.
pub async fn check(session: &Session, source_ids: &[String]) -> Result<Vec<Freshness>> {
    let project = &session.project;
    let mut todo = Vec::new();
    for id in source_ids {
        let Some(source) = project.sources.get(id) else {
            continue;
        };
        if let Some(criteria) = Criteria::of(source)? {
            todo.push((source, criteria));
        }
    }
    let printer = &session.printer;
    let total = todo.len();
    let mut out = Vec::new();
    for (i, (source, criteria)) in todo.into_iter().enumerate() {
        let index = i + 1;
        let label = format!("freshness of {}.{}", source.source_name, source.name);
        printer.node_started(index, total, &source.unique_id, &label);
        let started = Instant::now();
        let result = measure(session, source, &criteria).await;
        let seconds = started.elapsed().as_secs_f64();
        let checked = match result {
            Ok((max_loaded_at, snapshotted_at)) => {
                let age = match (max_loaded_at, snapshotted_at) {
                    (Some(m), Some(s)) => {
                        Some((s - m).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6)
                    }
                    _ => None,
                };
                Freshness {
                    unique_id: source.unique_id.clone(),
                    // A table with no rows was never loaded: stale (dbt).
                    status: age.map_or(FreshnessStatus::Error, |a| criteria.status(a)),
                    max_loaded_at,
                    snapshotted_at,
                    age_seconds: age,
                    criteria,
                    message: None,
                    seconds,
                }
            }
            Err(e) => Freshness {
                unique_id: source.unique_id.clone(),
                status: FreshnessStatus::RuntimeError,
                max_loaded_at: None,
                snapshotted_at: None,
                age_seconds: None,
                criteria,
                message: Some(e.to_string()),
                seconds,
            },
        };
        let (badge, tone) = match checked.status {
            FreshnessStatus::Pass => ("PASS", Tone::Good),
            FreshnessStatus::Warn => ("WARN", Tone::Warn),
            FreshnessStatus::Error => ("ERROR STALE", Tone::Bad),
            FreshnessStatus::RuntimeError => ("ERROR", Tone::Bad),
        };
        printer.node_finished(
            index,
            total,
            &source.unique_id,
            checked.status.as_str(),
            &format!("{badge} {label}"),
            badge,
            tone,
            seconds,
            checked.message.as_deref(),
        );
        out.push(checked);
    }
    Ok(out)
}

/// The newest load time and the warehouse's clock, from the adapter's collect_freshness
/// template (or the source's loaded_at_query).
async fn measure(
    session: &Session,
    source: &Source,
    criteria: &Criteria,
) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>)> {
    let relation = session
        .compiler
        .source_relation(&source.source_name, &source.name)
        .ok_or_else(|| Error::Adapter(format!("no relation for {}", source.unique_id)))?;
    let node = Node {
        original_file_path: source.original_file_path.clone(),
        ..Node::synthetic(session.project.name(), "freshness")
    };
    let query = source.loaded_at_query.as_deref();
    let sql = match (query, &source.loaded_at_field) {
        (Some(q), _) => session.compiler.call_macro(
            &node,
            "collect_freshness_custom_sql",
            &[
                ("source", Value::from_object(relation)),
                ("loaded_at_query", Value::from(q)),
            ],
            Default::default(),
        )?,
        (None, Some(field)) => session.compiler.call_macro(
            &node,
            "collect_freshness",
            &[
                ("source", Value::from_object(relation)),
                ("loaded_at_field", Value::from(field.as_str())),
                ("filter", Value::from(criteria.filter.clone())),
            ],
            Default::default(),
        )?,
        (None, None) => {
            return Err(Error::Adapter(format!(
                "could not compute freshness for source {}.{}: no loaded_at_field (and {} \
                 has no table metadata to read it from)",
                source.source_name,
                source.name,
                session.adapter.adapter_type()
            )))
        }
    };
    let result = session.adapter.execute(sql.trim(), true).await?;
    let row = result
        .table
        .and_then(|t| t.rows.into_iter().next())
        .unwrap_or_default();
    let instant = |i: usize| -> Option<DateTime<Utc>> {
        let secs = row.get(i)?.as_f64()?;
        DateTime::from_timestamp_micros((secs * 1e6).round() as i64)
    };
    Ok((instant(0), instant(1)))
}

/// From 0001-01-01 to 1970-01-01, in seconds (dbt's "never loaded" instant).
const SECONDS_FROM_YEAR_ONE_TO_1970: f64 = 62_135_596_800.0;

/// target/sources.json in dbt's shape (schema v3).
pub fn sources_json(session: &Session, results: &[Freshness], elapsed: f64) -> Json {
    let iso = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false))
    };
    // As dbt: sources that could not be read are reported on the console, not here.
    let rows: Vec<Json> = results
        .iter()
        .filter(|r| r.status != FreshnessStatus::RuntimeError)
        .map(|r| {
            let c = &r.criteria;
            let unset = json!({"count": null, "period": null});
            let criteria = json!({
                "warn_after": c.warn_after.as_ref().map(Threshold::json).unwrap_or(unset.clone()),
                "error_after": c.error_after.as_ref().map(Threshold::json).unwrap_or(unset),
                "filter": c.filter,
            });
            // dbt writes an empty table's load time as the first instant there is, and its
            // age from there.
            let max = iso(r.max_loaded_at).unwrap_or_else(|| "0001-01-01T00:00:00+00:00".into());
            let age = r.age_seconds.or_else(|| {
                r.snapshotted_at
                    .map(|s| s.timestamp_micros() as f64 / 1e6 + SECONDS_FROM_YEAR_ONE_TO_1970)
            });
            json!({"unique_id": r.unique_id, "max_loaded_at": max,
                   "snapshotted_at": iso(r.snapshotted_at),
                   "max_loaded_at_time_ago_in_s": age,
                   "status": r.status.as_str(), "criteria": criteria,
                   "adapter_response": {"_message": "OK"}, "timing": [],
                   "thread_id": "Thread-1", "execution_time": r.seconds})
        })
        .collect();
    json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/sources/v3.json",
            "dbt_version": "1.10.0",
            "strata_version": env!("CARGO_PKG_VERSION"),
            "generated_at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "invocation_id": session.invocation_id,
            "invocation_started_at": session.started.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "env": {},
        },
        "results": rows,
        "elapsed_time": elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_decide_as_dbt_does() {
        let c = Criteria {
            warn_after: Some(Threshold {
                count: 1,
                period: Period::Hour,
            }),
            error_after: Some(Threshold {
                count: 2,
                period: Period::Day,
            }),
            filter: None,
        };
        assert_eq!(c.status(3599.0), FreshnessStatus::Pass);
        assert_eq!(c.status(3601.0), FreshnessStatus::Warn);
        assert_eq!(c.status(2.0 * 86400.0 + 1.0), FreshnessStatus::Error);
        let warn_only = Criteria {
            error_after: None,
            ..c
        };
        assert_eq!(warn_only.status(1e9), FreshnessStatus::Warn);
    }
}
