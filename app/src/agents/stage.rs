//! Registering an agent above propose is a rise in trust: in the browser
//! the agent starts at propose and a change request asks another lead for
//! the stage it was registered for.

use super::store::{insert_agent, NewAgent};
use super::AgentRow;
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::change::store::Stored;
use crate::change::{self, Kind, Proposed};
use crate::db::{now_ms, Db, Tx};
use crate::error::{stored, AppError};
use crate::policy::Stage;
use crate::trust::history::{self, Change};
use sqlx::Row;

/// The highest stage one lead may register an agent at.
pub const ALONE_UP_TO: Stage = Stage::Propose;

/// Registers an agent in the browser. Above propose, one lead cannot do it
/// alone: the agent starts at propose and a change request asks another
/// lead for the stage (unless an admin allows one-person changes).
#[tracing::instrument(skip(db, user, new, reason), fields(agent = %new.name))]
pub async fn create(
    db: &Db,
    user: &UserView,
    new: NewAgent<'_>,
    reason: &str,
) -> Result<(AgentRow, Option<Proposed>), AppError> {
    let wanted = new.stage;
    let mut tx = db.begin().await?;
    // Agents and keys are part of what the decision reads.
    crate::policy::store::bump_epoch(&mut tx).await?;
    let rises = wanted > ALONE_UP_TO;
    let one_person = rises && change::store::one_person(&mut tx).await?;
    let reason = (rises && !one_person)
        .then(|| change::store::reason(reason))
        .transpose()?;
    let start = if reason.is_some() {
        ALONE_UP_TO
    } else {
        wanted
    };
    let actor = Actor::User(user.id.clone());
    let how = serde_json::json!({ "one_person": one_person });
    let agent = insert_agent(
        db,
        &mut tx,
        &actor,
        NewAgent {
            stage: start,
            ..new
        },
        how,
    )
    .await?;
    let changes = stage_changes(&mut tx, &agent.id).await?;
    let needed = match reason {
        Some(_) => {
            crate::trust::settings::criteria_in(&mut tx, wanted)
                .await?
                .approvals_needed
        }
        None => 0,
    };
    let proposed = match reason {
        None => None,
        Some(reason) => Some(
            change::store::open(
                &mut tx,
                user,
                change::store::Open {
                    kind: Kind::AgentStage,
                    agent_id: Some(&agent.id),
                    subject: "",
                    before: Some(shown(start, "active", changes)),
                    after: serde_json::json!({ "stage": wanted }),
                    rises: vec![format!(
                        "registered to run at {wanted}, above {ALONE_UP_TO}"
                    )],
                    reason: &reason,
                    detail: None,
                    // As many as a promotion to that stage would need.
                    needed,
                },
            )
            .await?,
        ),
    };
    tx.commit().await?;
    Ok((agent, proposed))
}

/// The agent's trust as the request compares it: its stage and status, and
/// how many stage changes it has had (a demotion and a promotion back to
/// the same stage still make the request stale).
pub fn shown(stage: Stage, status: &str, changes: i64) -> serde_json::Value {
    serde_json::json!({ "stage": stage, "status": status, "stage_changes": changes })
}

async fn stage_changes(tx: &mut Tx<'_>, agent_id: &str) -> Result<i64, AppError> {
    Ok(
        sqlx::query("SELECT COUNT(*) AS n FROM stage_changes WHERE agent_id = $1")
            .bind(agent_id)
            .fetch_one(&mut **tx)
            .await?
            .try_get("n")?,
    )
}

/// Raises the agent to the stage it was registered for, if it is still
/// where registration left it.
pub async fn apply_change(
    tx: &mut Tx<'_>,
    c: &Stored,
    approver: &UserView,
) -> Result<(), AppError> {
    let agent_id = c.agent_id.as_deref().ok_or(AppError::Internal)?;
    let r = sqlx::query("SELECT stage, status FROM agents WHERE id = $1")
        .bind(agent_id)
        .fetch_one(&mut **tx)
        .await?;
    let from = stored(Stage::parse(&r.try_get::<String, _>("stage")?))?;
    let status: String = r.try_get("status")?;
    let changes = stage_changes(tx, agent_id).await?;
    c.still(
        Some(&shown(from, &status, changes)),
        "the agent's stage or status",
    )?;
    let to: Stage = stored(serde_json::from_value(c.after["stage"].clone()))?;
    sqlx::query("UPDATE agents SET stage = $1 WHERE id = $2")
        .bind(to.as_str())
        .bind(agent_id)
        .execute(&mut **tx)
        .await?;
    let reason = format!("registered at {to}: change request {}", c.id);
    history::record(
        tx,
        Change {
            agent_id,
            capability: None,
            kind: "promoted",
            from: Some(from),
            to,
            reason: &reason,
            actor_id: Some(&approver.id),
            review_id: None,
            at: now_ms(),
        },
    )
    .await?;
    audit::record(
        tx,
        audit::Event {
            actor: &Actor::User(approver.id.clone()),
            what: "agent.promoted",
            subject_kind: "agent",
            subject_id: agent_id,
            detail: serde_json::json!({
                "before": { "stage": from, "status": status }, "after": { "stage": to, "status": status },
                "change_id": c.id,
            }),
        },
    )
    .await
}
