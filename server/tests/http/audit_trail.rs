//! The audit trail proves itself: every kind of tampering is named by the
//! verifier (on either backend), a head kept elsewhere catches a cut tail
//! or a rewrite, and the `belay audit` commands verify, keep and export.

use crate::cli::{belay, text};
use crate::common::TestApp;
use app::audit::{chain, verify};
use app::policy::Stage;

/// A trail of a few dozen events: people, agents, keys, submissions.
async fn trail() -> TestApp {
    let app = TestApp::spawn().await;
    let (_, key) = app.agent("worker", Stage::ActWithApproval).await;
    for _ in 0..4 {
        app.submit_ok(&key, "email.send").await;
    }
    app
}

async fn sql(app: &TestApp, statement: &str) {
    sqlx::query(statement).execute(&app.db).await.unwrap();
}

async fn broken(app: &TestApp, kept: Option<(i64, String)>) -> String {
    verify::database(&app.db, kept)
        .await
        .unwrap()
        .expect_err("the tampering is found")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untouched_trail_holds_and_each_kind_of_tampering_is_named() {
    let app = trail().await;
    let (n, _) = chain::head(&app.db).await.unwrap();
    assert!(n >= 7, "{n} events");
    assert_eq!(verify::database(&app.db, None).await.unwrap(), Ok(n as u64));

    // A field edited.
    let app = trail().await;
    sql(
        &app,
        "UPDATE audit_events SET detail = '{}' WHERE chain_no = 3",
    )
    .await;
    let why = broken(&app, None).await;
    assert!(
        why.starts_with("event 3 (") && why.contains("was changed"),
        "{why}"
    );

    // A row deleted.
    let app = trail().await;
    sql(&app, "DELETE FROM audit_events WHERE chain_no = 4").await;
    assert!(broken(&app, None).await.starts_with("event 4 is missing"));

    // A row inserted behind Belay's back.
    let app = trail().await;
    sql(
        &app,
        "INSERT INTO audit_events (id, at, actor_kind, what, subject_kind, subject_id, detail) \
         VALUES ('forged', 1, 'system', 'agent.promoted', 'agent', 'x', '{}')",
    )
    .await;
    assert!(broken(&app, None).await.contains("outside the chain"));
    let app = trail().await;
    sql(
        &app,
        "INSERT INTO audit_events (chain_no, id, at, actor_kind, what, subject_kind, subject_id, detail) \
         VALUES (-1, 'forged', 1, 'system', 'agent.promoted', 'agent', 'x', '{}')",
    )
    .await;
    assert!(broken(&app, None).await.contains("outside the chain"));

    // Two rows swapped.
    let app = trail().await;
    sql(
        &app,
        "UPDATE audit_events SET chain_no = -5 WHERE chain_no = 5",
    )
    .await;
    sql(
        &app,
        "UPDATE audit_events SET chain_no = 5 WHERE chain_no = 6",
    )
    .await;
    sql(
        &app,
        "UPDATE audit_events SET chain_no = 6 WHERE chain_no = -5",
    )
    .await;
    assert!(broken(&app, None).await.starts_with("event 5 ("));

    // The tail cut, head and all: only a head kept elsewhere shows it.
    let app = trail().await;
    let kept = chain::head(&app.db).await.unwrap();
    let last = kept.0;
    sql(
        &app,
        &format!("DELETE FROM audit_events WHERE chain_no > {}", last - 2),
    )
    .await;
    sql(
        &app,
        &format!(
            "UPDATE audit_head SET chain_no = {n}, hash = (SELECT hash FROM audit_events WHERE chain_no = {n})",
            n = last - 2
        ),
    )
    .await;
    assert!(verify::database(&app.db, None).await.unwrap().is_ok());
    let why = broken(&app, Some(kept.clone())).await;
    assert!(why.contains("its tail was cut"), "{why}");
    // Without covering its tracks, the cut shows on its own.
    let app2 = trail().await;
    let end = chain::head(&app2.db).await.unwrap().0;
    sql(
        &app2,
        &format!("DELETE FROM audit_events WHERE chain_no = {end}"),
    )
    .await;
    assert!(broken(&app2, None).await.contains("its head says"));

    // A kept head that no longer matches: the chain was rewritten.
    let app = trail().await;
    let kept = chain::head(&app.db).await.unwrap();
    sql(
        &app,
        &format!(
            "UPDATE audit_events SET hash = 'x' WHERE chain_no = {}",
            kept.0
        ),
    )
    .await;
    sql(&app, "UPDATE audit_head SET hash = 'x'").await;
    let why = broken(&app, Some(kept)).await;
    assert!(why.contains("was changed"), "{why}");

    // Rewritten with care (the last event changed, its hash and the head
    // recomputed): the chain holds on its own; only the kept head shows it.
    let app = trail().await;
    let kept = chain::head(&app.db).await.unwrap();
    let mut last = chain::page(&app.db, kept.0, kept.0, 1)
        .await
        .unwrap()
        .remove(0);
    last.detail = r#"{"after":{"forged":true}}"#.into();
    last.hash = last.digest();
    sql(
        &app,
        &format!(
            "UPDATE audit_events SET detail = '{}', hash = '{}' WHERE chain_no = {}",
            last.detail, last.hash, last.n
        ),
    )
    .await;
    sql(
        &app,
        &format!("UPDATE audit_head SET hash = '{}'", last.hash),
    )
    .await;
    assert!(verify::database(&app.db, None).await.unwrap().is_ok());
    let why = broken(&app, Some(kept)).await;
    assert!(why.contains("no longer has the kept head's hash"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_refused_sign_ins_and_signing_out_are_audited() {
    let app = TestApp::spawn().await;
    app.user("rita", app::auth::Role::Reviewer).await;
    let rita = app.browser("rita").await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE what = 'user.signed_in'")
            .await,
        1
    );
    let guess = app
        .anonymous_browser()
        .rpc(
            "login",
            &[("username", "rita"), ("password", "not her password")],
        )
        .await;
    assert_eq!(guess.status(), 401);
    assert_eq!(app.audit_count("user.sign_in_refused", "rita").await, 1);
    rita.rpc("logout", &[]).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE what = 'user.signed_out'")
            .await,
        1
    );
    assert!(verify::database(&app.db, None).await.unwrap().is_ok());
}

#[test]
fn the_audit_commands_verify_keep_a_head_and_export_what_verifies_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/belay.db", dir.path().display());
    for name in ["ada", "bob", "cyd"] {
        let out = belay(
            &db,
            &["user", "create", "--username", name, "--role", "lead"],
            None,
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = belay(&db, &["audit", "head"], None);
    assert!(out.status.success(), "{}", text(&out));
    let head = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(head.starts_with("3:"), "{head}");
    let out = belay(&db, &["audit", "verify", "--head", &head], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("holds: 3 events"), "{}", text(&out));

    let out = belay(&db, &["audit", "export", "--since", "2000-01-01"], None);
    assert!(out.status.success(), "{}", text(&out));
    let export = dir.path().join("audit.jsonl");
    std::fs::write(&export, &out.stdout).unwrap();
    let path = export.display().to_string();
    let out = belay(&db, &["audit", "verify", "--file", &path], None);
    assert!(text(&out).contains("holds: 3 events"), "{}", text(&out));
    // A changed export line is named too.
    let forged = String::from_utf8_lossy(&out.stdout).to_string();
    let lines = std::fs::read_to_string(&export).unwrap();
    assert!(lines.contains(r#"\"ada\""#), "{lines}");
    std::fs::write(&export, lines.replacen(r#"\"ada\""#, r#"\"eve\""#, 1)).unwrap();
    let out = belay(&db, &["audit", "verify", "--file", &path], None);
    assert!(!out.status.success(), "{forged}");
    assert!(text(&out).contains("was changed"), "{}", text(&out));
    assert!(!belay(&db, &["audit", "verify", "--head", "3:beef"], None)
        .status
        .success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditors_read_the_trail_filtered_and_a_page_at_a_time() {
    let app = trail().await;
    let (_, key) = app.agent("chatty", Stage::ActWithApproval).await;
    for _ in 0..50 {
        app.submit_ok(&key, "docs.summarize").await;
    }
    app.user("audrey", app::auth::Role::Auditor).await;
    app.user("rita", app::auth::Role::Reviewer).await;
    let rita = app.browser("rita").await;
    assert_eq!(rita.rpc("audit/trail", &[]).await.status(), 403);

    let audrey = app.browser("audrey").await;
    let page = |form: Vec<(&'static str, String)>| {
        let audrey = &audrey;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = audrey.rpc("audit/trail", &pairs).await;
            let status = res.status();
            let body = res.text().await.unwrap();
            assert_eq!(status, 200, "{pairs:?}: {body}");
            serde_json::from_str::<serde_json::Value>(&body).unwrap()
        }
    };
    let first = page(vec![]).await;
    let events = first["events"].as_array().unwrap();
    assert_eq!(events.len(), 50);
    // Newest first; the older page continues below the last one shown.
    let newest = events[0]["n"].as_i64().unwrap();
    assert!(newest > events[49]["n"].as_i64().unwrap());
    let older = first["older"].as_i64().expect("more events");
    let second = page(vec![("before", older.to_string())]).await;
    assert!(second["events"][0]["n"].as_i64().unwrap() < older);

    // Filtered by kind, and by agent (its own events and those about it).
    let created = page(vec![("filter[what]", "agent.created".into())]).await;
    let created = created["events"].as_array().unwrap();
    assert_eq!(created.len(), 2, "{created:?}");
    assert_eq!(created[0]["changes"][0][0], "name", "{created:?}");
    let chatty = page(vec![("filter[agent]", "chatty".into())]).await;
    assert!(chatty["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["subject_id"] != json_str(&created[1]["subject_id"])));
    let bad = audrey
        .rpc("audit/trail", &[("filter[from]", "last tuesday")])
        .await;
    assert_eq!(bad.status(), 422);
}

fn json_str(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// The submission writer appends after the head its last batch left
/// without reading it first; reviewers' decisions move the head in
/// between. Whether the guess holds or not, the chain stays whole and
/// every submission is in it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submissions_between_other_changes_keep_one_whole_chain() {
    let app = TestApp::spawn().await;
    app.user("rita", app::auth::Role::Reviewer).await;
    let rita = std::sync::Arc::new(app.browser("rita").await);
    let (agent_id, key) = app.agent("mailer", Stage::ActWithApproval).await;
    app.grant_used(&agent_id, "email.send").await;
    let pending = |sent: serde_json::Value| {
        assert_eq!(sent["decision"], "pending_approval");
        sent["id"].as_str().unwrap().to_string()
    };
    let mut ids = Vec::new();
    // In turn: two submissions (the second after the first's head), then a
    // decision elsewhere, so the next submission finds the head moved.
    for _ in 0..12 {
        let first = pending(app.submit_ok(&key, "email.send").await);
        ids.push(pending(app.submit_ok(&key, "email.send").await));
        assert_eq!(rita.approve(&first).await.status(), 200);
        ids.push(first);
    }
    // At once: submissions in batches while decisions land between them.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let req = app
            .http
            .post(format!("{}/api/v1/actions", app.base))
            .bearer_auth(&key)
            .json(
                &serde_json::json!({"capability": "email.send", "target": "a@example.com",
                "summary": "Send it", "params": {}}),
            );
        set.spawn(async move { req.send().await.unwrap().json::<serde_json::Value>().await });
    }
    // The second of each pair above is still waiting.
    for id in ids.iter().step_by(2).take(10) {
        assert_eq!(rita.approve(id).await.status(), 200);
    }
    for sent in set.join_all().await {
        ids.push(pending(sent.unwrap()));
    }
    assert!(verify::database(&app.db, None).await.unwrap().is_ok());
    for id in &ids {
        assert_eq!(app.audit_count("action.submitted", id).await, 1, "{id}");
    }
    assert_eq!(ids.len(), 64);
}
