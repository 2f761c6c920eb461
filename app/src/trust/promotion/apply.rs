//! An approved review takes effect in the deciding transaction, if the
//! agent is still where the review found it.

use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::change::store::Stored;
use crate::db::Tx;
use crate::error::{stored, AppError};
use crate::trust::history::{self, Change};

use super::agent::{agent_now, capability_stages};
use super::{Frozen, Spec};
/// Why approving needs a written override, if it does: the criteria
/// frozen at opening were not met, or the review skips a stage.
pub fn needs_override(c: &Stored) -> Result<Option<&'static str>, AppError> {
    let frozen: Frozen = stored(serde_json::from_value(c.detail.clone().unwrap_or_default()))?;
    Ok(if frozen.skips_stages {
        Some("this review skips a stage: approving it needs an override with a reason")
    } else if !frozen.criteria_met {
        Some("the readiness criteria are not met: approving needs an override with a reason")
    } else {
        None
    })
}

/// Applies an approved review at once, if the agent is still where the
/// review found it.
pub async fn apply(tx: &mut Tx<'_>, c: &Stored, user: &UserView) -> Result<(), AppError> {
    let review: Spec = stored(serde_json::from_value(c.after.clone()))?;
    let review = &review;
    let agent = agent_now(tx, c.agent_id.as_deref().ok_or(AppError::Internal)?).await?;
    let agent_id = c.agent_id.clone().unwrap_or_default();
    let id = c.id.as_str();
    let now = crate::db::now_ms();
    let moved = || {
        AppError::Conflict(
            "the agent's trust changed since this review opened; open a new review".into(),
        )
    };
    let reason = format!("promotion review {id}");
    let actor = Actor::User(user.id.clone());
    let change = |capability, kind| Change {
        agent_id: &agent_id,
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
            .bind(&agent_id)
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
                subject_id: &agent_id,
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
    let stages = capability_stages(tx, &agent_id, agent.stage, &review.capabilities).await?;
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
        .bind(&agent_id)
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
            subject_id: &agent_id,
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
