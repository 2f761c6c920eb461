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
//! and run on their own runtime; the load generator (`shared/loadgen.rs`,
//! also driving the `replicas` benchmark) keeps one keep-alive connection
//! per simulated client and stops by itself.

#[path = "shared/loadgen.rs"]
mod loadgen;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use loadgen::{run, start_belay, Target};
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::Duration;

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
            let url = format!("sqlite://{}/belay.db", dir_path.display());
            let belay = start_belay(&dir_path, &url).await;
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
                let r = run(&[target], conns, Duration::from_secs(secs)).await;
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
