//! The rights consumer under faults, against real peers: a Kafka-protocol broker of the
//! test's own cut off mid-batch (connections reset, new ones refused), and the operator's
//! retry publishing its new answer.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::broker::CuttableBroker;
use crate::common::{rights_project, write_rights_procedures};
use crate::rights_kafka::{
    brokers, codes, consume_cmd_on, drain, http_get, produce, produce_on, read_all, read_all_on,
    request, topics, topics_on,
};

/// The consumer's output lines, as they come (stdout and stderr).
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
    }
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
    }
    rx
}

/// Wait for a line containing `needle`; every line read goes into `log`.
fn wait_for(rx: &mpsc::Receiver<String>, needle: &str, wait: Duration, log: &mut String) -> bool {
    let deadline = Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) => {
                log.push_str(&l);
                log.push('\n');
                if l.contains(needle) {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

/// The brokers go away while a batch is being answered: the consumer does not exit (it used
/// to, on the first failed delivery or commit). It says it is waiting, in its log and its
/// metrics, tries again with backoff, and once the brokers are back every request is
/// answered, each with one code.
#[test]
fn brokers_cut_off_mid_batch_are_waited_out() {
    let broker = CuttableBroker::start();
    let bootstrap = broker.address().to_string();
    let t = topics_on(&bootstrap, "cut");
    let p = rights_project(
        "rights:\n  session_timeout_ms: 6000\n  produce_timeout_ms: 1500\n  fault_backoff_max_ms: 1000\n",
    );
    let mut requests = vec![request("e-u1", "u1", "ERASURE")];
    requests
        .extend((0..29).map(|i| request(&format!("n{i}"), &format!("nobody{i}"), "SA_WITHDRAW")));
    produce_on(&bootstrap, &t.requests, &requests);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut child = consume_cmd_on(
        &bootstrap,
        &p,
        &t,
        &[
            "--batch-size",
            "10",
            "--batch-wait-ms",
            "200",
            "--idle-exit-seconds",
            "4",
            "--metrics-port",
            &port.to_string(),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn consumer");
    let rx = lines_of(&mut child);
    let mut log = String::new();
    assert!(
        wait_for(
            &rx,
            "batch of 10 messages started",
            Duration::from_secs(60),
            &mut log
        ),
        "{log}"
    );
    broker.cut();
    let waited = wait_for(&rx, "failed (waiting", Duration::from_secs(60), &mut log);
    let metrics = http_get(port, "/metrics");
    std::thread::sleep(Duration::from_secs(2));
    broker.restore();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("consumer status") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        while let Ok(l) = rx.try_recv() {
            log.push_str(&l);
            log.push('\n');
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        log.push_str(&l);
        log.push('\n');
    }
    assert!(waited, "the consumer said it was waiting: {log}");
    assert!(
        metrics.contains("strata_rights_waiting 1"),
        "the metrics said so while it waited: {metrics}"
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "the consumer went on and exited 0 when idle: {status:?}\n{log}"
    );
    let results = read_all_on(&bootstrap, &t.results, 40, Duration::from_secs(20));
    let c = codes(&results);
    assert_eq!(c.len(), 30, "every request answered: {c:?}\n{log}");
    for (id, got) in &c {
        let mut distinct = got.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 1, "{id} has one code: {got:?}");
    }
    assert_eq!(c.get("e-u1").map(|v| v[0].as_str()), Some("200"));
    assert_eq!(
        p.scalar("gdpr", "select count(*) from events where user_id = 'u1'"),
        "0"
    );
}

/// A request answered 500 is answered 500 again when it comes again (one answer per
/// request), and `strata rights retry` runs it once the cause is gone and publishes the new
/// answer to the result topic.
#[test]
fn a_failed_request_is_answered_alike_until_an_operator_retries_it() {
    let p = rights_project("rights:\n  session_timeout_ms: 2000\n");
    let t = topics("retry");
    p.write(
        "models/rights/erasure.sql",
        "{{ config(materialized='procedure', right_types=['ERASURE', 'SA_WITHDRAW']) }}\n\
         {{ rights_delete(rights.batch, rights.declared, rights.right_types) }}\n\
         select error('the warehouse refused');\n",
    );
    produce(&t.requests, &[request("r1", "u2", "ERASURE")]);
    drain(&p, &t);
    write_rights_procedures(&p);
    // The product sends the request again (or the batch is redelivered): same answer.
    produce(&t.requests, &[request("r1", "u2", "ERASURE")]);
    drain(&p, &t);
    assert_eq!(
        p.scalar("gdpr", "select count(*) from events where user_id = 'u2'"),
        "2",
        "nothing ran the second time"
    );
    let retry = p.strata(&[
        "rights",
        "retry",
        "r1",
        "--brokers",
        &brokers(),
        "--result-topic",
        &t.results,
    ]);
    assert_eq!(retry.code, 0, "{}", retry.output());
    let results = read_all(&t.results, 3, Duration::from_secs(20));
    let answers: Vec<(String, String)> = results
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(r).expect("a result");
            (
                v["result"]["code"].as_str().unwrap_or_default().to_string(),
                v["result"]["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert_eq!(
        answers[0], answers[1],
        "the redelivery got the first answer"
    );
    assert_eq!(answers[0].0, "500");
    assert!(
        answers[0].1.contains("the warehouse refused"),
        "{answers:?}"
    );
    assert_eq!(answers[2].0, "200", "the retry's answer was published");
    assert_eq!(
        p.scalar("gdpr", "select count(*) from events where user_id = 'u2'"),
        "0"
    );
}
