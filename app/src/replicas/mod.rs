//! Replicas: any number of `belay serve` processes on one PostgreSQL
//! database behave as one Belay.
//!
//! What must be exact is decided by the database, never by a process's
//! memory: state moves are conditional updates, hourly limits and the
//! pending quota are counted under the policy-epoch lock, evidence per day
//! in a locked row, distinct approvers under the request's row lock. What
//! each replica keeps in memory is either a cache that re-checks the
//! database (the policy index, against the epoch) or deliberately per
//! replica (submission rate limiters, long-polls held open, sign-in
//! back-off, MCP sessions).
//!
//! This module keeps the caches and listeners in step: each replica tells
//! the others of changed requests (`publish.rs`) and hears theirs and
//! every policy change (`listen.rs`), over PostgreSQL `LISTEN/NOTIFY`.
//! Periodic re-reads stay as the fallback (`feed.rs`). On SQLite there is
//! one server process, and nothing here runs. Background upkeep runs once a
//! period across replicas (`claim_upkeep`).

pub mod feed;
mod listen;
mod publish;

use crate::db::{new_id, Backend, Db};
use crate::error::AppError;
use crate::state::AppState;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The tasks that keep this replica in step with the others; dropping
/// this stops them.
pub struct Replicas {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// On PostgreSQL, starts telling the other replicas of this one's changes
/// and hearing theirs; on SQLite, or if already started, nothing.
pub fn start(state: &AppState) -> Option<Replicas> {
    let url = state.db.connect_options().database_url.to_string();
    if Backend::of(&url) != Ok(Backend::Postgres) {
        return None;
    }
    let outbox = state.changes.attach()?;
    // Tells this replica's own notices from the others'.
    let origin = new_id();
    let reload = Arc::new(Notify::new());
    let feed = state.changes.clone();
    Some(Replicas {
        tasks: vec![
            tokio::spawn(publish::run(
                url.clone(),
                origin.clone(),
                feed.clone(),
                outbox,
            )),
            tokio::spawn(listen::run(url, origin, feed, reload.clone())),
            tokio::spawn(reload_policy(state.clone(), reload)),
        ],
    })
}

/// Reloads the cached policy index whenever woken: a change on any replica
/// (or a reconnect) reaches the cheap pre-checks at once, not at this
/// replica's next decision. Wake-ups while a reload runs make one more.
async fn reload_policy(state: AppState, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        let reloaded = async {
            let mut conn = state.db.acquire().await?;
            state.policy.current(&mut conn).await
        };
        if let Err(e) = reloaded.await {
            tracing::warn!(error = %e, "cannot reload the policy index after a change; the next decision does");
        }
        // Webhook endpoint changes bump the epoch too (`webhooks/store.rs`).
        if let Err(e) = crate::webhooks::outbox::reload(&state.db).await {
            tracing::warn!(error = %e, "cannot reload the webhook subscriptions; the delivery worker retries");
        }
    }
}

/// How often background upkeep runs, across all replicas together.
pub const UPKEEP_EVERY_MS: i64 = 15_000;

/// Claims this period's background upkeep (expiry, rejection-spike checks,
/// cleanup) for this replica: a conditional update on the one `upkeep`
/// row, so of replicas asking at once, one gets it, and the rest skip the
/// period. A replica that stops mid-sweep leaves nothing held: the next
/// period goes to whoever asks. (A little slack under the period, so the
/// same replica's next tick is not refused by its own timer's jitter.)
pub async fn claim_upkeep(db: &Db, now: i64) -> Result<bool, AppError> {
    let claimed =
        sqlx::query("UPDATE upkeep SET last_run_at = $1 WHERE id = 1 AND last_run_at <= $2")
            .bind(now)
            .bind(now - (UPKEEP_EVERY_MS - 1_000))
            .execute(db)
            .await?
            .rows_affected();
    Ok(claimed == 1)
}
