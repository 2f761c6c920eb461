//! Who the token acts for, agents and their record, and promotion reviews:
//! thin handlers over the calls the browser's pages make (`app::agents`,
//! `app::trust`, `app::governance`), so a lead decides a review here under
//! the same rules (never the lead who opened it, nor the agent's sponsor;
//! distinct approvers; overrides for unmet criteria).

use super::person::{Decider, Person};
use super::requests::path_id;
use super::views::{rfc3339_of, Caller};
use crate::api::answers::{ProblemAnswer, TooManyRequestsAnswer, UnauthorizedAnswer};
use crate::api::json::ApiJson;
use app::agents::{AgentRow, RecentRequest};
use app::auth::Role;
use app::error::AppError;
use app::governance::decide::{self, Ballot};
use app::state::AppState;
use app::trust::views::{ReviewDetail, ReviewRow};
use app::trust::{promotion, record_data, RecordData};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who this token acts for
#[utoipa::path(
    get,
    path = "/review/me",
    tag = "review",
    operation_id = "reviewMe",
    security(("personalToken" = [])),
    responses(
        (status = 200, description = "The token's person and scope", body = Caller),
        (status = 401, response = UnauthorizedAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
pub async fn me(person: Person) -> Json<Caller> {
    let b = person.0;
    Json(Caller {
        id: b.user.id,
        username: b.user.username,
        role: b.user.role,
        scope: b.scope,
    })
}

/// Every agent
#[utoipa::path(
    get,
    path = "/review/agents",
    tag = "oversight",
    operation_id = "listAgents",
    security(("personalToken" = [])),
    responses(
        (status = 200, description = "The agents, by name", body = Vec<AgentRow>),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
pub async fn agents(
    State(state): State<AppState>,
    person: Person,
) -> Result<Json<Vec<AgentRow>>, AppError> {
    person.may(Role::can_see, "see agents")?;
    let rows = app::agents::store::list(&state.db).await?;
    Ok(Json(rows.into_iter().map(with_rfc3339).collect()))
}

/// An agent with its record.
#[derive(Serialize, ToSchema)]
pub struct AgentWithRecord {
    pub agent: AgentRow,
    /// Metrics over 7/30/90 days, readiness for the next stage, promotion reviews.
    pub record: RecordData,
    /// Its latest requests, drafts and refusals included.
    pub recent: Vec<RecentRequest>,
}

/// One agent and its record
///
/// Times inside `record` are UTC as the pages show them (`2026-11-23 20:41:07 UTC`).
#[utoipa::path(
    get,
    path = "/review/agents/{id}",
    tag = "oversight",
    operation_id = "getAgent",
    security(("personalToken" = [])),
    params(("id" = String, Path, description = "The agent's id.")),
    responses(
        (status = 200, description = "The agent", body = AgentWithRecord),
        (status = 400, response = ProblemAnswer),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 404, response = ProblemAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
pub async fn agent(
    State(state): State<AppState>,
    person: Person,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<AgentWithRecord>, AppError> {
    let user = person.may(Role::can_see, "see agents")?;
    let id = path_id(id)?;
    let detail = app::agents::store::get(&state.db, &id).await?;
    let record = record_data::load(&state, user, &id).await?;
    let recent = detail
        .recent
        .into_iter()
        .map(|r| RecentRequest {
            created_at: rfc3339_of(&r.created_at),
            ..r
        })
        .collect();
    Ok(Json(AgentWithRecord {
        agent: with_rfc3339(detail.agent),
        record,
        recent,
    }))
}

fn with_rfc3339(a: AgentRow) -> AgentRow {
    AgentRow {
        created_at: rfc3339_of(&a.created_at),
        ..a
    }
}

/// Promotion reviews
///
/// Open reviews first, then the latest closed ones (at most 100).
#[utoipa::path(
    get,
    path = "/review/promotions",
    tag = "oversight",
    operation_id = "listPromotionReviews",
    security(("personalToken" = [])),
    responses(
        (status = 200, description = "The reviews", body = Vec<ReviewRow>),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
pub async fn promotions(
    State(state): State<AppState>,
    person: Person,
) -> Result<Json<Vec<ReviewRow>>, AppError> {
    person.may(Role::can_see, "see promotion reviews")?;
    Ok(Json(promotion::list(&state, None).await?))
}

/// One promotion review
///
/// With its frozen snapshot, the votes so far, and why the caller may not vote or approve, if they may not.
#[utoipa::path(
    get,
    path = "/review/promotions/{id}",
    tag = "oversight",
    operation_id = "getPromotionReview",
    security(("personalToken" = [])),
    params(("id" = String, Path, description = "The review's id.")),
    responses(
        (status = 200, description = "The review", body = ReviewDetail),
        (status = 400, response = ProblemAnswer),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
        (status = 404, response = ProblemAnswer),
        (status = 429, response = TooManyRequestsAnswer),
    )
)]
pub async fn promotion(
    State(state): State<AppState>,
    person: Person,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ReviewDetail>, AppError> {
    let user = person.may(Role::can_see, "see promotion reviews")?;
    let id = path_id(id)?;
    Ok(Json(promotion::get(&state, user, &id).await?))
}

/// A lead's approval of a promotion review.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveVote {
    /// Why, for the record.
    #[schema(schema_with = reason)]
    reason: String,
    /// Approving against unmet readiness criteria, or across stages, needs this (422 without).
    #[serde(default)]
    #[schema(schema_with = override_reason)]
    override_reason: Option<String>,
}

/// A lead's rejection of a promotion review.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectVote {
    /// Why, for the record.
    #[schema(schema_with = reason)]
    reason: String,
}

fn reason() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    app::openapi::text(false, 4000)
}

fn override_reason() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    app::openapi::text(true, 4000)
}

/// Approve a promotion review
///
/// Leads and admins, with a decide token; never the lead who opened it nor the agent's sponsor. The approval that completes the count applies the promotion.
#[utoipa::path(
    post,
    path = "/review/promotions/{id}/approve",
    tag = "oversight",
    operation_id = "approvePromotionReview",
    security(("personalToken" = [])),
    params(("id" = String, Path, description = "The review's id.")),
    request_body(content = ApproveVote, content_type = "application/json"),
    responses(
        (status = 200, description = "The review after the vote", body = ReviewDetail),
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
pub async fn approve_promotion(
    State(state): State<AppState>,
    Decider(person): Decider,
    id: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<ApproveVote>,
) -> Result<Json<ReviewDetail>, AppError> {
    let ballot = Ballot::Approve {
        reason: body.reason,
        override_reason: body.override_reason,
    };
    vote(&state, &person, id, ballot).await
}

/// Reject a promotion review
///
/// Leads and admins, with a decide token; the agent's sponsor may reject. One rejection closes it.
#[utoipa::path(
    post,
    path = "/review/promotions/{id}/reject",
    tag = "oversight",
    operation_id = "rejectPromotionReview",
    security(("personalToken" = [])),
    params(("id" = String, Path, description = "The review's id.")),
    request_body(content = RejectVote, content_type = "application/json"),
    responses(
        (status = 200, description = "The review, rejected", body = ReviewDetail),
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
pub async fn reject_promotion(
    State(state): State<AppState>,
    Decider(person): Decider,
    id: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<RejectVote>,
) -> Result<Json<ReviewDetail>, AppError> {
    let ballot = Ballot::Reject {
        reason: body.reason,
    };
    vote(&state, &person, id, ballot).await
}

async fn vote(
    state: &AppState,
    person: &Person,
    id: Result<Path<String>, PathRejection>,
    ballot: Ballot,
) -> Result<Json<ReviewDetail>, AppError> {
    let user = person.may(Role::can_manage_agents, "decide promotion reviews")?;
    let id = path_id(id)?;
    // Only a promotion review here (another change request is 404).
    promotion::get(state, user, &id).await?;
    decide::vote(state, user, &id, ballot).await?;
    Ok(Json(promotion::get(state, user, &id).await?))
}
