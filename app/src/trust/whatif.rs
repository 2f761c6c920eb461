//! What-if: the agent's past 30 days of requests decided again by today's
//! rules at another stage, to see what would have run without a person and
//! what people in fact did with those requests.

use super::model::{WhatIf, READINESS_DAYS};
use super::rollup::DAY_MS;
use crate::error::{stored, AppError};
use crate::policy::{decide, AgentStatus, Facts, Outcome, Request, Stage};
use crate::state::AppState;
use sqlx::Row;

/// Most requests read (the newest); beyond this the answer says so.
const MOST: i64 = 20_000;

pub async fn run(
    state: &AppState,
    agent_id: &str,
    to: Stage,
    capabilities: &[String],
    now: i64,
) -> Result<WhatIf, AppError> {
    let mut conn = state.db.acquire().await?;
    let index = state.policy.current(&mut conn).await?;
    let Some(mut agent) = index.agents.get(agent_id).cloned() else {
        return Err(AppError::NotFound("no such agent".into()));
    };
    agent.status = AgentStatus::Active;
    if capabilities.is_empty() {
        agent.stage = to;
    } else {
        for cap in capabilities {
            if let Some(Ok(grant)) = agent.grants.get_mut(cap) {
                grant.stage = Some(to);
            }
        }
    }
    let rows = sqlx::query(
        "SELECT capability, target, params, state, correction FROM action_requests \
         WHERE agent_id = $1 AND created_at >= $2 ORDER BY created_at DESC LIMIT $3",
    )
    .bind(agent_id)
    .bind(now - READINESS_DAYS * DAY_MS)
    .bind(MOST + 1)
    .fetch_all(&mut *conn)
    .await?;
    let mut w = WhatIf {
        stage: Some(to),
        truncated: rows.len() as i64 > MOST,
        ..WhatIf::default()
    };
    // Limits are judged as if each request were the hour's first: the
    // what-if shows the stage's effect, not yesterday's traffic.
    let facts = Facts {
        now_ms: now,
        used_before: Ok(true),
        recent: Some(Ok(0)),
    };
    for r in rows.iter().take(MOST as usize) {
        let capability: String = r.try_get("capability")?;
        if !capabilities.is_empty() && !capabilities.contains(&capability) {
            continue;
        }
        let target: String = r.try_get("target")?;
        let params: serde_json::Value =
            stored(serde_json::from_str(&r.try_get::<String, _>("params")?))?;
        let req = Request {
            capability: &capability,
            target: &target,
            params: &params,
        };
        w.considered += 1;
        let d = decide(&index.policy, Some(&agent), &req, &facts);
        if d.outcome != Outcome::Allowed {
            w.still_held += i64::from(d.outcome == Outcome::PendingApproval);
            continue;
        }
        w.auto_allowed += 1;
        let state: String = r.try_get("state")?;
        let correction: Option<String> = r.try_get("correction")?;
        w.rejected += i64::from(state == "rejected");
        w.corrected += i64::from(correction.is_some());
        w.failed += i64::from(state == "failed");
    }
    Ok(w)
}
