//! Earning and losing trust: approval metrics (from rollups kept in the
//! write transaction), promotion reviews against readiness criteria,
//! automatic scoped demotion, spot checks, and dashboard suggestions.

// Server functions take one argument per form field; the criteria form has eight.
#![allow(clippy::too_many_arguments)]

pub mod model;
mod pages;
pub mod views;

#[cfg(feature = "ssr")]
pub mod daily;
#[cfg(feature = "ssr")]
pub mod demote;
#[cfg(feature = "ssr")]
pub mod history;
#[cfg(feature = "ssr")]
pub mod lower;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod promotion;
#[cfg(feature = "ssr")]
pub mod record_data;
#[cfg(feature = "ssr")]
pub mod rollup;
#[cfg(feature = "ssr")]
pub mod settings;
#[cfg(feature = "ssr")]
pub mod spot;
#[cfg(feature = "ssr")]
pub mod suggest;
#[cfg(feature = "ssr")]
pub mod whatif;

pub use pages::{
    scope, what_if_text, AgentRecord, CheckList, DashboardPage, ReadinessPage, ReviewTable,
    SpotChecksPage,
};

use crate::error::AppError;
use crate::policy::Stage;
use leptos::prelude::*;
use model::*;
use serde::{Deserialize, Serialize};
use views::*;

/// The agent page's record: metrics, timeline, readiness for the next
/// stage with its what-if, and the agent's reviews.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = AgentRecord))]
pub struct RecordData {
    pub metrics: AgentMetrics,
    pub next: Option<NextStage>,
    pub reviews: Vec<ReviewRow>,
    pub can_open: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NextStage {
    pub to: Stage,
    pub checks: Vec<Check>,
    pub what_if: WhatIf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardData {
    pub notices: Vec<Notice>,
    pub suggestions: Suggestions,
    pub spot_checks: i64,
    pub open_reviews: Vec<ReviewRow>,
    pub is_lead: bool,
}

#[server(prefix = "/rpc", endpoint = "trust/record")]
pub async fn agent_record(agent_id: String) -> Result<RecordData, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see this").await?;
        record_data::load(&state, &user, &agent_id).await
    })
    .await
}

/// Capability names from a form field: separated by commas or spaces.
pub fn parse_capabilities(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(feature = "ssr")]
fn parse_count(name: &str, raw: &str) -> Result<i64, AppError> {
    raw.trim()
        .parse::<i64>()
        .map_err(|_| AppError::validation(format!("{name} must be a whole number")))
}

#[server(prefix = "/rpc", endpoint = "trust/open")]
pub async fn open_review(
    agent_id: String,
    to_stage: String,
    capabilities: String,
    max_per_hour: String,
    case_text: String,
) -> Result<String, AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_manage_agents,
            "open promotion reviews",
        )
        .await?;
        let to = Stage::parse(&to_stage).map_err(AppError::Validation)?;
        let max_per_hour = match max_per_hour.trim() {
            "" => None,
            n => Some(parse_count("the hourly limit", n)?),
        };
        promotion::open(
            &state,
            &user,
            promotion::Proposal {
                agent_id,
                to,
                capabilities: parse_capabilities(&capabilities),
                max_per_hour,
                case_text,
            },
        )
        .await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "trust/reviews")]
pub async fn list_reviews() -> Result<Vec<ReviewRow>, AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see this").await?;
        promotion::list(&state, None).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "trust/review")]
pub async fn get_review(id: String) -> Result<ReviewDetail, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see this").await?;
        promotion::get(&state, &user, &id).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "trust/criteria")]
