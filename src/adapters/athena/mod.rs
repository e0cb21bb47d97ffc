//! Amazon Athena (Trino SQL) over Iceberg tables, and Hive tables where a model says
//! `table_type: hive`, in the Glue Data Catalog, on the official AWS SDK crates. Queries go
//! through [`query::QueryRunner`], relations and columns come from Glue ([`catalog`]), Hive
//! tables are dropped and swapped through Glue and S3 ([`hive`]), seeds are uploaded to S3
//! and read through an external table.
//!
//! The SDK clients are built on first use, so `compile` and `ls` need no credentials.

mod catalog;
mod glue_docs;
mod hive;
mod lake_formation;
mod lake_formation_grants;
mod lock;
mod query;
mod retry;
mod s3;
mod seeds;
pub(crate) mod settings;
mod upload_args;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use tokio::sync::OnceCell;

pub use settings::AthenaSettings;

use super::{Adapter, ColumnInfo, ExecResult, HiveTable, SeedFile, WriteLock, COMMON_MACROS};
use crate::adapters::quote_literal;
use crate::compile::{Dialect, Quoting, Relation, RelationKind, StringColumns};
use crate::error::{Error, Result};
use crate::project::{Config, Target};
use s3::{delete_keys, s3_error, split_s3};

const ATHENA_MACROS: &[(&str, &str)] = &[
    ("adapter.sql", include_str!("macros/adapter.sql")),
    ("cross_db.sql", include_str!("macros/cross_db.sql")),
    ("rights.sql", include_str!("macros/rights.sql")),
    ("merge.sql", include_str!("macros/merge.sql")),
];

/// Athena writes at most this many partitions in one CTAS or INSERT statement.
pub const MAX_PARTITIONS_PER_WRITE: usize = 100;

/// Double quotes, as Trino wants; the default catalog is left out of rendered names so the
/// same text works in DDL (Hive) and DML (Trino) statements.
pub struct AthenaQuoting;

impl Quoting for AthenaQuoting {
    fn quote(&self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }

    fn render_relation(&self, database: Option<&str>, schema: &str, identifier: &str) -> String {
        match database {
            Some(db) if !db.eq_ignore_ascii_case("awsdatacatalog") => format!(
                "{}.{}.{}",
                self.quote(db),
                self.quote(schema),
                self.quote(identifier)
            ),
            _ => format!("{}.{}", self.quote(schema), self.quote(identifier)),
        }
    }
}

struct Clients {
    queries: query::QueryRunner,
    glue: catalog::Glue,
    s3: aws_sdk_s3::Client,
    lake_formation: aws_sdk_lakeformation::Client,
    sts: aws_sdk_sts::Client,
}

pub struct AthenaAdapter {
    settings: AthenaSettings,
    clients: OnceCell<Clients>,
    /// The account of the target's Glue catalog, asked of STS once per run.
    catalog_account: OnceCell<String>,
}

impl AthenaAdapter {
    pub fn open(target: &Target) -> Result<Self> {
        Ok(AthenaAdapter {
            settings: AthenaSettings::from_target(target)?,
            clients: OnceCell::new(),
            catalog_account: OnceCell::new(),
        })
    }

