//! Reviewers deciding in the browser (through the same endpoints the
//! hydrated pages call), and the rules around deciding.

use crate::common::TestApp;
use app::auth::Role;
use app::policy::{RuleKey, Stage};
use serde_json::Value;
use std::time::Duration;

async fn pending(app: &TestApp, key: &str) -> String {
    app.submit_ok(key, "email.send").await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deciding_twice_returns_409_and_records_one_decision() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Reviewer).await;
    app.user("bob", Role::Reviewer).await;
    let (_, key) = app.agent("mailer", Stage::ActWithApproval).await;
    let id = pending(&app, &key).await;
    let alice = app.browser("alice").await;
    let bob = app.browser("bob").await;

    assert_eq!(alice.reject(&id, "wrong customer").await.status(), 200);
    let res = bob.approve(&id).await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["Conflict"]
            .as_str()
            .unwrap()
            .contains("already rejected by alice"),
        "{body}"
    );
    assert_eq!(alice.reject(&id, "again").await.status(), 409);

    let seen: Value = app.get_action(&key, &id, None).await.json().await.unwrap();
    assert_eq!(seen["state"], "rejected");
    assert_eq!(seen["decision_note"], "wrong customer");
    assert_eq!(app.audit_count("action.rejected", &id).await, 1);
    assert_eq!(app.audit_count("action.approved", &id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reviewers_produce_exactly_one_decision() {
    let app = TestApp::spawn().await;
    let mut reviewers = Vec::new();
    for i in 0..8 {
        let name = format!("reviewer{i}");
        app.user(&name, Role::Reviewer).await;
        reviewers.push(app.browser(&name).await);
    }
    let (_, key) = app.agent("mailer", Stage::ActWithApproval).await;
    let id = pending(&app, &key).await;
    // All decide at once; the database settles the race.
    let mut set = tokio::task::JoinSet::new();
    for r in reviewers {
        let id = id.clone();
        set.spawn(async move { r.approve(&id).await.status().as_u16() });
    }
    let statuses = set.join_all().await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(app.audit_count("action.approved", &id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejecting_needs_a_reason() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Reviewer).await;
    let (_, key) = app.agent("mailer", Stage::ActWithApproval).await;
    let id = pending(&app, &key).await;
    let alice = app.browser("alice").await;
    assert_eq!(alice.reject(&id, "   ").await.status(), 422);
    assert_eq!(alice.reject(&id, "bad\u{0}byte").await.status(), 422);
    let seen: Value = app.get_action(&key, &id, None).await.json().await.unwrap();
    assert_eq!(seen["state"], "pending_approval");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_request_cannot_be_approved() {
    let app = TestApp::spawn().await;
    // Every rule waits one second, so whatever holds the request, it expires.
    app.edit_rules(|rules| {
        for key in RuleKey::ALL {
            let mut rule = rules.get(key);
            rule.ttl_secs = 1;
            rules.set(key, rule).unwrap();
        }
    })
    .await;
    app.user("alice", Role::Reviewer).await;
    let (_, key) = app.agent("slowpoke", Stage::ActWithApproval).await;
    let id = pending(&app, &key).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let res = app.browser("alice").await.approve(&id).await;
    assert_eq!(res.status(), 409);
    let seen: Value = app.get_action(&key, &id, None).await.json().await.unwrap();
    assert_eq!(seen["state"], "expired");
    assert_eq!(app.audit_count("action.expired", &id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_reviewers_leads_and_admins_decide() {
    let app = TestApp::spawn().await;
    app.user("audrey", Role::Auditor).await;
    let (_, key) = app.agent("mailer", Stage::ActWithApproval).await;
    let id = pending(&app, &key).await;
    let res = app.browser("audrey").await.approve(&id).await;
    assert_eq!(res.status(), 403);
    let anonymous = app.anonymous_browser();
    assert_eq!(anonymous.approve(&id).await.status(), 401);
    assert_eq!(app.audit_count("action.approved", &id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_and_request_page_show_why_it_paused() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Reviewer).await;
    let (_, key) = app.agent("mailer", Stage::ActWithApproval).await;
    let id = pending(&app, &key).await;
    let alice = app.browser("alice").await;
    let queue = alice.page("/approvals").await.text().await.unwrap();
    assert!(
        queue.contains(&id) && queue.contains("email.send"),
        "queue lacks the request"
    );
    let page = alice
        .page(&format!("/approvals/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Why it paused"));
    assert!(page.contains("paused: external_send, customer_visible"));
    assert!(page.contains("policy v1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_is_escaped_never_rendered_as_html() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Reviewer).await;
    let (_, key) = app.agent("sneaky", Stage::ActWithApproval).await;
    let res = app
        .submit(
            &key,
            serde_json::json!({
                "capability": "email.send",
                "target": "<img src=x onerror=alert(1)>",
                "summary": "<script>alert('xss')</script>",
                "params": {"html": "<b>bold</b>"}
            }),
        )
        .await;
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let page = app
        .browser("alice")
        .await
        .page(&format!("/approvals/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>alert"), "summary rendered as HTML");
    assert!(!page.contains("<img src=x"), "target rendered as HTML");
    assert!(page.contains("&lt;script&gt;"));
}
