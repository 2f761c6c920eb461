//! Signed webhooks: every delivery verifies against the endpoint's secret
//! (checked by the test's own verifier), carries each event once with a
//! stable id, retries after failures, can be re-sent, and is written in
//! the event's transaction (a rollback sends nothing). Admins only.
//! The kill-and-restart test is in `webhooks_restart.rs`.

use crate::common::{Browser, TestApp};
use crate::promotion::ok;
use crate::webhook_receiver::{verify, Receiver, Reply};
use app::auth::Role;
use app::policy::Stage;
use serde_json::Value;

/// An admin's browser and a new endpoint for `events`: (id, secret).
pub async fn endpoint(app: &TestApp, url: &str, events: &[&str]) -> (Browser, String, String) {
    if app
        .count("SELECT COUNT(*) FROM users WHERE username = 'ada'")
        .await
        == 0
    {
        app.user("ada", Role::Admin).await;
    }
    let ada = app.browser("ada").await;
    let names: Vec<String> = events
        .iter()
        .map(|e| format!("events[{}]", e.replacen('.', "-", 1)))
        .collect();
    let mut form = vec![("url", url), ("description", "the test's receiver")];
    form.extend(names.iter().map(|n| (n.as_str(), "on")));
    let created = ok(ada.rpc("webhooks/create", &form).await).await;
    let (id, secret) = (
        created["id"].as_str().unwrap(),
        created["secret"].as_str().unwrap(),
    );
    (ada, id.to_string(), secret.to_string())
}

/// A fast-retrying server: the first retry after a second.
async fn spawn() -> TestApp {
    TestApp::spawn_with(|s| {
        s.webhooks.webhook_retry_secs = 1;
        s.webhooks.webhook_timeout_secs = 2;
    })
    .await
}

