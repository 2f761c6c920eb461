//! The reviewer and lead API (`/api/v1/review/...`): what a person does in
//! the browser — the queue, a request and its evidence, approve (with
//! edits) and reject, agents and their record, promotion reviews — as JSON
//! for their own tools, through personal access tokens (`app::tokens`).
//! Every handler calls the service the browser's server functions call,
//! so no rule differs between the two doors.

mod oversight;
mod person;
mod requests;
mod views;

use app::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The reviewer API's operations, each with its OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(oversight::me))
        .routes(routes!(requests::list))
        .routes(routes!(requests::get))
        .routes(routes!(requests::approve))
        .routes(routes!(requests::reject))
        .routes(routes!(requests::evidence))
        .routes(routes!(oversight::agents))
        .routes(routes!(oversight::agent))
        .routes(routes!(oversight::promotions))
        .routes(routes!(oversight::promotion))
        .routes(routes!(oversight::approve_promotion))
        .routes(routes!(oversight::reject_promotion))
}
