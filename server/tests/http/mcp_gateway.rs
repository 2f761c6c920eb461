//! The MCP gateway's front door (`/mcp`) and `belay mcp`: the end-to-end
//! flows with a real MCP client are in `end2end/mcp/`.

use crate::cli::{belay, text};
use crate::common::{assert_problem, TestApp};
use app::policy::Stage;
use serde_json::json;

/// An `initialize`, as an MCP client opens a session with.
fn initialize() -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}})
}

async fn post_mcp(app: &TestApp, key: Option<&str>) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/mcp", app.base))
        .header("Accept", "application/json, text/event-stream")
        .json(&initialize());
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_refuses_a_missing_or_unknown_key_and_a_suspended_agent() {
    let app = TestApp::spawn().await;
    let (id, key) = app.agent("mcp-bot", Stage::ActWithApproval).await;
    assert_problem(post_mcp(&app, None).await, 401).await;
    assert_problem(post_mcp(&app, Some("belay_nope")).await, 401).await;
    // The agent's own key opens a session.
    let res = post_mcp(&app, Some(&key)).await;
    assert_eq!(res.status(), 200);
    sqlx::query("UPDATE agents SET status = 'suspended' WHERE id = $1")
        .bind(&id)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE policy_epoch SET value = value + 1 WHERE id = 1")
        .execute(&app.db)
        .await
        .unwrap();
    let detail = assert_problem(post_mcp(&app, Some(&key)).await, 403).await;
    assert!(detail.contains("suspended"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_carries_the_api_security_headers_outside_the_sign_in() {
    let app = TestApp::spawn().await;
    let (_, key) = app.agent("mcp-bot", Stage::ActWithApproval).await;
    let res = post_mcp(&app, Some(&key)).await;
    assert_eq!(res.status(), 200, "no sign-in or CSRF token is asked for");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let other_host = app
        .http
        .post(format!("{}/mcp", app.base))
        .header("Host", "evil.example")
        .bearer_auth(&key)
        .json(&initialize())
        .send()
        .await
        .unwrap();
    assert_eq!(other_host.status(), 421);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_upstream_refuses_bad_names_unknown_agents_and_dead_commands() {
    let app = TestApp::spawn().await;
    app.agent("mcp-bot", Stage::ActWithApproval).await;
    let db = app.db_url.as_str();
    let bad_name = belay(
        db,
        &[
            "mcp",
            "add-upstream",
            "--agent",
            "mcp-bot",
            "--name",
            "Not.OK",
            "--",
            "true",
        ],
        None,
    );
    assert!(!bad_name.status.success());
    assert!(
        text(&bad_name).contains("upstream name"),
        "{}",
        text(&bad_name)
    );
    let no_agent = belay(
        db,
        &[
            "mcp",
            "add-upstream",
            "--agent",
            "ghost",
            "--name",
            "files",
            "--",
            "true",
        ],
        None,
    );
    assert!(!no_agent.status.success());
    assert!(text(&no_agent).contains("ghost"), "{}", text(&no_agent));
    let dead = belay(
        db,
        &[
            "mcp",
            "add-upstream",
            "--agent",
            "mcp-bot",
            "--name",
            "files",
            "--",
            "/no/such/program",
        ],
        None,
    );
    assert!(!dead.status.success());
    assert!(text(&dead).contains("cannot start"), "{}", text(&dead));
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_upstreams").await, 0);
    let listed = belay(db, &["mcp", "list", "--agent", "mcp-bot"], None);
    assert!(
        text(&listed).contains("no MCP upstreams"),
        "{}",
        text(&listed)
    );
}

/// A stdio MCP server in a few lines of shell: it answers `initialize` and
/// `tools/list` (one read-only tool, one destructive, one unannotated).
const FAKE_UPSTREAM: &str = r#"#!/bin/sh
while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed -n 's/.*"id":\([0-9][0-9]*\).*/\1/p')
  case "$line" in
    *'"method":"initialize"'*)
      printf '%s\n' '{"jsonrpc":"2.0","id":'"$id"',"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"fake","version":"1"}}}' ;;
    *'"method":"tools/list"'*)
      printf '%s\n' '{"jsonrpc":"2.0","id":'"$id"',"result":{"tools":[{"name":"read_file","description":"Reads a file.","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}},{"name":"Delete File","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":false,"destructiveHint":true,"openWorldHint":false}},{"name":"send","inputSchema":{"type":"object"}}]}}' ;;
  esac
done
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_upstream_registers_each_tool_as_a_capability_with_triggers_from_its_hints() {
    let app = TestApp::spawn().await;
    let (agent_id, _) = app.agent("mcp-bot", Stage::ActWithApproval).await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fake-upstream.sh");
    std::fs::write(&script, FAKE_UPSTREAM).unwrap();
    let script = script.display().to_string();
    let db = app.db_url.as_str();
    let add = [
        "mcp",
        "add-upstream",
        "--agent",
        "mcp-bot",
        "--name",
        "files",
        "--",
        "sh",
        &script,
    ];
    let out = belay(db, &add, None);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    for line in [
        "read_file -> mcp.files.read_file: added to the catalog (no risk triggers)",
        "Delete File -> mcp.files.delete_file: added to the catalog (destructive)",
        // Unannotated: the riskier reading of every hint.
        "send -> mcp.files.send: added to the catalog (external_send,destructive)",
        "Break-glass",
    ] {
        assert!(said.contains(line), "{line:?} in {said}");
    }
    assert_eq!(app.audit_count("mcp.upstream_added", &agent_id).await, 1);
    assert_eq!(
        app.audit_count("capability.added", "mcp.files.read_file")
            .await,
        1
    );

    // Registering again keeps the catalog as leads keep it.
    sqlx::query("UPDATE capabilities SET triggers = 'purchase' WHERE name = 'mcp.files.read_file'")
        .execute(&app.db)
        .await
        .unwrap();
    let again = belay(db, &add, None);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("read_file -> mcp.files.read_file: already in the catalog"));
    assert_eq!(app.audit_count("mcp.upstream_changed", &agent_id).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_upstreams").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_tools").await, 3);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM capabilities WHERE name = 'mcp.files.read_file' AND triggers = 'purchase'")
            .await,
        1
    );

    let listed = text(&belay(db, &["mcp", "list", "--agent", "mcp-bot"], None));
    assert!(listed.contains(&format!("files: sh {script}")), "{listed}");
    assert!(
        listed.contains("Delete File -> mcp.files.delete_file"),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_upstream_is_refused_for_a_bad_url_or_token_source_and_its_token_never_shows() {
    let app = TestApp::spawn().await;
    app.agent("mcp-bot", Stage::ActWithApproval).await;
    let db = app.db_url.as_str();
    let add = |extra: &[&str]| {
        let mut args = vec![
            "mcp",
            "add-upstream",
            "--agent",
            "mcp-bot",
            "--name",
            "remote",
        ];
        args.extend_from_slice(extra);
        belay(db, &args, None)
    };
    for (extra, said) in [
        (
            &["--url", "ftp://tools.example/mcp"][..],
            "http:// or https://",
        ),
        (&["--url", "https://me:pw@tools.example/mcp"], "credentials"),
        (
            &[
                "--url",
                "https://tools.example/mcp",
                "--bearer-env",
                "BELAY_SECRET",
            ],
            "Belay's own settings",
        ),
        (
            &[
                "--url",
                "https://tools.example/mcp",
                "--bearer-file",
                "token.txt",
            ],
            "absolute path",
        ),
        (&["--bearer-env", "TOKEN", "--", "true"], "--url"),
        (
            &["--url", "http://127.0.0.1:9/mcp", "--", "true"],
            "cannot be used with",
        ),
    ] {
        let out = add(extra);
        assert!(!out.status.success(), "{extra:?}");
        assert!(text(&out).contains(said), "{extra:?}: {}", text(&out));
    }
    // A token that is read but leads nowhere: refused, and never printed.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "tok-5ecret-never-shown\n").unwrap();
    let file = file.display().to_string();
    let dead = add(&["--url", "http://127.0.0.1:9/mcp", "--bearer-file", &file]);
    assert!(!dead.status.success());
    assert!(text(&dead).contains("MCP handshake"), "{}", text(&dead));
    assert!(!text(&dead).contains("5ecret"), "{}", text(&dead));
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_upstreams").await, 0);
}
