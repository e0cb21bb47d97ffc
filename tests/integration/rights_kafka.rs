//! `strata rights consume` against a real Kafka-protocol broker on 127.0.0.1 (Tansu, started
//! by scripts/test.sh, which exports STRATA_TEST_KAFKA_BROKERS).

use crate::common::{hermetic, rights_project, TestProject};

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

pub(crate) fn brokers() -> String {
    std::env::var("STRATA_TEST_KAFKA_BROKERS").unwrap_or_else(|_| {
        panic!("STRATA_TEST_KAFKA_BROKERS is not set: run scripts/test.sh, or `eval $(scripts/kafka-broker.sh start)` first")
    })
}

pub(crate) struct Topics {
    pub requests: String,
    pub results: String,
    pub dead: String,
    pub group: String,
}

pub(crate) fn topics(tag: &str) -> Topics {
    topics_on(&brokers(), tag)
}

/// Request, result and dead-letter topics (and a group) of their own for one test, created on
/// `bootstrap`.
pub(crate) fn topics_on(bootstrap: &str, tag: &str) -> Topics {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let t = Topics {
        requests: format!("req-{tag}-{id}"),
        results: format!("res-{tag}-{id}"),
        dead: format!("dlq-{tag}-{id}"),
        group: format!("grp-{tag}-{id}"),
    };
    create_topics(bootstrap, &[&t.requests, &t.results, &t.dead]);
    t
}

fn create_topics(bootstrap: &str, names: &[&str]) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let new: Vec<NewTopic> = names
        .iter()
        .map(|n| NewTopic::new(n, 1, TopicReplication::Fixed(1)))
        .collect();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let r = rt
        .block_on(admin.create_topics(
            &new,
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ))
        .expect("create topics");
    for x in r {
        x.expect("topic created");
    }
}

pub(crate) fn produce(topic: &str, payloads: &[String]) {
    produce_on(&brokers(), topic, payloads)
}

pub(crate) fn produce_on(bootstrap: &str, topic: &str, payloads: &[String]) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    for (i, body) in payloads.iter().enumerate() {
        let key = i.to_string();
        p.send(BaseRecord::to(topic).key(&key).payload(body))
            .expect("enqueue");
    }
    p.flush(Duration::from_secs(10)).expect("flush");
}

/// Every message on `topic` until `expect` are read or `wait` passes.
pub(crate) fn read_all(topic: &str, expect: usize, wait: Duration) -> Vec<String> {
    read_all_on(&brokers(), topic, expect, wait)
}

pub(crate) fn read_all_on(
    bootstrap: &str,
    topic: &str,
    expect: usize,
    wait: Duration,
) -> Vec<String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        // A group join takes about half the session timeout (45 s by default).
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "200")
        .create()
        .expect("consumer");
    c.subscribe(&[topic]).expect("subscribe");
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    while Instant::now() < deadline && out.len() < expect {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    out
}

pub(crate) fn request(id: &str, guid: &str, kind: &str) -> String {
    serde_json::json!({"request_id": id, "guid": guid, "right_type": kind, "created_at": 1_700_000_000}).to_string()
}

pub(crate) fn consume_cmd(p: &TestProject, t: &Topics, extra: &[&str]) -> Command {
    consume_cmd_on(&brokers(), p, t, extra)
}

pub(crate) fn consume_cmd_on(
    bootstrap: &str,
    p: &TestProject,
    t: &Topics,
    extra: &[&str],
) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
    hermetic(&mut c);
    c.args([
        "rights",
        "consume",
        "--brokers",
        bootstrap,
        "--request-topic",
        &t.requests,
    ])
    .args([
        "--result-topic",
        &t.results,
        "--dead-letter-topic",
        &t.dead,
        "--group-id",
        &t.group,
    ])
    .args(extra)
    .arg("--project-dir")
    .arg(p.path())
    .env("NO_COLOR", "1");
    c
}

/// Run the consumer until the request topic is drained; it must exit 0. Its output.
pub(crate) fn drain(p: &TestProject, t: &Topics) -> String {
    let out = consume_cmd(
        p,
        t,
        &["--idle-exit-seconds", "3", "--batch-wait-ms", "500"],
    )
    .output()
    .expect("run consumer");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    log
}

