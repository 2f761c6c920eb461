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

    /// The person behind a change, if a person made it.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Actor::User(id) => Some(id),
            Actor::Agent(_) | Actor::System => None,
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
    record_many(tx, vec![event]).await
}

/// Records several events in order, a few dozen rows per statement (the
/// submission writer's batches).
pub async fn record_many(tx: &mut Tx<'_>, events: Vec<Event<'_>>) -> Result<(), AppError> {
    const ROWS: usize = 16;
    let at = now_ms();
    for chunk in events.chunks(ROWS) {
        let values = crate::db::placeholders(chunk.len(), 8);
        let sql = format!(
            "INSERT INTO audit_events (id, at, actor_kind, actor_id, what, subject_kind, subject_id, detail) VALUES {values}"
        );
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(new_id())
                .bind(at)
                .bind(e.actor.kind())
                .bind(e.actor.id().map(str::to_string))
                .bind(e.what.to_string())
                .bind(e.subject_kind.to_string())
                .bind(e.subject_id.to_string())
                .bind(e.detail.to_string());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
