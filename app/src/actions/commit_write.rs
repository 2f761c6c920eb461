//! Writing a decided batch (`commit_batch.rs` decides it), in one trip to
//! the database when it can, else in several.
//!
//! Each trip to SQLite's connection thread costs about as much as a small
//! write, and a batch made four (BEGIN, its writes, its audit rows,
//! COMMIT); an agent making one call at a time waited for all four. A
//! batch that needs nothing read under the lock (no hourly limit, nothing
//! held, no evidence) is decided on the cached index, and BEGIN, a guard,
//! its writes, its audit rows and COMMIT go as one query. The guard
//! (migration 0021) stops the query before COMMIT if the policy or the
//! audit head moved since, as does a first-used Idempotency-Key that was
//! used before after all (its row is unique); the batch is then rolled
//! back and decided again the usual way.

use super::commit_audit;
use super::idempotency::{self, NewKey};
use super::store::{self, NewRequest};
use super::submission::Submission;
use crate::audit::chain::Head;
use crate::db::{is_sqlite, OnDemand, Tx};
use crate::error::AppError;
use crate::evidence::parse::Evidence;
use crate::sql::Script;
use sqlx::{AnyConnection, Row};

/// The batch's transaction, begun (with its lock) at the first statement
/// that needs it: a lookup the cached index cannot answer, or the writes of
/// a batch that cannot go in one trip.
pub(super) struct Lazy<'c> {
    conn: Option<&'c mut AnyConnection>,
    tx: Option<Tx<'c>>,
}

impl<'c> Lazy<'c> {
    pub(super) fn new(conn: &'c mut AnyConnection) -> Self {
        Lazy {
            conn: Some(conn),
            tx: None,
        }
    }

    /// The transaction, begun now if it was not.
    pub(super) async fn tx(&mut self) -> Result<&mut Tx<'c>, AppError> {
        if self.tx.is_none() {
            let conn = self.conn.take().ok_or(AppError::Internal)?;
            let lock = lock_statement(conn);
            self.tx = Some(sqlx::Connection::begin_with(conn, lock).await?);
        }
        self.tx.as_mut().ok_or(AppError::Internal)
    }

    /// The connection, while nothing has begun on it.
    pub(super) fn unbegun(&mut self) -> Option<&mut AnyConnection> {
        self.conn.as_deref_mut()
    }

    pub(super) async fn commit(self) -> Result<(), AppError> {
        match self.tx {
            Some(tx) => Ok(tx.commit().await?),
            None => Ok(()),
        }
    }
}

impl OnDemand for Lazy<'_> {
    async fn conn(&mut self) -> Result<&mut AnyConnection, AppError> {
        Ok(&mut **self.tx().await?)
    }
}

/// BEGIN, and the lock a batch holds to its commit: SQLite's write lock
/// (`IMMEDIATE`), PostgreSQL's epoch row (both statements in one trip).
fn lock_statement(conn: &AnyConnection) -> &'static str {
    if is_sqlite(conn) {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN; UPDATE policy_epoch SET value = value WHERE id = 1"
    }
}

/// What a batch writes besides its evidence and audit rows.
pub(super) struct Writes<'a> {
    pub(super) rows: &'a [NewRequest<'a>],
    pub(super) new_keys: &'a [NewKey],
    pub(super) now: i64,
}

impl Writes<'_> {
    /// The requests, their rollups and first-used keys, as script parts.
    pub(super) fn add_to(&self, script: &mut Script<'_>) -> Result<(), AppError> {
        store::insert(script, self.rows)?;
        let counted: Vec<_> = self
            .rows
            .iter()
            .map(|r| {
                let a = r.detail;
                (
                    a.agent_id.as_str(),
                    a.capability.as_str(),
                    a.created_at_ms,
                    a.decision,
                )
            })
            .collect();
        crate::trust::rollup::add_submitted(script, &counted);
        idempotency::remember(script, self.new_keys, self.now);
        Ok(())
    }

    fn runs(&self) -> impl Iterator<Item = (&super::model::ActionDetail, &Submission)> + '_ {
        self.rows.iter().map(|r| (r.detail, r.submission))
    }

    /// The runs the batch names get their rows first (they are referred to).
    pub(super) async fn touch_runs(&self, tx: &mut Tx<'_>) -> Result<(), AppError> {
        crate::runs::store::touch(tx, self.runs()).await
    }
}

