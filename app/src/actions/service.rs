//! The rule book for action requests: submit, look up, decide, expire, wait.
//! REST handlers and server functions both call these.

use super::model::{ActionDetail, EvidenceInfo, QueueRow, State};
use super::submission::Submission;
use crate::agents::store::Principal;
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::catalog;
use crate::db::{known_id, new_id, now_ms, Db};
use crate::error::{stored, AppError};
use crate::policy::{self, Capability, Outcome, Stage, Trigger};
use crate::state::AppState;
use sqlx::Row;
use std::time::Duration;

/// Records a submission and its decision. The decision, the request and its
/// audit row commit together before the agent hears the answer.
#[tracing::instrument(skip(state, agent, submission), fields(agent = %agent.name, capability = %submission.capability))]
pub async fn submit(
    state: &AppState,
    agent: &Principal,
    submission: Submission,
) -> Result<ActionDetail, AppError> {
    let capability = catalog::lookup(&state.db, &submission.capability).await?;
    let (known, triggers) = match &capability {
        Capability::Known(t) => (true, t.clone()),
        Capability::Unknown | Capability::Unreadable(_) => (false, vec![]),
    };
    let decision = policy::decide(&policy::Input {
        capability_name: &submission.capability,
        capability,
        stage: agent.stage,
        suspended: false,
    });
    let state_after = State::after(decision.outcome);
    let now = now_ms();
    let expires_at = (decision.outcome == Outcome::PendingApproval)
        .then(|| now + state.settings.approval_ttl_ms);
    let id = new_id();
    let reasons = serde_json::to_string(&decision.reasons).map_err(|_| AppError::Internal)?;

    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO action_requests (id, agent_id, capability, capability_known, target, summary, params, \
           observation, decision, reasons, triggers, stage, policy_version, state, payload_hash, created_at, \
           expires_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $16)",
    )
    .bind(&id)
    .bind(&agent.agent_id)
    .bind(&submission.capability)
    .bind(i64::from(known))
    .bind(&submission.target)
    .bind(&submission.summary)
    .bind(submission.params.to_string())
    .bind(&submission.observation)
    .bind(decision.outcome.as_str())
    .bind(&reasons)
    .bind(Trigger::join(&triggers))
    .bind(agent.stage.as_str())
    .bind(decision.policy_version)
    .bind(state_after.as_str())
    .bind(submission.payload_hash())
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    for e in &submission.evidence {
        sqlx::query(
            "INSERT INTO evidence (id, action_id, kind, media_type, size_bytes, sha256, content, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new_id())
        .bind(&id)
        .bind(e.kind)
        .bind(&e.media_type)
        .bind(e.content.len() as i64)
        .bind(&e.sha256)
        .bind(e.content.clone())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::Agent(agent.agent_id.clone()),
            what: "action.submitted",
            subject_kind: "action",
            subject_id: &id,
            detail: serde_json::json!({ "after": {
                "capability": submission.capability,
                "decision": decision.outcome,
                "reasons": decision.reasons,
                "policy_version": decision.policy_version,
                "state": state_after,
                "evidence": submission.evidence.len(),
            }}),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(action_id = %id, decision = decision.outcome.as_str(), "action submitted");
    load(&state.db, &id).await?.ok_or(AppError::Internal)
}

/// One request as its agent may see it: another agent's request is 404,
/// exactly as if it did not exist.
pub async fn get_for_agent(
    state: &AppState,
    agent: &Principal,
    id: &str,
) -> Result<ActionDetail, AppError> {
    known_id(id, "action request")?;
    expire_if_due(state, id).await?;
    match load(&state.db, id).await? {
        Some(action) if action.agent_id == agent.agent_id => Ok(action),
        _ => Err(AppError::NotFound("no such action request".into())),
    }
}

/// Long-poll: answers as soon as the request leaves `pending_approval`, or
/// when `wait` runs out, with the state at that moment.
pub async fn wait_for_agent(
    state: &AppState,
    agent: &Principal,
    id: &str,
    wait: Duration,
) -> Result<ActionDetail, AppError> {
    // Subscribe before reading, so a decision between the two is not missed.
    let mut changes = state.changes.subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let action = get_for_agent(state, agent, id).await?;
        let now = tokio::time::Instant::now();
        if action.state != State::PendingApproval || now >= deadline {
            return Ok(action);
        }
        // Re-read at least every second: another replica may have decided,
        // or the request may have expired.
        let tick = deadline.min(now + Duration::from_secs(1));
        loop {
            match tokio::time::timeout_at(tick, changes.recv()).await {
                Ok(Ok(changed)) if changed != id => continue,
                _ => break,
            }
        }
    }
}

