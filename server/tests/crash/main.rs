//! The crash test: "what the API acknowledged survives a crash", checked
//! against the real `belay serve` (the debug binary `cargo test` builds).
//! Agents submit at full speed, each submission with its own
//! `Idempotency-Key`; the server is killed with SIGKILL at a random moment,
//! restarted, and killed again, six times. After each restart the agents
//! retry what was in flight (same key, same body) and a sample of what was
//! acknowledged before the kill, which must come back as the original
//! request. At the end every 201 must be in the database with the decision
//! it was answered with and its audit row, no request may be there that
//! nobody was answered about, and the audit chain must verify.
//!
//! A program rather than a libtest test (harness = false): it stops by
//! itself (well within a minute per backend), prints its figures and exits non-zero on any
//! loss. On SQLite by default; on PostgreSQL when `BELAY_TEST_POSTGRES`
//! names a server (as the HTTP suite). `make crash` runs both.

mod check;
mod drive;
mod server;

use drive::{Ack, Answer, Sub};
use rand::Rng;
use server::{Agent, Database, Server};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

const KILLS: usize = 6;
const WORKERS: usize = 24;
/// The whole run, setup to verdict, per backend: typically 15 s on SQLite
/// and 30 s on PostgreSQL on a busy 2-core machine; past this it fails
/// (something hangs), rather than stall the test run.
const BUDGET: Duration = Duration::from_secs(90);
/// After a restart, the last requests acknowledged before the kill are
/// retried, and this many more from all earlier ones.
const LAST_BEFORE_KILL: usize = 40;
const EARLIER_SAMPLE: usize = 60;

#[derive(Default)]
struct Tally {
    kills: usize,
    acked_per_round: Vec<usize>,
    in_flight_replayed: usize,
    in_flight_new: usize,
    retries_checked: usize,
    failures: Vec<String>,
}

