//! The record of trust changes (the timeline, "time at the current
//! stage"), and notices that tell leads what changed without them.

use super::model::StageChange;
use crate::db::{new_id, Db, Tx};
use crate::error::{stored, AppError};
use crate::policy::Stage;
use sqlx::Row;

/// One change of trust, written in the transaction that makes it.
pub struct Change<'a> {
    pub agent_id: &'a str,
    /// `None`: the agent's own stage.
    pub capability: Option<&'a str>,
    pub kind: &'a str,
    pub from: Option<Stage>,
    pub to: Stage,
    pub reason: &'a str,
    pub actor_id: Option<&'a str>,
    pub review_id: Option<&'a str>,
    pub at: i64,
}

pub async fn record(tx: &mut Tx<'_>, c: Change<'_>) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO stage_changes (id, agent_id, capability, kind, from_stage, to_stage, reason, actor_id, review_id, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_id())
    .bind(c.agent_id)
    .bind(c.capability)
    .bind(c.kind)
    .bind(c.from.map(Stage::as_str))
    .bind(c.to.as_str())
    .bind(c.reason)
    .bind(c.actor_id)
    .bind(c.review_id)
    .bind(c.at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Newest first.
pub async fn timeline(db: &Db, agent_id: &str) -> Result<Vec<StageChange>, AppError> {
    let rows = sqlx::query(
        "SELECT c.capability, c.kind, c.from_stage, c.to_stage, c.reason, c.review_id, c.at, u.username \
         FROM stage_changes c LEFT JOIN users u ON u.id = c.actor_id \
         WHERE c.agent_id = $1 ORDER BY c.at DESC, c.id DESC LIMIT 200",
    )
    .bind(agent_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            let from: Option<String> = r.try_get("from_stage")?;
            Ok(StageChange {
                at: crate::clock::display(r.try_get("at")?),
                kind: r.try_get("kind")?,
                capability: r.try_get("capability")?,
                from: from.map(|s| stored(Stage::parse(&s))).transpose()?,
                to: stored(Stage::parse(&r.try_get::<String, _>("to_stage")?))?,
                reason: r.try_get("reason")?,
                by: r.try_get("username")?,
                review_id: r.try_get("review_id")?,
            })
        })
        .collect()
}

/// Whole days since the agent's stage (or, with a capability, either the
/// agent's or that capability's, whichever changed last) last changed.
pub async fn days_at_stage(
    db: &Db,
    agent_id: &str,
    capability: Option<&str>,
    now: i64,
) -> Result<i64, AppError> {
    let since: Option<i64> = sqlx::query(
        "SELECT MAX(at) AS since FROM stage_changes WHERE agent_id = $1 \
         AND kind <> 'suspended' AND (capability IS NULL OR capability = $2)",
    )
    .bind(agent_id)
    .bind(capability)
    .fetch_one(db)
    .await?
    .try_get("since")?;
    Ok(since.map_or(0, |at| (now - at).max(0) / super::rollup::DAY_MS))
}

/// Tells the leads (on their dashboard) about a change made without them.
pub async fn notify(
    tx: &mut Tx<'_>,
    kind: &str,
    agent_id: &str,
    capability: Option<&str>,
    message: &str,
    at: i64,
) -> Result<(), AppError> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO notices (id, at, kind, agent_id, capability, message) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(at)
    .bind(kind)
    .bind(agent_id)
    .bind(capability)
    .bind(message)
    .execute(&mut **tx)
    .await?;
    // A notice has no audit event of its own (the change behind it has).
    let data = serde_json::json!({
        "notice": { "id": id, "kind": kind, "agent_id": agent_id, "capability": capability, "message": message },
    });
    let event = crate::webhooks::outbox::Event {
        id,
        at,
        event_type: crate::webhooks::events::EventType::NoticeRaised,
        data,
    };
    crate::webhooks::outbox::enqueue_one(tx, event).await
}
