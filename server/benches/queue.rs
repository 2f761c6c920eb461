//! The reviewer's pages under a long history, end to end over HTTP against
//! the running server: a queue page (50 rows, sorted by risk then age, each
//! filter, and a later page by cursor) and a request page (the request, its
//! evidence list and the agent's record for the capability).
//!
//! Two databases, same run: 10,000 pending requests among 1,000,000 actions
//! of history, and the same 10,000 pending among 10,000 of history. Keyset
//! pagination and partial indexes should make the first cost what the
//! second does.
//!
//! Run: `cargo bench -p belay --bench queue` (BELAY_BENCH_HISTORY sets the
//! large history, default 1,000,000; BELAY_BENCH_SAMPLES the requests timed
//! per page, default 400). Everything is on loopback and stops by itself.

use app::audit::Actor;
use app::auth::{users, Role};
use app::db::{new_id, now_ms, Db};
use app::policy::{RuleKey, Stage};
use belay::config::{Config, ServeArgs};
use belay::startup::Application;
use std::time::{Duration, Instant};

const PENDING: usize = 10_000;
const AGENTS: usize = 100;
const PASSWORD: &str = "correct horse battery staple";
/// Capabilities and what held them, as the queue would show.
const KINDS: [(&str, &str, &str, i64); 5] = [
    (
        "email.send",
        "external_send,customer_visible",
        "external_send,customer_visible",
        30,
    ),
    (
        "billing.refund",
        "purchase,customer_visible",
        "purchase,customer_visible",
        50,
    ),
    (
        "records.delete",
        "destructive,production_write",
        "destructive,production_write",
        60,
    ),
    (
        "crm.update_record",
        "production_write",
        "production_write,first_use",
        25,
    ),
    ("payments.wire", "", "unknown_capability", 100),
];

fn main() {
    let history: usize = env("BELAY_BENCH_HISTORY", 1_000_000);
    let samples: usize = env("BELAY_BENCH_SAMPLES", 400);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        println!("queue: {PENDING} pending; {samples} timed requests per page, sequential, after 50 warm-up\n");
        let small = measure(PENDING, samples).await;
        let large = measure(history, samples).await;
        println!("\n{:<34} {:>12} {:>12} {:>7}", "page (p99 ms)", format!("{}k hist", PENDING / 1000), format!("{}k hist", history / 1000), "ratio");
        for ((name, s), (_, l)) in small.iter().zip(&large) {
            println!("{name:<34} {:>12.2} {:>12.2} {:>6.2}×", s.p99, l.p99, l.p99 / s.p99);
        }
    });
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

struct Figures {
    p50: f64,
    p99: f64,
}

