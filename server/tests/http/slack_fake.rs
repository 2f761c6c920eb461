//! A Belay with a Slack app configured against a fake Slack Web API in the
//! test process (it records every call), and Slack's side of the signed
//! requests: button clicks and slash commands, signed here with the
//! signing secret the server was given.

use crate::common::TestApp;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const SECRET: &str = "test-signing-secret-8f742231b10e";
pub const TEAM: &str = "T0TEAM";
pub const LINK_BASE: &str = "https://belay.example";

type Calls = Arc<Mutex<Vec<(String, Value)>>>;

/// Slack's Web API, faked: answers `ok` and records (method, body).
pub struct FakeSlack {
    pub base: String,
    calls: Calls,
}

impl FakeSlack {
    async fn start() -> FakeSlack {
        use axum::extract::{Path, State};
        let calls: Calls = Arc::default();
        let router = axum::Router::new()
            .route(
                "/api/{method}",
                axum::routing::post(
                    |State(calls): State<Calls>,
                     Path(method): Path<String>,
                     headers: axum::http::HeaderMap,
                     body: axum::Json<Value>| async move {
                        assert_eq!(headers["authorization"], "Bearer xoxb-test-token");
                        let mut calls = calls.lock().unwrap();
                        calls.push((method, body.0.clone()));
                        let ts = format!("1700000000.{:06}", calls.len());
                        axum::Json(json!({ "ok": true, "channel": "C0APPROVALS", "ts": ts }))
                    },
                ),
            )
            .with_state(calls.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/api", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        FakeSlack { base, calls }
    }

    /// The bodies of every call of `method` so far.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Waits (up to 15 s) for a call of `method` whose body passes `check`.
    pub async fn wait_for(&self, method: &str, check: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..150 {
            if let Some(found) = self.calls(method).into_iter().find(|b| check(b)) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no {method} call as expected; calls: {:?}",
            self.calls.lock().unwrap()
        );
    }
}

pub struct SlackApp {
    pub app: TestApp,
    pub slack: FakeSlack,
    _secrets: tempfile::TempDir,
}

impl std::ops::Deref for SlackApp {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl SlackApp {
    /// Belay with the Slack app configured from files, and every held
    /// request routed to `#approvals` by an admin.
    pub async fn spawn() -> SlackApp {
        let slack = FakeSlack::start().await;
        let dir = tempfile::tempdir().unwrap();
        let (secret, token) = (dir.path().join("secret"), dir.path().join("token"));
        std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
        std::fs::write(&token, "xoxb-test-token").unwrap();
        let app = TestApp::spawn_with(|s| {
            s.slack.slack_signing_secret_file = Some(secret);
            s.slack.slack_bot_token_file = Some(token);
            s.slack.slack_api_base = slack.base.clone();
            s.slack.slack_link_base = Some(LINK_BASE.into());
        })
        .await;
        app.user("ada", app::auth::Role::Admin).await;
        let ada = app.browser("ada").await;
        let res = ada
            .rpc(
                "slack/route",
                &[("kind", "default"), ("key", ""), ("channel", "#approvals")],
            )
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        SlackApp {
            app,
            slack,
            _secrets: dir,
        }
    }

    /// Posts `body` to a Slack endpoint, signed with `secret` at `ts`.
    pub async fn post_signed(
        &self,
        path: &str,
        body: &str,
        ts: i64,
        secret: &str,
    ) -> reqwest::Response {
        let ts = ts.to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("v0:{ts}:{body}").as_bytes());
        let signature: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", format!("v0={signature}"))
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// The form body of a click on a button of a Belay message.
    pub fn click_body(user: &str, action: &str, value: &str) -> String {
        let payload = json!({
            "type": "block_actions",
            "user": { "id": user, "team_id": TEAM },
            "team": { "id": TEAM },
            "channel": { "id": "C0APPROVALS" },
            "actions": [{ "action_id": action, "block_id": "belay_decision", "value": value }],
        });
        serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
    }

    /// `user` clicks `action` (`belay_approve` / `belay_reject`) on a
    /// button carrying `value`; answers what Slack then showed them alone.
    pub async fn click(&self, user: &str, action: &str, value: &str) -> String {
        let before = self.slack.calls("chat.postEphemeral").len();
        let res = self
            .post_signed(
                "/slack/interactions",
                &Self::click_body(user, action, value),
                now(),
                SECRET,
            )
            .await;
        assert_eq!(res.status(), 200);
        for _ in 0..150 {
            let told = self.slack.calls("chat.postEphemeral");
            if let Some(reply) = told.get(before) {
                assert_eq!(reply["user"], user);
                return reply["text"].as_str().unwrap().to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{user} was told nothing after clicking");
    }

    /// `/belay <text>` typed by `user`; answers Slack's ephemeral reply.
    pub async fn command(&self, user: &str, text: &str) -> String {
        let body = serde_urlencoded::to_string([
            ("command", "/belay"),
            ("team_id", TEAM),
            ("user_id", user),
            ("text", text),
        ])
        .unwrap();
        let res = self
            .post_signed("/slack/commands", &body, now(), SECRET)
            .await;
        assert_eq!(res.status(), 200);
        let reply: Value = res.json().await.unwrap();
        assert_eq!(reply["response_type"], "ephemeral");
        reply["text"].as_str().unwrap().to_string()
    }

    /// Links `username` to the Slack user `slack_user`, as the person does:
    /// a code from their account page, typed into Slack.
    pub async fn link(&self, username: &str, slack_user: &str) {
        let me = self.browser(username).await;
        let res = me.rpc("slack/start_link", &[]).await;
        assert_eq!(res.status(), 200);
        let code: String = res.json().await.unwrap();
        let reply = self.command(slack_user, &format!("link {code}")).await;
        assert!(reply.contains(&format!("you are {username}")), "{reply}");
    }

    /// The message posted for the request `id`.
    pub async fn posted(&self, id: &str) -> Value {
        self.slack
            .wait_for("chat.postMessage", |b| b.to_string().contains(id))
            .await
    }
}

pub fn now() -> i64 {
    app::db::now_ms() / 1000
}

/// The value the message's Approve button carries.
pub fn button_value(message: &Value, action: &str) -> String {
    message["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().iter())
        .find(|e| e["action_id"] == action)
        .map(|e| e["value"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no {action} button in {message}"))
}
