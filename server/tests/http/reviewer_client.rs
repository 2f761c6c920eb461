//! A person's own tools on the reviewer API: tokens made on the account
//! page (as the browser makes them), and one method per endpoint.
#![allow(dead_code)]

use crate::common::{Browser, TestApp};
use reqwest::Response;
use serde_json::{json, Value};

/// Makes a token on the signed-in person's account page; returns its secret.
pub async fn make_token(browser: &Browser, name: &str, scope: &str) -> String {
    let res = browser
        .rpc(
            "tokens/create",
            &[("name", name), ("scope", scope), ("expires_in_days", "")],
        )
        .await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let issued: Value = serde_json::from_str(&body).unwrap();
    issued["secret"].as_str().unwrap().to_string()
}

/// The person's tokens as their account page lists them.
pub async fn tokens(browser: &Browser) -> Vec<Value> {
    let res = browser.rpc("tokens/list", &[]).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// A script calling `/api/v1/review/...` with one bearer token.
pub struct ReviewApi {
    base: String,
    http: reqwest::Client,
    pub token: String,
}

impl ReviewApi {
    pub fn new(app: &TestApp, token: &str) -> ReviewApi {
        ReviewApi {
            base: format!("{}/api/v1/review", app.base),
            http: app.http.clone(),
            token: token.to_string(),
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// The request as the API shows it (200 asserted).
    pub async fn request(&self, id: &str) -> Value {
        ok(self.get(&format!("/requests/{id}")).await).await
    }

    /// Reads the request, then approves what it showed.
    pub async fn approve(&self, id: &str) -> Response {
        let hash = self.request(id).await["payload_hash"].clone();
        self.approve_seen(id, hash, None).await
    }

    pub async fn approve_seen(&self, id: &str, hash: Value, params: Option<Value>) -> Response {
        self.post(
            &format!("/requests/{id}/approve"),
            json!({"payload_hash": hash, "params": params}),
        )
        .await
    }

    pub async fn reject(&self, id: &str, reason: &str) -> Response {
        let hash = self.request(id).await["payload_hash"].clone();
        self.post(
            &format!("/requests/{id}/reject"),
            json!({"payload_hash": hash, "reason": reason}),
        )
        .await
    }
}

/// The body of a 200, with the body in the message otherwise.
pub async fn ok(res: Response) -> Value {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}
