//! Erasure enforced at write time (DuckDB): once the ledger holds a subject as erased, no
//! write of a relation that declares personal data brings its rows back, whichever
//! materialization writes them and wherever the rows come from.

use crate::common::{rights_project, TestProject};

fn count(p: &TestProject, sql: &str) -> i64 {
    p.scalar("gdpr", sql).parse().expect("a number")
}

fn erase(p: &TestProject, guid: &str, request_id: &str) {
    let r = p.strata(&[
        "rights",
        "apply",
        "--type",
        "ERASURE",
        "--guid",
        guid,
        "--request-id",
        request_id,
    ]);
    assert!(r.stdout.contains(r#""code":"200""#), "{}", r.output());
}

/// A rebuild reloads the seed from its CSV file, which still holds u1's lines: the seed, the
/// models built over it, and new models, an incremental model and a snapshot whose rows do
/// not come from any filtered relation all leave u1 out (and chats reached through u1's
/// rows). Before, the seed's reload brought u1 back everywhere.
#[test]
fn no_declared_write_brings_an_erased_subject_back() {
    let p = rights_project("");
    erase(&p, "u1", "e1");
    assert_eq!(
        count(&p, "select count(*) from events where user_id = 'u1'"),
        0
    );
    p.write(
        "models/late_rows.sql",
        "select * from (values ('u1', 1), ('u2', 2), (null, 3)) as v(user_id, n)\n",
    );
    p.write(
        "models/late_incremental.sql",
        "{{ config(materialized='incremental', unique_key='n') }}\n\
         select * from (values ('u1', 1), ('u2', 2)) as v(user_id, n)\n",
    );
    p.write(
        "models/late_chats.sql",
        "select * from (values ('c1', 1), ('c2', 2), ('c3', 3)) as v(chat_id, n)\n",
    );
    p.write(
        "snapshots/late_snap.sql",
        "{% snapshot late_snap %}\n\
         {{ config(target_schema=target.schema, unique_key='user_id', strategy='check', check_cols='all') }}\n\
         select * from (values ('u1', 1), ('u2', 2)) as v(user_id, n)\n\
         {% endsnapshot %}\n",
    );
    p.write(
        "models/late.yml",
        r#"version: 2
models:
  - name: late_rows
    meta: {personal_data: {subject_key: user_id}}
  - name: late_incremental
    meta: {personal_data: {subject_key: user_id}}
  - name: late_chats
    meta:
      personal_data:
        subject_key: chat_id
        via: {relation: events, key: chat_id, subject_key: user_id}
snapshots:
  - name: late_snap
    meta: {personal_data: {subject_key: user_id}}
"#,
    );
    p.strata(&["build"]).assert_ok();
    // Twice: the incremental model merges and the snapshot compares on the second run.
    p.strata(&["build"]).assert_ok();
    for (table, column) in [
        ("events", "user_id"),
        ("user_daily", "user_id"),
        ("late_rows", "user_id"),
        ("late_incremental", "user_id"),
        ("late_snap", "user_id"),
    ] {
        assert_eq!(
            count(
                &p,
                &format!("select count(*) from {table} where {column} = 'u1'")
            ),
            0,
            "{table} has no row of u1"
        );
    }
    assert_eq!(
        count(&p, "select count(*) from events where user_id = 'u2'"),
        2,
        "other subjects' rows are all there"
    );
    assert_eq!(
        p.scalar(
            "gdpr",
            "select string_agg(coalesce(user_id, 'null'), ',' order by n) from late_rows"
        ),
        "u2,null",
        "a row that belongs to no one is kept"
    );
    assert_eq!(
        p.scalar(
            "gdpr",
            "select string_agg(chat_id, ',' order by n) from late_chats"
        ),
        "c3",
        "u1's chats, captured by the erasure, are left out of a relation reached through events"
    );
    assert_eq!(
        p.scalar(
            "gdpr",
            "select string_agg(chat_id, ',' order by chat_id) from chat_daily"
        ),
        "c3,c4"
    );
    assert_eq!(count(&p, "select count(*) from late_snap"), 1);
    assert_eq!(count(&p, "select count(*) from late_incremental"), 1);
}

/// A request that is still being answered counts: its subject's rows are left out of a
/// write from the moment the ledger records it as started (a build running beside it must
/// not write back what it is deleting).
#[test]
fn a_started_erasure_is_left_out_of_writes_too() {
    let p = rights_project("");
    p.query(
        "gdpr",
        "insert into strata_rights_ledger (request_id, guid, right_type, phase) \
         values ('e2', 'u2', 'SA_WITHDRAW', 'started')",
    );
    p.strata(&["build", "--select", "events", "user_daily"])
        .assert_ok();
    assert_eq!(
        count(&p, "select count(*) from events where user_id = 'u2'"),
        0
    );
    assert_eq!(
        count(&p, "select count(*) from user_daily where user_id = 'u2'"),
        0
    );
    assert_eq!(
        count(&p, "select count(*) from events where user_id <> 'u2'"),
        3
    );
}

/// A declaration naming a column the model does not have fails the build with an error that
/// names the declaration (the filter is not in the compiled SQL, so the engine's error alone
/// points at SQL the user never wrote).
#[test]
fn a_subject_key_the_model_lacks_is_explained() {
    let p = rights_project("");
    p.write("models/typo.sql", "select 'u1' as user_id, 1 as n\n");
    p.write(
        "models/typo.yml",
        "version: 2\nmodels:\n  - name: typo\n    meta: {personal_data: {subject_key: userid}}\n",
    );
    let run = p.strata(&["run", "--select", "typo"]);
    assert_ne!(run.code, 0, "{}", run.output());
    assert!(
        run.output().contains(
            "the build leaves out erased subjects' rows by the column 'userid' \
             (meta.personal_data.subject_key of typo, in models/typo.yml)"
        ),
        "{}",
        run.output()
    );
}
