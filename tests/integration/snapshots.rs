//! Snapshots (`strata snapshot`, and in `build`): dbt's type-2 history tables, checked
//! against the rows and dbt_scd_id values dbt-core 1.12 + dbt-duckdb write for the same
//! project.

use crate::common::{flat, TestProject};

fn project() -> TestProject {
    let p = TestProject::new("sn", "");
    p.write(
        "models/sources.yml",
        "version: 2\nsources:\n  - name: app\n    schema: main\n    tables: [{name: users}]\n",
    );
    p.write(
        "snapshots/users.sql",
        "{% snapshot users_ts %}\n{{ config(target_schema='snapshots', unique_key='id', strategy='timestamp', updated_at='updated_at', invalidate_hard_deletes=True) }}\nselect * from {{ source('app', 'users') }}\n{% endsnapshot %}\n\n{% snapshot users_check %}\n{{ config(target_schema='snapshots', unique_key='id', strategy='check', check_cols=['email']) }}\nselect * from {{ source('app', 'users') }}\n{% endsnapshot %}\n",
    );
    p.write(
        "models/current_users.sql",
        "select id, email from {{ ref('users_ts') }} where dbt_valid_to is null\n",
    );
    std::fs::create_dir_all(p.path().join("target")).expect("mkdir");
    sql(&p, "create table main.users as select * from (values (1, 'a@x', timestamp '2026-01-01 00:00:00'), (2, 'b@x', timestamp '2026-01-01 00:00:00'), (3, 'c@x', timestamp '2026-01-01 00:00:00')) t(id, email, updated_at)");
    p
}

fn sql(p: &TestProject, statements: &str) {
    duckdb::Connection::open(p.db_path("sn"))
        .expect("open")
        .execute_batch(statements)
        .expect("sql");
}

#[test]
fn snapshots_keep_history_as_dbt_does() {
    let p = project();
    let r = p.strata(&["build"]);
    r.assert_ok()
        .assert_contains("START snapshot snapshots.users_ts")
        .assert_contains("OK snapshotted snapshots.users_ts");
    // The model reading the snapshot runs after it.
    assert_eq!(
        flat(&p.query("sn", "select * from main.current_users order by id")),
        "1,a@x|2,b@x|3,c@x"
    );
    // One changed, one deleted, one new row, and a new column.
    sql(
        &p,
        "update main.users set email = 'a2@x', updated_at = timestamp '2026-02-01 00:00:00' where id = 1;
         delete from main.users where id = 2;
         insert into main.users values (4, 'd@x', timestamp '2026-02-01 00:00:00');
         alter table main.users add column plan varchar;",
    );
    p.strata(&["snapshot"])
        .assert_ok()
        .assert_contains("PASS=2");
    assert_eq!(
        flat(&p.query(
            "sn",
            "select id, email, dbt_scd_id, dbt_valid_from, dbt_valid_to is null from snapshots.users_ts order by id, dbt_valid_from"
        )),
        "1,a@x,53f6e6a23dae12b0512ebdf6d433712c,2026-01-01 00:00:00,false|\
         1,a2@x,869733b5f9d6232f924a2293482fda09,2026-02-01 00:00:00,true|\
         2,b@x,7dd44d76bed60acec6c3e3b8be6d56cd,2026-01-01 00:00:00,false|\
         3,c@x,cb8aa796c69bbe53558c8f5a29a8b108,2026-01-01 00:00:00,true|\
         4,d@x,7b8be6493cbb42526d7ecbd9c7af8f46,2026-02-01 00:00:00,true"
    );
    // The closed version ends where the new one starts.
    assert_eq!(
        p.scalar(
            "sn",
            "select dbt_valid_to from snapshots.users_ts where id = 1 and email = 'a@x'"
        ),
        "2026-02-01 00:00:00"
    );
    // check strategy, without invalidating deletes: id 2 stays current.
    assert_eq!(
        flat(&p.query("sn", "select id, email, dbt_valid_to is null from snapshots.users_check order by id, dbt_valid_from")),
        "1,a@x,false|1,a2@x,true|2,b@x,true|3,c@x,true|4,d@x,true"
    );
    assert_eq!(
        p.scalar("sn", "select string_agg(column_name, ',' order by ordinal_position) from information_schema.columns where table_name = 'users_ts'"),
        "id,email,updated_at,dbt_scd_id,dbt_updated_at,dbt_valid_from,dbt_valid_to,plan"
    );
    // Nothing changed: nothing new.
    p.strata(&["snapshot"]).assert_ok();
    assert_eq!(
        p.scalar("sn", "select count(*) from snapshots.users_ts"),
        "5"
    );
    // No staging table is left behind.
    assert_eq!(
        p.scalar(
            "sn",
            "select count(*) from information_schema.tables where table_name like '%strata%'"
        ),
        "0"
    );
    let r = p.strata(&["ls", "--resource-type", "snapshot"]);
    r.assert_ok();
    assert_eq!(r.stdout.trim(), "sn.users.users_check\nsn.users.users_ts");
    // `run` leaves snapshots alone: the one model only (reused: unchanged view).
    p.strata(&["run"]).assert_ok().assert_contains("TOTAL=1");
    // As dbt: no --full-refresh for snapshots; show previews a snapshot's query.
    p.strata(&["snapshot", "--full-refresh"])
        .assert_code(2)
        .assert_contains("snapshot does not take --full-refresh");
    p.strata(&["show", "-s", "users_check", "--limit", "10"])
        .assert_ok()
        .assert_contains("a2@x");
}

