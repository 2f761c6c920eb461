//! Grants in the database. Every change is audited and bumps the policy
//! epoch in the same transaction, so the next decision everywhere sees it.

use super::form::{parse_form, view};
use super::{GrantForm, GrantView};
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::{known_id, new_id, now_ms, Db};
use crate::error::AppError;
use crate::policy::store::{bump_epoch, grant_from_row};
use crate::policy::{Grant, Stage};
use sqlx::{AnyConnection, Row};

pub async fn list(db: &Db, agent_id: &str) -> Result<Vec<GrantView>, AppError> {
    known_id(agent_id, "agent")?;
    let now = now_ms();
    sqlx::query(
        "SELECT capability, stage, max_per_hour, bounds, targets, expires_at FROM grants \
         WHERE agent_id = $1 ORDER BY capability",
    )
    .bind(agent_id)
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| {
        let capability: String = r.try_get("capability")?;
        match grant_from_row(r, &capability) {
            Ok(g) => Ok(view(&g, now)),
            Err(why) => Err(AppError::Validation(format!(
                "the stored grant for {capability} cannot be read ({why}); save it again to repair it"
            ))),
        }
    })
    .collect()
}

fn to_json(g: &Grant) -> serde_json::Value {
    serde_json::json!({
        "stage": g.stage,
        "max_per_hour": g.max_per_hour,
        "bounds": g.bounds.iter().map(|b| b.to_string()).collect::<Vec<_>>(),
        "targets": g.targets.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "expires_at": g.expires_at_ms,
    })
}

async fn existing(
    db_tx: &mut crate::db::Tx<'_>,
    agent_id: &str,
    capability: &str,
) -> Result<Option<Grant>, AppError> {
    let row = sqlx::query(
        "SELECT capability, stage, max_per_hour, bounds, targets, expires_at FROM grants \
         WHERE agent_id = $1 AND capability = $2",
    )
    .bind(agent_id)
    .bind(capability)
    .fetch_optional(&mut **db_tx)
    .await?;
    Ok(row.and_then(|r| grant_from_row(&r, capability).ok()))
}

/// The highest stage an edit may leave the capability at: what its current
/// grant allows (an unreadable grant allows at most propose, as the decision
/// treats it), or, with no grant, what an automatic demotion last left it at
/// (so removing and re-granting cannot undo one). `None`: no ceiling beyond
/// the agent's own stage.
async fn ceiling(
    tx: &mut crate::db::Tx<'_>,
    agent_id: &str,
    capability: &str,
) -> Result<Option<Stage>, AppError> {
    let current = sqlx::query("SELECT stage FROM grants WHERE agent_id = $1 AND capability = $2")
        .bind(agent_id)
        .bind(capability)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(row) = current {
        let stage: Option<String> = row.try_get("stage")?;
        return Ok(Some(match stage {
            None => Stage::ScopedAutonomy,
            Some(s) => Stage::parse(&s).unwrap_or(Stage::Propose),
        }));
    }
    let last = sqlx::query(
        "SELECT kind, to_stage FROM stage_changes WHERE agent_id = $1 AND capability = $2 \
         ORDER BY at DESC, id DESC LIMIT 1",
    )
    .bind(agent_id)
    .bind(capability)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match last {
        Some(r)
            if ["incident", "rejection_spike"]
                .contains(&r.try_get::<String, _>("kind")?.as_str()) =>
        {
            Some(Stage::parse(&r.try_get::<String, _>("to_stage")?).unwrap_or(Stage::Propose))
        }
        _ => None,
    })
}

/// The agent's own stage; 404 for an agent that does not exist.
async fn require_agent(conn: &mut AnyConnection, agent_id: &str) -> Result<Stage, AppError> {
    known_id(agent_id, "agent")?;
    let row = sqlx::query("SELECT stage FROM agents WHERE id = $1")
        .bind(agent_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::NotFound("no such agent".into()))?;
    crate::error::stored(Stage::parse(&row.try_get::<String, _>("stage")?))
}

#[tracing::instrument(skip(db, user, form), fields(user = %user.username, capability = %form.capability))]
pub async fn save(
    db: &Db,
    user: &UserView,
    agent_id: &str,
    form: &GrantForm,
) -> Result<GrantView, AppError> {
    let now = now_ms();
    let grant = parse_form(form, now)?;
    let known = sqlx::query("SELECT name FROM capabilities WHERE name = $1")
        .bind(&grant.capability)
        .fetch_optional(db)
        .await?;
    if known.is_none() {
        return Err(AppError::validation(format!(
            "{:?} is not in the capability catalog; add it there first",
            grant.capability
        )));
    }
    let stored = to_json(&grant);
    let mut tx = db.begin().await?;
    // First: takes the write lock (SQLite) / the epoch row (PostgreSQL) that
    // the decision writer also takes, so edits and decisions never interleave.
    bump_epoch(&mut tx).await?;
    // Read under the lock: trust checked here cannot change before commit.
    let agent_stage = require_agent(&mut tx, agent_id).await?;
    if let Some(stage) = grant.stage.filter(|s| *s > agent_stage) {
        return Err(AppError::Validation(format!(
            "a grant can only lower trust: the agent is at {agent_stage}, so {stage} for one capability needs a promotion review"
        )));
    }
    let before = existing(&mut tx, agent_id, &grant.capability).await?;
    if let Some(ceiling) = ceiling(&mut tx, agent_id, &grant.capability).await? {
        let wanted = grant.stage_for(agent_stage);
        if wanted > ceiling.min(agent_stage) {
            return Err(AppError::Validation(format!(
                "{} runs at {} for this agent; raising it to {wanted} takes a promotion review of that capability",
                grant.capability,
                ceiling.min(agent_stage)
            )));
        }
    }
    sqlx::query(
        "INSERT INTO grants (id, agent_id, capability, stage, max_per_hour, bounds, targets, expires_at, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (agent_id, capability) DO UPDATE SET stage = excluded.stage, max_per_hour = excluded.max_per_hour, \
           bounds = excluded.bounds, targets = excluded.targets, expires_at = excluded.expires_at, \
           created_by = excluded.created_by, created_at = excluded.created_at",
    )
    .bind(new_id())
    .bind(agent_id)
    .bind(&grant.capability)
    .bind(grant.stage.map(|s| s.as_str()))
    .bind(grant.max_per_hour.map(i64::from))
    .bind(stored["bounds"].to_string())
    .bind(stored["targets"].to_string())
    .bind(grant.expires_at_ms)
    .bind(&user.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(user.id.clone()),
            what: if before.is_some() {
                "scope.changed"
            } else {
                "scope.granted"
            },
            subject_kind: "agent",
            subject_id: agent_id,
            detail: serde_json::json!({
                "capability": grant.capability,
                "before": before.as_ref().map(to_json),
                "after": stored,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(view(&grant, now))
}

#[tracing::instrument(skip(db, user), fields(user = %user.username))]
pub async fn remove(
    db: &Db,
    user: &UserView,
    agent_id: &str,
    capability: &str,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    bump_epoch(&mut tx).await?;
    require_agent(&mut tx, agent_id).await?;
    let before = existing(&mut tx, agent_id, capability).await?;
    let done = sqlx::query("DELETE FROM grants WHERE agent_id = $1 AND capability = $2")
        .bind(agent_id)
        .bind(capability)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::NotFound(format!(
            "the agent has no grant for {capability:?}"
        )));
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(user.id.clone()),
            what: "scope.removed",
            subject_kind: "agent",
            subject_id: agent_id,
            detail: serde_json::json!({
                "capability": capability,
                "before": before.as_ref().map(to_json),
                "after": null,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