pub(crate) fn codes(results: &[String]) -> HashMap<String, Vec<String>> {
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for r in results {
        let v: serde_json::Value = serde_json::from_str(r).expect("result json");
        m.entry(v["request_id"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(v["result"]["code"].as_str().unwrap_or_default().to_string());
    }
    m
}

#[test]
fn consume_answers_every_request_and_survives_malformed_ones() {
    let p = rights_project("rights:\n  session_timeout_ms: 2000\n  purge_deadline_hours: 0\n");
    let t = topics("all");
    produce(
        &t.requests,
        &[
            request("e1", "u1", "ERASURE"),
            "{this is not json".to_string(),
            request("a2", "u2", "ACCESS"),
            request("n3", "nobody", "SA_WITHDRAW"),
            r#"{"request_id": "x4", "guid": "u3", "right_type": "FORGET"}"#.to_string(),
            request("h5", "x' OR '1'='1", "ERASURE"),
        ],
    );
    let log = drain(&p, &t);
    let results = read_all(&t.results, 5, Duration::from_secs(20));
    let c = codes(&results);
    assert_eq!(c.get("e1"), Some(&vec!["200".to_string()]), "{results:?}");
    assert_eq!(c.get("a2"), Some(&vec!["200".to_string()]));
    assert_eq!(c.get("n3"), Some(&vec!["201".to_string()]));
    assert_eq!(c.get("x4"), Some(&vec!["500".to_string()]));
    assert_eq!(c.get("h5"), Some(&vec!["500".to_string()]));
    let access: serde_json::Value = results
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(r).expect("json"))
        .find(|v| v["request_id"] == "a2")
        .expect("access result");
    assert_eq!(
        access["result"]["attachments"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(
        read_all(&t.dead, 1, Duration::from_secs(10)),
        vec!["{this is not json".to_string()]
    );
    assert_eq!(
        p.scalar("gdpr", "select count(*) from events where user_id = 'u1'"),
        "0"
    );
    assert_eq!(p.scalar("gdpr", "select count(*) from events"), "3");
    // The batch's statements: load, ledger + existence in one query, ledger 'started', one
    // DELETE per declared relation (3), one verification, ledger 'finished' (2R + 2 = 8), and
    // one export per relation for the ACCESS request (3): O(relations), not O(requests).
    assert!(
        log.contains("requests, 11 statements,"),
        "per-batch metrics are printed with the statement count: {log}"
    );

    // Offsets were committed: a new consumer in the group answers nothing again.
    let again = consume_cmd(&p, &t, &["--idle-exit-seconds", "3"])
        .output()
        .expect("run consumer");
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("Answered 0 requests"));
    assert_eq!(read_all(&t.results, 6, Duration::from_secs(3)).len(), 5);
}

/// A request whose guid and right_type are near a Kafka message's size is answered with a
/// 500 that echoes them cut (and says so), so the result fits; the request behind it is
/// answered too (before, the oversized result stopped the consumer on every restart).
#[test]
fn huge_fields_are_echoed_cut_and_the_requests_behind_them_answered() {
    let p = rights_project("rights:\n  session_timeout_ms: 2000\n  purge_deadline_hours: 0\n");
    let t = topics("huge");
    let huge = serde_json::json!({"request_id": "big1", "guid": "g".repeat(450_000),
        "right_type": "X".repeat(450_000), "created_at": 1_700_000_000})
    .to_string();
    produce(&t.requests, &[huge, request("e2", "u1", "ERASURE")]);
    let log = drain(&p, &t);
    let results = read_all(&t.results, 2, Duration::from_secs(20));
    let c = codes(&results);
    assert_eq!(c.get("big1"), Some(&vec!["500".to_string()]), "{log}");
    assert_eq!(c.get("e2"), Some(&vec!["200".to_string()]), "{log}");
    let big: serde_json::Value = results
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(r).expect("json"))
        .find(|v| v["request_id"] == "big1")
        .expect("the big request's result");
    assert_eq!(big["guid"].as_str().map(str::len), Some(256));
    assert_eq!(big["right_type"].as_str().map(str::len), Some(256));
    let reason = big["result"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("guid truncated from 450000 to 256 characters")
            && reason.contains("right_type truncated from 450000 to 256 characters"),
        "{reason}"
    );
    assert!(
        results.iter().all(|r| r.len() < 10_000),
        "results stay small"
    );
    assert_eq!(
        p.scalar("gdpr", "select count(*) from events where user_id = 'u1'"),
        "0"
    );
}

/// A message that cannot be answered (no readable request_id) reaches the dead-letter
/// topic as it came, a null payload still null, with headers saying why and from where.
#[test]
fn dead_letters_keep_the_message_and_say_why() {
    let p = rights_project("rights:\n  session_timeout_ms: 2000\n");
    let t = topics("dlq");
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("message.max.bytes", "2000000")
        .create()
        .expect("producer");
    producer
        .send(
            BaseRecord::to(&t.requests)
                .key("k-bad")
                .payload("{this is not json"),
        )
        .expect("enqueue");
    producer
        .send(BaseRecord::<str, str>::to(&t.requests).key("k-null"))
        .expect("enqueue");
    // Near a message's limit: with the dead letter's headers it would not fit.
    let huge = "x".repeat(999_500);
    producer
        .send(BaseRecord::to(&t.requests).key("k-huge").payload(&huge))
        .expect("enqueue");
    producer.flush(Duration::from_secs(10)).expect("flush");
    let out = consume_cmd(&p, &t, &["--idle-exit-seconds", "3"])
        .output()
        .expect("run consumer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "200")
        .create()
        .expect("consumer");
    c.subscribe(&[t.dead.as_str()]).expect("subscribe");
    // key -> (payload, headers)
    type DeadLetter = (Option<Vec<u8>>, HashMap<String, String>);
    let mut dead: HashMap<String, DeadLetter> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && dead.len() < 3 {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            let v = String::from_utf8_lossy(h.value.unwrap_or_default());
                            (h.key.to_string(), v.into_owned())
                        })
                        .collect()
                })
                .unwrap_or_default();
            let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
            dead.insert(key, (m.payload().map(<[u8]>::to_vec), headers));
        }
    }
    let (payload, headers) = dead.get("k-bad").expect("the bad message is dead-lettered");
    assert_eq!(payload.as_deref(), Some(&b"{this is not json"[..]));
    assert!(
        headers["strata-error"].starts_with("malformed JSON"),
        "{headers:?}"
    );
    assert_eq!(headers["strata-source-topic"], t.requests);
    assert_eq!(headers["strata-source-offset"], "0");
    assert!(headers["strata-dead-lettered-at"].parse::<i64>().is_ok());
    let (payload, headers) = dead
        .get("k-null")
        .expect("the null message is dead-lettered");
    assert_eq!(payload, &None, "a null payload stays null");
    assert!(!headers["strata-error"].is_empty(), "{headers:?}");
    assert_eq!(headers["strata-source-offset"], "1");
    // The huge one is kept as far as it fits, and says how long it was.
    let (payload, headers) = dead
        .get("k-huge")
        .expect("the huge message is dead-lettered");
    let kept = payload.as_ref().map_or(0, Vec::len);
    assert!(kept > 900_000 && kept < 999_500, "{kept}");
    assert_eq!(headers["strata-payload-truncated-from-bytes"], "999500");
}

