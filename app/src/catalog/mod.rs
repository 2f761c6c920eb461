//! The capability catalog: named kinds of action and their risk triggers.
//! Leads manage it in the browser; every change is audited.

mod pages;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::CatalogPage;

use crate::error::AppError;
use crate::policy::Trigger;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityRow {
    pub name: String,
    pub description: String,
    pub triggers: Vec<Trigger>,
    pub reversible: bool,
    /// Set when the stored triggers cannot be read (treated as high risk).
    pub unreadable: Option<String>,
}

/// The catalog, and whether the viewer may change it.
#[server(prefix = "/rpc", endpoint = "catalog/list")]
pub async fn list_capabilities() -> Result<(Vec<CapabilityRow>, bool), AppError> {
    crate::error::respond(async move {
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see the catalog").await?;
        Ok((store::list(&state.db).await?, user.role.can_manage_agents()))
    })
    .await
}

/// Adds a capability or changes one. `checked` holds the ticked boxes
/// (`reversible` and trigger names); an unticked box is simply absent.
#[server(prefix = "/rpc", endpoint = "catalog/save")]
pub async fn save_capability(
    name: String,
    description: String,
    checked: Option<std::collections::HashMap<String, String>>,
    #[server(default)] reason: String,
) -> Result<crate::change::Saved<CapabilityRow>, AppError> {
    crate::error::respond(async move {
        let (state, user) = crate::auth::session::guard(
            crate::auth::Role::can_manage_agents,
            "change the capability catalog",
        )
        .await?;
        let checked = checked.unwrap_or_default();
        for key in checked.keys() {
            if key != "reversible" {
                Trigger::parse(key).map_err(AppError::Validation)?;
            }
        }
        let triggers = Trigger::ALL
            .into_iter()
            .filter(|t| checked.contains_key(t.as_str()))
            .collect();
        let reversible = checked.contains_key("reversible");
        store::save(
            &state.db,
            &user,
            store::NewCapability {
                name: &name,
                description: &description,
                triggers,
                reversible,
            },
            &reason,
        )
        .await
    })
    .await
}
