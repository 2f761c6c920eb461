//! The agent REST API (`/api/v1`), per the contract in PRODUCT.md.

mod actions;
pub(crate) mod agent_auth;
mod json;
pub mod quota;

use agent_auth::Agent;
use app::actions::commit::Committer;
use app::error::AppError;
use app::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};

/// Largest request body the API reads; bigger ones get 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The agent API; `writer` decides and records every submission, and
/// `quotas` counts each agent's submissions a minute (shared with the MCP
/// gateway, so an agent has one rate whichever door it uses).
pub fn router(writer: Committer, quotas: std::sync::Arc<quota::Quotas>) -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/me", get(me))
        .route("/actions", post(actions::submit))
        .route("/actions/{id}", get(actions::get))
        .route("/actions/{id}/cancel", post(actions::cancel))
        .route("/actions/{id}/claim", post(actions::claim))
        .route("/actions/{id}/outcome", post(actions::outcome))
        .route("/actions/{id}/evidence", post(actions::add_evidence))
        .fallback(|| async { AppError::NotFound("no such API endpoint".into()) })
        .method_not_allowed_fallback(|| async {
            AppError::MethodNotAllowed("this endpoint does not take that method".into())
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::Extension(writer))
        .layer(axum::Extension(quotas))
}

/// The machine-readable contract of what this API serves today.
async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}

/// The calling agent: identity, stage, status, and its scope with limits.
async fn me(
    axum::extract::State(state): axum::extract::State<AppState>,
    Agent(agent): Agent,
) -> Result<Json<app::scope::me::Me>, AppError> {
    Ok(Json(
        app::scope::me::me(&state, &agent.agent_id, &agent.name).await?,
    ))
}
