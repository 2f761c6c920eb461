//! Quotas beyond the submission rate: requests waiting at once, evidence a
//! day, long-polls at once; set per agent by a lead, shown and counted on
//! the agent's page; and the live queue's stream ending at sign-out.

use crate::cli::{belay, text};
use crate::common::{assert_problem, TestApp};
use app::auth::Role;
use app::policy::Stage;
use serde_json::{json, Value};
use std::time::Duration;

/// Sets the agent's own quotas as a lead would on its page.
async fn set_quotas(app: &TestApp, agent_id: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let lead = app.browser("lena").await;
    let mut form = vec![
        ("agent_id", agent_id),
        ("submissions_per_minute", ""),
        ("pending", ""),
        ("evidence_bytes_per_day", ""),
        ("long_polls", ""),
    ];
    for (name, value) in fields {
        form.retain(|(n, _)| n != name);
        form.push((name, value));
    }
    lead.rpc("quota/set", &form).await
}

async fn sheet(app: &TestApp, agent_id: &str) -> Value {
    let res = app
        .browser("lena")
        .await
        .rpc("quota/get", &[("agent_id", agent_id)])
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn refused(sheet: &Value, name: &str) -> u64 {
    sheet["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .unwrap()["refused"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_may_have_only_so_many_requests_waiting() {
    let app = TestApp::spawn().await;
    app.user("lena", Role::Lead).await;
    let (noisy_id, noisy) = app.agent("noisy", Stage::Propose).await;
    let (_, calm) = app.agent("calm", Stage::Propose).await;
    assert_eq!(
        set_quotas(&app, &noisy_id, &[("pending", "2")])
            .await
            .status(),
        200
    );
    assert_eq!(app.audit_count("agent.quotas_set", &noisy_id).await, 1);

    let first = app.submit_ok(&noisy, "docs.summarize").await;
    app.submit_ok(&noisy, "docs.summarize").await;
    let res = app
        .submit(
            &noisy,
            json!({"capability": "docs.summarize", "target": "t", "summary": "third"}),
        )
        .await;
    assert!(res.headers().contains_key("retry-after"));
    let detail = assert_problem(res, 429).await;
    assert!(
        detail.contains("2 requests waiting for approval"),
        "{detail}"
    );
    // Others are decided as usual, and nothing was recorded for the refusal.
    assert_eq!(
        app.submit_ok(&calm, "docs.summarize").await["decision"],
        "pending_approval"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM action_requests WHERE agent_id = '{noisy_id}'"
        ))
        .await,
        2
    );
    // A decision frees a place.
    let lead = app.browser("lena").await;
    assert_eq!(
        lead.reject(first["id"].as_str().unwrap(), "not needed")
            .await
            .status(),
        200
    );
    app.submit_ok(&noisy, "docs.summarize").await;
    assert_eq!(refused(&sheet(&app, &noisy_id).await, "pending"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_a_day_is_bounded_per_agent_on_every_path() {
    let app = TestApp::spawn().await;
    app.user("lena", Role::Lead).await;
    let (id, key) = app.agent("talker", Stage::Propose).await;
    assert_eq!(
        set_quotas(&app, &id, &[("evidence_bytes_per_day", "1")])
            .await
            .status(),
        200
    );
    // 600 KiB in four logs of 150 KiB.
    let log = "x".repeat(150 * 1024);
    let with_log = |summary: &str| {
        let piece = json!({"type": "plan", "content": log});
        json!({"capability": "docs.summarize", "target": "t", "summary": summary,
               "evidence": [piece, piece, piece, piece]})
    };
    let res = app.submit(&key, with_log("first")).await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.unwrap();
    let res = app.submit(&key, with_log("second")).await;
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_401).contains(&wait), "until midnight UTC: {wait}");
    let detail = assert_problem(res, 429).await;
    assert!(
        detail.contains("evidence quota of 1.0 MiB a day"),
        "{detail}"
    );
    // Adding evidence later counts too.
    let res = app
        .upload(
            &key,
            first["id"].as_str().unwrap(),
            vec![("plan", "y".repeat(500 * 1024).into_bytes(), None)],
        )
        .await;
    assert_problem(res, 429).await;
    // A submission without evidence still goes through, and the refused
    // ones stored nothing.
    app.submit_ok(&key, "docs.summarize").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM evidence").await, 4);
    assert_eq!(
        app.count("SELECT bytes FROM evidence_usage").await,
        600 * 1024
    );
    assert_eq!(
        refused(&sheet(&app, &id).await, "evidence_bytes_per_day"),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_may_hold_only_so_many_long_polls() {
    let app = TestApp::spawn().await;
    app.user("lena", Role::Lead).await;
    let (id, key) = app.agent("poller", Stage::Propose).await;
    assert_eq!(
        set_quotas(&app, &id, &[("long_polls", "1")]).await.status(),
        200
    );
    let action = app.submit_ok(&key, "docs.summarize").await;
    let action_id = action["id"].as_str().unwrap().to_string();
    let holding = {
        let (app_base, http, key, action_id) = (
            app.base.clone(),
            app.http.clone(),
            key.clone(),
            action_id.clone(),
        );
        tokio::spawn(async move {
            http.get(format!("{app_base}/api/v1/actions/{action_id}?wait=3"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = app.get_action(&key, &action_id, Some(3)).await;
    assert!(res.headers().contains_key("retry-after"));
    let detail = assert_problem(res, 429).await;
    assert!(detail.contains("1 long-polls open"), "{detail}");
    // A plain read is not a long-poll.
    assert_eq!(app.get_action(&key, &action_id, None).await.status(), 200);
    assert_eq!(holding.await.unwrap(), 200);
    // The first answered: its place is free again.
    assert_eq!(
        app.get_action(&key, &action_id, Some(1)).await.status(),
        200
    );
    assert_eq!(refused(&sheet(&app, &id).await, "long_polls"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_are_set_by_leads_within_range_and_from_the_cli() {
    let app = TestApp::spawn().await;
    app.user("lena", Role::Lead).await;
    app.user("rita", Role::Reviewer).await;
    let (id, _) = app.agent("bot", Stage::Propose).await;
    let res = set_quotas(&app, &id, &[("submissions_per_minute", "0")]).await;
    assert_eq!(res.status(), 422);
    let res = set_quotas(&app, &id, &[("pending", "lots")]).await;
    assert_eq!(res.status(), 422);
    let reviewer = app.browser("rita").await;
    let res = reviewer
        .rpc(
            "quota/set",
            &[
                ("agent_id", &id),
                ("submissions_per_minute", "5"),
                ("pending", ""),
                ("evidence_bytes_per_day", ""),
                ("long_polls", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let shown = sheet(&app, &id).await;
    assert!(shown["lines"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["own"].is_null()));
    assert_eq!(shown["lines"][0]["default"], 600);

    let out = belay(
        &app.db_url,
        &[
            "agent",
            "quota",
            "--name",
            "bot",
            "--pending",
            "7",
            "--evidence-mib-per-day",
            "3",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("pending: 7"), "{}", text(&out));
    assert!(text(&out).contains("submissions_per_minute: default"));
    let shown = sheet(&app, &id).await;
    assert_eq!(shown["lines"][1]["own"], 7);
    assert_eq!(shown["lines"][2]["own"], 3);
    let out = belay(&app.db_url, &["agent", "quota", "--name", "nobody"], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("no agent is named"), "{}", text(&out));
    assert_eq!(app.audit_count("agent.quotas_set", &id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_queue_stream_ends_at_sign_out() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    app.user("ravi", Role::Reviewer).await;
    let open = |who: crate::common::Browser| async move {
        let res = who
            .http
            .get(format!("{}/approvals/events", who.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        (who, res)
    };
    let (rita, mut stream) = open(app.browser("rita").await).await;
    let (_ravi, mut other) = open(app.browser("ravi").await).await;
    assert_eq!(rita.rpc("logout", &[]).await.status(), 200);
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(_chunk) = stream.chunk().await.unwrap() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived sign-out");
    // Someone still signed in keeps theirs.
    let still = tokio::time::timeout(Duration::from_secs(1), other.chunk()).await;
    assert!(!matches!(still, Ok(Ok(None))), "a signed-in stream ended");
}
