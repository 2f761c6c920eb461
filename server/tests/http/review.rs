//! Reviewing and executing: approve with edits, the sponsor rule, approvals
//! bound to what was seen, claim exactly once, outcomes, evidence uploads,
//! idempotent submits, and the queue's order, filters and pages.

use crate::common::{assert_problem, TestApp};
use app::auth::Role;
use app::policy::{RuleKey, Stage};
use serde_json::{json, Value};

/// An agent at `stage` with email.send granted and used: its sends pause
/// for approval (external_send, customer_visible).
async fn mailer(app: &TestApp, name: &str, stage: Stage) -> (String, String) {
    let (id, key) = app.agent(name, stage).await;
    app.grant(&id, "email.send", |g| g.bounds = "amount <= 500".into())
        .await;
    app.grant_used(&id, "docs.summarize").await;
    let mut tx = app.db.begin().await.unwrap();
    app::policy::store::record_use(&mut tx, &id, "email.send", 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (id, key)
}

async fn send(app: &TestApp, key: &str, params: Value) -> Value {
    let res = app
        .submit(
            key,
            json!({"capability": "email.send", "target": "customer-42", "summary": "refund note", "params": params}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

fn id_of(v: &Value) -> String {
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
async fn a_rule_can_bar_the_sponsor_and_approvals_bind_to_what_was_seen() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    app.user("sam", Role::Reviewer).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    app.edit_rules(|rules| {
        let mut r = rules.get(RuleKey::ExternalSend);
        r.bar_sponsor = true;
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

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0xDA, 0x63, 0x64, 0x60, 0xF8, 0x5F,
    0x0F, 0x00, 0x02, 0x87, 0x01, 0x80, 0xEB, 0x47, 0xBA, 0x92, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut b = PNG[..16].to_vec();
    b.extend(w.to_be_bytes());
    b.extend(h.to_be_bytes());
    b.extend(&PNG[24..]);
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_uploads_are_checked_by_size_content_and_dimensions() {
    let app = TestApp::spawn().await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let (_, other) = mailer(&app, "other", Stage::ActWithApproval).await;
    let id = id_of(&send(&app, &key, json!({"amount": 5})).await);

    let res = app
        .upload(
            &key,
            &id,
            vec![
                ("screenshot", PNG.to_vec(), Some("image/png")),
                (
                    "request_log",
                    br#"[{"method":"GET","url":"https://x","status":200}]"#.to_vec(),
                    None,
                ),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let evidence = body["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), 2);
    assert_eq!(evidence[0]["media_type"], "image/png");
    assert_eq!(evidence[0]["size_bytes"], PNG.len());

    let big = vec![b'a'; 5 * 1024 * 1024 + 1];
    assert_problem(app.upload(&key, &id, vec![("plan", big, None)]).await, 413).await;
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    assert_problem(
        app.upload(&key, &id, vec![("screenshot", html, Some("image/png"))])
            .await,
        415,
    )
    .await;
    let detail = assert_problem(
        app.upload(
            &key,
            &id,
            vec![("screenshot", png_claiming(100_000, 100_000), None)],
        )
        .await,
        422,
    )
    .await;
    assert!(detail.contains("pixels"), "{detail}");
    assert_problem(
        app.upload(&key, &id, vec![("video", b"x".to_vec(), None)])
            .await,
        422,
    )
    .await;
    assert_problem(
        app.upload(&key, &id, vec![("events", b"not json".to_vec(), None)])
            .await,
        422,
    )
    .await;
    // A multipart body with no parts at all is malformed.
    assert_problem(app.upload(&key, &id, vec![]).await, 400).await;
    assert_problem(
        app.upload(&other, &id, vec![("plan", b"x".to_vec(), None)])
            .await,
        404,
    )
    .await;
    // Not multipart at all.
    let res = app
        .agent_post(&key, &id, "evidence", Some(json!({"plan": "x"})))
        .await;
    assert_problem(res, 415).await;
    // Nothing refused was stored.
    let n = app
        .count(&format!(
            "SELECT COUNT(*) FROM evidence WHERE action_id = '{id}'"
        ))
        .await;
    assert_eq!(n, 2);
    assert_eq!(app.audit_count("action.evidence_added", &id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let app = TestApp::spawn().await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let (_, other) = mailer(&app, "other", Stage::ActWithApproval).await;
    let body =
        json!({"capability": "email.send", "target": "t", "summary": "s", "params": {"amount": 3}});
    let post = |key: &str, idem: &str, body: &Value| {
        app.http
            .post(format!("{}/api/v1/actions", app.base))
            .bearer_auth(key)
            .header("Idempotency-Key", idem)
            .json(body)
            .send()
    };
    let first = post(&key, "k-1", &body).await.unwrap();
    assert_eq!(first.status(), 201);
    assert_eq!(first.headers()["idempotent-replayed"], "false");
    let first: Value = first.json().await.unwrap();
    let again = post(&key, "k-1", &body).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["reasons"], first["reasons"]);

    let mut changed = body.clone();
    changed["params"]["amount"] = json!(4);
    let detail = assert_problem(post(&key, "k-1", &changed).await.unwrap(), 422).await;
    assert!(detail.contains("Idempotency-Key"), "{detail}");
    // Keys are per agent.
    let theirs: Value = post(&other, "k-1", &body)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(theirs["id"], first["id"]);
    assert_problem(post(&key, "has space", &body).await.unwrap(), 400).await;

    // Ten retries at once, one key: one request.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let req = app
            .http
            .post(format!("{}/api/v1/actions", app.base))
            .bearer_auth(&key)
            .header("Idempotency-Key", "burst")
            .json(&body);
        set.spawn(
            async move { req.send().await.unwrap().json::<Value>().await.unwrap()["id"].clone() },
        );
    }
    let ids = set.join_all().await;
    assert!(ids.iter().all(|i| *i == ids[0] && i.is_string()), "{ids:?}");
    let n = app.count("SELECT COUNT(*) FROM action_requests").await;
    assert_eq!(n, 3, "k-1, the other agent's k-1, burst");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_puts_the_riskiest_first_then_the_oldest_and_pages_without_offset() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let (cleaner_id, cleaner) = app.agent("cleaner", Stage::Propose).await;
    app.grant_used(&cleaner_id, "records.delete").await;
    let mut sends = vec![];
    for i in 0..60 {
        sends.push(id_of(&send(&app, &key, json!({"amount": i})).await));
    }
    let delete = app.submit_ok(&cleaner, "records.delete").await;
    let unknown = app.submit_ok(&cleaner, "teleport.now").await;
    let rita = app.browser("rita").await;

    let page = |form: Vec<(&'static str, String)>| {
        let rita = &rita;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = rita.rpc("approvals/queue", &form).await;
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    let first = page(vec![]).await;
    assert_eq!(first["waiting"], 62);
    let rows = first["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[0]["id"], unknown["id"], "unknown capability first");
    assert_eq!(rows[1]["id"], delete["id"], "then destructive");
    assert_eq!(
        rows[2]["id"].as_str().unwrap(),
        sends[0],
        "then the oldest send"
    );
    let cursor = first["next"].as_str().unwrap().to_string();
    let second = page(vec![("after", cursor)]).await;
    let rest = second["rows"].as_array().unwrap();
    assert_eq!(rest.len(), 12);
    assert!(second["next"].is_null());
    assert_eq!(rest.last().unwrap()["id"].as_str().unwrap(), sends[59]);

    // Filters, with their counts.
    let by_stage = page(vec![("stage", "propose".into())]).await;
    assert_eq!(by_stage["matching"], 2);
    assert_eq!(by_stage["waiting"], 62);
    let by_reason = page(vec![("held_for", "destructive".into())]).await;
    assert_eq!(by_reason["matching"], 1);
    let by_agent = page(vec![
        ("agent", cleaner_id.clone()),
        ("capability", "teleport.now".into()),
    ])
    .await;
    assert_eq!(by_agent["matching"], 1);
    assert_eq!(by_agent["rows"][0]["id"], unknown["id"]);
    let res = rita.rpc("approvals/queue", &[("stage", "boss")]).await;
    assert_eq!(res.status(), 422);
    let res = rita.rpc("approvals/queue", &[("after", "1.2.3")]).await;
    assert_eq!(res.status(), 400);

    // "Decided by me".
    assert_eq!(rita.approve(&sends[3]).await.status(), 200);
    assert_eq!(rita.reject(&sends[4], "no").await.status(), 200);
    let mine: Value = rita.rpc("approvals/mine", &[]).await.json().await.unwrap();
    let verdicts: Vec<(&str, &str)> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (sends[4].as_str(), "rejected"),
            (sends[3].as_str(), "approved")
        ]
    );
    let facets: Value = rita
        .rpc("approvals/facets", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(facets["capabilities"].as_array().unwrap().len(), 3);
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
