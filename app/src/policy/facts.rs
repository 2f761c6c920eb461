//! The facts a decision needs from the database beyond the cached index:
//! whether the agent has used a capability before, and how often it asked
//! in the last hour; and `decide_now`, which gathers them and decides.

use super::store::PolicyCache;
use super::Index;
use crate::db::{now_ms, OnDemand, Tx};
use crate::error::AppError;
use sqlx::AnyConnection;
use sqlx::Row;

/// Has the agent used this capability before (an action allowed or approved)?
pub async fn used_before(
    conn: &mut impl OnDemand,
    cache: &PolicyCache,
    agent_id: &str,
    capability: &str,
) -> Result<bool, String> {
    if cache.known_used(agent_id, capability) {
        return Ok(true);
    }
    let conn = conn.conn().await.map_err(|e| e.to_string())?;
    let found =
        sqlx::query("SELECT 1 AS one FROM capability_uses WHERE agent_id = $1 AND capability = $2")
            .bind(agent_id)
            .bind(capability)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| e.to_string())?
            .is_some();
    if found {
        cache.remember_use(agent_id, capability);
    }
    Ok(found)
}

/// Records that the agent has now used the capability (at its first approval).
pub async fn record_use(
    tx: &mut Tx<'_>,
    agent_id: &str,
    capability: &str,
    at: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO capability_uses (agent_id, capability, first_at) VALUES ($1, $2, $3) \
         ON CONFLICT (agent_id, capability) DO NOTHING",
    )
    .bind(agent_id)
    .bind(capability)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Requests for the capability in the last hour that could execute: the
/// count a grant's hourly limit is checked against.
pub async fn recent(
    conn: &mut AnyConnection,
    agent_id: &str,
    capability: &str,
    now: i64,
) -> Result<u32, String> {
    last_hour(
        conn,
        "created_at > $3 AND state IN ('allowed', 'pending_approval', 'approved', 'executing', 'succeeded', 'failed')",
        (agent_id, capability, ""),
        now,
    )
    .await
}

/// Requests for the capability that ran in the last hour, other than
/// `claiming`, counted when they were claimed (or allowed outright): the
/// hourly limit as a claim checks it, so approvals banked earlier cannot
/// all run together.
pub async fn claimed_recently(
    conn: &mut AnyConnection,
    agent_id: &str,
    capability: &str,
    claiming: &str,
    now: i64,
) -> Result<u32, String> {
    let within = "(claimed_at > $3 OR (decision = 'allowed' AND created_at > $3))";
    last_hour(conn, within, (agent_id, capability, claiming), now).await
}

/// The agent's requests for the capability, but `except`, that match
/// `within` (SQL, with `$3` the start of the last hour).
async fn last_hour(
    conn: &mut AnyConnection,
    within: &str,
    (agent_id, capability, except): (&str, &str, &str),
    now: i64,
) -> Result<u32, String> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM action_requests \
         WHERE agent_id = $1 AND capability = $2 AND id <> $4 AND {within}"
    );
    let n: i64 = sqlx::query(&sql)
        .bind(agent_id)
        .bind(capability)
        .bind(now - 60 * 60 * 1000)
        .bind(except)
        .fetch_one(&mut *conn)
        .await
        .and_then(|r| r.try_get("n"))
        .map_err(|e| e.to_string())?;
    u32::try_from(n).map_err(|_| format!("impossible count {n}"))
}

/// Gathers the facts one decision needs, then decides. Lookups that fail
/// are passed on as errors, which the decision fails closed on.
pub async fn decide_now(
    conn: &mut impl OnDemand,
    cache: &PolicyCache,
    index: &Index,
    agent_id: &str,
    req: &super::Request<'_>,
    earlier_in_batch: u32,
) -> super::Decision {
    let now = now_ms();
    let agent = index.agents.get(agent_id);
    let limited = agent
        .and_then(|a| a.grants.get(req.capability))
        .is_some_and(|g| matches!(g, Ok(g) if g.max_per_hour.is_some()));
    let recent = if limited {
        Some(match conn.conn().await {
            Ok(c) => recent(c, agent_id, req.capability, now)
                .await
                .map(|n| n.saturating_add(earlier_in_batch)),
            Err(e) => Err(e.to_string()),
        })
    } else {
        None
    };
    let facts = super::Facts {
        now_ms: now,
        used_before: used_before(conn, cache, agent_id, req.capability).await,
        recent,
    };
    super::decide(&index.policy, agent, req, &facts)
}
