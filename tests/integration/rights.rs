//! Data-subject rights through `strata rights apply` on DuckDB: every request type, 201 for
//! unknown subjects, full erasure including rows only bronze has, hostile ids, replays.

use crate::common::{
    flat, rights_project as project, write_rights_procedures, TestProject, PROJECT_YML,
};

fn apply(p: &TestProject, kind: &str, guid: &str, request_id: &str) -> serde_json::Value {
    let r = p.strata(&[
        "rights",
        "apply",
        "--type",
        kind,
        "--guid",
        guid,
        "--request-id",
        request_id,
    ]);
    let line = r.stdout.lines().last().unwrap_or_default().to_string();
    serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("not a result message ({e}):\n{}", r.output()))
}

fn count(p: &TestProject, sql: &str) -> i64 {
    p.scalar("gdpr", sql).parse().expect("a number")
}

#[test]
fn erasure_removes_the_subject_everywhere_and_nothing_else() {
    let p = project("");
    // Rows bronze has that silver has not aggregated yet.
    p.query(
        "gdpr",
        "insert into events values ('u4', 'c9', 'only in bronze')",
    );
    let before_u2 = count(&p, "select count(*) from events where user_id = 'u2'");

    let r = apply(&p, "ERASURE", "u1", "req-1");
    assert_eq!(r["result"]["code"], "200", "{r}");
    assert_eq!(r["result"]["reason"], "Success");
    assert_eq!(r["service_name"], "analytics");
    assert_eq!(r["right_type"], "ERASURE");
    assert_eq!(
        count(&p, "select count(*) from events where user_id = 'u1'"),
        0
    );
    assert_eq!(
        count(&p, "select count(*) from user_daily where user_id = 'u1'"),
        0
    );
    assert_eq!(
        count(
            &p,
            "select count(*) from chat_daily where chat_id in ('c1', 'c2')"
        ),
        0,
        "chats reached via events"
    );
    assert_eq!(
        count(&p, "select count(*) from events where user_id = 'u2'"),
        before_u2
    );
    assert_eq!(count(&p, "select count(*) from chat_daily"), 2);
    assert_eq!(
        count(&p, "select n from totals"),
        5,
        "exempt aggregates are not touched"
    );

    let bronze_only = apply(&p, "SA_WITHDRAW", "u4", "req-2");
    assert_eq!(
        bronze_only["result"]["code"], "200",
        "a subject only bronze knows is still found: {bronze_only}"
    );
    assert_eq!(
        count(&p, "select count(*) from events where user_id = 'u4'"),
        0
    );

    let unknown = apply(&p, "ERASURE", "nobody", "req-3");
    assert_eq!(unknown["result"]["code"], "201");
    assert_eq!(unknown["result"]["reason"], "No Data");
}

#[test]
fn a_replayed_request_is_answered_from_the_ledger() {
    let p = project("");
    assert_eq!(apply(&p, "ERASURE", "u1", "req-1")["result"]["code"], "200");
    // New rows of u1 arrive; replaying the old request must not run it again.
    p.query("gdpr", "insert into events values ('u1', 'c7', 'new')");
    let replay = apply(&p, "ERASURE", "u1", "req-1");
    assert_eq!(
        replay["result"]["code"], "200",
        "same code as the first answer"
    );
    assert_eq!(
        count(&p, "select count(*) from events where user_id = 'u1'"),
        1,
        "not executed again"
    );
    let again = apply(&p, "ERASURE", "nobody", "req-9");
    assert_eq!(again["result"]["code"], "201");
    assert_eq!(
        apply(&p, "ERASURE", "nobody", "req-9")["result"]["code"],
        "201"
    );
    assert_eq!(
        count(
            &p,
            "select count(distinct request_id) from strata_rights_ledger where phase = 'finished'"
        ),
        2
    );
}

