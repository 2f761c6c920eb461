//! A signed-in browser as the tests drive it: server functions called the
//! way the hydrated page calls them, and pages read whole.
#![allow(dead_code)]

use reqwest::Response;
use serde_json::Value;

pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
}

impl Browser {
    /// Calls a server function the way the hydrated page does.
    pub async fn rpc(&self, endpoint: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(format!("{}/rpc/{endpoint}", self.base))
            .header("Origin", &self.base)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The payload hash the request page would show: decisions bind to it.
    /// Someone who may not see the request sees nothing (and their decision
    /// is refused for who they are, which is what such tests check).
    pub async fn seen(&self, id: &str) -> String {
        let res = self.rpc("approvals/get", &[("id", id)]).await;
        if res.status() != 200 {
            return String::new();
        }
        let page: Value = res.json().await.unwrap();
        page["action"]["payload_hash"].as_str().unwrap().to_string()
    }

    /// Opens the request, then approves what it showed.
    pub async fn approve(&self, id: &str) -> Response {
        let seen = self.seen(id).await;
        self.approve_seen(id, &seen, None).await
    }

    pub async fn approve_seen(&self, id: &str, seen: &str, params: Option<&str>) -> Response {
        let mut form = vec![("id", id), ("seen", seen)];
        if let Some(p) = params {
            form.push(("params", p));
        }
        self.rpc("approvals/approve", &form).await
    }

    pub async fn reject(&self, id: &str, reason: &str) -> Response {
        let seen = self.seen(id).await;
        self.rpc(
            "approvals/reject",
            &[("id", id), ("seen", &seen), ("reason", reason)],
        )
        .await
    }

    /// A page, read whole. A page that never finishes fails the test
    /// (servers in one process once could leave each other's pages
    /// loading forever; see `startup.rs`, the route list).
    pub async fn page(&self, path: &str) -> Response {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let body = res
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{path} did not finish: {e}"));
        let mut out = axum::http::Response::new(body);
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Response::from(out)
    }
}