    async fn clients(&self) -> Result<&Clients> {
        self.clients
            .get_or_try_init(|| async {
                let s = &self.settings;
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(s.region.clone()));
                if let Some(p) = &s.aws_profile_name {
                    loader = loader.profile_name(p);
                }
                if let Some(ep) = &s.endpoint_url {
                    loader = loader.endpoint_url(ep);
                }
                if let Some(keys) = &s.static_keys {
                    loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                        keys.access_key_id.clone(),
                        keys.secret_access_key.clone(),
                        keys.session_token.clone(),
                        None,
                        "profiles.yml",
                    ));
                }
                let mut config = loader.load().await;
                if let Some(role) = &s.assume_role {
                    let mut builder = aws_config::sts::AssumeRoleProvider::builder(&role.arn)
                        .session_name(&role.session_name)
                        .session_length(role.duration)
                        .configure(&config);
                    if let Some(id) = &role.external_id {
                        builder = builder.external_id(id);
                    }
                    let provider = builder.build().await;
                    config = config
                        .into_builder()
                        .credentials_provider(
                            aws_credential_types::provider::SharedCredentialsProvider::new(
                                provider,
                            ),
                        )
                        .build();
                }
                // Query calls are retried by the runner (it knows which failures are
                // throttling); the catalog and S3 calls by the SDK's standard mode.
                let athena = aws_sdk_athena::config::Builder::from(&config)
                    .retry_config(RetryConfig::disabled())
                    .build();
                let standard = RetryConfig::standard().with_max_attempts(s.num_retries + 1);
                let glue = aws_sdk_glue::config::Builder::from(&config)
                    .retry_config(standard.clone())
                    .build();
                let lake_formation = aws_sdk_lakeformation::config::Builder::from(&config)
                    .retry_config(standard.clone())
                    .build();
                let s3 = aws_sdk_s3::config::Builder::from(&config)
                    .retry_config(standard)
                    // Emulators serve buckets by path, not by virtual host.
                    .force_path_style(s.endpoint_url.is_some())
                    .build();
                let athena_client = aws_sdk_athena::Client::from_conf(athena);
                let catalog_id = catalog::catalog_id(&athena_client, &s.catalog).await?;
                Ok::<_, Error>(Clients {
                    queries: query::QueryRunner::new(athena_client, s.clone()),
                    glue: catalog::Glue {
                        client: aws_sdk_glue::Client::from_conf(glue),
                        catalog_id,
                    },
                    s3: aws_sdk_s3::Client::from_conf(s3),
                    lake_formation: aws_sdk_lakeformation::Client::from_conf(lake_formation),
                    sts: aws_sdk_sts::Client::new(&config),
                })
            })
            .await
    }

    /// The account of the target's Glue catalog: its catalog id, or for the account's own
    /// catalog the caller's account (STS GetCallerIdentity), as dbt-athena finds it.
    async fn catalog_account(&self, clients: &Clients) -> Result<String> {
        if let Some(id) = &clients.glue.catalog_id {
            return Ok(id.clone());
        }
        let account = self
            .catalog_account
            .get_or_try_init(|| async {
                let who = clients
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| {
                        Error::engine(
                            format!(
                                "STS GetCallerIdentity failed: {}",
                                aws_sdk_sts::error::DisplayErrorContext(&e)
                            ),
                            e,
                        )
                    })?;
                who.account()
                    .map(str::to_string)
                    .ok_or_else(|| Error::Adapter("STS GetCallerIdentity named no account".into()))
            })
            .await?;
        Ok(account.clone())
    }

    /// The Glue database of a relation (its schema).
    fn database_of<'a>(&self, relation: &'a Relation) -> &'a str {
        &relation.schema
    }
}