/// The proof after a deletion finds rows of a relation reached through another even when
/// that other relation no longer has the subject's rows: the batch keeps the subject's keys
/// from before. (A procedure that forgets chat_daily used to be answered 200.)
#[test]
fn the_proof_finds_rows_reached_through_a_relation_that_lost_the_subject() {
    let p = project("");
    p.write(
        "models/rights/erasure.sql",
        "{{ config(materialized='procedure', right_types=['ERASURE', 'SA_WITHDRAW']) }}\n\
         {% set subjects = rights_subjects(rights.batch, rights.right_types) %}\n\
         delete from {{ ref('events') }} where user_id in ({{ subjects }});\n\
         delete from {{ ref('user_daily') }} where user_id in ({{ subjects }});\n",
    );
    let r = apply(&p, "ERASURE", "u1", "req-1");
    assert_eq!(r["result"]["code"], "500", "{r}");
    assert_eq!(
        r["result"]["reason"], "rows of the subject remain after deletion",
        "{r}"
    );
    assert_eq!(
        count(
            &p,
            "select count(*) from chat_daily where chat_id in ('c1', 'c2')"
        ),
        2,
        "what the procedure left is what the proof found"
    );
    assert_eq!(
        p.scalar(
            "gdpr",
            "select code from strata_rights_ledger where request_id = 'req-1' and phase = 'finished'"
        ),
        "500",
        "the ledger records the failure, not an erasure"
    );

    // events no longer leads to u1's chats, but the ledger kept the keys the failed attempt
    // captured: a new request for u1 (with the declared procedure) still finds and erases
    // them (it used to answer 201 No Data, and a retry 200, with both rows left).
    write_rights_procedures(&p);
    let again = apply(&p, "ERASURE", "u1", "req-2");
    assert_eq!(again["result"]["code"], "200", "{again}");
    assert_eq!(
        count(
            &p,
            "select count(*) from chat_daily where chat_id in ('c1', 'c2')"
        ),
        0
    );
    // req-1 keeps its 500 (one answer per request) until an operator retries it.
    assert_eq!(apply(&p, "ERASURE", "u1", "req-1")["result"]["code"], "500");
    let retried = p.strata(&["rights", "retry", "req-1"]);
    assert!(
        retried.stdout.contains(r#""code":"200""#),
        "{}",
        retried.output()
    );
}

/// A ledger written before `via_keys` and `source` existed gets the columns and keeps its
/// answers.
#[test]
fn an_older_ledger_gets_the_via_keys_and_source_columns() {
    let p = project("");
    p.query(
        "gdpr",
        // The build made a ledger of today's shape (its declared writes read it): an older
        // one replaces it.
        "drop table strata_rights_ledger; \
         create table strata_rights_ledger (request_id varchar, guid varchar, right_type varchar, \
         phase varchar, had_data boolean, code varchar, reason varchar, attachments varchar, \
         relations varchar, created_at bigint, finished_at bigint); \
         insert into strata_rights_ledger values ('old-1', 'u3', 'ERASURE', 'finished', true, \
         '200', 'Success', '[]', 'events', 0, 0)",
    );
    assert_eq!(apply(&p, "ERASURE", "u3", "old-1")["result"]["code"], "200");
    assert_eq!(
        count(&p, "select count(*) from events where user_id = 'u3'"),
        1,
        "answered from the old ledger, not run again"
    );
    assert_eq!(apply(&p, "ERASURE", "u1", "new-1")["result"]["code"], "200");
    assert_eq!(
        count(
            &p,
            "select count(*) from strata_rights_ledger where request_id = 'new-1' \
             and phase = 'started' and via_keys like 'chat_daily%'"
        ),
        1
    );
    assert_eq!(
        p.scalar(
            "gdpr",
            "select string_agg(distinct source, ',') from strata_rights_ledger \
             where request_id = 'new-1'"
        ),
        "apply",
        "where the request came from is kept with its answer"
    );
}

/// A request_id the ledger knows from another subject never gets that subject's answer (it
/// would report an erasure that did not run); a failed request sent again gets the same 500
/// from the ledger (one answer per request) until an operator retries it, and the ledger's
/// finished rows say whether the subject had data.
#[test]
fn reused_ids_are_refused_and_failed_requests_are_answered_500_until_retried() {
    let p = project("");
    assert_eq!(apply(&p, "ERASURE", "u1", "req-1")["result"]["code"], "200");
    let reused = apply(&p, "ERASURE", "u2", "req-1");
    assert_eq!(reused["result"]["code"], "500", "{reused}");
    assert!(
        reused["result"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("already used for another request")),
        "{reused}"
    );
    assert_eq!(
        count(&p, "select count(*) from events where user_id = 'u2'"),
        2,
        "u2 untouched"
    );
    let reused_type = apply(&p, "ACCESS", "u1", "req-1");
    assert_eq!(reused_type["result"]["code"], "500", "{reused_type}");

    // A deletion that fails (here: on a variable) is answered 500 and rolled back ...
    p.write(
        "models/rights/erasure.sql",
        "{{ config(materialized='procedure', right_types=['ERASURE', 'SA_WITHDRAW']) }}\n\
         {{ rights_delete(rights.batch, rights.declared, rights.right_types) }}\n\
         {% if var('fail_erasure', false) %}select error('injected failure');{% endif %}\n",
    );
    let failed = p.strata(&[
        "rights",
        "apply",
        "--type",
        "ERASURE",
        "--guid",
        "u2",
        "--request-id",
        "req-2",
        "--vars",
        "{fail_erasure: true}",
    ]);
    assert!(
        failed.stdout.contains(r#""code":"500""#) && failed.stdout.contains("injected failure"),
        "{}",
        failed.output()
    );
    assert_eq!(
        count(&p, "select count(*) from events where user_id = 'u2'"),
        2
    );
    // ... and the same request, sent again once the cause is gone, is still answered 500,
    // as before, with nothing run ...
    let again = apply(&p, "ERASURE", "u2", "req-2");
    assert_eq!(again["result"]["code"], "500", "{again}");
    assert!(
        again["result"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("injected failure")),
        "the first answer's reason: {again}"
    );
    assert_eq!(
        count(&p, "select count(*) from events where user_id = 'u2'"),
        2
    );
    // ... until an operator retries it (no brokers in this project: nothing is published).
    let retried = p.strata(&["rights", "retry", "req-2"]);
    assert_eq!(retried.code, 0, "{}", retried.output());
    assert!(
        retried.stdout.contains(r#""code":"200""#),
        "{}",
        retried.output()
    );
    assert_eq!(
        count(&p, "select count(*) from events where user_id = 'u2'"),
        0
    );
    // From then on the request's answer is the retry's.
    assert_eq!(apply(&p, "ERASURE", "u2", "req-2")["result"]["code"], "200");
    let done = p.strata(&["rights", "retry", "req-2"]);
    assert_eq!(done.code, 2, "{}", done.output());
    assert!(
        done.output()
            .contains("was answered 200: there is nothing to retry"),
        "{}",
        done.output()
    );
    let unknown = p.strata(&["rights", "retry", "no-such-request"]);
    assert_eq!(unknown.code, 2, "{}", unknown.output());
    assert!(
        unknown
            .output()
            .contains("the ledger has no request 'no-such-request'"),
        "{}",
        unknown.output()
    );
    assert_eq!(
        p.scalar(
            "gdpr",
            "select string_agg(phase || ':' || source, ',' order by phase, source) \
             from strata_rights_ledger where request_id = 'req-2' and phase <> 'started'"
        ),
        "finished:apply,finished:retry,retry:retry",
        "the failed answer, the retry and its answer are all in the ledger"
    );
    assert_eq!(
        p.scalar(
            "gdpr",
            "select string_agg(code || ':' || had_data, ',' order by code) \
             from strata_rights_ledger where request_id = 'req-2' and phase = 'finished'"
        ),
        "200:true,500:true",
        "both answers recorded, with what the existence check found"
    );
}

#[test]
fn access_exports_exactly_the_subjects_rows() {
    let p = project("");
    let r = apply(&p, "ACCESS", "u2", "acc-1");
    assert_eq!(r["result"]["code"], "200", "{r}");
    let files: Vec<String> = r["result"]["attachments"]
        .as_array()
        .expect("attachments")
        .iter()
        .map(|f| f.as_str().expect("path").to_string())
        .collect();
    assert_eq!(
        files.len(),
        3,
        "one file per declared relation with rows: {files:?}"
    );
    let events = files
        .iter()
        .find(|f| f.contains("/events/"))
        .expect("events export");
    let text = std::fs::read_to_string(events).expect("csv");
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    assert_eq!(header, "user_id,chat_id,msg");
    lines.sort();
    assert_eq!(lines, vec!["u2,c3,hi", "u2,c3,more"]);
    let chat = files
        .iter()
        .find(|f| f.contains("/chat_daily/"))
        .expect("chat export");
    assert_eq!(
        std::fs::read_to_string(chat)
            .expect("csv")
            .lines()
            .collect::<Vec<_>>(),
        vec!["chat_id,n", "c3,2"]
    );
    // Exports never hold another subject's rows.
    for f in &files {
        let body = std::fs::read_to_string(f).expect("csv");
        assert!(!body.contains("u1") && !body.contains("u3"), "{f}: {body}");
    }
    assert_eq!(
        apply(&p, "ACCESS", "nobody", "acc-2")["result"]["code"],
        "201"
    );
}

#[test]
fn hostile_ids_are_rejected_or_bound_as_values() {
    let p = project("");
    for id in ["x' OR '1'='1", "%", "u1; drop table events", ""] {
        let r = apply(&p, "ERASURE", id, &format!("bad-{}", id.len()));
        assert_eq!(r["result"]["code"], "500", "{id}: {r}");
        assert_eq!(r["result"]["reason"], "invalid guid");
    }
    assert_eq!(
        count(&p, "select count(*) from events"),
        5,
        "nothing deleted"
    );

    // With a permissive pattern the ids reach SQL, but only as bound values.
    let p = project("rights:\n  subject_id_pattern: '^.{1,4000}$'\n");
    p.query(
        "gdpr",
        "insert into events values ('ユーザー', 'c8', 'unicode')",
    );
    let long = "L".repeat(3000);
    for (i, id) in ["x' OR '1'='1", "%", "u_", "u1' --", &long]
        .iter()
        .enumerate()
    {
        let r = apply(&p, "ERASURE", id, &format!("h-{i}"));
        assert_eq!(r["result"]["code"], "201", "{id}: {r}");
    }
    assert_eq!(
        count(&p, "select count(*) from events"),
        6,
        "no other subject's rows were touched"
    );
    let r = apply(&p, "ERASURE", "ユーザー", "uni");
    assert_eq!(r["result"]["code"], "200");
    assert_eq!(count(&p, "select count(*) from events"), 5);
    assert_eq!(
        count(&p, "select count(*) from events where user_id = 'u1'"),
        2
    );
}

#[test]
fn malformed_requests_get_a_500_with_a_reason() {
    let p = project("");
    let r = p.strata(&[
        "rights",
        "apply",
        "--type",
        "DELETE",
        "--guid",
        "u1",
        "--request-id",
        "r",
    ]);
    r.assert_code(1);
    let v: serde_json::Value =
        serde_json::from_str(r.stdout.lines().last().unwrap_or_default()).expect("json");
    assert_eq!(v["result"]["code"], "500");
    assert!(v["result"]["reason"]
        .as_str()
        .unwrap_or_default()
        .contains("unknown right_type 'DELETE'"));
    assert_eq!(count(&p, "select count(*) from events"), 5);
}

#[test]
fn purge_rewrites_what_erasures_touched() {
    let p = project("rights:\n  purge_deadline_hours: 0\n");
    p.write(
        "models/chats.sql",
        "{{ config(materialized='view') }}\nselect distinct chat_id from {{ ref('events') }}\n",
    );
    p.strata(&["run", "-s", "chats"]).assert_ok();
    // A value only u1's row holds, written into the file itself (not only its log).
    let marker = "zq7-only-in-u1s-message";
    p.query(
        "gdpr",
        &format!("insert into events values ('u1', 'c1', '{marker}'); checkpoint"),
    );
    let in_file = || {
        let db = p.db_path("gdpr");
        let mut wal = db.clone().into_os_string();
        wal.push(".wal");
        [db, wal.into()].iter().any(|f| {
            std::fs::read(f)
                .is_ok_and(|bytes| bytes.windows(marker.len()).any(|w| w == marker.as_bytes()))
        })
    };
    assert!(in_file());
    assert_eq!(apply(&p, "ERASURE", "u1", "p-1")["result"]["code"], "200");
    assert!(
        in_file(),
        "DuckDB keeps a deleted row's bytes in the file until it is rewritten"
    );
    assert_eq!(apply(&p, "ERASURE", "u2", "p-2")["result"]["code"], "200");
    assert_eq!(
        apply(&p, "ERASURE", "nobody", "p-3")["result"]["code"],
        "201"
    );
    p.strata(&["rights", "purge"])
        .assert_ok()
        .assert_contains("Purged the tables of 2 erasures");
    assert!(
        !in_file(),
        "after the purge the erased row is gone from the file"
    );
    assert_eq!(
        flat(&p.query(
            "gdpr",
            "select count(*), count(distinct user_id) from events"
        )),
        "1,1",
        "everything else is still there"
    );
    assert_eq!(
        flat(&p.query("gdpr", "select chat_id from chats")),
        "c4",
        "views too"
    );
    p.strata(&["rights", "purge"])
        .assert_ok()
        .assert_contains("Purged the tables of 0 erasures");
    assert_eq!(
        apply(&p, "SA_WITHDRAW", "u3", "p-4")["result"]["code"],
        "200"
    );
    p.strata(&["rights", "purge"])
        .assert_ok()
        .assert_contains("Purged the tables of 1 erasures");
}

#[test]
fn undeclared_personal_data_is_an_error() {
    // Without a rights section, a user_id column is just a column (as in dbt).
    let plain = TestProject::new("plain", "");
    plain.write("models/m.sql", "select 'u1' as user_id\n");
    plain.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: m\n    columns: [{name: user_id}]\n",
    );
    plain.strata(&["build"]).assert_ok();

    let p = TestProject::new("cov", "rights:\n  subject_columns: [user_id, guid]\n");
    p.write(
        "models/m.sql",
        "{{ config(materialized='table') }}\nselect 'u1' as user_id, 1 as n\n",
    );
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: m\n    columns: [{name: user_id}, {name: n}]\n",
    );
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("m has subject column 'user_id' but declares no personal data");
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: m\n    meta: {personal_data: {subject_key: guid}}\n    columns: [{name: user_id}, {name: n}]\n",
    );
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("declared subject_key 'guid' is not a column of it");
    // Columns the YAML does not list are found in the warehouse by `test`.
    p.write(
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: m\n    description: no columns listed\n",
    );
    p.strata(&["run"]).assert_ok();
    p.strata(&["test"])
        .assert_code(2)
        .assert_contains("declares no personal data");
}

