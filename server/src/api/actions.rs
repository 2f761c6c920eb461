//! `/api/v1/actions`: thin handlers over the action rule book.

use super::agent_auth::{Agent, AgentKey};
use super::json::ApiJson;
use app::actions::agent_view::AgentView;
use app::actions::commit::Committer;
use app::actions::service;
use app::actions::submission::{Submission, SubmitRequest};
use app::actions::{claim, execute, idempotency};
use app::error::AppError;
use app::evidence::parse::{
    self as evidence, check_total, Evidence, EvidenceRequest, MAX_EVIDENCE_BYTES,
    MAX_EVIDENCE_ITEMS,
};
use app::quota::limits::Kind;
use app::quota::usage::LongPoll;
use app::state::AppState;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use std::time::Duration;

pub async fn submit(
    Extension(writer): Extension<Committer>,
    AgentKey(key_hash): AgentKey,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SubmitRequest>,
) -> Result<impl IntoResponse, AppError> {
    let key = headers
        .get("idempotency-key")
        .map(|v| idempotency::parse_key(v.as_bytes()))
        .transpose()?;
    let submission = Submission::parse(body)?;
    let done = writer.submit(key_hash, submission, key).await?;
    tracing::Span::current().record("agent", done.action.agent_name.as_str());
    // A replay answers as the first time did (the request as it is now),
    // and says so.
    let replayed = [(
        "idempotent-replayed",
        if done.replayed { "true" } else { "false" },
    )];
    Ok((
        StatusCode::CREATED,
        replayed,
        Json(AgentView::from(&done.action)),
    ))
}

pub async fn claim(
    State(state): State<AppState>,
    Agent(agent): Agent,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<AgentView>, AppError> {
    let id = path_id(id)?;
    let action = claim::claim(&state, &agent, &id).await?;
    Ok(Json(AgentView::from(&action)))
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
) -> Result<Json<AgentView>, AppError> {
    let id = path_id(id)?;
    let evidence = evidence::parse_list(body.evidence)?;
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
    Ok(Json(AgentView::from(&action)))
}

/// `POST /actions/{id}/evidence`, multipart: each part is one piece of
/// evidence, named by its type (`screenshot`, `plan`, …); a part's
/// Content-Type, if it gives a real one, must agree with the bytes.
pub async fn add_evidence(
    State(state): State<AppState>,
    Agent(agent): Agent,
    id: Result<Path<String>, PathRejection>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<AgentView>, AppError> {
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
        evidence::kind(&kind)?;
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
        let piece = Evidence::from_bytes(&kind, declared.as_deref(), bytes)
            .map_err(|e| evidence::named(&kind, e))?;
        pieces.push(piece);
    }
    check_total(0, &pieces)?;
    let action = execute::add_evidence(&state, &agent, &id, pieces).await?;
    Ok(Json(AgentView::from(&action)))
}

fn multipart_error(e: MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge("the request body is too large".into())
    } else {
        AppError::BadRequest(format!("unreadable multipart body: {}", e.body_text()))
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
) -> Result<Json<AgentView>, AppError> {
    let id = path_id(id)?;
    let Query(query) = query.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let action = match query.wait {
        None | Some(0) => service::get_for_agent(&state, &agent, &id).await?,
        Some(secs) => {
            let secs = secs.min(state.settings.max_wait_secs);
            let _open = long_poll(&state, &agent.agent_id).await?;
            service::wait_for_agent(&state, &agent, &id, Duration::from_secs(secs)).await?
        }
    };
    Ok(Json(AgentView::from(&action)))
}

pub async fn cancel(
    State(state): State<AppState>,
    Agent(agent): Agent,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<AgentView>, AppError> {
    let id = path_id(id)?;
    let action = service::cancel(&state, &agent, &id).await?;
    Ok(Json(AgentView::from(&action)))
}

/// A place for one more long-poll by the agent, or 429: each one holds a
/// connection and a task for up to a minute.
async fn long_poll(state: &AppState, agent_id: &str) -> Result<LongPoll, AppError> {
    let own = super::agent_auth::own_quotas(state, agent_id).await?;
    let limit = state.settings.quotas.for_agent(&own).get(Kind::LongPolls);
    state.quota.long_poll(agent_id, limit).ok_or_else(|| {
        state.quota.refused(agent_id, Kind::LongPolls, limit);
        AppError::TooManyRequests(
            format!(
                "this agent already holds {limit} long-polls open, its quota; \
                 wait for one to answer, or poll without ?wait="
            ),
            1,
        )
    })
}

fn path_id(id: Result<Path<String>, PathRejection>) -> Result<String, AppError> {
    id.map(|Path(id)| id)
        .map_err(|e| AppError::BadRequest(e.body_text()))
}
