//! Belay stays up and honest when a guesser or a stranger misbehaves:
//! sign-in back-off, a request with a made-up key refused before its body
//! is read, and bodies past the limits refused.

use crate::common::{assert_problem, TestApp, PASSWORD};
use app::auth::Role;
use app::policy::Stage;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn sign_in(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.anonymous_browser()
        .rpc(
            "login",
            &[("username", username), ("password", password), ("next", "")],
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_back_off_per_account_and_look_the_same_for_unknown_accounts() {
    let app = TestApp::spawn().await;
    app.user("ada", Role::Lead).await;
    for name in ["ada", "nobody"] {
        for _ in 0..5 {
            assert_eq!(
                sign_in(&app, name, "wrong password!").await.status(),
                401,
                "{name}"
            );
        }
        let res = sign_in(&app, name, "wrong password!").await;
        assert_eq!(res.status(), 429, "{name}: the sixth guess waits");
        let wait: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&wait), "{wait}");
    }
    // During the back-off even the right password gets the same answer.
    assert_eq!(sign_in(&app, "ada", PASSWORD).await.status(), 429);
    // Another account from the same address is not held up.
    app.user("bob", Role::Reviewer).await;
    assert_eq!(sign_in(&app, "bob", PASSWORD).await.status(), 200);
    // Once the back-off has passed, the right password works and forgives.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(sign_in(&app, "ada", PASSWORD).await.status(), 200);
    assert_eq!(sign_in(&app, "ada", "wrong password!").await.status(), 401);
    assert_eq!(app.audit_count("user.sign_in_refused", "ada").await, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_made_up_key_is_refused_before_the_body_is_read() {
    let app = TestApp::spawn().await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let fake = format!("belay_{}", "A".repeat(43));
    let head = format!(
        "POST /api/v1/actions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {fake}\r\n\
         Content-Type: application/json\r\nContent-Length: 16000000\r\n\r\n{{\"capability\":"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    // The rest of the 16 MB never comes: only an answer that did not wait
    // for the body arrives in time.
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut answer))
        .await
        .expect("answered without reading the body")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_built_to_be_quadratic_stays_small_on_the_request_page() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (_, key) = app.agent("shopper", app::policy::Stage::Propose).await;
    // Every row brings a new column: 12,000 × 12,000 cells if drawn whole.
    let rows: Vec<serde_json::Value> = (0..12_000)
        .map(|i| serde_json::json!({ format!("k{i}"): 0 }))
        .collect();
    let content = serde_json::to_string(&rows).unwrap();
    assert!(
        content.len() > 100_000 && content.len() < 200 * 1024,
        "{}",
        content.len()
    );
    let sent = app
        .submit(
            &key,
            serde_json::json!({"capability": "email.send", "target": "t", "summary": "s",
                "evidence": [{"type": "extracted_data", "content": content}]}),
        )
        .await;
    assert_eq!(sent.status(), 201);
    let sent: serde_json::Value = sent.json().await.unwrap();
    let id = sent["id"].as_str().unwrap();
    let rita = app.browser("rita").await;
    let page = rita
        .page(&format!("/approvals/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.len() < 1_000_000, "{} bytes", page.len());
    assert!(
        page.contains("Showing 200 of 12000 rows. Showing 40 of 12000 columns."),
        "the cut is said"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_deny_powerful_features_and_https_servers_send_hsts() {
    let app = TestApp::spawn().await;
    let res = app.anonymous_browser().page("/login").await;
    let policy = res.headers()["permissions-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        policy.contains("camera=()") && policy.contains("geolocation=()"),
        "{policy}"
    );
    assert!(
        res.headers().get("strict-transport-security").is_none(),
        "not over plain HTTP"
    );
    let https = TestApp::spawn_with(|s| s.secure_cookies = true).await;
    let res = https.anonymous_browser().page("/login").await;
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_over_its_quota_waits_while_others_are_decided() {
    let app = TestApp::spawn_with(|s| {
        s.submissions_per_minute = std::num::NonZeroU32::new(3).unwrap();
    })
    .await;
    let (_, noisy) = app.agent("noisy", app::policy::Stage::Propose).await;
    let (_, calm) = app.agent("calm", app::policy::Stage::Propose).await;
    for _ in 0..3 {
        app.submit_ok(&noisy, "docs.summarize").await;
    }
    let res = app
        .submit(
            &noisy,
            serde_json::json!({"capability": "docs.summarize", "target": "t", "summary": "s"}),
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!((1..=60).contains(
        &res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    ));
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("quota of 3 submissions a minute"));
    // The other agent is decided as usual.
    assert_eq!(
        app.submit_ok(&calm, "docs.summarize").await["decision"],
        "pending_approval"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_server_answers_only_to_its_own_names() {
    let app = TestApp::spawn().await;
    // DNS rebinding: a page on evil.example points its name at 127.0.0.1.
    let res = app
        .http
        .get(format!("{}/login", app.base))
        .header("host", "evil.example:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 421);
    let res = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.base))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 421);
    assert_eq!(app.anonymous_browser().page("/login").await.status(), 200);
}

/// A failed sign-in for `username` as sent through a proxy for `client`.
async fn guess_via(app: &TestApp, username: &str, client: &str) -> u16 {
    app.http
        .post(format!("{}/rpc/login", app.base))
        .header("Origin", &app.base)
        .header("X-Forwarded-For", client)
        .form(&[
            ("username", username),
            ("password", "wrong password!"),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_backs_off_alone() {
    let app = TestApp::spawn_with(|s| s.trusted_proxies = vec!["127.0.0.0/8".into()]).await;
    // 20 free failures per address, each for another name (so no
    // username backs off).
    for i in 0..20 {
        assert_eq!(guess_via(&app, &format!("u{i}"), "203.0.113.7").await, 401);
    }
    assert_eq!(guess_via(&app, "u20", "203.0.113.7").await, 429);
    // Another client behind the same proxy is not held up.
    assert_eq!(guess_via(&app, "u21", "198.51.100.9").await, 401);

    // Without the setting, the header is ignored: writing another address
    // into it does not buy a fresh allowance.
    let direct = TestApp::spawn().await;
    for i in 0..20 {
        assert_eq!(
            guess_via(&direct, &format!("u{i}"), &format!("192.0.2.{i}")).await,
            401
        );
    }
    assert_eq!(guess_via(&direct, "u20", "192.0.2.200").await, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_413() {
    let app = TestApp::spawn().await;
    let (_, key) = app.agent("verbose", Stage::ActWithApproval).await;
    let huge = json!({"capability": "email.send", "target": "x", "summary": "y",
                      "params": {"blob": "x".repeat(17 * 1024 * 1024)}});
    // The server answers once it has read 16 MiB and closes the connection;
    // a client still sending the rest may see the close before the answer
    // (a race in TCP, not a second answer), so a reset is tried again.
    let mut res = None;
    for _ in 0..3 {
        let sent = app
            .http
            .post(format!("{}/api/v1/actions", app.base))
            .bearer_auth(&key)
            .json(&huge)
            .send()
            .await;
        if let Ok(r) = sent {
            res = Some(r);
            break;
        }
    }
    assert_problem(res.expect("an answer within three tries"), 413).await;
    // Within the body limit but over the per-evidence limit.
    let big = "A".repeat(7 * 1024 * 1024);
    let res = app
        .submit(
            &key,
            json!({"capability": "email.send", "target": "x", "summary": "y",
            "evidence": [{"type": "screenshot", "content_base64": big}]}),
        )
        .await;
    assert_problem(res, 413).await;
}
