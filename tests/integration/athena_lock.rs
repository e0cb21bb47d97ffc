//! Write locks between builds and erasures on Athena (src/adapters/athena/lock.rs), against
//! the emulator's Glue: a build of a relation with personal data waits while another process
//! holds its lock, takes over a lock whose holder died, and an erasure holds the locks of
//! every declared relation around its statements.

use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::athena::{athena_rights_project, AWS_ENV};
use crate::common::aws;

fn glue(region: &str, target: &str, body: serde_json::Value) -> serde_json::Value {
    aws::aws_json(&aws::moto_endpoint(), region, "glue", target, &body)
}

/// Register the lock of `table` in `database`, held by someone else until `expires_at`.
fn hold_lock(region: &str, database: &str, table: &str, expires_at: i64) {
    let _ = aws::http(
        "POST",
        &format!("{}/", aws::moto_endpoint()),
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "AWSGlue.CreateDatabase"),
            (
                "Authorization",
                &format!("AWS4-HMAC-SHA256 Credential=test/20260101/{region}/glue/aws4_request, SignedHeaders=host, Signature=0"),
            ),
        ],
        json!({"DatabaseInput": {"Name": database}}).to_string().as_bytes(),
    );
    glue(
        region,
        "AWSGlue.CreateTable",
        json!({"DatabaseName": database, "TableInput": {
            "Name": format!("strata_lock__{table}"),
            "Parameters": {
                "strata_lock_owner": "other-host:4242:abc",
                "strata_lock_purpose": "erasure of 3 requests by the rights engine",
                "strata_lock_expires_at": expires_at.to_string(),
            }
        }}),
    );
}

fn lock_exists(region: &str, database: &str, table: &str) -> bool {
    let (status, _) = aws::http(
        "POST",
        &format!("{}/", aws::moto_endpoint()),
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "AWSGlue.GetTable"),
            (
                "Authorization",
                &format!("AWS4-HMAC-SHA256 Credential=test/20260101/{region}/glue/aws4_request, SignedHeaders=host, Signature=0"),
            ),
        ],
        json!({"DatabaseName": database, "Name": format!("strata_lock__{table}")})
            .to_string()
            .as_bytes(),
    );
    status == 200
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// While an erasure holds the lock of `events`, a build of `events` computes nothing; once
/// the lock is released it builds, under a lock of its own that it releases after.
#[test]
fn a_build_of_a_declared_relation_waits_for_its_write_lock() {
    let region = "ap-south-1";
    let (p, proxy, schema, _) = athena_rights_project(region);
    hold_lock(region, &schema, "events", now() + 600);
    let mut child = p
        .command(&["run", "--select", "events"], AWS_ENV)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn strata");
    std::thread::sleep(Duration::from_secs(4));
    let building = |q: &String| q.contains("create table") && q.contains("events");
    assert!(
        child.try_wait().ok().flatten().is_none(),
        "the build waited for the lock"
    );
    assert!(
        !proxy.started_queries().iter().any(building),
        "nothing of events was computed while the lock was held: {:#?}",
        proxy.started_queries()
    );
    // The erasure ends: its lock goes.
    glue(
        region,
        "AWSGlue.DeleteTable",
        json!({"DatabaseName": schema, "Name": "strata_lock__events"}),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().ok().flatten().is_none() {
        assert!(Instant::now() < deadline, "the build never finished");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let status = child.wait().expect("status");
    assert!(status.success(), "{err}");
    assert!(
        err.contains("waiting for the write lock") && err.contains("erasure of 3 requests"),
        "it said whom it waited for: {err}"
    );
    assert!(proxy.started_queries().iter().any(building));
    // Its own lock was taken before the build and released after.
    let locks: Vec<String> = proxy
        .api_calls()
        .into_iter()
        .filter(|c| {
            c.body["TableInput"]["Name"] == "strata_lock__events"
                || c.body["Name"] == "strata_lock__events"
        })
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        locks.last().map(String::as_str),
        Some("DeleteTable"),
        "{locks:?}"
    );
    assert!(locks.iter().any(|o| o == "CreateTable"), "{locks:?}");
    assert!(!lock_exists(region, &schema, "events"));
}

/// A lock whose holder died (past its expiry) is taken over, saying so.
#[test]
fn an_expired_write_lock_is_taken_over() {
    let region = "ap-northeast-3";
    let (p, _proxy, schema, _) = athena_rights_project(region);
    hold_lock(region, &schema, "events", now() - 60);
    let run = p.strata_env(&["run", "--select", "events"], AWS_ENV);
    run.assert_ok();
    assert!(
        run.output().contains("expired") && run.output().contains("taking it over"),
        "{}",
        run.output()
    );
    assert!(!lock_exists(region, &schema, "events"));
}

/// An erasure takes the locks of every declared relation before its `started` row and
/// deletes nothing while a build holds one of them.
#[test]
fn an_erasure_waits_for_a_build_holding_a_declared_relation() {
    let region = "ca-central-1";
    let (p, proxy, schema, _) = athena_rights_project(region);
    hold_lock(region, &schema, "user_daily", now() + 600);
    crate::athena::preset_fresh_request(region, "r1", "u1");
    let child = p
        .command(
            &[
                "rights",
                "apply",
                "--type",
                "ERASURE",
                "--guid",
                "u1",
                "--request-id",
                "r1",
            ],
            AWS_ENV,
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn strata");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !proxy
        .api_calls()
        .iter()
        .any(|c| c.operation == "GetTable" && c.body["Name"] == "strata_lock__user_daily")
    {
        assert!(
            Instant::now() < deadline,
            "the erasure never asked for the lock"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let writes = |qs: Vec<String>| {
        qs.into_iter()
            .filter(|q| q.starts_with("delete") || q.starts_with("insert"))
            .count()
    };
    let before = proxy.started_queries();
    assert_eq!(
        writes(before.clone()),
        0,
        "no ledger row and no delete while a build holds a lock: {before:#?}"
    );
    glue(
        region,
        "AWSGlue.DeleteTable",
        json!({"DatabaseName": schema, "Name": "strata_lock__user_daily"}),
    );
    let out = child.wait_with_output().expect("erasure");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(r#""code":"200""#), "{stdout}");
    assert!(writes(proxy.started_queries()) > 0);
    for table in ["events", "user_daily"] {
        assert!(
            !lock_exists(region, &schema, table),
            "{table}'s lock released"
        );
        assert!(
            proxy
                .api_calls()
                .iter()
                .any(|c| c.operation == "CreateTable"
                    && c.body["TableInput"]["Name"] == format!("strata_lock__{table}")),
            "{table} locked by the erasure"
        );
    }
}
