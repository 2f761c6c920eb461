//! The reviewer's lists: the approval queue (riskiest first, then longest
//! waiting, keyset-paginated), its filter choices, and what I decided.

use super::model::{HistoryRow, QueueFacets, QueueFilter, QueuePage, QueueRow, RequestState};
use super::model::{QUEUE_PAGE, QUEUE_PARAMS_SHOWN};
use super::service::expire_due;
use super::store::{held_for, small};
use crate::db::{now_ms, Db};
use crate::error::{stored, AppError};
use crate::policy::{Stage, Trigger};
use crate::state::AppState;
use sqlx::any::AnyArguments;
use sqlx::{Arguments, Row};

/// Requests waiting for approval now, and when the oldest was submitted
/// (ms): read at each metrics scrape, from the `(state, created_at)` index.
pub async fn waiting(db: &Db) -> Result<(i64, Option<i64>), AppError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM action_requests \
         WHERE state = 'pending_approval'",
    )
    .fetch_one(db)
    .await?;
    Ok((row.try_get("n")?, row.try_get("oldest")?))
}

/// Where a page ends: the last row's sort key. Opaque to callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    risk: i64,
    created_at: i64,
    id: String,
}

impl Cursor {
    pub fn parse(raw: &str) -> Result<Cursor, AppError> {
        let bad = || AppError::BadRequest("not a queue position this server gave out".into());
        let mut parts = raw.splitn(3, '.');
        let (Some(r), Some(c), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        crate::db::known_id(id, "queue position").map_err(|_| bad())?;
        Ok(Cursor {
            risk: r.parse().map_err(|_| bad())?,
            created_at: c.parse().map_err(|_| bad())?,
            id: id.to_string(),
        })
    }

    fn format(&self) -> String {
        format!("{}.{}.{}", self.risk, self.created_at, self.id)
    }
}

/// Where the next page starts, as `QueuePage::next` gave it (blank: the first).
pub fn cursor(after: Option<String>) -> Result<Option<Cursor>, AppError> {
    set(after).map(|c| Cursor::parse(&c)).transpose()
}

/// Empty or blank values count as unset (what an unselected `<select>` sends).
pub(super) fn set(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The filter as SQL conditions and their arguments, numbered from `$1`.
/// Only the parts that are set appear, so each query can use the partial
/// index that fits it.
struct Where {
    sql: String,
    args: AnyArguments<'static>,
    n: usize,
}

impl Where {
    fn new(filter: &QueueFilter) -> Result<Where, AppError> {
        let mut w = Where {
            sql: "r.state = 'pending_approval'".into(),
            args: AnyArguments::default(),
            n: 0,
        };
        if let Some(agent) = &filter.agent_id {
            w.push("r.agent_id = ", agent.clone())?;
        }
        if let Some(cap) = &filter.capability {
            w.push("r.capability = ", cap.clone())?;
        }
        if let Some(stage) = filter.stage {
            w.push("r.stage = ", stage.as_str().to_string())?;
        }
        if let Some(key) = filter.held_for {
            w.n += 1;
            w.sql
                .push_str(&format!(" AND (r.held_mask & ${}) <> 0", w.n));
            w.args.add(key.bit()).map_err(|_| AppError::Internal)?;
        }
        Ok(w)
    }

    fn push(
        &mut self,
        condition: &str,
        value: impl sqlx::Encode<'static, sqlx::Any> + sqlx::Type<sqlx::Any> + 'static,
    ) -> Result<(), AppError> {
        self.n += 1;
        self.sql.push_str(&format!(" AND {condition}${}", self.n));
        self.args.add(value).map_err(|e| {
            tracing::error!(error = %e, "binding a queue filter");
            AppError::Internal
        })
    }
}

/// One page of pending requests. Sorted by risk (highest first), then age
/// (oldest first); the cursor continues after the last row, so page 200
/// costs what page 1 does (never OFFSET). `reader`: the signed-in user's id.
pub async fn page(
    state: &AppState,
    filter: &QueueFilter,
    after: Option<&Cursor>,
    reader: &str,
) -> Result<QueuePage, AppError> {
    expire_due(state).await?;
    let db = &state.db;
    // Arguments are consumed by a query, so each query builds its own.
    let counted = Where::new(filter)?;
    let count_sql = format!(
        "SELECT COUNT(*) AS n FROM action_requests r WHERE {}",
        counted.sql
    );
    let matching: i64 = sqlx::query_with(&count_sql, counted.args)
        .fetch_one(db)
        .await?
        .try_get("n")?;
    let waiting: i64 = if *filter == QueueFilter::default() {
        matching
    } else {
        sqlx::query("SELECT COUNT(*) AS n FROM action_requests WHERE state = 'pending_approval'")
            .fetch_one(db)
            .await?
            .try_get("n")?
    };
    // An approval counts only for the payload it saw, as in `approvals` below.
    let for_you: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM action_requests r WHERE r.state = 'pending_approval' \
         AND NOT EXISTS (SELECT 1 FROM approvals p WHERE p.action_id = r.id \
           AND p.user_id = $1 AND p.payload_hash = r.payload_hash)",
    )
    .bind(reader)
    .fetch_one(db)
    .await?
    .try_get("n")?;
    let mut w = Where::new(filter)?;
    if let Some(c) = after {
        let (r, t, i) = (w.n + 1, w.n + 2, w.n + 3);
        w.sql.push_str(&format!(
            " AND (r.risk < ${r} OR (r.risk = ${r} AND (r.created_at > ${t} \
               OR (r.created_at = ${t} AND r.id > ${i}))))"
        ));
        w.args.add(c.risk).map_err(|_| AppError::Internal)?;
        w.args.add(c.created_at).map_err(|_| AppError::Internal)?;
        w.args.add(c.id.clone()).map_err(|_| AppError::Internal)?;
    }
    let sql = format!(
        "SELECT r.id, a.name AS agent_name, r.capability, r.capability_known, r.triggers, r.held_for, \
                r.summary, r.target, r.created_at, r.expires_at, r.approvals_required, r.stage, r.risk, \
                r.payload_hash, r.params, r.edited_params, \
                (SELECT COUNT(*) FROM approvals p \
                 WHERE p.action_id = r.id AND p.payload_hash = r.payload_hash) AS approvals \
         FROM action_requests r JOIN agents a ON a.id = r.agent_id \
         WHERE {} ORDER BY r.risk DESC, r.created_at, r.id LIMIT {}",
        w.sql,
        QUEUE_PAGE + 1
    );
    let mut rows = sqlx::query_with(&sql, w.args)
        .fetch_all(db)
        .await?
        .iter()
        .map(queue_row)
        .collect::<Result<Vec<_>, AppError>>()?;
    let next = if rows.len() > QUEUE_PAGE {
        rows.truncate(QUEUE_PAGE);
        rows.last().map(|r| {
            Cursor {
                risk: r.risk,
                created_at: r.created_at_ms,
                id: r.id.clone(),
            }
            .format()
        })
    } else {
        None
    };
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    for (id, piece) in crate::evidence::store::reviewed_of(db, &ids).await? {
        if let Some(row) = rows.iter_mut().find(|r| r.id == id) {
            row.evidence.push(piece);
        }
    }
    Ok(QueuePage {
        rows,
        matching,
        waiting,
        for_you,
        next,
        now_ms: now_ms(),
    })
}

fn queue_row(r: &sqlx::any::AnyRow) -> Result<QueueRow, AppError> {
    let edited: Option<String> = r.try_get("edited_params")?;
    let submitted: String = r.try_get("params")?;
    let (params, params_cut) = shown_params(edited.as_deref().unwrap_or(&submitted))?;
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
        stage: stored(Stage::parse(&r.try_get::<String, _>("stage")?))?,
        risk: r.try_get("risk")?,
        payload_hash: r.try_get("payload_hash")?,
        params,
        params_cut,
        edited: edited.is_some(),
        evidence: vec![],
    })
}

