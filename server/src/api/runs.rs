//! `/api/v1/runs`: thin handlers over the run rule book (`app::runs`).

use super::agent_auth::{own_quotas, Agent};
use super::answers::{ProblemAnswer, TooManyRequestsAnswer, UnauthorizedAnswer};
use super::json::ApiJson;
use super::quota::Quotas;
use app::error::AppError;
use app::quota::limits::Kind;
use app::runs::agent_view::{self, RunView};
use app::runs::event::{EventView, NewEvent, RunEventRequest};
use app::runs::{key, service};
use app::state::AppState;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use utoipa::IntoParams;

const RUN: &str = "The agent's name for the run: 1 to 100 of A-Z, a-z, 0-9, '.', '_', ':' and '-'. Another agent's run of the same name is another run.";
const EVENT: &str = "The event's id, as POST /runs/{run_id}/events answered it.";

/// Report what happened in a run
///
/// prompt, plan, page_visited (url, text: its title), extracted_data (data), note, error, or escalation: a state the agent did not expect, for a person to answer. An escalation waits in the approval queue until a reviewer answers; read the answer with GET /runs/{run_id}/events/{event_id}?wait=. The run is made by its first event or its first action (`run_id` on POST /actions). Counted against the agent's submissions a minute and its daily evidence quota (429); at most 20 escalations of an agent wait at once (429). Text is shown to people as text, never as HTML.
#[utoipa::path(
    post,
    path = "/runs/{run_id}/events",
    tag = "runs",
    operation_id = "recordRunEvent",
    params(("run_id" = String, Path, description = RUN, pattern = "^[A-Za-z0-9._:-]{1,100}$")),
    request_body(content = RunEventRequest, content_type = "application/json", example = json!({
        "kind": "page_visited",
        "url": "https://crm.example.com/accounts/42",
        "text": "Account 42 — renewal"
    })),
    responses(
        (status = 201, description = "Recorded", body = EventView),
        (status = 400, response = ProblemAnswer),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 413, response = ProblemAnswer),
        (status = 415, response = ProblemAnswer),
        (status = 422, response = ProblemAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
pub async fn record_event(
    State(state): State<AppState>,
    Extension(quotas): Extension<Arc<Quotas>>,
    Agent(agent): Agent,
    run: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<RunEventRequest>,
) -> Result<(StatusCode, Json<EventView>), AppError> {
    let run = run_key(run)?;
    let own = own_quotas(&state, &agent.agent_id).await?;
    let per_minute = state.settings.quotas.for_agent(&own).get(Kind::Submissions);
    quotas.submission(&state.quota, &agent.agent_id, per_minute)?;
    let event = NewEvent::parse(body)?;
    let view = service::record(&state, &agent, &run, event).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One of the agent's runs: its latest events and requests
#[utoipa::path(
    get,
    path = "/runs/{run_id}",
    tag = "runs",
    operation_id = "getRun",
    params(("run_id" = String, Path, description = RUN, pattern = "^[A-Za-z0-9._:-]{1,100}$")),
    responses(
        (status = 200, description = "The run", body = RunView),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 404, response = ProblemAnswer),
        (status = 422, response = ProblemAnswer),
    )
)]
pub async fn get_run(
    State(state): State<AppState>,
    Agent(agent): Agent,
    run: Result<Path<String>, PathRejection>,
) -> Result<Json<RunView>, AppError> {
    let run = run_key(run)?;
    Ok(Json(agent_view::for_agent(&state, &agent, &run).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// Seconds to wait for an answer while the escalation is open; longer waits are cut to 60. Past the agent's quota of long-polls held open at once: 429. No other query parameters are accepted (400).
    wait: Option<u64>,
}

/// One event of the agent's run; long-polls while an escalation waits for its answer
#[utoipa::path(
    get,
    path = "/runs/{run_id}/events/{event_id}",
    tag = "runs",
    operation_id = "getRunEvent",
    params(
        ("run_id" = String, Path, description = RUN, pattern = "^[A-Za-z0-9._:-]{1,100}$"),
        ("event_id" = String, Path, description = EVENT),
        WaitQuery
    ),
    responses(
        (status = 200, description = "The event now", body = EventView),
        (status = 400, response = ProblemAnswer),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 404, response = ProblemAnswer),
        (status = 422, response = ProblemAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
pub async fn get_event(
    State(state): State<AppState>,
    Agent(agent): Agent,
    ids: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Json<EventView>, AppError> {
    let Path((run, id)) = ids.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let run = key::parse(&run)?;
    let Query(query) = query.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let event = match query.wait {
        None | Some(0) => service::event_for_agent(&state, &agent, &run, &id).await?,
        Some(secs) => {
            let secs = secs.min(state.settings.max_wait_secs);
            let _open = super::actions::long_poll(&state, &agent.agent_id).await?;
            service::wait_for_answer(&state, &agent, &run, &id, Duration::from_secs(secs)).await?
        }
    };
    Ok(Json(event))
}

fn run_key(run: Result<Path<String>, PathRejection>) -> Result<String, AppError> {
    let Path(run) = run.map_err(|e| AppError::BadRequest(e.body_text()))?;
    key::parse(&run)
}
