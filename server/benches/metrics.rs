//! Metrics and readiness for one agent over a long history: from the
//! rollups the write path keeps, against the same figures counted by a
//! GROUP BY over the raw requests, in the same run and on the same rows.
//!
//! Run: `cargo bench -p belay --bench metrics` (BELAY_BENCH_HISTORY sets the
//! agent's history, default 1,000,000 requests over 365 days;
//! BELAY_BENCH_SAMPLES the rollup reads timed, default 500). SQLite, the
//! embedded default, in a temp folder; stops by itself.

use app::db::{new_id, now_ms, Db};
use app::policy::Stage;
use app::trust::model::evaluate;
use app::trust::{daily, metrics, rollup, settings};
use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;
const CAPABILITIES: [&str; 10] = [
    "docs.summarize",
    "tickets.comment",
    "crm.read_record",
    "crm.update_record",
    "email.send",
    "billing.refund",
    "billing.change_plan",
    "records.delete",
    "access.grant",
    "deploy.release",
];

fn main() {
    let history: usize = env("BELAY_BENCH_HISTORY", 1_000_000);
    let samples: usize = env("BELAY_BENCH_SAMPLES", 500);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let db =
            belay::startup::open_database(&format!("sqlite://{}/bench.db", dir.path().display()))
                .await
                .expect("database opens");
        let started = Instant::now();
        let agent = fill(&db, history).await;
        println!(
            "{history} requests for one agent over 365 days written in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        backfill(&db, &agent).await;
        println!(
            "rollups built from them in {:.1} s\n",
            started.elapsed().as_secs_f64()
        );

        let now = now_ms();
        let today = now.div_euclid(DAY_MS);
        let criteria = settings::criteria_for(&db, Stage::ScopedAutonomy)
            .await
            .unwrap();
        // Both paths must agree before either is timed.
        let rolled = metrics::for_agent(&db, &agent, now).await.unwrap();
        let (rows, people) = daily::raw(&db, &agent, today, 91).await.unwrap();
        let raw = daily::fold(&rows, &people, today);
        assert_eq!(rolled.windows, raw.windows, "rollups and raw counts differ");
        assert_eq!(rolled.capabilities, raw.capabilities);
        println!(
            "90-day window: {} requests, {} human decisions, {} reviewers",
            rolled.windows[2].submitted,
            rolled.windows[2].decided(),
            rolled.windows[2].reviewers
        );

        let mut fast = Vec::new();
        for i in 0..samples + 50 {
            let t = Instant::now();
            let m = metrics::for_agent(&db, &agent, now).await.unwrap();
            let checks = evaluate(&criteria, &m.windows[1], m.days_at_stage);
            assert_eq!(checks.len(), 6);
            if i >= 50 {
                fast.push(t.elapsed());
            }
        }
        let raw_samples = (samples / 40).max(10);
        let mut slow = Vec::new();
        for i in 0..raw_samples + 2 {
            let t = Instant::now();
            let (rows, people) = daily::raw(&db, &agent, today, 91).await.unwrap();
            let m = daily::fold(&rows, &people, today);
            let days = app::trust::history::days_at_stage(&db, &agent, None, now)
                .await
                .unwrap();
            let checks = evaluate(&criteria, &m.windows[1], days);
            assert_eq!(checks.len(), 6);
            if i >= 2 {
                slow.push(t.elapsed());
            }
        }
        let (f50, f99) = figures(&mut fast);
        let (s50, s99) = figures(&mut slow);
        println!(
            "\n{:<42} {:>9} {:>9} {:>8}",
            "metrics + readiness, one agent", "p50 ms", "p99 ms", "samples"
        );
        println!(
            "{:<42} {:>9.2} {:>9.2} {:>8}",
            "from rollups",
            f50,
            f99,
            fast.len()
        );
        println!(
            "{:<42} {:>9.2} {:>9.2} {:>8}",
            "raw GROUP BY over the requests",
            s50,
            s99,
            slow.len()
        );
        println!("\nrollups / raw at p99: 1/{:.0}", s99 / f99);
    });
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn figures(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let at = |q: f64| {
        times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1000.0
    };
    (at(0.50), at(0.99))
}

