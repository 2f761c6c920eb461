//! `/api/v1/actions`: thin handlers over the action rule book.

use super::agent_auth::{Agent, AgentKey};
use super::json::ApiJson;
use app::actions::model::ActionDetail;
use app::actions::service;
use app::actions::submission::{Submission, SubmitRequest};
use app::db::rfc3339;
use app::error::AppError;
use app::state::AppState;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use std::time::Duration;

pub async fn submit(
    State(state): State<AppState>,
    AgentKey(key_hash): AgentKey,
    ApiJson(body): ApiJson<SubmitRequest>,
) -> Result<impl IntoResponse, AppError> {
    let submission = Submission::parse(body)?;
    let action = service::submit(&state, key_hash, submission).await?;
    tracing::Span::current().record("agent", action.agent_name.as_str());
    Ok((StatusCode::CREATED, Json(view(&action))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    /// Long-poll for up to this many seconds while the request is pending.
    wait: Option<u64>,
}

pub async fn get(
    State(state): State<AppState>,
    Agent(agent): Agent,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<GetQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = path_id(id)?;
    let Query(query) = query.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let action = match query.wait {
        None | Some(0) => service::get_for_agent(&state, &agent, &id).await?,
        Some(secs) => {
            let secs = secs.min(state.settings.max_wait_secs);
            service::wait_for_agent(&state, &agent, &id, Duration::from_secs(secs)).await?
        }
    };
    Ok(Json(view(&action)))
}

pub async fn cancel(
    State(state): State<AppState>,
    Agent(agent): Agent,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = path_id(id)?;
    let action = service::cancel(&state, &agent, &id).await?;
    Ok(Json(view(&action)))
}

fn path_id(id: Result<Path<String>, PathRejection>) -> Result<String, AppError> {
    id.map(|Path(id)| id)
        .map_err(|e| AppError::BadRequest(e.body_text()))
}

/// The agent's view of a request, as the API contract spells it.
fn view(a: &ActionDetail) -> serde_json::Value {
    serde_json::json!({
        "id": a.id,
        "capability": a.capability,
        "target": a.target,
        "summary": a.summary,
        "params": a.params,
        "decision": a.decision,
        "reasons": a.reasons,
        "policy_version": a.policy_version,
        "stage": a.stage,
        "held_for": a.held_for,
        "approvals_required": a.approvals_required,
        "approvals": a.approved_by.len(),
        "carried_out_by": a.carried_out_by(),
        "state": a.state,
        "created_at": rfc3339(a.created_at_ms),
        "expires_at": a.expires_at_ms.map(rfc3339),
        "decided_at": a.decided_at_ms.map(rfc3339),
        "decision_note": a.decision_note,
        "evidence": a.evidence,
    })
}
