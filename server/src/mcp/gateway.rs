//! The MCP server an agent's client talks to: its upstreams' tools, each
//! described with what Belay will do with a call at the agent's stage, and
//! every call handed to the rule book (`call.rs`).

use super::call::{self, Gate};
use super::hold::Hold;
use super::Caller;
use app::auth::agent;
use app::error::AppError;
use app::mcp::at_stage::Asker;
use app::mcp::store::{Tool as Mapped, Upstream};
#[allow(deprecated)] // Logging: see `hold`.
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, SetLevelRequestParams, Tool,
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
            (None, Some(key)) => match agent::authenticate_at(&self.gate.state, key).await {
                Ok((agent, epoch)) => Ok(Caller {
                    agent,
                    key_hash: app::auth::keys::hash(key),
                    epoch,
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

/// The tool the agent calls `name` (as `exposed` names them), found
/// without naming every tool.
fn find<'a>(upstreams: &'a [Upstream], name: &str) -> Option<(&'a Upstream, &'a Mapped)> {
    let prefix = upstreams.len() > 1;
    upstreams.iter().find_map(|u| {
        let tool = if prefix {
            name.strip_prefix(u.name.as_str())?.strip_prefix("__")?
        } else {
            name
        };
        u.tools.iter().find(|t| t.tool == tool).map(|t| (u, t))
    })
}

impl Gateway {
    async fn upstreams(&self, caller: &Caller) -> Result<Arc<Vec<Upstream>>, AppError> {
        let g = &self.gate;
        g.known
            .upstreams(&g.state.db, &caller.agent.agent_id, caller.epoch)
            .await
    }

    async fn tools(&self, caller: &Caller) -> Result<Vec<Tool>, AppError> {
        let state = &self.gate.state;
        let upstreams = self.upstreams(caller).await?;
        let mut asker = Asker::new(state, self.gate.wait.as_secs()).await?;
        let mut out = Vec::new();
        for (name, up, mapped) in exposed(&upstreams) {
            let Ok(mut tool) = serde_json::from_value::<Tool>(mapped.definition.clone()) else {
                tracing::warn!(upstream = %up.name, tool = %mapped.tool, "a stored tool definition cannot be read; not listed");
                continue;
            };
            let (_, belay) = asker
                .ask(&caller.agent.agent_id, &mapped.capability, &up.name)
                .await;
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
        // Logging: a held call's notice is a log message (see `hold`).
        #[allow(deprecated)]
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_logging().build())
            .with_server_info(Implementation::new("belay", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Belay governs these tools: each call is decided by your trust stage; some wait for a human's approval, and a reviewer may change the arguments.",
            )
    }

    /// Accepted and kept by no one: the gateway is stateless, and its only
    /// log message is a held call's notice, which it always sends.
    #[allow(deprecated)]
    async fn set_level(
        &self,
        _request: SetLevelRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
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
        let upstreams = self
            .upstreams(&caller)
            .instrument(tracing::debug_span!("mcp.lookup"))
            .await
            .map_err(internal)?;
        let Some((up, tool)) = find(&upstreams, &request.name) else {
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
        let hold = Hold {
            peer: ctx.peer.clone(),
            progress: ctx.meta.get_progress_token(),
        };
        let done = call::call(&self.gate, &caller, (up, tool), (arguments, sent), hold).await;
        Ok(done.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::mcp::endpoint::Endpoint;

    fn upstream(name: &str, tools: &[&str]) -> Upstream {
        Upstream {
            id: name.into(),
            agent_id: "a".into(),
            name: name.into(),
            endpoint: Endpoint::Stdio(vec!["true".into()]),
            tools: tools
                .iter()
                .map(|t| Mapped {
                    tool: t.to_string(),
                    capability: format!("mcp.{name}.{t}"),
                    definition: serde_json::json!({}),
                })
                .collect(),
        }
    }

    #[test]
    fn a_call_finds_the_tool_its_listed_name_names() {
        let one = [upstream("files", &["read", "files__read"])];
        let two = [
            upstream("files", &["read"]),
            upstream("git", &["read", "log"]),
        ];
        for ups in [&one[..], &two[..]] {
            for (name, up, tool) in exposed(ups) {
                let (u, t) = find(ups, &name).unwrap();
                assert_eq!(
                    (u.id.as_str(), t.tool.as_str()),
                    (up.id.as_str(), tool.tool.as_str())
                );
            }
        }
        assert!(find(&two, "read").is_none());
        assert!(find(&two, "git__nope").is_none());
        assert!(find(&one, "files__nope").is_none());
    }
}
