//! Write locks between builds and erasures on Athena, where no engine lock keeps them apart
//! (on DuckDB the database file's lock does).
//!
//! The race they close: a build computes a declared relation's new rows (a temporary table,
//! a merge source) before an erasure, and writes them after it, bringing the erased subject
//! back. With the locks, a build holds the lock of the relation it writes from the first
//! statement that computes its rows to the last that writes them, and an erasure batch holds
//! the locks of every declared relation from the ledger's `started` row to its proof. So a
//! write lands either wholly before the erasure (whose DELETE then removes its rows) or after
//! it (when the write-time filter reads the `started` row and leaves the subject out).
//!
//! A lock is a Glue table named `strata_lock__<relation>` in the relation's database, with
//! parameters saying who holds it (`strata_lock_owner`: host, process, a random id), why
//! (`strata_lock_purpose`) and until when (`strata_lock_expires_at`, epoch seconds): Glue's
//! CreateTable fails when the table exists, which makes taking a lock atomic, and an operator
//! sees held locks in the catalog (`GetTables` with `strata_lock__*`). The holder renews the
//! expiry while it holds the lock; a lock past its expiry (its holder died) is taken over:
//! deleted, then created anew (Glue has no conditional delete: two processes taking over one
//! dead lock in the same instant could both succeed; a dead holder is rare, and expiry is
//! minutes away from any renewal). Locks are taken in name order, so an erasure that needs
//! many never deadlocks with builds that each need one.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_glue::types::TableInput;

use super::catalog::{delete_table, get_table, glue_error, Glue};
use crate::error::Result;

const PREFIX: &str = "strata_lock__";
const OWNER: &str = "strata_lock_owner";
const PURPOSE: &str = "strata_lock_purpose";
const EXPIRES: &str = "strata_lock_expires_at";
/// How long a lock holds without renewal, and how often its holder renews it.
const TTL: Duration = Duration::from_secs(600);
const RENEW_EVERY: Duration = Duration::from_secs(120);
/// How often a waiting process looks again.
const POLL: Duration = Duration::from_millis(500);

/// Locks this process holds: released by [`release`].
pub struct HeldLocks {
    /// (database, lock table) in the order taken.
    names: Vec<(String, String)>,
    owner: String,
    purpose: String,
    renewal: Option<tokio::task::JoinHandle<()>>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The lock table's name for a relation (Glue lowercases table names).
pub fn lock_name(table: &str) -> String {
    format!("{PREFIX}{}", table.to_lowercase())
}

fn lock_input(name: &str, owner: &str, purpose: &str) -> Result<TableInput> {
    let expires = now() + TTL.as_secs() as i64;
    TableInput::builder()
        .name(name)
        .description("Strata write lock: a build or an erasure is writing this relation")
        .parameters(OWNER, owner)
        .parameters(PURPOSE, purpose)
        .parameters(EXPIRES, expires.to_string())
        .build()
        .map_err(|e| crate::error::Error::Adapter(format!("lock {name}: {e}")))
}

/// Who holds a lock and until when, from its table's parameters.
fn holder(table: &aws_sdk_glue::types::Table) -> (String, String, i64) {
    let p: HashMap<String, String> = table.parameters().cloned().unwrap_or_default();
    (
        p.get(OWNER).cloned().unwrap_or_default(),
        p.get(PURPOSE).cloned().unwrap_or_default(),
        p.get(EXPIRES).and_then(|e| e.parse().ok()).unwrap_or(0),
    )
}

/// Take the locks of `relations` ((database, table) pairs) for `purpose`, waiting while
/// another process holds one; a lock past its expiry is taken over. Says once per lock
/// that it waits, and for whom.
pub async fn acquire(
    glue: &Glue,
    relations: &[(String, String)],
    purpose: &str,
) -> Result<HeldLocks> {
    let owner = format!(
        "{}:{}:{}",
        hostname(),
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let mut wanted: Vec<(String, String)> = relations
        .iter()
        .map(|(db, t)| (db.clone(), lock_name(t)))
        .collect();
    wanted.sort();
    wanted.dedup();
    let mut held = HeldLocks {
        names: Vec::new(),
        owner: owner.clone(),
        purpose: purpose.to_string(),
        renewal: None,
    };
    for (db, name) in wanted {
        if let Err(e) = take(glue, &db, &name, &owner, purpose).await {
            release(glue, held).await;
            return Err(e);
        }
        held.names.push((db, name));
    }
    held.renewal = Some(renew_while_held(glue, &held));
    Ok(held)
}

/// Take one lock, waiting for its holder.
async fn take(glue: &Glue, db: &str, name: &str, owner: &str, purpose: &str) -> Result<()> {
    let mut told = false;
    loop {
        let created = glue
            .client
            .create_table()
            .set_catalog_id(glue.catalog_id.clone())
            .database_name(db)
            .table_input(lock_input(name, owner, purpose)?)
            .send()
            .await;
        match created {
            Ok(_) => return Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_already_exists_exception()) => {}
            Err(e) => return Err(glue_error(&format!("CreateTable({db}.{name})"), e)),
        }
        let Some(table) = get_table(glue, db, name).await? else {
            continue; // released meanwhile: try again at once
        };
        let (holder_owner, holder_purpose, expires) = holder(&table);
        if expires < now() {
            eprintln!(
                "strata: the write lock {db}.{name} of {holder_owner} ({holder_purpose}) expired \
                 at {expires} without being released: taking it over"
            );
            delete_table(glue, db, name).await?;
            continue;
        }
        if !told {
            eprintln!(
                "strata: waiting for the write lock {db}.{name}, held by {holder_owner} \
                 ({holder_purpose}) until {expires} at the latest"
            );
            told = true;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Push the expiry of the held locks forward until they are released.
fn renew_while_held(glue: &Glue, held: &HeldLocks) -> tokio::task::JoinHandle<()> {
    let client = glue.client.clone();
    let catalog_id = glue.catalog_id.clone();
    let names = held.names.clone();
    let owner = held.owner.clone();
    let purpose = held.purpose.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            for (db, name) in &names {
                let Ok(input) = lock_input(name, &owner, &purpose) else {
                    continue;
                };
                // A failed renewal is tried again at the next round; the lock holds for
                // TTL, several rounds.
                let _ = client
                    .update_table()
                    .set_catalog_id(catalog_id.clone())
                    .database_name(db)
                    .table_input(input)
                    .send()
                    .await;
            }
        }
    })
}

/// Release the locks (those still ours: one taken over after expiry is left to its new
/// holder). Best effort: a lock that cannot be deleted expires.
pub async fn release(glue: &Glue, mut held: HeldLocks) {
    if let Some(r) = held.renewal.take() {
        r.abort();
    }
    for (db, name) in held.names.iter().rev() {
        let ours =
            matches!(get_table(glue, db, name).await, Ok(Some(t)) if holder(&t).0 == held.owner);
        if ours {
            if let Err(e) = delete_table(glue, db, name).await {
                eprintln!("strata: releasing the write lock {db}.{name} failed (it expires): {e}");
            }
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}
