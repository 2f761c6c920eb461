//! An approved review takes effect in the deciding transaction, if the
//! agent is still where the review found it.

use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::Tx;
use crate::error::{stored, AppError};
use crate::policy::Stage;
use crate::trust::history::{self, Change};
use sqlx::Row;

use super::agent::{capability_stages, AgentNow};
/// The review as stored, read in the deciding transaction.
pub(super) struct Stored {
    pub(super) agent_id: String,
    pub(super) capabilities: Vec<String>,
    pub(super) from: Stage,
    pub(super) to: Stage,
    pub(super) reinstate: bool,
    pub(super) max_per_hour: Option<i64>,
    pub(super) criteria_met: bool,
    pub(super) skips: bool,
    pub(super) needed: i64,
    pub(super) state: String,
    pub(super) opened_by: String,
}

pub(super) async fn read(tx: &mut Tx<'_>, id: &str) -> Result<Stored, AppError> {
    let r = sqlx::query(
        "SELECT agent_id, capabilities, from_stage, to_stage, reinstate, max_per_hour, criteria_met, \
                skips_stages, approvals_needed, state, opened_by FROM promotion_reviews WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| AppError::NotFound("no such promotion review".into()))?;
    Ok(Stored {
        agent_id: r.try_get("agent_id")?,
        capabilities: stored(serde_json::from_str(
            &r.try_get::<String, _>("capabilities")?,
        ))?,
        from: stored(Stage::parse(&r.try_get::<String, _>("from_stage")?))?,
        to: stored(Stage::parse(&r.try_get::<String, _>("to_stage")?))?,
        reinstate: r.try_get::<i64, _>("reinstate")? != 0,
        max_per_hour: r.try_get("max_per_hour")?,
        criteria_met: r.try_get::<i64, _>("criteria_met")? != 0,
        skips: r.try_get::<i64, _>("skips_stages")? != 0,
        needed: r.try_get("approvals_needed")?,
        state: r.try_get("state")?,
        opened_by: r.try_get("opened_by")?,
    })
}

/// Applies an approved review at once, if the agent is still where the
/// review found it.
pub(super) async fn apply(
    tx: &mut Tx<'_>,
    review: &Stored,
    agent: &AgentNow,
    id: &str,
    user: &UserView,
    now: i64,
) -> Result<(), AppError> {
    let moved = || {
        AppError::Conflict(
            "the agent's trust changed since this review opened; open a new review".into(),
        )
    };
    let reason = format!("promotion review {id}");
    let actor = Actor::User(user.id.clone());
    let change = |capability, kind| Change {
        agent_id: &review.agent_id,
        capability,
        kind,
        from: Some(review.from),
        to: review.to,
        reason: &reason,
        actor_id: Some(&user.id),
        review_id: Some(id),
        at: now,
    };
    if review.capabilities.is_empty() {
        if agent.stage != review.from || agent.suspended != review.reinstate {
            return Err(moved());
        }
        sqlx::query("UPDATE agents SET stage = $1, status = 'active' WHERE id = $2")
            .bind(review.to.as_str())
            .bind(&review.agent_id)
            .execute(&mut **tx)
            .await?;
        let kind = if review.reinstate {
            "reinstated"
        } else {
            "promoted"
        };
        history::record(tx, change(None, kind)).await?;
        audit::record(
            tx,
            audit::Event {
                actor: &actor,
                what: if review.reinstate { "agent.reinstated" } else { "agent.promoted" },
                subject_kind: "agent",
                subject_id: &review.agent_id,
                detail: serde_json::json!({
                    "before": { "stage": review.from, "status": if review.reinstate { "suspended" } else { "active" } },
                    "after": { "stage": review.to, "status": "active" },
                    "review_id": id,
                }),
            },
        )
        .await?;
        return Ok(());
    }
    if agent.suspended {
        return Err(moved());
    }
    let stages = capability_stages(tx, &review.agent_id, agent.stage, &review.capabilities).await?;
    if stages.iter().any(|s| *s != review.from) || review.to > agent.stage {
        return Err(moved());
    }
    // At the agent's own stage the grant follows the agent again.
    let grant_stage = (review.to < agent.stage).then(|| review.to.as_str());
    for cap in &review.capabilities {
        sqlx::query(
            "UPDATE grants SET stage = $1, max_per_hour = COALESCE($2, max_per_hour) \
             WHERE agent_id = $3 AND capability = $4",
        )
        .bind(grant_stage)
        .bind(review.max_per_hour)
        .bind(&review.agent_id)
        .bind(cap)
        .execute(&mut **tx)
        .await?;
        history::record(tx, change(Some(cap.as_str()), "promoted")).await?;
    }
    audit::record(
        tx,
        audit::Event {
            actor: &actor,
            what: "scope.promoted",
            subject_kind: "agent",
            subject_id: &review.agent_id,
            detail: serde_json::json!({
                "capabilities": review.capabilities,
                "before": { "stage": review.from },
                "after": { "stage": review.to, "max_per_hour": review.max_per_hour },
                "review_id": id,
            }),
        },
    )
    .await?;
    Ok(())
}
