//! `/audit`: the audit trail for auditors, leads and admins, newest first,
//! filtered by actor, agent, subject, kind and time, a page at a time, each
//! event's before and after side by side. The chain that proves it is
//! `crate::audit`.

mod pages;
#[cfg(feature = "ssr")]
pub mod store;

pub use pages::AuditPage;

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Events on one page.
pub const PAGE: i64 = 50;

/// One event as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    /// Its place in the chain.
    pub n: i64,
    pub at: String,
    /// `user`, `agent` or `system`.
    pub actor_kind: String,
    /// The person's username or the agent's name, when there is one.
    pub actor: Option<String>,
    pub what: String,
    pub subject_kind: String,
    pub subject_id: String,
    /// Field by field: (field, before, after), values as JSON text.
    pub changes: Vec<(String, String, String)>,
    /// Anything else the event holds (a reason, a note), as JSON text.
    pub other: Vec<(String, String)>,
}

/// What the filters are set to; empty means any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrailFilter {
    /// A username or an agent name.
    pub actor: String,
    /// An agent's name: events by it or about it.
    pub agent: String,
    pub subject_kind: String,
    /// An event kind such as `action.approved`.
    pub what: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailPage {
    pub events: Vec<EventRow>,
    /// The cursor of the next (older) page, if there is one.
    pub older: Option<i64>,
    /// Event kinds and subject kinds seen, for the filters.
    pub kinds: Vec<String>,
    pub subjects: Vec<String>,
}

/// A page of the trail, newest first, older than `before` if given.
#[server(prefix = "/rpc", endpoint = "audit/trail")]
pub async fn audit_trail(
    filter: Option<TrailFilter>,
    before: Option<i64>,
) -> Result<TrailPage, AppError> {
    crate::error::respond(async move {
        let (state, _) =
            crate::auth::session::guard(crate::auth::Role::can_audit, "read the audit trail")
                .await?;
        store::page(&state.db, &filter.unwrap_or_default(), before).await
    })
    .await
}
