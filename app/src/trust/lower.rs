//! Automatic, scoped demotion: an incident or a spike of rejections drops
//! that one capability to act_with_approval, so every further use waits for
//! a person, and tells the leads. The agent's other grants stay.

use super::history::{self, Change};
use crate::audit::{self, Actor};
use crate::db::{now_ms, Tx};
use crate::error::AppError;
use crate::policy::Stage;
use crate::state::AppState;
use sqlx::Row;

/// Lowers the capability's grant if it allowed more than act_with_approval.
/// The caller's transaction must already hold the policy lock
/// (`bump_epoch` first). Answers whether anything changed.
pub async fn lower_capability(
    tx: &mut Tx<'_>,
    agent_id: &str,
    capability: &str,
    kind: &str,
    why: &str,
) -> Result<bool, AppError> {
    let lowered = sqlx::query(
        "UPDATE grants SET stage = 'act_with_approval' \
         WHERE agent_id = $1 AND capability = $2 AND (stage = 'scoped_autonomy' OR (stage IS NULL \
           AND EXISTS (SELECT 1 FROM agents WHERE id = $1 AND stage = 'scoped_autonomy')))",
    )
    .bind(agent_id)
    .bind(capability)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if lowered != 1 {
        return Ok(false);
    }
    let at = now_ms();
    history::record(
        tx,
        Change {
            agent_id,
            capability: Some(capability),
            kind,
            from: Some(Stage::ScopedAutonomy),
            to: Stage::ActWithApproval,
            reason: why,
            actor_id: None,
            review_id: None,
            at,
        },
    )
    .await?;
    let message = format!(
        "{capability} was dropped to act_with_approval: {why}. Every further use waits for a person; \
         raising it again takes a promotion review."
    );
    history::notify(tx, kind, agent_id, Some(capability), &message, at).await?;
    audit::record(
        tx,
        audit::Event {
            actor: &Actor::System,
            what: "scope.demoted",
            subject_kind: "agent",
            subject_id: agent_id,
            detail: serde_json::json!({
                "capability": capability,
                "before": { "stage": Stage::ScopedAutonomy },
                "after": { "stage_at_most": Stage::ActWithApproval },
                "why": why,
            }),
        },
    )
    .await?;
    tracing::warn!(
        agent_id,
        capability,
        kind,
        "capability dropped to act_with_approval"
    );
    Ok(true)
}

/// Queues a rejection-spike check in the rejecting transaction, so it
/// survives a busy lock or a crash between the commit and the check.
pub async fn queue_check(
    tx: &mut Tx<'_>,
    agent_id: &str,
    capability: &str,
    at: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO trust_checks (agent_id, capability, at) VALUES ($1, $2, $3) \
         ON CONFLICT (agent_id, capability) DO UPDATE SET at = excluded.at",
    )
    .bind(agent_id)
    .bind(capability)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Runs queued checks: right after a rejection commits, and from the
/// background sweep for any that did not run. A check is dequeued only
/// once it ran, and only if no newer rejection queued it again meanwhile.
pub async fn run_checks(state: &AppState) -> Result<usize, AppError> {
    let queued =
        sqlx::query("SELECT agent_id, capability, at FROM trust_checks ORDER BY at LIMIT 100")
            .fetch_all(&state.db)
            .await?;
    let mut lowered = 0;
    for r in &queued {
        let agent_id: String = r.try_get("agent_id")?;
        let capability: String = r.try_get("capability")?;
        let at: i64 = r.try_get("at")?;
        lowered += usize::from(after_rejection(state, &agent_id, &capability).await?);
        sqlx::query("DELETE FROM trust_checks WHERE agent_id = $1 AND capability = $2 AND at = $3")
            .bind(&agent_id)
            .bind(&capability)
            .bind(at)
            .execute(&state.db)
            .await?;
    }
    Ok(lowered)
}

/// If enough of the capability's latest human decisions were rejections,
/// drop it. Read first without the lock, so an ordinary rejection does not
/// invalidate every replica's policy cache.
async fn after_rejection(
    state: &AppState,
    agent_id: &str,
    capability: &str,
) -> Result<bool, AppError> {
    let settings = super::settings::load(&state.db).await?;
    let recent = sqlx::query(
        "SELECT state FROM action_requests WHERE agent_id = $1 AND capability = $2 \
         AND decided_by IS NOT NULL ORDER BY created_at DESC LIMIT $3",
    )
    .bind(agent_id)
    .bind(capability)
    .bind(settings.spike_window)
    .fetch_all(&state.db)
    .await?;
    let mut rejected = 0;
    for r in &recent {
        if r.try_get::<String, _>("state")? == "rejected" {
            rejected += 1;
        }
    }
    if rejected < settings.spike_rejections {
        return Ok(false);
    }
    let mut tx = state.db.begin().await?;
    crate::policy::store::bump_epoch(&mut tx).await?;
    let why = format!(
        "{rejected} of its last {} human decisions were rejections",
        recent.len()
    );
    let lowered = lower_capability(&mut tx, agent_id, capability, "rejection_spike", &why).await?;
    // Already lowered (by an earlier check, here or on another replica):
    // roll back, so the epoch stays and no replica reloads for nothing.
    if lowered {
        tx.commit().await?;
    }
    Ok(lowered)
}
