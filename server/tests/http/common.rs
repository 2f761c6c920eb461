//! A real Belay on a random port with a fresh SQLite file, and one method
//! per endpoint to talk to it.
#![allow(dead_code)]

use app::agents::store::{self, NewAgent};
use app::audit::Actor;
use app::auth::UserView;
use app::auth::{users, Role};
use app::db::Db;
use app::policy::{Rules, Stage};
use app::scope::GrantForm;
use belay::config::{Config, ServeArgs};
use belay::startup::Application;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

pub use super::browser::Browser;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub base: String,
    pub db: Db,
    /// The database's URL, for the CLI.
    pub db_url: String,
    pub state: app::state::AppState,
    /// `/metrics`' base URL, when the test asked for a metrics listener.
    pub metrics: Option<String>,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut ServeArgs)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_url = database_url(dir.path()).await;
        Self::start(dir, db_url, tweak).await
    }

    /// Another replica on this app's database: its own server, port and
    /// in-memory state, as a second `belay serve` would have.
    pub async fn replica(&self) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start(dir, self.db_url.clone(), |_| {}).await
    }

    async fn start(
        dir: tempfile::TempDir,
        db_url: String,
        tweak: impl FnOnce(&mut ServeArgs),
    ) -> TestApp {
        let mut serve = ServeArgs {
            addr: "127.0.0.1:0".parse().unwrap(),
            site_root: dir.path().join("site").display().to_string(),
            ..ServeArgs::default()
        };
        tweak(&mut serve);
        let config = Config {
            database_url: db_url.clone(),
            serve,
        };
        let app = Application::build(config).await.expect("server builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let db = app.state().db.clone();
        let state = app.state().clone();
        let metrics = app.metrics_port().map(|p| format!("http://127.0.0.1:{p}"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        TestApp {
            base,
            db,
            db_url,
            state,
            metrics,
            http: client(reqwest::Client::builder()),
            _dir: dir,
            _stop: stop,
        }
    }

    pub async fn user(&self, username: &str, role: Role) {
        users::create(&self.db, &Actor::System, username, role, PASSWORD.into())
            .await
            .expect("user created");
    }

    /// Registers an agent (sponsored by `sponsor`, created if missing) and returns (id, key).
    pub async fn agent(&self, name: &str, stage: Stage) -> (String, String) {
        self.lead().await;
        let (agent, key) = store::create_with_key(
            &self.db,
            &Actor::System,
            NewAgent {
                name,
                purpose: "testing",
                sponsor: "sponsor",
                stage,
            },
        )
        .await
        .expect("agent created");
        (agent.id, key.secret)
    }

    pub async fn submit(&self, key: &str, body: Value) -> Response {
        self.http
            .post(format!("{}/api/v1/actions", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Submits and returns the 201 body.
    pub async fn submit_ok(&self, key: &str, capability: &str) -> Value {
        let res = self
            .submit(key, json!({"capability": capability, "target": "customer-42", "summary": "test action"}))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    /// `POST /api/v1/actions/{id}/{verb}` as the agent.
    pub async fn agent_post(
        &self,
        key: &str,
        id: &str,
        verb: &str,
        body: Option<Value>,
    ) -> Response {
        let req = self
            .http
            .post(format!("{}/api/v1/actions/{id}/{verb}", self.base))
            .bearer_auth(key);
        match body {
            Some(b) => req.json(&b),
            None => req,
        }
        .send()
        .await
        .unwrap()
    }

    /// Uploads evidence as multipart: (part name = type, bytes, part content type).
    pub async fn upload(
        &self,
        key: &str,
        id: &str,
        parts: Vec<(&str, Vec<u8>, Option<&str>)>,
    ) -> Response {
        let mut form = reqwest::multipart::Form::new();
        for (name, bytes, media) in parts {
            let mut part = reqwest::multipart::Part::bytes(bytes).file_name(format!("{name}.bin"));
            if let Some(m) = media {
                part = part.mime_str(m).unwrap();
            }
            form = form.part(name.to_string(), part);
        }
        self.http
            .post(format!("{}/api/v1/actions/{id}/evidence", self.base))
            .bearer_auth(key)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_action(&self, key: &str, id: &str, wait: Option<u64>) -> Response {
        let mut url = format!("{}/api/v1/actions/{id}", self.base);
        if let Some(w) = wait {
            url.push_str(&format!("?wait={w}"));
        }
        self.http.get(url).bearer_auth(key).send().await.unwrap()
    }

    /// A person's browser: a cookie jar, same-origin headers, signed in.
    pub async fn browser(&self, username: &str) -> Browser {
        let b = self.anonymous_browser();
        let res = b
            .rpc(
                "login",
                &[("username", username), ("password", PASSWORD), ("next", "")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "sign-in as {username}");
        b
    }

    pub fn anonymous_browser(&self) -> Browser {
        Browser {
            base: self.base.clone(),
            http: client(
                reqwest::Client::builder()
                    .cookie_store(true)
                    .redirect(reqwest::redirect::Policy::none()),
            ),
        }
    }

    /// Grants `capability` to the agent, as a lead would in the browser.
    pub async fn grant(
        &self,
        agent_id: &str,
        capability: &str,
        tweak: impl FnOnce(&mut GrantForm),
    ) {
        let mut form = GrantForm {
            capability: capability.into(),
            ..GrantForm::default()
        };
        tweak(&mut form);
        let lead = self.lead().await;
        let saved = app::scope::store::save(&self.db, &lead, agent_id, &form, "the test needs it")
            .await
            .expect("grant saved");
        self.second_lead_approves(saved.proposed()).await;
    }

    /// Grants the capability and marks it used, past the first-use checkpoint.
    pub async fn grant_used(&self, agent_id: &str, capability: &str) {
        self.grant(agent_id, capability, |_| {}).await;
        let mut tx = self.db.begin().await.unwrap();
        app::policy::facts::record_use(&mut tx, agent_id, capability, app::db::now_ms())
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    /// Saves a new policy version with `edit` applied to the current rules;
    /// if that relaxes them, a second lead approves it.
    pub async fn edit_rules(&self, edit: impl FnOnce(&mut Rules)) -> i64 {
        let (version, mut rules) = self.current_rules().await;
        edit(&mut rules);
        let lead = self.lead().await;
        let saved = app::rules::store::save(&self.db, &lead, version, "test", &rules)
            .await
            .expect("policy saved");
        self.second_lead_approves(saved.proposed()).await;
        app::rules::store::current(&self.db).await.unwrap().version
    }

    /// The lead who sponsors test agents (created if missing).
    pub async fn lead(&self) -> UserView {
        let find = || users::find_by_username(&self.db, "sponsor");
        if find().await.unwrap().is_none() {
            self.user("sponsor", Role::Lead).await;
        }
        find().await.unwrap().unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(sql)
            .fetch_one(&self.db)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    pub async fn audit_count(&self, what: &str, subject_id: &str) -> i64 {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE what = $1 AND subject_id = $2")
            .bind(what)
            .bind(subject_id)
            .fetch_one(&self.db)
            .await
            .unwrap()
            .try_get("n")
            .unwrap()
    }
}

/// Every request in a test has a deadline, so a hang fails the test with a
/// message instead of stalling the run (long-polls in tests wait ≤ 20 s).
fn client(builder: reqwest::ClientBuilder) -> reqwest::Client {
    builder
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("HTTP client")
}

/// A fresh database for one test: a SQLite file in the test's temp folder,
/// or, when `BELAY_TEST_POSTGRES` names a server (`postgres://user@host:port`),
/// a new PostgreSQL database on it.
async fn database_url(dir: &std::path::Path) -> String {
    use sqlx::Connection;
    match std::env::var("BELAY_TEST_POSTGRES") {
        Ok(server) if !server.is_empty() => {
            let name = format!("belay_test_{}", uuid_like());
            let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
                .await
                .expect("BELAY_TEST_POSTGRES is reachable");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .expect("test database created");
            format!("{server}/{name}")
        }
        _ => format!("sqlite://{}/belay.db", dir.display()),
    }
}

fn uuid_like() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("{n:016x}")
}

/// Asserts an RFC 9457 problem response with this status; returns its detail.
pub async fn assert_problem(res: Response, status: u16) -> String {
    assert_eq!(res.status().as_u16(), status);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["type"].as_str().unwrap().starts_with("/problems/"));
    assert!(body["title"].is_string());
    body["detail"].as_str().unwrap().to_string()
}
