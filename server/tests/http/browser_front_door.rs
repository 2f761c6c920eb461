//! Sign-in, sessions, CSRF and agent management from the browser side.

use crate::common::{TestApp, PASSWORD};
use app::auth::Role;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_send_anonymous_people_to_sign_in() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous_browser();
    for path in ["/", "/approvals", "/agents", "/approvals/anything"] {
        let res = anon.page(path).await;
        assert_eq!(res.status(), 303, "{path}");
        let to = res.headers()["location"].to_str().unwrap().to_string();
        assert!(to.starts_with("/login?next=/"), "{path} -> {to}");
    }
    let login = anon.page("/login").await;
    assert_eq!(login.status(), 200);
    assert_eq!(login.headers()["x-frame-options"], "DENY");
    assert_eq!(login.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_and_a_right_one_opens_the_pages() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Reviewer).await;
    let b = app.anonymous_browser();
    let res = b
        .rpc(
            "login",
            &[
                ("username", "alice"),
                ("password", "not the password"),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 401);
    let res = b
        .rpc(
            "login",
            &[("username", "nobody"), ("password", PASSWORD), ("next", "")],
        )
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(b.page("/approvals").await.status(), 303);

    let alice = app.browser("alice").await;
    let res = alice.page("/approvals").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("alice (reviewer)"));

    assert_eq!(alice.rpc("logout", &[]).await.status(), 200);
    assert_eq!(alice.page("/approvals").await.status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_posts_are_refused() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Reviewer).await;
    let client = reqwest::Client::new();
    let url = format!("{}/rpc/login", app.base);
    let form = [("username", "alice"), ("password", PASSWORD), ("next", "")];
    let res = client.post(&url).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let res = client
        .post(&url)
        .header("Origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = client
        .post(&url)
        .header("Origin", &app.base)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_registers_an_agent_whose_key_works_until_revoked() {
    let app = TestApp::spawn().await;
    app.user("lena", Role::Lead).await;
    let lena = app.browser("lena").await;
    let res = lena
        .rpc(
            "agents/create",
            &[
                ("name", "invoice-bot"),
                ("purpose", "Reconcile invoices"),
                ("sponsor", "lena"),
                ("stage", "propose"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let made: Value = res.json().await.unwrap();
    let agent_id = made[0]["id"].as_str().unwrap();

    let res = lena
        .rpc(
            "agents/issue_key",
            &[("agent_id", agent_id), ("expires_in_days", "30")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let issued: Value = res.json().await.unwrap();
    let secret = issued["secret"].as_str().unwrap();

    // Only a hash is stored.
    let stored: Vec<(String,)> = sqlx::query_as("SELECT key_hash FROM agent_keys")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert!(stored.iter().all(|(h,)| h != secret && !h.contains(secret)));

    let me = app
        .http
        .get(format!("{}/api/v1/me", app.base))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    let res = lena
        .rpc(
            "agents/revoke_key",
            &[("key_id", issued["key_id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(res.status(), 200);
    let me = app
        .http
        .get(format!("{}/api/v1/me", app.base))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    let detail = crate::common::assert_problem(me, 401).await;
    assert!(detail.contains("revoked"), "{detail}");
    let res = lena
        .rpc(
            "agents/revoke_key",
            &[("key_id", issued["key_id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(res.status(), 409);

    let page = lena
        .page(&format!("/agents/{agent_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("invoice-bot") && page.contains("revoked"));
    assert!(!page.contains(secret), "the key must never be shown again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_registration_refuses_bad_input_and_non_managers() {
    let app = TestApp::spawn().await;
    app.user("lena", Role::Lead).await;
    app.user("rita", Role::Reviewer).await;
    let lena = app.browser("lena").await;
    let ok = [
        ("name", "bot-one"),
        ("purpose", "p"),
        ("sponsor", "lena"),
        ("stage", "observe"),
    ];
    assert_eq!(lena.rpc("agents/create", &ok).await.status(), 200);
    assert_eq!(lena.rpc("agents/create", &ok).await.status(), 409);
    let bad_stage = [
        ("name", "bot-two"),
        ("purpose", "p"),
        ("sponsor", "lena"),
        ("stage", "godmode"),
    ];
    assert_eq!(lena.rpc("agents/create", &bad_stage).await.status(), 422);
    let bad_sponsor = [
        ("name", "bot-two"),
        ("purpose", "p"),
        ("sponsor", "ghost"),
        ("stage", "observe"),
    ];
    assert_eq!(lena.rpc("agents/create", &bad_sponsor).await.status(), 422);
    let rita = app.browser("rita").await;
    let other = [
        ("name", "bot-three"),
        ("purpose", "p"),
        ("sponsor", "lena"),
        ("stage", "observe"),
    ];
    assert_eq!(rita.rpc("agents/create", &other).await.status(), 403);
    let names: Vec<(String,)> = sqlx::query_as("SELECT name FROM agents")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(names, vec![("bot-one".to_string(),)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_never_redirects_off_site_and_bad_arguments_are_400() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Reviewer).await;
    for next in [
        "/\t/evil.example",
        "//evil.example",
        "https://evil.example",
        "/\n",
    ] {
        let b = app.anonymous_browser();
        let res = b
            .rpc(
                "login",
                &[
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.status(), 200, "{next:?}");
        assert_eq!(res.headers()["location"], "/approvals", "{next:?}");
    }
    let alice = app.browser("alice").await;
    // A server function called without its arguments is bad input, not a server error.
    assert_eq!(
        alice.rpc("approvals/reject", &[("id", "x")]).await.status(),
        400
    );
    let res = alice
        .rpc(
            "login",
            &[
                ("username", "a\u{0}b"),
                ("password", PASSWORD),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 401);
}
