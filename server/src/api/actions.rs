//! `/api/v1/actions`: thin handlers over the action rule book.

use super::agent_auth::{Agent, AgentKey};
use super::answers::{ProblemAnswer, Replayed, TooManyRequestsAnswer, UnauthorizedAnswer};
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
use utoipa::{IntoParams, ToSchema};

/// How each `{id}` in a path is described.
const ID: &str = "The request's id, as POST /actions answered it.";

/// Submit an intended action and get Belay's decision
///
/// The decision, the request and its audit record are stored durably before the answer is sent. Refused with 429 (and Retry-After) past the agent's quotas: submissions a minute, requests waiting for approval at once, evidence stored a day.
#[utoipa::path(
    post,
    path = "/actions",
    tag = "actions",
    operation_id = "submitAction",
    params(
        ("Idempotency-Key" = Option<String>, Header, nullable = false, pattern = "^[!-~]{1,255}$",
         description = "Retry safely: the same key with the same body answers with the request it first made (header `Idempotent-Replayed: true`); the same key with another body is 422. Per agent, kept at least 24 hours. 1–255 visible ASCII characters."),
    ),
    request_body(content = SubmitRequest, content_type = "application/json", example = json!({
        "capability": "email.send",
        "target": "customer@example.com",
        "summary": "Send the overdue-invoice reminder",
        "params": {"template": "reminder", "invoice": "INV-7"},
        "evidence": [{"type": "plan", "content": "1. Look up the invoice\n2. Send the reminder"}]
    })),
    responses(
        (status = 201, description = "Recorded and decided", body = AgentView,
         headers(("Idempotent-Replayed" = inline(Replayed), description = "true when this answers an earlier request with the same Idempotency-Key"))),
        (status = 400, response = ProblemAnswer),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 413, response = ProblemAnswer),
        (status = 415, response = ProblemAnswer),
        (status = 422, response = ProblemAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
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

/// Claim an approved request to carry it out: exactly once
///
/// Only for a request approved at act_with_approval or above (at propose a human carries it out: 403). Answers `approved_params`: the params as approved, possibly edited by the reviewer; carry out exactly these. Refused (409) when already claimed, not approved, when the approval's window has passed (the request is then expired), when the approval no longer covers the action as the policy stands now (grant removed or expired, targets or bounds no longer admit the approved params, the capability re-rated or gone from the catalog, the hourly limit reached counting claims), or when what is stored differs from the payload that was approved. Refusals are audited.
#[utoipa::path(
    post,
    path = "/actions/{id}/claim",
    tag = "actions",
    operation_id = "claimAction",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 200, description = "Claimed: now executing", body = AgentView),
        (status = 400, response = ProblemAnswer),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 404, response = ProblemAnswer),
        (status = 409, response = ProblemAnswer),
    )
)]
pub async fn claim(
    State(state): State<AppState>,
    Agent(agent): Agent,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<AgentView>, AppError> {
    let id = path_id(id)?;
    let action = claim::claim(&state, &agent, &id).await?;
    Ok(Json(AgentView::from(&action)))
}

/// How a request went, as `POST /actions/{id}/outcome` takes it.
#[derive(Deserialize, ToSchema)]
#[schema(as = Outcome)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRequest {
    #[schema(inline)]
    status: OutcomeStatus,
    #[serde(default)]
    #[schema(schema_with = app::openapi::long_text)]
    details: Option<String>,
    /// A failure that did harm; only with status failed.
    #[serde(default)]
    #[schema(default = false)]
    incident: bool,
    #[serde(default)]
    #[schema(max_items = 20)]
    evidence: Vec<EvidenceRequest>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum OutcomeStatus {
    Succeeded,
    Failed,
}

/// Report how a claimed (or allowed) request went, once
#[utoipa::path(
    post,
    path = "/actions/{id}/outcome",
    tag = "actions",
    operation_id = "reportOutcome",
    params(("id" = String, Path, description = ID)),
    request_body(content = OutcomeRequest, content_type = "application/json",
        example = json!({"status": "succeeded", "details": "Reminder sent at 10:02"})),
    responses(
        (status = 200, description = "Recorded", body = AgentView),
        (status = 400, response = ProblemAnswer),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 404, response = ProblemAnswer),
        (status = 409, response = ProblemAnswer),
        (status = 413, response = ProblemAnswer),
        (status = 415, response = ProblemAnswer),
        (status = 422, response = ProblemAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
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

/// Add evidence to a request while it waits for approval
///
/// multipart/form-data; each part is one piece of evidence, named by its type (screenshot, dom_snapshot, request_log, events, plan, prompt, extracted_data, diff). At most 5 MiB a piece (413) and 20 pieces a request (422); an action holds at most 20 pieces (409) and 20 MiB (413) in all. Types are checked by content (415 when a declared type disagrees); screenshot dimensions are read from the header (422 over 16384 px a side or 40 megapixels). Approvals given before no longer count: reviewers approve what they saw.
#[utoipa::path(
    post,
    path = "/actions/{id}/evidence",
    tag = "actions",
    operation_id = "addEvidence",
    params(("id" = String, Path, description = ID)),
    request_body(content = inline(app::evidence::parse::EvidenceParts), content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Added", body = AgentView),
        (status = 400, response = ProblemAnswer),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 404, response = ProblemAnswer),
        (status = 409, response = ProblemAnswer),
        (status = 413, response = ProblemAnswer),
        (status = 415, response = ProblemAnswer),
        (status = 422, response = ProblemAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GetQuery {
    /// Seconds to wait for a decision while the request is pending; longer waits are cut to 60. Past the agent's quota of long-polls held open at once: 429. No other query parameters are accepted (400).
    wait: Option<u64>,
}

/// One of the agent's requests; long-polls while it waits for approval
#[utoipa::path(
    get,
    path = "/actions/{id}",
    tag = "actions",
    operation_id = "getAction",
    params(("id" = String, Path, description = ID), GetQuery),
    responses(
        (status = 200, description = "The request now", body = AgentView),
        (status = 400, response = ProblemAnswer),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 404, response = ProblemAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
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

/// Withdraw one of the agent's requests while it waits for approval
#[utoipa::path(
    post,
    path = "/actions/{id}/cancel",
    tag = "actions",
    operation_id = "cancelAction",
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 200, description = "Cancelled", body = AgentView),
        (status = 400, response = ProblemAnswer),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 404, response = ProblemAnswer),
        (status = 409, response = ProblemAnswer),
    )
)]
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
pub(super) async fn long_poll(state: &AppState, agent_id: &str) -> Result<LongPoll, AppError> {
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
