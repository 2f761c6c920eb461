//! Stages, first use, editable rules, the catalog and simulation, and the
//! refusals that come before any of them, over HTTP against the real server.
//! Scope and limits are in `scope`, which shares `decide` and `reasons`.

use crate::common::{assert_problem, TestApp};
use app::auth::Role;
use app::policy::{RuleKey, Stage};
use serde_json::{json, Value};

pub(crate) async fn decide(
    app: &TestApp,
    key: &str,
    capability: &str,
    target: &str,
    params: Value,
) -> Value {
    let res = app
        .submit(
            key,
            json!({"capability": capability, "target": target, "summary": "s", "params": params}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

pub(crate) fn reasons(body: &Value) -> String {
    body["reasons"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stage_decides_a_granted_used_capability_as_documented() {
    let app = TestApp::spawn().await;
    for (stage, safe, risky, always) in [
        (Stage::Observe, "denied", "denied", "denied"),
        (Stage::Draft, "drafted", "drafted", "drafted"),
        (
            Stage::Propose,
            "pending_approval",
            "pending_approval",
            "pending_approval",
        ),
        (
            Stage::ActWithApproval,
            "allowed",
            "pending_approval",
            "pending_approval",
        ),
        (
            Stage::ScopedAutonomy,
            "allowed",
            "allowed",
            "pending_approval",
        ),
    ] {
        let (id, key) = app.agent(&format!("agent-{stage}"), stage).await;
        for cap in ["docs.summarize", "email.send", "records.delete"] {
            app.grant_used(&id, cap).await;
        }
        let got = [
            decide(&app, &key, "docs.summarize", "t", json!({})).await,
            decide(&app, &key, "email.send", "t", json!({})).await,
            // destructive is marked always approve in the default policy
            decide(&app, &key, "records.delete", "t", json!({})).await,
        ];
        for (body, want) in got.iter().zip([safe, risky, always]) {
            assert_eq!(body["decision"], want, "{stage}: {}", reasons(body));
            assert_eq!(body["policy_version"], 1);
            assert_eq!(body["stage"], stage.as_str());
        }
        if stage == Stage::Propose {
            assert_eq!(got[0]["carried_out_by"], "human");
        }
        if stage == Stage::ActWithApproval {
            assert_eq!(got[1]["carried_out_by"], "agent");
            assert!(reasons(&got[1]).contains("paused: external_send, customer_visible; the agent is at act_with_approval for email.send"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_use_of_a_capability_is_held_then_trusted_after_approval() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (id, key) = app.agent("autonomous", Stage::ScopedAutonomy).await;
    app.grant(&id, "docs.summarize", |_| {}).await;
    let first = decide(&app, &key, "docs.summarize", "t", json!({})).await;
    assert_eq!(first["decision"], "pending_approval");
    assert_eq!(first["held_for"], json!(["first_use"]));
    assert!(reasons(&first).contains("never used 'docs.summarize' before"));
    // Still a first use until one is approved.
    let second = decide(&app, &key, "docs.summarize", "t", json!({})).await;
    assert_eq!(second["held_for"], json!(["first_use"]));
    let rita = app.browser("rita").await;
    assert_eq!(
        rita.approve(first["id"].as_str().unwrap()).await.status(),
        200
    );
    let third = decide(&app, &key, "docs.summarize", "t", json!({})).await;
    assert_eq!(third["decision"], "allowed", "{}", reasons(&third));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_rule_is_a_new_version_and_needs_distinct_approvers() {
    let app = TestApp::spawn().await;
    for name in ["rita", "raj"] {
        app.user(name, Role::Reviewer).await;
    }
    app.user("lena", Role::Lead).await;
    let (id, key) = app.agent("mailer", Stage::ActWithApproval).await;
    app.grant_used(&id, "email.send").await;

    // A lead edits the rules in the browser.
    let lena = app.browser("lena").await;
    let mut form: Vec<(String, String)> = vec![
        ("base_version".into(), "1".into()),
        ("note".into(), "two eyes on email".into()),
    ];
    for key in RuleKey::ALL {
        let n = if key == RuleKey::ExternalSend {
            "2"
        } else {
            "1"
        };
        form.push((format!("fields[approvals-{key}]"), n.into()));
        form.push((format!("fields[wait-{key}]"), "24h".into()));
        form.push((format!("fields[claim-{key}]"), "1h".into()));
    }
    form.push(("fields[always-destructive]".into(), "on".into()));
    form.push(("fields[always-purchase]".into(), "on".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = lena.rpc("policy/save", &pairs).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(app.audit_count("policy.changed", "2").await, 1);
    // Saving on top of a stale version is a conflict, not an overwrite.
    assert_eq!(lena.rpc("policy/save", &pairs).await.status(), 409);
    // Reviewers cannot change the policy.
    assert_eq!(
        app.browser("rita")
            .await
            .rpc("policy/save", &pairs)
            .await
            .status(),
        403
    );

    let body = decide(&app, &key, "email.send", "t", json!({})).await;
    assert_eq!(body["policy_version"], 2);
    assert_eq!(body["approvals_required"], 2);
    assert!(
        reasons(&body).contains("rule 'external sends need 2 approvals within 1d' (policy v2)"),
        "{}",
        reasons(&body)
    );
    let id = body["id"].as_str().unwrap();

    let rita = app.browser("rita").await;
    let first: Value = rita.approve(id).await.json().await.unwrap();
    assert_eq!(first["state"], "pending_approval");
    assert_eq!(first["approved_by"], json!(["rita"]));
    let again = rita.approve(id).await;
    assert_eq!(again.status(), 409);
    assert!(again.text().await.unwrap().contains("already approved"));
    let second: Value = app
        .browser("raj")
        .await
        .approve(id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["state"], "approved");
    assert_eq!(app.audit_count("action.approval_added", id).await, 1);
    assert_eq!(app.audit_count("action.approved", id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_manage_the_catalog_and_the_decision_follows_at_once() {
    let app = TestApp::spawn().await;
    app.user("lena", Role::Lead).await;
    app.user("rita", Role::Reviewer).await;
    let (id, key) = app.agent("payer", Stage::ScopedAutonomy).await;
    let lena = app.browser("lena").await;
    let add = [
        ("name", "payments.payout"),
        ("description", "Pay out to a vendor"),
        ("checked[external_send]", "on"),
    ];
    assert_eq!(lena.rpc("catalog/save", &add).await.status(), 200);
    assert_eq!(
        app.browser("rita")
            .await
            .rpc("catalog/save", &add)
            .await
            .status(),
        403
    );
    let bad = [("name", "Payments Payout!"), ("description", "x")];
    assert_eq!(lena.rpc("catalog/save", &bad).await.status(), 422);
    assert_eq!(
        app.audit_count("capability.added", "payments.payout").await,
        1
    );

    app.grant_used(&id, "payments.payout").await;
    assert_eq!(
        decide(&app, &key, "payments.payout", "t", json!({})).await["decision"],
        "allowed"
    );
    // Now mark it destructive (always approve): the very next decision pauses.
    let change = [
        ("name", "payments.payout"),
        ("description", "Pay out to a vendor"),
        ("checked[destructive]", "on"),
        ("reason", "payouts cannot be undone"),
    ];
    // It also drops external_send, which holds less: a second lead approves.
    app.applied(lena.rpc("catalog/save", &change).await).await;
    let body = decide(&app, &key, "payments.payout", "t", json!({})).await;
    assert_eq!(body["decision"], "pending_approval");
    assert_eq!(body["held_for"], json!(["destructive"]));
    assert_eq!(
        app.audit_count("capability.changed", "payments.payout")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_explains_a_decision_and_records_nothing() {
    let app = TestApp::spawn().await;
    app.user("lena", Role::Lead).await;
    let (id, _) = app.agent("refunder", Stage::ActWithApproval).await;
    app.grant_used(&id, "billing.refund").await;
    let lena = app.browser("lena").await;
    let before = app.count("SELECT COUNT(*) FROM action_requests").await;
    let res = lena
        .rpc(
            "policy/simulate",
            &[
                ("agent_id", &id),
                ("capability", "billing.refund"),
                ("target", "c"),
                ("params", "{\"amount\": 3}"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let sim: Value = res.json().await.unwrap();
    assert_eq!(sim["outcome"], "pending_approval");
    assert!(sim["reasons"][0]
        .as_str()
        .unwrap()
        .starts_with("paused: purchase, customer_visible"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM action_requests").await,
        before
    );
    let bad = lena
        .rpc(
            "policy/simulate",
            &[
                ("agent_id", &id),
                ("capability", "billing.refund"),
                ("target", "c"),
                ("params", "[1"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_agent_is_refused_before_anything_else() {
    let app = TestApp::spawn().await;
    let (id, key) = app.agent("rogue", Stage::ScopedAutonomy).await;
    app.grant_used(&id, "docs.summarize").await;
    // (Suspending arrives with the kill switch; here the row is set directly
    // and the policy epoch moved, as every change to what decisions read does.)
    sqlx::query("UPDATE agents SET status = 'suspended' WHERE id = $1")
        .bind(&id)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE policy_epoch SET value = value + 1 WHERE id = 1")
        .execute(&app.db)
        .await
        .unwrap();
    let res = app
        .submit(
            &key,
            json!({"capability": "docs.summarize", "target": "t", "summary": "s"}),
        )
        .await;
    assert!(assert_problem(res, 403).await.contains("suspended"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_by_the_very_next_submission() {
    use sqlx::Row;
    let app = TestApp::spawn().await;
    let (id, key) = app.agent("revocable", Stage::ActWithApproval).await;
    app.grant_used(&id, "docs.summarize").await;
    assert_eq!(
        decide(&app, &key, "docs.summarize", "t", json!({})).await["decision"],
        "allowed"
    );
    let key_id: String = sqlx::query("SELECT id FROM agent_keys WHERE agent_id = $1")
        .bind(&id)
        .fetch_one(&app.db)
        .await
        .unwrap()
        .try_get("id")
        .unwrap();
    app::agents::store::revoke_key(&app.db, &app::audit::Actor::System, &key_id)
        .await
        .unwrap();
    let res = app
        .submit(
            &key,
            json!({"capability": "docs.summarize", "target": "t", "summary": "s"}),
        )
        .await;
    assert!(assert_problem(res, 401).await.contains("revoked"));
}
