//! Load against the running server: `POST /api/v1/actions` for an
//! auto-allowed action (decision, request row, audit row and rollups
//! durably committed before the 201), against a control measured in the
//! same run: a minimal axum handler that commits one equivalent SQLite row
//! per request with the same durability settings (WAL, synchronous=FULL).
//! At 1, 16 and 64 connections: one agent calling one at a time (its p50
//! beside the control's is what the group-commit writer costs when it has
//! one submission), and two loads.
//!
//! Run: `cargo bench -p belay --bench load` (BELAY_BENCH_SECS sets the
//! measuring time per point, default 10). Each server is a process of its
//! own on loopback: the `belay serve` cargo built beside this benchmark
//! (default logging, to a file), and the control, which is this program
//! started again with `BELAY_BENCH_CONTROL` set. `BELAY_BIN_BEFORE=<an
//! older belay>` adds that binary, on a database of its own, to the same
//! run. The load generator (`shared/loadgen.rs`, also driving the
//! `replicas` benchmark) keeps one keep-alive connection per simulated
//! client and stops by itself.

#[path = "shared/loadgen.rs"]
mod loadgen;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use loadgen::{prepare, run, spawn, spawn_belay, Target, BELAY};
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

/// Set in the control's process: the folder of its database.
const CONTROL: &str = "BELAY_BENCH_CONTROL";

fn main() {
    if let Ok(dir) = std::env::var(CONTROL) {
        return serve_control(std::path::Path::new(&dir));
    }
    let secs: u64 = std::env::var("BELAY_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut servers = Vec::new();
    let mut targets = Vec::new();

    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command.env(CONTROL, dir.path());
    let (process, url) = spawn(command, "control listening on ");
    servers.push(process);
    targets.push(Target {
        name: "control",
        url,
        key: None,
    });
    let mut belays = vec![("belay", BELAY.to_string())];
    if let Ok(before) = std::env::var("BELAY_BIN_BEFORE") {
        belays.push(("before", before));
    }
    for (name, bin) in belays {
        let url = format!("sqlite://{}/{name}.db", dir.path().display());
        let key = prepare(&dir.path().join(name), &url);
        let (process, url) = spawn_belay(&bin, &dir.path().join(name), &url, name);
        servers.push(process);
        targets.push(Target {
            name,
            url,
            key: Some(key),
        });
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("loadgen")
        .enable_all()
        .build()
        .unwrap();
    let (load1, load5, _) = load_average();
    rt.block_on(async {
        println!(
            "load: {secs} s per point after 2 s warm-up; one keep-alive connection per client"
        );
        println!("load average at the start: {load1} (1 min), {load5} (5 min)\n");
        println!(
            "{:<8} {:>5} {:>10} {:>9} {:>9} {:>9}",
            "target", "conns", "req/s", "p50 ms", "p99 ms", "errors"
        );
        let mut results = Vec::new();
        for (i, conns) in [1, 16, 64].into_iter().enumerate() {
            // The databases grow as the run goes on: each point starts
            // with another target.
            let mut order: Vec<&Target> = targets.iter().collect();
            order.rotate_left(i % targets.len());
            for target in order {
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
        };
        let (load1, _, _) = load_average();
        println!("\nload average at the end: {load1} (1 min)");
        for name in ["belay", "before"] {
            let Some(one) = get(name, 1) else { continue };
            let control = get("control", 1).unwrap();
            println!(
                "{name} / control p50 at 1 connection: {:.2}× (goal ≤ 1.2×)",
                one.p50_ms / control.p50_ms
            );
            for conns in [16, 64] {
                println!(
                    "{name} / control throughput at {conns} connections: {:.2}× (goal ≥ 3×)",
                    get(name, conns).unwrap().rate / get("control", conns).unwrap().rate
                );
            }
            println!(
                "{name} p99 at 64 / p99 at 16 connections: {:.2}× (goal ≤ 3×)",
                get(name, 64).unwrap().p99_ms / get(name, 16).unwrap().p99_ms
            );
        }
    });
    drop(servers);
    drop(dir);
}

/// `/proc/loadavg`'s first three fields (the machine is shared).
fn load_average() -> (String, String, String) {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut f = text.split_whitespace().map(str::to_string);
    let mut next = || f.next().unwrap_or_else(|| "?".into());
    (next(), next(), next())
}

/// The control's process: a runtime like `belay serve`'s, the server, and
/// its address on stdout.
fn serve_control(dir: &std::path::Path) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (url, server) = start_control(dir).await;
        println!("control listening on {url}");
        server.await.unwrap().unwrap();
    });
}

/// The control: parse the JSON, insert one row, commit (fsync), answer 201.
async fn start_control(
    dir: &std::path::Path,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
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
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    (url, server)
}

fn uuid_v4() -> String {
    use rand::Rng;
    format!("{:032x}", rand::thread_rng().gen::<u128>())
}
