//! The few Slack Web API methods Belay calls, with the bot token. Slack
//! answers HTTP 200 with `"ok": false` and an error name for most failures;
//! both kinds become an error the worker retries and the admin sees.

use super::Secret;
use serde_json::{json, Value};
use std::time::Duration;

pub struct SlackApi {
    http: reqwest13::Client,
    base: String,
    token: Secret,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApi")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish()
    }
}

impl SlackApi {
    pub fn new(base: &str, token: Secret) -> Result<SlackApi, String> {
        install_tls_provider();
        let http = reqwest13::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot make the Slack HTTP client: {e}"))?;
        Ok(SlackApi {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    async fn call(&self, method: &str, body: Value) -> Result<Value, String> {
        let res = self
            .http
            .post(format!("{}/{method}", self.base))
            .bearer_auth(&self.token.0)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("{method}: cannot reach Slack: {e}"))?;
        let status = res.status();
        if !status.is_success() {
            return Err(format!("{method}: Slack answered HTTP {status}"));
        }
        let answer: Value = res
            .json()
            .await
            .map_err(|e| format!("{method}: Slack's answer is not JSON: {e}"))?;
        if answer["ok"] != true {
            let error = answer["error"].as_str().unwrap_or("no error given");
            return Err(format!("{method}: Slack refused: {error}"));
        }
        Ok(answer)
    }

    /// Posts a message; answers the channel's id and the message's `ts`.
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: Value,
    ) -> Result<(String, String), String> {
        let answer = self
            .call(
                "chat.postMessage",
                json!({ "channel": channel, "text": text, "blocks": blocks, "unfurl_links": false }),
            )
            .await?;
        match (answer["channel"].as_str(), answer["ts"].as_str()) {
            (Some(channel), Some(ts)) => Ok((channel.to_string(), ts.to_string())),
            _ => Err("chat.postMessage: Slack's answer has no channel or ts".into()),
        }
    }

    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Value,
    ) -> Result<(), String> {
        self.call(
            "chat.update",
            json!({ "channel": channel, "ts": ts, "text": text, "blocks": blocks }),
        )
        .await
        .map(drop)
    }

    /// A message only `user` sees, in `channel`.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        text: &str,
    ) -> Result<(), String> {
        self.call(
            "chat.postEphemeral",
            json!({ "channel": channel, "user": user, "text": text }),
        )
        .await
        .map(drop)
    }
}

/// rustls with *ring*, as the MCP gateway's HTTPS client uses; chosen once
/// for the process (whichever is installed first serves both).
fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
