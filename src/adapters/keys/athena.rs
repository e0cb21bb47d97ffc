//! dbt-athena's model, seed and snapshot config keys (dbt-athena 1.11: `AthenaConfig` and
//! every `config.get` of its macros), with what Strata's Athena adapter makes of each.

use serde_json::Value;

use super::{EngineKeys, Verdict};

/// What the athena target makes of dbt-athena's keys.
pub const KEYS: EngineKeys = EngineKeys {
    engine: "athena",
    dbt_adapter: "dbt-athena",
    keys: ATHENA_KEYS,
    source_keys: &[],
    value_check,
    unset_on_tables: &[(
        "table_type",
        "dbt-athena builds them as Hive tables, Strata as Iceberg tables; set \
         `+table_type: iceberg` (or `hive`, as dbt-athena) in the project file to say which",
    )],
};

const NO_PYTHON: Verdict = Verdict::Refused("Strata runs SQL models only, no Python models");

const ATHENA_KEYS: &[(&str, Verdict)] = &[
    // honoured
    ("table_type", Verdict::Honoured),
    ("partitioned_by", Verdict::Honoured),
    ("format", Verdict::Honoured),
    ("write_compression", Verdict::Honoured),
    ("table_properties", Verdict::Honoured),
    ("max_bytes_scanned", Verdict::Honoured),
    // Glue table and column comments (athena/glue_docs.rs)
    ("persist_docs", Verdict::Honoured),
    // where a table's data lands (athena__table_location)
    ("external_location", Verdict::Honoured),
    ("s3_data_dir", Verdict::Honoured),
    ("s3_data_naming", Verdict::Honoured),
    ("s3_tmp_table_dir", Verdict::Honoured),
    // the schema of an incremental run's new rows (materialize/incremental.rs)
    ("temp_schema", Verdict::Honoured),
    // S3 arguments of the seed file's upload (athena/upload_args.rs)
    ("seed_s3_upload_args", Verdict::Honoured),
    // partition batching (materialize/partition.rs)
    ("partitions_limit", Verdict::Honoured),
    ("force_batch", Verdict::Honoured),
    // Lake Formation tags (athena/lake_formation.rs)
    ("lf_tags_config", Verdict::Honoured),
    ("lf_grants", Verdict::Honoured),
    // the merge strategy, as dbt-athena writes it (athena/macros/merge.sql)
    ("incremental_predicates", Verdict::Honoured),
    ("update_condition", Verdict::Honoured),
    ("insert_condition", Verdict::Honoured),
    ("delete_condition", Verdict::Honoured),
    ("merge_update_columns", Verdict::Honoured),
    ("merge_exclude_columns", Verdict::Honoured),
    ("merge_update_columns_default_rule", Verdict::Honoured),
    ("merge_update_columns_rules", Verdict::Honoured),
    // Hive tables (table_type: hive; athena/hive.rs, materialize/hive.rs): bucketing and
    // the delimiter go into a Hive CTAS (an Iceberg one leaves them out, as dbt-athena does);
    // `ha: true` refuses a location that is not the table's own per build, as dbt-athena
    // does (a Hive table with one is always built aside and swapped in).
    ("ha", Verdict::Honoured),
    ("bucketed_by", Verdict::Honoured),
    ("bucket_count", Verdict::Honoured),
    ("field_delimiter", Verdict::Honoured),
    // changing nothing, or read by dbt-athena and never used
    (
        "native_drop",
        Verdict::NoEffect("Strata always drops Iceberg tables and views with SQL DROP"),
    ),
    (
        "versions_to_keep",
        Verdict::NoEffect("Strata does not expire Glue table versions"),
    ),
    (
        "lf_inherited_tags",
        Verdict::NoEffect("dbt-athena reads it and never uses it (see lf_tags_config)"),
    ),
    (
        "file_format",
        Verdict::NoEffect("dbt-athena reads it and never uses it (see format)"),
    ),
    (
        "work_group",
        Verdict::NoEffect("the work group is the profile's (dbt-athena reads it there only)"),
    ),
    (
        "s3_staging_dir",
        Verdict::NoEffect("the staging dir is the profile's (dbt-athena reads it there only)"),
    ),
    (
        "skip_workgroup_check",
        Verdict::NoEffect("Strata does not check the work group before a run"),
    ),
    (
        "seed_by_insert",
        Verdict::NoEffect("seeds are uploaded to S3 as Parquet and loaded with one CTAS"),
    ),
    (
        "unique_tmp_table_suffix",
        Verdict::NoEffect("temporary tables are named after the run already"),
    ),
    (
        "grants",
        Verdict::NoEffect("Athena has no SQL grants (dbt-athena applies none either)"),
    ),
    // refused: where data lands, who may read it, what a merge writes
    (
        "catalog_name",
        Verdict::Refused("catalog integrations (catalogs.yml) are not supported"),
    ),
    // Python models (Spark on Athena)
    ("timeout", NO_PYTHON),
    ("polling_interval", NO_PYTHON),
    ("engine_config", NO_PYTHON),
    ("spark_encryption", NO_PYTHON),
    ("spark_cross_account_catalog", NO_PYTHON),
    ("spark_requester_pays", NO_PYTHON),
];

