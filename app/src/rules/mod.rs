//! Policy rules in the browser: leads edit them (each save is a new
//! version) and anyone signed in can simulate a decision.

mod pages;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::{PolicyPage, SimulatePage};

use crate::error::AppError;
use crate::policy::{Outcome, RuleKey, Stage};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRow {
    pub key: RuleKey,
    pub about: String,
    pub approvals: u8,
    /// Like "24h".
    pub wait: String,
    pub always_approve: bool,
    /// The agent's sponsor may be an approver (never by default).
    pub sponsor_may_approve: bool,
    /// How long an approval stays good, like "1h".
    pub claim: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRow {
    pub version: i64,
    pub note: String,
    pub by: Option<String>,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    pub version: i64,
    pub rules: Vec<RuleRow>,
    pub history: Vec<VersionRow>,
    pub can_edit: bool,
}

#[server(prefix = "/rpc", endpoint = "policy/current")]
pub async fn current_policy() -> Result<PolicyView, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see the policy").await?;
        let mut view = store::current(&state.db).await?;
        view.can_edit = user.role.can_manage_agents();
        Ok(view)
    })
    .await
}

/// Saves the edited rules as a new version. `base_version` is the version
/// the form showed: if someone saved since, this answers 409 rather than
/// silently overwriting their change. Rules that hold less wait for another
/// lead (the note is the reason they read). `fields` holds `approvals-<key>`,
/// `wait-<key>` and (checked boxes only) `always-<key>` and `sponsor-<key>`.
#[server(prefix = "/rpc", endpoint = "policy/save")]
pub async fn save_policy(
    base_version: i64,
    note: String,
    fields: HashMap<String, String>,
) -> Result<crate::change::Saved<i64>, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_manage_agents, "change the policy")
                .await?;
        let rules = store::parse_fields(&fields)?;
        store::save(&state.db, &user, base_version, &note, &rules).await
    })
    .await
}

/// What Belay would decide, and why, without recording anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Simulation {
    pub agent_name: String,
    pub capability: String,
    pub outcome: Outcome,
    pub reasons: Vec<String>,
    pub policy_version: i64,
    pub stage: Stage,
    pub approvals_required: u8,
    pub wait: Option<String>,
}

/// Agents to pick from, by (id, name).
#[server(prefix = "/rpc", endpoint = "policy/simulate_choices")]
pub async fn simulate_choices() -> Result<(Vec<(String, String)>, Vec<String>), AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_see, "simulate decisions").await?;
        store::choices(&state.db).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "policy/simulate")]
pub async fn simulate(
    agent_id: String,
    capability: String,
    target: String,
    params: String,
) -> Result<Simulation, AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_see, "simulate decisions").await?;
        store::simulate(&state, &agent_id, &capability, &target, &params).await
    })
    .await
}
