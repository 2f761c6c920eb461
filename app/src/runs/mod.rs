//! Runs: one task of an agent, from prompt to final action, followed as
//! one timeline. The agent names a run (`run_id` on its submissions, and
//! `POST /api/v1/runs/{run_id}/events` for what it reports along the way);
//! an escalation waits in the approval queue until a reviewer answers it.

#[cfg(feature = "ssr")]
pub mod agent_view;
#[cfg(feature = "ssr")]
pub mod event;
#[cfg(feature = "ssr")]
pub mod key;
pub mod model;
mod pages;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod stats;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod timeline;
mod widgets;

pub use model::{AgentRuns, EscalationRow, RunPageData, RunSoFar};
pub use pages::RunPage;
pub use widgets::{AgentRunsPanel, OpenEscalations, RunSoFarPanel};

use crate::error::AppError;
use leptos::prelude::*;

/// One run with one page of its timeline (from `from`, ms, on).
#[server(prefix = "/rpc", endpoint = "runs/get")]
pub async fn get_run(id: String, from: Option<i64>) -> Result<RunPageData, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see runs").await?;
        crate::db::known_id(&id, "run")?;
        let run = store::run(&state.db, &id)
            .await?
            .ok_or_else(|| AppError::NotFound("no such run".into()))?;
        let now = crate::db::now_ms();
        let from = from.unwrap_or(run.started_at_ms).max(run.started_at_ms);
        let (steps, next) = timeline::page(&state.db, &id, from).await?;
        Ok(RunPageData {
            run: stats::summary(&state.db, run, now).await?,
            steps,
            next,
            can_answer: user.role.can_decide_actions(),
            now_ms: now,
        })
    })
    .await
}

/// The latest steps of the run a request is part of, if it is part of one.
#[server(prefix = "/rpc", endpoint = "runs/so-far")]
pub async fn fetch_run_so_far(action_id: String) -> Result<Option<RunSoFar>, AppError> {
    crate::error::respond(async move {
        const SHOWN: usize = 8;
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see runs").await?;
        crate::db::known_id(&action_id, "action request")?;
        let Some(run_id) = store::run_of_action(&state.db, &action_id).await? else {
            return Ok(None);
        };
        let run = store::run(&state.db, &run_id)
            .await?
            .ok_or(AppError::Internal)?;
        let events = store::latest_events(&state.db, &run_id, SHOWN as i64).await?;
        let actions = timeline::latest_actions(&state.db, &run_id, SHOWN as i64).await?;
        let ids: Vec<&str> = actions.iter().map(|a| a.id.as_str()).collect();
        let mut approvals = timeline::approvals(&state.db, &ids).await?;
        let mut steps: Vec<model::Step> = events.iter().flat_map(timeline::event_steps).collect();
        let listed = events.len() + actions.len();
        for a in actions {
            let approvals = approvals.remove(&a.id).unwrap_or_default();
            steps.extend(a.steps(approvals, Vec::new()));
        }
        steps.sort_by_key(|s| s.at_ms);
        let more = steps.len() > SHOWN || listed >= SHOWN;
        let steps = steps.split_off(steps.len().saturating_sub(SHOWN));
        Ok(Some(RunSoFar {
            run_id,
            key: run.key,
            steps,
            more,
        }))
    })
    .await
}

/// The agent's recent runs, and how many stalled or escalated.
#[server(prefix = "/rpc", endpoint = "runs/of-agent")]
pub async fn fetch_agent_runs(agent_id: String) -> Result<AgentRuns, AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see runs").await?;
        crate::db::known_id(&agent_id, "agent")?;
        stats::agent_runs(&state.db, &agent_id, crate::db::now_ms()).await
    })
    .await
}

/// Escalations waiting for an answer, for the approval queue.
#[server(prefix = "/rpc", endpoint = "runs/escalations")]
pub async fn open_escalations() -> Result<Vec<EscalationRow>, AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see approval requests")
                .await?;
        stats::open_escalations(&state.db).await
    })
    .await
}

/// Answers an escalation: what the agent should do now (it reads the
/// answer through the API). Final.
#[server(prefix = "/rpc", endpoint = "runs/answer")]
pub async fn answer_escalation(id: String, answer: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_decide_actions,
            "answer escalations",
        )
        .await?;
        service::answer(&state, &user, &id, &answer).await
    })
    .await
}
