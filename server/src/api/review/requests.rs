//! The queue and its requests: thin handlers over the same service calls
//! the browser's server functions make (`app::actions`), so every rule of
//! deciding holds here too (payload binding, distinct approvers, the
//! sponsor bar, N-of-M, expiry).

use super::person::{Decider, Person};
use super::views::{Bytes, ReviewQueue, ReviewRequest};
use crate::api::answers::{ProblemAnswer, TooManyRequestsAnswer, UnauthorizedAnswer};
use crate::api::json::ApiJson;
use app::actions::review::{self, Verdict};
use app::actions::submission::parse_capability;
use app::actions::{queue, QueueFilter};
use app::auth::Role;
use app::error::AppError;
use app::policy::{RuleKey, Stage};
use app::state::AppState;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

const ID: &str = "The request's id.";

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// Only this agent's requests (its id).
    #[param(
        pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    agent: Option<String>,
    /// Only requests for this capability.
    #[param(schema_with = app::openapi::capability)]
    capability: Option<String>,
    /// Only requests held for this reason.
    held_for: Option<RuleKey>,
    /// Only requests decided at this stage.
    stage: Option<Stage>,
    /// Continue after this position (`next` from the previous page).
    #[param(
        pattern = r"^-?[0-9]{1,18}\.-?[0-9]{1,18}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )]
    after: Option<String>,
}

/// The approval queue
///
/// Requests waiting for approval, riskiest first, then longest waiting, 50 a page, with the filters the browser's queue has. Any token scope; every role may read it.
#[utoipa::path(
    get,
    path = "/review/queue",
    tag = "review",
    operation_id = "reviewQueue",
    security(("personalToken" = [])),
    params(QueueQuery),
    responses(
        (status = 200, description = "One page of the queue", body = ReviewQueue),
        (status = 400, response = ProblemAnswer),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 422, response = ProblemAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    person: Person,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> Result<Json<ReviewQueue>, AppError> {
    let user = person.may(Role::can_see, "see approval requests")?;
    let Query(q) = query.map_err(|e| AppError::BadRequest(e.body_text()))?;
    // An agent's id as Belay writes it (hyphenated); anything else names no agent.
    let agent = q.agent.map(|a| match app::db::known_id(&a, "agent") {
        Ok(()) if a.len() == 36 => Ok(a),
        _ => Err(AppError::BadRequest(
            "agent is an agent's id (a UUID)".into(),
        )),
    });
    let filter = QueueFilter {
        agent_id: agent.transpose()?,
        capability: q.capability.as_deref().map(parse_capability).transpose()?,
        held_for: q.held_for,
        stage: q.stage,
    };
    // Here an empty position is no position: 400, as the document says.
    let after = q.after.as_deref().map(queue::Cursor::parse).transpose()?;
    let page = queue::page(&state, &filter, after.as_ref(), &user.id).await?;
    Ok(Json(ReviewQueue::from(page)))
}

/// One request with its evidence list
///
/// Everything a reviewer decides on, what the caller may do with it, and the agent's record with this capability. Evidence is listed (type, size, SHA-256) with a link to its bytes, never inlined.
#[utoipa::path(
    get,
    path = "/review/requests/{id}",
    tag = "review",
    operation_id = "getReviewRequest",
    security(("personalToken" = [])),
    params(("id" = String, Path, description = ID)),
    responses(
        (status = 200, description = "The request", body = ReviewRequest),
        (status = 400, response = ProblemAnswer),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 404, response = ProblemAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    person: Person,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ReviewRequest>, AppError> {
    let user = person.may(Role::can_see, "see approval requests")?;
    let id = path_id(id)?;
    let page = review::page_data(&state, user, &id).await?;
    Ok(Json(ReviewRequest::from(page, person.0.scope)))
}

/// An approval, as `POST /review/requests/{id}/approve` takes it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// The request's `payload_hash` as the caller read it: if the request changed since (new evidence, another reviewer's edit), the approval is refused (409).
    #[schema(min_length = 1, max_length = 128)]
    payload_hash: String,
    /// Approve with edits: the params as they should be carried out. Recorded as a correction; never outside the agent's grant.
    #[serde(default)]
    #[schema(schema_with = edited_params)]
    params: Option<serde_json::Value>,
}

/// The reviewer's edit: a JSON object, or null for none.
fn edited_params() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    use utoipa::openapi::Ref;
    use utoipa::ToSchema;
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some(
            "Approve with edits: the params as they should be carried out (null or absent: as they are). Recorded as a correction; refused (422) outside the agent's grant or with a number beyond \u{b1}(2^53 \u{2212} 1); at most 64 KiB serialized (413).",
        ))
        .additional_properties(Some(Ref::from_schema_name(app::openapi::JsonValue::name())))
        .into()
}

