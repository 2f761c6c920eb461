//! Action requests: what agents submit and reviewers decide.

#[cfg(feature = "ssr")]
pub mod agent_view;
#[cfg(feature = "ssr")]
pub mod claim;
#[cfg(feature = "ssr")]
pub mod commit;
#[cfg(feature = "ssr")]
mod commit_audit;
#[cfg(feature = "ssr")]
mod commit_batch;
#[cfg(feature = "ssr")]
mod commit_write;
#[cfg(feature = "ssr")]
pub mod correction;
#[cfg(feature = "ssr")]
pub mod execute;
#[cfg(feature = "ssr")]
pub mod idempotency;
pub mod model;
mod pages;
#[cfg(feature = "ssr")]
pub mod queue;
mod queue_guard;
mod queue_keys;
mod queue_page;
mod queue_table;
#[cfg(feature = "ssr")]
pub mod record;
#[cfg(feature = "ssr")]
pub mod rehash;
#[cfg(feature = "ssr")]
pub mod review;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod submission;

pub use model::{
    ActionDetail, HistoryRow, QueueFacets, QueueFilter, QueuePage, QueueRow, Record, RequestState,
};
use serde::{Deserialize, Serialize};

/// What the request page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionPageData {
    pub action: ActionDetail,
    /// The signed-in person's role may decide requests.
    pub can_decide: bool,
    /// The rules in force let the agent's sponsor approve this request.
    pub sponsor_may_approve: bool,
    /// They sponsor this agent, and the rules do not let them approve.
    pub sponsor_barred: bool,
    pub record: Record,
}
pub use pages::{ActionPage, StateBadge};
pub use queue_page::ApprovalsPage;

use crate::error::AppError;
use leptos::prelude::*;

/// One page of the approval queue, narrowed by the filters that are set.
/// Empty strings count as unset (that is what an unselected `<select>` sends).
#[server(prefix = "/rpc", endpoint = "approvals/queue")]
pub async fn fetch_queue(
    agent: Option<String>,
    capability: Option<String>,
    held_for: Option<String>,
    stage: Option<String>,
    after: Option<String>,
) -> Result<QueuePage, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see approval requests")
                .await?;
        let filter = QueueFilter::parse(agent, capability, held_for, stage)?;
        let after = queue::cursor(after)?;
        queue::page(&state, &filter, after.as_ref(), &user.id).await
    })
    .await
}

/// What the queue's filters can be set to.
#[server(prefix = "/rpc", endpoint = "approvals/facets")]
pub async fn fetch_queue_facets() -> Result<QueueFacets, AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see approval requests")
                .await?;
        queue::facets(&state.db).await
    })
    .await
}

/// What the signed-in reviewer approved or rejected.
#[server(prefix = "/rpc", endpoint = "approvals/mine")]
pub async fn decided_by_me() -> Result<Vec<HistoryRow>, AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_decide_actions,
            "decide approval requests",
        )
        .await?;
        queue::decided_by(&state.db, &user.id).await
    })
    .await
}

/// One request, what the signed-in person may do with it, and the agent's
/// record with this capability.
#[server(prefix = "/rpc", endpoint = "approvals/get")]
pub async fn get_action(id: String) -> Result<ActionPageData, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see approval requests")
                .await?;
        review::page_data(&state, &user, &id).await
    })
    .await
}

/// Approves the request as the reviewer saw it (`seen`: its payload hash).
/// `params`, when given and different, is the reviewer's edit: validated,
/// stored as a correction, and what the agent will carry out.
#[server(prefix = "/rpc", endpoint = "approvals/approve")]
pub async fn approve_action(
    id: String,
    seen: String,
    params: Option<String>,
) -> Result<ActionDetail, AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_decide_actions,
            "decide approval requests",
        )
        .await?;
        let edited = match params.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(serde_json::from_str(text).map_err(|e| {
                AppError::Validation(format!("the edited params are not valid JSON: {e}"))
            })?),
        };
        review::decide_request(
            &state,
            &user,
            &id,
            &seen,
            review::Verdict::Approve { edited },
        )
        .await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "approvals/reject")]
pub async fn reject_action(
    id: String,
    seen: String,
    reason: String,
) -> Result<ActionDetail, AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_decide_actions,
            "decide approval requests",
        )
        .await?;
        review::decide_request(
            &state,
            &user,
            &id,
            &seen,
            review::Verdict::Reject { reason },
        )
        .await
    })
    .await
}
