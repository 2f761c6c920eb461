//! The agent REST API over HTTP: the happy path and every refusal.

use crate::common::{assert_problem, TestApp};
use app::auth::Role;
use app::policy::Stage;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_submits_a_reviewer_approves_and_the_long_poll_sees_it() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Reviewer).await;
    let (_, key) = app.agent("mailer", Stage::ActWithApproval).await;

    let res = app
        .submit(
            &key,
            json!({
                "capability": "email.send",
                "target": "customer@example.com",
                "summary": "Send the overdue-invoice reminder",
                "params": {"template": "reminder", "invoice": "INV-7"},
                "evidence": [{"type": "plan", "content": "1. Look up invoice\n2. Send reminder"}]
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["decision"], "pending_approval");
    assert_eq!(created["state"], "pending_approval");
    assert_eq!(created["policy_version"], 1);
    assert!(created["expires_at"].is_string());
    let reasons = created["reasons"].as_array().unwrap();
    assert!(
        reasons[0].as_str().unwrap().contains("external_send"),
        "{reasons:?}"
    );
    assert_eq!(created["evidence"][0]["type"], "plan");
    let id = created["id"].as_str().unwrap().to_string();

    // The agent waits; the reviewer decides meanwhile.
    let waiter = {
        let (http, url, key) = (
            app.http.clone(),
            format!("{}/api/v1/actions/{id}?wait=20", app.base),
            key.clone(),
        );
        tokio::spawn(async move {
            let started = Instant::now();
            let res = http.get(url).bearer_auth(key).send().await.unwrap();
            (started.elapsed(), res.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alice = app.browser("alice").await;
    assert_eq!(alice.approve(&id).await.status(), 200);

    let (waited, seen) = waiter.await.unwrap();
    assert_eq!(seen["state"], "approved");
    assert!(seen["decided_at"].is_string());
    assert!(
        waited < Duration::from_secs(10),
        "long-poll answered after {waited:?}"
    );

    assert_eq!(app.audit_count("action.submitted", &id).await, 1);
    assert_eq!(app.audit_count("action.approved", &id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_on_a_pending_request_returns_when_the_wait_ends() {
    let app = TestApp::spawn().await;
    let (_, key) = app.agent("waiter", Stage::ActWithApproval).await;
    let id = app.submit_ok(&key, "records.delete").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let started = Instant::now();
    let res = app.get_action(&key, &id, Some(1)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["state"],
        "pending_approval"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_without_risk_triggers_is_allowed_at_act_with_approval() {
    let app = TestApp::spawn().await;
    let (id, key) = app.agent("summarizer", Stage::ActWithApproval).await;
    app.grant_used(&id, "docs.summarize").await;
    let body = app.submit_ok(&key, "docs.summarize").await;
    assert_eq!(body["decision"], "allowed");
    assert_eq!(body["state"], "allowed");
    assert!(body["expires_at"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_capability_is_never_allowed() {
    let app = TestApp::spawn().await;
    let (_, key) = app.agent("explorer", Stage::ScopedAutonomy).await;
    let body = app.submit_ok(&key, "rockets.launch").await;
    assert_eq!(body["decision"], "pending_approval");
    let reasons = body["reasons"].to_string();
    assert!(reasons.contains("not in the catalog"), "{reasons}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stage_turns_a_risky_action_into_its_documented_decision() {
    let app = TestApp::spawn().await;
    for (stage, decision) in [
        (Stage::Observe, "denied"),
        (Stage::Draft, "drafted"),
        (Stage::Propose, "pending_approval"),
        (Stage::ActWithApproval, "pending_approval"),
        (Stage::ScopedAutonomy, "pending_approval"),
    ] {
        let (_, key) = app.agent(&format!("agent-{stage}"), stage).await;
        let body = app.submit_ok(&key, "billing.refund").await;
        assert_eq!(body["decision"], decision, "{stage}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_malformed_and_unknown_keys_get_401_problem_details() {
    let app = TestApp::spawn().await;
    let url = format!("{}/api/v1/me", app.base);
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"belay\"");
    assert!(assert_problem(res, 401).await.contains("missing API key"));
    let res = app
        .http
        .get(&url)
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
    let res = app
        .http
        .get(&url)
        .bearer_auth("belay_not-a-real-key")
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
    let forged = format!("belay_{}", "A".repeat(43));
    let res = app.http.get(&url).bearer_auth(forged).send().await.unwrap();
    assert_problem(res, 401).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::spawn().await;
    let (_, key) = app.agent("any-case", Stage::Propose).await;
    for scheme in ["Bearer", "bearer", "BEARER", "beaRer"] {
        let res = app
            .http
            .get(format!("{}/api/v1/me", app.base))
            .header("Authorization", format!("{scheme} {key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_describes_the_calling_agent() {
    let app = TestApp::spawn().await;
    let (id, key) = app.agent("self-aware", Stage::Propose).await;
    let res = app
        .http
        .get(format!("{}/api/v1/me", app.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["stage"], "propose");
    assert_eq!(me["status"], "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agents_request_is_404() {
    let app = TestApp::spawn().await;
    let (_, mine) = app.agent("mine", Stage::ActWithApproval).await;
    let (_, theirs) = app.agent("theirs", Stage::ActWithApproval).await;
    let id = app.submit_ok(&theirs, "email.send").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_problem(app.get_action(&mine, &id, None).await, 404).await;
    assert_problem(app.get_action(&mine, "no-such-id", None).await, 404).await;
    assert_eq!(app.get_action(&theirs, &id, None).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_400_and_unknown_or_missing_fields_422() {
    let app = TestApp::spawn().await;
    let (_, key) = app.agent("sloppy", Stage::ActWithApproval).await;
    let url = format!("{}/api/v1/actions", app.base);
    let raw = |body: &'static str| {
        app.http
            .post(&url)
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_problem(raw("{\"capability\":").await.unwrap(), 400).await;
    assert_problem(raw("not json at all").await.unwrap(), 400).await;
    let detail = assert_problem(
        raw(r#"{"capability":"email.send","target":"x","summary":"y","sneaky":true}"#)
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(detail.contains("sneaky"), "{detail}");
    assert_problem(raw(r#"{"capability":"email.send"}"#).await.unwrap(), 422).await;
    assert_problem(
        raw(r#"{"capability":"Not Valid!","target":"x","summary":"y"}"#)
            .await
            .unwrap(),
        422,
    )
    .await;
    let res = app
        .http
        .post(&url)
        .bearer_auth(&key)
        .body("capability=x")
        .send()
        .await
        .unwrap();
    assert_problem(res, 415).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_endpoints_and_methods_are_problems_too() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .get(format!("{}/api/v1/nothing-here", app.base))
        .send()
        .await
        .unwrap();
    assert_problem(res, 404).await;
    let res = app
        .http
        .delete(format!("{}/api/v1/actions", app.base))
        .send()
        .await
        .unwrap();
    assert_problem(res, 405).await;
    let (_, key) = app.agent("poller", Stage::ActWithApproval).await;
    let id = app.submit_ok(&key, "email.send").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .http
        .get(format!("{}/api/v1/actions/{id}?wait=soon", app.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_problem(res, 400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_contract_describes_exactly_the_routes_served() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let (_, key) = app.agent("reader", Stage::Observe).await;
    for (path, ops) in paths {
        let url = format!("{}/api/v1{}", app.base, path.replace("{id}", "some-id"));
        for method in ops.as_object().unwrap().keys() {
            let res = app
                .http
                .request(method.to_uppercase().parse().unwrap(), &url)
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap();
            assert!(
                !body.contains("no such API endpoint"),
                "{method} {path} is not routed"
            );
            assert_ne!(status, 405, "{method} {path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cancels_its_pending_request_once_and_only_its_own() {
    let app = TestApp::spawn().await;
    let (quitter, key) = app.agent("quitter", Stage::ActWithApproval).await;
    let (_, other) = app.agent("bystander", Stage::ActWithApproval).await;
    app.grant_used(&quitter, "docs.summarize").await;
    let id = app.submit_ok(&key, "email.send").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cancel = |k: &str| {
        app.http
            .post(format!("{}/api/v1/actions/{id}/cancel", app.base))
            .bearer_auth(k.to_string())
            .send()
    };
    assert_problem(cancel(&other).await.unwrap(), 404).await;
    let res = cancel(&key).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["state"], "cancelled");
    assert_problem(cancel(&key).await.unwrap(), 409).await;
    assert_eq!(app.audit_count("action.cancelled", &id).await, 1);

    let allowed = app.submit_ok(&key, "docs.summarize").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .http
        .post(format!("{}/api/v1/actions/{allowed}/cancel", app.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_problem(res, 409).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_bytes_are_refused_as_bad_input_never_500() {
    let app = TestApp::spawn().await;
    let (_, key) = app.agent("binary", Stage::ActWithApproval).await;
    let res = app
        .submit(
            &key,
            json!({"capability": "email.send", "target": "x", "summary": "a\u{0}b"}),
        )
        .await;
    assert_problem(res, 422).await;
    let res = app
        .submit(&key, json!({"capability": "email.send", "target": "x", "summary": "y",
            "evidence": [{"type": "screenshot", "media_type": "image/png", "content_base64": "PHNjcmlwdD4="}]}))
        .await;
    assert_problem(res, 415).await;
    for (path, status) in [("%00", 404), ("not-a-uuid", 404), ("%FF", 400)] {
        let res = app
            .http
            .get(format!("{}/api/v1/actions/{path}", app.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_problem(res, status).await;
    }
}
