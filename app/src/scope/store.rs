//! Grants in the database. Every change is audited and bumps the policy
//! epoch in the same transaction, so the next decision everywhere sees it.

use super::{GrantForm, GrantView};
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::{known_id, new_id, now_ms, Db};
use crate::error::AppError;
use crate::policy::store::{bump_epoch, unreadable_grant};
use crate::policy::{Bound, Grant, Stage, TargetRule};
use sqlx::{AnyConnection, Row};

const MAX_LINES: usize = 50;

/// Parses the form at the edge: every field is checked and each problem
/// named, so nothing half-understood is stored.
pub fn parse_form(form: &GrantForm, now: i64) -> Result<Grant, AppError> {
    let capability = form.capability.trim();
    if capability.is_empty() {
        return Err(AppError::validation("choose a capability to grant"));
    }
    let stage = match form.stage.trim() {
        "" => None,
        s => Some(Stage::parse(s).map_err(AppError::Validation)?),
    };
    let max_per_hour = match form.max_per_hour.trim() {
        "" => None,
        s => match s.parse::<u32>() {
            Ok(n) if (1..=1_000_000).contains(&n) => Some(n),
            _ => {
                return Err(AppError::validation(
                    "the hourly limit is a whole number from 1 to 1000000, or blank for none",
                ))
            }
        },
    };
    let bounds = lines(&form.bounds, "bounds")?
        .map(|l| Bound::parse(l).map_err(AppError::Validation))
        .collect::<Result<Vec<_>, _>>()?;
    let targets = lines(&form.targets, "targets")?
        .map(|l| TargetRule::parse(l).map_err(AppError::Validation))
        .collect::<Result<Vec<_>, _>>()?;
    let expires_at_ms = match form.expires_on.trim() {
        "" => None,
        s => {
            let at = parse_day(s).ok_or_else(|| {
                AppError::validation(format!("{s:?} is not a date like 2027-01-31"))
            })?;
            if at <= now {
                return Err(AppError::validation(
                    "the expiry date must be in the future",
                ));
            }
            Some(at)
        }
    };
    Ok(Grant {
        capability: capability.to_string(),
        stage,
        max_per_hour,
        bounds,
        targets,
        expires_at_ms,
    })
}

fn lines<'a>(raw: &'a str, what: &str) -> Result<impl Iterator<Item = &'a str>, AppError> {
    let count = raw.lines().filter(|l| !l.trim().is_empty()).count();
    if count > MAX_LINES {
        return Err(AppError::validation(format!("at most {MAX_LINES} {what}")));
    }
    Ok(raw.lines().filter(|l| !l.trim().is_empty()))
}

/// `YYYY-MM-DD` → midnight UTC of that day, in ms.
fn parse_day(s: &str) -> Option<i64> {
    let mut parts = s.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let secs = date.midnight().assume_utc().unix_timestamp();
    secs.checked_mul(1000)
}

fn format_day(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| {
            let d = t.date();
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        })
        .unwrap_or_else(|_| "unknown".into())
}

pub fn view(g: &Grant, now: i64) -> GrantView {
    GrantView {
        capability: g.capability.clone(),
        stage: g.stage,
        max_per_hour: g.max_per_hour,
        bounds: g.bounds.iter().map(|b| b.to_string()).collect(),
        targets: g.targets.iter().map(|t| t.to_string()).collect(),
        expires_on: g.expires_at_ms.map(format_day),
        expired: g.expired(now),
    }
}

