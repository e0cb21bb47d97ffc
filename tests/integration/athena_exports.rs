//! ACCESS exports on Athena within its limits: UNLOAD writes one partition per subject and
//! Athena refuses more than 100 partitions in one query, so a batch of more ACCESS requests
//! is exported in groups (against the emulator, through the local Kafka-protocol broker).

use crate::athena::{athena_rights_project, AWS_ENV};
use crate::common::aws;
use crate::rights_kafka::{consume_cmd, produce, read_all, request, topics};

use std::time::Duration;

#[test]
fn a_batch_of_150_access_requests_is_exported_in_groups_of_100_subjects() {
    let region = "sa-east-1";
    let (p, proxy, _schema, _bucket) = athena_rights_project(region);
    // A quick group join (the tests' brokers hand partitions over within the session).
    let yml = p.read("project.yml");
    p.write("project.yml", &format!("{yml}  session_timeout_ms: 2000\n"));
    let t = topics("athena-exports");
    let requests: Vec<String> = (0..150)
        .map(|i| request(&format!("a{i}"), &format!("u{i}"), "ACCESS"))
        .collect();
    produce(&t.requests, &requests);
    // Ledger DDL, its two added columns, purged DDL, the batch's drop and CTAS, then the
    // state query: every subject has rows.
    let empty = || (vec![], vec![]);
    let ids: Vec<(String, String)> = (0..150)
        .map(|i| (format!("a{i}"), format!("u{i}")))
        .collect();
    let ids: &'static [(String, String)] = Box::leak(ids.into_boxed_slice());
    let state = (
        vec![
            "request_id",
            "guid",
            "phase",
            "had_data:boolean",
            "code",
            "reason",
            "attachments",
            "has_data:boolean",
        ],
        ids.iter()
            .map(|(r, g)| vec![r.as_str(), g.as_str(), "", "false", "", "", "", "true"])
            .collect(),
    );
    aws::preset_results(
        &aws::moto_endpoint(),
        region,
        vec![empty(), empty(), empty(), empty(), empty(), empty(), state],
    );
    let out = consume_cmd(
        &p,
        &t,
        &[
            "--idle-exit-seconds",
            "6",
            "--batch-wait-ms",
            "1000",
            "--batch-size",
            "500",
        ],
    )
    .envs(AWS_ENV.iter().copied())
    .output()
    .expect("consumer");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("batch of 150 messages started"),
        "one batch: {log}"
    );
    let unloads: Vec<String> = proxy
        .started_queries()
        .into_iter()
        .filter(|q| q.starts_with("unload"))
        .collect();
    // Two declared relations, two groups of subjects.
    assert_eq!(unloads.len(), 4, "{unloads:#?}");
    for u in &unloads {
        let listed = u
            .split("subject_no in (")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .unwrap_or_else(|| panic!("an UNLOAD of a group of subjects: {u}"));
        let n = listed.split(',').count();
        assert!(n <= 100, "{n} subjects in one UNLOAD");
    }
    let results = read_all(&t.results, 150, Duration::from_secs(20));
    assert_eq!(results.len(), 150);
    assert!(
        results.iter().all(|r| r.contains(r#""code":"200""#)),
        "{:?}",
        results.iter().find(|r| !r.contains(r#""code":"200""#))
    );
}