/// Within one batch: an ACCESS sent before its subject's ERASURE still exports the rows,
/// and a request_id reused for another subject is refused without touching that subject.
#[test]
fn one_batch_keeps_the_order_of_a_subject_s_requests_and_ids_to_their_requests() {
    let p = rights_project("rights:\n  session_timeout_ms: 2000\n");
    let t = topics("order");
    produce(
        &t.requests,
        &[
            request("a1", "u2", "ACCESS"),
            request("e1", "u2", "ERASURE"),
            request("dup", "u1", "ERASURE"),
            request("dup", "u3", "ERASURE"),
            request("dup", "u1", "ERASURE"),
        ],
    );
    let out = consume_cmd(
        &p,
        &t,
        &["--idle-exit-seconds", "3", "--batch-wait-ms", "500"],
    )
    .output()
    .expect("run consumer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<serde_json::Value> = read_all(&t.results, 5, Duration::from_secs(20))
        .iter()
        .map(|r| serde_json::from_str(r).expect("json"))
        .collect();
    let find = |id: &str, guid: &str| {
        results
            .iter()
            .filter(|v| v["request_id"] == id && v["guid"] == guid)
            .map(|v| v["result"].clone())
            .collect::<Vec<_>>()
    };
    let access = find("a1", "u2");
    assert_eq!(access.len(), 1, "{results:?}");
    assert_eq!(access[0]["code"], "200");
    assert!(
        access[0]["attachments"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "the export ran before the erasure: {results:?}"
    );
    assert_eq!(find("e1", "u2")[0]["code"], "200");
    let dup_u1 = find("dup", "u1");
    assert_eq!(dup_u1.len(), 2, "{results:?}");
    assert!(dup_u1.iter().all(|r| r["code"] == "200"), "{results:?}");
    let dup_u3 = find("dup", "u3");
    assert_eq!(dup_u3.len(), 1, "{results:?}");
    assert_eq!(dup_u3[0]["code"], "500", "{results:?}");
    assert_eq!(
        p.scalar(
            "gdpr",
            "select count(*) from events where user_id in ('u1', 'u2')"
        ),
        "0"
    );
    assert_eq!(
        p.scalar("gdpr", "select count(*) from events where user_id = 'u3'"),
        "1",
        "the reused id erased nobody else"
    );
}

/// A consumer killed with SIGKILL mid-batch and restarted loses no request and never
/// answers one with two different codes.
#[test]
fn a_consumer_killed_mid_batch_loses_nothing() {
    let p = rights_project("rights:\n  session_timeout_ms: 2000\n");
    // Make the erasure procedure slow enough to be killed inside it.
    p.write(
        "models/rights/erasure.sql",
        "{{ config(materialized='procedure', right_types=['ERASURE', 'SA_WITHDRAW']) }}\n\
         {{ rights_delete(rights.batch, rights.declared, rights.right_types) }}\n\
         create or replace table slow_down as select count(*) as n from range(400000000) t(i) where i % 7 = 3;\n",
    );
    let t = topics("kill");
    let mut reqs = vec![
        request("k1", "u1", "ERASURE"),
        request("k2", "u2", "SA_WITHDRAW"),
        request("k3", "nobody", "ERASURE"),
    ];
    reqs.push(request("k4", "u3", "ACCESS"));
    produce(&t.requests, &reqs);

    let mut child: Child = consume_cmd(&p, &t, &["--batch-wait-ms", "500"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn consumer");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    loop {
        let line = lines.next().expect("consumer output").expect("line");
        if line.contains("batch of") && line.contains("started") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "consumer never started a batch"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    // Killed inside the batch: nothing was answered, and the deletes were rolled back.
    assert_eq!(
        p.scalar(
            "gdpr",
            "select count(*) from strata_rights_ledger where phase = 'finished'"
        ),
        "0"
    );

    // The group hands the partition over once the killed member's session expires.
    let out = consume_cmd(
        &p,
        &t,
        &["--idle-exit-seconds", "12", "--batch-wait-ms", "500"],
    )
    .output()
    .expect("restart");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    let results = read_all(&t.results, 4, Duration::from_secs(20));
    let c = codes(&results);
    for (id, want) in [("k1", "200"), ("k2", "200"), ("k3", "201"), ("k4", "200")] {
        let got = c
            .get(id)
            .unwrap_or_else(|| panic!("{id} was lost: {results:?}\n{log}"));
        assert!(
            got.iter().all(|g| g == want),
            "{id} answered {got:?}, want only {want}"
        );
    }
    assert_eq!(
        p.scalar(
            "gdpr",
            "select count(*) from events where user_id in ('u1', 'u2')"
        ),
        "0"
    );
}

pub(crate) fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("request");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("response");
    body
}

#[test]
fn metrics_are_served_in_prometheus_format() {
    let p = rights_project("rights:\n  session_timeout_ms: 2000\n");
    let t = topics("metrics");
    produce(
        &t.requests,
        &[
            request("m1", "u1", "ERASURE"),
            request("m2", "nobody", "ACCESS"),
        ],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = consume_cmd(
        &p,
        &t,
        &[
            "--batch-wait-ms",
            "300",
            "--metrics-port",
            &port.to_string(),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("spawn consumer");
    assert_eq!(read_all(&t.results, 2, Duration::from_secs(30)).len(), 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut body = String::new();
    while Instant::now() < deadline {
        body = http_get(port, "/metrics");
        // The lag is read off the batch path, so it may come a little after the batch.
        if body.contains("strata_rights_batches_total 1")
            && body.contains("strata_rights_consumer_lag ")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(body.contains("text/plain; version=0.0.4"), "{body}");
    assert!(
        body.contains("strata_rights_requests_total{code=\"200\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("strata_rights_requests_total{code=\"201\"} 1"),
        "{body}"
    );
    assert!(body.contains("strata_rights_consumer_lag 0"), "{body}");
}
