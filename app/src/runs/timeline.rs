//! A run's timeline: its events and its requests' steps (submitted,
//! approvals, decided, claimed, finished), in time order, one page at a
//! time. A page holds at most `EVENTS_PER_PAGE` events and
//! `ACTIONS_PER_PAGE` requests; each request appears, with all of its
//! steps, on the page where it was submitted.

use super::event::{EventKind, StoredEvent};
use super::model::{EvidenceLink, Step, StepKind};
use super::store;
use crate::actions::model::RequestState;
use crate::db::{placeholders, Db};
use crate::error::{stored, AppError};
use sqlx::Row;
use std::collections::HashMap;

pub const EVENTS_PER_PAGE: usize = 200;
pub const ACTIONS_PER_PAGE: usize = 100;

/// Steps from `from_ms` on, and where the next page starts, if any.
pub async fn page(db: &Db, run: &str, from_ms: i64) -> Result<(Vec<Step>, Option<i64>), AppError> {
    let mut events = store::events(db, run, from_ms, EVENTS_PER_PAGE as i64 + 1).await?;
    let mut actions = actions(db, run, from_ms, ACTIONS_PER_PAGE as i64 + 1).await?;
    // The page ends where either list runs over; the next starts there.
    let until = [
        events.get(EVENTS_PER_PAGE).map(|e| e.at_ms),
        actions.get(ACTIONS_PER_PAGE).map(|a| a.created_at),
    ]
    .into_iter()
    .flatten()
    .min()
    // More than a page at one millisecond: step past it (never loop).
    .map(|t| t.max(from_ms + 1));
    if let Some(t) = until {
        events.retain(|e| e.at_ms < t);
        actions.retain(|a| a.created_at < t);
    }
    let mut steps: Vec<Step> = events.iter().flat_map(event_steps).collect();
    let ids: Vec<&str> = actions.iter().map(|a| a.id.as_str()).collect();
    let mut approvals = approvals(db, &ids).await?;
    let mut evidence = evidence(db, &ids).await?;
    for a in actions {
        let approvals = approvals.remove(&a.id).unwrap_or_default();
        let evidence = evidence.remove(&a.id).unwrap_or_default();
        steps.extend(a.steps(approvals, evidence));
    }
    // Stable: at one instant, a request's own steps keep their order.
    steps.sort_by_key(|s| s.at_ms);
    Ok((steps, until))
}

/// The steps one event makes: an answered escalation makes two.
pub fn event_steps(e: &StoredEvent) -> Vec<Step> {
    let (text, data) = e.text_and_data();
    if e.kind != EventKind::Escalation {
        return vec![Step {
            at_ms: e.at_ms,
            what: StepKind::Event {
                kind: e.kind.as_str().to_string(),
                text,
                url: e.url.clone(),
                data: data.map(|d| serde_json::to_string_pretty(&d).unwrap_or_default()),
            },
        }];
    }
    let mut steps = vec![Step {
        at_ms: e.at_ms,
        what: StepKind::Escalation {
            id: e.id.clone(),
            text: text.unwrap_or_default(),
            open: e.state.as_deref() == Some("open"),
        },
    }];
    if let (Some(at), Some(answer)) = (e.answered_at_ms, e.answer.clone()) {
        steps.push(Step {
            at_ms: at,
            what: StepKind::Answered {
                id: e.id.clone(),
                by: e.answered_by.clone(),
                answer,
                waited_ms: at - e.at_ms,
            },
        });
    }
    steps
}

/// A request of the run, as the timeline reads it.
pub struct RunAction {
    pub id: String,
    capability: String,
    summary: String,
    decision: String,
    state: RequestState,
    pub created_at: i64,
    decided_at: Option<i64>,
    decided_by: Option<String>,
    note: Option<String>,
    claimed_at: Option<i64>,
    outcome_at: Option<i64>,
    outcome_detail: Option<String>,
    incident: bool,
}

