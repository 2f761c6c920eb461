//! The REST API (`/api/v1`): the agent API per the contract in PRODUCT.md,
//! and the reviewer API for people with personal access tokens (`review`).

mod actions;
pub(crate) mod agent_auth;
mod answers;
mod doc;
mod json;
pub mod quota;
mod review;
mod runs;

use agent_auth::Agent;
use answers::{ProblemAnswer, UnauthorizedAnswer};
use app::actions::commit::Committer;
use app::error::AppError;
use app::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::{Json, Router};
use std::sync::LazyLock;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest request body the API reads; bigger ones get 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Every operation, each registered with its own OpenAPI description, so
/// the router and the document cannot disagree on what is served.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(doc::ApiDoc::openapi())
        .routes(routes!(openapi))
        .routes(routes!(me))
        .routes(routes!(actions::submit))
        .routes(routes!(actions::get))
        .routes(routes!(actions::cancel))
        .routes(routes!(actions::claim))
        .routes(routes!(actions::outcome))
        .routes(routes!(actions::add_evidence))
        .merge(review::routes())
        .routes(routes!(runs::record_event))
        .routes(routes!(runs::get_run))
        .routes(routes!(runs::get_event))
}

/// The agent API; `writer` decides and records every submission, and
/// `quotas` counts each agent's submissions a minute (shared with the MCP
/// gateway, so an agent has one rate whichever door it uses).
pub fn router(writer: Committer, quotas: std::sync::Arc<quota::Quotas>) -> Router<AppState> {
    let (router, _) = routes().split_for_parts();
    router
        .fallback(|| async { AppError::NotFound("no such API endpoint".into()) })
        .method_not_allowed_fallback(|| async {
            AppError::MethodNotAllowed("this endpoint does not take that method".into())
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::Extension(writer))
        .layer(axum::Extension(quotas))
}

/// The OpenAPI 3.1 document of the agent API, as served at
/// `/api/v1/openapi.json` and checked in beside this file (`make openapi`
/// writes it). Panics if `openapi_rules.json` no longer fits the generated
/// document, which the tests catch before anyone serves it.
pub fn document() -> String {
    let (_, generated) = routes().split_for_parts();
    let (mut doc, stale) = doc::complete(&generated);
    assert!(stale.is_empty(), "openapi_rules.json is stale: {stale:?}");
    doc::bound_wait(&mut doc);
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

static DOCUMENT: LazyLock<String> = LazyLock::new(document);

/// This document
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "contract",
    operation_id = "getOpenApi",
    security(()),
    responses((status = 200, description = "OpenAPI 3.1", body = Object, content_type = "application/json"))
)]
async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

/// The calling agent
///
/// Its identity, stage and status, and its scope: for each granted
/// capability the stage that applies, what pauses it, and its limits.
#[utoipa::path(
    get,
    path = "/me",
    tag = "agent",
    operation_id = "getMe",
    responses(
        (status = 200, description = "The agent", body = app::scope::me::Me),
        (status = 401, response = UnauthorizedAnswer),
        (status = 403, response = ProblemAnswer),
    )
)]
async fn me(
    axum::extract::State(state): axum::extract::State<AppState>,
    Agent(agent): Agent,
) -> Result<Json<app::scope::me::Me>, AppError> {
    Ok(Json(
        app::scope::me::me(&state, &agent.agent_id, &agent.name).await?,
    ))
}

#[cfg(test)]
mod tests {
    /// The document checked in beside this file is the one the code
    /// generates, so a change to the contract shows up in review.
    #[test]
    fn the_checked_in_openapi_document_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/openapi.json");
        let generated = super::document();
        if std::env::var_os("BELAY_WRITE_OPENAPI").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "server/src/api/openapi.json is not the document the code generates: \
             run `make openapi` and review the diff"
        );
    }
}
