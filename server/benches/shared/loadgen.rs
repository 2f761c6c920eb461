//! The load generator the HTTP benchmarks share, and Belay set up to be
//! driven by it: one agent at act_with_approval granted `docs.summarize`
//! (no risk triggers) past its first use, so every submission is decided
//! `allowed` and durably recorded before its 201. Every server measured is
//! a process of its own (`belay serve`, the control), as in production.

use app::audit::Actor;
use app::auth::{users, Role};
use app::policy::Stage;
use axum::http::StatusCode;
use belay::config::{Config, ServeArgs};
use belay::startup::Application;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Target {
    pub name: &'static str,
    pub url: String,
    pub key: Option<String>,
}

pub struct Outcome {
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
}

/// `conns` keep-alive clients submitting as fast as answered, for 2 s of
/// warm-up and then `measure`; client `c` talks to `targets[c % n]`.
pub async fn run(targets: &[&Target], conns: usize, measure: Duration) -> Outcome {
    let warmup = Duration::from_secs(2);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let measure_from = started + warmup;
    let mut tasks = Vec::new();
    for c in 0..conns {
        let target = targets[c % targets.len()];
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

/// The `belay` binary cargo built beside this benchmark (the bench profile).
pub const BELAY: &str = env!("CARGO_BIN_EXE_belay");

/// Prepares `database_url` (a fresh SQLite file or PostgreSQL database) for
/// the load: migrated, with the benchmark's agent; answers its key. Done in
/// this process, on a runtime of its own that ends here, so the servers
/// measured are separate processes with nothing of the benchmark in them.
pub fn prepare(dir: &std::path::Path, database_url: &str) -> String {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = Config {
            database_url: database_url.to_string(),
            serve: ServeArgs {
                addr: "127.0.0.1:0".parse().unwrap(),
                site_root: dir.join("site").display().to_string(),
                ..ServeArgs::default()
            },
        };
        let app = Application::build(config).await.expect("belay builds");
        bench_agent(app.state()).await
    })
}

/// A server measured: a child process, killed when this is dropped.
pub struct Process {
    child: std::process::Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `belay serve` (the binary at `bin`) on `database_url`, as an operator
/// would run it (default logging, or `RUST_LOG`'s, to a file in `dir` or in
/// `BELAY_BENCH_LOG`, which keeps it), every quota out of the load
/// generator's way; answers its submission URL.
pub fn spawn_belay(
    bin: &str,
    dir: &std::path::Path,
    database_url: &str,
    name: &str,
) -> (Process, String) {
    std::fs::create_dir_all(dir).unwrap();
    let logs = std::env::var("BELAY_BENCH_LOG").map_or(dir.to_path_buf(), Into::into);
    std::fs::create_dir_all(&logs).unwrap();
    let log = std::fs::File::create(logs.join(format!("{name}.log"))).unwrap();
    let mut command = std::process::Command::new(bin);
    command
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(["--submissions-per-minute", "4294967295"])
        .args(["--pending-per-agent", "1000000"])
        .arg("--site-root")
        .arg(dir.join("site"))
        .env("DATABASE_URL", database_url)
        .stderr(log);
    let (process, base) = spawn(command, "Belay is listening on ");
    (process, format!("{base}/api/v1/actions"))
}

/// Starts `command`, and reads its stdout until a line starting with
/// `prefix`; answers the rest of that line.
pub fn spawn(mut command: std::process::Command, prefix: &'static str) -> (Process, String) {
    use std::io::BufRead;
    let mut child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads until the address, then drains the pipe until the process ends.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix(prefix) {
                let _ = tx.send(rest.trim().to_string());
            }
        }
    });
    let process = Process { child };
    let found = rx
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("no `{prefix}` from the server within 120 s"));
    (process, found)
}

/// Registers the agent (its grant approved by a second lead, as in
/// production) and returns its key.
async fn bench_agent(state: &app::state::AppState) -> String {
    let db = &state.db;
    let password = || "bench password 123".to_string();
    users::create(db, &Actor::System, "lead", Role::Lead, password())
        .await
        .unwrap();
    let lead = users::find_by_username(db, "lead").await.unwrap().unwrap();
    let (agent, key) = app::agents::store::create_with_key(
        db,
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
    let saved = app::scope::store::save(db, &lead, &agent.id, &form, "the benchmark")
        .await
        .unwrap();
    if let Some(p) = saved.proposed() {
        users::create(db, &Actor::System, "second", Role::Lead, password())
            .await
            .unwrap();
        let second = users::find_by_username(db, "second")
            .await
            .unwrap()
            .unwrap();
        let ballot = app::governance::decide::Ballot::Approve {
            reason: "benchmark".into(),
            override_reason: None,
        };
        app::governance::decide::vote(state, &second, &p.change_id, ballot)
            .await
            .unwrap();
    }
    let mut tx = db.begin().await.unwrap();
    app::policy::facts::record_use(&mut tx, &agent.id, "docs.summarize", 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    key.secret
}
