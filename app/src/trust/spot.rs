//! Spot checks keep the sensor alive once an agent runs on its own: a
//! share of auto-allowed actions is sampled for a person to look at after
//! the fact, and a problem counts as an incident.

use super::rollup::{self, Counts};
use super::views::SpotCheck;
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::{known_id, now_ms, Db, Tx};
use crate::error::AppError;
use crate::state::AppState;
use sqlx::Row;

/// Whether a new request is sampled: its id's random tail decides, so the
/// share holds without a random source of our own.
pub fn sampled(id: &str, pct: i64) -> bool {
    let tail = id.get(id.len().saturating_sub(4)..).unwrap_or("");
    let n = u16::from_str_radix(tail, 16).unwrap_or(0);
    i64::from(n % 100) < pct
}

/// Marks the request an incident; true only for the change that did it, so
/// an incident reported by the agent and flagged on a spot check counts once.
pub async fn flag_incident(tx: &mut Tx<'_>, id: &str) -> Result<bool, AppError> {
    let done =
        sqlx::query("UPDATE action_requests SET incident = 1 WHERE id = $1 AND incident = 0")
            .bind(id)
            .execute(&mut **tx)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// How many spot checks wait (counted from their partial index).
pub async fn waiting(db: &Db) -> Result<i64, AppError> {
    Ok(
        sqlx::query("SELECT COUNT(*) AS n FROM action_requests WHERE spot_check = 'pending'")
            .fetch_one(db)
            .await?
            .try_get("n")?,
    )
}

/// Waiting spot checks, oldest first.
pub async fn pending(db: &Db) -> Result<Vec<SpotCheck>, AppError> {
    let rows = sqlx::query(
        "SELECT r.id, a.name, r.capability, r.target, r.summary, r.state, r.created_at \
         FROM action_requests r JOIN agents a ON a.id = r.agent_id \
         WHERE r.spot_check = 'pending' ORDER BY r.created_at LIMIT 200",
    )
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SpotCheck {
                id: r.try_get("id")?,
                agent_name: r.try_get("name")?,
                capability: r.try_get("capability")?,
                target: r.try_get("target")?,
                summary: r.try_get("summary")?,
                state: r.try_get("state")?,
                created_at: crate::clock::display(r.try_get("created_at")?),
            })
        })
        .collect()
}

/// A reviewer's verdict on a sampled action. A problem is an incident: it
/// counts in the metrics and drops that capability to act_with_approval.
#[tracing::instrument(skip(state, reviewer, note), fields(reviewer = %reviewer.username))]
pub async fn mark(
    state: &AppState,
    reviewer: &UserView,
    id: &str,
    problem: bool,
    note: &str,
) -> Result<(), AppError> {
    known_id(id, "action request")?;
    let note = if problem {
        Some(crate::text::field("what the problem was", note, 2000)?)
    } else {
        Some(note.trim().to_string()).filter(|n| !n.is_empty())
    };
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    if problem {
        crate::policy::store::bump_epoch(&mut tx).await?;
    }
    let row = sqlx::query(
        "SELECT r.agent_id, r.capability, r.created_at, a.sponsor_id FROM action_requests r \
         JOIN agents a ON a.id = r.agent_id WHERE r.id = $1 AND r.spot_check = 'pending'",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        AppError::Conflict("this spot check is already done, or was never asked for".into())
    })?;
    let agent_id: String = row.try_get("agent_id")?;
    let capability: String = row.try_get("capability")?;
    if !problem && row.try_get::<String, _>("sponsor_id")? == reviewer.id {
        return Err(AppError::Forbidden(
            "you sponsor this agent: you may flag a problem but not clear its spot checks".into(),
        ));
    }
    let done = sqlx::query(
        "UPDATE action_requests SET spot_check = $1, spot_checked_by = $2, spot_checked_at = $3, \
           spot_check_note = $4 WHERE id = $5 AND spot_check = 'pending'",
    )
    .bind(if problem { "problem" } else { "fine" })
    .bind(&reviewer.id)
    .bind(now)
    .bind(&note)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::Conflict(
            "this spot check was done meanwhile".into(),
        ));
    }
    if problem {
        if flag_incident(&mut tx, id).await? {
            let counts = Counts {
                incidents: 1,
                ..Counts::default()
            };
            rollup::add(
                &mut tx,
                &agent_id,
                &capability,
                row.try_get("created_at")?,
                &counts,
            )
            .await?;
        }
        let why = format!(
            "{} flagged a spot check of request {id} as a problem ({})",
            reviewer.username,
            note.as_deref().unwrap_or_default()
        );
        let lowered =
            super::lower::lower_capability(&mut tx, &agent_id, &capability, "incident", &why)
                .await?;
        if !lowered {
            super::history::notify(
                &mut tx,
                "spot_check_problem",
                &agent_id,
                Some(&capability),
                &why,
                now,
            )
            .await?;
        }
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(reviewer.id.clone()),
            what: "action.spot_checked",
            subject_kind: "action",
            subject_id: id,
            detail: serde_json::json!({
                "before": { "spot_check": "pending" },
                "after": { "spot_check": if problem { "problem" } else { "fine" }, "note": note },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sampled;

    #[test]
    fn the_share_is_sampled_from_the_id() {
        assert!(!sampled("0190-0000", 0));
        assert!(sampled("0190-ffff", 100));
        // 0x0005 % 100 = 5: sampled below 6 %, not at 5 %.
        assert!(sampled("0190-0005", 6));
        assert!(!sampled("0190-0005", 5));
    }
}
