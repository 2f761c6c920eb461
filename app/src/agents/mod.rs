//! Agents: registration, API keys, and their pages.

mod pages;
#[cfg(feature = "ssr")]
pub mod stage;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::{AgentPage, AgentsPage};

use crate::error::AppError;
use crate::policy::Stage;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = AgentSummary))]
pub struct AgentRow {
    pub id: String,
    pub name: String,
    pub purpose: String,
    pub sponsor: String,
    pub status: String,
    pub stage: Stage,
    pub created_at: String,
    pub active_keys: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRow {
    pub id: String,
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    /// `active`, `revoked` or `expired`.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentDetail {
    pub agent: AgentRow,
    pub keys: Vec<KeyRow>,
    /// Catalog names, for the grant form.
    pub capabilities: Vec<String>,
    /// The agent's latest requests, drafts and refusals included.
    pub recent: Vec<RecentRequest>,
    /// Whether the viewer may change keys and scope.
    pub can_manage: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = AgentRequest))]
pub struct RecentRequest {
    pub id: String,
    pub capability: String,
    pub summary: String,
    pub state: crate::actions::RequestState,
    pub created_at: String,
}

/// A freshly issued key. `secret` is shown once and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedKey {
    pub key_id: String,
    pub prefix: String,
    pub secret: String,
}

#[server(prefix = "/rpc", endpoint = "agents/list")]
pub async fn list_agents() -> Result<Vec<AgentRow>, AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see agents").await?;
        store::list(&state.db).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "agents/get")]
pub async fn get_agent(id: String) -> Result<AgentDetail, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see agents").await?;
        let mut detail = store::get(&state.db, &id).await?;
        detail.can_manage = user.role.can_manage_agents();
        Ok(detail)
    })
    .await
}

/// Who may sponsor an agent, for the registration form; `None` for people
/// who may not register agents (the page then leaves the form out).
#[server(prefix = "/rpc", endpoint = "agents/sponsors")]
pub async fn list_sponsors() -> Result<Option<Vec<String>>, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see agents").await?;
        if !user.role.can_manage_agents() {
            return Ok(None);
        }
        crate::auth::users::list_usernames(&state.db)
            .await
            .map(Some)
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "agents/create")]
pub async fn create_agent(
    name: String,
    purpose: String,
    sponsor: String,
    stage: String,
    #[server(default)] reason: String,
) -> Result<(AgentRow, Option<crate::change::Proposed>), AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_manage_agents, "manage agents")
                .await?;
        let stage = Stage::parse(&stage).map_err(AppError::Validation)?;
        stage::create(
            &state.db,
            &user,
            store::NewAgent {
                name: &name,
                purpose: &purpose,
                sponsor: &sponsor,
                stage,
            },
            &reason,
        )
        .await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "agents/issue_key")]
pub async fn issue_key(agent_id: String, expires_in_days: String) -> Result<IssuedKey, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_manage_agents, "manage agents")
                .await?;
        let expires_at = parse_expiry_days(&expires_in_days)?
            .map(|days| crate::db::now_ms() + i64::from(days) * 86_400_000);
        store::issue_key(
            &state.db,
            &crate::audit::Actor::User(user.id),
            &agent_id,
            expires_at,
        )
        .await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "agents/revoke_key")]
pub async fn revoke_key(key_id: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_manage_agents, "manage agents")
                .await?;
        store::revoke_key(&state.db, &crate::audit::Actor::User(user.id), &key_id).await
    })
    .await
}

/// Key lifetime from a form: blank means no expiry, otherwise 1–3650 days.
pub fn parse_expiry_days(raw: &str) -> Result<Option<u32>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<u32>() {
        Ok(days) if (1..=3650).contains(&days) => Ok(Some(days)),
        _ => Err(AppError::validation(
            "key lifetime is a whole number of days from 1 to 3650, or blank for no expiry",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_expiry_days;

    #[test]
    fn key_lifetimes_are_blank_or_whole_days() {
        assert_eq!(parse_expiry_days(" "), Ok(None));
        assert_eq!(parse_expiry_days("30"), Ok(Some(30)));
        assert!(parse_expiry_days("0").is_err());
        assert!(parse_expiry_days("-1").is_err());
        assert!(parse_expiry_days("3651").is_err());
        assert!(parse_expiry_days("soon").is_err());
    }
}
