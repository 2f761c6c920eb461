//! Grants in the database. Every change is audited and bumps the policy
//! epoch in the same transaction, so the next decision everywhere sees it.

use super::form::{parse_form, view};
use super::{GrantForm, GrantView};
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::change;
use crate::change::model::{Kind, Saved};
use crate::change::store::Gate;
use crate::change::store::Stored;
use crate::db::{known_id, new_id, now_ms, Db, Tx};
use crate::error::{stored, AppError};
use crate::policy::store::{bump_epoch, grant_from_row};
use crate::policy::{grant_rises, Grant, Stage};
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
    db_tx: &mut Tx<'_>,
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
    tx: &mut Tx<'_>,
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

/// Saves a grant. One that widens the agent's scope is not applied: it
/// becomes a change request that another lead approves (unless an admin
/// allows one-person changes, which the audit event then records).
#[tracing::instrument(skip(db, user, form, reason), fields(user = %user.username, capability = %form.capability))]
pub async fn save(
    db: &Db,
    user: &UserView,
    agent_id: &str,
    form: &GrantForm,
    reason: &str,
) -> Result<Saved<GrantView>, AppError> {
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
    let mut tx = db.begin().await?;
    // First: takes the write lock (SQLite) / the epoch row (PostgreSQL) that
    // the decision writer also takes, so edits and decisions never interleave.
    bump_epoch(&mut tx).await?;
    let before = checked(&mut tx, agent_id, &grant).await?;
    let rises = grant_rises(before.as_ref(), &grant);
    let how = match change::store::gate(
        &mut tx,
        user,
        change::store::Open {
            kind: Kind::Grant,
            agent_id: Some(agent_id),
            subject: &grant.capability,
            before: before.as_ref().map(|g| shown(g, now)),
            after: shown(&grant, now),
            rises,
            reason,
            detail: None,
            needed: 1,
        },
    )
    .await?
    {
        Gate::Proposed(p) => {
            tx.commit().await?;
            return Ok(Saved::Proposed(p));
        }
        Gate::Apply(how) => how,
    };
    write(&mut tx, user, agent_id, &grant, before, how).await?;
    tx.commit().await?;
    Ok(Saved::Applied(view(&grant, now)))
}

/// Applies an approved change request, if the grant is still exactly what
/// it was proposed against; re-checked against the agent's trust now.
pub async fn apply_change(
    tx: &mut Tx<'_>,
    c: &Stored,
    approver: &UserView,
) -> Result<(), AppError> {
    let agent_id = c.agent_id.as_deref().ok_or(AppError::Internal)?;
    let now = now_ms();
    let form: GrantForm = stored(serde_json::from_value(c.after.clone()))?;
    let grant = parse_form(
        &GrantForm {
            capability: c.subject.clone(),
            ..form
        },
        now,
    )?;
    let before = checked(tx, agent_id, &grant).await?;
    c.still(
        before.as_ref().map(|g| shown(g, now)).as_ref(),
        &format!("the grant for {}", c.subject),
    )?;
    let how = serde_json::json!({ "change_id": c.id, "rises": c.rises });
    write(tx, approver, agent_id, &grant, before, how).await
}

/// A grant as the change request shows and compares it: the form's fields.
fn shown(g: &Grant, now: i64) -> serde_json::Value {
    let v = view(g, now);
    serde_json::to_value(GrantForm {
        capability: String::new(),
        stage: v.stage.map(|s| s.to_string()).unwrap_or_default(),
        max_per_hour: v.max_per_hour.map(|n| n.to_string()).unwrap_or_default(),
        bounds: v.bounds.join("\n"),
        targets: v.targets.join("\n"),
        expires_on: v.expires_on.unwrap_or_default(),
    })
    .map(|mut j| {
        if let Some(o) = j.as_object_mut() {
            o.remove("capability");
        }
        j
    })
    .unwrap_or_default()
}

/// The checks every write of a grant passes, under the epoch lock; answers
/// the grant as it stands.
async fn checked(
    tx: &mut Tx<'_>,
    agent_id: &str,
    grant: &Grant,
) -> Result<Option<Grant>, AppError> {
    let agent_stage = require_agent(tx, agent_id).await?;
    if let Some(stage) = grant.stage.filter(|s| *s > agent_stage) {
        return Err(AppError::Validation(format!(
            "a grant can only lower trust: the agent is at {agent_stage}, so {stage} for one capability needs a promotion review"
        )));
    }
    if let Some(ceiling) = ceiling(tx, agent_id, &grant.capability).await? {
        let wanted = grant.stage_for(agent_stage);
        if wanted > ceiling.min(agent_stage) {
            return Err(AppError::Validation(format!(
                "{} runs at {} for this agent; raising it to {wanted} takes a promotion review of that capability",
                grant.capability,
                ceiling.min(agent_stage)
            )));
        }
    }
    existing(tx, agent_id, &grant.capability).await
}

async fn write(
    tx: &mut Tx<'_>,
    user: &UserView,
    agent_id: &str,
    grant: &Grant,
    before: Option<Grant>,
    how: serde_json::Value,
) -> Result<(), AppError> {
    let stored = to_json(grant);
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
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
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
                "how": how,
            }),
        },
    )
    .await
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