fn value_check(key: &str, value: &Value) -> Option<Verdict> {
    match key {
        "seed_s3_upload_args" => check_upload_args(value)
            .is_err()
            .then_some(Verdict::Invalid(
                "it maps S3 upload arguments (ACL, ServerSideEncryption, SSEKMSKeyId, \
                 StorageClass, Tagging, Metadata, ...) to values",
            )),
        "s3_data_naming" => {
            let known = value.as_str().is_some_and(|n| S3_DATA_NAMINGS.contains(&n));
            (!known).then_some(Verdict::Invalid(
                "it is one of unique, table, table_unique, schema_table, schema_table_unique",
            ))
        }
        "table_type" => {
            let known = value.as_str().is_some_and(|t| {
                t.eq_ignore_ascii_case("iceberg") || t.eq_ignore_ascii_case("hive")
            });
            (!known).then_some(Verdict::Invalid(
                "it is `iceberg` (an Iceberg table) or `hive` (a Hive table, dbt-athena's \
                 default)",
            ))
        }
        _ => None,
    }
}

/// dbt-athena's `s3_data_naming`: the layouts of a table's data folder under its root.
pub const S3_DATA_NAMINGS: &[&str] = &[
    "unique",
    "table",
    "table_unique",
    "schema_table",
    "schema_table_unique",
];

/// The boto3 upload arguments a seed upload takes (boto3's ALLOWED_UPLOAD_ARGS that PutObject
/// has).
pub const UPLOAD_ARGUMENTS: &[&str] = &[
    "ACL",
    "BucketKeyEnabled",
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "ContentType",
    "ExpectedBucketOwner",
    "GrantFullControl",
    "GrantRead",
    "GrantReadACP",
    "GrantWriteACP",
    "Metadata",
    "RequestPayer",
    "SSECustomerAlgorithm",
    "SSECustomerKey",
    "SSEKMSEncryptionContext",
    "SSEKMSKeyId",
    "ServerSideEncryption",
    "StorageClass",
    "Tagging",
    "WebsiteRedirectLocation",
];

/// Is `value` a map of known upload arguments (`seed_s3_upload_args`)?
pub fn check_upload_args(value: &Value) -> Result<(), String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "seed_s3_upload_args maps upload arguments to values, not {value}"
        ));
    };
    for key in map.keys() {
        if !UPLOAD_ARGUMENTS.contains(&key.as_str()) {
            return Err(format!(
                "seed_s3_upload_args: `{key}` is not an S3 upload argument (one of {})",
                UPLOAD_ARGUMENTS.join(", ")
            ));
        }
    }
    Ok(())
}
