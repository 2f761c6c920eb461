//! The rule book for action requests: submit, look up, decide, expire, wait.
//! REST handlers and server functions both call these.

use super::commit::Submitted;
use super::model::{ActionDetail, EvidenceInfo, State};
use super::submission::Submission;
use crate::agents::store::Principal;
use crate::audit::{self, Actor};
use crate::db::{known_id, now_ms, Db, Tx};
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
#[tracing::instrument(skip(state, key_hash, submission, idempotency_key), fields(capability = %submission.capability))]
pub async fn submit(
    state: &AppState,
    key_hash: String,
    submission: Submission,
    idempotency_key: Option<String>,
) -> Result<Submitted, AppError> {
    state
        .committer
        .submit(key_hash, submission, idempotency_key)
        .await
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

/// The 409 for deciding a request that is no longer open, naming who
/// decided it.
pub(super) async fn already_final(db: &Db, id: &str) -> AppError {
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
    let due: Vec<(String, String, String, i64)> = sqlx::query(
        "SELECT id, agent_id, capability, created_at FROM action_requests \
         WHERE state = 'pending_approval' AND expires_at <= $1 AND ($2 IS NULL OR id = $2) LIMIT 500",
    )
    .bind(now)
    .bind(only)
    .fetch_all(&state.db)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("id")?,
            r.try_get("agent_id")?,
            r.try_get("capability")?,
            r.try_get("created_at")?,
        ))
    })
    .collect::<Result<_, sqlx::Error>>()?;
    let mut expired = 0;
    for (id, agent_id, capability, created_at) in due {
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
            let counts = crate::trust::rollup::Counts {
                expired: 1,
                ..Default::default()
            };
            crate::trust::rollup::add(&mut tx, &agent_id, &capability, created_at, &counts).await?;
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
        "SELECT r.*, a.name AS agent_name, s.username AS sponsor_name, u.username AS decided_by_name \
         FROM action_requests r JOIN agents a ON a.id = r.agent_id JOIN users s ON s.id = a.sponsor_id \
         LEFT JOIN users u ON u.id = r.decided_by WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    let evidence = sqlx::query(
        "SELECT id, kind, media_type, size_bytes, sha256, phase FROM evidence WHERE action_id = $1 ORDER BY id",
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
            phase: e.try_get("phase")?,
        })
    })
    .collect::<Result<Vec<_>, AppError>>()?;
    let approved_by = sqlx::query(
        "SELECT u.username FROM approvals p JOIN users u ON u.id = p.user_id \
         JOIN action_requests r ON r.id = p.action_id \
         WHERE p.action_id = $1 AND p.payload_hash = r.payload_hash ORDER BY p.at, u.username",
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
        sponsor: r.try_get("sponsor_name")?,
        payload_hash: r.try_get("payload_hash")?,
        edited_params: json_opt(r.try_get("edited_params")?)?,
        correction: json_opt(r.try_get("correction")?)?,
        claimed_at_ms: r.try_get("claimed_at")?,
        outcome_at_ms: r.try_get("outcome_at")?,
        outcome_detail: r.try_get("outcome_detail")?,
        incident: r.try_get::<i64, _>("incident")? == 1,
    }))
}

fn json_opt(text: Option<String>) -> Result<Option<serde_json::Value>, AppError> {
    text.map(|t| stored(serde_json::from_str(&t))).transpose()
}

/// A request's reviewed evidence as (type, media type, SHA-256), in order:
/// what its payload hash covers.
pub(super) async fn request_evidence<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    id: &str,
) -> Result<Vec<(String, String, String)>, AppError> {
    sqlx::query(
        "SELECT kind, media_type, sha256 FROM evidence \
         WHERE action_id = $1 AND phase = 'request' ORDER BY id",
    )
    .bind(id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("kind")?,
            r.try_get("media_type")?,
            r.try_get("sha256")?,
        ))
    })
    .collect()
}

/// The payload hash of a stored request, recomputed from what is stored:
/// its params as edited (or `params` in their place) and its reviewed
/// evidence.
pub(super) async fn stored_payload_hash(
    tx: &mut Tx<'_>,
    id: &str,
    params: Option<&serde_json::Value>,
) -> Result<String, AppError> {
    let r = sqlx::query(
        "SELECT capability, target, summary, observation, params, edited_params \
         FROM action_requests WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    let own: serde_json::Value = match r.try_get::<Option<String>, _>("edited_params")? {
        Some(edited) => stored(serde_json::from_str(&edited))?,
        None => stored(serde_json::from_str(&r.try_get::<String, _>("params")?))?,
    };
    let evidence = request_evidence(&mut **tx, id).await?;
    Ok(super::submission::payload_hash(
        &r.try_get::<String, _>("capability")?,
        &r.try_get::<String, _>("target")?,
        &r.try_get::<String, _>("summary")?,
        params.unwrap_or(&own),
        r.try_get::<Option<String>, _>("observation")?.as_deref(),
        evidence
            .iter()
            .map(|(k, m, s)| (k.as_str(), m.as_str(), s.as_str())),
    ))
}

pub(super) fn held_for(stored_list: &str) -> Result<Vec<RuleKey>, AppError> {
    stored(
        stored_list
            .split(',')
            .filter(|k| !k.is_empty())
            .map(RuleKey::parse)
            .collect(),
    )
}

pub(super) fn small(n: i64) -> Result<u8, AppError> {
    stored(u8::try_from(n))
}
