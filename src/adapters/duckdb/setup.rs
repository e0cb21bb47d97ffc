//! The profile's DuckDB settings (dbt-duckdb's `config_options:`, `extensions:`, `settings:`
//! and `duckdb_threads`): read from the target, applied when the database opens and on each
//! new connection.

use std::sync::Arc;

use duckdb::Connection;

use crate::adapters::quote_literal;
use crate::error::{Error, Result};
use crate::project::Target;

/// dbt-duckdb's profile keys for DuckDB itself: `config_options:` (given when the database
/// opens: some settings DuckDB takes only then), `extensions:` (installed unless DuckDB has
/// them already, then loaded) and `settings:` (a `SET` each, after the extensions, as
/// dbt-duckdb does; the ones DuckDB keeps per connection again on every pooled connection).
#[derive(Debug, Clone, Default)]
pub(super) struct Setup {
    /// The profile file, for errors.
    pub(super) profile: std::path::PathBuf,
    /// `target 'dev'`, for errors.
    pub(super) target: String,
    pub(super) config_options: Vec<(String, String)>,
    /// (key, SQL literal).
    settings: Vec<(String, String)>,
    /// (name, repository as SQL: an alias such as `community` bare, a URL or path quoted).
    extensions: Vec<(String, Option<String>)>,
    /// The settings DuckDB would not take for the whole database, found while preparing the
    /// first connection (on the opening thread; shared with the adapter's copy).
    per_connection: Arc<std::sync::OnceLock<Vec<(String, String)>>>,
    /// The profile's `duckdb_threads`, set when the database opens.
    pub(super) threads: Option<u64>,
}

fn is_name(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// dbt-duckdb pastes `repo` into `INSTALL x FROM <repo>` as written: a bare alias
/// (`community`, `core_nightly`) or a quoted URL or path. Quotes written into the value are
/// taken as that quoting.
fn repo_sql(repo: &str) -> String {
    let bare = repo.trim().trim_matches(|c| c == '\'' || c == '"');
    if is_name(bare) {
        bare.to_string()
    } else {
        quote_literal(bare)
    }
}

impl Setup {
    pub(super) fn from_target(target: &Target) -> Result<Self> {
        let mut setup = Setup {
            profile: target
                .profiles_path
                .clone()
                .unwrap_or_else(|| "profiles.yml".into()),
            target: format!("target '{}'", target.name),
            threads: target
                .settings
                .get("duckdb_threads")
                .and_then(|v| v.as_u64()),
            ..Setup::default()
        };
        for (section, into_sql) in [("config_options", false), ("settings", true)] {
            let map = match target.settings.get(section) {
                None | Some(serde_json::Value::Null) => continue,
                Some(serde_json::Value::Object(map)) => map,
                Some(other) => {
                    return Err(setup.error(format!("`{section}:` must be a mapping, not {other}")))
                }
            };
            for (key, value) in map {
                if !is_name(key) {
                    return Err(setup.error(format!(
                        "`{section}:` key '{key}' is not a DuckDB setting name"
                    )));
                }
                let text = match value {
                    serde_json::Value::String(s) if into_sql => quote_literal(s),
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    other => {
                        return Err(setup.error(format!(
                            "`{section}: {key}` must be a string, number or boolean, not {other}"
                        )))
                    }
                };
                let list = if into_sql {
                    &mut setup.settings
                } else {
                    &mut setup.config_options
                };
                list.push((key.clone(), text));
            }
        }
        match target.settings.get("extensions") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Array(items)) => {
                for item in items {
                    let (name, repo) = match item {
                        serde_json::Value::String(name) => (name.as_str(), None),
                        serde_json::Value::Object(map) => (
                            map.get("name").and_then(|v| v.as_str()).unwrap_or_default(),
                            map.get("repo").and_then(|v| v.as_str()).map(repo_sql),
                        ),
                        _ => ("", None),
                    };
                    if !is_name(name) {
                        return Err(setup.error(format!(
                            "`extensions:` items are names (httpfs) or {{name, repo}} maps, not {item}"
                        )));
                    }
                    setup.extensions.push((name.to_string(), repo));
                }
            }
            Some(other) => {
                return Err(setup.error(format!("`extensions:` must be a list, not {other}")))
            }
        }
        Ok(setup)
    }

    fn error(&self, message: String) -> Error {
        Error::config(&self.profile, format!("{}: {message}", self.target))
    }

    /// The options DuckDB takes only when the database opens.
    pub(super) fn open_config(&self) -> Result<duckdb::Config> {
        let mut config = duckdb::Config::default();
        for (key, value) in &self.config_options {
            config = config
                .with(key, value)
                .map_err(|e| self.error(format!("`config_options: {key}`: {e}")))?;
        }
        Ok(config)
    }

    /// Extensions, then settings, on the database's first connection.
    pub(super) fn prepare(&self, conn: &Connection) -> Result<()> {
        for (name, repo) in &self.extensions {
            let fail = |e: duckdb::Error| self.error(format!("extension '{name}': {e}"));
            // INSTALL downloads even extensions built into the library: ask first. One
            // already loaded (built in) is used as it is; one only installed is installed
            // again from a `repo:` given, as dbt-duckdb does.
            let (installed, loaded): (bool, bool) = conn
                .query_row(
                    "select count(*) filter (where installed) > 0, count(*) filter (where loaded) > 0 \
                     from duckdb_extensions() where extension_name = ?",
                    [name],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .map_err(fail)?;
            let install = match repo {
                _ if loaded => None,
                Some(repo) => Some(format!("INSTALL {name} FROM {repo}")),
                None => (!installed).then(|| format!("INSTALL {name}")),
            };
            if let Some(install) = install {
                conn.execute(&install, []).map_err(fail)?;
            }
            conn.execute(&format!("LOAD {name}"), []).map_err(fail)?;
        }
        // Settings are set for the whole database where DuckDB allows it, so every later
        // connection starts with them; the ones it keeps per connection only (search_path,
        // enable_progress_bar, ...) are set again on each new connection. lock_configuration
        // goes last, or it would refuse the rest.
        let mut local = Vec::new();
        let (lock, settings): (Vec<_>, Vec<_>) = self
            .settings
            .iter()
            .partition(|(key, _)| key.eq_ignore_ascii_case("lock_configuration"));
        for (key, value) in settings.into_iter().chain(lock) {
            let refused = |e: duckdb::Error| self.error(format!("`settings: {key}`: {e}"));
            if conn
                .execute(&format!("SET GLOBAL {key} = {value}"), [])
                .is_err()
            {
                conn.execute(&format!("SET {key} = {value}"), [])
                    .map_err(refused)?;
                local.push((key.clone(), value.clone()));
            }
        }
        let _ = self.per_connection.set(local);
        Ok(())
    }

    /// Set the per-connection settings on a new connection.
    pub(super) fn prepare_connection(&self, conn: &Connection) -> Result<()> {
        for (key, value) in self.per_connection.get().into_iter().flatten() {
            conn.execute(&format!("SET {key} = {value}"), [])
                .map_err(|e| self.error(format!("`settings: {key}`: {e}")))?;
        }
        Ok(())
    }
}
