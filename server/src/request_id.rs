//! A request id on every request: in the request's log span (so every log
//! line of the request carries it) and in the response (`x-request-id`), so
//! an operator can find a client's failure in the logs. An id a client
//! sends is kept only from a trusted proxy (`--trusted-proxies`), which
//! ties Belay's lines to its own; anyone else could use it to forge or
//! muddle log lines, so they get a fresh one.

use app::auth::client::TrustedProxies;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use std::sync::Arc;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Sets the request's id (see the module) before the trace span opens, and
/// returns it on the response.
pub async fn assign(
    State(proxies): State<Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    let from_proxy = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| proxies.trusts(&peer.ip()));
    let given = req
        .headers()
        .get(&HEADER)
        .filter(|v| from_proxy && acceptable(v.as_bytes()))
        .cloned();
    let id = match given {
        Some(id) => id,
        None => HeaderValue::from_str(&app::db::new_id()).expect("a UUID is a header value"),
    };
    req.headers_mut().insert(HEADER, id.clone());
    let mut res = next.run(req).await;
    res.headers_mut().insert(HEADER, id);
    res
}

/// The request's id, as `assign` set it (for the trace span).
pub fn of(req: &Request) -> &str {
    req.headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// A proxy's id is kept if it is short and plain: letters, digits and
/// `-_.:` (what proxies generate), nothing a log reader could misread.
fn acceptable(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_kept() {
        assert!(acceptable(b"0b6b7f1e-3c2d-4d7e-9a41-5f7f2c1d9e10"));
        assert!(acceptable(b"caddy:abc.123_x"));
        assert!(!acceptable(b""));
        assert!(!acceptable(b"a b"));
        assert!(!acceptable(b"id\"} forged"));
        assert!(!acceptable(&[b'a'; 129]));
    }
}
