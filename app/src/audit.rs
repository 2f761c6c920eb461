//! The audit write path: every state change calls `record` inside the same
//! transaction as the change, so a change without its audit row cannot commit.

use crate::db::{new_id, now_ms, Tx};
use crate::error::AppError;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(String),
    Agent(String),
    System,
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::Agent(_) => "agent",
            Actor::System => "system",
        }
    }

    fn id(&self) -> Option<&str> {
        match self {
            Actor::User(id) | Actor::Agent(id) => Some(id),
            Actor::System => None,
        }
    }
}

/// One audited change: `what` happened to `subject_kind`/`subject_id`;
/// `detail` holds the before/after.
pub struct Event<'a> {
    pub actor: &'a Actor,
    pub what: &'a str,
    pub subject_kind: &'a str,
    pub subject_id: &'a str,
    pub detail: serde_json::Value,
}

pub async fn record(tx: &mut Tx<'_>, event: Event<'_>) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor_kind, actor_id, what, subject_kind, subject_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(now_ms())
    .bind(event.actor.kind())
    .bind(event.actor.id())
    .bind(event.what)
    .bind(event.subject_kind)
    .bind(event.subject_id)
    .bind(event.detail.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
