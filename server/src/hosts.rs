//! The Host allow-list: a page on another site cannot reach a Belay that
//! listens on loopback by pointing its own host name at 127.0.0.1 (DNS
//! rebinding), because the browser then sends that other name as `Host`.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

/// Host names (with or without a port) Belay answers to; `None`: any.
pub struct AllowedHosts(Option<Vec<String>>);

impl AllowedHosts {
    /// The configured names; or, for a server on loopback or a wildcard
    /// address, the loopback names; or, on another address with nothing
    /// configured, any.
    pub fn new(configured: &[String], addr: SocketAddr) -> Self {
        let names: Vec<String> = configured
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if !names.is_empty() {
            return AllowedHosts(Some(names));
        }
        // A wildcard address listens on loopback too: the same default.
        if addr.ip().is_loopback() || addr.ip().is_unspecified() {
            let loopback = ["localhost", "127.0.0.1", "[::1]"];
            return AllowedHosts(Some(loopback.iter().map(|h| h.to_string()).collect()));
        }
        tracing::warn!(
            %addr,
            "no --allowed-hosts: answering any Host header; name the hosts Belay is reached by"
        );
        AllowedHosts(None)
    }

    pub fn allows(&self, host: &str) -> bool {
        let Some(names) = &self.0 else { return true };
        let host = host.trim().to_ascii_lowercase();
        // "[::1]:3000" → "[::1]"; "belay.example:443" → "belay.example".
        let bare = match host.rsplit_once(':') {
            Some((name, port))
                if port.chars().all(|c| c.is_ascii_digit()) && !name.ends_with(':') =>
            {
                name
            }
            _ => host.as_str(),
        };
        names.iter().any(|n| *n == host || *n == bare)
    }
}

/// Refuses a request whose `Host` is not one of Belay's names.
pub async fn check(State(allowed): State<Arc<AllowedHosts>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or_default();
    if allowed.allows(host) {
        next.run(req).await
    } else {
        tracing::warn!(host, "request for an unknown host refused");
        (
            StatusCode::MISDIRECTED_REQUEST,
            "this Belay does not answer to that host name (see --allowed-hosts)",
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_servers_answer_only_to_loopback_names() {
        let local = AllowedHosts::new(&[], "127.0.0.1:3000".parse().unwrap());
        for ok in [
            "127.0.0.1:3000",
            "localhost:3000",
            "LOCALHOST",
            "[::1]:3000",
        ] {
            assert!(local.allows(ok), "{ok}");
        }
        for bad in ["evil.example:3000", "127.0.0.1.evil.example", ""] {
            assert!(!local.allows(bad), "{bad}");
        }
        let named = AllowedHosts::new(&["belay.example".into()], "0.0.0.0:443".parse().unwrap());
        assert!(named.allows("belay.example") && named.allows("Belay.Example:443"));
        assert!(!named.allows("127.0.0.1"));
        assert!(!AllowedHosts::new(&[], "0.0.0.0:80".parse().unwrap()).allows("evil.example"));
        assert!(AllowedHosts::new(&[], "10.0.0.5:80".parse().unwrap()).allows("belay.lan"));
    }
}
