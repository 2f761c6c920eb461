//! Opening a review: the proposal checked, the metrics, criteria and
//! what-if frozen into it.

use crate::auth::UserView;
use crate::change::{self, Kind};
use crate::db::{known_id, now_ms};
use crate::error::AppError;
use crate::policy::Stage;
use crate::state::AppState;
use crate::trust::history::{self};
use crate::trust::model::{evaluate, READINESS_DAYS, WINDOWS};
use crate::trust::views::Snapshot;
use crate::trust::{daily, rollup, settings, whatif};

use super::agent::{agent_now, capability_stages, AgentNow};
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
    let open_already = sqlx::query(
        "SELECT id FROM change_requests WHERE agent_id = $1 AND kind = 'promotion' AND state = 'open'",
    )
            .bind(&p.agent_id)
            .fetch_optional(&mut *tx)
            .await?;
    if open_already.is_some() {
        return Err(AppError::Conflict(
            "this agent already has an open promotion review: decide or withdraw it first".into(),
        ));
    }
    drop(tx);

    // The figures the review is judged on, frozen now.
    let criteria = settings::criteria_for(&state.db, p.to).await?;
    let today = rollup::day_of(now);
    let (rows, reviewers) = daily::rollups(&state.db, &p.agent_id, today, 91).await?;
    let only = |c: &str| caps.is_empty() || caps.iter().any(|x| x == c);
    let figures: Vec<_> = WINDOWS
        .iter()
        .map(|d| daily::figures(&rows, &reviewers, today, *d, &only))
        .collect();
    let mut days_at_stage = history::days_at_stage(&state.db, &p.agent_id, None, now).await?;
    for cap in &caps {
        days_at_stage = days_at_stage
            .min(history::days_at_stage(&state.db, &p.agent_id, Some(cap), now).await?);
    }
    let month = daily::figures(&rows, &reviewers, today, READINESS_DAYS, &only);
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

    let spec = super::Spec {
        capabilities: caps.clone(),
        from,
        to: p.to,
        reinstate,
        max_per_hour: p.max_per_hour,
    };
    let frozen = super::Frozen {
        snapshot: serde_json::to_value(&snapshot).map_err(|_| AppError::Internal)?,
        criteria_met,
        skips_stages: skips,
    };
    let rise = format!(
        "{}{from} → {}",
        if reinstate { "reinstate: " } else { "" },
        p.to
    );
    let mut tx = state.db.begin().await?;
    let proposed = change::store::open(
        &mut tx,
        lead,
        change::store::Open {
            kind: Kind::Promotion,
            agent_id: Some(&p.agent_id),
            subject: "",
            before: Some(serde_json::json!({ "stage": from, "suspended": reinstate })),
            after: serde_json::to_value(&spec).map_err(|_| AppError::Internal)?,
            rises: vec![rise],
            reason: &case_text,
            detail: Some(serde_json::to_value(&frozen).map_err(|_| AppError::Internal)?),
            needed: criteria.approvals_needed,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(review_id = %proposed.change_id, criteria_met, "promotion review opened");
    Ok(proposed.change_id)
}
