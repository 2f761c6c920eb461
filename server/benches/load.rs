//! Load against the running server: `POST /api/v1/actions` for an
//! auto-allowed action (decision, request row, audit row and rollups
//! durably committed before the 201), against a control measured in the
//! same run: a minimal axum handler that commits one equivalent SQLite row
//! per request with the same durability settings (WAL, synchronous=FULL),
//! and a no-op that parses the request and answers without recording it:
//! what HTTP, JSON and the load generator alone reach on this machine
//! (`shared/control.rs`). At 1, 16 and 64 connections: one agent calling one at a time (its p50
//! beside the control's is what the group-commit writer costs when it has
//! one submission), and two loads.
//!
//! Run: `cargo bench -p belay --bench load` (BELAY_BENCH_SECS sets the
//! measuring time per point, default 10). Each server is a process of its
//! own on loopback: the `belay serve` cargo built beside this benchmark
//! (default logging, to a file), and the controls, which are this program
//! started again with `BELAY_BENCH_CONTROL` set. `BELAY_BIN_BEFORE=<an
//! older belay>` adds that binary, on a database of its own, to the same
//! run (the database is made by this build, so with this build's page
//! size). `BELAY_BENCH_PAGE_SIZES=4096,1024` runs this build once per
//! SQLite page size instead, each on a database made with it. The load
//! generator (`shared/loadgen.rs`, also driving the `replicas` benchmark)
//! keeps one keep-alive connection per simulated client and stops by
//! itself.

#[path = "shared/loadgen.rs"]
mod loadgen;

#[path = "shared/control.rs"]
mod control;

use loadgen::{prepare, run, spawn_belay, Target, BELAY};
use std::time::Duration;

fn main() {
    if control::serve_if_control() {
        return;
    }
    let secs: u64 = std::env::var("BELAY_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut servers = Vec::new();
    let mut targets = Vec::new();

    let (process, url) =
        control::spawn_control(&format!("sqlite://{}/control.db", dir.path().display()));
    servers.push(process);
    for (name, path) in [("control", "/control"), ("no-op", "/noop")] {
        targets.push(Target {
            name,
            url: format!("{url}{path}"),
            key: None,
        });
    }
    // (name, binary, page size its database is made with: None leaves it
    // to the binary that prepares it, i.e. this build's default).
    let mut belays: Vec<(&'static str, String, Option<u32>)> = match page_sizes() {
        None => vec![("belay", BELAY.to_string(), None)],
        Some(sizes) => sizes
            .into_iter()
            .map(|size| {
                let name = match size % 1024 {
                    0 => format!("belay-{}k", size / 1024),
                    _ => format!("belay-{size}"),
                };
                let name: &'static str = name.leak();
                (name, BELAY.to_string(), Some(size))
            })
            .collect(),
    };
    if let Ok(before) = std::env::var("BELAY_BIN_BEFORE") {
        belays.push(("before", before, None));
    }
    for (name, bin, page_size) in belays {
        let url = format!("sqlite://{}/{name}.db", dir.path().display());
        if let Some(size) = page_size {
            create_with_page_size(&url, size);
        }
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
            "{:<9} {:>5} {:>10} {:>9} {:>9} {:>9}",
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
                    "{:<9} {:>5} {:>10.0} {:>9.2} {:>9.2} {:>9}",
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
        let names: Vec<&str> = targets
            .iter()
            .map(|t| t.name)
            .filter(|n| !["control", "no-op"].contains(n))
            .collect();
        for name in names {
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
        // What no server that records anything can pass on this machine.
        for conns in [16, 64] {
            println!(
                "no-op (HTTP and JSON alone) / control throughput at {conns} connections: {:.2}×",
                get("no-op", conns).unwrap().rate / get("control", conns).unwrap().rate
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

/// `BELAY_BENCH_PAGE_SIZES` (e.g. `4096,1024`): one Belay per page size, same
/// binary, same run, each on a database made with that page size before
/// Belay first opens it (SQLite keeps a file's page size for good).
fn page_sizes() -> Option<Vec<u32>> {
    let text = std::env::var("BELAY_BENCH_PAGE_SIZES").ok()?;
    let sizes = text
        .split(',')
        .map(|s| match s.trim().parse::<u32>() {
            Ok(n) if n.is_power_of_two() && (512..=65536).contains(&n) => n,
            _ => panic!(
                "BELAY_BENCH_PAGE_SIZES: {s:?} is not a page size (512 to 65536, a power of two)"
            ),
        })
        .collect();
    Some(sizes)
}

/// An empty SQLite database at `url` whose pages are `size` bytes, in WAL
/// mode, written to disk so the size holds.
fn create_with_page_size(url: &str, size: u32) {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
    use sqlx::{ConnectOptions, Connection, Executor};
    use std::str::FromStr;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut conn = SqliteConnectOptions::from_str(url)
            .unwrap()
            .create_if_missing(true)
            .page_size(size)
            .journal_mode(SqliteJournalMode::Wal)
            .connect()
            .await
            .unwrap();
        conn.execute("CREATE TABLE bench_page_size (x); DROP TABLE bench_page_size")
            .await
            .unwrap();
        let (got,): (i64,) = sqlx::query_as("PRAGMA page_size")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(got, i64::from(size), "the database kept another page size");
        conn.close().await.unwrap();
    });
}
