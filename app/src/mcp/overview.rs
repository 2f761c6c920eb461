//! The lead's MCP page, server side: an agent's upstreams with each tool's
//! catalog entry and what Belay does with a call now; and registering (or
//! listing again) an upstream's tools as a lead.

use super::at_stage::Asker;
use super::endpoint::Endpoint;
use super::store::{self, By};
use super::{McpOverview, RegisteredRow, ToolView, UpstreamName, UpstreamView};
use crate::auth::UserView;
use crate::error::AppError;
use crate::state::AppState;
use sqlx::Row;
use std::collections::HashMap;

pub async fn load(
    state: &AppState,
    agent_id: &str,
    wait_secs: u64,
) -> Result<McpOverview, AppError> {
    let agent = crate::agents::store::get(&state.db, agent_id).await?.agent;
    let upstreams = store::for_agent(&state.db, agent_id).await?;
    let catalog: HashMap<String, crate::catalog::CapabilityRow> =
        crate::catalog::store::list(&state.db)
            .await?
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect();
    let proposals: HashMap<String, String> = sqlx::query(
        "SELECT id, subject FROM change_requests WHERE kind = 'capability' AND state = 'open'",
    )
    .fetch_all(&state.db)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("subject")?, r.try_get("id")?)))
    .collect::<Result<_, sqlx::Error>>()?;
    let mut asker = Asker::new(state, wait_secs).await?;
    let prefix = upstreams.len() > 1;
    let mut out = Vec::new();
    for u in &upstreams {
        let mut tools = Vec::new();
        for t in &u.tools {
            let (outcome, belay) = asker.ask(agent_id, &t.capability, &u.name).await;
            tools.push(ToolView {
                exposed: if prefix {
                    format!("{}__{}", u.name, t.tool)
                } else {
                    t.tool.clone()
                },
                tool: t.tool.clone(),
                description: t.definition["description"]
                    .as_str()
                    .unwrap_or_default()
                    .chars()
                    .take(400)
                    .collect(),
                hints: hints(&t.definition["annotations"]),
                capability: t.capability.clone(),
                entry: catalog.get(&t.capability).cloned(),
                proposal: proposals.get(&t.capability).cloned(),
                outcome: outcome.as_str().to_string(),
                belay,
            });
        }
        out.push(UpstreamView {
            id: u.id.clone(),
            name: u.name.clone(),
            transport: match u.endpoint {
                Endpoint::Stdio(_) => "stdio".into(),
                Endpoint::Http { .. } => "http".into(),
            },
            endpoint: u.endpoint.to_string(),
            tools,
        });
    }
    Ok(McpOverview {
        agent_id: agent.id,
        agent_name: agent.name,
        stage: agent.stage,
        upstreams: out,
        can_manage: false,
        wait_secs,
    })
}

/// The annotations an upstream gave a tool, in words; none given says so
/// (Belay then reads every hint the riskier way).
fn hints(a: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for (key, yes, no) in [
        ("readOnlyHint", "read-only", "writes"),
        ("destructiveHint", "destructive", "additive only"),
        ("openWorldHint", "open world", "closed world"),
    ] {
        match a[key].as_bool() {
            Some(true) => out.push(yes.to_string()),
            Some(false) => out.push(no.to_string()),
            None => {}
        }
    }
    if out.is_empty() {
        out.push("no annotations".into());
    }
    out
}

/// Lists the upstream's tools (connecting to it from the server) and
/// registers them as `user`.
pub async fn register(
    state: &AppState,
    user: &UserView,
    agent_id: &str,
    upstream: &UpstreamName,
    endpoint: &Endpoint,
    reason: &str,
) -> Result<Vec<RegisteredRow>, AppError> {
    let connector = connector()?;
    let agent = crate::agents::store::get(&state.db, agent_id).await?.agent;
    let tools = connector.list_tools(endpoint).await?;
    let by = By::Lead { user, reason };
    let done = store::register(&state.db, &by, &agent.name, upstream, endpoint, tools).await?;
    Ok(done
        .into_iter()
        .map(|t| RegisteredRow {
            entry: match (&t.proposal, t.added) {
                (Some(_), _) => "proposed",
                (None, true) => "added",
                (None, false) => "kept",
            }
            .into(),
            tool: t.tool,
            capability: t.capability,
            proposal: t.proposal,
        })
        .collect())
}

/// The server's MCP connector; missing only if the server did not provide
/// it, and then nothing is registered (fail closed).
#[cfg(feature = "ssr")]
pub(super) fn connector() -> Result<super::Connector, AppError> {
    leptos::prelude::use_context::<super::Connector>().ok_or_else(|| {
        tracing::error!("the MCP connector is missing from the server function context");
        AppError::Internal
    })
}