/// `rights apply` / `consume` answer nothing until what the warehouse holds is covered: a
/// model whose YAML lists no columns, a table left behind by a removed model, and a `via`
/// naming a column its relation lacks are each refused before any SQL touches a subject.
#[test]
fn requests_wait_until_the_warehouse_is_covered() {
    let p = project("");
    let refused = |needle: &str| {
        p.strata(&["rights", "apply", "--type", "ERASURE", "--guid", "u1"])
            .assert_code(2)
            .assert_contains(needle);
        assert_eq!(
            count(&p, "select count(*) from events where user_id = 'u1'"),
            2,
            "nothing was erased"
        );
    };
    p.write(
        "models/user_export.sql",
        "select user_id, count(*) as events from {{ ref('events') }} group by user_id\n",
    );
    p.strata(&["run"]).assert_ok();
    refused("user_export has subject column 'user_id' but declares no personal data");

    p.remove("models/user_export.sql");
    refused(
        "table main.user_export has subject column 'user_id' but no model or seed of this \
         project builds it",
    );
    p.write(
        "project.yml",
        &format!(
            "name: gdpr\n{PROJECT_YML}rights:\n  exempt_relations:\n    user_export: a copy kept for the auditors\n"
        ),
    );
    assert_eq!(apply(&p, "ERASURE", "u3", "req-1")["result"]["code"], "200");

    // A removed model that had its own schema leaves its table where no model builds now.
    p.write(
        "models/elsewhere.sql",
        "{{ config(schema='extra') }}\nselect user_id from {{ ref('events') }}\n",
    );
    p.write(
        "models/more.yml",
        "version: 2\nmodels:\n  - name: elsewhere\n    meta: {personal_data: {subject_key: user_id}}\n",
    );
    p.strata(&["run", "-s", "elsewhere"]).assert_ok();
    p.remove("models/elsewhere.sql");
    p.remove("models/more.yml");
    refused("table main_extra.elsewhere has subject column 'user_id' but no model or seed");
    p.query("gdpr", "drop table main_extra.elsewhere");

    let schema = p.read("models/schema.yml");
    p.write(
        "models/schema.yml",
        &schema.replace("key: chat_id, subject_key", "key: chat_idd, subject_key"),
    );
    refused("personal_data.via.key 'chat_idd' is not a column of events");
    assert!(
        p.strata(&["rights", "apply", "--type", "ERASURE", "--guid", "u1"])
            .output()
            .contains("schema.yml"),
        "the error names the file"
    );
}

