//! Abuse against the running server, each figure beside a baseline measured
//! in the same run: a flood of bad sign-ins (from one address, and from 500
//! through a trusted proxy) while a real person signs in; 50 guesses at one
//! account; a request page whose evidence table is built to be quadratic;
//! a 16 MiB body behind a made-up key; and an agent past its quota while
//! another is decided.
//!
//! Run: `cargo bench -p belay --bench abuse`. The server runs in this
//! process on its own runtime, so the memory figures (VmRSS, VmHWM from
//! /proc) include the load generator: an upper bound for the server.

mod scenes;
mod sign_in;

use app::audit::Actor;
use app::auth::{users, Role};
use app::policy::Stage;
use belay::config::{Config, ServeArgs};
use belay::startup::Application;
use std::time::Duration;

pub const PASSWORD: &str = "a real person's password";

/// The server under test.
pub struct Server {
    pub base: String,
    pub db: app::db::Db,
    /// Agent keys by name.
    pub keys: Vec<(String, String, String)>,
}

impl Server {
    pub fn key(&self, name: &str) -> (&str, &str) {
        let (_, id, key) = self.keys.iter().find(|(n, _, _)| n == name).unwrap();
        (id, key)
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let path = dir.path().to_path_buf();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .thread_name("server")
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            ready_tx.send(start(&path).await).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let server = ready_rx.recv().expect("server started");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("attacker")
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        println!("abuse: Belay on {} (release, SQLite)\n", server.base);
        sign_in::floods(&server).await;
        sign_in::guesses(&server).await;
        scenes::evidence_pages(&server).await;
        scenes::fake_key_body(&server).await;
        scenes::quota(&server).await;
    });
}

async fn start(dir: &std::path::Path) -> Server {
    let config = Config {
        database_url: format!("sqlite://{}/belay.db", dir.display()),
        serve: ServeArgs {
            addr: "127.0.0.1:0".parse().unwrap(),
            site_root: dir.join("site").display().to_string(),
            // The flood from 500 addresses comes through a "proxy" here.
            trusted_proxies: vec!["127.0.0.1".into()],
            ..ServeArgs::default()
        },
    };
    let app = Application::build(config).await.expect("belay builds");
    let db = app.state().db.clone();
    let base = format!("http://127.0.0.1:{}", app.port());
    for (name, role) in [("ada", Role::Lead), ("bob", Role::Reviewer)] {
        users::create(&db, &Actor::System, name, role, PASSWORD.into())
            .await
            .unwrap();
    }
    let mut keys = Vec::new();
    for name in ["tables", "noisy", "calm"] {
        let (agent, key) = app::agents::store::create_with_key(
            &db,
            &Actor::System,
            app::agents::store::NewAgent {
                name,
                purpose: "abuse benchmark",
                sponsor: "ada",
                stage: Stage::Propose,
            },
        )
        .await
        .unwrap();
        keys.push((name.to_string(), agent.id, key.secret));
    }
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    Server { base, db, keys }
}
