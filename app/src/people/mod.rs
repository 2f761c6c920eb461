//! People: admins deactivate and reactivate accounts (sessions end at once:
//! every request re-reads the account), change roles and reset passwords
//! (the new one shown once); anyone changes their own password. Audited.

mod pages;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::{AccountPage, PeoplePage};

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRow {
    pub id: String,
    pub username: String,
    pub role: crate::auth::Role,
    pub active: bool,
    pub created_at: String,
    pub you: bool,
}

#[server(prefix = "/rpc", endpoint = "people/list")]
pub async fn list_people() -> Result<Vec<PersonRow>, AppError> {
    crate::error::respond(async move {
        let (state, admin) =
            crate::auth::session::guard(crate::auth::Role::can_administer, "manage people").await?;
        store::list(&state.db, &admin).await
    })
    .await
}

/// `active` is `on` or `off`.
#[server(prefix = "/rpc", endpoint = "people/set_active")]
pub async fn set_active(id: String, active: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, admin) =
            crate::auth::session::guard(crate::auth::Role::can_administer, "manage people").await?;
        let active = match active.as_str() {
            "on" => true,
            "off" => false,
            _ => return Err(AppError::validation("active is on or off")),
        };
        store::set_active(&state.db, &crate::audit::Actor::User(admin.id), &id, active).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "people/set_role")]
pub async fn set_role(id: String, role: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, admin) =
            crate::auth::session::guard(crate::auth::Role::can_administer, "manage people").await?;
        let role = crate::auth::Role::parse(&role).map_err(AppError::Validation)?;
        store::set_role(&state.db, &crate::audit::Actor::User(admin.id), &id, role).await
    })
    .await
}

/// A new generated password for someone who lost theirs, shown once.
#[server(prefix = "/rpc", endpoint = "people/reset_password")]
pub async fn reset_password(id: String) -> Result<String, AppError> {
    crate::error::respond(async move {
        let (state, admin) =
            crate::auth::session::guard(crate::auth::Role::can_administer, "manage people").await?;
        store::reset_password(&state.db, &crate::audit::Actor::User(admin.id), &id).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "account/change_password")]
pub async fn change_password(current: String, new: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, me) =
            crate::auth::session::guard(crate::auth::Role::can_see, "change your password").await?;
        store::change_own_password(&state, &me, current, new).await
    })
    .await
}