/// Reads a stored grant back; anything that does not parse is an error the
/// decision treats as out of scope (never as "no limits").
pub fn grant_from_row(r: &sqlx::any::AnyRow, capability: &str) -> Result<Grant, String> {
    let read = || -> Result<Grant, String> {
        let stage = r
            .try_get::<Option<String>, _>("stage")
            .map_err(|e| e.to_string())?
            .map(|s| Stage::parse(&s))
            .transpose()?;
        let max_per_hour = r
            .try_get::<Option<i64>, _>("max_per_hour")
            .map_err(|e| e.to_string())?
            .map(|n| u32::try_from(n).map_err(|_| format!("bad hourly limit {n}")))
            .transpose()?;
        let bounds: Vec<String> = serde_json::from_str(
            &r.try_get::<String, _>("bounds")
                .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        let targets: Vec<String> = serde_json::from_str(
            &r.try_get::<String, _>("targets")
                .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        Ok(Grant {
            capability: capability.to_string(),
            stage,
            max_per_hour,
            bounds: bounds
                .iter()
                .map(|b| Bound::parse(b))
                .collect::<Result<_, _>>()?,
            targets: targets
                .iter()
                .map(|t| TargetRule::parse(t))
                .collect::<Result<_, _>>()?,
            expires_at_ms: r.try_get("expires_at").map_err(|e| e.to_string())?,
        })
    };
    read().or_else(|why| unreadable_grant(capability, why))
}

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

/// What `GET /api/v1/me` tells an agent about its scope, so it can plan
/// instead of probing: for each granted capability, the stage that applies,
/// the risk, what pauses it, and how much of its hourly limit is used.
pub async fn for_agent(
    state: &crate::state::AppState,
    agent_id: &str,
) -> Result<serde_json::Value, AppError> {
    use crate::policy::store::{recent, used_before};
    use crate::policy::{AgentStatus, CatalogEntry, RuleKey};
    let mut conn = state.db.acquire().await?;
    let index = state.policy.current(&mut conn).await?;
    let agent = index
        .agents
        .get(agent_id)
        .ok_or_else(|| AppError::NotFound("no such agent".into()))?;
    let now = now_ms();
    let mut grants: Vec<_> = agent.grants.iter().collect();
    grants.sort_by(|a, b| a.0.cmp(b.0));
    let mut scope = Vec::with_capacity(grants.len());
    for (capability, grant) in grants {
        let Ok(grant) = grant else {
            scope.push(serde_json::json!({
                "capability": capability,
                "readable": false,
                "note": "this grant cannot be read; using it is out of scope until a lead saves it again",
            }));
            continue;
        };
        let (known, triggers) = match index.policy.catalog.get(capability) {
            Some(CatalogEntry::Known { triggers }) => (true, triggers.clone()),
            _ => (false, vec![]),
        };
        let always: Vec<_> = match &index.policy.rules {
            Ok(rules) => triggers
                .iter()
                .filter(|t| rules.get(RuleKey::from_trigger(**t)).always_approve)
                .collect(),
            Err(_) => triggers.iter().collect(),
        };
        let used_last_hour =
            match grant.max_per_hour {
                Some(_) => Some(recent(&mut conn, agent_id, capability, now).await.map_err(
                    |e| {
                        tracing::error!(error = %e, "counting recent requests");
                        AppError::Internal
                    },
                )?),
                None => None,
            };
        let first_use = !used_before(&mut conn, &state.policy, agent_id, capability)
            .await
            .unwrap_or(false);
        scope.push(serde_json::json!({
            "capability": capability,
            "readable": true,
            "in_catalog": known,
            "stage": grant.stage_for(agent.stage),
            "triggers": triggers,
            "always_approve": always,
            "first_use_pending": first_use,
            "expired": grant.expired(now),
            "limits": {
                "max_per_hour": grant.max_per_hour,
                "used_last_hour": used_last_hour,
                "params": grant.bounds.iter().map(|b| b.to_string()).collect::<Vec<_>>(),
                "targets": grant.targets.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                "expires_at": grant.expires_at_ms.map(crate::db::rfc3339),
            },
        }));
    }
    Ok(serde_json::json!({
        "status": match agent.status { AgentStatus::Active => "active", AgentStatus::Suspended => "suspended" },
        "stage": agent.stage,
        "policy_version": index.policy.version,
        "scope": scope,
        "notes": [
            "capabilities not listed here are out of scope: they are held for approval (or refused or drafted at observe and draft)",
            "the first use of any capability is held for approval whatever the stage",
        ],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> GrantForm {
        GrantForm {
            capability: "billing.refund".into(),
            stage: "scoped_autonomy".into(),
            max_per_hour: "20".into(),
            bounds: "amount <= 500\n\n currency_count < 3 ".into(),
            targets: "customer:acme\ncustomer:test-*".into(),
            expires_on: "2099-01-31".into(),
        }
    }

    #[test]
    fn a_complete_form_parses_into_a_grant() {
        let g = parse_form(&form(), 0).unwrap();
        assert_eq!(g.stage, Some(Stage::ScopedAutonomy));
        assert_eq!(g.max_per_hour, Some(20));
        assert_eq!(g.bounds.len(), 2);
        assert_eq!(g.targets[1], TargetRule::Prefix("customer:test-".into()));
        assert_eq!(view(&g, 0).expires_on.as_deref(), Some("2099-01-31"));
    }

    #[test]
    fn each_bad_field_is_refused_with_its_reason() {
        for (edit, expect) in [
            (
                GrantForm {
                    capability: " ".into(),
                    ..form()
                },
                "choose a capability",
            ),
            (
                GrantForm {
                    stage: "god".into(),
                    ..form()
                },
                "unknown stage",
            ),
            (
                GrantForm {
                    max_per_hour: "0".into(),
                    ..form()
                },
                "hourly limit",
            ),
            (
                GrantForm {
                    bounds: "amount <= lots".into(),
                    ..form()
                },
                "not a bound",
            ),
            (
                GrantForm {
                    targets: "*".into(),
                    ..form()
                },
                "must not be empty",
            ),
            (
                GrantForm {
                    expires_on: "2020-01-01".into(),
                    ..form()
                },
                "in the future",
            ),
            (
                GrantForm {
                    expires_on: "2099-02-30".into(),
                    ..form()
                },
                "not a date",
            ),
            (
                GrantForm {
                    targets: "t\n".repeat(51),
                    ..form()
                },
                "at most 50",
            ),
        ] {
            let err = parse_form(&edit, crate::db::now_ms())
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect), "{edit:?}: {err}");
        }
    }
}
