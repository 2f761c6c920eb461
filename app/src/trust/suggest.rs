//! Dashboard suggestions: who is ready for more trust, which controls have
//! become rubber stamps, and which workflows keep needing people to fix them.

use super::model::{evaluate, READINESS_DAYS};
use super::rollup::{day_of, DAY_MS};
use super::views::{Brittle, Notice, Ready, Relax, Suggestions};
use super::{daily, history, settings};
use crate::db::{known_id, now_ms, Db};
use crate::error::{stored, AppError};
use crate::policy::Stage;
use sqlx::Row;

/// Approvals of one capability and target, without edits, before a
/// scoped grant is suggested.
pub const RELAX_AFTER: i64 = 20;
/// Rejections plus corrections, in percent of human decisions, that make a
/// workflow brittle; judged from this many decisions up.
pub const BRITTLE_PCT: i64 = 20;
pub const BRITTLE_MIN_DECISIONS: i64 = 5;

pub async fn suggestions(db: &Db) -> Result<Suggestions, AppError> {
    let now = now_ms();
    let today = day_of(now);
    let from_ms = now - READINESS_DAYS * DAY_MS;
    let criteria = settings::criteria(db).await?;
    let agents = sqlx::query(
        "SELECT id, name, stage FROM agents WHERE status = 'active' AND stage <> 'scoped_autonomy' \
         AND NOT EXISTS (SELECT 1 FROM change_requests p WHERE p.agent_id = agents.id AND p.kind = 'promotion' AND p.state = 'open') \
         ORDER BY name",
    )
    .fetch_all(db)
    .await?;
    let mut ready = Vec::new();
    for a in &agents {
        let id: String = a.try_get("id")?;
        let from = stored(Stage::parse(&a.try_get::<String, _>("stage")?))?;
        let Some(to) = Stage::ALL.into_iter().find(|s| *s > from) else {
            continue;
        };
        let Some(c) = criteria.iter().find(|c| c.stage == to) else {
            continue;
        };
        let (rows, reviewers) = daily::rollups(db, &id, today, READINESS_DAYS).await?;
        let month = daily::figures(&rows, &reviewers, today, READINESS_DAYS, &|_| true);
        let days = history::days_at_stage(db, &id, None, now).await?;
        if evaluate(c, &month, days).iter().all(|c| c.met) {
            ready.push(Ready {
                agent_id: id,
                agent_name: a.try_get("name")?,
                from,
                to,
            });
        }
    }
    let relax = sqlx::query(
        "SELECT r.agent_id, a.name, r.capability, r.target, COUNT(*) AS n FROM action_requests r \
         JOIN agents a ON a.id = r.agent_id \
         WHERE r.created_at >= $1 AND r.decided_by IS NOT NULL \
         GROUP BY r.agent_id, a.name, r.capability, r.target \
         HAVING SUM(CASE WHEN r.state = 'rejected' OR r.correction IS NOT NULL THEN 1 ELSE 0 END) = 0 \
            AND COUNT(*) >= $2 \
         ORDER BY COUNT(*) DESC LIMIT 20",
    )
    .bind(from_ms)
    .bind(RELAX_AFTER)
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| {
        Ok(Relax {
            agent_id: r.try_get("agent_id")?,
            agent_name: r.try_get("name")?,
            capability: r.try_get("capability")?,
            target: r.try_get("target")?,
            approvals: r.try_get("n")?,
        })
    })
    .collect::<Result<Vec<_>, AppError>>()?;
    let brittle = sqlx::query(
        "SELECT r.agent_id, a.name, r.capability, CAST(SUM(r.approved + r.rejected + r.expired) AS BIGINT) AS decided, \
                CAST(SUM(r.rejected) AS BIGINT) AS rejected, CAST(SUM(r.corrected) AS BIGINT) AS corrected \
         FROM action_rollups r JOIN agents a ON a.id = r.agent_id WHERE r.grain = 0 AND r.at >= $1 \
         GROUP BY r.agent_id, a.name, r.capability \
         HAVING SUM(r.approved + r.rejected + r.expired) >= $2 \
            AND (SUM(r.rejected) + SUM(r.corrected)) * 100 >= $3 * SUM(r.approved + r.rejected + r.expired) \
         ORDER BY a.name, r.capability LIMIT 50",
    )
    .bind(today - READINESS_DAYS + 1)
    .bind(BRITTLE_MIN_DECISIONS)
    .bind(BRITTLE_PCT)
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| {
        Ok(Brittle {
            agent_id: r.try_get("agent_id")?,
            agent_name: r.try_get("name")?,
            capability: r.try_get("capability")?,
            decided: r.try_get("decided")?,
            rejected: r.try_get("rejected")?,
            corrected: r.try_get("corrected")?,
        })
    })
    .collect::<Result<Vec<_>, AppError>>()?;
    Ok(Suggestions {
        ready,
        relax,
        brittle,
    })
}

/// Notices no lead has cleared yet, newest first.
pub async fn notices(db: &Db) -> Result<Vec<Notice>, AppError> {
    sqlx::query(
        "SELECT n.id, n.at, n.kind, n.agent_id, a.name, n.message FROM notices n \
         JOIN agents a ON a.id = n.agent_id WHERE n.cleared_at IS NULL ORDER BY n.at DESC LIMIT 100",
    )
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| {
        Ok(Notice {
            id: r.try_get("id")?,
            at: crate::clock::display(r.try_get("at")?),
            kind: r.try_get("kind")?,
            agent_id: r.try_get("agent_id")?,
            agent_name: r.try_get("name")?,
            message: r.try_get("message")?,
        })
    })
    .collect()
}

pub async fn clear(db: &Db, user_id: &str, id: &str) -> Result<(), AppError> {
    known_id(id, "notice")?;
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE notices SET cleared_by = $1, cleared_at = $2 WHERE id = $3 AND cleared_at IS NULL",
    )
    .bind(user_id)
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::Conflict("this notice was already cleared".into()));
    }
    crate::audit::record(
        &mut tx,
        crate::audit::Event {
            actor: &crate::audit::Actor::User(user_id.to_string()),
            what: "notice.cleared",
            subject_kind: "notice",
            subject_id: id,
            detail: serde_json::json!({ "after": { "cleared": true } }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
