//! Personal access tokens: a person's own credential for the reviewer API
//! (`/api/v1/review/...`). Made on the account page with a name, a scope
//! and a required expiry; the secret is shown once and stored hashed;
//! listed with when each was last used; revocable. A token acts as its
//! person with their role as it stands at each call, never more: `read`
//! cannot decide, a deactivated person's tokens stop, and a password change
//! or reset ends them (as it ends sessions), so a stolen session cannot
//! leave a token behind. Every change is audited.

mod pages;
#[cfg(feature = "ssr")]
pub mod secret;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::TokensSection;

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What a token may do on top of reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = TokenScope))]
pub enum Scope {
    /// The queue, requests, agents and reviews; never a decision.
    Read,
    /// Also approve and reject, as far as the person's role goes.
    Decide,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Decide => "decide",
        }
    }

    pub fn parse(s: &str) -> Result<Scope, AppError> {
        match s.trim() {
            "read" => Ok(Scope::Read),
            "decide" => Ok(Scope::Decide),
            _ => Err(AppError::validation("a token's scope is read or decide")),
        }
    }
}

/// Days a token lives when the form leaves it blank.
pub const DEFAULT_DAYS: u32 = 30;
/// The longest a token may live: every token expires.
pub const MAX_DAYS: u32 = 365;

/// A token's lifetime from the form: blank is the default, otherwise
/// 1 to `MAX_DAYS` whole days.
pub fn parse_days(raw: &str) -> Result<u32, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(DEFAULT_DAYS);
    }
    match raw.parse::<u32>() {
        Ok(days) if (1..=MAX_DAYS).contains(&days) => Ok(days),
        _ => Err(AppError::validation(format!(
            "a token lives 1 to {MAX_DAYS} whole days"
        ))),
    }
}

/// One of the signed-in person's tokens, as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub prefix: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    /// `active`, `expired`, `revoked`, or `ended` (by a password change).
    pub status: String,
}

/// A token just made. `secret` is shown once and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    pub id: String,
    pub prefix: String,
    pub secret: String,
    pub expires_at: String,
}

#[server(prefix = "/rpc", endpoint = "tokens/list")]
pub async fn list_tokens() -> Result<Vec<TokenRow>, AppError> {
    crate::error::respond(async move {
        let (state, me) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see your tokens").await?;
        store::list(&state.db, &me).await
    })
    .await
}

/// `scope` is `read` or `decide`; `expires_in_days` blank means the default.
#[server(prefix = "/rpc", endpoint = "tokens/create")]
pub async fn create_token(
    name: String,
    scope: String,
    expires_in_days: String,
) -> Result<IssuedToken, AppError> {
    crate::error::respond(async move {
        let (state, me) =
            crate::auth::session::guard(crate::auth::Role::can_see, "make tokens").await?;
        let scope = Scope::parse(&scope)?;
        let days = parse_days(&expires_in_days)?;
        store::create(&state.db, &me, &name, scope, days).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "tokens/revoke")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, me) =
            crate::auth::session::guard(crate::auth::Role::can_see, "revoke your tokens").await?;
        store::revoke(&state.db, &me, &id).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_default_and_are_bounded() {
        assert_eq!(parse_days(" "), Ok(DEFAULT_DAYS));
        assert_eq!(parse_days("7"), Ok(7));
        assert_eq!(parse_days("365"), Ok(365));
        assert!(parse_days("0").is_err());
        assert!(parse_days("366").is_err());
        assert!(parse_days("-1").is_err());
        assert!(parse_days("forever").is_err());
    }

    #[test]
    fn scopes_are_read_or_decide() {
        assert_eq!(Scope::parse("read"), Ok(Scope::Read));
        assert_eq!(Scope::parse(" decide "), Ok(Scope::Decide));
        assert!(Scope::parse("admin").is_err());
        assert!(Scope::parse("").is_err());
    }
}
