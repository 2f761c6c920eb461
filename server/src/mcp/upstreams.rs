//! The upstream MCP servers: child processes speaking MCP over stdio, or
//! Streamable HTTP endpoints. Each is connected to on first use and kept,
//! shared by every session of the gateway; one that died (or whose HTTP
//! session ended) is connected to again on the next call.

use app::mcp::endpoint::Endpoint;
use app::mcp::store::NewTool;
use app::mcp::ToolHints;
use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject, Tool};
use rmcp::service::{RunningService, ServiceExt};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::RoleClient;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long an upstream may take to start and answer `initialize`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one tool call may take upstream; past it, the call failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

type Client = RunningService<RoleClient, ()>;

/// Connects to an upstream and completes the MCP handshake.
pub async fn start(endpoint: &Endpoint) -> Result<Client, String> {
    match endpoint {
        Endpoint::Stdio(argv) => {
            let what = argv.first().map(|p| format!("{p:?}")).unwrap_or_default();
            handshake(&what, ().serve(child(argv)?)).await
        }
        Endpoint::Http { url, bearer } => {
            let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
            if let Some(from) = bearer {
                config = config.auth_header(from.read()?);
            }
            install_tls_provider();
            let transport = StreamableHttpClientTransport::from_config(config);
            handshake(url, ().serve(transport)).await
        }
    }
}

async fn handshake<E: std::fmt::Display>(
    what: &str,
    connecting: impl std::future::Future<Output = Result<Client, E>>,
) -> Result<Client, String> {
    match tokio::time::timeout(START_TIMEOUT, connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(format!("{what} did not complete the MCP handshake: {e}")),
        Err(_) => Err(format!(
            "{what} did not answer the MCP handshake within {}s",
            START_TIMEOUT.as_secs()
        )),
    }
}

/// The child process of a stdio upstream. It inherits Belay's environment
/// except its database URL and `BELAY_*` settings.
fn child(argv: &[String]) -> Result<TokioChildProcess, String> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| "the upstream has no command".to_string())?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).env_remove("DATABASE_URL");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("BELAY_") {
            cmd.env_remove(key);
        }
    }
    TokioChildProcess::new(cmd).map_err(|e| format!("cannot start {program:?}: {e}"))
}

/// HTTPS upstreams use rustls with *ring*, chosen once for the process;
/// certificates are checked against the system's roots.
pub(crate) fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only if another provider was installed first: that one serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Starts an upstream, lists its tools, and stops it (for registering it,
/// from the CLI or a lead's page).
pub async fn list_tools(endpoint: &Endpoint) -> Result<Vec<NewTool>, String> {
    let client = start(endpoint).await?;
    let tools = client
        .list_all_tools()
        .await
        .map_err(|e| format!("the upstream did not list its tools: {e}"));
    let _ = client.cancel().await;
    Ok(tools?.into_iter().map(new_tool).collect())
}

/// A listed tool as the store registers it, its annotations as hints.
fn new_tool(t: Tool) -> NewTool {
    let a = t.annotations.clone().unwrap_or_default();
    NewTool {
        name: t.name.to_string(),
        description: t.description.as_deref().map(str::to_string),
        hints: ToolHints {
            read_only: a.read_only_hint,
            destructive: a.destructive_hint,
            open_world: a.open_world_hint,
        },
        definition: serde_json::to_value(&t).unwrap_or_default(),
    }
}

/// What a lead's MCP page needs from the server (`app::mcp::Connector`),
/// provided to server functions.
pub fn connector(wait_secs: u64) -> app::mcp::Connector {
    app::mcp::Connector::new(wait_secs, |endpoint| {
        Box::pin(async move { list_tools(&endpoint).await })
    })
}

/// The running upstreams, by upstream id.
#[derive(Default)]
pub struct Upstreams {
    running: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Client>>>>>,
}

impl Upstreams {
    /// Calls `tool` on the upstream `id` (connected to at `endpoint` if it
    /// is not yet). A call is sent once: if it fails, it is not retried,
    /// since the upstream may have acted on it.
    pub async fn call(
        &self,
        id: &str,
        endpoint: &Endpoint,
        tool: &str,
        arguments: JsonObject,
    ) -> Result<CallToolResult, String> {
        let slot = {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            running.entry(id.to_string()).or_default().clone()
        };
        let peer = {
            let mut client = slot.lock().await;
            let alive = client
                .as_ref()
                .is_some_and(|c| !c.is_closed() && !c.peer().is_transport_closed());
            if !alive {
                if let Some(old) = client.take() {
                    tracing::warn!(upstream = %id, "the upstream stopped; starting it again");
                    let _ = old.cancel().await;
                }
                *client = Some(start(endpoint).await?);
            }
            client
                .as_ref()
                .map(|c| c.peer().clone())
                .ok_or("the upstream is not running")?
        };
        let mut params = CallToolRequestParams::new(tool.to_string());
        params.arguments = Some(arguments);
        match tokio::time::timeout(CALL_TIMEOUT, peer.call_tool(params)).await {
            Ok(done) => done.map_err(|e| format!("the upstream failed: {e}")),
            Err(_) => Err(format!(
                "the upstream did not answer within {}s",
                CALL_TIMEOUT.as_secs()
            )),
        }
    }
}
