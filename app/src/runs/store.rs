//! The owner of the `runs` and `run_events` rows: it alone inserts them,
//! reads them, and moves an escalation from open to answered (a
//! conditional update, so of two racing answers exactly one counts).

use super::event::{EventKind, NewEvent, StoredEvent};
use super::key::run_id;
use crate::actions::model::ActionDetail;
use crate::actions::submission::Submission;
use crate::db::{new_id, placeholders, Db, Tx};
use crate::error::{stored, AppError};
use crate::sql::Script;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;

/// Makes the rows of the runs a batch of submissions names, or moves
/// their last activity on: one statement for the whole batch.
pub async fn touch<'a>(
    tx: &mut Tx<'_>,
    items: impl Iterator<Item = (&'a ActionDetail, &'a Submission)>,
) -> Result<(), AppError> {
    let mut script = Script::new();
    touch_in(&mut script, items);
    script.run(tx).await?;
    Ok(())
}

/// `touch` as a part of a script that writes the batch's requests after it
/// (on SQLite, whose parts run in turn and see each other's rows); adds
/// nothing when no submission names a run.
pub fn touch_in<'a>(
    script: &mut Script<'_>,
    items: impl Iterator<Item = (&'a ActionDetail, &'a Submission)>,
) {
    // One row per run (PostgreSQL refuses to upsert a row twice in one
    // statement), from its first to its latest time in the batch.
    let mut runs: BTreeMap<String, (&str, &str, i64, i64)> = BTreeMap::new();
    for (a, s) in items {
        let Some(key) = s.run_id.as_deref() else {
            continue;
        };
        let at = a.created_at_ms;
        let entry =
            runs.entry(run_id(&a.agent_id, key))
                .or_insert((a.agent_id.as_str(), key, at, at));
        entry.2 = entry.2.min(at);
        entry.3 = entry.3.max(at);
    }
    if runs.is_empty() {
        return;
    }
    script.add(&format!(
        "INSERT INTO runs (id, agent_id, run_key, started_at, last_at) VALUES {} \
         ON CONFLICT (id) DO UPDATE SET last_at = CASE WHEN excluded.last_at > runs.last_at \
         THEN excluded.last_at ELSE runs.last_at END, started_at = CASE WHEN \
         excluded.started_at < runs.started_at THEN excluded.started_at ELSE runs.started_at END",
        placeholders(runs.len(), 5)
    ));
    for (id, (agent_id, key, first, last)) in runs {
        script
            .bind(id)
            .bind(agent_id.to_string())
            .bind(key.to_string())
            .bind(first)
            .bind(last);
    }
}

