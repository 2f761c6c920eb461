//! The rule book for action requests: submit, look up, decide, expire, wait.
//! REST handlers and server functions both call these.

use super::model::{ActionDetail, EvidenceInfo, QueueRow, State};
use super::submission::Submission;
use crate::agents::store::Principal;
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::{known_id, now_ms, Db};
use crate::error::{stored, AppError};
use crate::policy::{RuleKey, Stage, Trigger};
use crate::state::AppState;
use sqlx::Row;
use std::time::Duration;

/// Decides and records a submission. The decision, the request and its
/// audit row commit together (group-committed with any others waiting)
/// before the agent hears the answer.
/// The key is checked by the writer itself (see `commit`), against the same
/// consistent view the decision reads.
#[tracing::instrument(skip(state, key_hash, submission), fields(capability = %submission.capability))]
pub async fn submit(
    state: &AppState,
    key_hash: String,
    submission: Submission,
) -> Result<ActionDetail, AppError> {
    state.committer.submit(key_hash, submission).await
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
        "SELECT r.id, a.name AS agent_name, r.capability, r.capability_known, r.triggers, r.held_for, r.summary, \
                r.target, r.created_at, r.expires_at, r.approvals_required, \
                (SELECT COUNT(*) FROM approvals p WHERE p.action_id = r.id) AS approvals \
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
                held_for: held_for(&r.try_get::<String, _>("held_for")?)?,
                summary: r.try_get("summary")?,
                target: r.try_get("target")?,
                created_at_ms: r.try_get("created_at")?,
                expires_at_ms: r.try_get("expires_at")?,
                approvals_required: small(r.try_get("approvals_required")?)?,
                approvals: small(r.try_get("approvals")?)?,
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

/// Decides a pending request. A conditional update first claims the
/// still-open request, so concurrent decisions on it queue up in the
/// database (a row lock on PostgreSQL, the write lock on SQLite): of many
/// reviewers, the ones who arrive after it is final get 409. An approval
/// counts once per person; the request is approved when the rule's number of
/// distinct approvals is reached. One rejection is final.
#[tracing::instrument(skip(state, reviewer), fields(reviewer = %reviewer.username))]
pub async fn decide(
    state: &AppState,
    reviewer: &UserView,
    id: &str,
    verdict: Verdict,
) -> Result<ActionDetail, AppError> {
    known_id(id, "action request")?;
    let note = match &verdict {
        Verdict::Approve => None,
        Verdict::Reject { reason } => Some(crate::text::field(
            "the reason for rejecting",
            reason,
            2000,
        )?),
    };
    expire_if_due(state, id).await?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let open = sqlx::query(
        "UPDATE action_requests SET updated_at = $1 \
         WHERE id = $2 AND state = 'pending_approval' AND (expires_at IS NULL OR expires_at > $1)",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if open.rows_affected() != 1 {
        drop(tx);
        return Err(already_final(&state.db, id).await);
    }
    let row = sqlx::query(
        "SELECT agent_id, capability, approvals_required FROM action_requests WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let agent_id: String = row.try_get("agent_id")?;
    let capability: String = row.try_get("capability")?;
    let required: i64 = row.try_get("approvals_required")?;

    let (next, what, count) = match verdict {
        Verdict::Reject { .. } => (State::Rejected, "action.rejected", None),
        Verdict::Approve => {
            let mine =
                sqlx::query("SELECT at FROM approvals WHERE action_id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(&reviewer.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if mine.is_some() {
                return Err(AppError::Conflict(format!(
                    "you have already approved this request; it needs {required} approvals from distinct reviewers"
                )));
            }
            sqlx::query("INSERT INTO approvals (action_id, user_id, at) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(&reviewer.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let count: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM approvals WHERE action_id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
            if count >= required {
                (State::Approved, "action.approved", Some(count))
            } else {
                (State::PendingApproval, "action.approval_added", Some(count))
            }
        }
    };
    if next != State::PendingApproval {
        sqlx::query(
            "UPDATE action_requests SET state = $1, decided_at = $2, decided_by = $3, decision_note = $4 \
             WHERE id = $5 AND state = 'pending_approval'",
        )
        .bind(next.as_str())
        .bind(now)
        .bind(&reviewer.id)
        .bind(&note)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    if next == State::Approved {
        crate::policy::store::record_use(&mut tx, &agent_id, &capability, now).await?;
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(reviewer.id.clone()),
            what,
            subject_kind: "action",
            subject_id: id,
            detail: serde_json::json!({
                "before": { "state": State::PendingApproval },
                "after": { "state": next, "note": note, "approvals": count, "approvals_required": required },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    if next != State::PendingApproval {
        state.notify_changed(id);
    }
    tracing::info!(action_id = %id, state = next.as_str(), approvals = ?count, "action decided");
    load(&state.db, id).await?.ok_or(AppError::Internal)
}

/// The 409 for deciding a request that is no longer open, naming who
/// decided it.
async fn already_final(db: &Db, id: &str) -> AppError {
    match load(db, id).await {
        Err(e) => e,
        Ok(None) => AppError::NotFound("no such action request".into()),
        Ok(Some(current)) => {
            let by = current
                .decided_by
                .map(|u| format!(" by {u}"))
                .unwrap_or_default();
            AppError::Conflict(format!(
                "this request is already {}{by}; a decided request is final",
                current.state.label()
            ))
        }
    }
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
    let approved_by = sqlx::query(
        "SELECT u.username FROM approvals p JOIN users u ON u.id = p.user_id \
         WHERE p.action_id = $1 ORDER BY p.at, u.username",
    )
    .bind(id)
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| r.try_get("username"))
    .collect::<Result<Vec<String>, _>>()?;
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
        held_for: held_for(&r.try_get::<String, _>("held_for")?)?,
        rules: stored(serde_json::from_str(&r.try_get::<String, _>("rules")?))?,
        approvals_required: small(r.try_get("approvals_required")?)?,
        approved_by,
        state: stored(State::parse(&r.try_get::<String, _>("state")?))?,
        created_at_ms: r.try_get("created_at")?,
        expires_at_ms: r.try_get("expires_at")?,
        decided_at_ms: r.try_get("decided_at")?,
        decided_by: r.try_get("decided_by_name")?,
        decision_note: r.try_get("decision_note")?,
        evidence,
    }))
}

fn held_for(stored_list: &str) -> Result<Vec<RuleKey>, AppError> {
    stored(
        stored_list
            .split(',')
            .filter(|k| !k.is_empty())
            .map(RuleKey::parse)
            .collect(),
    )
}

fn small(n: i64) -> Result<u8, AppError> {
    stored(u8::try_from(n))
}
