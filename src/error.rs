//! One error type for the whole runner. Each variant carries what a person needs to find
//! the problem: a file, a line and a column where there is one.

use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A place in a source file, 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{location}: invalid YAML: {message}")]
    Yaml { location: Location, message: String },

    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },

    /// A template error; `detail` holds minijinja's excerpt of the template around the line.
    #[error("{path}:{line}: template error: {message}{detail}")]
    Template {
        path: PathBuf,
        line: usize,
        message: String,
        detail: String,
    },

    #[error("{location}: {message}")]
    Reference { location: Location, message: String },

    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),

    #[error("{location}: compiled SQL does not parse ({dialect} dialect): {message}")]
    SqlParse {
        location: Location,
        dialect: String,
        message: String,
    },

    #[error("invalid selector '{selector}': {message}")]
    Selector { selector: String, message: String },

    /// Strata's own message about running a statement or a procedure (a missing relation,
    /// a refused rewrite, a query the engine reported as failed without an error value):
    /// nothing underneath to keep.
    #[error("{0}")]
    Adapter(String),

    /// A failure an engine or its SDK returned (DuckDB, Athena, Glue, S3): `message` is
    /// what is printed (the engine's own words included, as the adapter phrased it);
    /// `source` keeps the engine's error for whoever walks the chain.
    #[error("{message}")]
    Engine {
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("{0}")]
    Usage(String),

    /// A Kafka client failure (`strata rights consume` / `submit`): the client's error where
    /// there is one (`source`), else what went wrong (a delivery that was cancelled).
    #[error("kafka: {message}")]
    Kafka {
        message: String,
        #[source]
        source: Option<rdkafka::error::KafkaError>,
    },

    /// Strata's own failure (a worker task that panicked, a broken invariant): not the
    /// project's fault, and worth a bug report.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub fn config(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Config {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }

    /// An engine's or SDK's error, printed as `message`, kept as the source.
    pub fn engine(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Engine {
            message: message.into(),
            source: Box::new(source),
        }
    }

    /// The same error with the message of a run-time failure rewritten by `annotate` (say,
    /// the node's compiled SQL added); an engine error keeps its source. Other errors are
    /// returned as they are: they already say where they come from.
    pub fn map_runtime_message(self, annotate: impl FnOnce(String) -> String) -> Self {
        match self {
            Error::Adapter(message) => Error::Adapter(annotate(message)),
            Error::Engine { message, source } => Error::Engine {
                message: annotate(message),
                source,
            },
            other => other,
        }
    }

    /// Wrap an error of the Kafka client.
    pub fn kafka(source: rdkafka::error::KafkaError) -> Self {
        Error::Kafka {
            message: source.to_string(),
            source: Some(source),
        }
    }

    /// A Kafka failure the client reports no error for.
    pub fn kafka_message(message: impl Into<String>) -> Self {
        Error::Kafka {
            message: message.into(),
            source: None,
        }
    }

    /// Wrap a YAML error with the file it came from (serde_yaml_ng reports line and column).
    pub fn yaml(path: impl AsRef<Path>, err: &serde_yaml_ng::Error) -> Self {
        let (line, column) = err
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        // The library's message ends with " at line L column C"; the location says that already.
        let message = err.to_string();
        let message = match message.find(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        Error::Yaml {
            location: Location {
                path: path.as_ref().to_path_buf(),
                line,
                column,
            },
            message,
        }
    }

    /// Wrap a minijinja error, keeping its line and its excerpt of the template.
    pub fn template(path: impl AsRef<Path>, err: &minijinja::Error) -> Self {
        let mut message = match err.detail() {
            Some(d) => format!("{}: {}", err.kind(), d),
            None => err.kind().to_string(),
        };
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            message.push_str(&format!(": {s}"));
            source = s.source();
        }
        let detail = if err.template_source().is_some() {
            format!("\n{}", err.display_debug_info())
        } else {
            String::new()
        };
        // Inside a macro (templates named `file#macro`), point at the macro's file and line,
        // and say where it was called from.
        let (path, message) = match err.name().and_then(|n| n.split_once('#')) {
            Some((file, name)) => (
                PathBuf::from(file),
                format!(
                    "{message} (in macro {name}, called from {})",
                    path.as_ref().display()
                ),
            ),
            None => (path.as_ref().to_path_buf(), message),
        };
        Error::Template {
            path,
            line: err.line().unwrap_or(1),
            message,
            detail,
        }
    }
}

/// 1-based line and column of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    // An offset inside a multi-byte character counts from the character's start.
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    // Columns count characters, as editors do.
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let text = "ab\ncd\nef";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (2, 2));
        assert_eq!(line_col(text, 6), (3, 1));
    }

    #[test]
    fn line_col_counts_characters_and_never_splits_one() {
        let text = "select 'пользователи', x";
        // After the closing quote: 21 characters in, though 31 bytes.
        let offset = text.find(',').unwrap();
        assert_eq!(line_col(text, offset), (1, 22));
        // An offset inside the two-byte 'п' counts from its start instead of panicking.
        assert_eq!(line_col(text, 9), (1, 9));
    }

    #[test]
    fn kafka_errors_read_as_before_and_keep_their_source() {
        let e = Error::kafka(rdkafka::error::KafkaError::Canceled);
        assert_eq!(
            e.to_string(),
            format!("kafka: {}", rdkafka::error::KafkaError::Canceled)
        );
        assert!(std::error::Error::source(&e).is_some());
        let e = Error::kafka_message("delivery was cancelled");
        assert_eq!(e.to_string(), "kafka: delivery was cancelled");
    }

    #[test]
    fn engine_errors_print_their_message_and_keep_the_engine_error_as_source() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let duck = conn
            .execute_batch("select * from no_such_table")
            .unwrap_err();
        let words = duck.to_string();
        let e = Error::engine(words.clone(), duck);
        assert_eq!(e.to_string(), words);
        let source = std::error::Error::source(&e).expect("the engine error is kept");
        assert!(source.downcast_ref::<duckdb::Error>().is_some());
        assert_eq!(source.to_string(), words);

        // Annotating the message (a node's compiled SQL) keeps the source.
        let e = e.map_runtime_message(|m| format!("{m}\n  compiled SQL: x.sql"));
        assert_eq!(e.to_string(), format!("{words}\n  compiled SQL: x.sql"));
        let source = std::error::Error::source(&e).expect("still kept");
        assert!(source.downcast_ref::<duckdb::Error>().is_some());

        // Strata's own messages have nothing underneath.
        let own = Error::Adapter("no relation for model.p.m".into());
        assert!(std::error::Error::source(&own).is_none());
        let own = own.map_runtime_message(|m| format!("maintaining x: {m}"));
        assert_eq!(own.to_string(), "maintaining x: no relation for model.p.m");
    }
}
