//! The controls the HTTP benchmarks measure Belay against, in a process of
//! their own on loopback, driven by the same load generator:
//!
//! - `/control`: parse the JSON, insert one row, commit (durable: on SQLite
//!   WAL with `synchronous=FULL`, on PostgreSQL its default
//!   `synchronous_commit=on`), answer 201. The naive server Belay's group
//!   commit is compared with.
//! - `/noop`: parse the JSON and answer 201, touching no disk. What HTTP,
//!   JSON and this load generator cost on this machine by themselves: no
//!   server that records anything can answer faster, so it bounds what any
//!   ratio against the others can reach here.
//!
//! The process is the benchmark's own executable started again with
//! `BELAY_BENCH_CONTROL` set to the database's URL.

use crate::loadgen::{spawn, Process};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

/// Set in the control's process: the URL of its database.
const CONTROL: &str = "BELAY_BENCH_CONTROL";

/// The row the control writes per request (pgbench's script writes it too).
pub const TABLE: &str = "CREATE TABLE IF NOT EXISTS bench_decisions (id TEXT PRIMARY KEY, \
    capability TEXT NOT NULL, target TEXT NOT NULL, summary TEXT NOT NULL, params TEXT NOT NULL, \
    decision TEXT NOT NULL, created_at BIGINT NOT NULL)";

const INSERT: &str = "INSERT INTO bench_decisions (id, capability, target, summary, params, \
    decision, created_at) VALUES ($1, $2, $3, $4, $5, 'allowed', $6)";

/// Starts the controls' process on `database_url`; answers its base URL
/// (`/control` and `/noop` are under it).
pub fn spawn_control(database_url: &str) -> (Process, String) {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command.env(CONTROL, database_url);
    spawn(command, "control listening on ")
}

/// In the controls' process (`BELAY_BENCH_CONTROL` set), serves until
/// killed and answers true; otherwise answers false at once.
pub fn serve_if_control() -> bool {
    let Ok(url) = std::env::var(CONTROL) else {
        return false;
    };
    // A runtime like `belay serve`'s.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = Pool::connect(&url).await;
        let router = Router::new()
            .route("/control", post(insert))
            .route("/noop", post(noop))
            .with_state(pool);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!(
            "control listening on http://{}",
            listener.local_addr().unwrap()
        );
        axum::serve(listener, router).await.unwrap();
    });
    true
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    async fn connect(url: &str) -> Pool {
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .unwrap()
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new().max_connections(8);
            Pool::Sqlite(pool.connect_with(options).await.unwrap())
        } else {
            // One connection per client at the most loaded point, so the
            // control never waits for the pool (PostgreSQL allows 100).
            let pool = PgPoolOptions::new().max_connections(64);
            Pool::Postgres(pool.connect(url).await.unwrap())
        };
        match &pool {
            Pool::Sqlite(p) => sqlx::query(TABLE).execute(p).await.map(drop),
            Pool::Postgres(p) => sqlx::query(TABLE).execute(p).await.map(drop),
        }
        .unwrap();
        pool
    }
}

/// The control: parse the JSON, insert one row, commit, answer 201.
async fn insert(State(pool): State<Pool>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let id = uuid_v4();
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    macro_rules! run {
        ($pool:expr) => {
            sqlx::query(INSERT)
                .bind(&id)
                .bind(text("capability"))
                .bind(text("target"))
                .bind(text("summary"))
                .bind(body["params"].to_string())
                .bind(app::db::now_ms())
                .execute($pool)
                .await
                .map(drop)
        };
    }
    let res = match &pool {
        Pool::Sqlite(p) => run!(p),
        Pool::Postgres(p) => run!(p),
    };
    match res {
        Ok(()) => (StatusCode::CREATED, Json(json!({"id": id, "ok": true}))),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"ok": false})),
        ),
    }
}

/// The ceiling: the same request parsed and answered, nothing recorded.
async fn noop(Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let ok = body["capability"].is_string();
    (
        StatusCode::CREATED,
        Json(json!({"id": uuid_v4(), "ok": ok})),
    )
}

fn uuid_v4() -> String {
    use rand::Rng;
    format!("{:032x}", rand::thread_rng().gen::<u128>())
}
