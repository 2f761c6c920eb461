//! Readiness criteria per target stage and the sensor's settings: read by
//! promotion reviews, spot-check sampling and the rejection spike; edited
//! by leads, every edit audited.

use super::model::Criteria;
use super::views::TrustSettings;
use crate::audit::{self, Actor};
use crate::change;
use crate::change::model::{Kind, Saved};
use crate::change::store::Gate;
use crate::change::store::Stored;
use crate::db::{now_ms, Db, Tx};
use crate::error::{stored, AppError};
use crate::policy::Stage;
use sqlx::{AnyConnection, Row};

pub async fn load(db: &Db) -> Result<TrustSettings, AppError> {
    settings_in(&mut *db.acquire().await?).await
}

pub async fn criteria(db: &Db) -> Result<Vec<Criteria>, AppError> {
    let rows = sqlx::query(
        "SELECT stage, min_decisions, min_approved_pct, max_corrected_pct, max_incidents, min_reviewers, \
                min_days_at_stage, approvals_needed FROM readiness_criteria",
    )
    .fetch_all(db)
    .await?;
    let mut all = rows
        .iter()
        .map(criteria_row)
        .collect::<Result<Vec<_>, AppError>>()?;
    all.sort_by_key(|c| c.stage);
    Ok(all)
}

fn criteria_row(r: &sqlx::any::AnyRow) -> Result<Criteria, AppError> {
    Ok(Criteria {
        stage: stored(Stage::parse(&r.try_get::<String, _>("stage")?))?,
        min_decisions: r.try_get("min_decisions")?,
        min_approved_pct: r.try_get("min_approved_pct")?,
        max_corrected_pct: r.try_get("max_corrected_pct")?,
        max_incidents: r.try_get("max_incidents")?,
        min_reviewers: r.try_get("min_reviewers")?,
        min_days_at_stage: r.try_get("min_days_at_stage")?,
        approvals_needed: r.try_get("approvals_needed")?,
    })
}

/// The criteria for promotion to `stage` (see `criteria_in`).
pub async fn criteria_for(db: &Db, stage: Stage) -> Result<Criteria, AppError> {
    criteria_in(&mut *db.acquire().await?, stage).await
}

fn bounded(name: &str, v: i64, max: i64) -> Result<i64, AppError> {
    if (0..=max).contains(&v) {
        Ok(v)
    } else {
        Err(AppError::validation(format!(
            "{name} must be a whole number from 0 to {max}"
        )))
    }
}

/// How `after` asks less of an agent than `before`, criterion by criterion.
fn lowered(b: &Criteria, a: &Criteria) -> Vec<String> {
    let pairs = [
        ("minimum decisions", b.min_decisions, a.min_decisions, true),
        ("approved %", b.min_approved_pct, a.min_approved_pct, true),
        (
            "corrected % allowed",
            b.max_corrected_pct,
            a.max_corrected_pct,
            false,
        ),
        ("incidents allowed", b.max_incidents, a.max_incidents, false),
        ("distinct reviewers", b.min_reviewers, a.min_reviewers, true),
        (
            "days at stage",
            b.min_days_at_stage,
            a.min_days_at_stage,
            true,
        ),
        (
            "approvals needed",
            b.approvals_needed,
            a.approvals_needed,
            true,
        ),
    ];
    pairs
        .into_iter()
        .filter(|(_, before, after, minimum)| {
            if *minimum {
                after < before
            } else {
                after > before
            }
        })
        .map(|(name, before, after, _)| format!("{name} from {before} to {after}"))
        .collect()
}