#[async_trait]
impl Adapter for AthenaAdapter {
    /// dbt-athena's names: `double` for decimals, `string` for text.
    fn seed_column_type(&self, column: crate::adapters::seed_types::SeedColumn) -> &'static str {
        use crate::adapters::seed_types::SeedColumn;
        match column {
            SeedColumn::Number { decimals: false } => "integer",
            SeedColumn::Number { decimals: true } => "double",
            SeedColumn::Date => "date",
            SeedColumn::DateTime => "timestamp",
            SeedColumn::Boolean => "boolean",
            SeedColumn::Text => "string",
        }
    }

    fn adapter_type(&self) -> &str {
        "athena"
    }

    fn dialect(&self) -> Dialect {
        let builtin_macros = COMMON_MACROS
            .iter()
            .chain(ATHENA_MACROS)
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
        Dialect {
            adapter_type: "athena".into(),
            quoting: Arc::new(AthenaQuoting),
            builtin_macros,
            reads_external_locations: false,
            // dbt-athena's AthenaColumn: an unsized string is plain `varchar`.
            string_columns: StringColumns {
                default_size: 0,
                type_of_size: |n| match n {
                    0 => "varchar".to_string(),
                    n => format!("varchar({n})"),
                },
                labels: &[("STRING", "VARCHAR"), ("TEXT", "VARCHAR")],
            },
            // dbt-athena's relation: the column cast to timestamp, Trino timestamp literals.
            event_time_filter: |field, start, end| {
                format!(
                    "cast({field} as timestamp) >= timestamp '{start}' and \
                     cast({field} as timestamp) < timestamp '{end}'"
                )
            },
        }
    }

    fn sql_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect + Send + Sync> {
        Box::new(sqlparser::dialect::GenericDialect {})
    }

    /// Trino's `ARRAY(T)` type, which sqlparser reads only as `ARRAY<T>`: the SQL is checked
    /// again with it so written. Other refusals stand (Athena cannot parse without running).
    fn parses(&self, sql: &str) -> Option<std::result::Result<(), String>> {
        let rewritten = crate::sql::trino::angle_bracket_arrays(sql)?;
        Some(
            crate::sql::check(&sqlparser::dialect::GenericDialect {}, &rewritten)
                .map_err(|f| f.message),
        )
    }

    async fn execute(&self, sql: &str, fetch: bool) -> Result<ExecResult> {
        self.clients().await?.queries.run(sql, &[], fetch).await
    }

    /// Athena has no transactions: run in order, stop at the first failure.
    async fn execute_atomic(&self, statements: &[String]) -> Result<ExecResult> {
        let c = self.clients().await?;
        let mut total = ExecResult::default();
        for s in statements {
            total.absorb(&c.queries.run(s, &[], false).await?);
        }
        Ok(total)
    }

    /// What `execute_atomic` ran before a failure stays done.
    fn atomic_units_roll_back(&self) -> bool {
        false
    }

    /// ExecutionParameters are SQL literals, not values: each parameter is quoted here, by
    /// this one function, so no value is ever read as SQL.
    async fn execute_with_params(
        &self,
        sql: &str,
        params: &[String],
        fetch: bool,
    ) -> Result<ExecResult> {
        let literals: Vec<String> = params.iter().map(|p| quote_literal(p)).collect();
        let c = self.clients().await?;
        // Athena takes at most 1,024 characters per ExecutionParameter: a longer value (an
        // error reason, a list of export files) goes into the text, quoted by the same function.
        if literals
            .iter()
            .any(|l| l.chars().count() > MAX_PARAMETER_CHARS)
        {
            let text = inline_parameters(sql, &literals)?;
            return c.queries.run(&text, &[], fetch).await;
        }
        c.queries.run(sql, &literals, fetch).await
    }

    async fn list_schemas(&self, _database: &str) -> Result<Vec<String>> {
        catalog::list_databases(&self.clients().await?.glue).await
    }

    async fn list_relations(
        &self,
        _database: &str,
        schema: &str,
    ) -> Result<Vec<(String, RelationKind)>> {
        Ok(catalog::list_relations(&self.clients().await?.glue, schema)
            .await?
            .0)
    }

    /// Iceberg tables only: a Hive table's files can change with no trace in Glue, so
    /// Strata cannot tell its data is the same (it is rebuilt, and as a source it counts as
    /// changed).
    fn reuses_builds(&self) -> bool {
        true
    }

    async fn list_relations_versioned(
        &self,
        _database: &str,
        schema: &str,
    ) -> Result<(
        Vec<(String, RelationKind)>,
        Option<std::collections::HashMap<String, String>>,
    )> {
        let (relations, versions) =
            catalog::list_relations(&self.clients().await?.glue, schema).await?;
        Ok((relations, Some(versions)))
    }

    async fn data_version(&self, relation: &Relation) -> Result<Option<String>> {
        let glue = &self.clients().await?.glue;
        catalog::data_version(glue, self.database_of(relation), &relation.identifier).await
    }

    /// Next to the data, per target schema: `<s3_data_dir>/strata_state/<schema>/build_state.json`.
    fn build_state_object(&self) -> Option<String> {
        Some(format!(
            "{}/strata_state/{}/build_state.json",
            self.settings.s3_data_dir.trim_end_matches('/'),
            self.settings.schema
        ))
    }

    async fn read_object(&self, uri: &str) -> Result<Option<Vec<u8>>> {
        s3::get_object(&self.clients().await?.s3, uri).await
    }

    async fn write_object(&self, uri: &str, bytes: Vec<u8>) -> Result<()> {
        s3::put_object(&self.clients().await?.s3, uri, bytes).await
    }

    async fn catalog(
        &self,
        _database: &str,
        schemas: &[String],
    ) -> Result<Vec<super::CatalogRelation>> {
        let glue = &self.clients().await?.glue;
        let mut out = Vec::new();
        for schema in schemas {
            out.extend(catalog::describe_tables(glue, &schema.to_lowercase()).await?);
        }
        Ok(out)
    }

    async fn get_columns(&self, relation: &Relation) -> Result<Vec<ColumnInfo>> {
        catalog::get_columns(
            &self.clients().await?.glue,
            self.database_of(relation),
            &relation.identifier,
        )
        .await
    }

    async fn persist_docs(
        &self,
        relation: &Relation,
        docs: &crate::adapters::RelationDocs,
    ) -> Result<Vec<String>> {
        let glue = &self.clients().await?.glue;
        let (_, warnings) =
            glue_docs::persist_docs(glue, &relation.schema, &relation.identifier, docs).await?;
        Ok(warnings)
    }

    async fn create_schema(&self, _database: &str, schema: &str) -> Result<()> {
        let clients = self.clients().await?;
        if !catalog::create_database(&clients.glue, schema).await? {
            return Ok(());
        }
        // dbt-athena tags the databases it creates with the profile's lf_tags_database.
        lake_formation::tag_database(
            &clients.lake_formation,
            clients.glue.catalog_id.as_deref(),
            schema,
            &self.settings.lf_tags_database,
        )
        .await
    }

    /// dbt-athena's default: a partitioned model overwrites the partitions its new rows
    /// touch (`insert_overwrite`) rather than appending them again.
    fn default_incremental_strategy(
        &self,
        has_unique_key: bool,
        partitioned: bool,
    ) -> &'static str {
        match (partitioned, has_unique_key) {
            (true, _) => "insert_overwrite",
            (false, true) => "delete+insert",
            (false, false) => "append",
        }
    }

    /// dbt-athena's `lf_tags_config` then `lf_grants`, applied to the built relation.
    async fn lock_writes(&self, relations: &[Relation], purpose: &str) -> Result<WriteLock> {
        let clients = self.clients().await?;
        let names: Vec<(String, String)> = relations
            .iter()
            .map(|r| (r.schema.clone(), r.identifier.clone()))
            .collect();
        let held = lock::acquire(&clients.glue, &names, purpose).await?;
        Ok(WriteLock(Some(Box::new(held))))
    }

    async fn unlock_writes(&self, lock: WriteLock) {
        let Some(held) = lock.0.and_then(|b| b.downcast::<lock::HeldLocks>().ok()) else {
            return;
        };
        if let Ok(clients) = self.clients().await {
            lock::release(&clients.glue, *held).await;
        }
    }

    async fn after_build(&self, relation: &Relation, config: &Config) -> Result<()> {
        let tags = lake_formation::LfTagsConfig::of(config.get("lf_tags_config"))
            .map_err(Error::Adapter)?;
        if let Some(tags) = tags.filter(|t| t.enabled) {
            let clients = self.clients().await?;
            lake_formation::tag_table(
                &clients.lake_formation,
                clients.glue.catalog_id.as_deref(),
                &relation.schema,
                &relation.identifier,
                &tags,
            )
            .await?;
        }
        let grants = lake_formation_grants::LfGrantsConfig::of(config.get("lf_grants"))
            .map_err(Error::Adapter)?;
        if let Some(grants) = grants.filter(|g| g.data_cell_filters.enabled) {
            let clients = self.clients().await?;
            let catalog_id = self.catalog_account(clients).await?;
            let at = lake_formation_grants::FilterTable {
                catalog_id: &catalog_id,
                database: &relation.schema,
                table: &relation.identifier,
            };
            lake_formation_grants::apply(&clients.lake_formation, &at, &grants).await?;
        }
        Ok(())
    }

    async fn cancel_all(&self) {
        if let Some(c) = self.clients.get() {
            c.queries.cancel_all().await;
        }
    }

    async fn describe(&self) -> Result<String> {
        let s = &self.settings;
        Ok(format!(
            "athena: region {}, work group {}, {}.{}, data under {}{}",
            s.region,
            s.work_group.as_deref().unwrap_or("primary"),
            s.catalog,
            s.schema,
            s.s3_data_dir,
            s.endpoint_url
                .as_deref()
                .map(|e| format!(", endpoint {e}"))
                .unwrap_or_default()
        ))
    }

    fn engine_time(&self) -> std::time::Duration {
        self.clients
            .get()
            .map(|c| c.queries.engine_time())
            .unwrap_or_default()
    }

    async fn delete_files(&self, files: &[String]) -> Result<usize> {
        let s3 = &self.clients().await?.s3;
        let mut by_bucket: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for f in files {
            let (bucket, key) = split_s3(f)?;
            by_bucket.entry(bucket).or_default().push(key);
        }
        let mut deleted = 0;
        for (bucket, keys) in by_bucket {
            // DeleteObjects takes at most 1,000 keys.
            for chunk in keys.chunks(1000) {
                delete_keys(s3, bucket, chunk).await?;
                deleted += chunk.len();
            }
        }
        Ok(deleted)
    }

    /// Every object under the S3 prefix `location`, as s3:// URIs.
    async fn list_files(&self, location: &str) -> Result<Vec<String>> {
        let (bucket, prefix) = split_s3(location)?;
        let s3 = &self.clients().await?.s3;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| s3_error(&format!("listing {location}"), e))?;
            for o in page.contents() {
                if let Some(k) = o.key() {
                    out.push(format!("s3://{bucket}/{k}"));
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        out.sort();
        Ok(out)
    }

    fn writes_files_only_to_object_store(&self) -> bool {
        true
    }

    fn hive_table(&self, config: &Config) -> Result<Option<HiveTable>> {
        hive::plan(config, self.settings.s3_data_naming.as_deref())
    }

    /// Glue and S3 calls instead of a DROP TABLE waiting in Athena's queue (dbt-athena's
    /// default way to drop); the folder is the table's own (a uuid per build).
    async fn drop_built_table(&self, relation: &Relation, keep: Option<&Relation>) -> Result<bool> {
        let c = self.clients().await?;
        let keep = keep
            .filter(|k| k.schema.eq_ignore_ascii_case(&relation.schema))
            .map(|k| k.identifier.as_str());
        hive::drop_table_keeping(&c.glue, &c.s3, &relation.schema, &relation.identifier, keep)
            .await?;
        Ok(true)
    }

    async fn drop_hive_table(&self, relation: &Relation) -> Result<()> {
        let c = self.clients().await?;
        hive::drop_table(&c.glue, &c.s3, &relation.schema, &relation.identifier).await
    }

    async fn swap_hive_table(&self, target: &Relation, new: &Relation) -> Result<()> {
        let c = self.clients().await?;
        let (database, target) = (&target.schema, &target.identifier);
        hive::swap(&c.glue, &c.s3, database, target, &new.identifier).await
    }

    /// dbt-athena's `delete_overlapping_partitions`: one query for the partition values of
    /// the new rows, then those partitions' files and Glue entries deleted.
    async fn delete_hive_partitions_of(
        &self,
        target: &Relation,
        source: &Relation,
        partition_by: &[String],
    ) -> Result<ExecResult> {
        let q = AthenaQuoting;
        let columns: Vec<String> = partition_by.iter().map(|p| q.quote(p)).collect();
        let sql = format!("select distinct {} from {source}", columns.join(", "));
        let c = self.clients().await?;
        let mut response = c.queries.run(&sql, &[], true).await?;
        let table = response.table.take().unwrap_or_default();
        let mut conditions = Vec::new();
        for row in &table.rows {
            if let Some(c) = hive::partition_condition(partition_by, &table.column_types, row)? {
                conditions.push(c);
            }
        }
        let (database, name) = (&target.schema, &target.identifier);
        hive::delete_matching_partitions(&c.glue, &c.s3, database, name, &conditions).await?;
        response.rows_affected = None;
        Ok(response)
    }

    fn max_partitions_per_write(&self) -> Option<usize> {
        Some(MAX_PARTITIONS_PER_WRITE)
    }

    /// Convert the CSV to Parquet and upload it to `<s3_data_dir>/<schema>/<table>/seed/`.
    async fn stage_seed(
        &self,
        csv: &Path,
        relation: &Relation,
        column_types: &serde_json::Value,
        config: &Config,
    ) -> Result<SeedFile> {
        let path = csv.to_path_buf();
        let types = column_types.clone();
        let (body, columns) =
            tokio::task::spawn_blocking(move || seeds::seed_to_parquet(&path, &types))
                .await
                .map_err(|e| Error::Adapter(format!("seed conversion failed: {e}")))??;
        // One fixed folder per seed: each run overwrites the file instead of leaving a copy.
        let folder = format!(
            "{}/{}/{}/seed",
            self.settings.s3_data_dir.trim_end_matches('/'),
            relation.schema,
            relation.identifier,
        );
        let (bucket, prefix) = split_s3(&folder)?;
        let key = format!("{prefix}/{}.parquet", relation.identifier);
        let put = self
            .clients()
            .await?
            .s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .body(body.into());
        // dbt-athena's seed_s3_upload_args: the seed's, else the profile's.
        let args = match config.get("seed_s3_upload_args") {
            Some(serde_json::Value::Object(args)) => Some(args),
            _ => self.settings.seed_s3_upload_args.as_ref(),
        };
        let put = match args {
            Some(args) => upload_args::apply(put, args).map_err(Error::Adapter)?,
            None => put,
        };
        put.send().await.map_err(|e| {
            s3_error(
                &format!("uploading seed {} to s3://{bucket}/{key}", csv.display()),
                e,
            )
        })?;
        Ok(SeedFile {
            location: format!("{folder}/"),
            columns,
        })
    }
}

