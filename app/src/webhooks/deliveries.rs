//! Deliveries and their attempts: the one owner of those rows. A worker
//! (`server/src/webhooks`) claims due deliveries with a conditional
//! update that takes a lease, so of several replicas one sends each; a
//! worker that dies mid-send leaves the lease to run out, and the next
//! one sends again with the same `webhook-id` (at least once).

use super::{AttemptRow, DeliveryRow};
use crate::audit::{self, Actor};
use crate::db::{known_id, new_id, Db};
use crate::error::AppError;
use sqlx::Row;
use std::collections::HashMap;

/// A delivery this worker holds until `lease_until`.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub lease: String,
    pub url: String,
    pub secret: String,
    pub body: String,
    /// Attempts before this one, since it was written or re-sent.
    pub tries: i64,
}

/// Claims up to `limit` deliveries due at `now` to enabled endpoints.
pub async fn claim_due(
    db: &Db,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<Claimed>, AppError> {
    let due = sqlx::query(
        "SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.state = 'pending' AND d.next_at <= $1 AND d.lease_until <= $1 AND e.enabled = 1 \
         ORDER BY d.next_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let mut claimed = Vec::new();
    for r in &due {
        let id: String = r.try_get("id")?;
        let lease = new_id();
        let won = sqlx::query(
            "UPDATE webhook_deliveries SET lease = $1, lease_until = $2 \
             WHERE id = $3 AND state = 'pending' AND next_at <= $4 AND lease_until <= $4",
        )
        .bind(&lease)
        .bind(now + lease_ms)
        .bind(&id)
        .bind(now)
        .execute(db)
        .await?
        .rows_affected();
        if won != 1 {
            continue;
        }
        let row = sqlx::query(
            "SELECT d.body, d.tries, e.url, e.secret FROM webhook_deliveries d \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1",
        )
        .bind(&id)
        .fetch_optional(db)
        .await?;
        // Deleted with its endpoint just now: nothing to send.
        let Some(row) = row else { continue };
        claimed.push(Claimed {
            id,
            lease,
            url: row.try_get("url")?,
            secret: row.try_get("secret")?,
            body: row.try_get("body")?,
            tries: row.try_get("tries")?,
        });
    }
    Ok(claimed)
}

/// What one attempt got.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub at: i64,
    pub duration_ms: i64,
    pub status: Option<u16>,
    pub response: String,
    pub error: Option<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Where a delivery goes after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Delivered,
    RetryAt(i64),
    Failed,
}

/// Records the attempt and moves the delivery, if this worker still holds
/// its lease (one that outlived its lease leaves the move to the next).
pub async fn record(db: &Db, c: &Claimed, attempt: &Attempt, next: Next) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO webhook_attempts (id, delivery_id, at, duration_ms, status, response, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(&c.id)
    .bind(attempt.at)
    .bind(attempt.duration_ms)
    .bind(attempt.status.map(i64::from))
    .bind(&attempt.response)
    .bind(attempt.error.clone())
    .execute(&mut *tx)
    .await?;
    let (state, next_at) = match next {
        Next::Delivered => ("delivered", 0),
        Next::RetryAt(at) => ("pending", at),
        Next::Failed => ("failed", 0),
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET state = $1, next_at = $2, tries = tries + 1, last_status = $3, \
           lease = NULL, lease_until = 0 WHERE id = $4 AND lease = $5",
    )
    .bind(state)
    .bind(next_at)
    .bind(attempt.status.map(i64::from))
    .bind(&c.id)
    .bind(&c.lease)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a delivery again now, with the same `webhook-id` and body, and a
/// fresh count of retries. Refused while a worker is sending it.
pub async fn resend(db: &Db, admin: &Actor, id: &str, now: i64) -> Result<(), AppError> {
    known_id(id, "delivery")?;
    let mut tx = crate::db::begin_write(db).await?;
    let before: Option<String> = sqlx::query("SELECT state FROM webhook_deliveries WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("state"))
        .transpose()?;
    let Some(before) = before else {
        return Err(AppError::NotFound("no such delivery".into()));
    };
    let moved = sqlx::query(
        "UPDATE webhook_deliveries SET state = 'pending', tries = 0, next_at = $1 \
         WHERE id = $2 AND lease_until <= $1",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved != 1 {
        return Err(AppError::Conflict(
            "this delivery is being sent right now; look again in a moment".into(),
        ));
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: admin,
            what: "webhook.resent",
            subject_kind: "webhook_delivery",
            subject_id: id,
            detail: serde_json::json!({ "before": { "state": before }, "after": { "state": "pending" } }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An endpoint's newest deliveries, each with its attempts, newest first
/// (two queries, whatever the count).
pub async fn list(db: &Db, endpoint_id: &str, limit: i64) -> Result<Vec<DeliveryRow>, AppError> {
    let rows = sqlx::query(
        "SELECT id, event_id, event_type, body, created_at, state, tries, last_status \
         FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(endpoint_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(DeliveryRow {
            id: r.try_get("id")?,
            event_id: r.try_get("event_id")?,
            event_type: r.try_get("event_type")?,
            body: r.try_get("body")?,
            created_at: crate::clock::display(r.try_get("created_at")?),
            state: r.try_get("state")?,
            tries: r.try_get("tries")?,
            last_status: r.try_get("last_status")?,
            attempts: Vec::new(),
        });
    }
    let Some(oldest) = rows.last() else {
        return Ok(out);
    };
    let since: i64 = oldest.try_get("created_at")?;
    let index: HashMap<String, usize> = out
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.clone(), i))
        .collect();
    let attempts = sqlx::query(
        "SELECT a.delivery_id, a.at, a.duration_ms, a.status, a.response, a.error \
         FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
         WHERE d.endpoint_id = $1 AND d.created_at >= $2 ORDER BY a.at DESC, a.id DESC",
    )
    .bind(endpoint_id)
    .bind(since)
    .fetch_all(db)
    .await?;
    for a in &attempts {
        let delivery: String = a.try_get("delivery_id")?;
        // Deliveries written in the same millisecond as the page's oldest
        // but past the limit are not on the page.
        let Some(&i) = index.get(&delivery) else {
            continue;
        };
        out[i].attempts.push(AttemptRow {
            at: crate::clock::display(a.try_get("at")?),
            duration_ms: a.try_get("duration_ms")?,
            status: a.try_get("status")?,
            response: a.try_get("response")?,
            error: a.try_get("error")?,
        });
    }
    Ok(out)
}
