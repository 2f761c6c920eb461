//! The MCP server an agent's client talks to: its upstreams' tools, each
//! described with what Belay will do with a call at the agent's stage, and
//! every call handed to the rule book (`call.rs`).

use super::call::{self, Gate};
use super::Caller;
use app::auth::agent;
use app::error::AppError;
use app::mcp::store::{self, Tool as Mapped, Upstream};
use app::policy::facts::decide_now;
use app::policy::{Outcome, Request};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::sync::Arc;
use tracing::Instrument;

/// One MCP session's handler; everything it holds is shared.
#[derive(Clone)]
pub struct Gateway {
    pub gate: Gate,
    /// Over stdio, the agent's key (there are no HTTP requests to carry
    /// one); checked afresh on every request, as the HTTP guard does.
    pub key: Option<Arc<String>>,
}

impl Gateway {
    /// The caller of this request: as the HTTP guard authenticated it, or,
    /// over stdio, the key given at start, checked now.
    async fn caller(&self, ctx: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
        let guarded = ctx
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<Caller>())
            .cloned();
        match (guarded, &self.key) {
            (Some(caller), _) => Ok(caller),
            (None, Some(key)) => match agent::authenticate(&self.gate.state, key).await {
                Ok(agent) => Ok(Caller {
                    agent,
                    key_hash: app::auth::keys::hash(key),
                }),
                Err(e) => Err(ErrorData::invalid_request(e.to_string(), None)),
            },
            (None, None) => Err(ErrorData::internal_error(
                "the request was not authenticated",
                None,
            )),
        }
    }
}

fn internal(e: AppError) -> ErrorData {
    tracing::error!(error = %e, "the MCP gateway failed");
    ErrorData::internal_error("Belay could not answer; the error was logged", None)
}

/// The tools as the agent sees them: under their own names, or, when the
/// agent has several upstreams, as `<upstream>__<tool>` so none collide.
fn exposed(upstreams: &[Upstream]) -> Vec<(String, &Upstream, &Mapped)> {
    let prefix = upstreams.len() > 1;
    upstreams
        .iter()
        .flat_map(|u| {
            u.tools.iter().map(move |t| {
                let name = if prefix {
                    format!("{}__{}", u.name, t.tool)
                } else {
                    t.tool.clone()
                };
                (name, u, t)
            })
        })
        .collect()
}

impl Gateway {
    async fn tools(&self, caller: &Caller) -> Result<Vec<Tool>, AppError> {
        let state = &self.gate.state;
        let upstreams = store::for_agent(&state.db, &caller.agent.agent_id).await?;
        let mut conn = state.db.acquire().await?;
        let index = state.policy.current(&mut conn).await?;
        let empty = serde_json::json!({});
        let mut out = Vec::new();
        for (name, up, mapped) in exposed(&upstreams) {
            let Ok(mut tool) = serde_json::from_value::<Tool>(mapped.definition.clone()) else {
                tracing::warn!(upstream = %up.name, tool = %mapped.tool, "a stored tool definition cannot be read; not listed");
                continue;
            };
            // What the rule book would do now with a call (recorded nowhere).
            let req = Request {
                capability: &mapped.capability,
                target: &up.name,
                params: &empty,
            };
            let d = decide_now(
                &mut conn,
                &state.policy,
                &index,
                &caller.agent.agent_id,
                &req,
                0,
            )
            .await;
            let belay = match d.outcome {
                Outcome::Allowed => "runs at once: allowed at this agent's stage.".to_string(),
                Outcome::PendingApproval => format!(
                    "needs human approval before it runs (held for: {}); the call waits up to {}s for a decision, and calling again with the same arguments keeps waiting on the same request.",
                    d.held_for.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "),
                    self.gate.wait.as_secs()
                ),
                Outcome::Drafted => {
                    "recorded as a draft for humans; it does not run from here.".to_string()
                }
                Outcome::Denied => format!(
                    "not available to this agent: {}",
                    d.reasons.first().map(String::as_str).unwrap_or("refused")
                ),
            };
            let original = tool.description.as_deref().unwrap_or("").trim().to_string();
            let sep = if original.is_empty() { "" } else { "\n\n" };
            tool.description = Some(format!("{original}{sep}Belay: {belay}").into());
            tool.name = name.into();
            // Belay answers some calls itself (a draft recorded, a call
            // that awaits approval), so it cannot promise the upstream's
            // output schema; structured results still pass through.
            tool.output_schema = None;
            out.push(tool);
        }
        Ok(out)
    }
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("belay", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Belay governs these tools: each call is decided by your trust stage; some wait for a human's approval, and a reviewer may change the arguments.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = self.caller(&ctx).await?;
        let tools = self.tools(&caller).await.map_err(internal)?;
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller(&ctx).await?;
        let upstreams = store::for_agent(&self.gate.state.db, &caller.agent.agent_id)
            .instrument(tracing::debug_span!("mcp.lookup"))
            .await
            .map_err(internal)?;
        let found = exposed(&upstreams)
            .into_iter()
            .find(|(name, _, _)| *name == request.name);
        let Some((_, up, tool)) = found else {
            return Err(ErrorData::invalid_params(
                format!("no tool named {:?}", request.name),
                None,
            ));
        };
        // The call as the client sent it, its `_meta` (which rmcp hands
        // over apart) put back: the request's evidence.
        let mut sent = request.clone();
        if !ctx.meta.is_empty() {
            sent.meta = Some(ctx.meta.clone());
        }
        let sent = serde_json::json!({ "method": "tools/call", "params": sent });
        let arguments = request.arguments.unwrap_or_default();
        let done = call::call(&self.gate, &caller, (up, tool), arguments, sent).await;
        Ok(done.into())
    }
}
