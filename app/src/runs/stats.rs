//! What runs add up to: a run's summary (where it waited, and for how
//! long), an agent's runs and how many stalled or escalated, and the
//! escalations waiting in the queue.
//!
//! A run *stalled* when one of its held requests or escalations waited for
//! a person longer than `STALL_AFTER_MS` (or has been waiting that long
//! now): the agent could not go on, and nobody came.

use super::model::{AgentRuns, EscalationRow, RunListRow, RunSummary, Waiting, STALL_AFTER_MS};
use super::store::RunRow;
use crate::db::Db;
use crate::error::AppError;
use sqlx::Row;

/// Days the agent page counts runs over.
pub const DAYS: i64 = 30;
/// Runs listed on the agent page, and most a count looks at.
const RECENT: i64 = 20;
const COUNTED: i64 = 1000;

/// How long each held request (`decided_at`, or now while it waits) and
/// each escalation (`answered_at`, or now) of run `r.id` waited; `$1` is now.
const HELD_WAIT: &str =
    "SELECT COALESCE(a.decided_at, $1) - a.created_at AS w FROM action_requests a \
     WHERE a.run_id = r.id AND a.decision = 'pending_approval'";
const ESCALATION_WAIT: &str = "SELECT COALESCE(e.answered_at, $1) - e.at AS w FROM run_events e \
     WHERE e.run_id = r.id AND e.kind = 'escalation'";

fn stalled_sql() -> String {
    format!(
        "(EXISTS (SELECT 1 FROM ({HELD_WAIT}) h WHERE h.w > $2) \
          OR EXISTS (SELECT 1 FROM ({ESCALATION_WAIT}) x WHERE x.w > $2))"
    )
}

const ESCALATED: &str =
    "EXISTS (SELECT 1 FROM run_events e WHERE e.run_id = r.id AND e.kind = 'escalation')";

pub async fn summary(db: &Db, run: RunRow, now: i64) -> Result<RunSummary, AppError> {
    let sql = format!(
        "SELECT (SELECT COUNT(*) FROM run_events e WHERE e.run_id = r.id) AS events, \
           (SELECT COUNT(*) FROM action_requests a WHERE a.run_id = r.id) AS actions, \
           (SELECT COUNT(*) FROM run_events e WHERE e.run_id = r.id AND e.kind = 'escalation') AS escalations, \
           (SELECT CAST(COALESCE(SUM(h.w), 0) AS BIGINT) FROM ({HELD_WAIT}) h) AS held_wait, \
           (SELECT CAST(COALESCE(SUM(x.w), 0) AS BIGINT) FROM ({ESCALATION_WAIT}) x) AS escalation_wait, \
           CASE WHEN {} THEN 1 ELSE 0 END AS stalled \
         FROM runs r WHERE r.id = $3",
        stalled_sql()
    );
    let r = sqlx::query(&sql)
        .bind(now)
        .bind(STALL_AFTER_MS)
        .bind(run.id.clone())
        .fetch_one(db)
        .await?;
    let mut waiting = Vec::new();
    for w in sqlx::query(
        "SELECT id, capability, created_at FROM action_requests \
         WHERE run_id = $1 AND state = 'pending_approval' ORDER BY created_at LIMIT 20",
    )
    .bind(run.id.clone())
    .fetch_all(db)
    .await?
    {
        let id: String = w.try_get("id")?;
        waiting.push(Waiting {
            what: format!("approval of {}", w.try_get::<String, _>("capability")?),
            since_ms: w.try_get("created_at")?,
            href: format!("/approvals/{id}"),
        });
    }
    for w in sqlx::query(
        "SELECT id, at FROM run_events WHERE run_id = $1 AND state = 'open' ORDER BY at LIMIT 20",
    )
    .bind(run.id.clone())
    .fetch_all(db)
    .await?
    {
        let id: String = w.try_get("id")?;
        waiting.push(Waiting {
            what: "an answer to its escalation".into(),
            since_ms: w.try_get("at")?,
            href: format!("#event-{id}"),
        });
    }
    Ok(RunSummary {
        events: r.try_get("events")?,
        actions: r.try_get("actions")?,
        escalations: r.try_get("escalations")?,
        waited_ms: sum(&r, "held_wait")? + sum(&r, "escalation_wait")?,
        stalled: r.try_get::<i64, _>("stalled")? == 1,
        waiting,
        id: run.id,
        agent_id: run.agent_id,
        agent_name: run.agent_name,
        key: run.key,
        started_at_ms: run.started_at_ms,
        last_at_ms: run.last_at_ms,
    })
}

