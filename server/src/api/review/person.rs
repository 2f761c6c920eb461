//! The reviewer API's credential: a person's own token
//! (`Authorization: Bearer belay_pat_…`). No cookie is read here, so these
//! endpoints have no CSRF surface; an agent key is refused (401) like any
//! other string that is not a live token. Refused tokens count against the
//! client's address in the same back-off as sign-ins (429 past it).

use crate::api::agent_auth::bearer;
use app::auth::{client, Role, UserView};
use app::error::AppError;
use app::state::AppState;
use app::tokens::store::{self, Bearer};
use app::tokens::Scope;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::net::SocketAddr;

/// A person calling through one of their tokens, checked now: their role
/// as it stands, the token's scope, neither revoked nor expired.
pub struct Person(pub Bearer);

impl FromRequestParts<AppState> for Person {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer(parts)?;
        let keys = [throttle_key(parts, state)];
        state.sign_in.check(&keys)?;
        match store::authenticate(&state.db, token).await {
            Ok(bearer) => Ok(Person(bearer)),
            Err(refused @ AppError::Unauthorized(_)) => {
                state.sign_in.failed(&keys);
                Err(refused)
            }
            Err(other) => Err(other),
        }
    }
}

impl Person {
    /// The person, if their role allows `allowed` (403 otherwise).
    pub fn may(&self, allowed: fn(Role) -> bool, what: &str) -> Result<&UserView, AppError> {
        let user = &self.0.user;
        if allowed(user.role) {
            Ok(user)
        } else {
            Err(AppError::Forbidden(format!(
                "your role ({}) may not {what}",
                user.role
            )))
        }
    }
}

/// A person calling through a token scoped `decide` (403 for a read
/// token), checked before the body is read. Their role is checked by the
/// operation (`Person::may`).
pub struct Decider(pub Person);

impl FromRequestParts<AppState> for Decider {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let person = Person::from_request_parts(parts, state).await?;
        if person.0.scope != Scope::Decide {
            return Err(AppError::Forbidden(
                "this token is scoped read: it cannot decide (make a decide token on your account page)"
                    .into(),
            ));
        }
        Ok(Decider(person))
    }
}

/// Whom the back-off counts a refused token against: the client's address
/// (behind a trusted proxy, the one it forwarded), as for sign-ins.
fn throttle_key(parts: &Parts, state: &AppState) -> String {
    let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
        return "token:unknown".into();
    };
    let forwarded: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let ip = state.settings.trusted_proxies.client(peer.ip(), &forwarded);
    format!("token:{}", client::throttle_key(ip))
}
