//! Test helpers for the MCP gateway: an upstream MCP server (rmcp's own
//! Streamable HTTP server on a random port) that counts the calls it gets,
//! and a bare JSON-RPC client that can send each message to any replica.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ContentBlock, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// Every call the upstream received: (tool, arguments).
pub type Calls = Arc<Mutex<Vec<(String, Value)>>>;

/// Two tools: `read_note` (read-only) and `delete_note` (destructive,
/// closed world). Each answers with the arguments it got.
#[derive(Clone)]
struct Notes {
    calls: Calls,
}

fn tools() -> Vec<Tool> {
    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}}});
    let schema = Arc::new(schema.as_object().unwrap().clone());
    vec![
        Tool::new("read_note", "Reads a note.", schema.clone())
            .annotate(ToolAnnotations::new().read_only(true)),
        Tool::new("delete_note", "Deletes a note.", schema).annotate(
            ToolAnnotations::new()
                .read_only(false)
                .destructive(true)
                .open_world(false),
        ),
    ]
}

impl ServerHandler for Notes {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.unwrap_or_default());
        self.calls
            .lock()
            .unwrap()
            .push((request.name.to_string(), args.clone()));
        Ok(
            rmcp::model::CallToolResult::success(vec![ContentBlock::text(format!(
                "{} ran with {args}",
                request.name
            ))])
            .into(),
        )
    }
}

/// A running upstream: its URL and the calls it received. It stops with the test's runtime.
pub struct Upstream {
    pub url: String,
    pub calls: Calls,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let calls = Calls::default();
        let notes = Notes {
            calls: calls.clone(),
        };
        let service = StreamableHttpService::new(
            move || Ok(notes.clone()),
            LocalSessionManager::default().into(),
            StreamableHttpServerConfig::default(),
        );
        let router = axum::Router::new().route_service("/mcp", service);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Upstream {
            url: format!("http://127.0.0.1:{port}/mcp"),
            calls,
        }
    }

    pub fn calls(&self) -> Vec<(String, Value)> {
        self.calls.lock().unwrap().clone()
    }
}

/// One JSON-RPC message POSTed to `base`'s `/mcp` as the agent `key`;
/// the JSON-RPC answer (read from JSON or from the SSE stream), or None
/// for a notification's 202. `session`, if given, is sent as
/// `Mcp-Session-Id`.
pub async fn post(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    message: Value,
) -> (u16, Option<Value>) {
    let res = http
        .post(format!("{base}/mcp"))
        .bearer_auth(key)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-06-18")
        .json(&message)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let is_sse = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let body = res.text().await.unwrap();
    if body.trim().is_empty() {
        return (status, None);
    }
    let answer = if is_sse {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|m| m.get("id").is_some())
    } else {
        serde_json::from_str(&body).ok()
    };
    (status, answer)
}

pub fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}})
}

pub fn initialized() -> Value {
    json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
}

pub fn list_tools(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"})
}

pub fn call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}})
}

/// The text of a `tools/call` answer, and whether it is a tool error.
pub fn result_text(answer: &Value) -> (String, bool) {
    let r = &answer["result"];
    let text = r["content"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_else(|| answer.to_string());
    (text, r["isError"] == true)
}
