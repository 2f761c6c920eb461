//! A lead's MCP page (`/agents/:id/mcp`) through its server functions:
//! registering a Streamable HTTP upstream, listing its tools again,
//! removing it, and what a lead may and may not name as a token's source.

use super::upstream::{self as mcp, Upstream};
use crate::common::TestApp;
use app::auth::Role;
use app::policy::Stage;
use serde_json::{json, Value};

async fn lead_adds(
    lead: &crate::common::Browser,
    agent_id: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("agent_id", agent_id), ("name", "notes")];
    form.extend_from_slice(extra);
    lead.rpc("mcp/add", &form).await
}

fn tool<'a>(overview: &'a Value, name: &str) -> &'a Value {
    overview["upstreams"][0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tool"] == name)
        .unwrap_or_else(|| panic!("no tool {name} in {overview}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_registers_an_http_upstream_and_sees_each_tool_as_the_gateway_describes_it() {
    let app = TestApp::spawn().await;
    let upstream = Upstream::start().await;
    let (agent_id, key) = app.agent("mcp-bot", Stage::ActWithApproval).await;
    app.user("lead1", Role::Lead).await;
    app.user("rev", Role::Reviewer).await;
    let lead = app.browser("lead1").await;

    let res = lead_adds(
        &lead,
        &agent_id,
        &[("url", &upstream.url), ("token_from", "none")],
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let rows: Value = res.json().await.unwrap();
    let entry = |tool: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["tool"] == tool)
            .unwrap()
            .clone()
    };
    // Destructive: its entry has triggers and is added at once. Read-only:
    // an entry without triggers waits for a second lead.
    assert_eq!(entry("delete_note")["entry"], "added");
    assert_eq!(entry("read_note")["entry"], "proposed");
    assert_eq!(app.audit_count("mcp.upstream_added", &agent_id).await, 1);
    assert_eq!(
        app.audit_count("capability.added", "mcp.notes.delete_note")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM capabilities WHERE name = 'mcp.notes.read_note'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM change_requests WHERE subject = 'mcp.notes.read_note' AND state = 'open'").await,
        1
    );
    assert_eq!(upstream.calls().len(), 0, "listing tools calls none");

    let page = lead.rpc("mcp/get", &[("agent_id", &agent_id)]).await;
    assert_eq!(page.status(), 200);
    let page: Value = page.json().await.unwrap();
    assert_eq!(page["can_manage"], true);
    assert_eq!(page["upstreams"][0]["transport"], "http");
    assert_eq!(page["upstreams"][0]["endpoint"], upstream.url.as_str());
    let delete = tool(&page, "delete_note");
    assert_eq!(delete["entry"]["triggers"], json!(["destructive"]));
    assert_eq!(
        delete["hints"],
        json!(["writes", "destructive", "closed world"])
    );
    let read = tool(&page, "read_note");
    assert!(read["entry"].is_null());
    assert!(read["proposal"].is_string());

    // What the page says Belay does is what the agent's tools/list says.
    let (_, listed) = mcp::post(&app.http, &app.base, &key, mcp::list_tools(2)).await;
    let listed = listed.expect("tools/list answered");
    for name in ["delete_note", "read_note"] {
        let described = listed["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["description"]
            .as_str()
            .unwrap()
            .to_string();
        let said = tool(&page, name)["belay"].as_str().unwrap().to_string();
        assert!(!said.is_empty());
        assert!(
            described.ends_with(&format!("Belay: {said}")),
            "{described} / {said}"
        );
    }

    // A reviewer sees the page but registers nothing.
    let reviewer = app.browser("rev").await;
    let seen: Value = reviewer
        .rpc("mcp/get", &[("agent_id", &agent_id)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["can_manage"], false);
    let refused = reviewer
        .rpc(
            "mcp/add",
            &[
                ("agent_id", &agent_id),
                ("name", "other"),
                ("url", &upstream.url),
                ("token_from", "none"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 403);
    // A form sent from another site is refused before anything runs.
    let cross = app
        .http
        .post(format!("{}/rpc/mcp/remove", app.base))
        .header("Origin", "https://evil.example")
        .form(&[
            ("agent_id", agent_id.as_str()),
            ("upstream_id", page["upstreams"][0]["id"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_upstreams").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_names_only_token_sources_set_aside_for_upstreams_and_never_a_command() {
    let app = TestApp::spawn().await;
    let (agent_id, _) = app.agent("mcp-bot", Stage::ActWithApproval).await;
    app.user("lead1", Role::Lead).await;
    let lead = app.browser("lead1").await;
    let url = "http://127.0.0.1:9/mcp";
    for (form, said) in [
        (
            vec![
                ("url", url),
                ("token_from", "env"),
                ("token_source", "DATABASE_URL"),
            ],
            "MCP_TOKEN_",
        ),
        (
            vec![
                ("url", url),
                ("token_from", "env"),
                ("token_source", "HOME"),
            ],
            "MCP_TOKEN_",
        ),
        (
            vec![
                ("url", url),
                ("token_from", "file"),
                ("token_source", "/etc/passwd"),
            ],
            "/etc/belay/mcp-tokens/",
        ),
        (
            vec![
                ("url", url),
                ("token_from", "file"),
                ("token_source", "/etc/belay/mcp-tokens/../../passwd"),
            ],
            "/etc/belay/mcp-tokens/",
        ),
        (
            vec![("url", "ftp://tools.example/mcp"), ("token_from", "none")],
            "http://",
        ),
        (
            vec![
                ("url", "https://me:pw@tools.example/mcp"),
                ("token_from", "none"),
            ],
            "credentials",
        ),
    ] {
        let res = lead_adds(&lead, &agent_id, &form).await;
        let body = res.text().await.unwrap();
        assert!(body.contains(said), "{form:?}: {body}");
    }
    // A token source that is allowed but leads nowhere: nothing registered.
    let dead = lead_adds(
        &lead,
        &agent_id,
        &[
            ("url", url),
            ("token_from", "env"),
            ("token_source", "MCP_TOKEN_NONE_SET"),
        ],
    )
    .await;
    assert_eq!(dead.status(), 422);
    assert!(dead
        .text()
        .await
        .unwrap()
        .contains("MCP_TOKEN_NONE_SET holds no token"));
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_upstreams").await, 0);

    // A command upstream, registered by the operator: a lead may list its
    // tools again, never put another command in its place.
    let operator = app::audit::Actor::Operator("root".into());
    let by = app::mcp::store::By::Operator(&operator);
    let name = app::mcp::UpstreamName::parse("local").unwrap();
    let command = app::mcp::endpoint::Endpoint::Stdio(vec!["true".into()]);
    app::mcp::store::register(&app.db, &by, "mcp-bot", &name, &command, vec![])
        .await
        .unwrap();
    let user = app::auth::users::find_by_username(&app.db, "lead1")
        .await
        .unwrap()
        .unwrap();
    let as_lead = app::mcp::store::By::Lead {
        user: &user,
        reason: "",
    };
    app::mcp::store::register(&app.db, &as_lead, "mcp-bot", &name, &command, vec![])
        .await
        .unwrap();
    let other = app::mcp::endpoint::Endpoint::Stdio(vec!["sh".into(), "-c".into(), "id".into()]);
    let refused =
        app::mcp::store::register(&app.db, &as_lead, "mcp-bot", &name, &other, vec![]).await;
    assert!(
        matches!(refused, Err(app::error::AppError::Forbidden(_))),
        "{refused:?}"
    );
    let fresh = app::mcp::UpstreamName::parse("fresh").unwrap();
    let refused =
        app::mcp::store::register(&app.db, &as_lead, "mcp-bot", &fresh, &other, vec![]).await;
    assert!(
        matches!(refused, Err(app::error::AppError::Forbidden(_))),
        "{refused:?}"
    );
    let page: Value = lead
        .rpc("mcp/get", &[("agent_id", &agent_id)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["upstreams"][0]["transport"], "stdio");
    assert_eq!(page["upstreams"][0]["endpoint"], "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshing_and_removing_an_upstream_are_audited_and_the_gateway_follows_at_once() {
    let app = TestApp::spawn().await;
    let upstream = Upstream::start().await;
    let (agent_id, key) = app.agent("mcp-bot", Stage::ActWithApproval).await;
    app.user("lead1", Role::Lead).await;
    let lead = app.browser("lead1").await;
    let res = lead_adds(
        &lead,
        &agent_id,
        &[("url", &upstream.url), ("token_from", "none")],
    )
    .await;
    assert_eq!(res.status(), 200);
    let page: Value = lead
        .rpc("mcp/get", &[("agent_id", &agent_id)])
        .await
        .json()
        .await
        .unwrap();
    let upstream_id = page["upstreams"][0]["id"].as_str().unwrap().to_string();

    // Another upstream of the same name is refused; listing again is the way.
    let twice = lead_adds(
        &lead,
        &agent_id,
        &[("url", &upstream.url), ("token_from", "none")],
    )
    .await;
    assert_eq!(twice.status(), 409);
    let again = lead
        .rpc(
            "mcp/refresh",
            &[("agent_id", &agent_id), ("upstream_id", &upstream_id)],
        )
        .await;
    assert_eq!(again.status(), 200, "{}", again.text().await.unwrap());
    let rows: Value = again.json().await.unwrap();
    // The read-only tool's entry is proposed once, not again.
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["entry"] == "kept"),
        "{rows}"
    );
    assert_eq!(app.audit_count("mcp.upstream_changed", &agent_id).await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM change_requests WHERE subject = 'mcp.notes.read_note'")
            .await,
        1
    );

    // Triggers are edited with the catalog's own form: adding one applies.
    let saved = lead
        .rpc(
            "catalog/save",
            &[
                ("name", "mcp.notes.delete_note"),
                ("description", "notes"),
                ("checked[destructive]", "on"),
                ("checked[purchase]", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let page: Value = lead
        .rpc("mcp/get", &[("agent_id", &agent_id)])
        .await
        .json()
        .await
        .unwrap();
    let triggers = tool(&page, "delete_note")["entry"]["triggers"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        triggers.contains(&json!("purchase")) && triggers.contains(&json!("destructive")),
        "{triggers:?}"
    );

    let removed = lead
        .rpc(
            "mcp/remove",
            &[("agent_id", &agent_id), ("upstream_id", &upstream_id)],
        )
        .await;
    assert_eq!(removed.status(), 200, "{}", removed.text().await.unwrap());
    assert_eq!(app.audit_count("mcp.upstream_removed", &agent_id).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM mcp_tools").await, 0);
    let (_, listed) = mcp::post(&app.http, &app.base, &key, mcp::list_tools(2)).await;
    assert_eq!(listed.unwrap()["result"]["tools"], json!([]));
    let (_, called) = mcp::post(
        &app.http,
        &app.base,
        &key,
        mcp::call(3, "delete_note", json!({"name": "a"})),
    )
    .await;
    assert!(called.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no tool named"));
    assert!(upstream.calls().is_empty());
    let gone = lead
        .rpc(
            "mcp/remove",
            &[("agent_id", &agent_id), ("upstream_id", &upstream_id)],
        )
        .await;
    assert_eq!(gone.status(), 404);
}
