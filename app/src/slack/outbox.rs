//! The Slack outbox: a row per request whose Slack message must be posted
//! or brought up to date. It is written by the audit write path, inside the
//! transaction of the change, so a committed change always reaches Slack
//! (at least once) and a rolled-back one never does. The worker that
//! empties it lives with the Slack client (`server/src/slack/worker.rs`).

use crate::db::{now_ms, Db, Tx};
use crate::error::AppError;
use sqlx::Row;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether this process posts to Slack. Set once at startup when the Slack
/// app is configured; while it is off, the audit write path does no work
/// and no query for Slack. (Process-wide: in a test process with several
/// servers, one with Slack makes the others queue rows nobody reads.)
static ENABLED: AtomicBool = AtomicBool::new(false);

pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// What a Slack message shows of a request changes with these events: held
/// (a submission that waits), evidence (a new payload hash for the
/// buttons), each approval, and every way it ends.
fn changes_message(what: &str, detail: &serde_json::Value) -> bool {
    match what {
        "action.submitted" => detail["after"]["state"] == "pending_approval",
        "action.evidence_added"
        | "action.approval_added"
        | "action.approved"
        | "action.rejected"
        | "action.expired"
        | "action.approval_expired"
        | "action.cancelled" => true,
        _ => false,
    }
}

/// The requests among audit events (subject kind, subject id, what,
/// detail) whose message must be synced; empty, with nothing allocated,
/// when Slack is off.
pub fn wanted<'a>(
    events: impl Iterator<Item = (&'a str, &'a str, &'a str, &'a serde_json::Value)>,
) -> Vec<String> {
    if !enabled() {
        return Vec::new();
    }
    events
        .filter(|(kind, _, what, detail)| *kind == "action" && changes_message(what, detail))
        .map(|(_, id, _, _)| id.to_string())
        .collect()
}

/// Queues the requests for a sync, in the change's transaction. A request
/// already queued moves its `seq` on and is due at once.
pub async fn enqueue(tx: &mut Tx<'_>, ids: &[String]) -> Result<(), AppError> {
    // One statement for the batch; each request once (PostgreSQL refuses
    // to upsert a row twice in one statement, and one move of `seq` is
    // enough to tell a sync in flight that it is stale).
    let ids: std::collections::BTreeSet<&String> = ids.iter().collect();
    if ids.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..ids.len())
        .map(|r| format!("(${}, 1, ${}, 0, 0)", 2 * r + 1, 2 * r + 2))
        .collect();
    let sql = format!(
        "INSERT INTO slack_outbox (action_id, seq, due_at, lease_until, attempts) VALUES {} \
         ON CONFLICT (action_id) DO UPDATE SET seq = slack_outbox.seq + 1, \
         due_at = excluded.due_at, attempts = 0",
        rows.join(", ")
    );
    let now = now_ms();
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id).bind(now);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// A queued request a worker holds the lease on.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub action_id: String,
    pub seq: i64,
    pub attempts: i64,
}

/// Up to `limit` due requests this worker now holds for `lease_ms`. Each is
/// claimed by a conditional update, so of several replicas one gets it.
pub async fn claim_due(db: &Db, limit: i64, lease_ms: i64) -> Result<Vec<Claimed>, AppError> {
    let now = now_ms();
    let rows = sqlx::query(
        "SELECT action_id, seq, attempts FROM slack_outbox \
         WHERE due_at <= $1 AND lease_until <= $1 ORDER BY due_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let mut claimed = Vec::new();
    for r in rows {
        let row = Claimed {
            action_id: r.try_get("action_id")?,
            seq: r.try_get("seq")?,
            attempts: r.try_get("attempts")?,
        };
        let took = sqlx::query(
            "UPDATE slack_outbox SET lease_until = $1 \
             WHERE action_id = $2 AND seq = $3 AND lease_until <= $4",
        )
        .bind(now + lease_ms)
        .bind(&row.action_id)
        .bind(row.seq)
        .bind(now)
        .execute(db)
        .await?
        .rows_affected();
        if took == 1 {
            claimed.push(row);
        }
    }
    Ok(claimed)
}

/// The sync is done: the row goes, unless a newer change queued it again
/// meanwhile (then it stays, due, for another pass).
pub async fn done(db: &Db, row: &Claimed) -> Result<(), AppError> {
    let gone = sqlx::query("DELETE FROM slack_outbox WHERE action_id = $1 AND seq = $2")
        .bind(&row.action_id)
        .bind(row.seq)
        .execute(db)
        .await?
        .rows_affected();
    if gone == 0 {
        sqlx::query("UPDATE slack_outbox SET lease_until = 0 WHERE action_id = $1")
            .bind(&row.action_id)
            .execute(db)
            .await?;
    }
    Ok(())
}

/// The sync failed: tried again after `retry_ms`, with the error kept for
/// the admin's page. A newer change makes it due at once anyway.
pub async fn failed(db: &Db, row: &Claimed, retry_ms: i64, error: &str) -> Result<(), AppError> {
    let error: String = error.chars().take(500).collect();
    // A row a newer change queued again stays due now, and only loses the lease.
    sqlx::query(
        "UPDATE slack_outbox SET lease_until = 0, last_error = $2, \
           attempts = CASE WHEN seq = $4 THEN attempts + 1 ELSE attempts END, \
           due_at = CASE WHEN seq = $4 THEN $1 ELSE due_at END \
         WHERE action_id = $3",
    )
    .bind(now_ms() + retry_ms)
    .bind(error)
    .bind(&row.action_id)
    .bind(row.seq)
    .execute(db)
    .await?;
    Ok(())
}

/// Requests whose message could not be synced yet: (action id, attempts,
/// last error), the most tried first.
pub async fn troubled(db: &Db) -> Result<Vec<(String, i64, String)>, AppError> {
    sqlx::query(
        "SELECT action_id, attempts, last_error FROM slack_outbox \
         WHERE attempts > 0 ORDER BY attempts DESC, action_id LIMIT 50",
    )
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("action_id")?,
            r.try_get("attempts")?,
            r.try_get::<Option<String>, _>("last_error")?
                .unwrap_or_default(),
        ))
    })
    .collect()
}
