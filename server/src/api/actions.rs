//! `/api/v1/actions`: thin handlers over the action rule book.

use super::agent_auth::{Agent, AgentKey};
use super::json::ApiJson;
use app::actions::model::{ActionDetail, State as ActionState};
use app::actions::service;
use app::actions::submission::{
    check_total, Evidence, EvidenceRequest, Submission, SubmitRequest, MAX_EVIDENCE_BYTES,
    MAX_EVIDENCE_ITEMS,
};
use app::actions::{execute, idempotency};
use app::db::rfc3339;
use app::error::AppError;
use app::state::AppState;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use std::time::Duration;

pub async fn submit(
    State(state): State<AppState>,
    AgentKey(key_hash): AgentKey,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SubmitRequest>,
) -> Result<impl IntoResponse, AppError> {
    let key = headers
        .get("idempotency-key")
        .map(|v| idempotency::parse_key(v.as_bytes()))
        .transpose()?;
    let submission = Submission::parse(body)?;
    let done = service::submit(&state, key_hash, submission, key).await?;
    tracing::Span::current().record("agent", done.action.agent_name.as_str());
    // A replay answers as the first time did (the request as it is now),
    // and says so.
    let replayed = [(
        "idempotent-replayed",
        if done.replayed { "true" } else { "false" },
    )];
    Ok((StatusCode::CREATED, replayed, Json(view(&done.action))))
}

pub async fn claim(
    State(state): State<AppState>,
    Agent(agent): Agent,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = path_id(id)?;
    let action = execute::claim(&state, &agent, &id).await?;
    Ok(Json(view(&action)))
}

/// `POST /actions/{id}/outcome`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRequest {
    status: OutcomeStatus,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    incident: bool,
    #[serde(default)]
    evidence: Vec<EvidenceRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum OutcomeStatus {
    Succeeded,
    Failed,
}

pub async fn outcome(
    State(state): State<AppState>,
    Agent(agent): Agent,
    id: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<OutcomeRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = path_id(id)?;
    if body.evidence.len() > MAX_EVIDENCE_ITEMS {
        return Err(AppError::validation(format!(
            "at most {MAX_EVIDENCE_ITEMS} pieces of evidence with an outcome"
        )));
    }
    let evidence = body
        .evidence
        .into_iter()
        .map(Evidence::parse)
        .collect::<Result<Vec<_>, _>>()?;
    check_total(0, &evidence)?;
    let report = execute::Report {
        succeeded: matches!(body.status, OutcomeStatus::Succeeded),
        details: body
            .details
            .map(|d| app::text::field("details", &d, 10_000))
            .transpose()?,
        incident: body.incident,
        evidence,
    };
    let action = execute::outcome(&state, &agent, &id, report).await?;
    Ok(Json(view(&action)))
}

/// `POST /actions/{id}/evidence`, multipart: each part is one piece of
/// evidence, named by its type (`screenshot`, `plan`, …); a part's
/// Content-Type, if it gives a real one, must agree with the bytes.
pub async fn add_evidence(
    State(state): State<AppState>,
    Agent(agent): Agent,
    id: Result<Path<String>, PathRejection>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = path_id(id)?;
    let mut multipart = multipart.map_err(|e| {
        AppError::UnsupportedMediaType(format!(
            "send the evidence as multipart/form-data: {}",
            e.body_text()
        ))
    })?;
    let mut pieces = Vec::new();
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if pieces.len() == MAX_EVIDENCE_ITEMS {
            return Err(AppError::validation(format!(
                "at most {MAX_EVIDENCE_ITEMS} pieces of evidence per request"
            )));
        }
        let kind = field.name().unwrap_or_default().to_string();
        app::actions::submission::evidence_kind(&kind)?;
        let declared = field
            .content_type()
            .map(str::to_string)
            .filter(|t| t != "application/octet-stream");
        // Read in chunks, so an oversized part is refused without holding it.
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if bytes.len() + chunk.len() > MAX_EVIDENCE_BYTES {
                return Err(AppError::PayloadTooLarge(format!(
                    "{kind}: evidence is larger than {} MiB",
                    MAX_EVIDENCE_BYTES / 1024 / 1024
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let piece =
            Evidence::from_bytes(&kind, declared.as_deref(), bytes).map_err(|e| named(&kind, e))?;
        pieces.push(piece);
    }
    check_total(0, &pieces)?;
    let action = execute::add_evidence(&state, &agent, &id, pieces).await?;
    Ok(Json(view(&action)))
}

fn multipart_error(e: MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge("the request body is too large".into())
    } else {
        AppError::BadRequest(format!("unreadable multipart body: {}", e.body_text()))
    }
}

fn named(kind: &str, e: AppError) -> AppError {
    match e {
        AppError::Validation(m) => AppError::Validation(format!("{kind}: {m}")),
        AppError::PayloadTooLarge(m) => AppError::PayloadTooLarge(format!("{kind}: {m}")),
        AppError::UnsupportedMediaType(m) => AppError::UnsupportedMediaType(format!("{kind}: {m}")),
        other => other,
    }
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
        // What the agent may carry out: the params as a reviewer edited them.
        "approved_params": matches!(a.state, ActionState::Approved | ActionState::Executing | ActionState::Succeeded | ActionState::Failed)
            .then(|| a.approved_params()),
        "correction": a.correction,
        "payload_hash": a.payload_hash,
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
        "claimed_at": a.claimed_at_ms.map(rfc3339),
        "outcome_at": a.outcome_at_ms.map(rfc3339),
        "outcome_detail": a.outcome_detail,
        "incident": a.incident,
        "evidence": a.evidence,
    })
}