/// Records one event in the agent's run `key` (made now if it is new);
/// answers the event's id. An escalation starts open.
pub async fn insert_event(
    tx: &mut Tx<'_>,
    agent_id: &str,
    key: &str,
    event: &NewEvent,
    now: i64,
) -> Result<String, AppError> {
    let run = run_id(agent_id, key);
    sqlx::query(
        "INSERT INTO runs (id, agent_id, run_key, started_at, last_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (id) DO UPDATE SET last_at = CASE WHEN excluded.last_at > runs.last_at \
         THEN excluded.last_at ELSE runs.last_at END, started_at = CASE WHEN \
         excluded.started_at < runs.started_at THEN excluded.started_at ELSE runs.started_at END",
    )
    .bind(run.clone())
    .bind(agent_id)
    .bind(key)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let id = new_id();
    let open = (event.kind == EventKind::Escalation).then_some("open");
    sqlx::query(
        "INSERT INTO run_events (id, run_id, kind, body, url, size_bytes, at, state) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.clone())
    .bind(run)
    .bind(event.kind.as_str())
    .bind(event.body())
    .bind(event.url.clone())
    .bind(i64::try_from(event.size()).unwrap_or(i64::MAX))
    .bind(now)
    .bind(open)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// The columns `event_from` reads.
pub const EVENT_COLUMNS: &str = "e.id, e.kind, e.body, e.url, e.at, e.state, e.answer, \
     e.answered_at, r.run_key, u.username AS answered_by_name";
/// The joins `EVENT_COLUMNS` needs.
pub const EVENT_JOINS: &str =
    "run_events e JOIN runs r ON r.id = e.run_id LEFT JOIN users u ON u.id = e.answered_by";

pub fn event_from(r: &AnyRow) -> Result<StoredEvent, AppError> {
    Ok(StoredEvent {
        id: r.try_get("id")?,
        run_key: r.try_get("run_key")?,
        kind: stored(EventKind::parse(&r.try_get::<String, _>("kind")?))?,
        body: r.try_get("body")?,
        url: r.try_get("url")?,
        at_ms: r.try_get("at")?,
        state: r.try_get("state")?,
        answer: r.try_get("answer")?,
        answered_by: r.try_get("answered_by_name")?,
        answered_at_ms: r.try_get("answered_at")?,
    })
}

/// One event of one of the agent's runs; `None` for any other agent's.
pub async fn event_of_agent(
    db: &Db,
    agent_id: &str,
    key: &str,
    id: &str,
) -> Result<Option<StoredEvent>, AppError> {
    let sql =
        format!("SELECT {EVENT_COLUMNS} FROM {EVENT_JOINS} WHERE e.id = $1 AND e.run_id = $2");
    sqlx::query(&sql)
        .bind(id)
        .bind(run_id(agent_id, key))
        .fetch_optional(db)
        .await?
        .as_ref()
        .map(event_from)
        .transpose()
}

/// Events of a run from `from_ms` on, oldest first, at most `limit`.
pub async fn events(
    db: &Db,
    run: &str,
    from_ms: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, AppError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM {EVENT_JOINS} WHERE e.run_id = $1 AND e.at >= $2 \
         ORDER BY e.at, e.id LIMIT $3"
    );
    sqlx::query(&sql)
        .bind(run)
        .bind(from_ms)
        .bind(limit)
        .fetch_all(db)
        .await?
        .iter()
        .map(event_from)
        .collect()
}

/// The newest `limit` events of a run, newest first.
pub async fn latest_events(db: &Db, run: &str, limit: i64) -> Result<Vec<StoredEvent>, AppError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM {EVENT_JOINS} WHERE e.run_id = $1 \
         ORDER BY e.at DESC, e.id DESC LIMIT $2"
    );
    sqlx::query(&sql)
        .bind(run)
        .bind(limit)
        .fetch_all(db)
        .await?
        .iter()
        .map(event_from)
        .collect()
}

/// Escalations of the agent waiting for an answer now.
pub async fn open_of_agent(tx: &mut Tx<'_>, agent_id: &str) -> Result<i64, AppError> {
    Ok(sqlx::query(
        "SELECT COUNT(*) AS n FROM run_events e JOIN runs r ON r.id = e.run_id \
         WHERE e.state = 'open' AND r.agent_id = $1",
    )
    .bind(agent_id)
    .fetch_one(&mut **tx)
    .await?
    .try_get("n")?)
}

/// Answers an open escalation; false when it was not open (answered
/// already, or no escalation at all).
pub async fn answer(
    tx: &mut Tx<'_>,
    id: &str,
    user_id: &str,
    answer: &str,
    now: i64,
) -> Result<bool, AppError> {
    Ok(sqlx::query(
        "UPDATE run_events SET state = 'answered', answer = $1, answered_by = $2, answered_at = $3 \
         WHERE id = $4 AND state = 'open'",
    )
    .bind(answer)
    .bind(user_id)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// A run's own row.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub key: String,
    pub started_at_ms: i64,
    pub last_at_ms: i64,
}

pub async fn run(db: &Db, id: &str) -> Result<Option<RunRow>, AppError> {
    let Some(r) = sqlx::query(
        "SELECT r.id, r.agent_id, a.name, r.run_key, r.started_at, r.last_at \
         FROM runs r JOIN agents a ON a.id = r.agent_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(RunRow {
        id: r.try_get("id")?,
        agent_id: r.try_get("agent_id")?,
        agent_name: r.try_get("name")?,
        key: r.try_get("run_key")?,
        started_at_ms: r.try_get("started_at")?,
        last_at_ms: r.try_get("last_at")?,
    }))
}

/// The run a request is part of, if any.
pub async fn run_of_action(db: &Db, action_id: &str) -> Result<Option<String>, AppError> {
    Ok(
        sqlx::query("SELECT run_id FROM action_requests WHERE id = $1")
            .bind(action_id)
            .fetch_optional(db)
            .await?
            .map(|r| r.try_get::<Option<String>, _>("run_id"))
            .transpose()?
            .flatten(),
    )
}

/// An event's escalation state: `None` for no such event, `Some(None)`
/// for an event that is no escalation.
pub async fn event_state(db: &Db, id: &str) -> Result<Option<Option<String>>, AppError> {
    Ok(sqlx::query("SELECT state FROM run_events WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?
        .map(|r| r.try_get::<Option<String>, _>("state"))
        .transpose()?)
}
