//! Promotion reviews as the pages list and show them: change requests of
//! kind `promotion`, read with their spec and frozen snapshot.

use super::{Frozen, Spec};
use crate::auth::UserView;
use crate::change::store;
use crate::db::known_id;
use crate::error::{stored, AppError};
use crate::state::AppState;
use crate::trust::views::{ReviewDetail, ReviewRow};
use sqlx::Row;

const ROW_SQL: &str = "SELECT c.id, c.agent_id, a.name AS agent_name, c.after_value, c.detail, c.state, \
       u.username AS opened_by, c.opened_at, c.approvals_needed, \
       (SELECT COUNT(*) FROM change_votes v WHERE v.change_id = c.id AND v.verdict = 'approve') AS approvals \
     FROM change_requests c JOIN agents a ON a.id = c.agent_id JOIN users u ON u.id = c.opened_by \
     WHERE c.kind = 'promotion'";

fn review_row(r: &sqlx::any::AnyRow) -> Result<(ReviewRow, Spec, Frozen), AppError> {
    let spec: Spec = stored(serde_json::from_str(
        &r.try_get::<String, _>("after_value")?,
    ))?;
    let frozen: Frozen = stored(serde_json::from_str(
        &r.try_get::<Option<String>, _>("detail")?
            .unwrap_or_default(),
    ))?;
    let row = ReviewRow {
        id: r.try_get("id")?,
        agent_id: r.try_get("agent_id")?,
        agent_name: r.try_get("agent_name")?,
        capabilities: spec.capabilities.clone(),
        from: spec.from,
        to: spec.to,
        reinstate: spec.reinstate,
        state: r.try_get("state")?,
        criteria_met: frozen.criteria_met,
        opened_by: r.try_get("opened_by")?,
        opened_at: crate::clock::display(r.try_get("opened_at")?),
        approvals: r.try_get("approvals")?,
        approvals_needed: r.try_get("approvals_needed")?,
    };
    Ok((row, spec, frozen))
}

/// Open reviews first, then the latest closed ones; or one agent's.
pub async fn list(state: &AppState, agent_id: Option<&str>) -> Result<Vec<ReviewRow>, AppError> {
    let sql = format!(
        "{ROW_SQL} AND ($1 IS NULL OR c.agent_id = $1) \
         ORDER BY CASE WHEN c.state = 'open' THEN 0 ELSE 1 END, c.opened_at DESC LIMIT 100"
    );
    let rows = sqlx::query(&sql)
        .bind(agent_id)
        .fetch_all(&state.db)
        .await?;
    rows.iter()
        .map(|r| review_row(r).map(|(row, ..)| row))
        .collect()
}

pub async fn get(state: &AppState, viewer: &UserView, id: &str) -> Result<ReviewDetail, AppError> {
    known_id(id, "promotion review")?;
    let r = sqlx::query(&format!("{ROW_SQL} AND c.id = $1"))
        .bind(id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("no such promotion review".into()))?;
    let (row, spec, frozen) = review_row(&r)?;
    let more = sqlx::query(
        "SELECT c.reason, c.closed_at, c.opened_by, a.sponsor_id, s.username AS sponsor \
         FROM change_requests c JOIN agents a ON a.id = c.agent_id JOIN users s ON s.id = a.sponsor_id \
         WHERE c.id = $1",
    )
    .bind(id)
    .fetch_one(&state.db)
    .await?;
    let mut conn = state.db.acquire().await?;
    let votes = store::votes(&mut conn, id).await?;
    let one_person = store::one_person(&mut conn).await?;
    let opened_by: String = more.try_get("opened_by")?;
    let sponsor_id: String = more.try_get("sponsor_id")?;
    let cannot_vote = if row.state != "open" {
        Some(format!("this review is {}", row.state))
    } else if !viewer.role.can_manage_agents() {
        Some("only leads and admins decide promotion reviews".to_string())
    } else if opened_by == viewer.id && !one_person {
        Some("you opened this review; other leads decide it".to_string())
    } else if votes.iter().any(|v| v.by == viewer.username) {
        Some("you have already decided this review".to_string())
    } else {
        None
    };
    let cannot_approve = (sponsor_id == viewer.id && !one_person).then(|| {
        "you sponsor this agent: you may reject its promotion but not approve it".to_string()
    });
    let closed: Option<i64> = more.try_get("closed_at")?;
    Ok(ReviewDetail {
        can_withdraw: row.state == "open" && opened_by == viewer.id,
        row,
        sponsor: more.try_get("sponsor")?,
        max_per_hour: spec.max_per_hour,
        case_text: more.try_get("reason")?,
        skips_stages: frozen.skips_stages,
        snapshot: stored(serde_json::from_value(frozen.snapshot))?,
        votes,
        closed_at: closed.map(crate::clock::display),
        cannot_vote,
        cannot_approve,
    })
}