/// A rejection, as `POST /review/requests/{id}/reject` takes it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// The request's `payload_hash` as the caller read it.
    #[schema(min_length = 1, max_length = 128)]
    payload_hash: String,
    /// Why, for the agent and the record.
    #[schema(schema_with = app::openapi::summary)]
    reason: String,
}

/// Approve a request (optionally with edits)
///
/// Counts as the caller's approval: one per person, never the agent's sponsor unless the rules say so; the request is approved when its rule's number of distinct approvals of the current payload is reached. Needs a decide token and a role that decides requests.
#[utoipa::path(
    post,
    path = "/review/requests/{id}/approve",
    tag = "review",
    operation_id = "approveReviewRequest",
    security(("personalToken" = [])),
    params(("id" = String, Path, description = ID)),
    request_body(content = ApproveBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The request after the approval", body = ReviewRequest),
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
pub async fn approve(
    State(state): State<AppState>,
    Decider(person): Decider,
    id: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<ApproveBody>,
) -> Result<Json<ReviewRequest>, AppError> {
    let verdict = Verdict::Approve {
        edited: body.params,
    };
    decide(&state, &person, id, &body.payload_hash, verdict).await
}

/// Reject a request
///
/// One rejection is final. Needs a decide token and a role that decides requests.
#[utoipa::path(
    post,
    path = "/review/requests/{id}/reject",
    tag = "review",
    operation_id = "rejectReviewRequest",
    security(("personalToken" = [])),
    params(("id" = String, Path, description = ID)),
    request_body(content = RejectBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The request, rejected", body = ReviewRequest),
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
pub async fn reject(
    State(state): State<AppState>,
    Decider(person): Decider,
    id: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<Json<ReviewRequest>, AppError> {
    let verdict = Verdict::Reject {
        reason: body.reason,
    };
    decide(&state, &person, id, &body.payload_hash, verdict).await
}

async fn decide(
    state: &AppState,
    person: &Person,
    id: Result<Path<String>, PathRejection>,
    seen: &str,
    verdict: Verdict,
) -> Result<Json<ReviewRequest>, AppError> {
    let user = person.may(Role::can_decide_actions, "decide approval requests")?;
    let id = path_id(id)?;
    review::decide_request(state, user, &id, seen, verdict).await?;
    let page = review::page_data(state, user, &id).await?;
    Ok(Json(ReviewRequest::from(page, person.0.scope)))
}

/// One piece of evidence, as stored
///
/// The bytes as the agent sent them, as a download (`application/octet-stream`, `Content-Disposition: attachment`): never rendered, whatever they hold.
#[utoipa::path(
    get,
    path = "/review/evidence/{id}",
    tag = "review",
    operation_id = "getReviewEvidence",
    security(("personalToken" = [])),
    params(("id" = String, Path, description = "The evidence's id, from a request's evidence list.")),
    responses(
        (status = 200, description = "The bytes", content_type = "application/octet-stream", body = Bytes),
        (status = 400, response = ProblemAnswer),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 404, response = ProblemAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
pub async fn evidence(
    State(state): State<AppState>,
    person: Person,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    person.may(Role::can_see, "see evidence")?;
    let id = path_id(id)?;
    let (kind, _, content) = app::evidence::store::raw(&state.db, &id).await?;
    let name = format!("attachment; filename=\"{kind}-{id}.bin\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, name),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_string(),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        content,
    )
        .into_response())
}

pub(super) fn path_id(id: Result<Path<String>, PathRejection>) -> Result<String, AppError> {
    id.map(|Path(id)| id)
        .map_err(|e| AppError::BadRequest(e.body_text()))
}
