//! The owner of the `action_requests` row: it alone reads a request whole,
//! inserts new ones, and moves a request from one state to the next, each
//! move a conditional update that names the states it may leave.

use super::model::{ActionDetail, RequestState};
use super::submission::Submission;
use crate::db::{placeholders, Db, Tx};
use crate::error::{stored, AppError};
use crate::policy::{Outcome, RuleKey, Stage, Trigger};
use crate::sql::Script;
use sqlx::Row;

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
    let evidence = crate::evidence::store::list(db, id).await?;
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
        state: stored(RequestState::parse(&r.try_get::<String, _>("state")?))?,
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
        claim_by_ms: r.try_get("claim_by")?,
        claimed_at_ms: r.try_get("claimed_at")?,
        outcome_at_ms: r.try_get("outcome_at")?,
        outcome_detail: r.try_get("outcome_detail")?,
        incident: r.try_get::<i64, _>("incident")? == 1,
    }))
}

fn json_opt(text: Option<String>) -> Result<Option<serde_json::Value>, AppError> {
    text.map(|t| stored(serde_json::from_str(&t))).transpose()
}

pub fn held_for(stored_list: &str) -> Result<Vec<RuleKey>, AppError> {
    stored(
        stored_list
            .split(',')
            .filter(|k| !k.is_empty())
            .map(RuleKey::parse)
            .collect(),
    )
}

pub fn small(n: i64) -> Result<u8, AppError> {
    stored(u8::try_from(n))
}

/// A decided submission, as the writer stores it.
pub struct NewRequest<'a> {
    pub detail: &'a ActionDetail,
    pub submission: &'a Submission,
    /// Orders the approval queue.
    pub risk: i64,
    /// Sampled for a spot check after it runs.
    pub spot_check: bool,
}

/// Rows per multi-row INSERT. SQLite looks bound parameters up by name in
/// a list, so very long statements cost more per row than they save.
const ROWS_PER_INSERT: usize = 16;

/// Adds the INSERTs of decided submissions to the writer's `script`, a few
/// dozen rows per statement (their evidence after the script has run).
pub fn insert(script: &mut Script<'_>, items: &[NewRequest<'_>]) -> Result<(), AppError> {
    const COLUMNS: usize = 26;
    for chunk in items.chunks(ROWS_PER_INSERT) {
        script.add(&format!(
            "INSERT INTO action_requests (id, agent_id, capability, capability_known, target, summary, params, \
               observation, decision, reasons, triggers, stage, policy_version, state, payload_hash, created_at, \
               expires_at, updated_at, held_for, rules, approvals_required, risk, held_mask, spot_check, claimed_at, run_id) VALUES {}",
            placeholders(chunk.len(), COLUMNS)
        ));
        for item in chunk {
            let a = item.detail;
            let held_for: Vec<&str> = a.held_for.iter().map(|k| k.as_str()).collect();
            script
                .bind(a.id.clone())
                .bind(a.agent_id.clone())
                .bind(a.capability.clone())
                .bind(i64::from(a.capability_known))
                .bind(a.target.clone())
                .bind(a.summary.clone())
                .bind(a.params.to_string())
                .bind(a.observation.clone())
                .bind(a.decision.as_str())
                .bind(serde_json::to_string(&a.reasons).map_err(|_| AppError::Internal)?)
                .bind(Trigger::join(&a.triggers))
                .bind(a.stage.as_str())
                .bind(a.policy_version)
                .bind(a.state.as_str())
                .bind(a.payload_hash.clone())
                .bind(a.created_at_ms)
                .bind(a.expires_at_ms)
                .bind(a.created_at_ms)
                .bind(held_for.join(","))
                .bind(serde_json::to_string(&a.rules).map_err(|_| AppError::Internal)?)
                .bind(i64::from(a.approvals_required))
                .bind(item.risk)
                .bind(RuleKey::mask(&a.held_for))
                .bind((a.decision == Outcome::Allowed && item.spot_check).then_some("pending"))
                .bind(a.claimed_at_ms)
                .bind(crate::runs::key::of(&a.agent_id, &item.submission.run_id));
        }
    }
    Ok(())
}

/// One move of one request from a state it may leave: a conditional
/// update, so of two racing moves exactly one applies. `$1` is `now`, `$2`
/// the request's id.
pub struct Move<'a> {
    from: &'a [RequestState],
    to: Option<RequestState>,
    agent_id: Option<&'a str>,
    /// Further assignments that take `now`, such as `decided_at = $1`.
    /// (`'static`: SQL written in the source, never made from input.)
    stamps: &'static str,
    /// A further condition, such as `expires_at <= $1`.
    only_if: &'static str,
    values: Vec<(&'static str, Value)>,
}

/// A value a move sets.
enum Value {
    Text(Option<String>),
    Int(i64),
}

impl<'a> Move<'a> {
    /// A move out of one of `from` (`to`: None only touches the row,
    /// which still takes the row's lock for the rest of the transaction).
    pub fn from(from: &'a [RequestState], to: Option<RequestState>) -> Self {
        Move {
            from,
            to,
            agent_id: None,
            stamps: "",
            only_if: "",
            values: Vec::new(),
        }
    }

    /// Only the agent's own request moves.
    pub fn of_agent(mut self, agent_id: &'a str) -> Self {
        self.agent_id = Some(agent_id);
        self
    }

    pub fn stamp(mut self, assignments: &'static str) -> Self {
        self.stamps = assignments;
        self
    }

    pub fn only_if(mut self, condition: &'static str) -> Self {
        self.only_if = condition;
        self
    }