/// ACCESS exports are copies of a subject's data: a purge deletes those older than
/// `rights.access_retention_hours` (default 72), once, and leaves younger ones.
#[test]
fn access_exports_are_deleted_after_their_retention() {
    let p = project("");
    let files = |r: &serde_json::Value| -> Vec<String> {
        r["result"]["attachments"]
            .as_array()
            .expect("attachments")
            .iter()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect()
    };
    let young = apply(&p, "ACCESS", "u1", "acc-1");
    let young = files(&young);
    assert!(!young.is_empty());
    p.strata(&["rights", "purge"])
        .assert_ok()
        .assert_contains("Removed the ACCESS exports of 0 requests");
    assert!(young.iter().all(|f| std::path::Path::new(f).exists()));

    p.write(
        "project.yml",
        &format!("name: gdpr\n{PROJECT_YML}rights:\n  access_retention_hours: 0\n"),
    );
    p.strata(&["rights", "purge"])
        .assert_ok()
        .assert_contains("Removed the ACCESS exports of 1 requests");
    assert!(young.iter().all(|f| !std::path::Path::new(f).exists()));
    p.strata(&["rights", "purge"])
        .assert_ok()
        .assert_contains("Removed the ACCESS exports of 0 requests");
}

/// The purge's rewrite keeps what the file was: a symbolic link stays a link (the real file
/// is rewritten, not replaced beside it), its permissions stay, and a database with a
/// foreign key (which DuckDB's COPY FROM DATABASE refuses) is rewritten through
/// EXPORT / IMPORT.
#[test]
fn purge_rewrites_the_real_file_and_keeps_permissions_and_foreign_keys() {
    use std::os::unix::fs::PermissionsExt;
    let p = project("rights:\n  purge_deadline_hours: 0\n");
    let link = p.db_path("gdpr");
    let real = p.path().join("store/real.duckdb");
    std::fs::create_dir_all(real.parent().expect("parent")).expect("mkdir");
    std::fs::rename(&link, &real).expect("move");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let marker = "zq8-only-in-u1s-message";
    p.query(
        "gdpr",
        &format!(
            "create table parent (id int primary key); \
             create table child (id int, parent_id int references parent (id)); \
             insert into parent values (1); insert into child values (10, 1); \
             insert into events values ('u1', 'c1', '{marker}'); checkpoint"
        ),
    );
    let in_real = || {
        std::fs::read(&real)
            .expect("read")
            .windows(marker.len())
            .any(|w| w == marker.as_bytes())
    };
    assert!(in_real());
    assert_eq!(apply(&p, "ERASURE", "u1", "fk-1")["result"]["code"], "200");
    p.strata(&["rights", "purge"])
        .assert_ok()
        .assert_contains("Purged the tables of 1 erasures");
    assert!(!in_real(), "the real file was rewritten");
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink(),
        "the link is still a link"
    );
    let mode = std::fs::metadata(&real).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "permissions kept");
    assert_eq!(flat(&p.query("gdpr", "select * from child")), "10,1");
}

