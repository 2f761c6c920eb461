//! A connection whose commits do not wait for the disk (see `Unflushed`).

use super::is_sqlite;
use super::{Db, Tx};
use sqlx::Executor;

/// A pooled connection whose commits do not wait for the disk, for writes
/// that may be lost to a power loss but must never tear (see
/// `actions::execute::outcome_unflushed`). On SQLite (WAL) it runs with
/// `synchronous = NORMAL` until `restore`: a commit reaches the OS, not the
/// platter, and the next durable commit on any connection flushes it too.
/// A connection not restored (an error, a cancelled task) is closed rather
/// than returned to the pool, so no other write ever runs unflushed. On
/// PostgreSQL the caller relaxes its own transaction (`SET LOCAL`).
pub struct Unflushed {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
    pub sqlite: bool,
}

impl Unflushed {
    pub async fn acquire(db: &Db) -> Result<Unflushed, sqlx::Error> {
        let conn = db.acquire().await?;
        let sqlite = is_sqlite(&conn);
        // Guarded before the setting changes: a failure from here on closes it.
        let mut this = Unflushed {
            conn: Some(conn),
            sqlite,
        };
        if let (Some(conn), true) = (this.conn.as_mut(), sqlite) {
            conn.execute("PRAGMA synchronous = NORMAL").await?;
        }
        Ok(this)
    }

    /// A transaction on this connection.
    pub async fn begin(&mut self) -> Result<Tx<'_>, sqlx::Error> {
        let conn = self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        sqlx::Connection::begin(&mut **conn).await
    }

    /// Flushing commits again; the connection goes back to the pool.
    pub async fn restore(mut self) -> Result<(), sqlx::Error> {
        if let Some(mut conn) = self.conn.take() {
            if self.sqlite {
                if let Err(e) = conn.execute("PRAGMA synchronous = FULL").await {
                    drop(conn.detach());
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

impl Drop for Unflushed {
    fn drop(&mut self) {
        if let (Some(conn), true) = (self.conn.take(), self.sqlite) {
            // Not restored: closed, never reused.
            drop(conn.detach());
        }
    }
}