/// Three reviewers, one agent at act_with_approval since a year ago, and
/// `history` requests spread over 365 days: mostly allowed outright, a
/// quarter approved (some with edits), some rejected and expired, a few
/// failed with incidents.
async fn fill(db: &Db, history: usize) -> String {
    use sqlx::Row;
    let mut reviewers = Vec::new();
    for name in ["rita", "ravi", "rosa"] {
        app::auth::users::create(
            db,
            &app::audit::Actor::System,
            name,
            app::auth::Role::Reviewer,
            "correct horse battery staple".into(),
        )
        .await
        .unwrap();
        let id: String = sqlx::query("SELECT id FROM users WHERE username = $1")
            .bind(name)
            .fetch_one(db)
            .await
            .unwrap()
            .get("id");
        reviewers.push(id);
    }
    let agent = new_id();
    let start = now_ms() - 365 * DAY_MS;
    sqlx::query("INSERT INTO agents (id, name, purpose, sponsor_id, status, stage, created_at) VALUES ($1, 'bench-agent', 'bench', $2, 'active', 'act_with_approval', $3)")
        .bind(&agent)
        .bind(&reviewers[0])
        .bind(start)
        .execute(db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO stage_changes (id, agent_id, kind, to_stage, reason, at) VALUES ($1, $2, 'registered', 'act_with_approval', 'bench', $3)")
        .bind(new_id())
        .bind(&agent)
        .bind(start)
        .execute(db)
        .await
        .unwrap();
    let step = 365 * DAY_MS / history.max(1) as i64;
    const ROWS: usize = 500;
    for chunk in (0..history).step_by(ROWS) {
        let n = ROWS.min(history - chunk);
        let mut sql = String::from(
            "INSERT INTO action_requests (id, agent_id, capability, capability_known, target, summary, params, \
             decision, reasons, triggers, stage, policy_version, state, payload_hash, created_at, updated_at, \
             decided_at, decided_by, correction, incident) VALUES ",
        );
        let mut approvals = Vec::new();
        for k in 0..n {
            let i = chunk + k;
            let id = new_id();
            let created = start + i as i64 * step;
            let cap = CAPABILITIES[i % CAPABILITIES.len()];
            let reviewer = &reviewers[(i / 7) % reviewers.len()];
            let (decision, state, decided_by, correction, incident) = match i % 20 {
                0..=10 => ("allowed", "succeeded", None, false, false),
                11 => (
                    "allowed",
                    if i % 997 == 11 { "failed" } else { "allowed" },
                    None,
                    false,
                    i % 997 == 11,
                ),
                12..=16 => (
                    "pending_approval",
                    "succeeded",
                    Some(reviewer),
                    i % 40 == 13,
                    false,
                ),
                17 => ("pending_approval", "rejected", Some(reviewer), false, false),
                18 => ("pending_approval", "expired", None, false, false),
                _ => ("drafted", "drafted", None, false, false),
            };
            if decided_by.is_some() && state != "rejected" {
                approvals.push((id.clone(), reviewer.clone(), created + 240_000));
            }
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('{id}', '{agent}', '{cap}', 1, 'customer-{c}', 'bench action {i}', '{{}}', '{decision}', '[]', '', \
                 'act_with_approval', 1, '{state}', 'h{i}', {created}, {created}, {decided}, {by}, {corr}, {inc})",
                c = i % 5000,
                decided = if decision == "pending_approval" { (created + (i as i64 % 9) * 120_000).to_string() } else { "NULL".into() },
                by = decided_by.map_or("NULL".to_string(), |r| format!("'{r}'")),
                corr = if correction { "'{}'" } else { "NULL" },
                inc = i64::from(incident),
            ));
        }
        let mut tx = db.begin().await.unwrap();
        sqlx::query(&sql).execute(&mut *tx).await.unwrap();
        if !approvals.is_empty() {
            let mut sql = String::from(
                "INSERT INTO approvals (action_id, user_id, payload_hash, at) VALUES ",
            );
            for (k, (id, user, at)) in approvals.iter().enumerate() {
                if k > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("('{id}', '{user}', 'h', {at})"));
            }
            sqlx::query(&sql).execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    sqlx::query("ANALYZE").execute(db).await.unwrap();
    agent
}

/// The rollups the write path would have kept, built from the requests.
async fn backfill(db: &Db, agent: &str) {
    let today = now_ms().div_euclid(DAY_MS);
    let (rows, people) = daily::raw(db, agent, today, 400).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    rollup::add_many(
        &mut tx,
        rows.into_iter()
            .map(|r| (agent.to_string(), r.capability, r.day * DAY_MS, r.counts)),
    )
    .await
    .unwrap();
    for p in people {
        rollup::add_reviewer(&mut tx, agent, &p.capability, p.day * DAY_MS, &p.user_id)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}
