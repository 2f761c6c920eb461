//! Losing trust takes one step and no review: any lead lowers an agent's
//! stage at once, or suspends it (the kill switch). Raising trust is a
//! promotion review's job.

use super::history::{self, Change};
use super::views::SuspendOutcome;
use crate::actions::RequestState;
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::{known_id, now_ms};
use crate::error::{stored, AppError};
use crate::policy::Stage;
use crate::state::AppState;
use sqlx::Row;

/// Lowers the agent's stage, effective for its next request.
#[tracing::instrument(skip(state, lead, reason), fields(lead = %lead.username))]
pub async fn demote(
    state: &AppState,
    lead: &UserView,
    agent_id: &str,
    to: Stage,
    reason: &str,
) -> Result<(), AppError> {
    known_id(agent_id, "agent")?;
    let reason = crate::text::field("the reason", reason, 2000)?;
    let mut tx = state.db.begin().await?;
    // The stage is part of what the decision reads; this also serializes
    // the change with submissions being decided.
    crate::policy::store::bump_epoch(&mut tx).await?;
    let current: String = sqlx::query("SELECT stage FROM agents WHERE id = $1")
        .bind(agent_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::NotFound("no such agent".into()))?
        .try_get("stage")?;
    let current = stored(Stage::parse(&current))?;
    if to >= current {
        return Err(AppError::Validation(format!(
            "the agent is at {}; a demotion lowers the stage (raising it needs a promotion review)",
            current.as_str()
        )));
    }
    sqlx::query("UPDATE agents SET stage = $1 WHERE id = $2 AND stage = $3")
        .bind(to.as_str())
        .bind(agent_id)
        .bind(current.as_str())
        .execute(&mut *tx)
        .await?;
    history::record(
        &mut tx,
        Change {
            agent_id,
            capability: None,
            kind: "demoted",
            from: Some(current),
            to,
            reason: &reason,
            actor_id: Some(&lead.id),
            review_id: None,
            at: now_ms(),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(lead.id.clone()),
            what: "agent.demoted",
            subject_kind: "agent",
            subject_id: agent_id,
            detail: serde_json::json!({
                "before": { "stage": current },
                "after": { "stage": to },
                "reason": reason,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        agent_id,
        from = current.as_str(),
        to = to.as_str(),
        "agent demoted"
    );
    Ok(())
}

/// The kill switch, in one transaction: the agent is suspended (every
/// submission refused), its keys are revoked, and its requests that could
/// still run — pending, or approved and not yet claimed — are cancelled.
#[tracing::instrument(skip(state, lead, reason), fields(lead = %lead.username))]
pub async fn suspend(
    state: &AppState,
    lead: &UserView,
    agent_id: &str,
    reason: &str,
) -> Result<SuspendOutcome, AppError> {
    known_id(agent_id, "agent")?;
    let reason = crate::text::field("the reason", reason, 2000)?;
    let now = now_ms();
    let actor = Actor::User(lead.id.clone());
    let mut tx = state.db.begin().await?;
    crate::policy::store::bump_epoch(&mut tx).await?;
    let done =
        sqlx::query("UPDATE agents SET status = 'suspended' WHERE id = $1 AND status = 'active'")
            .bind(agent_id)
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() != 1 {
        let exists = sqlx::query("SELECT 1 AS one FROM agents WHERE id = $1")
            .bind(agent_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        return Err(if exists {
            AppError::Conflict("this agent is already suspended".into())
        } else {
            AppError::NotFound("no such agent".into())
        });
    }
    let stage: String = sqlx::query("SELECT stage FROM agents WHERE id = $1")
        .bind(agent_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("stage")?;
    let stage = stored(Stage::parse(&stage))?;
    history::record(
        &mut tx,
        Change {
            agent_id,
            capability: None,
            kind: "suspended",
            from: Some(stage),
            to: stage,
            reason: &reason,
            actor_id: Some(&lead.id),
            review_id: None,
            at: now,
        },
    )
    .await?;
    let keys_revoked = sqlx::query(
        "UPDATE agent_keys SET revoked_at = $1 WHERE agent_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(agent_id)
    .execute(&mut *tx)
    .await?
    .rows_affected() as i64;
    let note = format!("cancelled: the agent was suspended ({reason})");
    let open = crate::actions::store::cancel_open_of_agent(&mut tx, agent_id, &note, now).await?;
    let mut events = vec![audit::Event {
        actor: &actor,
        what: "agent.suspended",
        subject_kind: "agent",
        subject_id: agent_id,
        detail: serde_json::json!({
            "before": { "status": "active" },
            "after": { "status": "suspended", "keys_revoked": keys_revoked, "requests_cancelled": open.len() },
            "reason": reason,
        }),
    }];
    events.extend(open.iter().map(|(id, before)| audit::Event {
        actor: &actor,
        what: "action.cancelled",
        subject_kind: "action",
        subject_id: id,
        detail: serde_json::json!({
            "before": { "state": before },
            "after": { "state": RequestState::Cancelled, "why": "agent suspended" },
        }),
    }));
    audit::record_many(&mut tx, events).await?;
    tx.commit().await?;
    for (id, _) in &open {
        state.notify_changed(id);
    }
    tracing::warn!(
        agent_id,
        keys_revoked,
        cancelled = open.len(),
        "agent suspended"
    );
    Ok(SuspendOutcome {
        keys_revoked,
        requests_cancelled: open.len() as i64,
    })
}
