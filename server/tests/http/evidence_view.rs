//! Evidence as reviewers see it: raw bytes with headers that keep anything
//! an agent sent from running, and text for the viewer.

use crate::common::TestApp;
use app::auth::Role;
use app::policy::Stage;
use serde_json::{json, Value};

const HOSTILE: &str = r#"<html><head><meta http-equiv="refresh" content="0;url=https://evil.example/">
<script>fetch('https://evil.example/x')</script></head>
<body><img src="https://evil.example/p.gif" onerror="alert(1)"><p>Invoice</p></body></html>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_evidence_is_served_inert_and_only_to_people_signed_in() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let (_, key) = app.agent("shopper", Stage::Propose).await;
    let png = base64_png();
    let sent = app
        .submit(
            &key,
            json!({"capability": "email.send", "target": "t", "summary": "s", "evidence": [
                {"type": "dom_snapshot", "content": HOSTILE},
                {"type": "screenshot", "content_base64": png},
                {"type": "plan", "content": "## Plan\n<script>alert(1)</script>\n[x](javascript:alert(1))"},
            ]}),
        )
        .await;
    assert_eq!(sent.status(), 201);
    let sent: Value = sent.json().await.unwrap();
    let ids: Vec<String> = sent["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let rita = app.browser("rita").await;

    let res = rita.page(&format!("/evidence/{}/raw", ids[0])).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("sandbox") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "SAMEORIGIN");
    assert_eq!(h["cache-control"], "no-store");
    let body = res.text().await.unwrap();
    assert!(
        !body.to_ascii_lowercase().contains("http-equiv"),
        "meta refresh disabled"
    );
    assert!(body.contains("<p>Invoice</p>"));

    let res = rita.page(&format!("/evidence/{}/raw", ids[1])).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.headers()["x-frame-options"], "DENY");

    // Markdown arrives rendered with nothing live in it.
    let text: Value = rita
        .rpc("evidence/text", &[("id", &ids[2])])
        .await
        .json()
        .await
        .unwrap();
    let html = text["html"].as_str().unwrap();
    assert!(html.contains("<h2>Plan</h2>"), "{html}");
    assert!(
        !html.contains("<script") && !html.contains("javascript:"),
        "{html}"
    );
    assert_eq!(
        rita.rpc("evidence/text", &[("id", &ids[1])]).await.status(),
        422
    );

    // Strangers are sent to sign in; unknown ids are 404.
    let res = app
        .anonymous_browser()
        .page(&format!("/evidence/{}/raw", ids[0]))
        .await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login"));
    let res = rita
        .page("/evidence/01a20bca-5ab8-759a-8ff0-cea6612e0726/raw")
        .await;
    assert_eq!(res.status(), 404);
    let res = rita.page("/evidence/not-a-uuid/raw").await;
    assert_eq!(res.status(), 404);
}

fn base64_png() -> &'static str {
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
}
