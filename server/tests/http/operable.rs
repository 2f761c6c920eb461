//! Operating Belay: health and readiness for load balancers, Prometheus
//! metrics on a listener of their own (loopback names, or a token), counted
//! where the work happens, and a request id on every response.

use crate::common::TestApp;
use crate::review::{id_of, mailer, send};
use app::audit::verify;
use app::auth::Role;
use app::policy::Stage;
use belay::config::ServeArgs;
use reqwest::Response;
use serde_json::{json, Value};

fn with_metrics(s: &mut ServeArgs) {
    s.metrics_addr = "127.0.0.1:0".parse().unwrap();
}

async fn get(app: &TestApp, path: &str) -> Response {
    let url = format!("{}{path}", app.base);
    app.http.get(url).send().await.unwrap()
}

async fn scrape(app: &TestApp) -> String {
    let url = format!(
        "{}/metrics",
        app.metrics.as_ref().expect("a metrics listener")
    );
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// One series' value, e.g. `belay_claims_total{result="claimed"}`; 0 if
/// it has not appeared yet.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().unwrap())
}

fn moved(before: &str, after: &str, series: &str) -> f64 {
    value(after, series) - value(before, series)
}

fn request_id(res: &Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer_anyone_but_only_to_belays_host_names() {
    let app = TestApp::spawn().await;
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let res = get(&app, path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], status);
        let url = format!("{}{path}", app.base);
        let foreign = app.http.get(url).header("host", "evil.example");
        assert_eq!(foreign.send().await.unwrap().status(), 421, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_behind_on_migrations_is_not_ready_but_the_process_is_healthy() {
    let app = TestApp::spawn().await;
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let res = get(&app, "/readyz").await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "not ready");
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.contains("behind"), "{reason}");
    assert_eq!(get(&app, "/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_apart_to_loopback_names_or_with_the_token() {
    let app = TestApp::spawn_with(with_metrics).await;
    let url = format!("{}/metrics", app.metrics.as_ref().unwrap());
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let kind = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = res.text().await.unwrap();
    assert!(text.contains("# TYPE belay_queue_depth gauge"), "{text}");
    assert!(text.ends_with("# EOF\n"));
    // A web page that points its own name at 127.0.0.1 (DNS rebinding).
    let rebound = app.http.get(&url).header("host", "evil.example:9464");
    assert_eq!(rebound.send().await.unwrap().status(), 421);
    // Not on the main address, which a reverse proxy may put online.
    let main = get(&app, "/metrics").await.text().await.unwrap();
    assert!(!main.contains("belay_queue_depth"));

    let token = "a-long-random-scrape-token";
    let app = TestApp::spawn_with(|s| {
        with_metrics(s);
        s.metrics_token = Some(token.into());
    })
    .await;
    let url = format!("{}/metrics", app.metrics.as_ref().unwrap());
    let status = |req: reqwest::RequestBuilder| async move { req.send().await.unwrap().status() };
    assert_eq!(status(app.http.get(&url)).await, 401);
    assert_eq!(status(app.http.get(&url).bearer_auth("guess")).await, 401);
    assert_eq!(status(app.http.get(&url).bearer_auth(token)).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_where_the_work_happens() {
    let app = TestApp::spawn_with(|s| {
        with_metrics(s);
        s.pending_per_agent = 1;
    })
    .await;
    app.user("rita", Role::Reviewer).await;
    let (_, key) = mailer(&app, "mailer", Stage::ActWithApproval).await;
    let before = scrape(&app).await;

    let sent = send(&app, &key, json!({"amount": 300, "to": "a@b.c"})).await;
    assert_eq!(sent["decision"], "pending_approval");
    let id = id_of(&sent);
    // Over its quota of one waiting request.
    let again = json!({"capability": "email.send", "target": "customer-42", "summary": "again",
                       "params": {"amount": 1, "to": "a@b.c"}});
    assert_eq!(app.submit(&key, again).await.status(), 429);
    let waiting = scrape(&app).await;
    let decided = r#"belay_decisions_total{decision="pending_approval",stage="act_with_approval"}"#;
    assert_eq!(moved(&before, &waiting, decided), 1.0);
    let pending = r#"belay_quota_refusals_total{quota="pending"}"#;
    assert_eq!(moved(&before, &waiting, pending), 1.0);
    assert_eq!(value(&waiting, "belay_queue_depth"), 1.0);
    assert!(moved(&before, &waiting, "belay_writer_batch_size_count") >= 1.0);
    assert!(moved(&before, &waiting, "belay_writer_commit_seconds_count") >= 1.0);

    let rita = app.browser("rita").await;
    assert_eq!(rita.approve(&id).await.status(), 200);
    assert_eq!(app.agent_post(&key, &id, "claim", None).await.status(), 200);
    let report = json!({"status": "succeeded", "details": "sent"});
    let res = app.agent_post(&key, &id, "outcome", Some(report)).await;
    assert_eq!(res.status(), 200);
    let wrong = [
        ("username", "rita"),
        ("password", "not her password"),
        ("next", ""),
    ];
    let res = app.anonymous_browser().rpc("login", &wrong).await;
    assert_eq!(res.status(), 401);

    let after = scrape(&app).await;
    for series in [
        r#"belay_time_to_decision_seconds_count{outcome="approved"}"#,
        r#"belay_claims_total{result="claimed"}"#,
        r#"belay_outcomes_total{result="succeeded",incident="false"}"#,
        r#"belay_sign_in_refusals_total{reason="wrong_credentials"}"#,
    ] {
        assert_eq!(moved(&waiting, &after, series), 1.0, "{series}\n{after}");
    }
    assert_eq!(value(&after, "belay_queue_depth"), 0.0);
    assert!(
        !after.contains(&key) && !after.contains("mailer"),
        "no agent names a series"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_has_a_request_id_and_only_a_trusted_proxy_may_choose_it() {
    let app = TestApp::spawn().await;
    let (a, b) = (
        get(&app, "/healthz").await,
        get(&app, "/api/v1/actions").await,
    );
    assert_eq!(b.status(), 405, "an error carries one too");
    let (a, b) = (request_id(&a), request_id(&b));
    assert_eq!(a.len(), 36, "{a}");
    assert_ne!(a, b);
    let url = format!("{}/healthz", app.base);
    let chosen = app
        .http
        .get(&url)
        .header("x-request-id", "chosen-by-client");
    assert_ne!(
        request_id(&chosen.send().await.unwrap()),
        "chosen-by-client"
    );

    // The tests connect from 127.0.0.1: here that is the trusted proxy.
    let app = TestApp::spawn_with(|s| s.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let url = format!("{}/healthz", app.base);
    let kept = app.http.get(&url).header("x-request-id", "proxy-7f3a.1");
    assert_eq!(request_id(&kept.send().await.unwrap()), "proxy-7f3a.1");
    let odd = app.http.get(&url).header("x-request-id", "two words\"}");
    let replaced = request_id(&odd.send().await.unwrap());
    assert_eq!(replaced.len(), 36, "{replaced}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_put_the_request_id_on_the_requests_lines() {
    use std::io::{BufRead, BufReader, Read};
    let dir = tempfile::tempdir().unwrap();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_belay"))
        .args(["serve", "--addr", "127.0.0.1:0", "--metrics-addr", "off"])
        .args(["--site-root", &dir.path().display().to_string()])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/belay.db", dir.path().display()),
        )
        .env("BELAY_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let base = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the server stopped"
        );
        if let Some(url) = line.trim().strip_prefix("Belay is listening on ") {
            break url.to_string();
        }
    };
    // A failed sign-in logs one line while the request is served.
    let res = reqwest::Client::new()
        .post(format!("{base}/rpc/login"))
        .header("origin", &base)
        .form(&[("username", "nobody"), ("password", "wrong"), ("next", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let id = request_id(&res);
    server.kill().unwrap();
    server.wait().unwrap();
    let mut logs = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let refused = lines
        .iter()
        .find(|l| l["message"] == "sign-in refused")
        .unwrap_or_else(|| panic!("no sign-in line in {logs}"));
    // The request's span, among the spans the line was logged in.
    let request = refused["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|s| s["name"] == "request"));
    assert_eq!(request.unwrap()["request_id"], id.as_str(), "{refused}");
}

/// An agent's calls one at a time, each allowed at once, need nothing read
/// under the writer's lock: on SQLite each batch is one query, BEGIN to
/// COMMIT, once the writer knows the audit head. An approval appends to
/// the chain between two of them; the next query's guard stops it before
/// its COMMIT, and that batch is decided again and written the usual way.
/// The chain stays whole, with each submission in it once. An
/// Idempotency-Key used again stops a trip the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_one_at_a_time_commit_in_one_trip_and_a_moved_head_sends_one_the_usual_way() {
    let app = TestApp::spawn_with(with_metrics).await;
    let sqlite = app.db.connect_options().database_url.scheme() == "sqlite";
    app.user("rita", Role::Reviewer).await;
    let (agent_id, key) = app.agent("summarizer", Stage::ActWithApproval).await;
    app.grant_used(&agent_id, "docs.summarize").await;
    app.grant_used(&agent_id, "email.send").await;
    let held = app.submit_ok(&key, "email.send").await;
    assert_eq!(held["decision"], "pending_approval");
    let one = r#"belay_writer_batches_total{path="one_trip"}"#;
    let several = r#"belay_writer_batches_total{path="several_trips"}"#;
    let allowed = || async {
        let sent = app.submit_ok(&key, "docs.summarize").await;
        assert_eq!(sent["decision"], "allowed", "{sent}");
        id_of(&sent)
    };
    // The first reads whether the agent has used the capability before
    // (the answer is cached from then on).
    let mut ids = vec![allowed().await];
    let before = scrape(&app).await;
    for _ in 0..5 {
        ids.push(allowed().await);
    }
    let after = scrape(&app).await;
    let trips = moved(&before, &after, one) + moved(&before, &after, several);
    assert_eq!(trips, 5.0);
    // PostgreSQL takes no statement with BEGIN and COMMIT in it.
    let expected = if sqlite { 5.0 } else { 0.0 };
    assert_eq!(moved(&before, &after, one), expected, "{after}");

    // A new Idempotency-Key goes in the trip unlooked-up; used again, its
    // row stops the trip, and the batch looks it up the usual way.
    let keyed = |summary: &'static str| {
        app.http
            .post(format!("{}/api/v1/actions", app.base))
            .bearer_auth(&key)
            .header("Idempotency-Key", "k-1")
            .json(&json!({"capability": "docs.summarize", "target": "customer-42", "summary": summary}))
            .send()
    };
    let first = keyed("once").await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let keyed_once = scrape(&app).await;
    let again = keyed("once").await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    assert_eq!(keyed("other").await.unwrap().status(), 422);
    let keyed_thrice = scrape(&app).await;
    if sqlite {
        assert_eq!(moved(&after, &keyed_once, one), 1.0, "{keyed_once}");
    }
    assert_eq!(moved(&keyed_once, &keyed_thrice, one), 0.0);
    assert_eq!(moved(&keyed_once, &keyed_thrice, several), 2.0);
    ids.push(id_of(&first));

    // A held request cannot go in one trip (its agent's waiting requests
    // are counted under the lock): a key left to the trip is looked up
    // when the batch goes the usual way, and its replay still answers.
    let held_keyed = || {
        app.http
            .post(format!("{}/api/v1/actions", app.base))
            .bearer_auth(&key)
            .header("Idempotency-Key", "k-2")
            .json(&json!({"capability": "email.send", "target": "customer-42", "summary": "held"}))
            .send()
    };
    let waits: Value = held_keyed().await.unwrap().json().await.unwrap();
    assert_eq!(waits["decision"], "pending_approval", "{waits}");
    let again = held_keyed().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], waits["id"]);
    ids.push(id_of(&waits));
    let before_approval = scrape(&app).await;

    let rita = app.browser("rita").await;
    assert_eq!(rita.approve(&id_of(&held)).await.status(), 200);
    ids.push(allowed().await);
    let last = scrape(&app).await;
    let stale = "the stale query did not commit";
    assert_eq!(moved(&before_approval, &last, one), 0.0, "{stale}");
    assert_eq!(moved(&before_approval, &last, several), 1.0);

    assert!(verify::database(&app.db, None).await.unwrap().is_ok());
    for id in &ids {
        assert_eq!(app.audit_count("action.submitted", id).await, 1, "{id}");
    }
}
