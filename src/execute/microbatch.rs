//! dbt's `microbatch` incremental strategy, the batches part: which event-time windows a run
//! of a model builds, computed as dbt-core's MicrobatchBuilder does (`batch_size` hour, day,
//! month or year; `begin` for a first run; `lookback` batches before now otherwise;
//! `--event-time-start` / `--event-time-end` when given), all in UTC.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

use crate::error::{Error, Result};
use crate::project::Node;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    Hour,
    Day,
    Month,
    Year,
}

impl BatchSize {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hour" => Some(BatchSize::Hour),
            "day" => Some(BatchSize::Day),
            "month" => Some(BatchSize::Month),
            "year" => Some(BatchSize::Year),
            _ => None,
        }
    }
}

/// One batch: `[start, end)`.
pub type Batch = (DateTime<Utc>, DateTime<Utc>);

/// The start of the hour, day, month or year `t` is in.
pub fn truncate(t: DateTime<Utc>, size: BatchSize) -> DateTime<Utc> {
    let (y, mo, d, h) = match size {
        BatchSize::Hour => (t.year(), t.month(), t.day(), t.hour()),
        BatchSize::Day => (t.year(), t.month(), t.day(), 0),
        BatchSize::Month => (t.year(), t.month(), 1, 0),
        BatchSize::Year => (t.year(), 1, 1, 0),
    };
    Utc.with_ymd_and_hms(y, mo, d, h, 0, 0)
        .single()
        .unwrap_or(t)
}

/// `t` truncated, moved by `offset` batches (dbt's offset_timestamp).
pub fn offset(t: DateTime<Utc>, size: BatchSize, offset: i32) -> DateTime<Utc> {
    let truncated = truncate(t, size);
    match size {
        BatchSize::Hour => truncated + Duration::hours(offset.into()),
        BatchSize::Day => truncated + Duration::days(offset.into()),
        BatchSize::Month => {
            let months = truncated.year() * 12 + truncated.month0() as i32 + offset;
            Utc.with_ymd_and_hms(
                months.div_euclid(12),
                months.rem_euclid(12) as u32 + 1,
                1,
                0,
                0,
                0,
            )
            .single()
            .unwrap_or(truncated)
        }
        BatchSize::Year => Utc
            .with_ymd_and_hms(truncated.year() + offset, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or(truncated),
    }
}

/// The smallest batch boundary at or after `t` (dbt's ceiling_timestamp).
pub fn ceiling(t: DateTime<Utc>, size: BatchSize) -> DateTime<Utc> {
    let truncated = truncate(t, size);
    if truncated == t {
        t
    } else {
        offset(truncated, size, 1)
    }
}

/// A time as dbt's click options and `begin` take it: a date, or a date and time with `T`
/// or a space (UTC).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A time as Python's `str()` writes an aware UTC datetime, which is how dbt puts a batch's
/// bounds into SQL: `2024-09-17 00:00:00+00:00`.
pub fn python_str(t: DateTime<Utc>) -> String {
    if t.nanosecond() == 0 {
        t.format("%Y-%m-%d %H:%M:%S+00:00").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()
    }
}

/// dbt's batch id (its start, formatted per batch size, without dashes).
pub fn batch_id(start: DateTime<Utc>, size: BatchSize) -> String {
    let format = match size {
        BatchSize::Year => "%Y",
        BatchSize::Month => "%Y%m",
        BatchSize::Day => "%Y%m%d",
        BatchSize::Hour => "%Y%m%dT%H",
    };
    start.format(format).to_string()
}

/// What a run of a microbatch model needs to know about it.
#[derive(Debug, Clone)]
pub struct Microbatch {
    pub size: BatchSize,
    pub begin: Option<DateTime<Utc>>,
    pub lookback: i32,
}

impl Microbatch {
    /// The node's microbatch settings, or None when it is not a microbatch model; a missing
    /// or bad setting is an error naming it (dbt's messages).
    pub fn of(node: &Node) -> Result<Option<Self>> {
        if node.config.str("incremental_strategy") != Some("microbatch") {
            return Ok(None);
        }
        let error = |message: String| Error::Config {
            path: node.original_file_path.clone(),
            position: None,
            message,
        };
        node.config.str("event_time").ok_or_else(|| {
            error(format!(
                "Microbatch model '{}' requires an 'event_time' config (the column of its \
                 rows' time)",
                node.name
            ))
        })?;
        let size = node
            .config
            .str("batch_size")
            .and_then(BatchSize::parse)
            .ok_or_else(|| {
                error(format!(
                    "Microbatch model '{}' does not have a 'batch_size' config (one of \
                     ['hour', 'day', 'month', 'year']) specified.",
                    node.name
                ))
            })?;
        let begin = match node.config.get("begin") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(v.as_str().and_then(parse_time).ok_or_else(|| {
                error(format!(
                    "Microbatch model '{}': begin {v} is not a date or time (YYYY-MM-DD, or \
                     YYYY-MM-DD HH:MM:SS)",
                    node.name
                ))
            })?),
        };
        let lookback = match node.config.get("lookback") {
            None | Some(serde_json::Value::Null) => 1,
            Some(v) => v
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    error(format!(
                        "Microbatch model '{}': lookback must be a whole number of batches, not {v}",
                        node.name
                    ))
                })?,
        };
        Ok(Some(Microbatch {
            size,
            begin,
            lookback,
        }))
    }

    /// The batches of this run (dbt's MicrobatchBuilder): `[start, end)` windows of one
    /// batch size from the start (`--event-time-start`, else `begin` on a first run, else
    /// `lookback` batches before the end) to the end (`--event-time-end`, else now), the
    /// last one cut at the end.
    pub fn batches(
        &self,
        node: &Node,
        incremental: bool,
        window: Option<(DateTime<Utc>, DateTime<Utc>)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Batch>> {
        let end = ceiling(window.map_or(now, |(_, end)| end), self.size);
        let start = match window {
            Some((start, _)) => truncate(start, self.size),
            None if !incremental => {
                let begin = self.begin.ok_or_else(|| Error::Config {
                    path: node.original_file_path.clone(),
                    position: None,
                    message: format!(
                        "Microbatch model '{}' requires a 'begin' configuration.",
                        node.name
                    ),
                })?;
                truncate(begin, self.size)
            }
            None => {
                // The end is a batch boundary, so one more batch back (dbt's rule).
                offset(end, self.size, -(self.lookback + 1))
            }
        };
        let mut batches = Vec::new();
        let mut batch_start = start;
        loop {
            let batch_end = offset(batch_start, self.size, 1);
            batches.push((batch_start, batch_end));
            if batch_end >= end {
                break;
            }
            batch_start = batch_end;
        }
        if let Some(last) = batches.last_mut() {
            last.1 = end;
        }
        Ok(batches)
    }
}

