//! The MCP gateway behind a load balancer without sticky sessions: an MCP
//! client whose every message lands on another replica still works, since
//! the gateway is stateless (no `Mcp-Session-Id`; each POST is answered on
//! its own). Two replicas on one PostgreSQL database; skips on SQLite.

use super::upstream::{self as mcp, Upstream};
use crate::replicas::two_replicas;
use app::policy::Stage;
use serde_json::{json, Value};

/// Sends `message` to `base` as a client would: with the session id the
/// initialize answer gave, if it gave one.
async fn send(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    session: Option<&str>,
    message: Value,
) -> (u16, Option<Value>) {
    let mut req = http
        .post(format!("{base}/mcp"))
        .bearer_auth(key)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-06-18")
        .json(&message);
    if let Some(id) = session {
        req = req.header("Mcp-Session-Id", id);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    let answer = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .chain(std::iter::once(body.as_str()))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m.get("id").is_some());
    (status, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_mcp_client_alternating_between_two_replicas_lists_and_calls_tools() {
    let Some((a, b)) = two_replicas().await else {
        return;
    };
    let upstream = Upstream::start().await;
    let (agent_id, key) = a.agent("mcp-bot", Stage::ActWithApproval).await;
    // Registered as the operator would (its read-only tool's entry at once).
    let operator = app::audit::Actor::Operator("root".into());
    let endpoint = app::mcp::endpoint::Endpoint::Http {
        url: upstream.url.clone(),
        bearer: None,
    };
    let tools = belay::mcp::upstreams::list_tools(&endpoint).await.unwrap();
    let name = app::mcp::UpstreamName::parse("notes").unwrap();
    app::mcp::store::register(
        &a.db,
        &app::mcp::store::By::Operator(&operator),
        "mcp-bot",
        &name,
        &endpoint,
        tools,
    )
    .await
    .unwrap();
    a.grant_used(&agent_id, "mcp.notes.read_note").await;

    let init = a
        .http
        .post(format!("{}/mcp", a.base))
        .bearer_auth(&key)
        .header("Accept", "application/json, text/event-stream")
        .json(&mcp::initialize())
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    // No session to stick to: any replica answers the next message.
    let session = init
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(session, None, "the gateway keeps no sessions");
    let session = session.as_deref();
    let replicas = [&a, &b];
    let (status, _) = send(&b.http, &b.base, &key, session, mcp::initialized()).await;
    assert_eq!(status, 202);
    for round in 0..6u64 {
        let on = replicas[(round % 2) as usize];
        let (status, listed) = send(
            &on.http,
            &on.base,
            &key,
            session,
            mcp::list_tools(10 + round),
        )
        .await;
        assert_eq!(status, 200, "tools/list on replica {}", round % 2);
        let listed = listed.unwrap();
        assert_eq!(
            listed["result"]["tools"].as_array().unwrap().len(),
            2,
            "{listed}"
        );
        let other = replicas[((round + 1) % 2) as usize];
        let args = json!({"name": format!("note-{round}")});
        let (status, called) = send(
            &other.http,
            &other.base,
            &key,
            session,
            mcp::call(100 + round, "read_note", args.clone()),
        )
        .await;
        assert_eq!(status, 200);
        let (text, is_error) = mcp::result_text(&called.unwrap());
        assert!(!is_error, "{text}");
        assert_eq!(text, format!("read_note ran with {args}"));
    }
    // Each call reached the upstream once, and each is one request.
    let calls = upstream.calls();
    assert_eq!(calls.len(), 6, "{calls:?}");
    assert_eq!(
        a.count("SELECT COUNT(*) FROM action_requests WHERE capability = 'mcp.notes.read_note'")
            .await,
        6
    );
}