/// The batch the usual way, in the transaction `lazy` holds or begins now:
/// its writes (answering the epoch they saw), its evidence, its audit rows
/// after `guess` when that is still the head, and COMMIT. Answers the head
/// it left, or `None`, having written nothing, when the epoch was not
/// `epoch`.
pub(super) async fn several_trips(
    mut lazy: Lazy<'_>,
    writes: &Writes<'_>,
    epoch: i64,
    guess: Option<&Head>,
) -> Result<Option<Option<Head>>, AppError> {
    let tx = lazy.tx().await?;
    // Runs first named by this batch get their row (one statement, only
    // when a submission names a run).
    writes.touch_runs(tx).await?;
    let mut script = Script::new();
    writes.add_to(&mut script)?;
    // Last, so its row is the one the script answers on either backend.
    script.add("SELECT value AS epoch FROM policy_epoch WHERE id = 1");
    let seen: i64 = match script.run(tx).await?.last() {
        Some(row) => row.try_get("epoch")?,
        None => return Err(AppError::Internal),
    };
    if seen != epoch {
        // Nothing of it is kept: dropping the transaction rolls it back.
        return Ok(None);
    }
    write_evidence(tx, writes.rows).await?;
    // Audit last: the chain's head is the last lock any transaction takes.
    let details = writes.rows.iter().map(|r| r.detail);
    let head = super::commit_audit::submitted(tx, details, guess).await?;
    lazy.commit().await?;
    Ok(Some(head))
}

/// Whether a batch on `conn` can go in one trip at all: on SQLite, after
/// the head the writer's last batch left (what it decides and writes may
/// still send it the usual way).
pub(super) fn possible(conn: &AnyConnection, head: Option<&Head>) -> bool {
    is_sqlite(conn) && head.is_some()
}

pub(super) enum Trip {
    /// On disk, leaving this audit head.
    Committed(Head),
    /// The policy or the audit head moved; nothing was written.
    Stale,
    /// An Idempotency-Key of the batch was already used; nothing was
    /// written.
    KeyUsed,
    /// This batch goes the usual way.
    Declined,
}

/// The batch in one query, if it can go so: on SQLite, with the head the
/// writer's last batch left, no evidence, and nothing for an outbox.
pub(super) async fn commit(
    (db, conn): (&crate::db::Db, &mut AnyConnection),
    writes: &Writes<'_>,
    epoch: i64,
    head: Option<&Head>,
) -> Result<Trip, AppError> {
    let bare = writes.rows.iter().all(|r| r.detail.evidence.is_empty());
    let Some(head) = head.filter(|_| bare && possible(conn, head)) else {
        return Ok(Trip::Declined);
    };
    let mut script = Script::new();
    script.add(lock_statement(conn));
    script
        .add("INSERT INTO batch_guard (epoch, chain_no, hash) VALUES ($1, $2, $3)")
        .bind(epoch)
        .bind(head.0)
        .bind(head.1.clone());
    crate::runs::store::touch_in(&mut script, writes.runs());
    writes.add_to(&mut script)?;
    let details = writes.rows.iter().map(|r| r.detail);
    let Some(left) = commit_audit::submitted_in(&mut script, db, details, head) else {
        return Ok(Trip::Declined);
    };
    script.add("COMMIT");
    match script.try_run(conn).await {
        Ok(_) => Ok(Trip::Committed(left)),
        Err(e) => {
            // The query stopped at the failed statement, inside its
            // transaction (unless BEGIN itself failed).
            if let Err(again) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
                // No transaction to roll back when BEGIN itself failed;
                // otherwise the connection cannot be trusted (the writer
                // closes a connection whose batch failed).
                if !again.to_string().contains("no transaction is active") {
                    tracing::error!(error = %again, "rolling back a one-trip batch");
                    return Err(again.into());
                }
            }
            match &e {
                sqlx::Error::Database(db) if db.message().contains(STALE) => Ok(Trip::Stale),
                // The only unique rows a batch writes that it did not
                // check are its first-used keys'; any other is an error.
                sqlx::Error::Database(db)
                    if db.is_unique_violation() && db.message().contains("idempotency_keys") =>
                {
                    Ok(Trip::KeyUsed)
                }
                _ => Err(e.into()),
            }
        }
    }
}

/// What the guard's trigger says when the batch was decided on a view that
/// is no longer current.
const STALE: &str = "belay: stale batch";

/// The evidence of the requests the script wrote (after it: it refers to
/// them). Most submissions carry none.
async fn write_evidence(
    tx: &mut crate::db::Tx<'_>,
    items: &[NewRequest<'_>],
) -> Result<(), AppError> {
    for item in items {
        let a = item.detail;
        let pieces: Vec<(&str, &Evidence)> = a
            .evidence
            .iter()
            .map(|info| info.id.as_str())
            .zip(&item.submission.evidence)
            .collect();
        crate::evidence::store::insert(tx, &a.id, "request", &pieces, a.created_at_ms).await?;
    }
    Ok(())
}