/// Athena's limit on the length of one ExecutionParameter.
const MAX_PARAMETER_CHARS: usize = 1024;

/// Replace each `?` placeholder of `sql` (outside string literals, quoted identifiers and
/// comments) by the next literal.
fn inline_parameters(sql: &str, literals: &[String]) -> Result<String> {
    let mut out =
        String::with_capacity(sql.len() + literals.iter().map(String::len).sum::<usize>());
    let mut next = literals.iter();
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '-') if chars.peek() == Some(&'-') => {
                // A line comment, to its end.
                out.push(c);
                for c in chars.by_ref() {
                    out.push(c);
                    if c == '\n' {
                        break;
                    }
                }
            }
            (None, '?') => out.push_str(next.next().ok_or_else(|| {
                Error::Adapter("more placeholders than parameters in a statement".into())
            })?),
            (None, c) => out.push(c),
        }
    }
    if next.next().is_some() {
        return Err(Error::Adapter(
            "more parameters than placeholders in a statement".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_quoted_once_and_completely() {
        assert_eq!(quote_literal("abc"), "'abc'");
        assert_eq!(quote_literal("x' OR '1'='1"), "'x'' OR ''1''=''1'");
        assert_eq!(quote_literal("é☃"), "'é☃'");
    }

    #[test]
    fn long_parameters_are_inlined_as_literals_outside_strings_and_comments() {
        let sql = "insert into t values (?, '?', \"a?\", ?) -- why?\n";
        let lits = vec![quote_literal("x' or 1=1"), quote_literal("y")];
        assert_eq!(
            inline_parameters(sql, &lits).ok().as_deref(),
            Some("insert into t values ('x'' or 1=1', '?', \"a?\", 'y') -- why?\n")
        );
        assert!(inline_parameters("select ?", &[]).is_err());
        assert!(inline_parameters("select 1", &lits).is_err());
    }

    #[test]
    fn the_default_catalog_is_not_rendered() {
        let q = AthenaQuoting;
        assert_eq!(
            q.render_relation(Some("awsdatacatalog"), "db", "t"),
            "\"db\".\"t\""
        );
        assert_eq!(
            q.render_relation(Some("other"), "db", "t"),
            "\"other\".\"db\".\"t\""
        );
    }
}
