//! The rule book for runs: an agent records events in its own runs and
//! reads them back; a reviewer answers an escalation. The REST handlers
//! and the server functions both call these.

use super::event::{EventKind, EventView, NewEvent, StoredEvent};
use super::store;
use crate::audit::{self, Actor};
use crate::auth::agent::Principal;
use crate::auth::UserView;
use crate::db::{known_id, now_ms};
use crate::error::AppError;
use crate::replicas::feed::EVERYTHING;
use crate::state::AppState;
use std::time::Duration;

/// Escalations one agent may have waiting at once: each one is a person's
/// attention, and a looping agent must not bury the queue.
pub const MAX_OPEN_ESCALATIONS: i64 = 20;

/// Records one event in the agent's run `key`, charged against its daily
/// evidence quota, audited; an escalation joins the approval queue.
#[tracing::instrument(skip(state, agent, event), fields(agent = %agent.name, kind = event.kind.as_str()))]
pub async fn record(
    state: &AppState,
    agent: &Principal,
    key: &str,
    event: NewEvent,
) -> Result<EventView, AppError> {
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let escalation = event.kind == EventKind::Escalation;
    // Written before anything is read: on SQLite the first write takes the
    // write lock, and a transaction that read first may fail to upgrade
    // ("database is locked") while the decision writer commits. The checks
    // below count the new event and roll it back if it is one too many.
    let id = store::insert_event(&mut tx, &agent.agent_id, key, &event, now).await?;
    if escalation && store::open_of_agent(&mut tx, &agent.agent_id).await? > MAX_OPEN_ESCALATIONS {
        return Err(AppError::TooManyRequests(
            format!(
                "this agent already has {MAX_OPEN_ESCALATIONS} escalations waiting for an answer; \
                 wait for people to answer some"
            ),
            60,
        ));
    }
    crate::quota::store::charge_evidence_of(state, &mut tx, &agent.agent_id, event.size(), now)
        .await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::Agent(agent.agent_id.clone()),
            what: if escalation {
                "run.escalated"
            } else {
                "run.event_recorded"
            },
            subject_kind: "run_event",
            subject_id: &id,
            detail: serde_json::json!({
                "run_id": key,
                "kind": event.kind.as_str(),
                "bytes": event.size(),
                "text": if escalation { event.text.clone() } else { None },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    if escalation {
        // The live queue shows it at once, like a held request.
        state.notify_changed(&id);
    }
    Ok(StoredEvent {
        id,
        run_key: key.to_string(),
        kind: event.kind,
        body: event.body(),
        url: event.url.clone(),
        at_ms: now,
        state: escalation.then(|| "open".to_string()),
        answer: None,
        answered_by: None,
        answered_at_ms: None,
    }
    .view())
}

/// One event of the agent's own run; another agent's is 404, exactly as
/// if it did not exist.
pub async fn event_for_agent(
    state: &AppState,
    agent: &Principal,
    key: &str,
    id: &str,
) -> Result<EventView, AppError> {
    known_id(id, "run event")?;
    store::event_of_agent(&state.db, &agent.agent_id, key, id)
        .await?
        .map(|e| e.view())
        .ok_or_else(|| AppError::NotFound("no such run event".into()))
}

/// Long-poll: answers as soon as the escalation is answered, or when
/// `wait` runs out (at once for any other event).
pub async fn wait_for_answer(
    state: &AppState,
    agent: &Principal,
    key: &str,
    id: &str,
    wait: Duration,
) -> Result<EventView, AppError> {
    // Subscribe before reading, so an answer between the two is not missed.
    let mut changes = state.changes.subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let event = event_for_agent(state, agent, key, id).await?;
        let open = event.escalation.as_ref().is_some_and(|e| e.state == "open");
        let now = tokio::time::Instant::now();
        if !open || now >= deadline {
            return Ok(event);
        }
        let tick = deadline.min(now + state.changes.reread_every());
        loop {
            match tokio::time::timeout_at(tick, changes.recv()).await {
                Ok(Ok(changed)) if changed != id && changed != EVERYTHING => continue,
                _ => break,
            }
        }
    }
}

/// A reviewer answers an escalation: what the agent should do now. Final,
/// like a decision: a second answer is 409.
#[tracing::instrument(skip(state, user, answer), fields(user = %user.username))]
pub async fn answer(
    state: &AppState,
    user: &UserView,
    id: &str,
    answer: &str,
) -> Result<(), AppError> {
    known_id(id, "escalation")?;
    let answer = crate::text::field("answer", answer, super::event::MAX_TEXT_CHARS)?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    if !store::answer(&mut tx, id, &user.id, &answer, now).await? {
        drop(tx);
        return Err(match store::event_state(&state.db, id).await? {
            Some(Some(s)) if s == "answered" => {
                AppError::Conflict("this escalation is already answered; an answer is final".into())
            }
            _ => AppError::NotFound("no such escalation".into()),
        });
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(user.id.clone()),
            what: "run.escalation_answered",
            subject_kind: "run_event",
            subject_id: id,
            detail: serde_json::json!({
                "before": { "state": "open" },
                "after": { "state": "answered", "answer": answer },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    // Wakes the agent's long-poll and the live queue.
    state.notify_changed(id);
    Ok(())
}
