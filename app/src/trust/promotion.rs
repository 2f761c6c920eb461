//! Promotion reviews: trust is raised only by other leads, one stage at a
//! time, against readiness criteria frozen when the review opens. The lead
//! who opened a review and the agent's sponsor never approve it; approving
//! against unmet criteria (or across stages) needs a written override.

use super::history::{self, Change};
use super::model::{evaluate, ReviewDetail, ReviewRow, Snapshot, Vote, READINESS_DAYS, WINDOWS};
use super::{metrics, rollup, settings, whatif};
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::{known_id, new_id, now_ms, Tx};
use crate::error::{stored, AppError};
use crate::policy::Stage;
use crate::state::AppState;
use sqlx::{AnyConnection, Row};

/// A lead's request to raise trust.
pub struct Proposal {
    pub agent_id: String,
    pub to: Stage,
    /// Empty: the agent's own stage; otherwise these capabilities' grants.
    pub capabilities: Vec<String>,
    /// A new hourly limit for the promoted grants.
    pub max_per_hour: Option<i64>,
    pub case_text: String,
}

/// The agent's trust as it stands.
pub struct AgentNow {
    pub stage: Stage,
    pub suspended: bool,
    sponsor_id: String,
}

pub async fn agent_now(conn: &mut AnyConnection, agent_id: &str) -> Result<AgentNow, AppError> {
    let r = sqlx::query("SELECT stage, status, sponsor_id FROM agents WHERE id = $1")
        .bind(agent_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::NotFound("no such agent".into()))?;
    Ok(AgentNow {
        stage: stored(Stage::parse(&r.try_get::<String, _>("stage")?))?,
        suspended: r.try_get::<String, _>("status")? == "suspended",
        sponsor_id: r.try_get("sponsor_id")?,
    })
}

/// The stage each capability runs at now (its grant can only lower the
/// agent's); a capability without a grant cannot be promoted.
async fn capability_stages(
    tx: &mut Tx<'_>,
    agent_id: &str,
    agent_stage: Stage,
    capabilities: &[String],
) -> Result<Vec<Stage>, AppError> {
    let mut out = Vec::new();
    for cap in capabilities {
        let r = sqlx::query("SELECT stage FROM grants WHERE agent_id = $1 AND capability = $2")
            .bind(agent_id)
            .bind(cap)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| {
                AppError::validation(format!(
                    "the agent has no grant for {cap}: grant it on the agent's scope first"
                ))
            })?;
        let grant: Option<String> = r.try_get("stage")?;
        let stage = match grant {
            Some(s) => stored(Stage::parse(&s))?.min(agent_stage),
            None => agent_stage,
        };
        out.push(stage);
    }
    Ok(out)
}

/// Where the review starts from, and whether it is a reinstatement.
fn starting_point(
    agent: &AgentNow,
    to: Stage,
    caps: &[String],
    cap_stages: &[Stage],
) -> Result<(Stage, bool), AppError> {
    if caps.is_empty() {
        if agent.suspended {
            return Ok((agent.stage, true));
        }
        if to <= agent.stage {
            return Err(AppError::validation(format!(
                "the agent is at {}; a promotion raises the stage (to lower it, demote)",
                agent.stage
            )));
        }
        return Ok((agent.stage, false));
    }
    if agent.suspended {
        return Err(AppError::validation(
            "the agent is suspended: reinstate it with a review of the agent first",
        ));
    }
    let from = cap_stages[0];
    if cap_stages.iter().any(|s| *s != from) {
        return Err(AppError::validation(
            "these capabilities run at different stages now: open one review per starting stage",
        ));
    }
    if to <= from {
        return Err(AppError::validation(format!(
            "these capabilities run at {from}; a promotion raises the stage"
        )));
    }
    if to > agent.stage {
        return Err(AppError::validation(format!(
            "a capability cannot run above the agent's own stage ({}); promote the agent",
            agent.stage
        )));
    }
    Ok((from, false))
}

fn already_open() -> AppError {
    AppError::Conflict(
        "this agent already has an open promotion review: decide or withdraw it first".into(),
    )
}