#[test]
fn snapshot_settings_are_checked() {
    let p = project();
    p.remove("models/current_users.sql");
    p.write(
        "snapshots/users.sql",
        "{% snapshot s %}\n{{ config(target_schema='snapshots', strategy='timestamp', updated_at='updated_at') }}\nselect 1 as id\n{% endsnapshot %}\n",
    );
    // Checked when the project is read, as dbt does: nothing runs, ls neither.
    p.strata(&["ls"])
        .assert_code(2)
        .assert_contains("snapshots/users.sql")
        .assert_contains("snapshot 's': needs a unique_key");
    p.write(
        "snapshots/users.sql",
        "{% snapshot s %}\n{{ config(unique_key='id', strategy='check') }}\nselect 1 as id\n{% endsnapshot %}\n",
    );
    p.strata(&["run"])
        .assert_code(2)
        .assert_contains("the check strategy needs check_cols");
    p.write(
        "snapshots/users.sql",
        "{% snapshot s %}\n{{ config(unique_key='id', strategy='check', check_cols='all', snapshot_meta_column_names={'dbt_valid_from': 'valid_from'}) }}\nselect 1 as id\n{% endsnapshot %}\n",
    );
    p.strata(&["ls"])
        .assert_code(2)
        .assert_contains("snapshot_meta_column_names is not supported");
    p.write("snapshots/users.sql", "{% snapshot s %}\nselect 1 as id\n");
    p.strata(&["ls"])
        .assert_code(2)
        .assert_contains("snapshots/users.sql")
        .assert_contains("snapshot 's' has no {% endsnapshot %}");
}

/// check_cols 'all': when the query gains a column every current row becomes a new
/// version (dbt), so the new column's values are recorded; with updated_at set, the check
/// strategy stamps versions with it.
#[test]
fn check_all_records_a_new_column_and_updated_at_stamps_versions() {
    let p = project();
    p.write(
        "snapshots/users.sql",
        "{% snapshot users_all %}\n{{ config(target_schema='snapshots', unique_key='id', strategy='check', check_cols='all', updated_at='updated_at') }}\nselect * from {{ source('app', 'users') }}\n{% endsnapshot %}\n",
    );
    p.remove("models/current_users.sql");
    p.strata(&["snapshot"]).assert_ok();
    assert_eq!(
        p.scalar("sn", "select min(dbt_valid_from) from snapshots.users_all"),
        "2026-01-01 00:00:00"
    );
    sql(&p, "alter table main.users add column plan varchar; update main.users set plan = 'pro' where id = 3;");
    p.strata(&["snapshot"]).assert_ok();
    assert_eq!(
        flat(&p.query("sn", "select id, plan, dbt_valid_to is null from snapshots.users_all order by id, dbt_valid_to nulls last")),
        "1,NULL,false|1,NULL,true|2,NULL,false|2,NULL,true|3,NULL,false|3,pro,true"
    );
}

