//! The real `belay` binary the tests built: a fresh database, agents made
//! with its commands, and `belay serve` as a child process to kill.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BELAY: &str = env!("CARGO_BIN_EXE_belay");

/// A fresh database: a SQLite file, or a new PostgreSQL database (named
/// outside `belay_test_*`, which other suites drop when they finish).
pub struct Database {
    pub url: String,
    pub backend: &'static str,
    postgres: Option<(String, String)>,
}

impl Database {
    pub async fn fresh(dir: &Path, postgres: Option<&str>) -> Database {
        match postgres {
            None => Database {
                url: format!("sqlite://{}/belay.db", dir.display()),
                backend: "sqlite",
                postgres: None,
            },
            Some(server) => {
                let name = format!("belay_crash_{:016x}", rand::random::<u64>());
                admin(server, &format!("CREATE DATABASE {name}")).await;
                Database {
                    url: format!("{server}/{name}"),
                    backend: "postgres",
                    postgres: Some((server.to_string(), name)),
                }
            }
        }
    }

    pub async fn drop_it(self) {
        if let Some((server, name)) = self.postgres {
            admin(
                &server,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
    }
}

async fn admin(server: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("BELAY_TEST_POSTGRES is reachable");
    sqlx::raw_sql(sql).execute(&mut conn).await.expect(sql);
}

/// Runs a `belay` command to the end.
pub fn belay(url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BELAY)
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("belay runs");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).expect("stdin written");
    }
    drop(input);
    let out = child.wait_with_output().expect("belay finishes");
    assert!(
        out.status.success(),
        "belay {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// An agent and what it submits.
pub struct Agent {
    pub key: String,
    pub capability: &'static str,
}

/// A lead, and three agents whose submissions end three ways: refused at
/// `observe`, drafted at `draft`, waiting for approval (an external send)
/// at `act_with_approval`.
pub fn agents(url: &str) -> Vec<Agent> {
    belay(url, &["migrate"], None);
    belay(
        url,
        &[
            "user",
            "create",
            "--username",
            "lead",
            "--role",
            "lead",
            "--password-stdin",
        ],
        Some("crash test passphrase"),
    );
    let make = |name: &str, stage: &str, capability| {
        let out = belay(
            url,
            &[
                "agent",
                "create",
                "--name",
                name,
                "--sponsor",
                "lead",
                "--stage",
                stage,
            ],
            None,
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix("API key (shown once; store it now): "))
            .expect("the key is printed")
            .trim()
            .to_string();
        Agent { key, capability }
    };
    vec![
        make("observer", "observe", "docs.summarize"),
        make("drafter", "draft", "crm.update_record"),
        make("asker", "act_with_approval", "email.send"),
    ]
}

/// `belay serve` on a port of its own choosing, every quota out of the way.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(url: &str, dir: &Path, n: usize) -> Server {
        let log = std::fs::File::create(log_path(dir, n)).expect("log file");
        let mut child = Command::new(BELAY)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--submissions-per-minute",
                "4294967295",
                "--pending-per-agent",
                "1000000",
            ])
            .arg("--site-root")
            .arg(dir.join("site"))
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("belay serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads until the address, then drains the pipe until the process ends.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(base) = line.strip_prefix("Belay is listening on ") {
                    let _ = tx.send(base.trim().to_string());
                }
            }
        });
        let started = Instant::now();
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => Server { child, base },
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "belay serve did not start within {:?}; see {}",
                    started.elapsed(),
                    log_path(dir, n).display()
                );
            }
        }
    }

    /// `kill -9`: no shutdown, no flush, nothing in flight finishes.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL sent");
        self.child.wait().expect("the server is gone");
    }
}

fn log_path(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("serve-{n}.log"))
}