/// Saves the criteria for one stage; criteria that ask less wait for
/// another lead as a change request.
pub async fn save_criteria(
    db: &Db,
    user: &crate::auth::UserView,
    c: Criteria,
    reason: &str,
) -> Result<Saved<()>, AppError> {
    bounded("minimum decisions", c.min_decisions, 1_000_000)?;
    bounded("approved %", c.min_approved_pct, 100)?;
    bounded("corrected %", c.max_corrected_pct, 100)?;
    bounded("incidents", c.max_incidents, 1_000_000)?;
    bounded("distinct reviewers", c.min_reviewers, 1000)?;
    bounded("days at stage", c.min_days_at_stage, 3650)?;
    if !(1..=10).contains(&c.approvals_needed) {
        return Err(AppError::validation(
            "approvals needed must be from 1 to 10 (one other lead at least)",
        ));
    }
    let mut tx = db.begin().await?;
    // Serializes with other edits and with approvals of this change.
    crate::policy::store::bump_epoch(&mut tx).await?;
    let before = criteria_in(&mut tx, c.stage).await?;
    let rises = lowered(&before, &c);
    let how = match change::store::gate(
        &mut tx,
        user,
        change::store::Open {
            kind: Kind::Readiness,
            agent_id: None,
            subject: c.stage.as_str(),
            before: Some(to_value(&before)?),
            after: to_value(&c)?,
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
    write_criteria(&mut tx, user, &before, &c, how).await?;
    tx.commit().await?;
    Ok(Saved::Applied(()))
}

fn to_value<T: serde::Serialize>(t: &T) -> Result<serde_json::Value, AppError> {
    serde_json::to_value(t).map_err(|_| AppError::Internal)
}

/// Applies an approved change request, if the stage's criteria are still
/// what it was proposed against.
pub async fn apply_change(
    tx: &mut Tx<'_>,
    c: &Stored,
    approver: &crate::auth::UserView,
) -> Result<(), AppError> {
    let stage = stored(Stage::parse(&c.subject))?;
    let before = criteria_in(tx, stage).await?;
    c.still(
        Some(&to_value(&before)?),
        &format!("the readiness criteria for {stage}"),
    )?;
    let after: Criteria = stored(serde_json::from_value(c.after.clone()))?;
    let how = serde_json::json!({ "change_id": c.id, "rises": c.rises });
    write_criteria(tx, approver, &before, &after, how).await
}

/// The criteria for promotion to `stage`, read on `conn` (inside a
/// transaction, as that transaction sees them); a stage without a row
/// (observe) cannot be promoted to.
pub async fn criteria_in(conn: &mut AnyConnection, stage: Stage) -> Result<Criteria, AppError> {
    let r = sqlx::query(
        "SELECT stage, min_decisions, min_approved_pct, max_corrected_pct, max_incidents, min_reviewers, \
                min_days_at_stage, approvals_needed FROM readiness_criteria WHERE stage = $1",
    )
    .bind(stage.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::validation(format!("nothing is promoted to {stage}")))?;
    criteria_row(&r)
}

async fn write_criteria(
    tx: &mut Tx<'_>,
    user: &crate::auth::UserView,
    before: &Criteria,
    c: &Criteria,
    how: serde_json::Value,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE readiness_criteria SET min_decisions = $1, min_approved_pct = $2, max_corrected_pct = $3, \
           max_incidents = $4, min_reviewers = $5, min_days_at_stage = $6, approvals_needed = $7, \
           updated_by = $8, updated_at = $9 WHERE stage = $10",
    )
    .bind(c.min_decisions)
    .bind(c.min_approved_pct)
    .bind(c.max_corrected_pct)
    .bind(c.max_incidents)
    .bind(c.min_reviewers)
    .bind(c.min_days_at_stage)
    .bind(c.approvals_needed)
    .bind(&user.id)
    .bind(now_ms())
    .bind(c.stage.as_str())
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        audit::Event {
            actor: &Actor::User(user.id.clone()),
            what: "readiness.changed",
            subject_kind: "stage",
            subject_id: c.stage.as_str(),
            detail: serde_json::json!({ "before": before, "after": c, "how": how }),
        },
    )
    .await
}