impl RunAction {
    pub fn steps(self, approvals: Vec<(String, i64)>, evidence: Vec<EvidenceLink>) -> Vec<Step> {
        let at = |at_ms: i64, what: StepKind| Step { at_ms, what };
        let mut steps = vec![at(
            self.created_at,
            StepKind::Submitted {
                action_id: self.id.clone(),
                capability: self.capability.clone(),
                summary: self.summary.clone(),
                decision: self.decision.clone(),
                evidence,
            },
        )];
        for (by, t) in approvals {
            steps.push(at(
                t,
                StepKind::Approval {
                    action_id: self.id.clone(),
                    by,
                },
            ));
        }
        let held = self.decision == "pending_approval";
        if let (true, Some(t)) = (held, self.decided_at) {
            use RequestState::*;
            // The decision itself; what happened after shows as its own steps.
            let state = match self.state {
                Executing | Succeeded | Failed => Approved,
                other => other,
            };
            steps.push(at(
                t,
                StepKind::Decided {
                    action_id: self.id.clone(),
                    capability: self.capability.clone(),
                    state,
                    by: self.decided_by.clone(),
                    note: self.note.clone(),
                    waited_ms: t - self.created_at,
                },
            ));
        }
        if let Some(t) = self.claimed_at {
            steps.push(at(
                t,
                StepKind::Claimed {
                    action_id: self.id.clone(),
                    capability: self.capability.clone(),
                },
            ));
        }
        if let Some(t) = self.outcome_at {
            steps.push(at(
                t,
                StepKind::Finished {
                    action_id: self.id.clone(),
                    capability: self.capability.clone(),
                    state: self.state,
                    detail: self.outcome_detail.clone(),
                    incident: self.incident,
                },
            ));
        }
        steps
    }
}

const ACTION_COLUMNS: &str = "r.id, r.capability, r.summary, r.decision, r.state, r.created_at, \
     r.decided_at, u.username AS decided_by_name, r.decision_note, r.claimed_at, r.outcome_at, \
     r.outcome_detail, r.incident";

fn action_from(r: &sqlx::any::AnyRow) -> Result<RunAction, AppError> {
    Ok(RunAction {
        id: r.try_get("id")?,
        capability: r.try_get("capability")?,
        summary: r.try_get("summary")?,
        decision: r.try_get("decision")?,
        state: stored(RequestState::parse(&r.try_get::<String, _>("state")?))?,
        created_at: r.try_get("created_at")?,
        decided_at: r.try_get("decided_at")?,
        decided_by: r.try_get("decided_by_name")?,
        note: r.try_get("decision_note")?,
        claimed_at: r.try_get("claimed_at")?,
        outcome_at: r.try_get("outcome_at")?,
        outcome_detail: r.try_get("outcome_detail")?,
        incident: r.try_get::<i64, _>("incident")? == 1,
    })
}

/// Requests of the run submitted from `from_ms` on, oldest first.
async fn actions(db: &Db, run: &str, from_ms: i64, limit: i64) -> Result<Vec<RunAction>, AppError> {
    let sql = format!(
        "SELECT {ACTION_COLUMNS} FROM action_requests r LEFT JOIN users u ON u.id = r.decided_by \
         WHERE r.run_id = $1 AND r.created_at >= $2 ORDER BY r.created_at, r.id LIMIT $3"
    );
    sqlx::query(&sql)
        .bind(run)
        .bind(from_ms)
        .bind(limit)
        .fetch_all(db)
        .await?
        .iter()
        .map(action_from)
        .collect()
}

/// The newest `limit` requests of the run, newest first.
pub async fn latest_actions(db: &Db, run: &str, limit: i64) -> Result<Vec<RunAction>, AppError> {
    let sql = format!(
        "SELECT {ACTION_COLUMNS} FROM action_requests r LEFT JOIN users u ON u.id = r.decided_by \
         WHERE r.run_id = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT $2"
    );
    sqlx::query(&sql)
        .bind(run)
        .bind(limit)
        .fetch_all(db)
        .await?
        .iter()
        .map(action_from)
        .collect()
}

/// Each request's approvals: (reviewer, when), in order.
pub async fn approvals(
    db: &Db,
    ids: &[&str],
) -> Result<HashMap<String, Vec<(String, i64)>>, AppError> {
    let mut out: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT p.action_id, u.username, p.at FROM approvals p JOIN users u ON u.id = p.user_id \
         WHERE p.action_id IN {} ORDER BY p.at, u.username",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id.to_string());
    }
    for r in q.fetch_all(db).await? {
        out.entry(r.try_get("action_id")?)
            .or_default()
            .push((r.try_get("username")?, r.try_get("at")?));
    }
    Ok(out)
}

/// Each request's evidence, as links (its page shows the pieces).
pub async fn evidence(
    db: &Db,
    ids: &[&str],
) -> Result<HashMap<String, Vec<EvidenceLink>>, AppError> {
    let mut out: HashMap<String, Vec<EvidenceLink>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT action_id, kind, size_bytes FROM evidence WHERE action_id IN {} \
         ORDER BY created_at, id",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id.to_string());
    }
    for r in q.fetch_all(db).await? {
        out.entry(r.try_get("action_id")?)
            .or_default()
            .push(EvidenceLink {
                kind: r.try_get("kind")?,
                size_bytes: r.try_get("size_bytes")?,
            });
    }
    Ok(out)
}