/// Build a microbatch model batch by batch, as dbt does: each batch compiled with its
/// inputs read for its window, the first one building the table when there is none yet,
/// the others replacing their window (the adapter's `get_incremental_microbatch_sql`). A
/// failed first batch stops the model; a later one fails alone and the others go on.
/// Returns what was built, the SQL of the last batch, and dbt's `batch_results`.
pub(super) async fn build_batches(
    state: &std::sync::Arc<super::RunState>,
    node: &Node,
    microbatch: &Microbatch,
) -> (
    Result<crate::materialize::Built>,
    String,
    Option<serde_json::Value>,
) {
    let s = &state.session;
    let target = s.compiler.relation_of(&node.relation_key());
    let incremental =
        super::prepare::is_incremental_now(node, target.as_ref(), &state.cache, state.full_refresh);
    let batches = match microbatch.batches(node, incremental, state.event_window, state.started) {
        Ok(b) => b,
        Err(e) => return (Err(e), String::new(), None),
    };
    let mut built = crate::materialize::Built::default();
    let mut failed: Vec<String> = Vec::new();
    // dbt's batch_results: each batch's bounds as Python's isoformat() writes them.
    let iso = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let mut succeeded_batches = Vec::new();
    let mut failed_batches = Vec::new();
    let mut last_sql = String::new();
    let total = batches.len();
    for (i, (start, end)) in batches.iter().enumerate() {
        let window = (python_str(*start), python_str(*end));
        let batch_incremental = incremental || i > 0;
        let label = format!(
            "{} batch {} of {total} ({} to {})",
            node.name,
            i + 1,
            batch_id(*start, microbatch.size),
            batch_id(*end, microbatch.size)
        );
        let result = build_one(state, node, window, batch_incremental).await;
        match result {
            Ok((one, sql)) => {
                s.printer.info("batch", &format!("{label}: OK"));
                succeeded_batches.push(serde_json::json!([iso(start), iso(end)]));
                built.response.absorb(&one.response);
                built.warnings.extend(one.warnings);
                last_sql = sql;
            }
            Err(e) => {
                s.printer.info("batch", &format!("{label}: ERROR {e}"));
                failed.push(format!("{} ({e})", batch_id(*start, microbatch.size)));
                failed_batches.push(serde_json::json!([iso(start), iso(end)]));
                // Nothing to go on with without the first batch's table.
                if i == 0 && !incremental {
                    let rest = batches
                        .iter()
                        .skip(1)
                        .map(|(s, e)| serde_json::json!([iso(s), iso(e)]));
                    failed_batches.extend(rest);
                    let results = serde_json::json!({
                        "successful": succeeded_batches, "failed": failed_batches});
                    return (Err(e), last_sql, Some(results));
                }
            }
        }
    }
    let results = Some(serde_json::json!({
        "successful": succeeded_batches, "failed": failed_batches}));
    if failed.is_empty() {
        (Ok(built), last_sql, results)
    } else {
        let done = total - failed.len();
        (
            Err(Error::Adapter(format!(
                "PARTIAL SUCCESS ({done}/{total}): batch(es) {} failed",
                failed.join(", ")
            ))),
            last_sql,
            results,
        )
    }
}

