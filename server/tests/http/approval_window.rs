//! Governance that holds after the approval: sponsors never approve their
//! own agents' requests unless every rule allows it (and a bar reaches
//! requests already waiting); an approval is good for its rule's window;
//! a claim asks the rule book again and is refused when the approval no
//! longer covers the action.

use crate::common::{assert_problem, TestApp};
use crate::review::{id_of, mailer, send};
use app::auth::Role;
use app::policy::{RuleKey, Stage};
use serde_json::{json, Value};

async fn claim(app: &TestApp, key: &str, id: &str) -> reqwest::Response {
    app.agent_post(key, id, "claim", None).await
}

async fn state_of(app: &TestApp, key: &str, id: &str) -> Value {
    app.get_action(key, id, None).await.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sponsors_never_approve_unless_every_rule_allows_and_a_bar_reaches_waiting_requests() {
    let app = TestApp::spawn().await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let first = id_of(&send(&app, &key, json!({"amount": 5})).await);
    // The agent's sponsor (a lead, who may otherwise decide) is barred by
    // default, and the page says why.
    let sponsor = app.browser("sponsor").await;
    let page: Value = sponsor
        .rpc("approvals/get", &[("id", &first)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["sponsor_barred"], true);
    assert_eq!(page["sponsor_may_approve"], false);
    let refused = sponsor.approve(&first).await;
    assert_eq!(refused.status(), 403);
    let refused = refused.text().await.unwrap();
    assert!(refused.contains("sponsors never approve"), "{refused}");

    // Held for external_send and customer_visible: one rule allowing the
    // sponsor is not enough; both are.
    let allow = |keys: &'static [RuleKey], may: bool| {
        move |rules: &mut app::policy::Rules| {
            for k in keys {
                let mut r = rules.get(*k);
                r.sponsor_may_approve = may;
                rules.set(*k, r).unwrap();
            }
        }
    };
    app.edit_rules(allow(&[RuleKey::ExternalSend], true)).await;
    assert_eq!(sponsor.approve(&first).await.status(), 403);
    app.edit_rules(allow(&[RuleKey::CustomerVisible], true))
        .await;
    assert_eq!(sponsor.approve(&first).await.status(), 200);
    assert_eq!(state_of(&app, &key, &first).await["state"], "approved");

    // Switching the bar back on reaches a request that is already waiting.
    let second = id_of(&send(&app, &key, json!({"amount": 5})).await);
    app.edit_rules(allow(&[RuleKey::CustomerVisible], false))
        .await;
    assert_eq!(sponsor.approve(&second).await.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_is_claimed_within_its_window_or_it_expires() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    app.edit_rules(|rules| {
        let mut r = rules.get(RuleKey::ExternalSend);
        r.claim_secs = 15 * 60;
        rules.set(RuleKey::ExternalSend, r).unwrap();
    })
    .await;
    let rita = app.browser("rita").await;
    let late = id_of(&send(&app, &key, json!({"amount": 5})).await);
    assert_eq!(rita.approve(&late).await.status(), 200);
    // The shortest window of the rules that held it (15m, not the hour).
    let window = app
        .count(&format!(
            "SELECT claim_by - decided_at FROM action_requests WHERE id = '{late}'"
        ))
        .await;
    assert_eq!(window, 15 * 60 * 1000);
    assert!(state_of(&app, &key, &late).await["claim_by"].is_string());

    // Past its window the approval has expired: the claim says so, and the
    // request is expired for everyone.
    app.count(&format!(
        "UPDATE action_requests SET claim_by = 1 WHERE id = '{late}' RETURNING 1"
    ))
    .await;
    let refused = assert_problem(claim(&app, &key, &late).await, 409).await;
    assert!(refused.contains("expired unclaimed"), "{refused}");
    assert_eq!(state_of(&app, &key, &late).await["state"], "expired");
    assert_eq!(app.audit_count("action.approval_expired", &late).await, 1);

    // Within it, the claim goes through.
    let prompt = id_of(&send(&app, &key, json!({"amount": 5})).await);
    assert_eq!(rita.approve(&prompt).await.status(), 200);
    assert_eq!(claim(&app, &key, &prompt).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_is_refused_when_the_approval_no_longer_covers_the_action() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    app.user("lena", Role::Lead).await;
    let (agent_id, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let rita = app.browser("rita").await;
    let mut approved = vec![];
    for _ in 0..5 {
        let id = id_of(&send(&app, &key, json!({"amount": 100})).await);
        assert_eq!(rita.approve(&id).await.status(), 200);
        approved.push(id);
    }
    let refused = |id: String| {
        let app = &app;
        let key = &key;
        async move {
            let why = assert_problem(claim(app, key, &id).await, 409).await;
            assert_eq!(state_of(app, key, &id).await["state"], "approved");
            assert_eq!(app.audit_count("action.claim_refused", &id).await, 1);
            why
        }
    };

    // Bounds tightened below the approved params.
    app.grant(&agent_id, "email.send", |g| {
        g.bounds = "amount <= 50".into()
    })
    .await;
    let why = refused(approved[0].clone()).await;
    assert!(
        why.contains("out of scope") && why.contains("amount"),
        "{why}"
    );
    app.grant(&agent_id, "email.send", |g| {
        g.bounds = "amount <= 500".into()
    })
    .await;

    // The capability re-rated since the approval.
    let lena = app.browser("lena").await;
    let rate = |destructive: bool| {
        let mut form = vec![
            ("name", "email.send"),
            ("description", "Send an email to a customer or partner"),
            ("checked[external_send]", "on"),
            ("checked[customer_visible]", "on"),
        ];
        if destructive {
            form.push(("checked[destructive]", "on"));
        }
        form
    };
    assert_eq!(lena.rpc("catalog/save", &rate(true)).await.status(), 200);
    let why = refused(approved[1].clone()).await;
    assert!(why.contains("destructive"), "{why}");
    // Dropping the trigger again holds less: a second lead approves it.
    let mut relax = rate(false);
    relax.push(("reason", "re-rated by mistake"));
    app.applied(lena.rpc("catalog/save", &relax).await).await;

    // An hourly limit counts claims, so approvals banked earlier cannot
    // all run at once.
    app.grant(&agent_id, "email.send", |g| {
        g.bounds = "amount <= 500".into();
        g.max_per_hour = "1".into();
    })
    .await;
    assert_eq!(claim(&app, &key, &approved[2]).await.status(), 200);
    let why = refused(approved[3].clone()).await;
    assert!(why.contains("over the hourly limit"), "{why}");

    // The grant removed.
    let remove = [
        ("agent_id", agent_id.as_str()),
        ("capability", "email.send"),
    ];
    assert_eq!(lena.rpc("scope/remove", &remove).await.status(), 200);
    let why = refused(approved[4].clone()).await;
    assert!(why.contains("not in the agent's scope"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_requests_move_to_canonical_payload_hashes_unless_tampered_with() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    // `1.0` is where serde_json's text and canonical JSON (`1`) differ.
    let honest = id_of(&send(&app, &key, json!({"amount": 1.0})).await);
    let tampered = id_of(&send(&app, &key, json!({"amount": 1.0})).await);
    let canonical = |id: &str| {
        let id = id.to_string();
        let (app, key) = (&app, &key);
        async move {
            let r: Value = app.get_action(key, &id, None).await.json().await.unwrap();
            r["payload_hash"].as_str().unwrap().to_string()
        }
    };
    let (honest_hash, tampered_hash) = (canonical(&honest).await, canonical(&tampered).await);
    // As an earlier release stored them: the hash of serde_json's text.
    let legacy = |id: &str| {
        let text =
            json!({"capability": "email.send", "target": "customer-42", "summary": "refund note",
            "params": {"amount": 1.0}, "observation": null, "evidence": []})
            .to_string();
        assert!(text.contains("1.0"), "{text}");
        let hash = app::evidence::parse::sha256_hex(text.as_bytes());
        format!("UPDATE action_requests SET payload_hash = '{hash}' WHERE id = '{id}' RETURNING 1")
    };
    app.count(&legacy(&honest)).await;
    app.count(&legacy(&tampered)).await;
    // Someone edits the stored params behind Belay's back.
    app.count(&format!(
        "UPDATE action_requests SET params = '{{\"amount\": 900}}' WHERE id = '{tampered}' RETURNING 1"
    ))
    .await;

    let moved = app::actions::rehash::canonical_payload_hashes(&app.db)
        .await
        .unwrap();
    assert_eq!(moved, 1);
    assert_eq!(canonical(&honest).await, honest_hash);
    assert_ne!(canonical(&tampered).await, tampered_hash);
    // The honest request is approved and claimed on its canonical hash; the
    // tampered one can still be approved as it now stands, never as it was.
    let rita = app.browser("rita").await;
    assert_eq!(rita.approve(&honest).await.status(), 200);
    assert_eq!(claim(&app, &key, &honest).await.status(), 200);
    assert_eq!(
        rita.approve_seen(&tampered, &tampered_hash, None)
            .await
            .status(),
        409
    );
    // Running it again changes nothing.
    assert_eq!(
        app::actions::rehash::canonical_payload_hashes(&app.db)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_are_never_claimed_so_never_go_stale_and_a_barred_sponsors_vote_stops_counting() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    app.user("sam", Role::Reviewer).await;
    let rita = app.browser("rita").await;
    // At propose a person carries the action out: no window, no expiry.
    let (_, proposer) = mailer(&app, "proposer", Stage::Propose).await;
    let proposal = id_of(&send(&app, &proposer, json!({"amount": 5})).await);
    assert_eq!(rita.approve(&proposal).await.status(), 200);
    app.count(&format!(
        "UPDATE action_requests SET decided_at = 1 WHERE id = '{proposal}' RETURNING 1"
    ))
    .await;
    let now = state_of(&app, &proposer, &proposal).await;
    assert_eq!(now["state"], "approved");
    assert!(now["claim_by"].is_null());

    // The sponsor approves while every rule allows it (1 of 2); then the
    // sponsor is barred, and that approval no longer counts.
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let set = |may: bool| {
        move |rules: &mut app::policy::Rules| {
            for k in [RuleKey::ExternalSend, RuleKey::CustomerVisible] {
                let mut r = rules.get(k);
                r.sponsor_may_approve = may;
                r.approvals = 2;
                rules.set(k, r).unwrap();
            }
        }
    };
    app.edit_rules(set(true)).await;
    let id = id_of(&send(&app, &key, json!({"amount": 5})).await);
    let sponsor = app.browser("sponsor").await;
    assert_eq!(sponsor.approve(&id).await.status(), 200);
    app.edit_rules(set(false)).await;
    assert_eq!(rita.approve(&id).await.status(), 200);
    assert_eq!(state_of(&app, &key, &id).await["state"], "pending_approval");
    assert_eq!(app.browser("sam").await.approve(&id).await.status(), 200);
    assert_eq!(state_of(&app, &key, &id).await["state"], "approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hourly_limit_holds_at_claim_time_even_for_approvals_that_were_out_of_scope() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (agent_id, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    // Sent outside the grant's targets: held for out_of_scope, approved anyway.
    app.grant(&agent_id, "email.send", |g| g.targets = "partner-*".into())
        .await;
    let rita = app.browser("rita").await;
    let mut banked = vec![];
    for _ in 0..2 {
        let sent = send(&app, &key, json!({"amount": 5})).await;
        assert!(
            sent["held_for"].to_string().contains("out_of_scope"),
            "{sent}"
        );
        assert_eq!(rita.approve(&id_of(&sent)).await.status(), 200);
        banked.push(id_of(&sent));
    }
    app.grant(&agent_id, "email.send", |g| {
        g.targets = "partner-*".into();
        g.max_per_hour = "1".into();
    })
    .await;
    assert_eq!(claim(&app, &key, &banked[0]).await.status(), 200);
    let why = assert_problem(claim(&app, &key, &banked[1]).await, 409).await;
    assert!(why.contains("over the hourly limit"), "{why}");

    // Integers JSON cannot carry exactly are refused, not hashed alike.
    let res = app
        .submit(
            &key,
            json!({"capability": "email.send", "target": "partner-1", "summary": "s",
                   "params": {"account": 9_007_199_254_740_993_u64}}),
        )
        .await;
    assert_eq!(res.status(), 422);
}
