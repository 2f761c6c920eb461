//! Stages, scope, first use, editable rules and simulation, over HTTP
//! against the real server.

use crate::common::{assert_problem, TestApp};
use app::auth::Role;
use app::policy::{Rule, RuleKey, Stage};
use serde_json::{json, Value};

async fn decide(app: &TestApp, key: &str, capability: &str, target: &str, params: Value) -> Value {
    let res = app
        .submit(
            key,
            json!({"capability": capability, "target": target, "summary": "s", "params": params}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

fn reasons(body: &Value) -> String {
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
async fn using_a_capability_outside_the_grant_or_over_a_limit_is_out_of_scope() {
    let app = TestApp::spawn().await;
    let (id, key) = app.agent("refunder", Stage::ScopedAutonomy).await;
    // customer_visible and purchase: purchase is always-approve by default,
    // so relax it to see scope alone decide.
    app.edit_rules(|r| {
        r.set(
            RuleKey::Purchase,
            Rule {
                approvals: 1,
                ttl_secs: 3600,
                always_approve: false,
                bar_sponsor: false,
            },
        )
        .unwrap();
    })
    .await;
    app.grant_used(&id, "billing.refund").await;
    app.grant(&id, "billing.refund", |g| {
        g.max_per_hour = "2".into();
        g.bounds = "amount <= 500".into();
        g.targets = "customer:*".into();
    })
    .await;
    let ok = decide(
        &app,
        &key,
        "billing.refund",
        "customer:acme",
        json!({"amount": 500}),
    )
    .await;
    assert_eq!(ok["decision"], "allowed", "{}", reasons(&ok));
    for (target, params, why) in [
        (
            "customer:acme",
            json!({"amount": 501}),
            "outside the grant's bound amount <= 500",
        ),
        (
            "customer:acme",
            json!({"amount": "12"}),
            "param amount is not a number",
        ),
        (
            "vendor:acme",
            json!({"amount": 5}),
            "not among the grant's allowed targets",
        ),
    ] {
        let body = decide(&app, &key, "billing.refund", target, params).await;
        assert_eq!(body["decision"], "pending_approval");
        assert_eq!(body["held_for"], json!(["out_of_scope"]));
        assert!(reasons(&body).contains(why), "{}", reasons(&body));
    }
    // The bound violations above are pending, and pending requests count
    // toward the limit: three in the last hour already, so over the limit of 2.
    let over = decide(
        &app,
        &key,
        "billing.refund",
        "customer:acme",
        json!({"amount": 1}),
    )
    .await;
    assert_eq!(over["decision"], "pending_approval");
    assert!(
        reasons(&over).contains("over the limit"),
        "{}",
        reasons(&over)
    );
    // Not granted at all.
    let other = decide(&app, &key, "email.send", "customer:acme", json!({})).await;
    assert!(reasons(&other).contains("'email.send' is not in the agent's scope"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_lowers_the_stage_for_one_capability_and_never_raises_it() {
    let app = TestApp::spawn().await;
    let (id, key) = app.agent("mixed", Stage::ScopedAutonomy).await;
    app.grant_used(&id, "docs.summarize").await;
    app.grant_used(&id, "email.send").await;
    app.grant(&id, "email.send", |g| g.stage = "act_with_approval".into())
        .await;
    let docs = decide(&app, &key, "docs.summarize", "t", json!({})).await;
    assert_eq!(docs["decision"], "allowed");
    let email = decide(&app, &key, "email.send", "t", json!({})).await;
    assert_eq!(email["decision"], "pending_approval");
    assert_eq!(email["stage"], "act_with_approval");

    // Raising trust for one capability is a promotion, not a grant.
    let (low, low_key) = app.agent("cautious", Stage::Propose).await;
    let lead = app.browser("sponsor").await;
    let res = lead
        .rpc(
            "scope/save",
            &[
                ("agent_id", low.as_str()),
                ("capability", "docs.summarize"),
                ("stage", "scoped_autonomy"),
                ("max_per_hour", ""),
                ("bounds", ""),
                ("targets", ""),
                ("expires_on", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("can only lower trust"));
    let body = decide(&app, &low_key, "docs.summarize", "t", json!({})).await;
    assert_eq!(body["stage"], "propose");
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
    }
    form.push(("fields[always-destructive]".into(), "on".into()));
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
    ];
    assert_eq!(lena.rpc("catalog/save", &change).await.status(), 200);
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
async fn grants_are_managed_by_leads_with_clear_errors() {
    let app = TestApp::spawn().await;
    app.user("lena", Role::Lead).await;
    app.user("rita", Role::Reviewer).await;
    let (id, _) = app.agent("scoped", Stage::ActWithApproval).await;
    let lena = app.browser("lena").await;
    let form = |cap: &'static str, bounds: &'static str| {
        vec![
            ("agent_id", id.clone()),
            ("capability", cap.to_string()),
            ("stage", String::new()),
            ("max_per_hour", "5".to_string()),
            ("bounds", bounds.to_string()),
            ("targets", String::new()),
            ("expires_on", "2099-12-31".to_string()),
        ]
    };
    let send = |b: &crate::common::Browser, f: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, String)> = f;
        let b = b.http.clone();
        let base = app.base.clone();
        async move {
            b.post(format!("{base}/rpc/scope/save"))
                .header("Origin", &base)
                .form(&pairs)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        send(&lena, form("crm.update_record", "fields <= 3"))
            .await
            .status(),
        200
    );
    assert_eq!(app.audit_count("scope.granted", &id).await, 1);
    assert_eq!(
        send(&lena, form("crm.update_record", "fields <= 4"))
            .await
            .status(),
        200
    );
    assert_eq!(app.audit_count("scope.changed", &id).await, 1);
    let unknown = send(&lena, form("rockets.launch", "")).await;
    assert_eq!(unknown.status(), 422);
    assert!(unknown
        .text()
        .await
        .unwrap()
        .contains("not in the capability catalog"));
    assert_eq!(
        send(&lena, form("crm.update_record", "fields <= many"))
            .await
            .status(),
        422
    );
    let rita = app.browser("rita").await;
    assert_eq!(
        send(&rita, form("crm.update_record", "")).await.status(),
        403
    );
    let list: Value = rita
        .rpc("scope/list", &[("agent_id", &id)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["bounds"], json!(["fields <= 4"]));
    assert_eq!(list[0]["expires_on"], "2099-12-31");
    let remove = [
        ("agent_id", id.as_str()),
        ("capability", "crm.update_record"),
    ];
    assert_eq!(lena.rpc("scope/remove", &remove).await.status(), 200);
    assert_eq!(lena.rpc("scope/remove", &remove).await.status(), 404);
    assert_eq!(app.audit_count("scope.removed", &id).await, 1);
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
async fn me_lists_the_agents_scope_limits_and_usage() {
    let app = TestApp::spawn().await;
    let (id, key) = app.agent("planner", Stage::ScopedAutonomy).await;
    app.grant_used(&id, "docs.summarize").await;
    app.grant(&id, "docs.summarize", |g| {
        g.max_per_hour = "10".into();
        g.stage = "act_with_approval".into();
    })
    .await;
    app.grant(&id, "email.send", |g| g.targets = "partner:*".into())
        .await;
    decide(&app, &key, "docs.summarize", "t", json!({})).await;
    let me: Value = app
        .http
        .get(format!("{}/api/v1/me", app.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["stage"], "scoped_autonomy");
    assert_eq!(me["policy_version"], 1);
    let docs = &me["scope"][0];
    assert_eq!(docs["capability"], "docs.summarize");
    assert_eq!(docs["stage"], "act_with_approval");
    assert_eq!(docs["limits"]["max_per_hour"], 10);
    assert_eq!(docs["limits"]["used_last_hour"], 1);
    assert_eq!(docs["first_use_pending"], false);
    let email = &me["scope"][1];
    assert_eq!(
        email["triggers"],
        json!(["external_send", "customer_visible"])
    );
    assert_eq!(email["limits"]["targets"], json!(["partner:*"]));
    assert_eq!(email["first_use_pending"], true);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hourly_limit_holds_when_submissions_arrive_together() {
    let app = TestApp::spawn().await;
    let (id, key) = app.agent("bursty", Stage::ScopedAutonomy).await;
    app.grant_used(&id, "docs.summarize").await;
    app.grant(&id, "docs.summarize", |g| g.max_per_hour = "3".into())
        .await;
    // Twelve at once: most land in the same group-committed batch.
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (http, url, key) = (
            app.http.clone(),
            format!("{}/api/v1/actions", app.base),
            key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let res = http
                .post(url)
                .bearer_auth(key)
                .json(&json!({"capability": "docs.summarize", "target": "t", "summary": "s"}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
            res.json::<Value>().await.unwrap()
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.push(t.await.unwrap());
    }
    let allowed = all.iter().filter(|b| b["decision"] == "allowed").count();
    let held = all
        .iter()
        .filter(|b| reasons(b).contains("over the limit"))
        .count();
    // The limit counts requests that could execute, pending ones included:
    // three get through, and the held ones count from then on.
    assert_eq!(allowed, 3, "{all:?}");
    assert_eq!(held, 9);
}
