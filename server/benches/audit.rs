//! Verifying the audit trail: events per second walked, hashed and linked
//! by `belay audit verify`, against reading the same rows without checking
//! them (the floor), in the same run and on the same rows.
//!
//! Run: `cargo bench -p belay --bench audit` (BELAY_BENCH_EVENTS sets the
//! trail's length, default 200,000; BELAY_BENCH_RUNS the timed walks,
//! default 5). SQLite, the embedded default, in a temp folder; stops by
//! itself.

use app::audit::{chain, verify, Actor, Event};
use std::time::Instant;

fn main() {
    let events: usize = env("BELAY_BENCH_EVENTS", 200_000);
    let runs: usize = env("BELAY_BENCH_RUNS", 5);
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
        fill(&db, events).await;
        let (n, _) = chain::head(&db).await.unwrap();
        println!(
            "{n} audit events written through the write path in {:.1} s\n",
            started.elapsed().as_secs_f64()
        );

        let mut verify_rates = Vec::new();
        let mut read_rates = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let checked = verify::database(&db, None).await.unwrap().expect("intact");
            verify_rates.push(checked as f64 / t.elapsed().as_secs_f64());
            let t = Instant::now();
            let read = read_only(&db).await;
            read_rates.push(read as f64 / t.elapsed().as_secs_f64());
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (verified, read) = (median(&mut verify_rates), median(&mut read_rates));
        println!("verify (read, hash, link, head):       {verified:>10.0} events/s (median of {runs}; goal 100,000)");
        println!("the same rows read page after page,");
        println!("  no checks, nothing overlapped:         {read:>10.0} events/s");
        println!(
            "verify / plain read: {:.2} (verify reads the next page while it checks this one)",
            verified / read
        );
    });
}

/// Events the way the application writes them: batches through `record_many`.
async fn fill(db: &app::db::Db, events: usize) {
    let actor = Actor::User("bench-user".into());
    let mut left = events;
    while left > 0 {
        let batch = left.min(1_000);
        let mut tx = db.begin().await.unwrap();
        let ids: Vec<String> = (0..batch).map(|_| app::db::new_id()).collect();
        let list = ids
            .iter()
            .map(|id| Event {
                actor: &actor,
                what: "action.approved",
                subject_kind: "action",
                subject_id: id,
                detail: serde_json::json!({
                    "before": { "state": "pending_approval" },
                    "after": { "state": "approved", "note": null, "approvals": 1, "approvals_required": 1 },
                }),
            })
            .collect();
        app::audit::record_many(&mut tx, list).await.unwrap();
        tx.commit().await.unwrap();
        left -= batch;
    }
}

/// The floor: the same pages of rows, decoded, with no hashing.
async fn read_only(db: &app::db::Db) -> u64 {
    let mut from = 1;
    let mut read = 0;
    loop {
        let page = chain::page(db, from, i64::MAX, 10_000).await.unwrap();
        read += page.len() as u64;
        match page.last() {
            Some(last) if page.len() == 10_000 => from = last.n + 1,
            _ => return read,
        }
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
