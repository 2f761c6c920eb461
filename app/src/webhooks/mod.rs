//! Signed webhooks (the Standard Webhooks specification): admins register
//! endpoints with the event types they want; each audited change of one
//! of those types becomes a delivery in its own transaction (`outbox`),
//! which a background worker (`server/src/webhooks`) signs and sends,
//! retries with back-off, and records attempt by attempt (`deliveries`).
//! The pages (`pages`) list endpoints, show each one's delivery log with
//! the answers it got, and re-send.

#[cfg(feature = "ssr")]
pub mod deliveries;
pub mod events;
#[cfg(feature = "ssr")]
pub mod outbox;
mod pages;
#[cfg(feature = "ssr")]
pub mod store;

pub use events::EventType;
pub use pages::{WebhookPage, WebhooksPage};

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: String,
    pub event_types: Vec<EventType>,
    pub enabled: bool,
    pub created_at: String,
    pub pending: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRow {
    /// The `webhook-id` of every attempt.
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub body: String,
    pub created_at: String,
    pub state: String,
    pub tries: i64,
    pub last_status: Option<i64>,
    pub attempts: Vec<AttemptRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRow {
    pub at: String,
    pub duration_ms: i64,
    pub status: Option<i64>,
    /// The first bytes of the answer, shown as text.
    pub response: String,
    pub error: Option<String>,
}

/// A new endpoint and its secret, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub id: String,
    pub secret: String,
}

#[cfg(feature = "ssr")]
const MANAGE: &str = "manage webhooks";

#[server(prefix = "/rpc", endpoint = "webhooks/list")]
pub async fn list_endpoints() -> Result<Vec<EndpointRow>, AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_administer, MANAGE).await?;
        store::list(&state.db).await
    })
    .await
}

/// `events` holds the ticked boxes, by the event type's name.
#[server(prefix = "/rpc", endpoint = "webhooks/create")]
pub async fn create_endpoint(
    url: String,
    description: String,
    events: Option<HashMap<String, String>>,
) -> Result<Created, AppError> {
    crate::error::respond(async move {
        let (state, admin) =
            crate::auth::session::guard(crate::auth::Role::can_administer, MANAGE).await?;
        let mut types = Vec::new();
        for name in events.unwrap_or_default().keys() {
            let t = EventType::parse(&form_name_to_type(name))
                .ok_or_else(|| AppError::validation(format!("unknown event type {name:?}")))?;
            types.push(t);
        }
        types.sort_by_key(|t| *t as u32);
        let new = store::NewEndpoint {
            url: store::parse_url(&url)?,
            description: crate::text::field("the description", &description, 500)?,
            types,
        };
        let (id, secret) =
            store::create(&state.db, &crate::audit::Actor::User(admin.id), new).await?;
        Ok(Created { id, secret })
    })
    .await
}

/// `enabled` is `on` or `off`.
#[server(prefix = "/rpc", endpoint = "webhooks/set_enabled")]
pub async fn set_endpoint_enabled(id: String, enabled: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, admin) =
            crate::auth::session::guard(crate::auth::Role::can_administer, MANAGE).await?;
        store::check_id(&id)?;
        let on = match enabled.as_str() {
            "on" => true,
            "off" => false,
            _ => return Err(AppError::validation("enabled is on or off")),
        };
        store::set_enabled(&state.db, &crate::audit::Actor::User(admin.id), &id, on).await
    })
    .await
}

/// A new secret, shown once.
#[server(prefix = "/rpc", endpoint = "webhooks/rotate")]
pub async fn rotate_secret(id: String) -> Result<String, AppError> {
    crate::error::respond(async move {
        let (state, admin) =
            crate::auth::session::guard(crate::auth::Role::can_administer, MANAGE).await?;
        store::check_id(&id)?;
        store::rotate(&state.db, &crate::audit::Actor::User(admin.id), &id).await
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "webhooks/delete")]
pub async fn delete_endpoint(id: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, admin) =
            crate::auth::session::guard(crate::auth::Role::can_administer, MANAGE).await?;
        store::check_id(&id)?;
        store::delete(&state.db, &crate::audit::Actor::User(admin.id), &id).await
    })
    .await
}

/// One endpoint and its newest deliveries, each with every attempt.
#[server(prefix = "/rpc", endpoint = "webhooks/deliveries")]
pub async fn list_deliveries(id: String) -> Result<(EndpointRow, Vec<DeliveryRow>), AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_administer, MANAGE).await?;
        store::check_id(&id)?;
        let endpoint = store::list(&state.db)
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| AppError::NotFound("no such webhook endpoint".into()))?;
        Ok((endpoint, deliveries::list(&state.db, &id, 100).await?))
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "webhooks/resend")]
pub async fn resend_delivery(id: String) -> Result<(), AppError> {
    crate::error::respond(async move {
        let (state, admin) =
            crate::auth::session::guard(crate::auth::Role::can_administer, MANAGE).await?;
        let actor = crate::audit::Actor::User(admin.id);
        deliveries::resend(&state.db, &actor, &id, crate::db::now_ms()).await
    })
    .await
}

/// Form field names cannot hold dots (they nest); the boxes are named
/// with dashes instead.
pub fn type_to_form_name(t: EventType) -> String {
    t.as_str().replace('.', "-")
}

#[cfg(feature = "ssr")]
fn form_name_to_type(name: &str) -> String {
    name.replacen('-', ".", 1)
}
