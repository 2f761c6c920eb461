//! Slack approvals against a fake Slack: only requests Slack signed within
//! five minutes are heard; a held request is posted with buttons bound to
//! the payload shown; an unlinked Slack user reads but cannot decide; a
//! linked one decides as themselves under every rule of the browser; and
//! the message follows the request however it is decided.

#[path = "slack_fake.rs"]
mod fake;

use crate::review::{id_of, mailer, send};
use app::auth::Role;
use app::policy::{RuleKey, Stage};
use fake::{button_value, now, SlackApp, LINK_BASE, SECRET};
use serde_json::{json, Value};

async fn state_of(app: &SlackApp, id: &str) -> Value {
    let rita = app.browser("rita").await;
    let page: Value = rita
        .rpc("approvals/get", &[("id", id)])
        .await
        .json()
        .await
        .unwrap();
    page["action"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_requests_with_a_bad_signature_or_a_stale_timestamp_are_refused() {
    let app = SlackApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    app.link("rita", "U0RITA").await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let id = id_of(&send(&app, &key, json!({"amount": 5})).await);
    let value = button_value(&app.posted(&id).await, "belay_approve");
    let body = SlackApp::click_body("U0RITA", "belay_approve", &value);

    let wrong_secret = app
        .post_signed("/slack/interactions", &body, now(), "not-the-secret")
        .await;
    assert_eq!(wrong_secret.status(), 401);
    let stale = app
        .post_signed("/slack/interactions", &body, now() - 6 * 60, SECRET)
        .await;
    assert_eq!(stale.status(), 401);
    let future = app
        .post_signed("/slack/interactions", &body, now() + 6 * 60, SECRET)
        .await;
    assert_eq!(future.status(), 401);
    let unsigned = app
        .http
        .post(format!("{}/slack/interactions", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    let signed_other = app
        .post_signed("/slack/commands", "text=help", now(), "not-the-secret")
        .await;
    assert_eq!(signed_other.status(), 401);
    assert_eq!(state_of(&app, &id).await["approved_by"], json!([]));
    assert_eq!(app.count("SELECT COUNT(*) FROM approvals").await, 0);

    // The same click, signed now with the right secret, is heard.
    assert!(app
        .click("U0RITA", "belay_approve", &value)
        .await
        .contains("approved"));
    assert_eq!(state_of(&app, &id).await["state"], "approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_request_is_posted_with_buttons_bound_to_its_payload_and_an_unlinked_user_cannot_decide(
) {
    let app = SlackApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE what = 'slack.route_set'")
            .await,
        1
    );
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let held = send(&app, &key, json!({"amount": 5})).await;
    let id = id_of(&held);
    let posted = app.posted(&id).await;
    assert_eq!(posted["channel"], "#approvals");
    let text = posted["blocks"].to_string();
    assert!(
        text.contains("refund note") && text.contains("mailer"),
        "{text}"
    );
    assert!(
        text.contains("external_send") && text.contains("act_with_approval"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{LINK_BASE}/approvals/{id}")),
        "{text}"
    );
    let value = button_value(&posted, "belay_approve");
    assert_eq!(
        value,
        format!("{id}:{}", held["payload_hash"].as_str().unwrap())
    );
    assert_eq!(button_value(&posted, "belay_reject"), value);

    // A Slack user nobody linked reads the message but cannot decide.
    let told = app.click("U0STRANGER", "belay_approve", &value).await;
    assert!(told.contains("not linked"), "{told}");
    let told = app.click("U0STRANGER", "belay_reject", &value).await;
    assert!(told.contains("not linked"), "{told}");
    assert_eq!(state_of(&app, &id).await["state"], "pending_approval");
    assert_eq!(app.count("SELECT COUNT(*) FROM approvals").await, 0);
    // A code nobody made links nobody.
    let reply = app.command("U0STRANGER", "link ABCDEFGHJK").await;
    assert!(reply.contains("Not linked"), "{reply}");
    assert_eq!(app.count("SELECT COUNT(*) FROM slack_links").await, 0);
    // Still one message: a request is posted once.
    assert_eq!(app.slack.calls("chat.postMessage").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_users_approval_counts_as_theirs_and_the_message_says_so() {
    let app = SlackApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    app.link("rita", "U0RITA").await;
    let rita_id = app::auth::users::find_by_username(&app.db, "rita")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(app.audit_count("slack.linked", &rita_id).await, 1);
    // A code works once.
    let me = app.browser("rita").await;
    let code: String = me.rpc("slack/start_link", &[]).await.json().await.unwrap();
    assert!(app
        .command("U0OTHER", &format!("link {code}"))
        .await
        .contains("you are rita"));
    assert!(app
        .command("U0RITA", &format!("link {code}"))
        .await
        .contains("Not linked"));
    app.link("rita", "U0RITA").await;

    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let id = id_of(&send(&app, &key, json!({"amount": 5})).await);
    let value = button_value(&app.posted(&id).await, "belay_approve");
    let told = app.click("U0RITA", "belay_approve", &value).await;
    assert!(told.contains("approved"), "{told}");
    let action = state_of(&app, &id).await;
    assert_eq!(action["state"], "approved");
    assert_eq!(action["approved_by"], json!(["rita"]));
    let actor: String = {
        use sqlx::Row;
        sqlx::query(
            "SELECT actor_id FROM audit_events WHERE what = 'action.approved' AND subject_id = $1",
        )
        .bind(&id)
        .fetch_one(&app.db)
        .await
        .unwrap()
        .try_get("actor_id")
        .unwrap()
    };
    assert_eq!(actor, rita_id);
    // The agent can claim it: an approval from Slack is a real one.
    assert_eq!(app.agent_post(&key, &id, "claim", None).await.status(), 200);

    let updated = app
        .slack
        .wait_for("chat.update", |b| {
            b["text"]
                .as_str()
                .unwrap_or("")
                .contains("Approved by rita")
        })
        .await;
    // The fake numbers its answers: the post was the first call.
    assert_eq!(updated["ts"], "1700000000.000001");
    assert_eq!(updated["channel"], "C0APPROVALS");
    assert!(
        !updated["blocks"].to_string().contains("belay_approve"),
        "no buttons once decided"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_decisions_keep_the_sponsor_bar_the_n_of_m_rule_and_the_payload_shown() {
    let app = SlackApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    app.user("sam", Role::Reviewer).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    app.link("sponsor", "U0SPONSOR").await;
    app.link("rita", "U0RITA").await;
    app.link("sam", "U0SAM").await;
    app.edit_rules(|rules| {
        let mut r = rules.get(RuleKey::ExternalSend);
        r.approvals = 2;
        rules.set(RuleKey::ExternalSend, r).unwrap();
    })
    .await;
    let id = id_of(&send(&app, &key, json!({"amount": 5})).await);
    let value = button_value(&app.posted(&id).await, "belay_approve");

    let told = app.click("U0SPONSOR", "belay_approve", &value).await;
    assert!(told.contains("sponsor"), "{told}");
    // A button showing another payload than the request's now is refused.
    let (rid, _) = value.split_once(':').unwrap();
    let stale = format!("{rid}:{}", "0".repeat(64));
    let told = app.click("U0RITA", "belay_approve", &stale).await;
    assert!(told.contains("changed since you opened it"), "{told}");
    assert_eq!(app.count("SELECT COUNT(*) FROM approvals").await, 0);

    let told = app.click("U0RITA", "belay_approve", &value).await;
    assert!(told.contains("1 of 2"), "{told}");
    let told = app.click("U0RITA", "belay_approve", &value).await;
    assert!(told.contains("already approved"), "{told}");
    assert_eq!(state_of(&app, &id).await["state"], "pending_approval");
    // The message shows the count, and still has its buttons.
    let update = app
        .slack
        .wait_for("chat.update", |b| {
            b["blocks"].to_string().contains("1 of 2")
        })
        .await;
    assert_eq!(button_value(&update, "belay_approve"), value);

    let told = app.click("U0SAM", "belay_approve", &value).await;
    assert!(told.contains("approved"), "{told}");
    let action = state_of(&app, &id).await;
    assert_eq!(action["state"], "approved");
    assert_eq!(action["approved_by"], json!(["rita", "sam"]));
    app.slack
        .wait_for("chat.update", |b| {
            b["text"]
                .as_str()
                .unwrap_or("")
                .contains("Approved by rita, sam")
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_follows_a_request_decided_in_the_browser_or_cancelled() {
    let app = SlackApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let rejected = id_of(&send(&app, &key, json!({"amount": 5})).await);
    let cancelled = id_of(&send(&app, &key, json!({"amount": 6})).await);
    app.posted(&rejected).await;
    app.posted(&cancelled).await;

    let rita = app.browser("rita").await;
    assert_eq!(rita.reject(&rejected, "wrong customer").await.status(), 200);
    let update = app
        .slack
        .wait_for("chat.update", |b| {
            b["text"]
                .as_str()
                .unwrap_or("")
                .contains("Rejected by rita")
        })
        .await;
    assert!(update["blocks"].to_string().contains("wrong customer"));
    assert_eq!(
        app.agent_post(&key, &cancelled, "cancel", None)
            .await
            .status(),
        200
    );
    app.slack
        .wait_for("chat.update", |b| {
            b["text"].as_str().unwrap_or("").starts_with("Cancelled")
        })
        .await;
    // Clicking a decided request's old message changes nothing.
    app.link("rita", "U0RITA").await;
    let value = format!("{rejected}:{}", "0".repeat(64));
    let told = app.click("U0RITA", "belay_approve", &value).await;
    assert!(told.starts_with("Not decided"), "{told}");
    assert_eq!(state_of(&app, &rejected).await["state"], "rejected");
}
