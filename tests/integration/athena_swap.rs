//! Athena writes that leave a readable table at every instant: a table swapped in whose
//! second rename fails gets its old table renamed back; a swap a crash left half done (the
//! table missing, its backup there) is put back by the next run before it builds; an
//! `insert_overwrite` is one MERGE, so a failed one changes nothing. moto runs no SQL: what
//! is shown is the statements sent (through the recording, fault-injecting proxy), the run's
//! messages and, for the MERGE's meaning, the same statement run on DuckDB.

use crate::athena::{athena_profile, unique, AWS_ENV};
use crate::common::aws::{self, Fault, Proxy, Rule};
use crate::common::TestProject;

/// The started queries with the invocation's part of temporary names as `<id>`.
fn started(proxy: &Proxy) -> Vec<String> {
    let temp = regex::Regex::new(r"(__strata_[a-z]+)_[0-9a-f]{8}\b").expect("regex");
    proxy
        .started_queries()
        .iter()
        .map(|q| temp.replace_all(q, "${1}_<id>").into_owned())
        .collect()
}

/// Statements that change a table (anything but a read).
fn is_write(sql: &str) -> bool {
    let first = sql.split_whitespace().next().unwrap_or("").to_lowercase();
    [
        "insert", "delete", "merge", "create", "alter", "drop", "update",
    ]
    .contains(&first.as_str())
}

#[test]
fn a_failed_rename_into_place_puts_the_old_table_back() {
    let region = "eu-north-1";
    let schema = unique("swapfail");
    let target_rename = format!("rename to `{schema}`.`orders`");
    // The first rename to the target's name is the new table's; the one after it (the old
    // table put back) goes through.
    let rule = Rule {
        operation: "GetQueryExecution",
        query_marker: Some(target_rename.clone()),
        times: 1,
        fault: Fault::QueryFailed("HIVE_METASTORE_ERROR: Table rename failed".into()),
    };
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![rule]);
    let p = TestProject::new("athena_swapfail", "profile: athena_swapfail\n");
    p.write(
        "models/orders.sql",
        "{{ config(materialized='table') }}\nselect 1 as id\n",
    );
    athena_profile(&p, "athena_swapfail", &proxy.url, region, &schema, "");
    // The table exists from an earlier build: the new one is built beside it and swapped in.
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        region,
        &schema,
        "orders",
        &[("id", "int")],
    );
    let run = p.strata_env(&["run"], AWS_ENV);
    run.assert_code(1);
    let q = started(&proxy);
    let backup = format!("`{schema}`.`orders__strata_backup_<id>`");
    let tmp = format!("`{schema}`.`orders__strata_tmp_<id>`");
    let target = format!("`{schema}`.`orders`");
    let expected = [
        format!("alter table {target} rename to {backup}"),
        format!("alter table {tmp} rename to {target}"),
        format!("alter table {backup} rename to {target}"),
    ];
    let renames: Vec<&String> = q.iter().filter(|s| s.starts_with("alter table")).collect();
    assert_eq!(renames, expected.iter().collect::<Vec<_>>(), "{q:#?}");
    // The put-back is the last statement: nothing is sent after it.
    assert_eq!(q.last(), Some(&expected[2]), "{q:#?}");
    run.assert_contains("Table rename failed")
        .assert_contains("the old table was put back")
        .assert_contains(&format!("{schema}.orders__strata_backup_"))
        .assert_contains(&format!("renamed back to {schema}.orders"));
}

/// An incremental model whose table a crashed run left renamed to its backup.
fn half_done_project(name: &str, region: &str, register: &[&str]) -> (TestProject, Proxy, String) {
    let p = TestProject::new(name, &format!("profile: {name}\n"));
    p.write(
        "models/events.sql",
        "{{ config(materialized='incremental', incremental_strategy='append') }}\n\
         select 1 as id\n\
         {% if is_incremental() %}where 1 > (select max(id) from {{ this }}){% endif %}\n",
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![]);
    let schema = unique("halfdone");
    athena_profile(&p, name, &proxy.url, region, &schema, "");
    for table in register {
        aws::glue_iceberg_table(
            &aws::moto_endpoint(),
            region,
            &schema,
            table,
            &[("id", "int")],
        );
    }
    (p, proxy, schema)
}

