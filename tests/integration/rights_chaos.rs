//! The rights pipeline under chaos (DuckDB, through the local Kafka-protocol broker): 10,000
//! requests of every kind, the consumer SIGKILLed at 20 random points (inside batches, after
//! producing, after committing) and restarted each time. Every request with a request_id is
//! answered, none with two codes, every erased subject is gone from every declared relation,
//! and nobody else's rows are touched. The figures are printed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{rights_project, TestProject};
use crate::rights_kafka::{consume_cmd, produce, read_all, request, topics};

const SUBJECTS: usize = 2_000;
const REQUESTS: usize = 10_000;
const KILLS: usize = 20;

/// A small deterministic generator (xorshift64*): the same requests and kill points on
/// every run, so a failure can be replayed.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn subject(i: usize) -> String {
    format!("s{i:05}")
}

/// The landing seed: three rows per subject, each subject with chats of its own.
fn big_seed(p: &TestProject) {
    let mut csv = String::from("user_id,chat_id,msg\n");
    for i in 0..SUBJECTS {
        for k in 0..3 {
            csv.push_str(&format!("{},c{i}_{},m{k}\n", subject(i), k % 2));
        }
    }
    p.write("seeds/events.csv", &csv);
}

/// What was sent: the messages in order, and per request_id the request it stands for
/// (guid, right_type) for those that are well-formed.
struct Sent {
    messages: Vec<String>,
    with_id: BTreeSet<String>,
    erasures: BTreeMap<String, String>,
    without_id: usize,
}