/// Reads a count or sum column (SUMs are cast to BIGINT in the SQL:
/// PostgreSQL would answer NUMERIC for a sum of BIGINTs).
fn sum(r: &sqlx::any::AnyRow, column: &str) -> Result<i64, AppError> {
    Ok(r.try_get::<i64, _>(column)?)
}

/// The agent's runs of the last `DAYS` days: how many, how many stalled or
/// escalated (of at most the latest `COUNTED`), and the latest few.
pub async fn agent_runs(db: &Db, agent_id: &str, now: i64) -> Result<AgentRuns, AppError> {
    let since = now - DAYS * 86_400_000;
    let sql = format!(
        "SELECT COUNT(*) AS runs, \
           CAST(COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0) AS BIGINT) AS stalled, \
           CAST(COALESCE(SUM(CASE WHEN {ESCALATED} THEN 1 ELSE 0 END), 0) AS BIGINT) AS escalated \
         FROM (SELECT id FROM runs WHERE agent_id = $3 AND last_at >= $4 \
               ORDER BY last_at DESC LIMIT {COUNTED}) r",
        stalled_sql()
    );
    let counts = sqlx::query(&sql)
        .bind(now)
        .bind(STALL_AFTER_MS)
        .bind(agent_id)
        .bind(since)
        .fetch_one(db)
        .await?;
    let sql = format!(
        "SELECT r.id, r.run_key, r.started_at, r.last_at, \
           CASE WHEN {} THEN 1 ELSE 0 END AS stalled, \
           CASE WHEN {ESCALATED} THEN 1 ELSE 0 END AS escalated \
         FROM runs r WHERE r.agent_id = $3 ORDER BY r.last_at DESC, r.id LIMIT {RECENT}",
        stalled_sql()
    );
    let recent = sqlx::query(&sql)
        .bind(now)
        .bind(STALL_AFTER_MS)
        .bind(agent_id)
        .fetch_all(db)
        .await?
        .iter()
        .map(|r| {
            Ok(RunListRow {
                id: r.try_get("id")?,
                key: r.try_get("run_key")?,
                started_at_ms: r.try_get("started_at")?,
                last_at_ms: r.try_get("last_at")?,
                stalled: r.try_get::<i64, _>("stalled")? == 1,
                escalated: r.try_get::<i64, _>("escalated")? == 1,
            })
        })
        .collect::<Result<_, AppError>>()?;
    Ok(AgentRuns {
        days: DAYS,
        runs: counts.try_get("runs")?,
        stalled: sum(&counts, "stalled")?,
        escalated: sum(&counts, "escalated")?,
        recent,
    })
}

/// Escalations waiting for an answer, oldest first (at most 50).
pub async fn open_escalations(db: &Db) -> Result<Vec<EscalationRow>, AppError> {
    sqlx::query(
        "SELECT e.id, e.body, e.at, r.id AS run_id, r.run_key, a.id AS agent_id, a.name \
         FROM run_events e JOIN runs r ON r.id = e.run_id JOIN agents a ON a.id = r.agent_id \
         WHERE e.state = 'open' ORDER BY e.at, e.id LIMIT 50",
    )
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| {
        Ok(EscalationRow {
            id: r.try_get("id")?,
            run_id: r.try_get("run_id")?,
            run_key: r.try_get("run_key")?,
            agent_id: r.try_get("agent_id")?,
            agent_name: r.try_get("name")?,
            // An escalation's body is JSON: its text and its data.
            text: serde_json::from_str::<serde_json::Value>(&r.try_get::<String, _>("body")?)
                .ok()
                .and_then(|b| b["text"].as_str().map(str::to_string))
                .unwrap_or_default(),
            at_ms: r.try_get("at")?,
        })
    })
    .collect()
}
