//! Load against the running server: `POST /api/v1/actions` for an
//! auto-allowed action (decision, request row and audit row durably
//! committed before the 201), against a control measured in the same run:
//! a minimal axum handler that commits one equivalent SQLite row per request
//! with the same durability settings (WAL, synchronous=FULL); and Belay again
//! with the trust sensor's rollups (kept in the write transaction) switched
//! off (`bare`), to measure what keeping them costs.
//!
//! Run: `cargo bench -p belay --bench load` (BELAY_BENCH_SECS sets the
//! measuring time per point, default 10). Both servers listen on loopback
//! and run on their own runtime; the load generator keeps one keep-alive
//! connection per simulated client and stops by itself.

use app::audit::Actor;
use app::auth::{users, Role};
use app::policy::Stage;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use belay::config::{Config, ServeArgs};
use belay::startup::Application;
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Target {
    name: &'static str,
    url: String,
    key: Option<String>,
    /// For Belay: whether the trust sensor's rollups are kept in the
    /// write transaction.
    sensor: Option<bool>,
}

fn main() {
    let secs: u64 = std::env::var("BELAY_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().expect("temp dir");

    // The servers get a runtime of their own, as `belay serve` would.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let dir_path = dir.path().to_path_buf();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .thread_name("server")
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let control = start_control(&dir_path).await;
            let belay = start_belay(&dir_path).await;
            ready_tx.send((control, belay)).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let (control, belay) = ready_rx.recv().expect("servers started");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("loadgen")
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        println!(
            "load: {secs} s per point after 2 s warm-up; one keep-alive connection per client\n"
        );
        println!(
            "{:<8} {:>5} {:>10} {:>9} {:>9} {:>9}",
            "target", "conns", "req/s", "p50 ms", "p99 ms", "errors"
        );
        let mut results = Vec::new();
        let bare = Target {
            name: "bare",
            url: belay.url.clone(),
            key: belay.key.clone(),
            sensor: Some(false),
        };
        for conns in [16, 64] {
            // The database grows as the run goes on: alternate which of the
            // two Belay runs comes first.
            let order = if conns == 16 {
                [&control, &bare, &belay]
            } else {
                [&control, &belay, &bare]
            };
            for target in order {
                if let Some(on) = target.sensor {
                    app::trust::rollup::KEEP.store(on, Ordering::Relaxed);
                }
                let r = run(target, conns, Duration::from_secs(secs)).await;
                println!(
                    "{:<8} {:>5} {:>10.0} {:>9.2} {:>9.2} {:>9}",
                    target.name, conns, r.rate, r.p50_ms, r.p99_ms, r.errors
                );
                results.push((target.name, conns, r));
            }
        }
        let get = |name: &str, conns: usize| {
            results
                .iter()
                .find(|(n, c, _)| *n == name && *c == conns)
                .map(|(_, _, r)| r)
                .unwrap()
        };
        println!();
        for conns in [16, 64] {
            println!(
                "belay / control throughput at {conns} connections: {:.2}×",
                get("belay", conns).rate / get("control", conns).rate
            );
        }
        for conns in [16, 64] {
            println!(
                "write-path cost of the trust sensor at {conns} connections: {:.1} % of throughput",
                (1.0 - get("belay", conns).rate / get("bare", conns).rate) * 100.0
            );
        }
        println!(
            "belay p99 at 64 / p99 at 16 connections: {:.2}×",
            get("belay", 64).p99_ms / get("belay", 16).p99_ms
        );
    });
    drop(dir);
}