fn requests(dice: &mut Dice) -> Sent {
    let mut sent = Sent {
        messages: Vec::new(),
        with_id: BTreeSet::new(),
        erasures: BTreeMap::new(),
        without_id: 0,
    };
    // As large as a request message may be (librdkafka's 1,000,000 bytes, with the envelope).
    let huge = "x".repeat(990_000);
    while sent.messages.len() < REQUESTS {
        let n = sent.messages.len();
        let id = format!("r{n:05}");
        let roll = dice.below(100);
        let message = match roll {
            // Erasures of subjects with data, or of no one.
            0..=24 => {
                let s = subject(dice.below(SUBJECTS));
                let kind = if roll < 18 { "ERASURE" } else { "SA_WITHDRAW" };
                sent.erasures.insert(id.clone(), s.clone());
                request(&id, &s, kind)
            }
            25..=34 => request(&id, &subject(dice.below(SUBJECTS)), "ACCESS"),
            35..=59 => request(&id, &format!("nobody{n}"), "ERASURE"),
            // An exact duplicate of an earlier request (same request_id).
            60..=74 if n > 0 => {
                let again = sent.messages[dice.below(n)].clone();
                sent.messages.push(again);
                continue;
            }
            60..=74 => request(&id, "nobody", "ACCESS"),
            75..=82 => request(&id, "x' OR '1'='1", "ERASURE"),
            83..=90 => {
                format!(r#"{{"request_id": "{id}", "guid": "s00001", "right_type": "FORGET"}}"#)
            }
            91..=95 => {
                sent.without_id += 1;
                format!("{{not json {n}")
            }
            // 1 MB guids and right_types (a few: each is a megabyte).
            _ if dice.below(20) == 0 => {
                if dice.below(2) == 0 {
                    format!(
                        r#"{{"request_id": "{id}", "guid": "{huge}", "right_type": "ERASURE"}}"#
                    )
                } else {
                    format!(r#"{{"request_id": "{id}", "guid": "s00002", "right_type": "{huge}"}}"#)
                }
            }
            _ => request(&id, &subject(dice.below(SUBJECTS)), "ACCESS"),
        };
        if !message.starts_with("{not json") {
            sent.with_id.insert(id);
        }
        sent.messages.push(message);
    }
    sent
}

fn count(p: &TestProject, sql: &str) -> i64 {
    p.scalar("gdpr", sql).parse().expect("a number")
}

#[test]
fn ten_thousand_requests_and_twenty_kills_lose_nothing() {
    let started = Instant::now();
    let p = rights_project("rights:\n  session_timeout_ms: 2000\n  batch_size: 500\n");
    big_seed(&p);
    p.strata(&["build"]).assert_ok();
    let mut dice = Dice(0x5eed_1234_abcd_0042);
    let sent = requests(&mut dice);
    let t = topics("chaos");
    produce(&t.requests, &sent.messages);

    let mut kills = 0;
    let mut runs = 0;
    while kills < KILLS {
        runs += 1;
        let mut child = consume_cmd(&p, &t, &["--batch-wait-ms", "200"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn consumer");
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        // Kill after the k-th batch starts, a random moment later: inside the batch, while
        // its results are produced, or after its commit.
        let k = 1 + dice.below(2);
        let mut starts = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while starts < k && Instant::now() < deadline {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                if l.contains("messages started") {
                    starts += 1;
                }
            }
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(dice.below(400) as u64));
        if child.try_wait().ok().flatten().is_none() {
            let _ = child.kill();
            kills += 1;
        }
        let _ = child.wait();
        if starts == 0 && runs > KILLS * 3 {
            panic!("the consumer stopped starting batches after {kills} kills");
        }
    }

    // Then run until the topic is drained.
    let out = consume_cmd(
        &p,
        &t,
        &["--idle-exit-seconds", "8", "--batch-wait-ms", "200"],
    )
    .output()
    .expect("final consumer");
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{log}");

    let results = read_all(&t.results, usize::MAX, Duration::from_secs(30));
    let mut codes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut erased: BTreeSet<String> = BTreeSet::new();
    for r in &results {
        let v: serde_json::Value = serde_json::from_str(r).expect("a result");
        let id = v["request_id"].as_str().unwrap_or_default().to_string();
        let code = v["result"]["code"].as_str().unwrap_or_default().to_string();
        if code == "200" {
            if let Some(s) = sent.erasures.get(&id) {
                erased.insert(s.clone());
            }
        }
        codes.entry(id).or_default().insert(code);
    }
    let lost: Vec<&String> = sent
        .with_id
        .iter()
        .filter(|id| !codes.contains_key(*id))
        .collect();
    let two_codes: Vec<(&String, &BTreeSet<String>)> =
        codes.iter().filter(|(_, c)| c.len() > 1).collect();
    let duplicates = results.len() - codes.len();
    println!(
        "chaos: {} requests ({} with a request_id, {} without), {kills} kills over {runs} runs, \
         {} results ({duplicates} duplicates answered), {} subjects erased, lost = {}, \
         two codes = {}, {:.0}s",
        sent.messages.len(),
        sent.with_id.len(),
        sent.without_id,
        results.len(),
        erased.len(),
        lost.len(),
        two_codes.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(lost.is_empty(), "requests never answered: {lost:?}");
    assert!(
        two_codes.is_empty(),
        "request_ids with two codes: {two_codes:?}"
    );
    assert!(!erased.is_empty());

    // Every erased subject is gone from every declared relation; everybody else is whole.
    let list = erased
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        count(
            &p,
            &format!("select count(*) from events where user_id in ({list})")
        ),
        0
    );
    assert_eq!(
        count(
            &p,
            &format!("select count(*) from user_daily where user_id in ({list})")
        ),
        0
    );
    assert_eq!(
        count(
            &p,
            &format!(
                "select count(*) from chat_daily where chat_id in \
                 (select 'c' || substr(s, 2)::int || '_' || k from \
                 (select unnest([{list}]) as s) cross join (values ('0'), ('1')) as v(k))"
            )
        ),
        0,
        "chats reached through erased subjects' rows"
    );
    let others = SUBJECTS - erased.len();
    assert_eq!(
        count(
            &p,
            &format!("select count(*) from events where user_id not in ({list})")
        ),
        (others * 3) as i64,
        "other subjects' rows untouched"
    );
    assert_eq!(
        count(
            &p,
            &format!("select sum(n) from user_daily where user_id not in ({list})")
        ),
        (others * 3) as i64
    );
}
