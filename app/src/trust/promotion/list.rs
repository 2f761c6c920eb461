//! Reviews as the pages list and show them.

use crate::auth::UserView;
use crate::db::known_id;
use crate::error::{stored, AppError};
use crate::policy::Stage;
use crate::state::AppState;
use crate::trust::views::{ReviewDetail, ReviewRow, Vote};
use sqlx::Row;

const ROW_SQL: &str = "SELECT p.id, p.agent_id, a.name AS agent_name, p.capabilities, p.from_stage, p.to_stage, \
       p.reinstate, p.state, p.criteria_met, u.username AS opened_by, p.opened_at, p.approvals_needed, \
       (SELECT COUNT(*) FROM promotion_votes v WHERE v.review_id = p.id AND v.verdict = 'approve') AS approvals \
     FROM promotion_reviews p JOIN agents a ON a.id = p.agent_id JOIN users u ON u.id = p.opened_by";

fn review_row(r: &sqlx::any::AnyRow) -> Result<ReviewRow, AppError> {
    Ok(ReviewRow {
        id: r.try_get("id")?,
        agent_id: r.try_get("agent_id")?,
        agent_name: r.try_get("agent_name")?,
        capabilities: stored(serde_json::from_str(
            &r.try_get::<String, _>("capabilities")?,
        ))?,
        from: stored(Stage::parse(&r.try_get::<String, _>("from_stage")?))?,
        to: stored(Stage::parse(&r.try_get::<String, _>("to_stage")?))?,
        reinstate: r.try_get::<i64, _>("reinstate")? != 0,
        state: r.try_get("state")?,
        criteria_met: r.try_get::<i64, _>("criteria_met")? != 0,
        opened_by: r.try_get("opened_by")?,
        opened_at: crate::clock::display(r.try_get("opened_at")?),
        approvals: r.try_get("approvals")?,
        approvals_needed: r.try_get("approvals_needed")?,
    })
}

/// Open reviews first, then the latest closed ones; or one agent's.
pub async fn list(state: &AppState, agent_id: Option<&str>) -> Result<Vec<ReviewRow>, AppError> {
    let sql = format!(
        "{ROW_SQL} WHERE ($1 IS NULL OR p.agent_id = $1) \
         ORDER BY CASE WHEN p.state = 'open' THEN 0 ELSE 1 END, p.opened_at DESC LIMIT 100"
    );
    let rows = sqlx::query(&sql)
        .bind(agent_id)
        .fetch_all(&state.db)
        .await?;
    rows.iter().map(review_row).collect()
}

pub async fn get(state: &AppState, viewer: &UserView, id: &str) -> Result<ReviewDetail, AppError> {
    known_id(id, "promotion review")?;
    let r = sqlx::query(&format!("{ROW_SQL} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("no such promotion review".into()))?;
    let row = review_row(&r)?;
    let more = sqlx::query(
        "SELECT p.max_per_hour, p.case_text, p.skips_stages, p.snapshot, p.closed_at, p.opened_by, \
                a.sponsor_id, s.username AS sponsor \
         FROM promotion_reviews p JOIN agents a ON a.id = p.agent_id JOIN users s ON s.id = a.sponsor_id \
         WHERE p.id = $1",
    )
    .bind(id)
    .fetch_one(&state.db)
    .await?;
    let votes = sqlx::query(
        "SELECT u.username, v.verdict, v.reason, v.override_reason, v.at FROM promotion_votes v \
         JOIN users u ON u.id = v.user_id WHERE v.review_id = $1 ORDER BY v.at",
    )
    .bind(id)
    .fetch_all(&state.db)
    .await?
    .iter()
    .map(|v| {
        Ok(Vote {
            by: v.try_get("username")?,
            verdict: v.try_get("verdict")?,
            reason: v.try_get("reason")?,
            override_reason: v.try_get("override_reason")?,
            at: crate::clock::display(v.try_get("at")?),
        })
    })
    .collect::<Result<Vec<_>, AppError>>()?;
    let opened_by: String = more.try_get("opened_by")?;
    let sponsor_id: String = more.try_get("sponsor_id")?;
    let cannot_vote = if row.state != "open" {
        Some(format!("this review is {}", row.state))
    } else if !viewer.role.can_manage_agents() {
        Some("only leads and admins decide promotion reviews".to_string())
    } else if opened_by == viewer.id {
        Some("you opened this review; other leads decide it".to_string())
    } else if votes.iter().any(|v| v.by == viewer.username) {
        Some("you have already decided this review".to_string())
    } else {
        None
    };
    let cannot_approve = (sponsor_id == viewer.id).then(|| {
        "you sponsor this agent: you may reject its promotion but not approve it".to_string()
    });
    let closed: Option<i64> = more.try_get("closed_at")?;
    Ok(ReviewDetail {
        can_withdraw: row.state == "open" && opened_by == viewer.id,
        row,
        sponsor: more.try_get("sponsor")?,
        max_per_hour: more.try_get("max_per_hour")?,
        case_text: more.try_get("case_text")?,
        skips_stages: more.try_get::<i64, _>("skips_stages")? != 0,
        snapshot: stored(serde_json::from_str(
            &more.try_get::<String, _>("snapshot")?,
        ))?,
        votes,
        closed_at: closed.map(crate::clock::display),
        cannot_vote,
        cannot_approve,
    })
}