pub async fn get_criteria() -> Result<(Vec<Criteria>, TrustSettings, bool), AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see this").await?;
        Ok((
            settings::criteria(&state.db).await?,
            settings::load(&state.db).await?,
            user.role.can_manage_agents(),
        ))
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "trust/save_criteria")]
pub async fn save_criteria(
    stage: String,
    min_decisions: String,
    min_approved_pct: String,
    max_corrected_pct: String,
    max_incidents: String,
    min_reviewers: String,
    min_days_at_stage: String,
    approvals_needed: String,
    #[server(default)] reason: String,
) -> Result<crate::change::Saved<()>, AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_manage_agents,
            "change readiness criteria",
        )
        .await?;
        let c = Criteria {
            stage: Stage::parse(&stage).map_err(AppError::Validation)?,
            min_decisions: parse_count("minimum decisions", &min_decisions)?,
            min_approved_pct: parse_count("approved %", &min_approved_pct)?,
            max_corrected_pct: parse_count("corrected %", &max_corrected_pct)?,
            max_incidents: parse_count("incidents", &max_incidents)?,
            min_reviewers: parse_count("distinct reviewers", &min_reviewers)?,
            min_days_at_stage: parse_count("days at stage", &min_days_at_stage)?,
            approvals_needed: parse_count("approvals needed", &approvals_needed)?,
        };
        settings::save_criteria(&state.db, &user, c, &reason).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "trust/save_settings")]
pub async fn save_settings(
    spike_rejections: String,
    spike_window: String,
    spot_check_pct: String,
    #[server(default)] reason: String,
) -> Result<crate::change::Saved<()>, AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_manage_agents,
            "change trust settings",
        )
        .await?;
        let s = TrustSettings {
            spike_rejections: parse_count("spike rejections", &spike_rejections)?,
            spike_window: parse_count("spike window", &spike_window)?,
            spot_check_pct: parse_count("spot-check share", &spot_check_pct)?,
        };
        settings::save(&state.db, &user, s, &reason).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "trust/spot_checks")]
pub async fn spot_checks() -> Result<Vec<SpotCheck>, AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see this").await?;
        spot::pending(&state.db).await
    })
    .await
}

/// `verdict` is `fine` or `problem` (a problem needs a note).
#[server(prefix = "/rpc", endpoint = "trust/spot_check")]
pub async fn mark_spot_check(id: String, verdict: String, note: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_decide_actions, "check actions")
                .await?;
        let problem = match verdict.as_str() {
            "fine" => false,
            "problem" => true,
            _ => return Err(AppError::validation("the verdict is fine or problem")),
        };
        spot::mark(&state, &user, &id, problem, &note).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "trust/dashboard")]
pub async fn dashboard() -> Result<DashboardData, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see this").await?;
        let is_lead = user.role.can_manage_agents();
        let open_reviews = promotion::list(&state, None)
            .await?
            .into_iter()
            .filter(|r| r.state == "open")
            .collect();
        Ok(DashboardData {
            notices: if is_lead {
                suggest::notices(&state.db).await?
            } else {
                vec![]
            },
            suggestions: suggest::suggestions(&state.db).await?,
            spot_checks: spot::waiting(&state.db).await?,
            open_reviews,
            is_lead,
        })
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "trust/clear_notice")]
pub async fn clear_notice(id: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_manage_agents, "clear notices")
                .await?;
        suggest::clear(&state.db, &user.id, &id).await
    })
    .await
}

/// Lowers the agent's stage at once (no review needed to reduce trust).
#[server(prefix = "/rpc", endpoint = "agents/demote")]
pub async fn demote_agent(agent_id: String, stage: String, reason: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_manage_agents, "manage agents")
                .await?;
        let to = Stage::parse(&stage).map_err(AppError::Validation)?;
        demote::demote(&state, &user, &agent_id, to, &reason).await
    })
    .await
}

/// The kill switch: suspend, revoke every key, cancel what is pending.
#[server(prefix = "/rpc", endpoint = "agents/suspend")]
pub async fn suspend_agent(agent_id: String, reason: String) -> Result<SuspendOutcome, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_manage_agents, "manage agents")
                .await?;
        demote::suspend(&state, &user, &agent_id, &reason).await
    })
    .await
}