/// The params as a reviewer reads them: pretty JSON, cut on a character
/// boundary after `QUEUE_PARAMS_SHOWN` characters (and then says so).
fn shown_params(stored_json: &str) -> Result<(String, bool), AppError> {
    let value: serde_json::Value = stored(serde_json::from_str(stored_json))?;
    let pretty = serde_json::to_string_pretty(&value).map_err(|_| AppError::Internal)?;
    match pretty.char_indices().nth(QUEUE_PARAMS_SHOWN) {
        Some((end, _)) => Ok((pretty[..end].to_string(), true)),
        None => Ok((pretty, false)),
    }
}

/// The filter choices: agents and capabilities with something waiting.
pub async fn facets(db: &Db) -> Result<QueueFacets, AppError> {
    let agents = sqlx::query(
        "SELECT r.agent_id, a.name, COUNT(*) AS n FROM action_requests r \
         JOIN agents a ON a.id = r.agent_id WHERE r.state = 'pending_approval' \
         GROUP BY r.agent_id, a.name ORDER BY a.name",
    )
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("agent_id")?, r.try_get("name")?, r.try_get("n")?)))
    .collect::<Result<_, AppError>>()?;
    let capabilities = sqlx::query(
        "SELECT capability, COUNT(*) AS n FROM action_requests \
         WHERE state = 'pending_approval' GROUP BY capability ORDER BY capability",
    )
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("capability")?, r.try_get("n")?)))
    .collect::<Result<_, AppError>>()?;
    Ok(QueueFacets {
        agents,
        capabilities,
    })
}

