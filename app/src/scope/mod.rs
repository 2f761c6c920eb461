//! Scope grants: the capabilities an agent may use, each with optional
//! limits and a per-capability stage. Leads manage them on the agent's page.

// Server functions take one argument per form field; the grant form has eight.
#![allow(clippy::too_many_arguments)]

#[cfg(feature = "ssr")]
pub mod form;
#[cfg(feature = "ssr")]
pub mod me;
mod pages;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::GrantsPanel;

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A grant as the pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantView {
    pub capability: String,
    /// Per-capability stage, when it differs from the agent's.
    pub stage: Option<crate::policy::Stage>,
    pub max_per_hour: Option<u32>,
    /// One bound per line, e.g. `amount <= 500`.
    pub bounds: Vec<String>,
    /// One per line; a trailing `*` makes a prefix.
    pub targets: Vec<String>,
    /// `YYYY-MM-DD` (UTC), the first day the grant no longer applies.
    pub expires_on: Option<String>,
    pub expired: bool,
}

/// The form's fields, as typed. Parsed by `store::parse_form`. A change
/// request stores it without the capability (its subject).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GrantForm {
    pub capability: String,
    /// Blank: the agent's own stage.
    pub stage: String,
    /// Blank: no hourly limit.
    pub max_per_hour: String,
    /// Newline-separated bounds.
    pub bounds: String,
    /// Newline-separated targets.
    pub targets: String,
    /// Blank or `YYYY-MM-DD`.
    pub expires_on: String,
}

#[server(prefix = "/rpc", endpoint = "scope/list")]
pub async fn list_grants(agent_id: String) -> Result<Vec<GrantView>, AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see agents").await?;
        store::list(&state.db, &agent_id).await
    })
    .await
}

/// Creates or replaces the agent's grant for one capability. One that
/// widens the agent's scope waits for another lead (`Saved::Proposed`).
#[server(prefix = "/rpc", endpoint = "scope/save")]
pub async fn save_grant(
    agent_id: String,
    capability: String,
    stage: String,
    max_per_hour: String,
    bounds: String,
    targets: String,
    expires_on: String,
    #[server(default)] reason: String,
) -> Result<crate::change::Saved<GrantView>, AppError> {
    crate::error::respond(async move {
        let form = GrantForm {
            capability,
            stage,
            max_per_hour,
            bounds,
            targets,
            expires_on,
        };
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_manage_agents, "grant scope")
                .await?;
        store::save(&state.db, &user, &agent_id, &form, &reason).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "scope/remove")]
pub async fn remove_grant(agent_id: String, capability: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_manage_agents, "remove scope")
                .await?;
        store::remove(&state.db, &user, &agent_id, &capability).await
    })
    .await
}
