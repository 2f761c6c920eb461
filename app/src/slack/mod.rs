//! Slack approvals: a held request is posted to a Slack channel with
//! Approve / Reject buttons, and the message follows the request to its
//! end. Admins route requests to channels (`/slack`, audited); each person
//! links their own Slack user on `/account`. The Slack client, the
//! interaction endpoint and the outbox worker are in `server/src/slack`;
//! a decision made in Slack goes through the browser's rule book
//! (`decide.rs` → `actions::review`).

mod pages;

#[cfg(feature = "ssr")]
pub mod decide;
#[cfg(feature = "ssr")]
pub mod link;
#[cfg(feature = "ssr")]
pub mod outbox;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::{SlackLinkSection, SlackPage};

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Where held requests go: a capability's route wins over a route for
/// what held the request (a rule key), which wins over the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// `capability`, `held_for` or `default`.
    pub kind: String,
    /// The capability or rule key; empty for the default.
    pub key: String,
    pub channel: String,
}

/// The admin's page: the routes, and requests Slack has not taken yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackOverview {
    /// Whether this server was started with a Slack app configured.
    pub configured: bool,
    pub routes: Vec<Route>,
    /// (request id, attempts, last error) of messages not yet synced.
    pub troubled: Vec<(String, i64, String)>,
}

/// A person's link to their Slack user, as `/account` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    pub configured: bool,
    /// (team id, Slack user id, linked at, RFC 3339).
    pub linked: Option<(String, String, String)>,
}

#[server(prefix = "/rpc", endpoint = "slack/settings")]
pub async fn slack_settings() -> Result<SlackOverview, AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_administer, "configure Slack")
                .await?;
        Ok(SlackOverview {
            configured: outbox::enabled(),
            routes: store::routes(&state.db).await?,
            troubled: outbox::troubled(&state.db).await?,
        })
    })
    .await
}

/// Sets the channel for a route; an empty channel removes the route.
#[server(prefix = "/rpc", endpoint = "slack/route")]
pub async fn set_slack_route(kind: String, key: String, channel: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, admin) =
            crate::auth::session::guard(crate::auth::Role::can_administer, "configure Slack")
                .await?;
        let route = store::RouteKey::parse(&kind, &key)?;
        let actor = crate::audit::Actor::User(admin.id);
        match channel.trim() {
            "" => store::remove_route(&state.db, &actor, &route).await,
            channel => {
                let channel = store::parse_channel(channel)?;
                store::set_route(&state.db, &actor, &route, &channel).await
            }
        }
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "slack/my_link")]
pub async fn my_slack_link() -> Result<LinkView, AppError> {
    crate::error::respond(async move {
        let (state, me) =
            crate::auth::session::guard(crate::auth::Role::can_see, "link Slack").await?;
        Ok(LinkView {
            configured: outbox::enabled(),
            linked: link::of(&state.db, &me.id).await?,
        })
    })
    .await
}

/// A one-time code (shown once) the person types into Slack as
/// `/belay link CODE`: that proves they control the Slack user it comes from.
#[server(prefix = "/rpc", endpoint = "slack/start_link")]
pub async fn start_slack_link() -> Result<String, AppError> {
    crate::error::respond(async move {
        let (state, me) =
            crate::auth::session::guard(crate::auth::Role::can_see, "link Slack").await?;
        link::start(&state.db, &me).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "slack/unlink")]
pub async fn unlink_slack() -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, me) =
            crate::auth::session::guard(crate::auth::Role::can_see, "link Slack").await?;
        link::unlink(&state.db, &me).await
    })
    .await
}
