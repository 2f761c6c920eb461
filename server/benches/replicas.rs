//! Belay on PostgreSQL, as one replica and as two, against `pgbench` on the
//! same database in the same run: durable auto-allowed decisions per second
//! (each decided, its request row, audit row and rollups committed before
//! the 201) at 16 and 64 connections, beside pgbench's own rate for the
//! simplest durable write there is — one row INSERTed per transaction, no
//! HTTP, no JSON — with as many clients. Goal: Belay ≥ 0.6× pgbench.
//! Beside them, over HTTP with the same load generator: a naive server
//! that INSERTs one row per request, and a no-op that records nothing
//! (`shared/control.rs`), which bounds what any HTTP server reaches here.
//!
//! Run: `cargo bench -p belay --bench replicas`. `BELAY_BENCH_SECS` sets the
//! measuring time per point (default 10), `BELAY_BENCH_POSTGRES` the server
//! (default postgres://postgres@127.0.0.1:5432), `BELAY_BIN` another
//! `belay` to measure (an older build, for a before/after), `PGBENCH` the pgbench
//! binary (else found on PATH or under /usr/lib/postgresql). A fresh
//! database is made for the run and dropped at its end; the run stops by
//! itself. Each replica is a `belay serve` process of its own (the binary
//! cargo built beside this benchmark, default logging to a file); the load
//! generator splits its clients between them.

// Shared with `load.rs`, which reads every field.
#[allow(dead_code)]
#[path = "shared/loadgen.rs"]
mod loadgen;

#[path = "shared/control.rs"]
mod control;

use loadgen::{prepare, run, spawn_belay, Target, BELAY};
use sqlx::{Connection, PgConnection};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// pgbench's transaction: the row Belay's control in `load.rs` writes.
const SCRIPT: &str = "\\set n random(1, 1000000000)\n\
INSERT INTO bench_decisions (id, capability, target, summary, params, decision, created_at) \
VALUES (gen_random_uuid()::text, 'docs.summarize', 'doc-' || :n, \
'Summarize the quarterly report for the finance team', '{\"pages\":12,\"language\":\"en\"}', \
'allowed', (extract(epoch from clock_timestamp()) * 1000)::bigint);\n";

fn main() {
    if control::serve_if_control() {
        return;
    }
    let secs: u64 = std::env::var("BELAY_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let server = std::env::var("BELAY_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let pgbench =
        find_pgbench().expect("pgbench not found: install postgresql-client or set PGBENCH");
    let name = format!("belay_bench_{:016x}", rand::random::<u64>());
    let url = format!("{server}/{name}");
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("insert.sql");
    std::fs::write(&script, SCRIPT).unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("loadgen")
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        admin(&server, &format!("CREATE DATABASE {name}")).await;
        let mut conn = PgConnection::connect(&url).await.unwrap();
        sqlx::query(control::TABLE)
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let key = prepare(&dir.path().join("a"), &url);
    // Another build (an older one, for a before/after) may be measured.
    let bin = std::env::var("BELAY_BIN").unwrap_or_else(|_| BELAY.to_string());
    let (replica_a, a_url) = spawn_belay(&bin, &dir.path().join("a"), &url, "belay-a");
    let (replica_b, b_url) = spawn_belay(&bin, &dir.path().join("b"), &url, "belay-b");
    let a = Target {
        name: "belay-a",
        url: a_url,
        key: Some(key.clone()),
    };
    let b = Target {
        name: "belay-b",
        url: b_url,
        key: Some(key),
    };

    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("replicas: {secs} s per point; Belay after 2 s warm-up, one keep-alive connection per client");
    println!("load average at the start: {}\n", loadavg.trim());
    println!(
        "{:<16} {:>5} {:>10} {:>9} {:>9} {:>7}",
        "target", "conns", "per s", "p50 ms", "p99 ms", "errors"
    );
    // pgbench first: it needs a connection per client, and Belay's pools
    // keep theirs open once used (PostgreSQL allows 100 here).
    let mut pg = Vec::new();
    for conns in [16, 64] {
        let (tps, latency_ms) = run_pgbench(&pgbench, &url, &script, conns, secs);
        println!(
            "{:<16} {conns:>5} {tps:>10.0} {latency_ms:>9.2} {:>9} {:>7}",
            "pgbench insert", "-", "-"
        );
        pg.push(tps);
    }
    // The naive HTTP server (one INSERT per request, a pool of 64) and the
    // no-op, then stopped: their connections are given back for Belay's.
    let mut rows = Vec::new();
    let (controls, base) = control::spawn_control(&url);
    let http = |name, path| Target {
        name,
        url: format!("{base}{path}"),
        key: None,
    };
    let (insert, noop) = (http("control", "/control"), http("no-op", "/noop"));
    rt.block_on(async {
        for (label, target) in [("http control", &insert), ("http no-op", &noop)] {
            for conns in [16, 64] {
                let r = run(&[target], conns, Duration::from_secs(secs)).await;
                println!(
                    "{label:<16} {conns:>5} {:>10.0} {:>9.2} {:>9.2} {:>7}",
                    r.rate, r.p50_ms, r.p99_ms, r.errors
                );
                rows.push((label, conns, r.rate));
            }
        }
    });
    drop(controls);
    rt.block_on(async {
        for (label, targets) in [
            ("belay, 1 replica", vec![&a]),
            ("belay, 2 replicas", vec![&a, &b]),
        ] {
            for conns in [16, 64] {
                let r = run(&targets, conns, Duration::from_secs(secs)).await;
                println!(
                    "{label:<16} {conns:>5} {:>10.0} {:>9.2} {:>9.2} {:>7}",
                    r.rate, r.p50_ms, r.p99_ms, r.errors
                );
                rows.push((label, conns, r.rate));
            }
        }
    });
    println!("\n(pgbench's latency column is its average, not p50)");
    for (label, conns, rate) in &rows {
        let base = if *conns == 16 { pg[0] } else { pg[1] };
        let goal = if label.starts_with("belay") {
            " (goal ≥ 0.6×)"
        } else {
            ""
        };
        println!(
            "{label} / pgbench insert at {conns} connections: {:.2}×{goal}",
            rate / base
        );
    }
    drop((replica_a, replica_b));
    rt.block_on(admin(
        &server,
        &format!(
            "DROP DATABASE {} WITH (FORCE)",
            url.rsplit('/').next().unwrap()
        ),
    ));
    drop(dir);
}

async fn admin(server: &str, sql: &str) {
    let mut conn = PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("BELAY_BENCH_POSTGRES is reachable");
    sqlx::query(sql).execute(&mut conn).await.unwrap();
}

fn find_pgbench() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PGBENCH") {
        return Some(p.into());
    }
    let on_path = std::env::var("PATH").ok().and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("pgbench"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| Some(e.ok()?.path().join("bin/pgbench")))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    })
}

/// pgbench's transactions per second and average latency (ms).
fn run_pgbench(
    pgbench: &PathBuf,
    url: &str,
    script: &std::path::Path,
    conns: usize,
    secs: u64,
) -> (f64, f64) {
    let out = Command::new(pgbench)
        .args(["-n", "-M", "prepared", "-j", "2"])
        .args(["-c", &conns.to_string(), "-T", &secs.to_string()])
        .arg("-f")
        .arg(script)
        .arg(url)
        .output()
        .expect("pgbench runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pgbench failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no `{prefix}` in pgbench's output: {text}"))
    };
    (field("tps = "), field("latency average = "))
}
