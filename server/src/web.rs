//! The browser's front door: sessions, CSRF protection and the sign-in gate.

use app::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer, SessionStore};

pub const SESSION_COOKIE: &str = "belay_session";

pub fn session_layer<S: SessionStore + Clone>(store: S, secure: bool) -> SessionManagerLayer<S> {
    SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(12)))
}

/// Headers on every response: no MIME sniffing, no framing of Belay's
/// pages by other sites, no full URLs leaked in Referer, no powerful browser
/// features for any page; and, when served over HTTPS (`secure`), HSTS.
/// Pages are never stored: they hold a signed-in person's data and a
/// one-time CSP nonce, and name the front end of the binary that served them.
pub fn with_security_headers(router: Router<AppState>, secure: bool) -> Router<AppState> {
    let router = router.layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        |res: &Response| {
            let page = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html"));
            page.then(|| HeaderValue::from_static("no-store"))
        },
    ));
    let mut headers = vec![
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), \
             bluetooth=(), hid=(), midi=(), clipboard-read=(), display-capture=(), \
             interest-cohort=()",
        ),
    ];
    if secure {
        headers.push((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"));
    }
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

/// Refuses state-changing requests that another site started. Browsers send
/// `Origin` on every cross-site POST; a request must come from our own host.
/// (Together with the SameSite=Lax session cookie.)
pub async fn csrf(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || same_origin(req.headers()) {
        next.run(req).await
    } else {
        tracing::warn!(path = %req.uri().path(), "cross-site request refused");
        (
            StatusCode::FORBIDDEN,
            "cross-site request refused: this form must be sent from Belay itself",
        )
            .into_response()
    }
}

fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let host_of = |url: &str| {
        url.split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default().to_string())
    };
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok()) {
        return host_of(origin).as_deref() == Some(host);
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|h| h.to_str().ok()) {
        return site == "same-origin";
    }
    headers
        .get(header::REFERER)
        .and_then(|h| h.to_str().ok())
        .and_then(host_of)
        .as_deref()
        == Some(host)
}

/// Pages need a signed-in person; anyone else is sent to /login and back.
/// Server functions check roles themselves, so they pass through here.
pub async fn require_sign_in(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let public = path == "/login"
        || path.starts_with("/pkg/")
        || path.starts_with("/rpc/")
        || path == "/favicon.svg";
    if public {
        return next.run(req).await;
    }
    match app::auth::session::signed_in(&state, &session).await {
        Ok(Some(_)) => next.run(req).await,
        Ok(None) => {
            let target = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let next_param = app::text::query_value(target);
            Redirect::to(&format!("/login?next={next_param}")).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_our_own_origin_may_post() {
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "null")
        ])));
        assert!(same_origin(&headers(&[
            ("host", "b:1"),
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "b:1"),
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(same_origin(&headers(&[
            ("host", "b:1"),
            ("referer", "http://b:1/agents")
        ])));
        assert!(!same_origin(&headers(&[("host", "b:1")])));
    }
}
