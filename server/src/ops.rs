//! The operator's front door: `/healthz` and `/readyz` for load balancers
//! and orchestrators (on the main address, outside sign-in and CSRF, inside
//! the Host allow-list), and `/metrics` for Prometheus on a listener of its
//! own.
//!
//! Why a listener of its own: a reverse proxy forwards the main address to
//! the world, and from behind one every request looks local; a proxy
//! forwards nothing to an address it does not know, so `/metrics` there
//! fails closed. By default it listens on loopback (`127.0.0.1:9464`),
//! where only this machine reaches it and the Host allow-list stops a web
//! page from reaching it by DNS rebinding. Anywhere else it needs a bearer
//! token (`--metrics-token`), or Belay does not start.

use crate::hosts::AllowedHosts;
use app::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Longest a readiness check waits for the database.
const READY_WAIT: Duration = Duration::from_secs(2);

/// `/healthz` and `/readyz`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process answers; nothing else is asked (a database outage must not
/// get every replica restarted).
async fn healthz() -> Response {
    no_store(StatusCode::OK, json!({ "status": "ok" }))
}

/// The database answers and carries exactly this build's migrations.
async fn readyz(State(state): State<AppState>) -> Response {
    let checked = tokio::time::timeout(READY_WAIT, app::ops::ready::check(&state.db)).await;
    match checked {
        Ok(Ok(())) => no_store(StatusCode::OK, json!({ "status": "ready" })),
        Ok(Err(not)) => no_store(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "not ready", "reason": not.reason }),
        ),
        Err(_) => no_store(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "not ready", "reason": "the database did not answer in time" }),
        ),
    }
}

fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `--metrics-addr`: an address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsAddr(pub Option<SocketAddr>);

impl FromStr for MetricsAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "off" | "" => Ok(MetricsAddr(None)),
            addr => addr
                .parse()
                .map(|a| MetricsAddr(Some(a)))
                .map_err(|_| format!("{addr:?} is not an address (e.g. 127.0.0.1:9464) or `off`")),
        }
    }
}

/// The metrics listener, bound; `None` when off, or when its address is
/// taken (Belay still serves, and says so: metrics are not worth an outage).
async fn bind(addr: MetricsAddr, token: Option<&str>) -> Result<Option<TcpListener>, String> {
    let Some(addr) = addr.0 else { return Ok(None) };
    if !addr.ip().is_loopback() && token.is_none_or(str::is_empty) {
        return Err(format!(
            "--metrics-addr {addr} is reachable from other machines: set --metrics-token \
             (BELAY_METRICS_TOKEN) too, or keep it on loopback"
        ));
    }
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(Some(listener)),
        Err(e) => {
            tracing::warn!(%addr, error = %e, "metrics are not served: cannot listen (set --metrics-addr)");
            Ok(None)
        }
    }
}

/// The metrics listener and what it serves, as `--metrics-addr` and
/// `--metrics-token` ask.
pub async fn listen(
    addr: MetricsAddr,
    token: Option<&str>,
    state: &AppState,
) -> Result<Option<(TcpListener, Router)>, String> {
    let Some(listener) = bind(addr, token).await? else {
        return Ok(None);
    };
    let at = listener.local_addr().map_err(|e| e.to_string())?;
    Ok(Some((listener, metrics_router(state.clone(), token, at))))
}

#[derive(Clone)]
struct Scrape {
    state: AppState,
    /// SHA-256 of the bearer token, when one is set.
    token: Option<Arc<str>>,
}

/// `/metrics` on its own listener.
fn metrics_router(state: AppState, token: Option<&str>, addr: SocketAddr) -> Router {
    let token = token.filter(|t| !t.is_empty());
    let router = Router::new()
        .route("/metrics", get(metrics))
        .with_state(Scrape {
            state,
            token: token.map(|t| app::auth::keys::hash(t).into()),
        });
    if token.is_some() {
        return router;
    }
    // Unauthenticated on loopback: only loopback names, against DNS rebinding.
    router.layer(axum::middleware::from_fn_with_state(
        Arc::new(AllowedHosts::new(&[], addr)),
        crate::hosts::check,
    ))
}

async fn metrics(State(scrape): State<Scrape>, headers: HeaderMap) -> Response {
    if let Some(want) = &scrape.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(app::auth::keys::hash);
        // Digests compared: the time taken says nothing about the token.
        if given.as_deref() != Some(&**want) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is needed (--metrics-token)",
            )
                .into_response();
        }
    }
    let rendered = match app::actions::queue::waiting(&scrape.state.db).await {
        Ok(waiting) => scrape.state.metrics.render(waiting),
        Err(e) => Err(e),
    };
    match rendered {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metrics_address_is_an_address_or_off() {
        assert_eq!("off".parse(), Ok(MetricsAddr(None)));
        assert_eq!(
            "127.0.0.1:9464".parse::<MetricsAddr>().unwrap().0,
            Some("127.0.0.1:9464".parse().unwrap())
        );
        assert!("localhost:9464".parse::<MetricsAddr>().is_err());
    }

    #[tokio::test]
    async fn metrics_off_loopback_need_a_token() {
        let public = MetricsAddr(Some("0.0.0.0:0".parse().unwrap()));
        assert!(bind(public, None).await.is_err());
        assert!(bind(public, Some("")).await.is_err());
        assert!(bind(public, Some("s3cret-token")).await.unwrap().is_some());
        let local = MetricsAddr(Some("127.0.0.1:0".parse().unwrap()));
        assert!(bind(local, None).await.unwrap().is_some());
        assert!(bind(MetricsAddr(None), None).await.unwrap().is_none());
    }
}
