//! The reviewer and lead API with personal access tokens: a token acts as
//! its person through the same rule book as the browser (distinct
//! approvers, the sponsor bar, payload binding), a read token never
//! decides, and revoked, expired, ended or a deactivated person's tokens
//! get 401. Agent keys and tokens never cross over.

#[path = "reviewer_client.rs"]
mod client;
#[path = "reviewer_oversight.rs"]
mod oversight;

use crate::common::{assert_problem, TestApp};
use crate::review::{id_of, mailer, send};
use app::auth::Role;
use app::policy::{RuleKey, Stage};
use client::{make_token, ok, tokens, ReviewApi};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_token_sees_the_queue_and_the_request_but_cannot_decide() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (agent_id, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let id = id_of(&send(&app, &key, json!({"amount": 300})).await);
    let res = app
        .upload(
            &key,
            &id,
            vec![("plan", b"<script>x</script>".to_vec(), None)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let rita = app.browser("rita").await;
    let api = ReviewApi::new(&app, &make_token(&rita, "triage", "read").await);

    let me = ok(api.get("/me").await).await;
    assert_eq!(
        (me["username"].as_str(), me["scope"].as_str()),
        (Some("rita"), Some("read"))
    );
    let queue = ok(api.get("/queue").await).await;
    assert_eq!(queue["items"][0]["id"], id.as_str());
    assert_eq!(queue["waiting"], 1);
    // The browser's filters: by agent, capability, reason held, stage.
    let api_ref = &api;
    let by = |q: String| async move {
        ok(api_ref.get(&format!("/queue?{q}")).await).await["matching"].clone()
    };
    assert_eq!(
        by(format!("agent={agent_id}&capability=email.send")).await,
        1
    );
    assert_eq!(
        by("held_for=external_send&stage=act_with_approval".into()).await,
        1
    );
    assert_eq!(by("stage=propose".into()).await, 0);
    assert_problem(api.get("/queue?stage=someday").await, 400).await;
    assert_problem(api.get("/queue?after=nowhere").await, 400).await;

    let request = api.request(&id).await;
    assert_eq!(request["params"], json!({"amount": 300}));
    assert_eq!(request["can_decide"], false, "a read token");
    // Evidence is listed with a link to its bytes, which come as a download.
    let piece = &request["evidence"][0];
    assert_eq!(piece["type"], "plan");
    let url = piece["url"].as_str().unwrap();
    let raw = app
        .http
        .get(format!("{}{url}", app.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    assert_eq!(raw.headers()["content-type"], "application/octet-stream");
    assert!(raw.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(raw.bytes().await.unwrap().as_ref(), b"<script>x</script>");

    // A read token decides nothing, whatever the person's role.
    let hash = request["payload_hash"].clone();
    let detail = assert_problem(api.approve_seen(&id, hash.clone(), None).await, 403).await;
    assert!(detail.contains("scoped read"), "{detail}");
    let reject = api
        .post(
            &format!("/requests/{id}/reject"),
            json!({"payload_hash": hash, "reason": "no"}),
        )
        .await;
    assert_problem(reject, 403).await;
    assert_eq!(api.request(&id).await["state"], "pending_approval");
    assert_eq!(app.audit_count("action.approval_added", &id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decide_token_approves_as_its_person_under_the_same_rules_as_the_browser() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    app.user("sam", Role::Reviewer).await;
    app.user("ada", Role::Auditor).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    app.edit_rules(|rules| {
        let mut r = rules.get(RuleKey::ExternalSend);
        r.approvals = 2;
        rules.set(RuleKey::ExternalSend, r).unwrap();
    })
    .await;
    let id = id_of(&send(&app, &key, json!({"amount": 5})).await);
    let rita = ReviewApi::new(
        &app,
        &make_token(&app.browser("rita").await, "ci", "decide").await,
    );
    assert_eq!(rita.request(&id).await["can_decide"], true);

    // The sponsor is barred through the API as in the browser.
    let sponsor = ReviewApi::new(
        &app,
        &make_token(&app.browser("sponsor").await, "s", "decide").await,
    );
    assert_eq!(sponsor.request(&id).await["sponsor_barred"], true);
    let detail = assert_problem(sponsor.approve(&id).await, 403).await;
    assert!(detail.contains("sponsor"), "{detail}");

    // rita's approval is hers: 1 of 2, and not twice.
    let first = ok(rita.approve(&id).await).await;
    assert_eq!(first["state"], "pending_approval");
    assert_eq!(first["approved_by"], json!(["rita"]));
    assert_problem(rita.approve(&id).await, 409).await;
    let actor: String = app
        .count_text(&format!(
            "SELECT actor_id FROM audit_events WHERE what = 'action.approval_added' AND subject_id = '{id}'"
        ))
        .await;
    let rita_id = app::people::store::id_of(&app.db, "rita").await.unwrap();
    assert_eq!(actor, rita_id);

    // A second person, in the browser, completes it.
    let res = app.browser("sam").await.approve(&id).await;
    assert_eq!(res.status(), 200);
    let done = rita.request(&id).await;
    assert_eq!(done["state"], "approved");
    assert_eq!(done["approved_by"], json!(["rita", "sam"]));
    assert_eq!(done["can_decide"], false);
    assert_problem(rita.reject(&id, "too late").await, 409).await;

    // An auditor's role decides nothing: no decide token for them at all.
    let ada = app.browser("ada").await;
    let res = ada
        .rpc(
            "tokens/create",
            &[("name", "x"), ("scope", "decide"), ("expires_in_days", "")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let ada = ReviewApi::new(&app, &make_token(&ada, "reads", "read").await);
    assert_eq!(ok(ada.get("/me").await).await["role"], "auditor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_bind_to_the_payload_seen_and_a_stale_hash_is_refused() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let id = id_of(&send(&app, &key, json!({"amount": 300, "to": "a@b.c"})).await);
    let rita = ReviewApi::new(
        &app,
        &make_token(&app.browser("rita").await, "ci", "decide").await,
    );
    let seen = rita.request(&id).await["payload_hash"].clone();

    // The agent adds evidence: what rita saw is stale, edit or not.
    let res = app
        .upload(&key, &id, vec![("plan", b"1. send".to_vec(), None)])
        .await;
    assert_eq!(res.status(), 200);
    let edit = json!({"amount": 250, "to": "a@b.c"});
    let detail = assert_problem(rita.approve_seen(&id, seen, Some(edit.clone())).await, 409).await;
    assert!(detail.contains("changed since you opened it"), "{detail}");

    // Outside the grant's bound: refused; the request stays open.
    let now = rita.request(&id).await["payload_hash"].clone();
    let far = json!({"amount": 900, "to": "a@b.c"});
    assert_problem(rita.approve_seen(&id, now.clone(), Some(far)).await, 422).await;
    assert_problem(
        rita.approve_seen(&id, now.clone(), Some(json!([1]))).await,
        422,
    )
    .await;

    // Looked at again: the edit is a correction, and the agent claims it.
    let done = ok(rita.approve_seen(&id, now, Some(edit.clone())).await).await;
    assert_eq!(done["state"], "approved");
    assert_eq!(
        done["correction"],
        json!({"amount": {"before": 300, "after": 250}})
    );
    let claimed = app.agent_post(&key, &id, "claim", None).await;
    let claimed: Value = claimed.json().await.unwrap();
    assert_eq!(claimed["approved_params"], edit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_expired_ended_and_deactivated_tokens_get_401() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    app.user("root", Role::Admin).await;
    let browser = app.browser("rita").await;
    let [a, b, c, d] = [
        make_token(&browser, "a", "read").await,
        make_token(&browser, "b", "decide").await,
        make_token(&browser, "c", "read").await,
        make_token(&browser, "d", "read").await,
    ];
    for t in [&a, &b, &c, &d] {
        assert_eq!(ReviewApi::new(&app, t).get("/queue").await.status(), 200);
    }
    let listed = tokens(&browser).await;
    assert_eq!(listed.len(), 4);
    assert!(listed
        .iter()
        .all(|t| t["last_used_at"].is_string() && t["status"] == "active"));
    // Stored hashed: no secret in the table.
    let stored = app
        .count("SELECT COUNT(*) FROM personal_tokens WHERE token_hash = prefix")
        .await;
    assert_eq!(stored, 0);
    assert!(!app
        .count_text("SELECT token_hash FROM personal_tokens LIMIT 1")
        .await
        .contains("belay_pat_"));

    // Revoked: 401, and audited.
    let id_of_token = |name: &str| {
        listed.iter().find(|t| t["name"] == name).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let a_id = id_of_token("a");
    assert_eq!(
        browser
            .rpc("tokens/revoke", &[("id", &a_id)])
            .await
            .status(),
        200
    );
    assert_eq!(
        browser
            .rpc("tokens/revoke", &[("id", &a_id)])
            .await
            .status(),
        409
    );
    let detail = assert_problem(ReviewApi::new(&app, &a).get("/queue").await, 401).await;
    assert!(detail.contains("revoked"), "{detail}");
    assert_eq!(app.audit_count("token.created", &a_id).await, 1);
    assert_eq!(app.audit_count("token.revoked", &a_id).await, 1);
    // Someone else cannot revoke rita's tokens.
    let root = app.browser("root").await;
    assert_eq!(
        root.rpc("tokens/revoke", &[("id", &id_of_token("b"))])
            .await
            .status(),
        404
    );

    // Expired: 401.
    sqlx::query("UPDATE personal_tokens SET expires_at = 1 WHERE id = $1")
        .bind(id_of_token("b"))
        .execute(&app.db)
        .await
        .unwrap();
    let detail = assert_problem(ReviewApi::new(&app, &b).get("/me").await, 401).await;
    assert!(detail.contains("expired"), "{detail}");

    // A deactivated person's tokens stop at once, and stay ended.
    let rita_id = app::people::store::id_of(&app.db, "rita").await.unwrap();
    let off = [("id", rita_id.as_str()), ("active", "off")];
    assert_eq!(root.rpc("people/set_active", &off).await.status(), 200);
    assert_problem(ReviewApi::new(&app, &c).get("/queue").await, 401).await;
    let on = [("id", rita_id.as_str()), ("active", "on")];
    assert_eq!(root.rpc("people/set_active", &on).await.status(), 200);
    assert_problem(ReviewApi::new(&app, &d).get("/queue").await, 401).await;

    // Garbage and nothing at all: 401 problem details with a challenge.
    let res = ReviewApi::new(&app, "belay_pat_nope").get("/queue").await;
    assert!(res.headers().contains_key("www-authenticate"));
    assert_problem(res, 401).await;
    let res = app
        .http
        .get(format!("{}/api/v1/review/queue", app.base))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_keys_and_personal_tokens_never_cross_over() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let id = id_of(&send(&app, &key, json!({"amount": 5})).await);
    let token = make_token(&app.browser("rita").await, "ci", "decide").await;

    // An agent's key on the reviewer API: 401, even to read.
    let as_agent = ReviewApi::new(&app, &key);
    assert_problem(as_agent.get("/queue").await, 401).await;
    let res = as_agent
        .post(
            &format!("/requests/{id}/approve"),
            json!({"payload_hash": "x"}),
        )
        .await;
    assert_problem(res, 401).await;
    // A person's token on the agent API: 401.
    assert_problem(app.get_action(&token, &id, None).await, 401).await;
    let res = app
        .http
        .get(format!("{}/api/v1/me", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
    assert_problem(app.agent_post(&token, &id, "cancel", None).await, 401).await;
    // A session cookie is no credential on the reviewer API.
    let browser = app.browser("rita").await;
    let res = browser
        .http
        .get(format!("{}/api/v1/review/queue", app.base))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401).await;
}
