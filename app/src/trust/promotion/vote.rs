//! Other leads approve or reject; the opener withdraws.

use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::{known_id, now_ms};
use crate::error::AppError;
use crate::state::AppState;
use sqlx::Row;

use super::agent::agent_now;
use super::apply::{apply, read, Stored};
pub enum Ballot {
    Approve {
        reason: String,
        override_reason: Option<String>,
    },
    Reject {
        reason: String,
    },
}

/// Why this person may not approve, if they may not.
fn barred(review: &Stored, sponsor_id: &str, user: &UserView) -> Option<&'static str> {
    if review.opened_by == user.id {
        Some("you opened this review; other leads decide it")
    } else if sponsor_id == user.id {
        Some("you sponsor this agent, so you cannot approve its promotion")
    } else {
        None
    }
}

#[tracing::instrument(skip(state, user, verdict), fields(user = %user.username))]
pub async fn vote(
    state: &AppState,
    user: &UserView,
    id: &str,
    verdict: Ballot,
) -> Result<(), AppError> {
    known_id(id, "promotion review")?;
    let (approve, reason, override_reason) = match verdict {
        Ballot::Approve {
            reason,
            override_reason,
        } => (true, reason, override_reason),
        Ballot::Reject { reason } => (false, reason, None),
    };
    let reason = crate::text::field("the reason", &reason, 4000)?;
    let override_reason = override_reason
        .filter(|r| !r.trim().is_empty())
        .map(|r| crate::text::field("the override reason", &r, 4000))
        .transpose()?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // An approval may change the agent's trust: the policy lock first, which
    // also serializes concurrent votes on the review.
    crate::policy::store::bump_epoch(&mut tx).await?;
    let review = read(&mut tx, id).await?;
    if review.state != "open" {
        return Err(AppError::Conflict(format!(
            "this review is already {}",
            review.state
        )));
    }
    let agent = agent_now(&mut tx, &review.agent_id).await?;
    if let Some(why) = barred(&review, &agent.sponsor_id, user) {
        // The sponsor may still say no; the opener withdraws instead.
        if approve || review.opened_by == user.id {
            return Err(AppError::Forbidden(why.into()));
        }
    }
    let voted =
        sqlx::query("SELECT 1 AS one FROM promotion_votes WHERE review_id = $1 AND user_id = $2")
            .bind(id)
            .bind(&user.id)
            .fetch_optional(&mut *tx)
            .await?;
    if voted.is_some() {
        return Err(AppError::Conflict(
            "you have already decided this review".into(),
        ));
    }
    if approve && (!review.criteria_met || review.skips) && override_reason.is_none() {
        return Err(AppError::validation(if review.skips {
            "this review skips a stage: approving it needs an override with a reason"
        } else {
            "the readiness criteria are not met: approving needs an override with a reason"
        }));
    }
    sqlx::query(
        "INSERT INTO promotion_votes (review_id, user_id, verdict, reason, override_reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(&user.id)
    .bind(if approve { "approve" } else { "reject" })
    .bind(&reason)
    .bind(&override_reason)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let approvals: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM promotion_votes WHERE review_id = $1 AND verdict = 'approve'",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?
    .try_get("n")?;
    let actor = Actor::User(user.id.clone());
    let closing = if !approve {
        Some("rejected")
    } else if approvals >= review.needed {
        Some("approved")
    } else {
        None
    };
    // The review row first, then the change and its audit: every audit
    // write comes last in its transaction (the chain's head is the last
    // lock taken, so no two transactions wait on each other for it).
    if let Some(to) = closing {
        let done = sqlx::query(
            "UPDATE promotion_reviews SET state = $1, closed_at = $2 WHERE id = $3 AND state = 'open'",
        )
        .bind(to)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(AppError::Conflict(
                "this review was decided meanwhile".into(),
            ));
        }
    }
    if closing == Some("approved") {
        apply(&mut tx, &review, &agent, id, user, now).await?;
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &actor,
            what: if approve {
                "promotion.approved"
            } else {
                "promotion.rejected"
            },
            subject_kind: "promotion_review",
            subject_id: id,
            detail: serde_json::json!({
                "reason": reason, "override": override_reason,
                "approvals": approvals, "approvals_needed": review.needed,
                "after": { "state": closing.unwrap_or("open") },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The opener takes an open review back.
pub async fn withdraw(state: &AppState, user: &UserView, id: &str) -> Result<(), AppError> {
    known_id(id, "promotion review")?;
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE promotion_reviews SET state = 'withdrawn', closed_at = $1 \
         WHERE id = $2 AND state = 'open' AND opened_by = $3",
    )
    .bind(now_ms())
    .bind(id)
    .bind(&user.id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::Conflict(
            "only the lead who opened a review withdraws it, while it is open".into(),
        ));
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(user.id.clone()),
            what: "promotion.withdrawn",
            subject_kind: "promotion_review",
            subject_id: id,
            detail: serde_json::json!({ "after": { "state": "withdrawn" } }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