#[test]
fn a_swap_left_half_done_by_a_crash_is_put_back_before_the_build() {
    // A crashed run (invocation 1a2b3c4d...) renamed the table to its backup and built the
    // new rows' table, and never renamed that one in.
    let (p, proxy, schema) = half_done_project(
        "athena_halfdone",
        "eu-south-1",
        &[
            "events__strata_backup_1a2b3c4d",
            "events__strata_tmp_1a2b3c4d",
        ],
    );
    let run = p.strata_env(&["run"], AWS_ENV);
    run.assert_ok()
        .assert_contains("a swap a crashed run left half done was found")
        .assert_contains(&format!(
            "renamed {schema}.events__strata_backup_1a2b3c4d back to {schema}.events"
        ))
        .assert_contains(&format!("{schema}.events__strata_tmp_1a2b3c4d) is left"));
    let q = proxy.started_queries();
    assert_eq!(
        q[0],
        format!(
            "alter table `{schema}`.`events__strata_backup_1a2b3c4d` rename to `{schema}`.`events`"
        ),
        "{q:#?}"
    );
    // Then an incremental run over the old rows: the new rows are filtered against the
    // table and appended to it; the table is never built afresh (its history kept).
    let new_rows = q
        .iter()
        .position(|s| s.contains("__strata_tmp_") && s.starts_with("create table"))
        .unwrap_or_else(|| panic!("{q:#?}"));
    assert!(
        q[new_rows].contains(&format!(
            "where 1 > (select max(id) from \"{schema}\".\"events\")"
        )),
        "{}",
        q[new_rows]
    );
    assert!(
        !q.iter()
            .any(|s| s.starts_with(&format!("create table \"{schema}\".\"events\""))),
        "{q:#?}"
    );
    assert!(
        q.iter()
            .any(|s| s.starts_with(&format!("insert into \"{schema}\".\"events\""))),
        "{q:#?}"
    );
}

#[test]
fn a_backup_beside_its_table_is_a_leftover_not_a_half_done_swap() {
    let (p, proxy, _) = half_done_project(
        "athena_leftover",
        "eu-south-2",
        &["events", "events__strata_backup_1a2b3c4d"],
    );
    let run = p.strata_env(&["run"], AWS_ENV);
    run.assert_ok();
    assert!(!run.output().contains("half done"), "{}", run.output());
    let q = proxy.started_queries();
    assert!(!q.iter().any(|s| s.contains("backup_1a2b3c4d")), "{q:#?}");
}

/// A partitioned incremental model replacing its partitions (`insert_overwrite`).
fn overwrite_project(name: &str, region: &str, rules: Vec<Rule>) -> (TestProject, Proxy, String) {
    let p = TestProject::new(name, &format!("profile: {name}\n"));
    p.write(
        "models/daily.sql",
        "{{ config(materialized='incremental', incremental_strategy='insert_overwrite', \
         partitioned_by=['day', 'kind']) }}\nselect current_date as day, 'a' as kind, 1 as n\n",
    );
    let proxy = Proxy::start(&aws::moto_endpoint(), rules);
    let schema = unique("overwrite");
    athena_profile(&p, name, &proxy.url, region, &schema, "");
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        region,
        &schema,
        "daily",
        &[("day", "date"), ("kind", "varchar"), ("n", "int")],
    );
    (p, proxy, schema)
}

#[test]
fn insert_overwrite_is_one_merge_and_a_failed_one_is_the_last_write() {
    let (p, proxy, schema) = overwrite_project("athena_overwrite", "sa-east-1", vec![]);
    p.strata_env(&["run"], AWS_ENV).assert_ok();
    let q = proxy.started_queries();
    let target = format!("\"{schema}\".\"daily\"");
    let into_target: Vec<&String> = q
        .iter()
        .filter(|s| is_write(s) && s.contains(&target) && !s.starts_with("create table"))
        .collect();
    assert_eq!(into_target.len(), 1, "{q:#?}");
    assert!(
        into_target[0].starts_with(&format!("merge into {target}")),
        "{q:#?}"
    );
    assert!(
        !q.iter()
            .any(|s| s.starts_with("delete") || s.starts_with("insert")),
        "{q:#?}"
    );
    replay_on_duckdb(&schema, into_target[0]);

    // The MERGE fails: the run fails, and nothing is written after it.
    let rule = Rule {
        operation: "GetQueryExecution",
        query_marker: Some("merge into".into()),
        times: 1,
        fault: Fault::QueryFailed("GENERIC_INTERNAL_ERROR: merge failed".into()),
    };
    let (p, proxy, _) = overwrite_project("athena_overwrite_fails", "sa-east-1", vec![rule]);
    let run = p.strata_env(&["run"], AWS_ENV);
    run.assert_code(1).assert_contains("merge failed");
    let q = proxy.started_queries();
    let merge = q
        .iter()
        .position(|s| s.starts_with("merge into"))
        .unwrap_or_else(|| panic!("{q:#?}"));
    let after: Vec<&String> = q[merge + 1..].iter().filter(|s| is_write(s)).collect();
    assert!(
        after.is_empty(),
        "written after the failed MERGE: {after:#?}"
    );
    assert!(!q.iter().any(|s| s.starts_with("delete")), "{q:#?}");
}

