//! One attempt: POST the delivery's body, signed, and read the start of
//! the answer. No redirects are followed (a receiver that moved must be
//! re-registered by an admin, and a redirect must not carry a signed
//! event elsewhere); every attempt has a timeout.

use app::webhooks::deliveries::{Attempt, Claimed};
use std::time::{Duration, Instant};

/// How much of an answer is kept, for the delivery log.
const RESPONSE_BYTES: usize = 2048;

pub fn client(timeout: Duration) -> Result<reqwest13::Client, String> {
    crate::mcp::upstreams::install_tls_provider();
    reqwest13::Client::builder()
        .redirect(reqwest13::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("Belay-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))
}

pub async fn attempt(http: &reqwest13::Client, d: &Claimed) -> Attempt {
    let at = app::db::now_ms();
    let started = Instant::now();
    let timestamp = at / 1000;
    let (status, response, error) =
        match super::sign::signature(&d.secret, &d.id, timestamp, &d.body) {
            Err(e) => (None, String::new(), Some(e)),
            Ok(signature) => {
                let sent = http
                    .post(&d.url)
                    .header("content-type", "application/json")
                    .header("webhook-id", &d.id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(d.body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        match excerpt(res).await {
                            Ok(text) => (Some(status), text, None),
                            Err(e) => (Some(status), String::new(), Some(e)),
                        }
                    }
                    Err(e) => (None, String::new(), Some(describe(e))),
                }
            }
        };
    Attempt {
        at,
        duration_ms: started.elapsed().as_millis() as i64,
        status,
        response,
        error,
    }
}

/// The first `RESPONSE_BYTES` of the body, as text; the rest is not read.
async fn excerpt(mut res: reqwest13::Response) -> Result<String, String> {
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_BYTES {
        match res.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err(describe(e)),
        }
    }
    kept.truncate(RESPONSE_BYTES);
    Ok(String::from_utf8_lossy(&kept).into_owned())
}

/// Why an attempt got no answer, without the URL (the log shows it).
fn describe(e: reqwest13::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    match std::error::Error::source(&e) {
        Some(cause) => format!("{kind}: {cause}"),
        None => format!("{kind}: {}", e.without_url()),
    }
}