/// The requests this reviewer approved or rejected, most recent first.
pub async fn decided_by(db: &Db, user_id: &str) -> Result<Vec<HistoryRow>, AppError> {
    const LIMIT: i64 = 50;
    sqlx::query(
        "SELECT r.id, a.name AS agent_name, r.capability, r.summary, r.state, r.decided_by, \
                r.correction, m.at \
         FROM (SELECT action_id, MAX(at) AS at FROM ( \
                 SELECT id AS action_id, decided_at AS at FROM action_requests \
                   WHERE decided_by = $1 AND state = 'rejected' \
                 UNION ALL \
                 SELECT action_id, at FROM approvals WHERE user_id = $1 \
               ) mine GROUP BY action_id ORDER BY MAX(at) DESC LIMIT $2) m \
         JOIN action_requests r ON r.id = m.action_id JOIN agents a ON a.id = r.agent_id \
         ORDER BY m.at DESC, r.id",
    )
    .bind(user_id)
    .bind(LIMIT)
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| {
        let state = stored(RequestState::parse(&r.try_get::<String, _>("state")?))?;
        let mine = r.try_get::<Option<String>, _>("decided_by")?.as_deref() == Some(user_id);
        let corrected = r.try_get::<Option<String>, _>("correction")?.is_some();
        let verdict = match (state, mine, corrected) {
            (RequestState::Rejected, true, _) => "rejected",
            (_, _, true) => "approved (edited)",
            _ => "approved",
        };
        Ok(HistoryRow {
            id: r.try_get("id")?,
            agent_name: r.try_get("agent_name")?,
            capability: r.try_get("capability")?,
            summary: r.try_get("summary")?,
            verdict: verdict.into(),
            state,
            at_ms: r.try_get("at")?,
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_params_are_shown_whole_and_pretty() {
        let (text, cut) = shown_params(r#"{"amount":5}"#).unwrap();
        assert_eq!(text, "{\n  \"amount\": 5\n}");
        assert!(!cut);
    }

    #[test]
    fn long_params_are_cut_on_a_character_boundary_and_say_so() {
        let long = format!(r#"{{"note":"{}"}}"#, "é".repeat(QUEUE_PARAMS_SHOWN));
        let (text, cut) = shown_params(&long).unwrap();
        assert!(cut);
        assert_eq!(text.chars().count(), QUEUE_PARAMS_SHOWN);
    }
}
