//! Targets from `profiles.yml` (dbt's format, `env_var()` rendered), or the embedded DuckDB
//! default when the project has no profile.

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
    /// DuckDB in `<target-path>/<project>.duckdb`, schema `main`.
    pub fn default_duckdb(project_name: &str, target_path: &str) -> Self {
        let path = format!("{target_path}/{project_name}.duckdb");
        let mut settings = Map::new();
        settings.insert("type".into(), Value::from("duckdb"));
        settings.insert("path".into(), Value::from(path));
        Target {
            name: "dev".into(),
            adapter_type: "duckdb".into(),
            database: project_name.into(),
            schema: "main".into(),
            threads: None,
            settings,
            profiles_path: None,
        }
    }

    pub fn setting_str(&self, key: &str) -> Option<&str> {
        self.settings.get(key).and_then(Value::as_str)
    }
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
pub fn resolve_target(
    project_name: &str,
    profile: Option<&str>,
    target_path: &str,
    profiles_file: Option<&Path>,
    target_override: Option<&str>,
    render: &dyn Fn(&Path, &str) -> Result<String>,
) -> Result<Target> {
    let (Some(path), Some(profile)) = (profiles_file, profile) else {
        return default_or_error(project_name, target_path, target_override);
    };
    let raw = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let text = render(path, &raw)?;
    let doc: Map<String, Value> =
        serde_yaml_ng::from_str(&text).map_err(|e| Error::yaml(path, &e))?;
    let Some(entry) = doc.get(profile) else {
        return default_or_error(project_name, target_path, target_override);
    };
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
    let (database, schema) = match adapter_type.as_str() {
        "duckdb" => {
            let db_path = output
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or(":memory:");
            let stem = if db_path == ":memory:" {
                "memory".to_string()
            } else {
                Path::new(db_path)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| project_name.to_string())
            };
            let schema = output
                .get("schema")
                .and_then(Value::as_str)
                .unwrap_or("main");
            (stem, schema.to_string())
        }
        _ => {
            let database = output
                .get("database")
                .or_else(|| output.get("catalog"))
                .and_then(Value::as_str)
                .unwrap_or("awsdatacatalog")
                .to_string();
            let schema = output
                .get("schema")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    Error::config(path, format!("target '{name}' has no `schema:`")).at_yaml_key(
                        &text,
                        &[
                            YamlStep::Key(profile),
                            YamlStep::Key("outputs"),
                            YamlStep::Key(&name),
                        ],
                    )
                })?
                .to_string();
            (database, schema)
        }
    };
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
) -> Result<Target> {
    match target_override {
        Some(t) if t != "dev" => Err(Error::Usage(format!(
            "--target {t}: no profiles.yml defines it (without a profile the only target is \
             the embedded DuckDB default, 'dev')"
        ))),
        _ => Ok(Target::default_duckdb(project_name, target_path)),
    }
}