/// `rights_valid_subject_id(expr)` tells ids the rights engine accepts from ids no request
/// could name (the reference project's staging quarantines the latter as invalid_user_id).
#[test]
fn subject_ids_no_request_could_name_are_told_apart() {
    let p = TestProject::new("ids", "rights:\n  subject_id_pattern: '^u[0-9]+$'\n");
    p.write(
        "models/m.sql",
        "select id, {{ rights_valid_subject_id('id') }} as ok \
         from (values (1, 'u1'), (2, 'x'), (3, 'u1; drop'), (4, null)) t(n, id) order by n\n",
    );
    p.strata(&["run"]).assert_ok();
    assert_eq!(
        flat(&p.query("ids", "select ok from m")),
        "true|false|false|false"
    );
    let d = TestProject::new("dflt", "");
    d.write(
        "models/m.sql",
        "select {{ rights_valid_subject_id(\"'jane+test@example.com'\") }} as plus, \
         {{ rights_valid_subject_id(\"'8f3e602c-5cd9-4914-bf49-2e62322e5b24'\") }} as guid\n",
    );
    d.strata(&["run"]).assert_ok();
    assert_eq!(
        flat(&d.query("dflt", "select plus, guid from m")),
        "false,true"
    );
}

#[test]
fn msk_iam_without_a_region_is_a_clear_error() {
    let p = project("rights:\n  security_protocol: SASL_SSL\n  sasl_mechanism: AWS_MSK_IAM\n");
    let run = p.strata_env(
        &[
            "rights",
            "consume",
            "--brokers",
            "127.0.0.1:9",
            "--idle-exit-seconds",
            "1",
        ],
        &[("AWS_REGION", ""), ("AWS_DEFAULT_REGION", "")],
    );
    assert_ne!(run.code, 0, "{}", run.output());
    run.assert_contains("MSK IAM needs the cluster's region: rights.aws_region, or AWS_REGION");
}

