//! What an agent sends with a request: evidence uploads, checked by size,
//! content and dimensions, and idempotent submits.

use crate::common::{assert_problem, TestApp};
use crate::review::{id_of, mailer, send};
use app::policy::Stage;
use serde_json::{json, Value};

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
async fn evidence_past_twenty_pieces_on_one_action_is_a_conflict() {
    let app = TestApp::spawn().await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let id = id_of(&send(&app, &key, json!({"amount": 5})).await);
    let plans = |n| (0..n).map(|_| ("plan", b"a step".to_vec(), None)).collect();
    assert_eq!(app.upload(&key, &id, plans(20)).await.status(), 200);
    // The same piece would fit another request: this one's state is the
    // conflict, so 409, not 422.
    let detail = assert_problem(app.upload(&key, &id, plans(1)).await, 409).await;
    assert!(detail.contains("at most 20"), "{detail}");
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
