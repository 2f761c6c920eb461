//! A run as the agent API shows it to its agent (`GET /api/v1/runs/{run_id}`):
//! its latest events (escalations with their answers) and its requests.

use super::event::EventView;
use super::key::run_id;
use super::store;
use crate::actions::model::RequestState;
use crate::auth::agent::Principal;
use crate::db::rfc3339;
use crate::error::AppError;
use crate::state::AppState;
use serde::Serialize;
use sqlx::Row;

/// Events and requests a run shows, each list newest first.
pub const SHOWN: i64 = 100;

/// One of the agent's runs (the contract's `Run`).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = Run))]
pub struct RunView {
    /// The agent's name for the run.
    pub run_id: String,
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub started_at: String,
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub last_at: String,
    /// The latest 100 events, newest first.
    pub events: Vec<EventView>,
    /// The latest 100 requests submitted with this run_id, newest first.
    pub actions: Vec<RunActionView>,
}

/// A request of the run, in brief (`GET /actions/{id}` has it whole).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = RunAction))]
pub struct RunActionView {
    pub id: String,
    pub capability: String,
    pub state: RequestState,
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub created_at: String,
}

/// The agent's own run `key`; any other agent's is 404, exactly as if it
/// did not exist.
pub async fn for_agent(
    state: &AppState,
    agent: &Principal,
    key: &str,
) -> Result<RunView, AppError> {
    let id = run_id(&agent.agent_id, key);
    let run = match store::run(&state.db, &id).await? {
        Some(run) if run.agent_id == agent.agent_id => run,
        _ => return Err(AppError::NotFound("no such run".into())),
    };
    let events = store::latest_events(&state.db, &id, SHOWN)
        .await?
        .iter()
        .map(|e| e.view())
        .collect();
    let actions = sqlx::query(
        "SELECT id, capability, state, created_at FROM action_requests WHERE run_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(id)
    .bind(SHOWN)
    .fetch_all(&state.db)
    .await?
    .iter()
    .map(|r| {
        Ok(RunActionView {
            id: r.try_get("id")?,
            capability: r.try_get("capability")?,
            state: crate::error::stored(RequestState::parse(&r.try_get::<String, _>("state")?))?,
            created_at: rfc3339(r.try_get("created_at")?),
        })
    })
    .collect::<Result<_, AppError>>()?;
    Ok(RunView {
        run_id: run.key,
        started_at: rfc3339(run.started_at_ms),
        last_at: rfc3339(run.last_at_ms),
        events,
        actions,
    })
}