/// A snapshot keeps the history of personal data: it must be declared like any relation,
/// and an erasure deletes the subject's rows from it, every version.
#[test]
fn erasure_covers_snapshot_history() {
    let p = project("");
    p.write(
        "snapshots/events_history.sql",
        "{% snapshot events_history %}\n{{ config(unique_key=['user_id', 'chat_id', 'msg'], strategy='check', check_cols='all') }}\nselect * from {{ ref('events') }}\n{% endsnapshot %}\n",
    );
    p.strata(&["snapshot"]).assert_ok();
    assert_eq!(
        count(
            &p,
            "select count(*) from events_history where user_id = 'u1'"
        ),
        2
    );
    p.strata(&["rights", "apply", "--type", "ERASURE", "--guid", "u1"])
        .assert_code(2)
        .assert_contains(
            "events_history has subject column 'user_id' but declares no personal data",
        );
    assert_eq!(
        count(
            &p,
            "select count(*) from events_history where user_id = 'u1'"
        ),
        2
    );
    p.write(
        "snapshots/schema.yml",
        "version: 2\nsnapshots:\n  - name: events_history\n    meta: {personal_data: {subject_key: user_id}}\n",
    );
    let r = apply(&p, "ERASURE", "u1", "req-snap");
    assert_eq!(r["result"]["code"], "200", "{r}");
    assert_eq!(
        count(
            &p,
            "select count(*) from events_history where user_id = 'u1'"
        ),
        0
    );
    assert_eq!(
        count(
            &p,
            "select count(*) from events_history where user_id = 'u2'"
        ),
        2
    );
}