#[tracing::instrument(skip(state, lead, p), fields(lead = %lead.username, agent = %p.agent_id))]
pub async fn open(state: &AppState, lead: &UserView, p: Proposal) -> Result<String, AppError> {
    known_id(&p.agent_id, "agent")?;
    let case_text = crate::text::field("the case for promotion", &p.case_text, 10_000)?;
    if p.to == Stage::Observe {
        return Err(AppError::validation("nothing is promoted to observe"));
    }
    if let Some(n) = p.max_per_hour {
        if !(1..=1_000_000).contains(&n) {
            return Err(AppError::validation(
                "the hourly limit must be from 1 to 1000000",
            ));
        }
        if p.capabilities.is_empty() {
            return Err(AppError::validation(
                "an hourly limit applies to the capabilities under review: name them",
            ));
        }
    }
    let mut caps = p.capabilities.clone();
    caps.sort();
    caps.dedup();
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let agent = agent_now(&mut tx, &p.agent_id).await?;
    let cap_stages = capability_stages(&mut tx, &p.agent_id, agent.stage, &caps).await?;
    let (from, reinstate) = starting_point(&agent, p.to, &caps, &cap_stages)?;
    let open_already =
        sqlx::query("SELECT id FROM promotion_reviews WHERE agent_id = $1 AND state = 'open'")
            .bind(&p.agent_id)
            .fetch_optional(&mut *tx)
            .await?;
    if open_already.is_some() {
        return Err(already_open());
    }
    drop(tx);

    // The figures the review is judged on, frozen now.
    let criteria = settings::criteria_for(&state.db, p.to).await?;
    let today = rollup::day_of(now);
    let (rows, reviewers) = metrics::rollups(&state.db, &p.agent_id, today, 91).await?;
    let only = |c: &str| caps.is_empty() || caps.iter().any(|x| x == c);
    let figures: Vec<_> = WINDOWS
        .iter()
        .map(|d| metrics::figures(&rows, &reviewers, today, *d, &only))
        .collect();
    let mut days_at_stage = history::days_at_stage(&state.db, &p.agent_id, None, now).await?;
    for cap in &caps {
        days_at_stage = days_at_stage
            .min(history::days_at_stage(&state.db, &p.agent_id, Some(cap), now).await?);
    }
    let month = metrics::figures(&rows, &reviewers, today, READINESS_DAYS, &only);
    let checks = evaluate(&criteria, &month, days_at_stage);
    let criteria_met = checks.iter().all(|c| c.met);
    let what_if = whatif::run(state, &p.agent_id, p.to, &caps, now).await?;
    let skips = p.to.number() > from.number() + 1;
    let snapshot = Snapshot {
        taken_at: crate::clock::display(now),
        figures,
        days_at_stage,
        criteria: criteria.clone(),
        checks,
        what_if,
    };

    let id = new_id();
    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO promotion_reviews (id, agent_id, capabilities, from_stage, to_stage, reinstate, max_per_hour, \
           case_text, snapshot, criteria_met, skips_stages, approvals_needed, state, opened_by, opened_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'open', $13, $14)",
    )
    .bind(&id)
    .bind(&p.agent_id)
    .bind(serde_json::to_string(&caps).map_err(|_| AppError::Internal)?)
    .bind(from.as_str())
    .bind(p.to.as_str())
    .bind(i64::from(reinstate))
    .bind(p.max_per_hour)
    .bind(&case_text)
    .bind(serde_json::to_string(&snapshot).map_err(|_| AppError::Internal)?)
    .bind(i64::from(criteria_met))
    .bind(i64::from(skips))
    .bind(criteria.approvals_needed)
    .bind(&lead.id)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(already_open()),
        other => other?,
    };
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(lead.id.clone()),
            what: "promotion.opened",
            subject_kind: "promotion_review",
            subject_id: &id,
            detail: serde_json::json!({
                "agent_id": p.agent_id, "capabilities": caps, "from": from, "to": p.to,
                "reinstate": reinstate, "criteria_met": criteria_met, "skips_stages": skips,
                "case": case_text,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(review_id = %id, criteria_met, "promotion review opened");
    Ok(id)
}

pub enum Verdict {
    Approve {
        reason: String,
        override_reason: Option<String>,
    },
    Reject {
        reason: String,
    },
}

/// The review as stored, read in the deciding transaction.
struct Stored {
    agent_id: String,
    capabilities: Vec<String>,
    from: Stage,
    to: Stage,
    reinstate: bool,
    max_per_hour: Option<i64>,
    criteria_met: bool,
    skips: bool,
    needed: i64,
    state: String,
    opened_by: String,
}

async fn read(tx: &mut Tx<'_>, id: &str) -> Result<Stored, AppError> {
    let r = sqlx::query(
        "SELECT agent_id, capabilities, from_stage, to_stage, reinstate, max_per_hour, criteria_met, \
                skips_stages, approvals_needed, state, opened_by FROM promotion_reviews WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| AppError::NotFound("no such promotion review".into()))?;
    Ok(Stored {
        agent_id: r.try_get("agent_id")?,
        capabilities: stored(serde_json::from_str(
            &r.try_get::<String, _>("capabilities")?,
        ))?,
        from: stored(Stage::parse(&r.try_get::<String, _>("from_stage")?))?,
        to: stored(Stage::parse(&r.try_get::<String, _>("to_stage")?))?,
        reinstate: r.try_get::<i64, _>("reinstate")? != 0,
        max_per_hour: r.try_get("max_per_hour")?,
        criteria_met: r.try_get::<i64, _>("criteria_met")? != 0,
        skips: r.try_get::<i64, _>("skips_stages")? != 0,
        needed: r.try_get("approvals_needed")?,
        state: r.try_get("state")?,
        opened_by: r.try_get("opened_by")?,
    })
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
pub async fn decide(
    state: &AppState,
    user: &UserView,
    id: &str,
    verdict: Verdict,
) -> Result<(), AppError> {
    known_id(id, "promotion review")?;
    let (approve, reason, override_reason) = match verdict {
        Verdict::Approve {
            reason,
            override_reason,
        } => (true, reason, override_reason),
        Verdict::Reject { reason } => (false, reason, None),
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
        apply(&mut tx, &review, &agent, id, user, now).await?;
        Some("approved")
    } else {
        None
    };
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

/// Applies an approved review at once, if the agent is still where the
/// review found it.
async fn apply(
    tx: &mut Tx<'_>,
    review: &Stored,
    agent: &AgentNow,
    id: &str,
    user: &UserView,
    now: i64,
) -> Result<(), AppError> {
    let moved = || {
        AppError::Conflict(
            "the agent's trust changed since this review opened; open a new review".into(),
        )
    };
    let reason = format!("promotion review {id}");
    let actor = Actor::User(user.id.clone());
    let change = |capability, kind| Change {
        agent_id: &review.agent_id,
        capability,
        kind,
        from: Some(review.from),
        to: review.to,
        reason: &reason,
        actor_id: Some(&user.id),
        review_id: Some(id),
        at: now,
    };
    if review.capabilities.is_empty() {
        if agent.stage != review.from || agent.suspended != review.reinstate {
            return Err(moved());
        }
        sqlx::query("UPDATE agents SET stage = $1, status = 'active' WHERE id = $2")
            .bind(review.to.as_str())
            .bind(&review.agent_id)
            .execute(&mut **tx)
            .await?;
        let kind = if review.reinstate {
            "reinstated"
        } else {
            "promoted"
        };
        history::record(tx, change(None, kind)).await?;
        audit::record(
            tx,
            audit::Event {
                actor: &actor,
                what: if review.reinstate { "agent.reinstated" } else { "agent.promoted" },
                subject_kind: "agent",
                subject_id: &review.agent_id,
                detail: serde_json::json!({
                    "before": { "stage": review.from, "status": if review.reinstate { "suspended" } else { "active" } },
                    "after": { "stage": review.to, "status": "active" },
                    "review_id": id,
                }),
            },
        )
        .await?;
        return Ok(());
    }
    if agent.suspended {
        return Err(moved());
    }
    let stages = capability_stages(tx, &review.agent_id, agent.stage, &review.capabilities).await?;
    if stages.iter().any(|s| *s != review.from) || review.to > agent.stage {
        return Err(moved());
    }
    // At the agent's own stage the grant follows the agent again.
    let grant_stage = (review.to < agent.stage).then(|| review.to.as_str());
    for cap in &review.capabilities {
        sqlx::query(
            "UPDATE grants SET stage = $1, max_per_hour = COALESCE($2, max_per_hour) \
             WHERE agent_id = $3 AND capability = $4",
        )
        .bind(grant_stage)
        .bind(review.max_per_hour)
        .bind(&review.agent_id)
        .bind(cap)
        .execute(&mut **tx)
        .await?;
        history::record(tx, change(Some(cap.as_str()), "promoted")).await?;
    }
    audit::record(
        tx,
        audit::Event {
            actor: &actor,
            what: "scope.promoted",
            subject_kind: "agent",
            subject_id: &review.agent_id,
            detail: serde_json::json!({
                "capabilities": review.capabilities,
                "before": { "stage": review.from },
                "after": { "stage": review.to, "max_per_hour": review.max_per_hour },
                "review_id": id,
            }),
        },
    )
    .await?;
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
