//! Governance: deciding change requests (promotion reviews among them) and
//! the one-person setting. The object itself lives in `change/`; this is
//! where it is decided and applied, through the feature that owns the thing
//! it changes, so features depend on `change/` and nothing depends on this.

#[cfg(feature = "ssr")]
pub mod apply;
#[cfg(feature = "ssr")]
pub mod decide;
#[cfg(feature = "ssr")]
pub mod mode;
mod pages;

pub use pages::{ChangePage, OnePersonBanner, ReviewPage, ReviewsPage};

use crate::change::{ChangeDetail, ChangeRow};
use crate::error::AppError;
use leptos::prelude::*;

#[server(prefix = "/rpc", endpoint = "changes/list")]
pub async fn list_changes() -> Result<Vec<ChangeRow>, AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see this").await?;
        crate::change::list::list(&state.db).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "changes/get")]
pub async fn get_change(id: String) -> Result<ChangeDetail, AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see this").await?;
        crate::change::list::detail(&state.db, &user, &id).await
    })
    .await
}

/// `verdict` is `approve` or `reject`. Promotion reviews need an override
/// reason to approve against unmet criteria or across stages.
#[server(prefix = "/rpc", endpoint = "changes/decide")]
pub async fn decide_change(
    id: String,
    verdict: String,
    reason: String,
    #[server(default)] override_reason: String,
) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_manage_agents,
            "decide changes to trust",
        )
        .await?;
        let ballot = match verdict.as_str() {
            "approve" => decide::Ballot::Approve {
                reason,
                override_reason: Some(override_reason),
            },
            "reject" => decide::Ballot::Reject { reason },
            _ => return Err(AppError::validation("the verdict is approve or reject")),
        };
        decide::vote(&state, &user, &id, ballot).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "changes/withdraw")]
pub async fn withdraw_change(id: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_manage_agents,
            "withdraw changes to trust",
        )
        .await?;
        decide::withdraw(&state, &user, &id).await
    })
    .await
}

/// Whether one person may raise trust alone; `false` when signed out (the
/// banner is for people inside).
#[server(prefix = "/rpc", endpoint = "governance/mode")]
pub async fn one_person_mode() -> Result<bool, AppError> {
    crate::error::respond(async move {
        let state = crate::state::app_state()?;
        match crate::auth::session::current_user(&state).await? {
            Some(_) => mode::load(&state.db).await,
            None => Ok(false),
        }
    })
    .await
}

/// `on` is `on` or `off`; admins only, with a reason.
#[server(prefix = "/rpc", endpoint = "governance/set_mode")]
pub async fn set_one_person_mode(on: String, reason: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_administer,
            "change how trust is governed",
        )
        .await?;
        let on = match on.as_str() {
            "on" => true,
            "off" => false,
            _ => return Err(AppError::validation("one-person changes are on or off")),
        };
        mode::set(&state.db, &user, on, &reason).await
    })
    .await
}
