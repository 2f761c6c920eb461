//! Who is calling: people (passwords, sessions, roles, the login page) and
//! agents (API keys).

mod role;
pub use role::Role;

#[cfg(feature = "ssr")]
pub mod agent;
#[cfg(feature = "ssr")]
pub mod client;
#[cfg(feature = "ssr")]
pub mod keys;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod throttle;
#[cfg(feature = "ssr")]
pub mod users;

use crate::error::AppError;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// A signed-in person as the UI sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub role: Role,
}

#[server(prefix = "/rpc", endpoint = "login")]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    crate::error::respond(async move {
        let state = crate::state::app_state()?;
        // Back-off first: a throttled attempt costs no hash and reveals
        // nothing (unknown usernames back off the same way).
        let keys = throttle::keys(&username, &client_address(&state).await);
        let refused = |e: &AppError| state.metrics.sign_in_refused(e);
        state.sign_in.begin(&keys).inspect_err(refused)?;
        let _slot = state.sign_in.hashing_slot().await.inspect_err(refused)?;
        // A malformed username cannot exist; it still costs a hash check.
        let found = match users::parse_username(&username) {
            Ok(name) => users::credentials(&state.db, &name).await?,
            Err(_) => None,
        };
        let (user, stored) = match found {
            Some(c) => (Some(c.user), Some(c.password_hash)),
            None => (None, None),
        };
        let ok = password::verify(password, stored).await?;
        let user = match (ok, user) {
            (true, Some(user)) => user,
            _ => {
                tracing::info!(username = %username.trim(), "sign-in refused");
                users::audit_session(&state.db, "user.sign_in_refused", None, &username).await?;
                let wrong = AppError::Unauthorized("wrong username or password".into());
                refused(&wrong);
                return Err(wrong);
            }
        };
        state.sign_in.succeeded(&keys);
        session::sign_in(&user).await?;
        users::audit_session(&state.db, "user.signed_in", Some(&user.id), &user.username).await?;
        tracing::info!(user = %user.username, "signed in");
        leptos_axum::redirect(&safe_next(next.as_deref()));
        Ok(())
    })
    .await
}

/// The client's address as the back-off counts it: the peer, or behind a
/// trusted proxy the address it forwarded; "unknown" if the server was not
/// given the peer.
#[cfg(feature = "ssr")]
async fn client_address(state: &crate::state::AppState) -> String {
    use axum::extract::ConnectInfo;
    let Ok(ConnectInfo(peer)) = leptos_axum::extract::<ConnectInfo<std::net::SocketAddr>>().await
    else {
        return "unknown".into();
    };
    let headers: axum::http::HeaderMap = leptos_axum::extract().await.unwrap_or_default();
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let ip = state.settings.trusted_proxies.client(peer.ip(), &forwarded);
    client::throttle_key(ip)
}

#[server(prefix = "/rpc", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    crate::error::respond(async move {
        let state = crate::state::app_state()?;
        if let Some(user) = session::current_user(&state).await? {
            users::audit_session(&state.db, "user.signed_out", Some(&user.id), &user.username)
                .await?;
        }
        session::sign_out().await?;
        leptos_axum::redirect("/login");
        Ok(())
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "me")]
pub async fn current_user() -> Result<Option<UserView>, AppError> {
    crate::error::respond(async move {
        let state = crate::state::app_state()?;
        session::current_user(&state).await
    })
    .await
}

/// Only same-site paths are followed after sign-in (no open redirects).
/// Browsers drop tabs and newlines from URLs (`/\t/evil` becomes `//evil`),
/// so only printable ASCII is accepted.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && p.chars().all(|c| c.is_ascii_graphic() && c != '\\') =>
        {
            p.to_string()
        }
        _ => "/approvals".to_string(),
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let error = move || match login.value().get() {
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };
    view! {
        <section class="login">
            <h1>"Sign in to Belay"</h1>
            <ActionForm action=login attr:class="card form">
                <input type="hidden" name="next" value=next/>
                <label>"Username" <input name="username" autocomplete="username" required/></label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required/>
                </label>
                <button type="submit" disabled=move || login.pending().get()>
                    {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
                {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            </ActionForm>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_only_follows_local_paths() {
        assert_eq!(safe_next(Some("/agents")), "/agents");
        assert_eq!(safe_next(Some("//evil.example")), "/approvals");
        assert_eq!(safe_next(Some("https://evil.example")), "/approvals");
        assert_eq!(safe_next(Some("/\\evil")), "/approvals");
        assert_eq!(safe_next(None), "/approvals");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/approvals");
        assert_eq!(safe_next(Some("/\n")), "/approvals");
        assert_eq!(safe_next(Some("/approvals/abc?x=1")), "/approvals/abc?x=1");
    }
}