pub async fn get_for_reviewer(state: &AppState, id: &str) -> Result<ActionDetail, AppError> {
    known_id(id, "action request")?;
    expire_if_due(state, id).await?;
    load(&state.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound("no such action request".into()))
}

/// Pending requests, newest first.
pub async fn pending(state: &AppState) -> Result<Vec<QueueRow>, AppError> {
    expire_due(state).await?;
    let rows = sqlx::query(
        "SELECT r.id, a.name AS agent_name, r.capability, r.capability_known, r.triggers, r.summary, r.target, \
                r.created_at, r.expires_at \
         FROM action_requests r JOIN agents a ON a.id = r.agent_id \
         WHERE r.state = 'pending_approval' ORDER BY r.created_at DESC, r.id DESC LIMIT $1",
    )
    .bind(super::model::QUEUE_LIMIT as i64)
    .fetch_all(&state.db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(QueueRow {
                id: r.try_get("id")?,
                agent_name: r.try_get("agent_name")?,
                capability: r.try_get("capability")?,
                capability_known: r.try_get::<i64, _>("capability_known")? == 1,
                triggers: stored(Trigger::parse_list(&r.try_get::<String, _>("triggers")?))?,
                summary: r.try_get("summary")?,
                target: r.try_get("target")?,
                created_at_ms: r.try_get("created_at")?,
                expires_at_ms: r.try_get("expires_at")?,
            })
        })
        .collect()
}

/// A reviewer's verdict.
#[derive(Debug, Clone)]
pub enum Verdict {
    Approve,
    Reject { reason: String },
}