async fn held(app: &TestApp, key: &str) -> String {
    app.submit_ok(key, "email.send").await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_and_decided_requests_reach_the_endpoint_signed_and_once_each() {
    let app = spawn().await;
    let hook = Receiver::start().await;
    let (_, _, secret) = endpoint(&app, &hook.url, &["action.held", "action.decided"]).await;
    app.user("rita", Role::Reviewer).await;
    let (_, key) = app.agent("mailer", Stage::ActWithApproval).await;
    let (a, b) = (held(&app, &key).await, held(&app, &key).await);
    let rita = app.browser("rita").await;
    assert_eq!(rita.reject(&a, "wrong customer").await.status(), 200);
    let got = hook.wait_for(3, 20).await;
    assert!(got.iter().all(|r| verify(&secret, r)), "{got:?}");
    assert!(!got
        .iter()
        .any(|r| verify("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", r)));
    let mut seen: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["type"].as_str().unwrap().to_string(),
                body["data"]["subject"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    let mut want = vec![
        ("action.decided".to_string(), a.clone()),
        ("action.held".to_string(), a.clone()),
        ("action.held".to_string(), b.clone()),
    ];
    want.sort();
    assert_eq!(seen, want);
    let decided = got
        .iter()
        .find(|r| r.json()["type"] == "action.decided")
        .unwrap()
        .json();
    assert_eq!(decided["data"]["detail"]["after"]["state"], "rejected");
    assert!(decided["timestamp"].as_str().unwrap().ends_with('Z'));
    // Each delivery has its own id; nothing else arrives.
    let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        hook.got().len(),
        3,
        "an allowed or unsubscribed event was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_retried_with_the_same_id_and_every_answer_is_kept() {
    let app = spawn().await;
    let hook = Receiver::start().await;
    hook.plan(&[Reply::Status(500), Reply::Status(503)]);
    let (ada, endpoint_id, secret) = endpoint(&app, &hook.url, &["action.held"]).await;
    let (_, key) = app.agent("mailer", Stage::ActWithApproval).await;
    let id = held(&app, &key).await;
    let got = hook.wait_for(3, 30).await;
    assert!(
        got.iter()
            .all(|r| r.id == got[0].id && r.body == got[0].body),
        "{got:?}"
    );
    assert!(got.iter().all(|r| verify(&secret, r)));
    assert_eq!(got[0].json()["data"]["subject"]["id"], id.as_str());
    let log = delivered_log(&ada, &endpoint_id).await;
    let d = &log[0];
    assert_eq!(d["id"], got[0].id.as_str());
    let statuses: Vec<i64> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, vec![200, 503, 500], "newest first");
    let metrics = app.state.metrics.render((0, None)).unwrap();
    assert!(
        metrics.contains("belay_webhook_deliveries_total{result=\"retrying\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("belay_webhook_deliveries_total{result=\"delivered\"} 1"),
        "{metrics}"
    );
}

/// Waits until the endpoint's newest delivery is delivered; its log.
async fn delivered_log(ada: &Browser, endpoint_id: &str) -> Vec<Value> {
    for _ in 0..100 {
        let page = ok(ada.rpc("webhooks/deliveries", &[("id", endpoint_id)]).await).await;
        let rows = page[1].as_array().unwrap().clone();
        if rows.first().is_some_and(|d| d["state"] == "delivered") {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the delivery was not recorded as delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_ran_out_of_tries_can_be_resent_with_the_same_id() {
    let app = TestApp::spawn_with(|s| {
        s.webhooks.webhook_attempts = 1;
        s.webhooks.webhook_timeout_secs = 2;
    })
    .await;
    let hook = Receiver::start().await;
    hook.plan(&[Reply::Status(500)]);
    let (ada, endpoint_id, secret) = endpoint(&app, &hook.url, &["action.held"]).await;
    let (_, key) = app.agent("mailer", Stage::ActWithApproval).await;
    held(&app, &key).await;
    let first = hook.wait_for(1, 20).await;
    let failed = loop {
        let page = ok(ada
            .rpc("webhooks/deliveries", &[("id", &endpoint_id)])
            .await)
        .await;
        if page[1][0]["state"] == "failed" {
            break page[1][0].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let delivery = failed["id"].as_str().unwrap();
    ok(ada.rpc("webhooks/resend", &[("id", delivery)]).await).await;
    let got = hook.wait_for(2, 20).await;
    assert_eq!(got[1].id, first[0].id, "a re-send keeps the webhook-id");
    assert_eq!(got[1].body, first[0].body);
    assert!(verify(&secret, &got[1]));
    let log = delivered_log(&ada, &endpoint_id).await;
    assert_eq!(log[0]["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(app.audit_count("webhook.resent", delivery).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_change_sends_nothing_and_a_committed_one_is_in_the_outbox() {
    let app = spawn().await;
    let hook = Receiver::start().await;
    endpoint(&app, &hook.url, &["agent.suspended"]).await;
    let event = |id: &'static str| app::audit::Event {
        actor: &app::audit::Actor::System,
        what: "agent.suspended",
        subject_kind: "agent",
        subject_id: id,
        detail: serde_json::json!({ "after": { "status": "suspended" } }),
    };
    let mut tx = app.db.begin().await.unwrap();
    app::audit::record(&mut tx, event("0190aaaa-0000-7000-8000-000000000001"))
        .await
        .unwrap();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries").await,
        0,
        "not before the commit"
    );
    tx.rollback().await.unwrap();
    let mut tx = app.db.begin().await.unwrap();
    app::audit::record(&mut tx, event("0190aaaa-0000-7000-8000-000000000002"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let got = hook.wait_for(1, 20).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let got_now = hook.got();
    assert_eq!(got_now.len(), 1, "{got_now:?}");
    assert_eq!(
        got[0].json()["data"]["subject"]["id"],
        "0190aaaa-0000-7000-8000-000000000002"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_manage_endpoints_and_every_change_is_audited_without_the_secret() {
    let app = spawn().await;
    let hook = Receiver::start().await;
    let (ada, id, secret) = endpoint(&app, &hook.url, &["action.held"]).await;
    app.user("lena", Role::Lead).await;
    let lena = app.browser("lena").await;
    assert_eq!(lena.rpc("webhooks/list", &[]).await.status(), 403);
    let form = [
        ("url", hook.url.as_str()),
        ("description", "mine"),
        ("events[action-held]", "on"),
    ];
    assert_eq!(lena.rpc("webhooks/create", &form).await.status(), 403);
    assert_eq!(
        lena.rpc("webhooks/rotate", &[("id", &id)]).await.status(),
        403
    );
    assert_eq!(
        lena.rpc("webhooks/delete", &[("id", &id)]).await.status(),
        403
    );
    assert_eq!(
        app.anonymous_browser()
            .rpc("webhooks/list", &[])
            .await
            .status(),
        401
    );
    for bad in [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "https://user:pw@example.com/",
    ] {
        let form = [
            ("url", bad),
            ("description", "x"),
            ("events[action-held]", "on"),
        ];
        assert_eq!(
            ada.rpc("webhooks/create", &form).await.status(),
            422,
            "{bad}"
        );
    }
    let none = [("url", hook.url.as_str()), ("description", "x")];
    assert_eq!(ada.rpc("webhooks/create", &none).await.status(), 422);

    // Rotating: the new secret signs, the old one no longer does.
    let rotated: Value = ok(ada.rpc("webhooks/rotate", &[("id", &id)]).await).await;
    let new_secret = rotated.as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    let (_, key) = app.agent("mailer", Stage::ActWithApproval).await;
    held(&app, &key).await;
    let got = hook.wait_for(1, 20).await;
    assert!(verify(&new_secret, &got[0]) && !verify(&secret, &got[0]));

    // Disabled: nothing is written for it.
    ok(ada
        .rpc("webhooks/set_enabled", &[("id", &id), ("enabled", "off")])
        .await)
    .await;
    held(&app, &key).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries").await,
        1
    );
    ok(ada.rpc("webhooks/delete", &[("id", &id)]).await).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_endpoints").await, 0);
    for what in [
        "webhook.created",
        "webhook.secret_rotated",
        "webhook.disabled",
        "webhook.deleted",
    ] {
        assert_eq!(app.audit_count(what, &id).await, 1, "{what}");
    }
    let leaked = app
        .count(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%{}%' OR detail LIKE '%{}%'",
            &secret[6..20],
            &new_secret[6..20]
        ))
        .await;
    assert_eq!(leaked, 0, "a secret reached the audit trail");
    // The pages render for the admin.
    let page = ada.page("/webhooks").await;
    assert_eq!(page.status(), 200);
}
