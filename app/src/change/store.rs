//! Change requests in the database: opened inside the proposer's
//! transaction (after the lock their feature takes), read and closed inside
//! the decider's. Every write is audited, the audit last.

use super::model::{Kind, Proposed, Vote};
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::{new_id, now_ms, Tx};
use crate::error::{stored, AppError};
use serde_json::Value;
use sqlx::{AnyConnection, Row};

/// A change to propose: `before` is the exact state it is proposed
/// against (`None`: the thing does not exist yet), `after` what approval
/// makes of it, `rises` how it raises trust (empty: it does not), and
/// `reason` the proposer's words, as typed.
pub struct Open<'a> {
    pub kind: Kind,
    pub agent_id: Option<&'a str>,
    pub subject: &'a str,
    pub before: Option<Value>,
    pub after: Value,
    pub rises: Vec<String>,
    pub reason: &'a str,
    pub detail: Option<Value>,
    pub needed: i64,
}

/// A change request as stored, read in the deciding transaction.
pub struct Stored {
    pub id: String,
    pub kind: Kind,
    pub agent_id: Option<String>,
    pub subject: String,
    pub before: Option<Value>,
    pub after: Value,
    pub rises: Vec<String>,
    /// The proposer's reason.
    pub reason: String,
    pub detail: Option<Value>,
    pub needed: i64,
    pub state: String,
    pub opened_by: String,
    pub closed_at: Option<i64>,
}

impl Stored {
    /// The 409 for a thing that changed since the request was opened.
    pub fn moved(&self, what: &str) -> AppError {
        AppError::Conflict(format!(
            "{what} changed since this change was proposed; it was not applied: propose it again"
        ))
    }

    /// Whether the thing now is exactly what the change was proposed against.
    pub fn still(&self, now: Option<&Value>, what: &str) -> Result<(), AppError> {
        if now == self.before.as_ref() {
            Ok(())
        } else {
            Err(self.moved(what))
        }
    }
}

/// The proposer's reason, required: the second lead decides on it.
pub fn reason(raw: &str) -> Result<String, AppError> {
    if raw.trim().is_empty() {
        return Err(AppError::validation(
            "this change raises trust, so another lead approves it before it takes effect: give the reason they will read",
        ));
    }
    crate::text::field("the reason", raw, 4000)
}

