//! S3 for the Athena adapter: locations split into bucket and key, keys deleted in batches,
//! errors with the SDK's whole chain.

use crate::error::{Error, Result};

/// Delete `keys` (at most 1,000: one DeleteObjects call) from `bucket`; a key S3 could not
/// delete is an error naming it.
pub(super) async fn delete_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    keys: &[&str],
) -> Result<()> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let objects = keys
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::engine(format!("deleting from s3://{bucket}: {e}"), e))?;
    let delete = Delete::builder()
        .set_objects(Some(objects))
        .quiet(true)
        .build()
        .map_err(|e| Error::engine(format!("deleting from s3://{bucket}: {e}"), e))?;
    let out = s3
        .delete_objects()
        .bucket(bucket)
        .delete(delete)
        .send()
        .await
        .map_err(|e| s3_error(&format!("deleting from s3://{bucket}"), e))?;
    match out.errors().first() {
        Some(err) => Err(Error::Adapter(format!(
            "deleting s3://{bucket}/{} failed: {}",
            err.key().unwrap_or_default(),
            err.message().unwrap_or_default()
        ))),
        None => Ok(()),
    }
}

/// An object's bytes, or None when there is no such object.
pub(super) async fn get_object(s3: &aws_sdk_s3::Client, uri: &str) -> Result<Option<Vec<u8>>> {
    let (bucket, key) = split_s3(uri)?;
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| Error::engine(format!("reading {uri}: {e}"), e))?;
            Ok(Some(bytes.into_bytes().to_vec()))
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => Err(s3_error(&format!("reading {uri}"), e)),
    }
}

/// Write an object, replacing it.
pub(super) async fn put_object(s3: &aws_sdk_s3::Client, uri: &str, bytes: Vec<u8>) -> Result<()> {
    let (bucket, key) = split_s3(uri)?;
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(bytes.into())
        .send()
        .await
        .map_err(|e| s3_error(&format!("writing {uri}"), e))?;
    Ok(())
}

/// An S3 call's failure, with the SDK's whole error chain.
pub(super) fn s3_error<E>(what: &str, e: aws_sdk_s3::error::SdkError<E>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    Error::engine(
        format!(
            "{what} failed: {}",
            aws_sdk_s3::error::DisplayErrorContext(&e)
        ),
        e,
    )
}

/// `s3://bucket/key` -> (bucket, key).
pub(super) fn split_s3(uri: &str) -> Result<(&str, &str)> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| Error::Adapter(format!("not an s3:// location: {uri}")))?;
    Ok(rest.split_once('/').unwrap_or((rest, "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_uris_split_into_bucket_and_key() {
        assert_eq!(split_s3("s3://b/k/x").ok(), Some(("b", "k/x")));
        assert_eq!(split_s3("s3://b").ok(), Some(("b", "")));
        assert!(split_s3("/tmp/x").is_err());
    }
}