/// Run the MERGE Strata sent to Athena on DuckDB (the library's MERGE INTO has the same
/// rules here): the partitions the new rows touch hold exactly the new rows, NULL
/// partition values included; the others are untouched.
fn replay_on_duckdb(schema: &str, merge: &str) {
    let tmp = regex::Regex::new(r#""(daily__strata_tmp_[0-9a-f]{8})""#)
        .expect("regex")
        .captures(merge)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no new rows' table in {merge}"));
    let conn = duckdb::Connection::open_in_memory().expect("duckdb");
    conn.execute_batch(&format!(
        "create schema \"{schema}\";
         create table \"{schema}\".daily (day date, kind varchar, n int);
         create table \"{schema}\".\"{tmp}\" (day date, kind varchar, n int);
         insert into \"{schema}\".daily values
           ('2024-01-01', 'a', 1), ('2024-01-01', 'a', 2), ('2024-01-01', 'b', 3),
           ('2024-01-02', 'a', 4), (null, 'a', 5), (null, null, 6), ('2024-01-03', null, 7);
         insert into \"{schema}\".\"{tmp}\" values
           ('2024-01-01', 'a', 10), ('2024-01-01', 'a', 11), (null, 'a', 50),
           ('2024-01-03', null, 70), ('2024-01-04', 'c', 80);"
    ))
    .expect("tables");
    conn.execute_batch(merge).expect("the MERGE runs on DuckDB");
    let mut stmt = conn
        .prepare(&format!(
            "select coalesce(cast(day as varchar), 'NULL'), coalesce(kind, 'NULL'), n \
             from \"{schema}\".daily order by n"
        ))
        .expect("select");
    let rows: Vec<(String, String, i32)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    let expected: Vec<(String, String, i32)> = [
        ("2024-01-01", "b", 3),  // untouched: another kind that day
        ("2024-01-02", "a", 4),  // untouched: another day
        ("NULL", "NULL", 6),     // untouched: NULL day, NULL kind
        ("2024-01-01", "a", 10), // (2024-01-01, a): both old rows replaced by both new
        ("2024-01-01", "a", 11),
        ("NULL", "a", 50),          // (NULL, a) replaced
        ("2024-01-03", "NULL", 70), // (2024-01-03, NULL) replaced
        ("2024-01-04", "c", 80),    // a new partition
    ]
    .iter()
    .map(|(d, k, n)| (d.to_string(), k.to_string(), *n))
    .collect();
    assert_eq!(rows, expected, "{merge}");
}

#[test]
fn insert_overwrite_of_a_partition_transform_is_refused_before_it_writes() {
    let (p, proxy, _) = overwrite_project("athena_overwrite_transform", "sa-east-1", vec![]);
    p.write(
        "models/daily.sql",
        "{{ config(materialized='incremental', incremental_strategy='insert_overwrite', \
         partitioned_by=['day(ts)']) }}\nselect current_timestamp as ts, 1 as n\n",
    );
    let run = p.strata_env(&["run"], AWS_ENV);
    run.assert_code(1)
        .assert_contains("'day(ts)' is a transform");
    let q = proxy.started_queries();
    assert!(
        !q.iter()
            .any(|s| s.starts_with("merge") || s.starts_with("delete") || s.starts_with("insert")),
        "{q:#?}"
    );
}

#[test]
fn when_the_old_table_cannot_be_put_back_the_error_names_where_its_rows_are() {
    let region = "eu-north-1";
    let schema = unique("swapfail2");
    // Both renames to the target's name fail: the new table's and the put-back.
    let rule = Rule {
        operation: "GetQueryExecution",
        query_marker: Some(format!("rename to `{schema}`.`orders`")),
        times: 2,
        fault: Fault::QueryFailed("HIVE_METASTORE_ERROR: Table rename failed".into()),
    };
    let proxy = Proxy::start(&aws::moto_endpoint(), vec![rule]);
    let p = TestProject::new("athena_swapfail2", "profile: athena_swapfail2\n");
    p.write(
        "models/orders.sql",
        "{{ config(materialized='table') }}\nselect 1 as id\n",
    );
    athena_profile(&p, "athena_swapfail2", &proxy.url, region, &schema, "");
    aws::glue_iceberg_table(
        &aws::moto_endpoint(),
        region,
        &schema,
        "orders",
        &[("id", "int")],
    );
    let run = p.strata_env(&["run"], AWS_ENV);
    run.assert_code(1)
        .assert_contains("putting the old table back failed too")
        .assert_contains(&format!(
            "the old rows are in table {schema}.orders__strata_backup_"
        ))
        .assert_contains(&format!("rename to `{schema}`.`orders`"));
    let q = started(&proxy);
    assert_eq!(
        q.last(),
        Some(&format!(
            "alter table `{schema}`.`orders__strata_backup_<id>` rename to `{schema}`.`orders`"
        )),
        "{q:#?}"
    );
}
