//! Deciding a change request: another lead approves or rejects; the
//! proposer withdraws. An approval that completes the count applies the
//! exact change in the same transaction, or, if the thing changed since
//! it was proposed, marks the request stale and answers 409.

use super::apply::apply;
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::change::store::{self, barred, Stored};
use crate::change::Kind;
use crate::db::known_id;
use crate::error::AppError;
use crate::state::AppState;

pub enum Ballot {
    Approve {
        reason: String,
        override_reason: Option<String>,
    },
    Reject {
        reason: String,
    },
}

/// The audit name of `verb` for this kind: promotions keep their own.
fn what(kind: Kind, verb: &str) -> String {
    match kind {
        Kind::Promotion => format!("promotion.{verb}"),
        _ => format!("change.{verb}"),
    }
}

#[tracing::instrument(skip(state, user, ballot), fields(user = %user.username))]
pub async fn vote(
    state: &AppState,
    user: &UserView,
    id: &str,
    ballot: Ballot,
) -> Result<(), AppError> {
    known_id(id, "change request")?;
    let (approve, reason, override_reason) = match ballot {
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
    let mut tx = state.db.begin().await?;
    // The policy lock first: an approval changes what decisions read, and
    // this serializes votes with each other and with the edits they apply.
    crate::policy::store::bump_epoch(&mut tx).await?;
    let c = store::read(&mut tx, id).await?;
    if c.state != "open" {
        return Err(AppError::Conflict(format!(
            "this change is already {}",
            c.state
        )));
    }
    let one_person = store::one_person(&mut tx).await?;
    let sponsor = match &c.agent_id {
        Some(agent) => Some(store::sponsor_of(&mut tx, agent).await?),
        None => None,
    };
    if let Some(why) = barred(&c, sponsor.as_deref(), user, false) {
        // The sponsor may still say no; the proposer withdraws instead. With
        // one-person changes allowed, both may approve, and the audit says so.
        if !one_person && (approve || c.opened_by == user.id) {
            return Err(AppError::Forbidden(why.into()));
        }
    }
    let alone = one_person && barred(&c, sponsor.as_deref(), user, false).is_some();
    if approve && c.kind == Kind::Promotion && override_reason.is_none() {
        if let Some(why) = crate::trust::promotion::needs_override(&c)? {
            return Err(AppError::validation(why));
        }
    }
    let not_counted = if one_person {
        ["", ""]
    } else {
        [c.opened_by.as_str(), sponsor.as_deref().unwrap_or("")]
    };
    let approvals = store::record_vote(
        &mut tx,
        id,
        user,
        approve,
        &reason,
        override_reason.as_deref(),
        not_counted,
    )
    .await?;
    let closing = if !approve {
        Some("rejected")
    } else if approvals >= c.needed {
        Some("approved")
    } else {
        None
    };
    if let Some(to) = closing {
        store::close(&mut tx, id, to, user).await?;
    }
    if closing == Some("approved") {
        if let Err(e) = apply(&mut tx, &c, user).await {
            drop(tx);
            // It can never apply as reviewed (the thing moved, or no longer
            // passes the feature's checks): it leaves the open list.
            if matches!(e, AppError::Conflict(_) | AppError::Validation(_)) {
                mark_stale(state, &c, user, &e).await?;
            }
            return Err(e);
        }
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(user.id.clone()),
            what: &what(c.kind, if approve { "approved" } else { "rejected" }),
            subject_kind: "change_request",
            subject_id: id,
            detail: serde_json::json!({
                "kind": c.kind, "reason": reason, "override": override_reason,
                "approvals": approvals, "approvals_needed": c.needed, "one_person": alone,
                "after": { "state": closing.unwrap_or("open") },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The thing changed since the request was proposed: it can never apply,
/// so it leaves the open list, with the reason audited.
async fn mark_stale(
    state: &AppState,
    c: &Stored,
    user: &UserView,
    why: &AppError,
) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    let done = sqlx::query(
        "UPDATE change_requests SET state = 'stale', closed_at = $1 WHERE id = $2 AND state = 'open'",
    )
    .bind(crate::db::now_ms())
    .bind(&c.id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 1 {
        audit::record(
            &mut tx,
            audit::Event {
                actor: &Actor::User(user.id.clone()),
                what: &what(c.kind, "stale"),
                subject_kind: "change_request",
                subject_id: &c.id,
                detail: serde_json::json!({ "why": why.to_string(), "after": { "state": "stale" } }),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The proposer takes an open change request back.
pub async fn withdraw(state: &AppState, user: &UserView, id: &str) -> Result<(), AppError> {
    known_id(id, "change request")?;
    let mut tx = state.db.begin().await?;
    let c = store::read(&mut tx, id).await?;
    store::close(&mut tx, id, "withdrawn", user).await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(user.id.clone()),
            what: &what(c.kind, "withdrawn"),
            subject_kind: "change_request",
            subject_id: id,
            detail: serde_json::json!({ "after": { "state": "withdrawn" } }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
