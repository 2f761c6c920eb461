//! The rule book for action requests: submit, look up, decide, expire, wait.
//! REST handlers and server functions both call these.

use super::model::{ActionDetail, RequestState};
use super::store::{self, load, Move};
use crate::audit::{self, Actor};
use crate::auth::agent::Principal;
use crate::db::{known_id, now_ms};
use crate::error::AppError;
use crate::replicas::feed::EVERYTHING;
use crate::state::AppState;
use sqlx::Row;
use std::time::Duration;

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
        if action.state != RequestState::PendingApproval || now >= deadline {
            return Ok(action);
        }
        // Re-read anyway now and then (a change this replica cannot hear of),
        // and when the wait for approval runs out.
        let mut tick = deadline.min(now + state.changes.reread_every());
        if let Some(at) = action.expires_at_ms {
            let left = u64::try_from(at - now_ms()).unwrap_or(0);
            tick = tick.min(now + Duration::from_millis(left + 10));
        }
        loop {
            match tokio::time::timeout_at(tick, changes.recv()).await {
                Ok(Ok(changed)) if changed != id && changed != EVERYTHING => continue,
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
pub(super) async fn already_final(state: &AppState, id: &str) -> AppError {
    store::unmoved(&state.db, id, None, |current| {
        let by = current
            .decided_by
            .as_ref()
            .map(|u| format!(" by {u}"))
            .unwrap_or_default();
        AppError::Conflict(format!(
            "this request is already {}{by}; a decided request is final",
            current.state.label()
        ))
    })
    .await
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
    let moved = Move::from(
        &[RequestState::PendingApproval],
        Some(RequestState::Cancelled),
    )
    .of_agent(&agent.agent_id)
    .stamp("decided_at = $1")
    .apply(&mut tx, id, now)
    .await?;
    if !moved {
        drop(tx);
        return Err(
            store::unmoved(&state.db, id, Some(&agent.agent_id), |current| {
                AppError::Conflict(format!(
                    "only a request waiting for approval can be cancelled; this one is {}",
                    current.state.label()
                ))
            })
            .await,
        );
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::Agent(agent.agent_id.clone()),
            what: "action.cancelled",
            subject_kind: "action",
            subject_id: id,
            detail: serde_json::json!({
                "before": { "state": RequestState::PendingApproval },
                "after": { "state": RequestState::Cancelled },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    state.notify_changed(id);
    load(&state.db, id).await?.ok_or(AppError::Internal)
}

/// Expires one request if its deadline has passed (expiry means no): a
/// wait for approval that ran out, or an approval not claimed in time.
pub async fn expire_if_due(state: &AppState, id: &str) -> Result<(), AppError> {
    expire_where(state, Some(id)).await.map(|_| ())
}

/// Expires every overdue request; the background sweep calls this.
pub async fn expire_due(state: &AppState) -> Result<usize, AppError> {
    expire_where(state, None).await
}

/// The stages whose approvals the agent carries out, so must claim in time;
/// written as `action_requests_claimable`'s predicate is, to match it.
macro_rules! claimed_stages {
    () => {
        "stage IN ('act_with_approval', 'scoped_autonomy')"
    };
}

/// An approval the agent was to claim, past its window (one without a
/// window, from a replica that predates them, counts as past: fail closed).
const STALE: &str = concat!(
    claimed_stages!(),
    " AND (claim_by IS NULL OR claim_by <= $1)"
);

/// STALE's rows as the sweep finds them: one branch per side of its OR, so
/// each searches the partial index `action_requests_claimable` (an OR with
/// `IS NULL` would send SQLite through every approval ever given).
const STALE_SWEEP: &str = concat!("state = 'approved' AND ", claimed_stages!());

/// A wait for approval that ran out.
const WAITED_OUT: &str = "expires_at <= $1";

/// Expires what is overdue, found in one query for both kinds: a wait for
/// approval that ran out (expiry means no; it counts in the record), and an
/// approval not claimed in its window (an approval given days ago is not an
/// approval of today's action).
async fn expire_where(state: &AppState, only: Option<&str>) -> Result<usize, AppError> {
    let now = now_ms();
    // Each branch matches a partial index that holds only what can become
    // due (waiting requests; approvals an agent is to claim), so the cost
    // does not grow with history; one id goes by the primary key.
    const COLUMNS: &str = "SELECT id, state, agent_id, capability, created_at FROM action_requests";
    let query = match only {
        Some(_) => format!(
            "{COLUMNS} WHERE id = $2 AND ((state = 'pending_approval' AND {WAITED_OUT}) \
             OR (state = 'approved' AND {STALE}))"
        ),
        None => format!(
            "{COLUMNS} WHERE state = 'pending_approval' AND {WAITED_OUT} \
             UNION ALL {COLUMNS} WHERE {STALE_SWEEP} AND claim_by <= $1 \
             UNION ALL {COLUMNS} WHERE {STALE_SWEEP} AND claim_by IS NULL LIMIT 500"
        ),
    };
    let mut query = sqlx::query(&query).bind(now);
    if let Some(id) = only {
        query = query.bind(id);
    }
    let due: Vec<(String, String, String, String, i64)> = query
        .fetch_all(&state.db)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("state")?,
                r.try_get("agent_id")?,
                r.try_get("capability")?,
                r.try_get("created_at")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    let mut expired = 0;
    for (id, from, agent_id, capability, created_at) in due {
        let waited = from == RequestState::PendingApproval.as_str();
        let (from, only_if, stamp, what) = if waited {
            let at = "decided_at = $1";
            (
                RequestState::PendingApproval,
                WAITED_OUT,
                at,
                "action.expired",
            )
        } else {
            (RequestState::Approved, STALE, "", "action.approval_expired")
        };
        let mut tx = state.db.begin().await?;
        let moved = Move::from(&[from], Some(RequestState::Expired))
            .stamp(stamp)
            .only_if(only_if)
            .apply(&mut tx, &id, now)
            .await?;
        if !moved {
            continue;
        }
        if waited {
            let counts = crate::trust::rollup::Counts {
                expired: 1,
                ..Default::default()
            };
            crate::trust::rollup::add(&mut tx, &agent_id, &capability, created_at, &counts).await?;
        }
        let mut after = serde_json::json!({ "state": RequestState::Expired });
        if !waited {
            after["why"] = "not claimed within the approval's window".into();
        }
        audit::record(
            &mut tx,
            audit::Event {
                actor: &Actor::System,
                what,
                subject_kind: "action",
                subject_id: &id,
                detail: serde_json::json!({ "before": { "state": from }, "after": after }),
            },
        )
        .await?;
        tx.commit().await?;
        if waited {
            state.metrics.finally_decided("expired", now - created_at);
        }
        state.notify_changed(&id);
        expired += 1;
    }
    Ok(expired)
}