    /// Sets `column` to `value` as it moves.
    pub fn set(mut self, column: &'static str, value: Option<String>) -> Self {
        self.values.push((column, Value::Text(value)));
        self
    }

    pub fn set_int(mut self, column: &'static str, value: i64) -> Self {
        self.values.push((column, Value::Int(value)));
        self
    }

    /// Applies the move; false when the request was not in a state it may
    /// leave (or not the agent's), and nothing changed.
    pub async fn apply(self, tx: &mut Tx<'_>, id: &str, now: i64) -> Result<bool, AppError> {
        let mut sets = vec!["updated_at = $1".to_string()];
        if let Some(to) = self.to {
            sets.push(format!("state = '{}'", to.as_str()));
        }
        if !self.stamps.is_empty() {
            sets.push(self.stamps.to_string());
        }
        let mut n = 2;
        for (column, _) in &self.values {
            n += 1;
            sets.push(format!("{column} = ${n}"));
        }
        let from: Vec<String> = self
            .from
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let mut sql = format!(
            "UPDATE action_requests SET {} WHERE id = $2 AND state IN ({})",
            sets.join(", "),
            from.join(", ")
        );
        if self.agent_id.is_some() {
            sql.push_str(&format!(" AND agent_id = ${}", n + 1));
        }
        if !self.only_if.is_empty() {
            sql.push_str(&format!(" AND {}", self.only_if));
        }
        let mut q = sqlx::query(&sql).bind(now).bind(id.to_string());
        for (_, value) in self.values {
            q = match value {
                Value::Text(text) => q.bind(text),
                Value::Int(n) => q.bind(n),
            };
        }
        if let Some(agent_id) = self.agent_id {
            q = q.bind(agent_id.to_string());
        }
        Ok(q.execute(&mut **tx).await?.rows_affected() == 1)
    }
}

/// After a move that matched nothing: why, from the request as it stands
/// now. Another agent's request is 404, exactly as if it did not exist.
pub async fn unmoved(
    db: &Db,
    id: &str,
    agent_id: Option<&str>,
    why: impl FnOnce(&ActionDetail) -> AppError,
) -> AppError {
    match load(db, id).await {
        Err(e) => e,
        Ok(Some(current)) if agent_id.is_none_or(|a| a == current.agent_id) => why(&current),
        Ok(_) => AppError::NotFound("no such action request".into()),
    }
}

/// Cancels every request of the agent that could still run (waiting, or
/// approved and not yet claimed); answers their ids and former states. An
/// approved request keeps its decision time and reviewer.
pub async fn cancel_open_of_agent(
    tx: &mut Tx<'_>,
    agent_id: &str,
    note: &str,
    now: i64,
) -> Result<Vec<(String, String)>, AppError> {
    let open: Vec<(String, String)> = sqlx::query(
        "SELECT id, state FROM action_requests WHERE agent_id = $1 AND state IN ('pending_approval', 'approved')",
    )
    .bind(agent_id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("id")?, r.try_get("state")?)))
    .collect::<Result<_, AppError>>()?;
    sqlx::query(
        "UPDATE action_requests SET state = 'cancelled', updated_at = $1, decision_note = $2, \
           decided_at = CASE WHEN state = 'pending_approval' THEN $1 ELSE decided_at END \
         WHERE agent_id = $3 AND state IN ('pending_approval', 'approved')",
    )
    .bind(now)
    .bind(note)
    .bind(agent_id)
    .execute(&mut **tx)
    .await?;
    Ok(open)
}

/// A reviewer's edit of a waiting request: the params as corrected, what
/// changed, and the payload hash that now binds approvals.
pub async fn record_edit(
    tx: &mut Tx<'_>,
    id: &str,
    params: &serde_json::Value,
    correction: &serde_json::Value,
    hash: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE action_requests SET edited_params = $1, correction = $2, payload_hash = $3 WHERE id = $4",
    )
    .bind(params.to_string())
    .bind(correction.to_string())
    .bind(hash)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sets one hash column of a request: `payload_hash` (what approvals bind
/// to) or `approved_hash` (what the final approval approved).
pub async fn set_hash(tx: &mut Tx<'_>, id: &str, column: Hash, hash: &str) -> Result<(), AppError> {
    let sql = match column {
        Hash::Payload => "UPDATE action_requests SET payload_hash = $1 WHERE id = $2",
        Hash::Approved => "UPDATE action_requests SET approved_hash = $1 WHERE id = $2",
    };
    sqlx::query(sql)
        .bind(hash)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub enum Hash {
    Payload,
    Approved,
}

/// The hash the final approval approved, if any.
pub async fn approved_hash(tx: &mut Tx<'_>, id: &str) -> Result<Option<String>, AppError> {
    Ok(
        sqlx::query("SELECT approved_hash FROM action_requests WHERE id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await?
            .try_get("approved_hash")?,
    )
}

/// The agent's open requests (pending, or approved and unclaimed) for
/// `capability` on `target`, newest first: a retried MCP call joins one.
pub async fn open_of_agent(
    db: &Db,
    agent: &str,
    cap: &str,
    target: &str,
) -> Result<Vec<ActionDetail>, AppError> {
    let rows = sqlx::query(
        "SELECT id FROM action_requests WHERE agent_id = $1 AND capability = $2 AND target = $3 \
         AND (state = 'pending_approval' OR (state = 'approved' AND claimed_at IS NULL)) \
         ORDER BY created_at DESC LIMIT 20",
    )
    .bind(agent)
    .bind(cap)
    .bind(target)
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.extend(load(db, &r.try_get::<String, _>("id")?).await?);
    }
    Ok(out)
}
