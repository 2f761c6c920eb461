//! Reviewing and executing: approve with edits, the sponsor rule, approvals
//! bound to what was seen, claim exactly once, and outcomes. The helpers
//! marked `pub(crate)` are shared with `evidence_and_idempotency` and
//! `review_queue`.

use crate::common::{assert_problem, TestApp};
use app::auth::Role;
use app::policy::{RuleKey, Stage};
use serde_json::{json, Value};

/// An agent at `stage` with email.send granted and used: its sends pause
/// for approval (external_send, customer_visible).
pub(crate) async fn mailer(app: &TestApp, name: &str, stage: Stage) -> (String, String) {
    let (id, key) = app.agent(name, stage).await;
    app.grant(&id, "email.send", |g| g.bounds = "amount <= 500".into())
        .await;
    app.grant_used(&id, "docs.summarize").await;
    let mut tx = app.db.begin().await.unwrap();
    app::policy::facts::record_use(&mut tx, &id, "email.send", 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (id, key)
}

pub(crate) async fn send(app: &TestApp, key: &str, params: Value) -> Value {
    let res = app
        .submit(
            key,
            json!({"capability": "email.send", "target": "customer-42", "summary": "refund note", "params": params}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

pub(crate) fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_with_edits_is_a_correction_and_the_agent_claims_exactly_the_edited_params() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let sent = send(&app, &key, json!({"amount": 300, "to": "a@b.c"})).await;
    assert_eq!(sent["decision"], "pending_approval");
    let id = id_of(&sent);
    let rita = app.browser("rita").await;
    let seen = rita.seen(&id).await;

    // An edit outside the grant's bound is refused; the request stays open.
    let res = rita
        .approve_seen(&id, &seen, Some(r#"{"amount": 900, "to": "a@b.c"}"#))
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        rita.approve_seen(&id, &seen, Some("[1, 2]")).await.status(),
        422
    );
    assert_eq!(
        rita.approve_seen(&id, &seen, Some("{not json"))
            .await
            .status(),
        422
    );

    // Claiming before approval is a conflict.
    assert_problem(app.agent_post(&key, &id, "claim", None).await, 409).await;

    let res = rita
        .approve_seen(&id, &seen, Some(r#"{"amount": 250, "to": "a@b.c"}"#))
        .await;
    assert_eq!(res.status(), 200);
    let decided: Value = res.json().await.unwrap();
    assert_eq!(decided["state"], "approved");
    assert_eq!(
        decided["correction"],
        json!({"amount": {"before": 300, "after": 250}})
    );

    let claimed = app.agent_post(&key, &id, "claim", None).await;
    assert_eq!(claimed.status(), 200);
    let claimed: Value = claimed.json().await.unwrap();
    assert_eq!(claimed["state"], "executing");
    assert_eq!(
        claimed["approved_params"],
        json!({"amount": 250, "to": "a@b.c"})
    );
    assert_eq!(claimed["params"], json!({"amount": 300, "to": "a@b.c"}));
    assert_problem(app.agent_post(&key, &id, "claim", None).await, 409).await;

    // The outcome is reported once.
    let res = app
        .agent_post(
            &key,
            &id,
            "outcome",
            Some(json!({"status": "succeeded", "details": "sent"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["state"], "succeeded");
    assert_eq!(done["outcome_detail"], "sent");
    assert_problem(
        app.agent_post(&key, &id, "outcome", Some(json!({"status": "failed"})))
            .await,
        409,
    )
    .await;
    assert_problem(
        app.agent_post(&key, &id, "outcome", Some(json!({"status": "maybe"})))
            .await,
        422,
    )
    .await;
    for what in ["action.approved", "action.claimed", "action.succeeded"] {
        assert_eq!(app.audit_count(what, &id).await, 1, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_agents_own_approved_requests_at_act_with_approval_or_above_are_claimable() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let rita = app.browser("rita").await;
    let (_, proposer) = mailer(&app, "proposer", Stage::Propose).await;
    let (_, other) = mailer(&app, "other", Stage::ActWithApproval).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;

    let proposed = id_of(&send(&app, &proposer, json!({"amount": 1})).await);
    assert_eq!(rita.approve(&proposed).await.status(), 200);
    let detail = assert_problem(
        app.agent_post(&proposer, &proposed, "claim", None).await,
        403,
    )
    .await;
    assert!(detail.contains("human"), "{detail}");

    let mine = id_of(&send(&app, &key, json!({"amount": 1})).await);
    assert_eq!(rita.approve(&mine).await.status(), 200);
    // Another agent's key cannot see it, let alone claim it.
    assert_problem(app.agent_post(&other, &mine, "claim", None).await, 404).await;
    assert_problem(app.agent_post(&key, "not-an-id", "claim", None).await, 404).await;

    // An allowed request has nothing to claim; its outcome is reported directly.
    let allowed = app.submit_ok(&key, "docs.summarize").await;
    assert_eq!(allowed["decision"], "allowed");
    let allowed = id_of(&allowed);
    assert_problem(app.agent_post(&key, &allowed, "claim", None).await, 409).await;
    let res = app
        .agent_post(
            &key,
            &allowed,
            "outcome",
            Some(json!({"status": "failed", "incident": true, "details": "wrong doc"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let failed: Value = res.json().await.unwrap();
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["incident"], true);

    // Tampering with what was approved makes the claim refuse.
    sqlx::query("UPDATE action_requests SET edited_params = '{\"amount\": 499}' WHERE id = $1")
        .bind(&mine)
        .execute(&app.db)
        .await
        .unwrap();
    let detail = assert_problem(app.agent_post(&key, &mine, "claim", None).await, 409).await;
    assert!(
        detail.contains("differs from what was approved"),
        "{detail}"
    );
    let state: Value = app
        .get_action(&key, &mine, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(state["state"], "approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sponsor_never_approves_by_default_and_approvals_bind_to_what_was_seen() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    app.user("sam", Role::Reviewer).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    app.edit_rules(|rules| {
        let mut r = rules.get(RuleKey::ExternalSend);
        r.approvals = 2;
        rules.set(RuleKey::ExternalSend, r).unwrap();
    })
    .await;
    let id = id_of(&send(&app, &key, json!({"amount": 5})).await);

    // The agent's sponsor (a lead, who may otherwise decide) is barred.
    let sponsor = app.browser("sponsor").await;
    let page: Value = sponsor
        .rpc("approvals/get", &[("id", &id)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["sponsor_barred"], true);
    let detail = sponsor.approve(&id).await.text().await.unwrap();
    assert!(detail.contains("sponsor"), "{detail}");

    // rita approves (1 of 2); then the agent adds evidence: the payload
    // changed, so rita's approval no longer counts and her old view is stale.
    let rita = app.browser("rita").await;
    let old_view = rita.seen(&id).await;
    assert_eq!(rita.approve_seen(&id, &old_view, None).await.status(), 200);
    assert_eq!(rita.approve(&id).await.status(), 409, "same person twice");
    let res = app
        .upload(&key, &id, vec![("plan", b"1. send\n2. log".to_vec(), None)])
        .await;
    assert_eq!(res.status(), 200);
    let after: Value = res.json().await.unwrap();
    assert_eq!(after["approvals"], 0);
    assert_ne!(after["payload_hash"], old_view.as_str());
    let sam = app.browser("sam").await;
    let detail = sam
        .approve_seen(&id, &old_view, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(detail.contains("changed since you opened it"), "{detail}");
    // Both approve what is there now: approved, by two distinct people.
    assert_eq!(rita.approve(&id).await.status(), 200);
    let res = sam.approve(&id).await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["state"], "approved");
    assert_eq!(done["approved_by"], json!(["rita", "sam"]));
    // Decided: no more evidence.
    let res = app
        .upload(&key, &id, vec![("plan", b"late".to_vec(), None)])
        .await;
    assert_problem(res, 409).await;
    assert_eq!(app.agent_post(&key, &id, "claim", None).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_is_refused_when_the_grant_cannot_be_read() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (agent_id, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let id = id_of(&send(&app, &key, json!({"amount": 300})).await);
    // A grant row nobody can parse, and the epoch moved so the index reloads.
    sqlx::query("UPDATE grants SET bounds = 'amount <= lots' WHERE agent_id = $1 AND capability = 'email.send'")
        .bind(&agent_id)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE policy_epoch SET value = value + 1 WHERE id = 1")
        .execute(&app.db)
        .await
        .unwrap();
    let rita = app.browser("rita").await;
    let seen = rita.seen(&id).await;
    let res = rita
        .approve_seen(&id, &seen, Some(r#"{"amount": 100}"#))
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("cannot be read"));
    // Approving as submitted is still the reviewer's call.
    assert_eq!(rita.approve_seen(&id, &seen, None).await.status(), 200);
}