/// Whether an admin allows one person to raise trust alone (a single-lead
/// installation); every page says so while it does.
pub async fn one_person(conn: &mut AnyConnection) -> Result<bool, AppError> {
    let r = sqlx::query("SELECT one_person_changes FROM trust_settings WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    Ok(r.try_get::<i64, _>("one_person_changes")? != 0)
}

/// What a save does with a change: apply it now (with what its audit event
/// records), or wait for another lead (the request is opened).
pub enum Gate {
    Apply(Value),
    Proposed(Proposed),
}

/// The two-person rule at every front door that can raise trust: a change
/// without rises applies; with rises it applies only while one-person
/// changes are allowed (and says so), and otherwise becomes a change
/// request in the caller's transaction, which needs a reason.
pub async fn gate(tx: &mut Tx<'_>, by: &UserView, o: Open<'_>) -> Result<Gate, AppError> {
    if o.rises.is_empty() {
        return Ok(Gate::Apply(
            serde_json::json!({ "one_person": false, "rises": [] }),
        ));
    }
    if one_person(tx).await? {
        return Ok(Gate::Apply(
            serde_json::json!({ "one_person": true, "rises": o.rises }),
        ));
    }
    let reason = reason(o.reason)?;
    Ok(Gate::Proposed(
        open(
            tx,
            by,
            Open {
                reason: &reason,
                ..o
            },
        )
        .await?,
    ))
}

/// Opens a change request in the caller's transaction and audits it.
pub async fn open(tx: &mut Tx<'_>, by: &UserView, o: Open<'_>) -> Result<Proposed, AppError> {
    let id = new_id();
    let json = crate::canonical::json;
    let inserted = sqlx::query(
        "INSERT INTO change_requests (id, kind, agent_id, subject, before_value, after_value, rises, reason, \
           detail, approvals_needed, state, opened_by, opened_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $12)",
    )
    .bind(&id)
    .bind(o.kind.as_str())
    .bind(o.agent_id)
    .bind(o.subject)
    .bind(o.before.as_ref().map(json))
    .bind(json(&o.after))
    .bind(json(&Value::from(o.rises.clone())))
    .bind(o.reason)
    .bind(o.detail.as_ref().map(json))
    .bind(o.needed)
    .bind(&by.id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await;
    crate::db::first_of_its_kind(inserted, || {
        AppError::Conflict(
            "this agent already has an open promotion review: decide or withdraw it first".into(),
        )
    })?;
    audit::record(
        tx,
        audit::Event {
            actor: &Actor::User(by.id.clone()),
            what: if o.kind == Kind::Promotion {
                "promotion.opened"
            } else {
                "change.proposed"
            },
            subject_kind: "change_request",
            subject_id: &id,
            detail: serde_json::json!({
                "kind": o.kind, "agent_id": o.agent_id, "subject": o.subject, "rises": o.rises,
                "reason": o.reason, "before": o.before, "after": o.after,
            }),
        },
    )
    .await?;
    tracing::info!(change_id = %id, kind = %o.kind, "change request opened");
    Ok(Proposed {
        change_id: id,
        rises: o.rises,
    })
}

fn parse_json(raw: Option<String>) -> Result<Option<Value>, AppError> {
    raw.map(|s| stored(serde_json::from_str(&s))).transpose()
}

pub async fn read(conn: &mut AnyConnection, id: &str) -> Result<Stored, AppError> {
    let r = sqlx::query(
        "SELECT id, kind, agent_id, subject, before_value, after_value, rises, reason, detail, \
                approvals_needed, state, opened_by, closed_at FROM change_requests WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::NotFound("no such change request".into()))?;
    Ok(Stored {
        id: r.try_get("id")?,
        kind: stored(Kind::parse(&r.try_get::<String, _>("kind")?))?,
        agent_id: r.try_get("agent_id")?,
        subject: r.try_get("subject")?,
        before: parse_json(r.try_get("before_value")?)?,
        after: stored(serde_json::from_str(
            &r.try_get::<String, _>("after_value")?,
        ))?,
        rises: stored(serde_json::from_str(&r.try_get::<String, _>("rises")?))?,
        reason: r.try_get("reason")?,
        detail: parse_json(r.try_get("detail")?)?,
        needed: r.try_get("approvals_needed")?,
        state: r.try_get("state")?,
        opened_by: r.try_get("opened_by")?,
        closed_at: r.try_get("closed_at")?,
    })
}

pub async fn votes(conn: &mut AnyConnection, id: &str) -> Result<Vec<Vote>, AppError> {
    sqlx::query(
        "SELECT u.username, v.verdict, v.reason, v.override_reason, v.at FROM change_votes v \
         JOIN users u ON u.id = v.user_id WHERE v.change_id = $1 ORDER BY v.at",
    )
    .bind(id)
    .fetch_all(&mut *conn)
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
    .collect()
}

/// Records one lead's vote; answers the approvals so far that count: only
/// from people still active and still leads or admins, and not those of
/// `not_counted` (the proposer and the sponsor, unless one-person
/// changes are allowed now), so a vote cast while they were allowed stops
/// counting once they are not. A second vote by the same person is refused
/// by the key, however the two race.
pub async fn record_vote(
    tx: &mut Tx<'_>,
    id: &str,
    user: &UserView,
    approve: bool,
    reason: &str,
    override_reason: Option<&str>,
    not_counted: [&str; 2],
) -> Result<i64, AppError> {
    let inserted = sqlx::query(
        "INSERT INTO change_votes (change_id, user_id, verdict, reason, override_reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(&user.id)
    .bind(if approve { "approve" } else { "reject" })
    .bind(reason)
    .bind(override_reason)
    .bind(now_ms())
    .execute(&mut **tx)
    .await;
    crate::db::first_of_its_kind(inserted, || {
        AppError::Conflict("you have already decided this change".into())
    })?;
    Ok(sqlx::query(
        "SELECT COUNT(*) AS n FROM change_votes v JOIN users u ON u.id = v.user_id \
         WHERE v.change_id = $1 AND v.verdict = 'approve' AND v.user_id <> $2 AND v.user_id <> $3 \
         AND u.active = 1 AND u.role IN ('admin', 'lead')",
    )
    .bind(id)
    .bind(not_counted[0])
    .bind(not_counted[1])
    .fetch_one(&mut **tx)
    .await?
    .try_get("n")?)
}

/// Moves an open change request to `to`; 409 if it was closed meanwhile.
/// Only the proposer may withdraw.
pub async fn close(tx: &mut Tx<'_>, id: &str, to: &str, by: &UserView) -> Result<(), AppError> {
    let done = sqlx::query(
        "UPDATE change_requests SET state = $1, closed_at = $2 \
         WHERE id = $3 AND state = 'open' AND ($1 <> 'withdrawn' OR opened_by = $4)",
    )
    .bind(to)
    .bind(now_ms())
    .bind(id)
    .bind(&by.id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::Conflict(if to == "withdrawn" {
            "only the lead who proposed a change withdraws it, while it is open".into()
        } else {
            "this change was decided meanwhile".into()
        }));
    }
    Ok(())
}

/// The agent's sponsor, for the bar on approving one's own agent's rise.
pub async fn sponsor_of(conn: &mut AnyConnection, agent_id: &str) -> Result<String, AppError> {
    Ok(sqlx::query("SELECT sponsor_id FROM agents WHERE id = $1")
        .bind(agent_id)
        .fetch_one(&mut *conn)
        .await?
        .try_get("sponsor_id")?)
}

/// Why this person may not approve, if they may not (they may still reject
/// unless they proposed it). With one-person changes allowed, nobody is
/// barred: that is what the setting means, and each such approval says so.
pub fn barred(
    c: &Stored,
    sponsor_id: Option<&str>,
    user: &UserView,
    one_person: bool,
) -> Option<&'static str> {
    if one_person {
        None
    } else if c.opened_by == user.id {
        Some("you proposed this change; another lead decides it")
    } else if sponsor_id == Some(user.id.as_str()) {
        Some("you sponsor this agent, so you cannot approve a rise in its trust")
    } else {
        None
    }
}
