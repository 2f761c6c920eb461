//! Action requests: what agents submit and reviewers decide.

#[cfg(feature = "ssr")]
pub mod commit;
pub mod model;
mod pages;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod submission;

pub use model::{ActionDetail, QueueRow, State};
pub use pages::{ActionPage, ApprovalsPage};

use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
async fn reviewer() -> Result<(crate::state::AppState, crate::auth::UserView), AppError> {
    let state = crate::state::app_state()?;
    let user = crate::auth::session::require(
        &state,
        crate::auth::Role::can_decide_actions,
        "decide approval requests",
    )
    .await?;
    Ok((state, user))
}

/// The queue of pending requests, and the server's clock for showing ages.
#[server(prefix = "/rpc", endpoint = "approvals/pending")]
pub async fn pending_actions() -> Result<(Vec<QueueRow>, i64), AppError> {
    crate::error::respond(async move {
        let state = crate::state::app_state()?;
        crate::auth::session::require(&state, |_| true, "see approval requests").await?;
        Ok((service::pending(&state).await?, crate::db::now_ms()))
    })
    .await
}

/// One request, and whether the signed-in person may decide it.
#[server(prefix = "/rpc", endpoint = "approvals/get")]
pub async fn get_action(id: String) -> Result<(ActionDetail, bool), AppError> {
    crate::error::respond(async move {
        let state = crate::state::app_state()?;
        let user = crate::auth::session::require(&state, |_| true, "see approval requests").await?;
        let action = service::get_for_reviewer(&state, &id).await?;
        Ok((action, user.role.can_decide_actions()))
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "approvals/approve")]
pub async fn approve_action(id: String) -> Result<ActionDetail, AppError> {
    crate::error::respond(async move {
        let (state, user) = reviewer().await?;
        service::decide(&state, &user, &id, service::Verdict::Approve).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "approvals/reject")]
pub async fn reject_action(id: String, reason: String) -> Result<ActionDetail, AppError> {
    crate::error::respond(async move {
        let (state, user) = reviewer().await?;
        service::decide(&state, &user, &id, service::Verdict::Reject { reason }).await
    })
    .await
}
