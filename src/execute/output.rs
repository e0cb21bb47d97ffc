//! What a run prints: dbt-like lines for people (coloured on a terminal), or one JSON object
//! per line for schedulers (`--log-format json`).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub struct Printer {
    format: LogFormat,
    color: bool,
    lock: Mutex<()>,
}

#[derive(Clone, Copy)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Plain,
}

const WIDTH: usize = 80;

impl Printer {
    pub fn new(format: LogFormat) -> Self {
        let color = format == LogFormat::Text
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none();
        Printer {
            format,
            color,
            lock: Mutex::new(()),
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == LogFormat::Json
    }

    fn paint(&self, text: &str, tone: Tone) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Bad => "31",
            Tone::Warn => "33",
            Tone::Plain => return text.to_string(),
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn emit(&self, line: &str) {
        let _guard = self.lock.lock();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn stamp() -> String {
        chrono::Local::now().format("%H:%M:%S").to_string()
    }

    /// A plain informational line (`event` names it in JSON).
    pub fn info(&self, event: &str, msg: &str) {
        match self.format {
            LogFormat::Text => self.emit(&format!("{}  {msg}", Self::stamp())),
            LogFormat::Json => self.emit(
                &json!({"ts": chrono::Utc::now().to_rfc3339(), "level": "info", "event": event, "msg": msg})
                    .to_string(),
            ),
        }
    }

    pub fn error(&self, event: &str, msg: &str) {
        match self.format {
            LogFormat::Text => self.emit(&format!("{}  {}", Self::stamp(), self.paint(msg, Tone::Bad))),
            LogFormat::Json => self.emit(
                &json!({"ts": chrono::Utc::now().to_rfc3339(), "level": "error", "event": event, "msg": msg})
                    .to_string(),
            ),
        }
    }

    /// `3 of 12 START sql table model main.orders ..... [RUN]`
    pub fn node_started(&self, index: usize, total: usize, unique_id: &str, description: &str) {
        match self.format {
            LogFormat::Text => {
                let left = format!("{index} of {total} START {description} ");
                self.emit(&format!("{}  {} [RUN]", Self::stamp(), dots(&left)));
            }
            LogFormat::Json => self.emit(
                &json!({"ts": chrono::Utc::now().to_rfc3339(), "level": "info", "event": "node_started",
                        "node": unique_id, "index": index, "total": total, "msg": description})
                .to_string(),
            ),
        }
    }

    /// `3 of 12 OK created sql table model main.orders ..... [OK in 0.12s]`
    #[allow(clippy::too_many_arguments)]
    pub fn node_finished(
        &self,
        index: usize,
        total: usize,
        unique_id: &str,
        status: &str,
        headline: &str,
        badge: &str,
        tone: Tone,
        seconds: f64,
        message: Option<&str>,
    ) {
        match self.format {
            LogFormat::Text => {
                let left = format!("{index} of {total} {headline} ");
                let badge = if status == "skipped" {
                    badge.to_string()
                } else {
                    format!("{badge} in {seconds:.2}s")
                };
                self.emit(&format!(
                    "{}  {} [{}]",
                    Self::stamp(),
                    dots(&left),
                    self.paint(&badge, tone)
                ));
            }
            LogFormat::Json => self.emit(
                &json!({"ts": chrono::Utc::now().to_rfc3339(),
                        "level": match tone { Tone::Bad => "error", Tone::Warn => "warn", _ => "info" },
                        "event": "node_finished", "node": unique_id, "index": index, "total": total,
                        "status": status, "execution_time": seconds, "msg": headline,
                        "message": message})
                .to_string(),
            ),
        }
    }
}

fn dots(left: &str) -> String {
    let n = WIDTH.saturating_sub(left.chars().count()).max(3);
    format!("{left}{}", ".".repeat(n))
}