/// Decides a pending request. The conditional update lets the database
/// settle races: of many reviewers deciding at once, exactly one wins and
/// the rest get 409.
#[tracing::instrument(skip(state, reviewer), fields(reviewer = %reviewer.username))]
pub async fn decide(
    state: &AppState,
    reviewer: &UserView,
    id: &str,
    verdict: Verdict,
) -> Result<ActionDetail, AppError> {
    known_id(id, "action request")?;
    let (next, note) = match &verdict {
        Verdict::Approve => (State::Approved, None),
        Verdict::Reject { reason } => (
            State::Rejected,
            Some(crate::text::field(
                "the reason for rejecting",
                reason,
                2000,
            )?),
        ),
    };
    expire_if_due(state, id).await?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE action_requests SET state = $1, decided_at = $2, decided_by = $3, decision_note = $4, updated_at = $2 \
         WHERE id = $5 AND state = 'pending_approval' AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(next.as_str())
    .bind(now)
    .bind(&reviewer.id)
    .bind(&note)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        drop(tx);
        let current = load(&state.db, id)
            .await?
            .ok_or_else(|| AppError::NotFound("no such action request".into()))?;
        let by = current
            .decided_by
            .map(|u| format!(" by {u}"))
            .unwrap_or_default();
        return Err(AppError::Conflict(format!(
            "this request is already {}{by}; a decided request is final",
            current.state.label()
        )));
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(reviewer.id.clone()),
            what: match next {
                State::Approved => "action.approved",
                _ => "action.rejected",
            },
            subject_kind: "action",
            subject_id: id,
            detail: serde_json::json!({
                "before": { "state": State::PendingApproval },
                "after": { "state": next, "note": note },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    state.notify_changed(id);
    tracing::info!(action_id = %id, state = next.as_str(), "action decided");
    load(&state.db, id).await?.ok_or(AppError::Internal)
}

/// The agent withdraws its own pending request. Like a decision, it is
/// final, and it loses any race with a reviewer cleanly (409).
#[tracing::instrument(skip(state, agent), fields(agent = %agent.name))]
pub async fn cancel(
    state: &AppState,
    agent: &Principal,
    id: &str,
) -> Result<ActionDetail, AppError> {
    // 404 for another agent's request, exactly as if it did not exist.
    get_for_agent(state, agent, id).await?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE action_requests SET state = 'cancelled', decided_at = $1, updated_at = $1 \
         WHERE id = $2 AND agent_id = $3 AND state = 'pending_approval'",
    )
    .bind(now)
    .bind(id)
    .bind(&agent.agent_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        drop(tx);
        let current = get_for_agent(state, agent, id).await?;
        return Err(AppError::Conflict(format!(
            "only a request waiting for approval can be cancelled; this one is {}",
            current.state.label()
        )));
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::Agent(agent.agent_id.clone()),
            what: "action.cancelled",
            subject_kind: "action",
            subject_id: id,
            detail: serde_json::json!({
                "before": { "state": State::PendingApproval },
                "after": { "state": State::Cancelled },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    state.notify_changed(id);
    load(&state.db, id).await?.ok_or(AppError::Internal)
}

/// Expires one request if its deadline has passed (expiry means no).
pub async fn expire_if_due(state: &AppState, id: &str) -> Result<(), AppError> {
    expire_where(state, Some(id)).await.map(|_| ())
}

/// Expires every overdue request; the background sweep calls this.
pub async fn expire_due(state: &AppState) -> Result<usize, AppError> {
    expire_where(state, None).await
}

async fn expire_where(state: &AppState, only: Option<&str>) -> Result<usize, AppError> {
    let now = now_ms();
    let due: Vec<String> = sqlx::query(
        "SELECT id FROM action_requests WHERE state = 'pending_approval' AND expires_at <= $1 \
         AND ($2 IS NULL OR id = $2) LIMIT 500",
    )
    .bind(now)
    .bind(only)
    .fetch_all(&state.db)
    .await?
    .iter()
    .map(|r| r.try_get("id"))
    .collect::<Result<_, _>>()?;
    let mut expired = 0;
    for id in due {
        let mut tx = state.db.begin().await?;
        let done = sqlx::query(
            "UPDATE action_requests SET state = 'expired', decided_at = $1, updated_at = $1 \
             WHERE id = $2 AND state = 'pending_approval' AND expires_at <= $1",
        )
        .bind(now)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            audit::record(
                &mut tx,
                audit::Event {
                    actor: &Actor::System,
                    what: "action.expired",
                    subject_kind: "action",
                    subject_id: &id,
                    detail: serde_json::json!({
                        "before": { "state": State::PendingApproval },
                        "after": { "state": State::Expired },
                    }),
                },
            )
            .await?;
            tx.commit().await?;
            state.notify_changed(&id);
            expired += 1;
        }
    }
    Ok(expired)
}

/// Loads one request with its evidence list.
pub async fn load(db: &Db, id: &str) -> Result<Option<ActionDetail>, AppError> {
    let Some(r) = sqlx::query(
        "SELECT r.*, a.name AS agent_name, u.username AS decided_by_name \
         FROM action_requests r JOIN agents a ON a.id = r.agent_id \
         LEFT JOIN users u ON u.id = r.decided_by WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    let evidence = sqlx::query(
        "SELECT id, kind, media_type, size_bytes, sha256 FROM evidence WHERE action_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(db)
    .await?
    .iter()
    .map(|e| {
        Ok(EvidenceInfo {
            id: e.try_get("id")?,
            kind: e.try_get("kind")?,
            media_type: e.try_get("media_type")?,
            size_bytes: e.try_get("size_bytes")?,
            sha256: e.try_get("sha256")?,
        })
    })
    .collect::<Result<Vec<_>, AppError>>()?;
    let params: String = r.try_get("params")?;
    let reasons: String = r.try_get("reasons")?;
    Ok(Some(ActionDetail {
        id: r.try_get("id")?,
        agent_id: r.try_get("agent_id")?,
        agent_name: r.try_get("agent_name")?,
        stage: stored(Stage::parse(&r.try_get::<String, _>("stage")?))?,
        capability: r.try_get("capability")?,
        capability_known: r.try_get::<i64, _>("capability_known")? == 1,
        triggers: stored(Trigger::parse_list(&r.try_get::<String, _>("triggers")?))?,
        target: r.try_get("target")?,
        summary: r.try_get("summary")?,
        params: stored(serde_json::from_str(&params))?,
        observation: r.try_get("observation")?,
        decision: stored(serde_json::from_value(serde_json::Value::String(
            r.try_get("decision")?,
        )))?,
        reasons: stored(serde_json::from_str(&reasons))?,
        policy_version: r.try_get("policy_version")?,
        state: stored(State::parse(&r.try_get::<String, _>("state")?))?,
        created_at_ms: r.try_get("created_at")?,
        expires_at_ms: r.try_get("expires_at")?,
        decided_at_ms: r.try_get("decided_at")?,
        decided_by: r.try_get("decided_by_name")?,
        decision_note: r.try_get("decision_note")?,
        evidence,
    }))
}