/// `snapshots:` in YAML: properties and tests for snapshots from files, and snapshots
/// defined there (dbt 1.9 `relation:`), configured from the YAML.
#[test]
fn snapshots_in_yaml_get_tests_and_can_be_defined_there() {
    let p = project();
    p.remove("models/current_users.sql");
    p.write(
        "snapshots/props.yml",
        "version: 2\nsnapshots:\n  - name: users_ts\n    description: history of users\n    columns:\n      - name: dbt_scd_id\n        data_tests: [unique]\n  - name: users_from_yaml\n    relation: source('app', 'users')\n    config: {schema: hist, unique_key: id, strategy: timestamp, updated_at: updated_at}\n    columns:\n      - name: id\n        data_tests: [not_null]\n",
    );
    let r = p.strata(&["ls", "--output", "name"]);
    r.assert_ok();
    for name in [
        "users_from_yaml",
        "unique_users_ts_dbt_scd_id",
        "not_null_users_from_yaml_id",
    ] {
        assert!(r.stdout.lines().any(|l| l == name), "{name}:\n{}", r.stdout);
    }
    p.strata(&["build"]).assert_ok().assert_contains("PASS=5");
    assert_eq!(
        p.scalar("sn", "select count(*) from main_hist.users_from_yaml"),
        "3"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&p.read("target/manifest.json")).expect("manifest");
    assert_eq!(
        manifest["nodes"]["snapshot.sn.users_ts"]["description"],
        "history of users"
    );
}

/// dbt_valid_to_current: current versions carry that value instead of NULL, and are still
/// found as current on the next run (same rows as dbt-core 1.12 + dbt-duckdb).
#[test]
fn valid_to_current_marks_current_versions() {
    let p = project();
    p.remove("models/current_users.sql");
    p.write(
        "snapshots/users.sql",
        "{% snapshot users_v %}\n{{ config(target_schema='snapshots', unique_key='id', strategy='timestamp', updated_at='updated_at', dbt_valid_to_current=\"cast('9999-12-31' as timestamp)\") }}\nselect * from {{ source('app', 'users') }}\n{% endsnapshot %}\n",
    );
    p.strata(&["snapshot"]).assert_ok();
    sql(&p, "update main.users set email = 'a2@x', updated_at = timestamp '2026-02-01 00:00:00' where id = 1;");
    p.strata(&["snapshot"]).assert_ok();
    assert_eq!(
        flat(&p.query("sn", "select id, email, dbt_valid_to from snapshots.users_v order by id, dbt_valid_from")),
        "1,a@x,2026-02-01 00:00:00|1,a2@x,9999-12-31 00:00:00|2,b@x,9999-12-31 00:00:00|3,c@x,9999-12-31 00:00:00"
    );
}

/// hard_deletes: new_record: a deleted key gets a row with dbt_is_deleted = 'True' (once),
/// and a new version when it comes back (the same rows as dbt-core 1.12 + dbt-duckdb).
#[test]
fn new_record_keeps_a_row_for_each_deletion() {
    let p = project();
    p.remove("models/current_users.sql");
    p.write(
        "snapshots/users.sql",
        "{% snapshot users_nr %}\n{{ config(target_schema='snapshots', unique_key='id', strategy='timestamp', updated_at='updated_at', hard_deletes='new_record') }}\nselect * from {{ source('app', 'users') }}\n{% endsnapshot %}\n",
    );
    p.strata(&["snapshot"]).assert_ok();
    sql(&p, "delete from main.users where id = 2;");
    p.strata(&["snapshot"]).assert_ok();
    p.strata(&["snapshot"]).assert_ok();
    sql(
        &p,
        "insert into main.users values (2, 'b2@x', timestamp '2026-03-01 00:00:00');",
    );
    p.strata(&["snapshot"]).assert_ok();
    assert_eq!(
        flat(&p.query("sn", "select id, email, dbt_is_deleted, dbt_valid_to is null from snapshots.users_nr where id = 2 order by dbt_is_deleted, email")),
        "2,b2@x,False,true|2,b@x,False,false|2,b@x,True,false"
    );
    assert_eq!(
        p.scalar("sn", "select count(*) from snapshots.users_nr"),
        "5"
    );
}