/// How the sensor's settings after an edit watch less: a demotion needs
/// more rejections or looks at fewer decisions, or fewer actions are
/// sampled for spot checks.
fn watches_less(b: &TrustSettings, a: &TrustSettings) -> Vec<String> {
    let mut out = Vec::new();
    if a.spike_rejections > b.spike_rejections {
        out.push(format!(
            "a rejection spike needs {} rejections instead of {}",
            a.spike_rejections, b.spike_rejections
        ));
    }
    if a.spike_window < b.spike_window {
        out.push(format!(
            "the spike looks at the last {} decisions instead of {}",
            a.spike_window, b.spike_window
        ));
    }
    if a.spot_check_pct < b.spot_check_pct {
        out.push(format!(
            "spot checks sample {} % instead of {} %",
            a.spot_check_pct, b.spot_check_pct
        ));
    }
    out
}

/// Saves the sensor's settings; settings that watch less wait for another
/// lead as a change request.
pub async fn save(
    db: &Db,
    user: &crate::auth::UserView,
    s: TrustSettings,
    reason: &str,
) -> Result<Saved<()>, AppError> {
    bounded("spike window", s.spike_window, 1000)?;
    bounded("spike rejections", s.spike_rejections, s.spike_window)?;
    if s.spike_rejections == 0 || s.spike_window == 0 {
        return Err(AppError::validation(
            "the rejection spike needs at least 1 rejection of at least 1 decision",
        ));
    }
    bounded("spot-check share", s.spot_check_pct, 100)?;
    let mut tx = db.begin().await?;
    // The writer samples spot checks from the policy index: reload it.
    crate::policy::store::bump_epoch(&mut tx).await?;
    let before = settings_in(&mut tx).await?;
    let rises = watches_less(&before, &s);
    let how = match change::store::gate(
        &mut tx,
        user,
        change::store::Open {
            kind: Kind::Sensor,
            agent_id: None,
            subject: "sensor",
            before: Some(to_value(&before)?),
            after: to_value(&s)?,
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
    write_settings(&mut tx, user, &before, &s, how).await?;
    tx.commit().await?;
    Ok(Saved::Applied(()))
}

/// Applies an approved change request to the sensor's settings, if they
/// are still what it was proposed against.
pub async fn apply_sensor_change(
    tx: &mut Tx<'_>,
    c: &Stored,
    approver: &crate::auth::UserView,
) -> Result<(), AppError> {
    let before = settings_in(tx).await?;
    c.still(
        Some(&to_value(&before)?),
        "the automatic demotion and spot-check settings",
    )?;
    let after: TrustSettings = stored(serde_json::from_value(c.after.clone()))?;
    let how = serde_json::json!({ "change_id": c.id, "rises": c.rises });
    write_settings(tx, approver, &before, &after, how).await
}

async fn settings_in(conn: &mut AnyConnection) -> Result<TrustSettings, AppError> {
    let r = sqlx::query(
        "SELECT spike_rejections, spike_window, spot_check_pct FROM trust_settings WHERE id = 1",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(TrustSettings {
        spike_rejections: r.try_get("spike_rejections")?,
        spike_window: r.try_get("spike_window")?,
        spot_check_pct: r.try_get("spot_check_pct")?,
    })
}

async fn write_settings(
    tx: &mut Tx<'_>,
    user: &crate::auth::UserView,
    before: &TrustSettings,
    s: &TrustSettings,
    how: serde_json::Value,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE trust_settings SET spike_rejections = $1, spike_window = $2, spot_check_pct = $3, \
           updated_by = $4, updated_at = $5 WHERE id = 1",
    )
    .bind(s.spike_rejections)
    .bind(s.spike_window)
    .bind(s.spot_check_pct)
    .bind(&user.id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        audit::Event {
            actor: &Actor::User(user.id.clone()),
            what: "trust_settings.changed",
            subject_kind: "settings",
            subject_id: "trust",
            detail: serde_json::json!({ "before": before, "after": s, "how": how }),
        },
    )
    .await
}
