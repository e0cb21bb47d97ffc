//! Strata's MSK IAM tokens (SASL/OAUTHBEARER for the rights consumer) against the ones AWS's
//! own signer library makes (`aws-msk-iam-sasl-signer-python`, installed beside moto by
//! scripts/moto-server.sh): same credentials, same instant, same signed URL. No MSK cluster
//! can run here, so this is how the token is verified; the SASL_SSL connection itself is not.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use base64::Engine;

const SIGNER: &str = r#"
import sys, datetime, importlib
from unittest import mock
import botocore.auth
from botocore.credentials import Credentials
signer = importlib.import_module("aws_msk_iam_sasl_signer.MSKAuthTokenProvider")
region, key, secret, token, epoch = sys.argv[1:6]
fixed = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: fixed.replace(tzinfo=None)):
    construct = getattr(signer, "__construct_auth_token")
    tok, expiry_ms = construct(region, Credentials(key, secret, token or None))
print(tok)
print(expiry_ms)
"#;

fn python() -> String {
    std::env::var("STRATA_TEST_AWS_PYTHON").unwrap_or_else(|_| {
        panic!("STRATA_TEST_AWS_PYTHON is not set: run scripts/test.sh, or `eval $(scripts/moto-server.sh start)` first")
    })
}

/// The signed URL's query parameters, decoded, without the User-Agent (each library names
/// itself there).
fn params(token: &str) -> (String, BTreeMap<String, String>) {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .expect("base64url token");
    let url = String::from_utf8(bytes).expect("utf-8 url");
    let (base, query) = url.split_once('?').expect("query");
    let map = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k != "User-Agent")
        .map(|(k, v)| {
            (
                k.to_string(),
                v.replace("%2F", "/")
                    .replace("%3A", ":")
                    .replace("%2B", "+")
                    .replace("%3D", "="),
            )
        })
        .collect();
    (base.to_string(), map)
}

fn compare(region: &str, session_token: Option<&str>) {
    let epoch = 1_763_800_000u64;
    let out = Command::new(python())
        .args([
            "-c",
            SIGNER,
            region,
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session_token.unwrap_or(""),
            &epoch.to_string(),
        ])
        .output()
        .expect("run the Python signer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let theirs = lines.next().expect("token").to_string();
    let their_expiry: i64 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("expiry");

    let creds = Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token.map(str::to_string),
        None,
        "test",
    );
    let (ours, our_expiry) = strata::rights::msk::auth_token(
        region,
        &creds,
        SystemTime::UNIX_EPOCH + Duration::from_secs(epoch),
    )
    .expect("token");
    let (their_base, their_params) = params(&theirs);
    let (our_base, our_params) = params(&ours);
    assert_eq!(our_base, their_base);
    assert_eq!(our_params, their_params, "the signed parameters differ");
    assert!(our_params.contains_key("X-Amz-Signature"));
    assert_eq!(our_expiry, their_expiry);
}

#[test]
fn tokens_match_the_aws_msk_iam_signer() {
    compare("eu-west-1", None);
}

#[test]
fn tokens_with_a_session_token_match_the_aws_msk_iam_signer() {
    compare(
        "us-east-1",
        Some("FwoGZXIvYXdzEJr//////////wEaDOPQ+example/token="),
    );
}
