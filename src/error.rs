//! One error type for the whole runner. Each variant carries what a person needs to find
//! the problem: a file, a line and a column where there is one.

mod yaml_key;

use std::path::{Path, PathBuf};

pub use yaml_key::YamlStep;

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

    /// A setting or property that is wrong; `position` is the line and column of the
    /// offending key when it was found in the file (see `at_yaml_key`).
    #[error("{}: {message}", place(.path, .position))]
    Config {
        path: PathBuf,
        position: Option<(usize, usize)>,
        message: String,
    },

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
            position: None,
            message: message.into(),
        }
    }

    /// A config error pointed at the key `steps` leads to in `text`, the YAML of its file:
    /// printed as `path:line:column: message`. Without a line where the key is not found
    /// (flow style, a value that came from elsewhere), or for other errors, or when an
    /// earlier call already found one (so a list of candidate paths can be tried in order).
    pub fn at_yaml_key(self, text: &str, steps: &[YamlStep]) -> Self {
        match self {
            Error::Config {
                path,
                position: None,
                message,
            } => Error::Config {
                position: yaml_key::find(text, steps),
                path,
                message,
            },
            other => other,
        }
    }

    /// A template error in the string value `steps` leads to in `text`, the YAML of its
    /// file: its line counted in the file (the value's line plus the line within it).
    pub fn in_yaml_value(self, text: &str, steps: &[YamlStep]) -> Self {
        match self {
            Error::Template {
                path,
                line,
                message,
                detail,
            } => Error::Template {
                line: yaml_key::find(text, steps).map_or(line, |(l, _)| l + line.saturating_sub(1)),
                path,
                message,
                detail,
            },
            other => other,
        }
    }

    /// `at_yaml_key` on the text of `file`, read now: errors are rare, and the settings
    /// were parsed long before, so the text is not kept for them. A file that cannot be
    /// read leaves the error as it is.
    pub fn at_yaml_key_of_file(self, file: &Path, steps: &[YamlStep]) -> Self {
        match (&self, std::fs::read_to_string(file)) {
            (Error::Config { position: None, .. }, Ok(text)) => self.at_yaml_key(&text, steps),
            _ => self,
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

/// `path` or `path:line:column`, the head of a config error.
fn place(path: &Path, position: &Option<(usize, usize)>) -> String {
    match position {
        Some((line, column)) => format!("{}:{line}:{column}", path.display()),
        None => path.display().to_string(),
    }
}

/// The known name most like `name` (Jaro-Winkler similarity at least `threshold`), for a
/// "did you mean" hint after a misspelling.
pub fn closest<'a>(
    known: impl IntoIterator<Item = &'a str>,
    name: &str,
    threshold: f64,
) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(k, name), k))
        .filter(|(score, _)| *score >= threshold)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
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
    fn config_errors_name_the_line_of_the_key_where_it_is_found() {
        let text = "name: ''\nrights:\n  subject_id_pattern: '['\n";
        let plain = Error::config("project.yml", "`name` must not be empty");
        assert_eq!(plain.to_string(), "project.yml: `name` must not be empty");
        let e = Error::config("project.yml", "rights.subject_id_pattern: bad").at_yaml_key(
            text,
            &[YamlStep::Key("rights"), YamlStep::Key("subject_id_pattern")],
        );
        assert_eq!(
            e.to_string(),
            "project.yml:3:3: rights.subject_id_pattern: bad"
        );
        // The first path found wins; a path not there leaves the error without a line.
        let e = Error::config("project.yml", "m")
            .at_yaml_key(text, &[YamlStep::Key("missing")])
            .at_yaml_key(text, &[YamlStep::Key("name")])
            .at_yaml_key(text, &[YamlStep::Key("rights")]);
        assert_eq!(e.to_string(), "project.yml:1:1: m");
        let e = Error::config("project.yml", "m").at_yaml_key(text, &[YamlStep::Key("missing")]);
        assert_eq!(e.to_string(), "project.yml: m");
        let e = Error::config("no/such/file.yml", "m")
            .at_yaml_key_of_file(Path::new("no/such/file.yml"), &[YamlStep::Key("name")]);
        assert_eq!(e.to_string(), "no/such/file.yml: m");
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