/// Fills a fresh database with `history` actions (10,000 of them pending),
/// starts Belay on it and times each page.
async fn measure(history: usize, samples: usize) -> Vec<(String, Figures)> {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        database_url: format!("sqlite://{}/bench.db", dir.path().display()),
        serve: ServeArgs {
            addr: "127.0.0.1:0".parse().unwrap(),
            site_root: dir.path().join("site").display().to_string(),
            ..ServeArgs::default()
        },
    };
    let app = Application::build(config).await.expect("server builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let db = app.state().db.clone();
    let started = Instant::now();
    let (agent, pending_id) = fill(&db, history).await;
    println!(
        "{history} actions ({PENDING} pending) written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let rpc = |endpoint: &str, form: Vec<(&'static str, String)>| {
        http.post(format!("{base}/rpc/{endpoint}"))
            .header("Origin", &base)
            .form(&form)
    };
    let login = rpc(
        "login",
        vec![
            ("username", "rita".into()),
            ("password", PASSWORD.into()),
            ("next", "".into()),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(login.status(), 200);
    let first: serde_json::Value = rpc("approvals/queue", vec![])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["waiting"], PENDING as i64, "{first}");
    let cursor = first["next"].as_str().unwrap().to_string();

    let pages: Vec<(&str, Vec<(&'static str, String)>)> = vec![
        ("queue: first page", vec![]),
        ("queue: page 2 (cursor)", vec![("after", cursor)]),
        ("queue: one agent", vec![("agent", agent)]),
        (
            "queue: one capability",
            vec![("capability", "billing.refund".into())],
        ),
        (
            "queue: held for destructive",
            vec![("held_for", "destructive".into())],
        ),
        ("queue: stage propose", vec![("stage", "propose".into())]),
        ("request page (get + record)", vec![("id", pending_id)]),
    ];
    let mut out = Vec::new();
    for (name, form) in pages {
        let endpoint = if name.starts_with("request") {
            "approvals/get"
        } else {
            "approvals/queue"
        };
        let mut times = Vec::with_capacity(samples);
        for i in 0..samples + 50 {
            let t = Instant::now();
            let res = rpc(endpoint, form.clone()).send().await.unwrap();
            assert_eq!(res.status(), 200, "{name}");
            let body = res.bytes().await.unwrap();
            assert!(body.len() > 100, "{name}");
            if i >= 50 {
                times.push(t.elapsed());
            }
        }
        let f = figures(&mut times);
        println!("{name:<34} p50 {:>6.2} ms   p99 {:>6.2} ms", f.p50, f.p99);
        out.push((name.to_string(), f));
    }
    out
}

fn figures(times: &mut [Duration]) -> Figures {
    times.sort();
    let at = |q: f64| {
        times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1000.0
    };
    Figures {
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// Writes a reviewer, 100 agents and `history` requests, the last 10,000 of
/// them pending (with evidence), in large multi-row inserts. Returns one
/// agent's id and one pending request's id.
async fn fill(db: &Db, history: usize) -> (String, String) {
    users::create(db, &Actor::System, "rita", Role::Reviewer, PASSWORD.into())
        .await
        .unwrap();
    let sponsor: String = {
        use sqlx::Row;
        sqlx::query("SELECT id FROM users WHERE username = 'rita'")
            .fetch_one(db)
            .await
            .unwrap()
            .get("id")
    };
    let mut agents = Vec::new();
    let mut tx = db.begin().await.unwrap();
    for i in 0..AGENTS {
        let id = new_id();
        let stage = [
            Stage::Propose,
            Stage::ActWithApproval,
            Stage::ScopedAutonomy,
        ][i % 3];
        sqlx::query("INSERT INTO agents (id, name, purpose, sponsor_id, status, stage, created_at) VALUES ($1, $2, 'bench', $3, 'active', $4, $5)")
            .bind(&id)
            .bind(format!("agent-{i:03}"))
            .bind(&sponsor)
            .bind(stage.as_str())
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .unwrap();
        agents.push((id, stage));
    }
    tx.commit().await.unwrap();

    let start = now_ms() - 90 * 24 * 3600 * 1000;
    let step = (90 * 24 * 3600 * 1000) / history.max(1) as i64;
    let mut pending_id = String::new();
    const ROWS: usize = 500;
    for chunk_start in (0..history).step_by(ROWS) {
        let n = ROWS.min(history - chunk_start);
        let mut sql = String::from(
            "INSERT INTO action_requests (id, agent_id, capability, capability_known, target, summary, params, \
             decision, reasons, triggers, stage, policy_version, state, payload_hash, created_at, expires_at, \
             updated_at, held_for, rules, approvals_required, risk, held_mask, decided_at) VALUES ",
        );
        let mut rows = Vec::with_capacity(n);
        for k in 0..n {
            let i = chunk_start + k;
            let pending = i >= history - PENDING;
            let (agent_id, stage) = &agents[i % AGENTS];
            // Each agent keeps to one capability: 10,000 requests per agent and
            // capability in the large history, the worst case for its record.
            let (cap, triggers, held, risk) = KINDS[(i * 7) % KINDS.len()];
            let state = if pending {
                "pending_approval"
            } else {
                ["approved", "rejected", "succeeded", "allowed", "expired"][i % 5]
            };
            let decision = if state == "allowed" {
                "allowed"
            } else {
                "pending_approval"
            };
            let id = new_id();
            if pending {
                pending_id = id.clone();
            }
            let created = start + i as i64 * step;
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('{id}', '{agent_id}', '{cap}', {known}, 'customer-{c}', 'bench action {i}', '{{\"amount\": {a}}}', \
                 '{decision}', '[\"paused: {held}\"]', '{triggers}', '{stage}', 1, '{state}', 'h{i}', {created}, {exp}, \
                 {created}, '{held}', '[]', 1, {risk}, {mask}, {decided})",
                known = i64::from(cap != "payments.wire"),
                c = i % 5000,
                a = i % 900,
                mask = RuleKey::mask(
                    &held.split(',').map(|k| RuleKey::parse(k).unwrap()).collect::<Vec<_>>()
                ),
                stage = stage.as_str(),
                exp = if pending { (now_ms() + 7 * 24 * 3600 * 1000).to_string() } else { "NULL".into() },
                decided = if pending { "NULL".to_string() } else { (created + 60_000).to_string() },
            ));
            rows.push((id, pending));
        }
        let mut tx = db.begin().await.unwrap();
        sqlx::query(&sql).execute(&mut *tx).await.unwrap();
        for (id, pending) in rows.iter().filter(|(_, p)| *p) {
            let _ = pending;
            sqlx::query("INSERT INTO evidence (id, action_id, kind, media_type, size_bytes, sha256, content, created_at) VALUES ($1, $2, 'plan', 'text/plain', 9, 'x', $3, 0)")
                .bind(new_id())
                .bind(id)
                .bind(b"1. do it\n".to_vec())
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    sqlx::query("ANALYZE").execute(db).await.unwrap();
    (agents[7].0.clone(), pending_id)
}
