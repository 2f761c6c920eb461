//! What a lead's MCP page shows and the server functions behind it (thin:
//! the guard, parsing with the CLI's own rules, one call into the store).
//! A tool's risk triggers are its catalog entry's, edited with the
//! catalog's own server function (`catalog/save`).

use crate::catalog::CapabilityRow;
use crate::error::AppError;
use crate::policy::Stage;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// An agent's upstreams, as its MCP page shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpOverview {
    pub agent_id: String,
    pub agent_name: String,
    pub stage: Stage,
    pub upstreams: Vec<UpstreamView>,
    /// Whether the viewer may register, refresh and remove upstreams.
    pub can_manage: bool,
    /// Seconds the gateway holds a call that needs approval.
    pub wait_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamView {
    pub id: String,
    pub name: String,
    /// `stdio` (a command Belay starts) or `http` (Streamable HTTP).
    pub transport: String,
    /// The command, or the URL and where its token is read (never a token).
    pub endpoint: String,
    pub tools: Vec<ToolView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolView {
    /// The name the agent calls it by through Belay.
    pub exposed: String,
    pub tool: String,
    pub description: String,
    /// The upstream's annotations, in words (`read-only`, `destructive`...).
    pub hints: Vec<String>,
    pub capability: String,
    /// The catalog entry; None: not in the catalog (treated as high risk).
    pub entry: Option<CapabilityRow>,
    /// An open change request that would add the entry.
    pub proposal: Option<String>,
    /// `allowed`, `pending_approval`, `drafted` or `denied`, now.
    pub outcome: String,
    /// What Belay does with a call now, in words.
    pub belay: String,
}

/// What registering or refreshing did, tool by tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredRow {
    pub tool: String,
    pub capability: String,
    /// `added`, `kept` (the catalog had it) or `proposed` (a second lead
    /// approves the new entry: `proposal`).
    pub entry: String,
    pub proposal: Option<String>,
}

#[server(prefix = "/rpc", endpoint = "mcp/get")]
pub async fn get_mcp(agent_id: String) -> Result<McpOverview, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see agents").await?;
        let wait = super::overview::connector()?.wait_secs;
        let mut view = super::overview::load(&state, &agent_id, wait).await?;
        view.can_manage = user.role.can_manage_agents();
        Ok(view)
    })
    .await
}

/// Registers a Streamable HTTP upstream for the agent. `token_from` is
/// `none`, `env` or `file`; `token_source` the variable's name or the
/// file's path (never a token).
#[server(prefix = "/rpc", endpoint = "mcp/add")]
pub async fn add_mcp_upstream(
    agent_id: String,
    name: String,
    url: String,
    token_from: String,
    #[server(default)] token_source: String,
    #[server(default)] reason: String,
) -> Result<Vec<RegisteredRow>, AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_manage_agents,
            "register MCP upstreams",
        )
        .await?;
        use super::endpoint::{parse_url, BearerFrom, Endpoint};
        let upstream = super::UpstreamName::parse(&name)?;
        let endpoint = Endpoint::Http {
            url: parse_url(&url)?,
            bearer: BearerFrom::for_lead(&token_from, &token_source)?,
        };
        let known = super::store::for_agent(&state.db, &agent_id).await?;
        if known.iter().any(|u| u.name == upstream.as_str()) {
            return Err(AppError::Conflict(format!(
                "the agent already has an upstream named {}: refresh it or remove it first",
                upstream.as_str()
            )));
        }
        super::overview::register(&state, &user, &agent_id, &upstream, &endpoint, &reason).await
    })
    .await
}

/// Lists the upstream's tools again and registers them (new tools get
/// catalog entries; tools it no longer lists leave the agent's list).
#[server(prefix = "/rpc", endpoint = "mcp/refresh")]
pub async fn refresh_mcp_upstream(
    agent_id: String,
    upstream_id: String,
    #[server(default)] reason: String,
) -> Result<Vec<RegisteredRow>, AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_manage_agents,
            "refresh MCP upstreams",
        )
        .await?;
        let known = super::store::for_agent(&state.db, &agent_id).await?;
        let up = known
            .into_iter()
            .find(|u| u.id == upstream_id)
            .ok_or_else(|| AppError::NotFound("this agent has no such upstream".into()))?;
        let upstream = super::UpstreamName::parse(&up.name)?;
        super::overview::register(&state, &user, &agent_id, &upstream, &up.endpoint, &reason).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "mcp/remove")]
pub async fn remove_mcp_upstream(agent_id: String, upstream_id: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_manage_agents,
            "remove MCP upstreams",
        )
        .await?;
        super::removal::remove(&state.db, &user, &agent_id, &upstream_id).await
    })
    .await
}
