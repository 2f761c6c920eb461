//! Removing an agent's upstream: its tools leave the agent's `tools/list`
//! and calls to them are refused from the next request on. Their catalog
//! entries stay (other agents, grants and past requests name them).

use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::Db;
use crate::error::AppError;
use crate::policy::store::bump_epoch;
use sqlx::Row;

/// Removes the upstream `upstream_id` of the agent `agent_id`, audited in
/// the same transaction.
#[tracing::instrument(skip(db, user), fields(user = %user.username))]
pub async fn remove(
    db: &Db,
    user: &UserView,
    agent_id: &str,
    upstream_id: &str,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    // First, so this change and the decision writer serialize on the epoch.
    bump_epoch(&mut tx).await?;
    let row = sqlx::query(
        "SELECT name, command, url, bearer_from FROM mcp_upstreams WHERE id = $1 AND agent_id = $2",
    )
    .bind(upstream_id)
    .bind(agent_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::NotFound("this agent has no such upstream".into()))?;
    let name: String = row.try_get("name")?;
    let tools: Vec<String> =
        sqlx::query("SELECT tool FROM mcp_tools WHERE upstream_id = $1 ORDER BY tool")
            .bind(upstream_id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("tool"))
            .collect::<Result<_, _>>()?;
    sqlx::query("DELETE FROM mcp_tools WHERE upstream_id = $1")
        .bind(upstream_id)
        .execute(&mut *tx)
        .await?;
    let gone = sqlx::query("DELETE FROM mcp_upstreams WHERE id = $1 AND agent_id = $2")
        .bind(upstream_id)
        .bind(agent_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone != 1 {
        return Err(AppError::Conflict(
            "the upstream was removed meanwhile".into(),
        ));
    }
    let command: String = row.try_get("command")?;
    let before = serde_json::json!({
        "command": crate::error::stored(serde_json::from_str::<serde_json::Value>(&command))?,
        "url": row.try_get::<Option<String>, _>("url")?,
        // Where the token was read, never the token.
        "bearer_from": row.try_get::<Option<String>, _>("bearer_from")?,
        "tools": tools,
    });
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(user.id.clone()),
            what: "mcp.upstream_removed",
            subject_kind: "agent",
            subject_id: agent_id,
            detail: serde_json::json!({ "upstream": name, "before": before, "after": null }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