/// An export that fails after writing some of its files leaves none behind (they hold the
/// subject's personal data, and no answer points at them): the request is answered 500,
/// saying its files were deleted.
#[test]
fn a_failed_export_deletes_what_it_wrote() {
    let p = project("");
    p.write(
        "models/rights/access.sql",
        "{{ config(materialized='procedure', right_types=['ACCESS']) }}\n\
         {{ rights_export(rights.batch, rights.declared, rights.right_types, rights.access_path) }}\n\
         select error('the export broke half way');\n",
    );
    let r = apply(&p, "ACCESS", "u2", "acc-fail");
    assert_eq!(r["result"]["code"], "500", "{r}");
    let reason = r["result"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("the export broke half way")
            && reason.contains("files it had written were deleted"),
        "{r}"
    );
    let written = p.path().join("target/rights/access");
    let mut left = Vec::new();
    let mut dirs = vec![written];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                left.push(path);
            }
        }
    }
    assert!(
        left.is_empty(),
        "files of the failed export remain: {left:?}"
    );
}

/// A subject whose only trace is lines without a readable subject id, in a relation that
/// declares `raw_text`, has data: ACCESS exports those lines, ERASURE deletes them and
/// proves it (before, the existence check missed them: 201, and the lines stayed).
#[test]
fn lines_naming_a_subject_only_in_their_raw_text_are_the_subjects() {
    let p = project("");
    p.write(
        "seeds/quarantine.csv",
        "user_id,raw\n,\"{\"\"user\"\": \"\"u9\"\", \"\"broken\"\n,\"{\"\"user\"\": \"\"u99\"\"}\"\nu3,\"{\"\"user_id\"\": \"\"u3\"\"}\"\n",
    );
    p.write(
        "seeds/quarantine.yml",
        "version: 2\nseeds:\n  - name: quarantine\n    meta: {personal_data: {subject_key: user_id, raw_text: raw}}\n    columns: [{name: user_id}, {name: raw}]\n",
    );
    p.strata(&["seed"]).assert_ok();
    let access = apply(&p, "ACCESS", "u9", "q-acc");
    assert_eq!(access["result"]["code"], "200", "{access}");
    let files: Vec<String> = access["result"]["attachments"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let exported = files
        .iter()
        .find(|f| f.contains("/quarantine/"))
        .map(|f| std::fs::read_to_string(f).expect("export"))
        .unwrap_or_else(|| panic!("the quarantined line is exported: {files:?}"));
    assert!(
        exported.contains("u9") && !exported.contains("u99"),
        "{exported}"
    );
    let erased = apply(&p, "ERASURE", "u9", "q-del");
    assert_eq!(erased["result"]["code"], "200", "{erased}");
    assert_eq!(
        p.scalar("gdpr", "select string_agg(coalesce(user_id, '-') || ':' || raw, '|' order by raw) from quarantine"),
        "-:{\"user\": \"u99\"}|u3:{\"user_id\": \"u3\"}",
        "u9's line is gone; a line naming u99 (not u9 as a whole string) and u3's stay"
    );
}

/// A source that declares personal data binds the models reading it (a new model without a
/// declaration is refused, even through a view), and a source table is erased with the rest.
#[test]
fn sources_declare_personal_data_too() {
    let p = project("");
    p.query(
        "gdpr",
        "create schema landing; create table landing.signups as \
         select * from (values ('u1', 'a@x'), ('u2', 'b@x'), ('u1', 'c@x')) t(user_id, email)",
    );
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: landing\n    tables:\n      - name: signups\n        meta: {personal_data: {subject_key: user_id}}\n      - name: feed\n        meta: {external_location: 'feed.csv', personal_data: {subject_key: user_id}}\n",
    );
    p.write(
        "models/signups_clean.sql",
        "{{ config(materialized='view') }}\nselect user_id, lower(email) as email from {{ source('landing', 'signups') }}\n",
    );
    p.write(
        "models/signup_counts.sql",
        "{{ config(materialized='table') }}\nselect user_id as signed_up_by, count(*) as n from {{ ref('signups_clean') }} group by 1\n",
    );
    p.strata(&["compile"]).assert_code(2).assert_contains(
        "signup_counts reads source landing.signups through signups_clean, which declares \
         personal data, but declares none itself",
    );
    p.write(
        "models/signups.yml",
        "version: 2\nmodels:\n  - name: signup_counts\n    meta: {personal_data: {subject_key: signed_up_by}}\n",
    );
    p.strata(&["build"]).assert_ok();
    p.strata(&["rights", "declared"])
        .assert_ok()
        .assert_contains("landing.signups: user_id");

    let r = apply(&p, "ERASURE", "u1", "src-1");
    assert_eq!(r["result"]["code"], "200", "{r}");
    assert_eq!(
        p.scalar(
            "gdpr",
            "select string_agg(user_id, ',') from landing.signups"
        ),
        "u2",
        "the source table lost u1's rows and kept u2's"
    );
    assert_eq!(
        count(
            &p,
            "select count(*) from signup_counts where signed_up_by = 'u1'"
        ),
        0
    );
    // A subject only the source holds is found there (not 201).
    p.query("gdpr", "insert into landing.signups values ('u7', 'd@x')");
    let only_source = apply(&p, "ERASURE", "u7", "src-2");
    assert_eq!(only_source["result"]["code"], "200", "{only_source}");
    assert_eq!(
        count(
            &p,
            "select count(*) from landing.signups where user_id = 'u7'"
        ),
        0
    );

    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: landing\n    tables:\n      - name: signups\n        meta: {personal_data: {subject_key: user_id, via: {relation: events, key: user_id, subject_key: user_id}}}\n",
    );
    p.strata(&["compile"])
        .assert_code(2)
        .assert_contains("source landing.signups: meta.personal_data.via is for models and seeds");
}
