//! At least once, across a crash: `belay serve` is killed (SIGKILL) while
//! it is sending a webhook, and restarted on the same database. The
//! receiver still gets every event, each under one stable `webhook-id`
//! (it may see one twice, which is what the id is for), every request
//! signed.

use crate::common::PASSWORD;
use crate::webhook_receiver::{verify, Receiver, Reply};
use app::agents::store::{self, NewAgent};
use app::audit::Actor;
use app::auth::{users, Role};
use app::policy::Stage;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(db_url: &str, dir: &std::path::Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_belay"))
            .args(["serve", "--addr", "127.0.0.1:0", "--metrics-addr", "off"])
            .args(["--site-root", &dir.display().to_string()])
            .args(["--webhook-timeout-secs", "2", "--webhook-retry-secs", "1"])
            .env("DATABASE_URL", db_url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
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
        // Keep reading, so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Server { child, base }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A fresh database the way `common.rs` makes one (its helper is private).
async fn fresh_database(dir: &std::path::Path) -> String {
    use sqlx::Connection;
    match std::env::var("BELAY_TEST_POSTGRES") {
        Ok(server) if !server.is_empty() => {
            let name = format!("belay_test_{:016x}", rand::random::<u64>());
            let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
                .await
                .unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap();
            format!("{server}/{name}")
        }
        _ => format!("sqlite://{}/belay.db", dir.display()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_with_a_stable_id_after_a_kill_mid_send() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = fresh_database(dir.path()).await;
    let db = belay::startup::open_database(&db_url).await.unwrap();
    users::create(&db, &Actor::System, "ada", Role::Admin, PASSWORD.into())
        .await
        .unwrap();
    users::create(&db, &Actor::System, "sponsor", Role::Lead, PASSWORD.into())
        .await
        .unwrap();
    let new = NewAgent {
        name: "mailer",
        purpose: "testing",
        sponsor: "sponsor",
        stage: Stage::ActWithApproval,
    };
    let (_, key) = store::create_with_key(&db, &Actor::System, new)
        .await
        .unwrap();
    let key = key.secret;
    let hook = Receiver::start().await;
    // The first request is held open until the server dies.
    hook.plan(&[Reply::Hang]);

    let server = Server::start(&db_url, dir.path());
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let rpc = |path: &str, form: Vec<(&str, &str)>| {
        http.post(format!("{}/rpc/{path}", server.base))
            .header("origin", &server.base)
            .form(&form)
            .send()
    };
    let signed_in = rpc(
        "login",
        vec![("username", "ada"), ("password", PASSWORD), ("next", "")],
    )
    .await
    .unwrap();
    assert_eq!(signed_in.status(), 200);
    let form = vec![
        ("url", hook.url.as_str()),
        ("description", "crash test"),
        ("events[action-held]", "on"),
    ];
    let created: Value = rpc("webhooks/create", form)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    let mut submitted = BTreeSet::new();
    for i in 0..5 {
        let res = http
            .post(format!("{}/api/v1/actions", server.base))
            .bearer_auth(&key)
            .json(&json!({"capability": "email.send", "target": format!("customer-{i}"), "summary": "test action"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["state"], "pending_approval");
        submitted.insert(body["id"].as_str().unwrap().to_string());
    }
    let hung = hook.wait_for(1, 20).await[0].id.clone();
    server.kill();

    let server = Server::start(&db_url, dir.path());
    let delivered = || async {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE state = 'delivered'")
            .fetch_one(&db)
            .await
            .unwrap()
            .try_get::<i64, _>("n")
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while delivered().await < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "not every delivery was made after the restart"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    server.kill();

    let got = hook.got();
    assert!(
        got.iter().all(|r| verify(&secret, r)),
        "an unsigned or badly signed request"
    );
    // De-duplicated by webhook-id: one event each, the same bytes each time.
    let mut by_id: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &got {
        by_id.entry(&r.id).or_default().push(&r.body);
    }
    assert!(by_id
        .values()
        .all(|bodies| bodies.iter().all(|b| *b == bodies[0])));
    let events: BTreeSet<String> = by_id
        .values()
        .map(|bodies| {
            let body: Value = serde_json::from_str(bodies[0]).unwrap();
            body["data"]["subject"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(by_id.len(), 5, "one webhook-id per event: {by_id:?}");
    assert_eq!(events, submitted);
    assert!(
        by_id[hung.as_str()].len() >= 2,
        "the one cut off by the kill was sent again"
    );
    db.close().await;
}