/// One batch: compiled with its window, checked, built.
async fn build_one(
    state: &std::sync::Arc<super::RunState>,
    node: &Node,
    window: (String, String),
    incremental: bool,
) -> Result<(crate::materialize::Built, String)> {
    let s = &state.session;
    let batch = window.clone();
    let sql = super::prepare::off_thread(state, node, move |st, node, handle| {
        let bridge = std::sync::Arc::new(crate::session::Bridge::new(
            st.session.adapter.clone(),
            handle,
        ));
        st.session.compiler.compile(
            &st.session.project,
            node,
            crate::compile::CompileOptions {
                is_incremental: incremental,
                warehouse: Some(bridge as std::sync::Arc<dyn crate::compile::Warehouse>),
                event_window: Some(batch),
                ..Default::default()
            },
        )
    })
    .await?;
    let digest = crate::memo::digest(sql.as_bytes());
    let _ = super::prepare::write_compiled(&s.project, node, &sql, &digest);
    super::prepare::check_sql(&s.project, s.adapter.as_ref(), node, &sql, &digest)?;
    let m = crate::materialize::Materializer {
        batch: Some(window),
        ..state.materializer()
    };
    let built = m.build(node, &sql).await?;
    Ok((built, sql))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        parse_time(text).expect("a time")
    }

    #[test]
    fn offsets_and_ceilings_are_dbts() {
        // dbt-core's docstring examples.
        let at = t("2024-09-17 16:06:00");
        assert_eq!(offset(at, BatchSize::Hour, -1), t("2024-09-17 15:00:00"));
        assert_eq!(offset(at, BatchSize::Hour, 1), t("2024-09-17 17:00:00"));
        assert_eq!(offset(at, BatchSize::Day, -1), t("2024-09-16"));
        assert_eq!(offset(at, BatchSize::Day, 1), t("2024-09-18"));
        assert_eq!(offset(at, BatchSize::Month, -1), t("2024-08-01"));
        assert_eq!(offset(at, BatchSize::Month, 1), t("2024-10-01"));
        assert_eq!(
            offset(t("2024-01-05"), BatchSize::Month, -1),
            t("2023-12-01")
        );
        assert_eq!(offset(at, BatchSize::Year, -1), t("2023-01-01"));
        assert_eq!(offset(at, BatchSize::Year, 1), t("2025-01-01"));
        assert_eq!(ceiling(at, BatchSize::Hour), t("2024-09-17 17:00:00"));
        assert_eq!(
            ceiling(t("2024-09-17 16:00:00"), BatchSize::Hour),
            t("2024-09-17 16:00:00")
        );
        assert_eq!(ceiling(at, BatchSize::Day), t("2024-09-18"));
        assert_eq!(ceiling(t("2024-09-01"), BatchSize::Month), t("2024-09-01"));
        assert_eq!(ceiling(at, BatchSize::Year), t("2025-01-01"));
        assert_eq!(python_str(t("2024-09-16")), "2024-09-16 00:00:00+00:00");
        assert_eq!(batch_id(at, BatchSize::Hour), "20240917T16");
        assert_eq!(batch_id(at, BatchSize::Day), "20240917");
    }

    #[test]
    fn batches_run_from_begin_then_lookback_or_the_given_window() {
        let mut node = Node::synthetic("p", "daily");
        node.config.set("incremental_strategy", "microbatch".into());
        node.config.set("event_time", "at".into());
        node.config.set("batch_size", "day".into());
        node.config.set("begin", "2024-09-15".into());
        let mb = Microbatch::of(&node)
            .expect("settings")
            .expect("microbatch");
        let now = t("2024-09-17 16:06:00");
        let days = |b: Vec<Batch>| -> Vec<(String, String)> {
            b.into_iter()
                .map(|(s, e)| (python_str(s), python_str(e)))
                .collect()
        };
        // First run: from begin to the end of today.
        assert_eq!(
            days(mb.batches(&node, false, None, now).expect("batches")),
            [
                (
                    "2024-09-15 00:00:00+00:00".into(),
                    "2024-09-16 00:00:00+00:00".into()
                ),
                (
                    "2024-09-16 00:00:00+00:00".into(),
                    "2024-09-17 00:00:00+00:00".into()
                ),
                (
                    "2024-09-17 00:00:00+00:00".into(),
                    "2024-09-18 00:00:00+00:00".into()
                ),
            ]
        );
        // Incremental: lookback 1 -> yesterday and today.
        assert_eq!(
            mb.batches(&node, true, None, now).expect("batches").len(),
            2
        );
        // A window: its days, the last cut at its end.
        let window = (t("2024-09-01 12:00:00"), t("2024-09-03"));
        let given = mb.batches(&node, true, Some(window), now).expect("batches");
        assert_eq!(given.len(), 2);
        assert_eq!(given[0].0, t("2024-09-01"));
        assert_eq!(given[1].1, t("2024-09-03"));
    }
}
