//! Targets from `profiles.yml` (dbt's format, `env_var()` rendered), or the engines' default
//! when the project has no profile. What an engine makes of an output (its database and
//! schema) comes from the caller as [`TargetRules`]: projects load before adapters exist.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result, YamlStep};

/// Where and how models are materialized.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    /// `duckdb` or `athena`.
    pub adapter_type: String,
    pub database: String,
    pub schema: String,
    pub threads: Option<usize>,
    /// Every key of the output, for adapter-specific settings (path, region, work_group ...).
    pub settings: Map<String, Value>,
    /// The profiles.yml the target came from, if any.
    pub profiles_path: Option<PathBuf>,
}

impl Target {
    pub fn setting_str(&self, key: &str) -> Option<&str> {
        self.settings.get(key).and_then(Value::as_str)
    }
}

/// What the engines know about targets, given to [`resolve_target`] by the caller (the
/// adapters provide it; the project names no engine).
pub struct TargetRules {
    /// The target of a project without a profile: (project name, target path) -> target.
    pub default_target: fn(&str, &str) -> Target,
    /// The (database, schema) of a profile output, or the message saying what it lacks.
    pub database_and_schema: fn(&TargetOutput) -> std::result::Result<(String, String), String>,
    /// Every key of the target honoured, or refused (the error), or warned about (the
    /// warnings returned: keys that change nothing on that engine).
    pub check_settings: fn(&Target) -> crate::error::Result<Vec<String>>,
}

/// A profile output being resolved into a [`Target`].
pub struct TargetOutput<'a> {
    /// The output's name (`dev`, `prod` ...).
    pub name: &'a str,
    /// Its `type:`.
    pub adapter_type: &'a str,
    /// Every key of the output.
    pub settings: &'a Map<String, Value>,
    pub project_name: &'a str,
}

/// The profiles.yml search order: `--profiles-dir`, `$STRATA_PROFILES_DIR`,
/// `$DBT_PROFILES_DIR`, the project folder, `~/.dbt`.
pub fn find_profiles(project_dir: &Path, profiles_dir: Option<&Path>) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = profiles_dir {
        dirs.push(d.to_path_buf());
    }
    for var in ["STRATA_PROFILES_DIR", "DBT_PROFILES_DIR"] {
        if let Some(d) = std::env::var_os(var) {
            dirs.push(PathBuf::from(d));
        }
    }
    dirs.push(project_dir.to_path_buf());
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".dbt"));
    }
    dirs.into_iter()
        .map(|d| d.join("profiles.yml"))
        .find(|p| p.is_file())
}

/// Resolve the target: the named profile's `target:` (or `--target`) output, else DuckDB.
/// `profile` is (name, whether `--profile` named it): a profile the project file names but
/// profiles.yml lacks means the embedded default; one named on the command line must exist.
pub fn resolve_target(
    project_name: &str,
    profile: Option<(&str, bool)>,
    target_path: &str,
    profiles_file: Option<&Path>,
    target_override: Option<&str>,
    render: &dyn Fn(&Path, &str) -> Result<String>,
    rules: &TargetRules,
) -> Result<Target> {
    let default_or_error = || default_or_error(project_name, target_path, target_override, rules);
    let (profile, required) = match profile {
        Some((name, required)) => (Some(name), required),
        None => (None, false),
    };
    let (Some(path), Some(profile)) = (profiles_file, profile) else {
        if let (Some(profile), true) = (profile, required) {
            return Err(Error::Usage(format!(
                "--profile {profile}: no profiles.yml found (looked in --profiles-dir, \
                 $STRATA_PROFILES_DIR, $DBT_PROFILES_DIR, the project folder and ~/.dbt)"
            )));
        }
        return default_or_error();
    };
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let doc: Map<String, Value> =
        serde_yaml_ng::from_str(&text).map_err(|e| Error::yaml(path, &e))?;
    let Some(entry) = doc.get(profile) else {
        if required {
            let known: Vec<&str> = doc.keys().map(String::as_str).collect();
            return Err(Error::config(
                path,
                format!(
                    "--profile {profile}: no such profile (profiles: {})",
                    known.join(", ")
                ),
            ));
        }
        return default_or_error();
    };
    // As dbt: the YAML parsed first, then the chosen profile's string values rendered.
    let entry = crate::yaml_render::render_strings(
        entry,
        &crate::yaml_render::Rendering {
            file: path,
            text: &text,
            under: &[profile],
            render,
            skip: &|_| false,
            native: true,
        },
    )?;
    let entry = &entry;
    let outputs = entry
        .get("outputs")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            Error::config(path, format!("profile '{profile}' has no `outputs:`"))
                .at_yaml_key(&text, &[YamlStep::Key(profile)])
        })?;
    let name = match target_override {
        Some(t) => t.to_string(),
        None => entry
            .get("target")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| outputs.keys().next().cloned())
            .ok_or_else(|| {
                Error::config(path, format!("profile '{profile}' has no target"))
                    .at_yaml_key(&text, &[YamlStep::Key(profile)])
            })?,
    };
    let output = outputs
        .get(&name)
        .and_then(Value::as_object)
        .ok_or_else(|| {
            let known: Vec<&str> = outputs.keys().map(String::as_str).collect();
            Error::config(
                path,
                format!(
                    "profile '{profile}' has no target '{name}' (targets: {})",
                    known.join(", ")
                ),
            )
            .at_yaml_key(&text, &[YamlStep::Key(profile), YamlStep::Key("outputs")])
        })?;
    let adapter_type = output
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::config(path, format!("target '{name}' has no `type:`")).at_yaml_key(
                &text,
                &[
                    YamlStep::Key(profile),
                    YamlStep::Key("outputs"),
                    YamlStep::Key(&name),
                ],
            )
        })?
        .to_string();
    let threads = output
        .get("threads")
        .and_then(Value::as_u64)
        .map(|t| t as usize);
    let (database, schema) = (rules.database_and_schema)(&TargetOutput {
        name: &name,
        adapter_type: &adapter_type,
        settings: output,
        project_name,
    })
    .map_err(|message| {
        // What an output lacks is a key of its own entry.
        Error::config(path, message).at_yaml_key(
            &text,
            &[
                YamlStep::Key(profile),
                YamlStep::Key("outputs"),
                YamlStep::Key(&name),
            ],
        )
    })?;
    Ok(Target {
        name,
        adapter_type,
        database,
        schema,
        threads,
        settings: output.clone(),
        profiles_path: Some(path.to_path_buf()),
    })
}

fn default_or_error(
    project_name: &str,
    target_path: &str,
    target_override: Option<&str>,
    rules: &TargetRules,
) -> Result<Target> {
    match target_override {
        Some(t) if t != "dev" => Err(Error::Usage(format!(
            "--target {t}: no profiles.yml defines it (without a profile the only target is \
             the embedded DuckDB default, 'dev')"
        ))),
        _ => Ok((rules.default_target)(project_name, target_path)),
    }
}