struct Outcome {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

async fn run(target: &Target, conns: usize, measure: Duration) -> Outcome {
    let warmup = Duration::from_secs(2);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let measure_from = started + warmup;
    let mut tasks = Vec::new();
    for c in 0..conns {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let url = reqwest::Url::parse(&target.url).unwrap();
        let key = target.key.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = format!(
                    r#"{{"capability":"docs.summarize","target":"doc-{c}-{i}","summary":"Summarize the quarterly report for the finance team","params":{{"pages":12,"language":"en"}}}}"#
                );
                let mut req = client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body);
                if let Some(k) = &key {
                    req = req.bearer_auth(k);
                }
                let t = Instant::now();
                let ok = match req.send().await {
                    Ok(res) if res.status() == StatusCode::CREATED => {
                        let v: Value = res.json().await.unwrap_or(Value::Null);
                        v["decision"] == "allowed" || v["ok"] == true
                    }
                    _ => false,
                };
                let done = Instant::now();
                if done >= measure_from {
                    if ok {
                        latencies.push((done - t).as_micros() as u32);
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    tokio::time::sleep_until((measure_from + measure).into()).await;
    stop.store(true, Ordering::Relaxed);
    let ended = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0;
    Outcome {
        rate: all.len() as f64 / (ended - measure_from).as_secs_f64(),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        errors,
    }
}

/// The control: parse the JSON, insert one row, commit (fsync), answer 201.
async fn start_control(dir: &std::path::Path) -> Target {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}/control.db", dir.display()))
        .unwrap()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE decisions (id TEXT PRIMARY KEY, capability TEXT NOT NULL, target TEXT NOT NULL, \
         summary TEXT NOT NULL, params TEXT NOT NULL, decision TEXT NOT NULL, created_at BIGINT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    async fn handle(
        State(pool): State<SqlitePool>,
        Json(body): Json<Value>,
    ) -> (StatusCode, Json<Value>) {
        let id = uuid_v4();
        let res = sqlx::query(
            "INSERT INTO decisions (id, capability, target, summary, params, decision, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'allowed', $6)",
        )
        .bind(&id)
        .bind(body["capability"].as_str().unwrap_or_default())
        .bind(body["target"].as_str().unwrap_or_default())
        .bind(body["summary"].as_str().unwrap_or_default())
        .bind(body["params"].to_string())
        .bind(app::db::now_ms())
        .execute(&pool)
        .await;
        match res {
            Ok(_) => (StatusCode::CREATED, Json(json!({"id": id, "ok": true}))),
            Err(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"ok": false})),
            ),
        }
    }
    let router = Router::new()
        .route("/control", post(handle))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/control", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Target {
        name: "control",
        url,
        key: None,
        sensor: None,
    }
}

fn uuid_v4() -> String {
    use rand::Rng;
    format!("{:032x}", rand::thread_rng().gen::<u128>())
}

/// Belay itself, on a fresh SQLite file, with an agent at act_with_approval
/// granted `docs.summarize` (no risk triggers) and past its first use.
async fn start_belay(dir: &std::path::Path) -> Target {
    let config = Config {
        database_url: format!("sqlite://{}/belay.db", dir.display()),
        serve: ServeArgs {
            addr: "127.0.0.1:0".parse().unwrap(),
            site_root: dir.join("site").display().to_string(),
            // The load generator is one agent at full speed: no quota.
            submissions_per_minute: std::num::NonZeroU32::MAX,
            ..ServeArgs::default()
        },
    };
    let app = Application::build(config).await.expect("belay builds");
    let db = app.state().db.clone();
    let url = format!("http://127.0.0.1:{}/api/v1/actions", app.port());
    users::create(
        &db,
        &Actor::System,
        "lead",
        Role::Lead,
        "bench password 123".into(),
    )
    .await
    .unwrap();
    let lead = users::find_by_username(&db, "lead").await.unwrap().unwrap();
    let (agent, key) = app::agents::store::create_with_key(
        &db,
        &Actor::System,
        app::agents::store::NewAgent {
            name: "bench",
            purpose: "load test",
            sponsor: "lead",
            stage: Stage::ActWithApproval,
        },
    )
    .await
    .unwrap();
    let form = app::scope::GrantForm {
        capability: "docs.summarize".into(),
        ..Default::default()
    };
    let saved = app::scope::store::save(&db, &lead, &agent.id, &form, "the benchmark")
        .await
        .unwrap();
    // A new grant waits for a second lead, as in production.
    if let Some(p) = saved.proposed() {
        users::create(
            &db,
            &Actor::System,
            "second",
            Role::Lead,
            "bench password 123".into(),
        )
        .await
        .unwrap();
        let second = users::find_by_username(&db, "second")
            .await
            .unwrap()
            .unwrap();
        let ballot = app::governance::decide::Ballot::Approve {
            reason: "benchmark".into(),
            override_reason: None,
        };
        app::governance::decide::vote(app.state(), &second, &p.change_id, ballot)
            .await
            .unwrap();
    }
    let mut tx = db.begin().await.unwrap();
    app::policy::facts::record_use(&mut tx, &agent.id, "docs.summarize", 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    Target {
        name: "belay",
        url,
        key: Some(key.secret),
        sensor: Some(true),
    }
}