fn main() {
    let postgres = std::env::var("BELAY_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ok = rt.block_on(run(postgres.as_deref()));
    if !ok {
        std::process::exit(1);
    }
}

async fn run(postgres: Option<&str>) -> bool {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::fresh(dir.path(), postgres).await;
    let url = db.url.clone();
    let agents = {
        let url = url.clone();
        Arc::new(blocking(move || server::agents(&url)).await)
    };
    let seq = Arc::new(AtomicU64::new(0));
    let http = drive::client();
    let mut acked: Vec<Ack> = Vec::new();
    let mut in_flight: Vec<Sub> = Vec::new();
    let mut t = Tally::default();
    for round in 0..=KILLS {
        let (u, d) = (url.clone(), dir.path().to_path_buf());
        let server = blocking(move || Server::start(&u, &d, round)).await;
        // What the agents do after a crash: retry what got no answer...
        for sub in std::mem::take(&mut in_flight) {
            match drive::send(&http, &server.base, &agents, &sub).await {
                Answer::Created {
                    id,
                    decision,
                    replayed,
                } => {
                    if replayed {
                        t.in_flight_replayed += 1;
                    } else {
                        t.in_flight_new += 1;
                    }
                    acked.push(Ack { sub, id, decision });
                }
                Answer::Other(what) | Answer::Lost(what) => t.failures.push(format!(
                    "retry of in-flight {} after a restart: {what}",
                    sub.key
                )),
            }
        }
        // ...and, to be sure, some of what was acknowledged before.
        recheck(&http, &server.base, &agents, &acked, &mut t).await;
        if round == KILLS {
            blocking(move || server.kill()).await;
            break;
        }
        let load = tokio::spawn(drive::full_speed(
            server.base.clone(),
            agents.clone(),
            WORKERS,
            seq.clone(),
        ));
        let window = Duration::from_millis(rand::thread_rng().gen_range(300..2500));
        tokio::time::sleep(window).await;
        blocking(move || server.kill()).await;
        t.kills += 1;
        let phase = load.await.expect("the load ran");
        t.acked_per_round.push(phase.acked.len());
        acked.extend(phase.acked);
        in_flight.extend(phase.unanswered);
        t.failures.extend(
            phase
                .unexpected
                .into_iter()
                .map(|u| format!("answer under load: {u}")),
        );
    }
    let found = check::database(&url, &acked).await;
    let backend = db.backend;
    db.drop_it().await;
    report(backend, &acked, &t, &found, started.elapsed())
}

/// Retries acknowledged submissions with their keys: each must answer 201
/// with the same request and decision, marked as a replay.
async fn recheck(
    http: &reqwest::Client,
    base: &str,
    agents: &[Agent],
    acked: &[Ack],
    t: &mut Tally,
) {
    let mut picks: Vec<&Ack> = acked.iter().rev().take(LAST_BEFORE_KILL).collect();
    if !acked.is_empty() {
        let mut rng = rand::thread_rng();
        picks.extend((0..EARLIER_SAMPLE).map(|_| &acked[rng.gen_range(0..acked.len())]));
    }
    for a in picks {
        t.retries_checked += 1;
        match drive::send(http, base, agents, &a.sub).await {
            Answer::Created {
                id,
                decision,
                replayed: true,
            } if id == a.id && decision == a.decision => {}
            Answer::Created {
                id,
                decision,
                replayed,
            } => t.failures.push(format!(
                "retry of {} answered {id} ({decision}, replayed: {replayed}), not the original {} ({})",
                a.sub.key, a.id, a.decision
            )),
            Answer::Other(what) | Answer::Lost(what) => t
                .failures
                .push(format!("retry of {}: {what}", a.sub.key)),
        }
    }
}

fn report(backend: &str, acked: &[Ack], t: &Tally, found: &check::Found, took: Duration) -> bool {
    let mut failures = t.failures.clone();
    let mut list = |what: &str, items: &[String]| {
        if !items.is_empty() {
            failures.push(format!(
                "{} {what}, e.g. {}",
                items.len(),
                items[..items.len().min(5)].join("; ")
            ));
        }
    };
    list("acknowledged requests lost", &found.lost);
    list(
        "stored with another decision than answered",
        &found.wrong_decision,
    );
    list("without their audit row", &found.without_audit);
    let distinct: std::collections::HashSet<&str> = acked.iter().map(|a| a.id.as_str()).collect();
    if distinct.len() != acked.len() || found.rows != acked.len() {
        failures.push(format!(
            "{} answers name {} distinct requests, and the database holds {}: some submission was recorded twice or never answered",
            acked.len(),
            distinct.len(),
            found.rows
        ));
    }
    if !found.chain_ok {
        failures.push(format!("belay audit verify: {}", found.chain));
    }
    if t.kills < 5 {
        failures.push(format!("only {} kills", t.kills));
    }
    if took > BUDGET {
        failures.push(format!("took {took:.1?}, over the {BUDGET:?} budget"));
    }
    println!("crash test on {backend}: {took:.1?}");
    println!("  kills (SIGKILL under load):       {}", t.kills);
    println!(
        "  acknowledged (201), per round:     {} {:?}",
        acked.len(),
        t.acked_per_round
    );
    println!("  lost:                              {}", found.lost.len());
    println!(
        "  wrong decision / no audit row:     {} / {}",
        found.wrong_decision.len(),
        found.without_audit.len()
    );
    println!(
        "  in flight at a kill, retried:      {} ({} had committed: replayed; {} new)",
        t.in_flight_replayed + t.in_flight_new,
        t.in_flight_replayed,
        t.in_flight_new
    );
    println!(
        "  acknowledged, retried after kills: {} (each must be the original)",
        t.retries_checked
    );
    println!("  audit chain:                       {}", found.chain);
    if failures.is_empty() {
        println!("  verdict: lost=0, every retry answered with the original request");
        true
    } else {
        println!("  verdict: FAILED");
        for f in &failures {
            println!("  - {f}");
        }
        false
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("joined")
}
