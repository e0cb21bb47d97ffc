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
    /// On a terminal, a status line under the log shows what is running now.
    live: bool,
    /// Nodes running now, by their index in the run (for the status line).
    running: Mutex<std::collections::BTreeMap<usize, String>>,
    lock: Mutex<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Plain,
}

const WIDTH: usize = 80;

impl Printer {
    /// Of several errors that stop a command, print all but the first (and how many there
    /// were) and return the first, which the command ends with.
    pub fn first_error(&self, errors: Vec<crate::error::Error>) -> Option<crate::error::Error> {
        let n = errors.len();
        let mut iter = errors.into_iter();
        let first = iter.next()?;
        for e in iter {
            self.error("compile_error", &e.to_string());
        }
        if n > 1 {
            self.error(
                "compile_error",
                &format!("{n} nodes failed to compile; nothing was executed"),
            );
        }
        Some(first)
    }

    pub fn new(format: LogFormat) -> Self {
        let color = format == LogFormat::Text
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none();
        Printer {
            format,
            color,
            live: color,
            running: Mutex::new(Default::default()),
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
        if self.live {
            // Clear the status line, print the log line, draw the status line again.
            let _ = write!(out, "\r\x1b[2K{line}\n{}", self.status_line());
        } else {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }

    fn status_line(&self) -> String {
        let running = match self.running.lock() {
            Ok(r) => r,
            Err(_) => return String::new(),
        };
        if running.is_empty() {
            return String::new();
        }
        let names: Vec<&str> = running.values().map(String::as_str).collect();
        let mut text = format!("running {}: {}", names.len(), names.join(", "));
        if text.chars().count() > WIDTH + 20 {
            text = text.chars().take(WIDTH + 17).collect::<String>() + "...";
        }
        self.paint(&text, Tone::Warn)
    }

    fn set_running(&self, index: usize, name: Option<&str>) {
        if let Ok(mut r) = self.running.lock() {
            match name {
                Some(n) => {
                    r.insert(index, n.to_string());
                }
                None => {
                    r.remove(&index);
                }
            }
        }
    }

    fn stamp() -> String {
        chrono::Local::now().format("%H:%M:%S").to_string()
    }

    /// One log line: the time and `text` (painted `tone`) for people, or a JSON object with
    /// `level` and `event` for schedulers.
    fn line(&self, level: &str, event: &str, msg: &str, text: &str, tone: Tone) -> String {
        match self.format {
            LogFormat::Text => format!("{}  {}", Self::stamp(), self.paint(text, tone)),
            LogFormat::Json => json!({"ts": chrono::Utc::now().to_rfc3339(), "level": level, "event": event, "msg": msg})
                .to_string(),
        }
    }

    /// A plain informational line (`event` names it in JSON).
    pub fn info(&self, event: &str, msg: &str) {
        self.emit(&self.line("info", event, msg, msg, Tone::Plain));
    }

    /// Something the user should fix that does not stop the command (dbt's `[WARNING]`).
    /// On standard error, so `strata ls --output json | jq` reads only the listing.
    pub fn warn(&self, event: &str, msg: &str) {
        let line = self.line("warn", event, msg, &format!("[WARNING]: {msg}"), Tone::Warn);
        let _guard = self.lock.lock();
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// An informational line on standard error (what `ls` says besides its listing).
    pub fn note(&self, event: &str, msg: &str) {
        let line = self.line("info", event, msg, msg, Tone::Plain);
        let _guard = self.lock.lock();
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    pub fn error(&self, event: &str, msg: &str) {
        self.emit(&self.line("error", event, msg, msg, Tone::Bad));
    }

    /// `3 of 12 START sql table model main.orders ..... [RUN]`
    pub fn node_started(&self, index: usize, total: usize, unique_id: &str, description: &str) {
        let short = unique_id.rsplit('.').next().unwrap_or(unique_id);
        let short = if unique_id.starts_with("test.") {
            // Generic test ids end in a hash; show the name before it.
            unique_id.split('.').nth(2).unwrap_or(short)
        } else {
            short
        };
        self.set_running(index, Some(short));
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
        self.set_running(index, None);
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
