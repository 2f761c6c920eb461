//! The reviewer's pages under a long history, end to end over HTTP against
//! the running server: a queue page (50 rows, sorted by risk then age, each
//! filter, and a later page by cursor) and a request page (the request, its
//! evidence list and the agent's record for the capability).
//!
//! Two databases, two servers, same run: 10,000 pending requests among
//! 1,000,000 actions of history, and the same 10,000 pending among 10,000
//! of history. Keyset pagination, partial indexes and the rollups should
//! make the first cost what the second does. Requests alternate between
//! the two servers, so whatever else the machine does meanwhile slows both
//! alike, and the ratio is the figure to read.
//!
//! Then P6 on the large history: the queue page rendered by the server
//! (`GET /approvals`, HTML) against the same rows as JSON (the server
//! function the page calls), requests per second from 8 connections, in
//! alternating rounds.
//!
//! Run: `cargo bench -p belay --bench queue` (BELAY_BENCH_HISTORY sets the
//! large history, default 1,000,000; BELAY_BENCH_SAMPLES the requests timed
//! per page and server, default 2,000; BELAY_BENCH_SECS the seconds of each
//! kind for P6, default 10; BELAY_BENCH_ONLY, part of a page name, times
//! only those pages). Everything is on loopback and stops by itself.

mod fill;
mod ssr_json;

use app::actions::record;
use belay::config::{Config, ServeArgs};
use belay::startup::Application;
use fill::{Filled, PASSWORD, PENDING};
use std::time::{Duration, Instant};

const WARM_UP: usize = 50;

fn main() {
    let history: usize = env("BELAY_BENCH_HISTORY", 1_000_000);
    let samples: usize = env("BELAY_BENCH_SAMPLES", 2_000);
    let secs = env("BELAY_BENCH_SECS", 10) as u64;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let small = Server::start(PENDING).await;
        let large = Server::start(history).await;
        println!(
            "\n{samples} timed requests per page and server, after {WARM_UP} warm-up, \
             alternating between the servers\n"
        );
        let (small_pages, large_pages) = (small.pages().await, large.pages().await);
        println!(
            "{:<30} {:>9} {:>9} {:>9} {:>9} {:>7}",
            "page (ms)",
            "p50 10k",
            format!("p50 {}k", history / 1000),
            "p99 10k",
            format!("p99 {}k", history / 1000),
            "p99 ×"
        );
        // BELAY_BENCH_ONLY: time only the pages whose name contains it.
        let only = std::env::var("BELAY_BENCH_ONLY").unwrap_or_default();
        for (s, l) in small_pages
            .iter()
            .zip(&large_pages)
            .filter(|(s, _)| s.name.contains(&only))
        {
            let (fs, fl) = time_pair(&small, s, &large, l, samples).await;
            println!(
                "{:<30} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>6.2}×",
                s.name,
                fs.p50,
                fl.p50,
                fs.p99,
                fl.p99,
                fl.p99 / fs.p99
            );
        }
        ssr_json::compare(&large, Duration::from_secs(secs)).await;
    });
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Belay on a database filled with `history` actions, and a reviewer's
/// signed-in client.
pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    filled: Filled,
    _dir: tempfile::TempDir,
}

/// One page to time: a server function and its form.
struct Page {
    name: &'static str,
    endpoint: &'static str,
    form: Vec<(&'static str, String)>,
}

impl Server {
    async fn start(history: usize) -> Server {
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
        let filled = fill::fill(&db, history).await;
        println!(
            "{history} actions ({PENDING} pending) and their rollups written in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // The request page's record, from the rollups, is what counting
        // the agent's requests gives.
        let (agent, capability): (String, String) = {
            use sqlx::Row;
            let r = sqlx::query("SELECT agent_id, capability FROM action_requests WHERE id = $1")
                .bind(&filled.pending_id)
                .fetch_one(&db)
                .await
                .unwrap();
            (r.get("agent_id"), r.get("capability"))
        };
        let rolled = record::of(&db, &agent, &capability).await.unwrap();
        let counted = record::counted(&db, &agent, &capability).await.unwrap();
        assert_eq!(rolled, counted, "the record from the rollups differs");
        println!(
            "  the request page's record: {} requests behind it",
            rolled.total
        );
        tokio::spawn(app.run_until_stopped(std::future::pending()));

        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let server = Server {
            base,
            http,
            filled,
            _dir: dir,
        };
        let login = server
            .rpc(
                "login",
                &[
                    ("username", "rita".into()),
                    ("password", PASSWORD.into()),
                    ("next", "".into()),
                ],
            )
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        server
    }

    pub fn rpc(&self, endpoint: &str, form: &[(&str, String)]) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/rpc/{endpoint}", self.base))
            .header("Origin", &self.base)
            .form(form)
    }

    /// The pages timed, as this server's data asks for them.
    async fn pages(&self) -> Vec<Page> {
        let first: serde_json::Value = self
            .rpc("approvals/queue", &[])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(first["waiting"], PENDING as i64, "{first}");
        let cursor = first["next"].as_str().unwrap().to_string();
        let queue = |name, form| Page {
            name,
            endpoint: "approvals/queue",
            form,
        };
        vec![
            queue("queue: first page", vec![]),
            queue("queue: page 2 (cursor)", vec![("after", cursor)]),
            queue(
                "queue: one agent",
                vec![("agent", self.filled.agent.clone())],
            ),
            queue(
                "queue: one capability",
                vec![("capability", "billing.refund".into())],
            ),
            queue(
                "queue: held for destructive",
                vec![("held_for", "destructive".into())],
            ),
            queue("queue: stage propose", vec![("stage", "propose".into())]),
            Page {
                name: "request page (get + record)",
                endpoint: "approvals/get",
                form: vec![("id", self.filled.pending_id.clone())],
            },
        ]
    }

    async fn time(&self, page: &Page) -> Duration {
        let t = Instant::now();
        let res = self.rpc(page.endpoint, &page.form).send().await.unwrap();
        assert_eq!(res.status(), 200, "{}", page.name);
        let body = res.bytes().await.unwrap();
        assert!(body.len() > 100, "{}", page.name);
        t.elapsed()
    }
}

struct Figures {
    p50: f64,
    p99: f64,
}

/// Times the same page on both servers, one request each in turn (which
/// goes first alternates too).
async fn time_pair(
    a: &Server,
    pa: &Page,
    b: &Server,
    pb: &Page,
    samples: usize,
) -> (Figures, Figures) {
    let (mut ta, mut tb) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
    for i in 0..samples + WARM_UP {
        let (da, db) = if i % 2 == 0 {
            let da = a.time(pa).await;
            (da, b.time(pb).await)
        } else {
            let db = b.time(pb).await;
            (a.time(pa).await, db)
        };
        if i >= WARM_UP {
            ta.push(da);
            tb.push(db);
        }
    }
    (figures(&mut ta), figures(&mut tb))
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
