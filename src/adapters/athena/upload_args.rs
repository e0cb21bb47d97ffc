//! dbt-athena's `seed_s3_upload_args` (the profile's, or a seed's over it): boto3's
//! `ExtraArgs` of the seed file's upload, e.g. `ServerSideEncryption: aws:kms` and
//! `SSEKMSKeyId` where a bucket policy requires them, or an `ACL` for another account.

use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::types::{ObjectCannedAcl, RequestPayer, ServerSideEncryption, StorageClass};
use serde_json::{Map, Value};

use crate::adapters::keys::athena::check_upload_args;

/// One enum value, checked against the SDK's list (an unknown one would be sent as is).
fn known<T: From<&'static str>>(
    key: &str,
    value: &str,
    values: &[&'static str],
) -> Result<T, String> {
    values
        .iter()
        .find(|v| **v == value)
        .map(|v| T::from(v))
        .ok_or_else(|| {
            format!(
                "seed_s3_upload_args: `{key}: {value}` is not one of {}",
                values.join(", ")
            )
        })
}

/// The upload with `args` applied.
pub fn apply(
    mut put: PutObjectFluentBuilder,
    args: &Map<String, Value>,
) -> Result<PutObjectFluentBuilder, String> {
    check_upload_args(&Value::Object(args.clone()))?;
    for (key, value) in args {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ if key == "Metadata" => String::new(),
            other => {
                return Err(format!(
                    "seed_s3_upload_args: `{key}` takes one value, not {other}"
                ))
            }
        };
        put =
            match key.as_str() {
                "ACL" => put.acl(known::<ObjectCannedAcl>(
                    key,
                    &text,
                    ObjectCannedAcl::values(),
                )?),
                "BucketKeyEnabled" => put.bucket_key_enabled(text.eq_ignore_ascii_case("true")),
                "CacheControl" => put.cache_control(text),
                "ContentDisposition" => put.content_disposition(text),
                "ContentEncoding" => put.content_encoding(text),
                "ContentLanguage" => put.content_language(text),
                "ContentType" => put.content_type(text),
                "ExpectedBucketOwner" => put.expected_bucket_owner(text),
                "GrantFullControl" => put.grant_full_control(text),
                "GrantRead" => put.grant_read(text),
                "GrantReadACP" => put.grant_read_acp(text),
                "GrantWriteACP" => put.grant_write_acp(text),
                "Metadata" => {
                    let Value::Object(entries) = value else {
                        return Err(format!(
                            "seed_s3_upload_args: `Metadata` maps names to values, not {value}"
                        ));
                    };
                    entries.iter().fold(put, |put, (k, v)| {
                        put.metadata(k, v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    })
                }
                "RequestPayer" => {
                    put.request_payer(known::<RequestPayer>(key, &text, RequestPayer::values())?)
                }
                "SSECustomerAlgorithm" => put.sse_customer_algorithm(text),
                "SSECustomerKey" => put.sse_customer_key(text),
                "SSEKMSEncryptionContext" => put.ssekms_encryption_context(text),
                "SSEKMSKeyId" => put.ssekms_key_id(text),
                "ServerSideEncryption" => put.server_side_encryption(
                    known::<ServerSideEncryption>(key, &text, ServerSideEncryption::values())?,
                ),
                "StorageClass" => {
                    put.storage_class(known::<StorageClass>(key, &text, StorageClass::values())?)
                }
                "Tagging" => put.tagging(text),
                "WebsiteRedirectLocation" => put.website_redirect_location(text),
                _ => put,
            };
    }
    Ok(put)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_arguments_and_values_are_named() {
        assert!(
            check_upload_args(&json!({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "k"}))
                .is_ok()
        );
        let err = check_upload_args(&json!({"ServerSideEncription": "aws:kms"})).unwrap_err();
        assert!(
            err.contains("`ServerSideEncription` is not an S3 upload argument"),
            "{err}"
        );
        assert!(check_upload_args(&json!(["ACL"])).is_err());
        let err =
            known::<StorageClass>("StorageClass", "COLD", StorageClass::values()).unwrap_err();
        assert!(err.contains("`StorageClass: COLD` is not one of"), "{err}");
    }
}
