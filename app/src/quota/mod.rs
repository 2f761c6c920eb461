//! Quotas: what an agent may use whatever its trust (submissions a minute,
//! requests waiting at once, evidence a day, long-polls at once), so one
//! agent cannot flood the queue or the disk. Defaults come from the server's
//! settings; a lead or admin may set any of them for one agent.

#[cfg(feature = "ssr")]
pub mod limits;
mod pages;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod usage;

pub use pages::QuotaPanel;

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One quota as the agent's page shows it, in its display unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaLine {
    /// The form field and CLI name.
    pub name: String,
    pub label: String,
    /// The agent's own value, if it has one.
    pub own: Option<u64>,
    pub default: u64,
    /// Refusals on this replica since it started.
    pub refused: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaSheet {
    pub lines: Vec<QuotaLine>,
    pub long_polls_open: u64,
    pub evidence_mib_today: u64,
    pub can_manage: bool,
}

#[server(prefix = "/rpc", endpoint = "quota/get")]
pub async fn agent_quotas(agent_id: String) -> Result<QuotaSheet, AppError> {
    crate::error::respond(async move {
        use limits::{own, shown, Kind};
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_see, "see agents").await?;
        let mut conn = state.db.acquire().await?;
        let mine = store::read(&mut conn, &agent_id).await?;
        let today = store::evidence_today(&mut conn, &agent_id, crate::db::now_ms()).await?;
        drop(conn);
        let refused = state.quota.refusals_of(&agent_id);
        let defaults = state.settings.quotas;
        Ok(QuotaSheet {
            lines: Kind::ALL
                .into_iter()
                .map(|k| QuotaLine {
                    name: k.as_str().into(),
                    label: k.label().into(),
                    own: own(&mine, k).map(|v| shown(k, v)),
                    default: shown(k, defaults.get(k)),
                    refused: refused[k.index()],
                })
                .collect(),
            long_polls_open: state.quota.long_polls_of(&agent_id),
            evidence_mib_today: shown(Kind::EvidenceBytes, today),
            can_manage: user.role.can_manage_agents(),
        })
    })
    .await
}

/// Sets the agent's own quotas; a blank field means the server's default.
#[server(prefix = "/rpc", endpoint = "quota/set")]
pub async fn set_agent_quotas(
    agent_id: String,
    submissions_per_minute: String,
    pending: String,
    evidence_bytes_per_day: String,
    long_polls: String,
) -> Result<(), AppError> {
    crate::error::respond(async move {
        use limits::{parse, Kind};
        let (state, user) =
            crate::auth::session::guard(crate::auth::Role::can_manage_agents, "manage agents")
                .await?;
        let field = |k: Kind, raw: &str| parse(k, raw).map_err(AppError::validation);
        let new = limits::Overrides {
            submissions_per_minute: field(Kind::Submissions, &submissions_per_minute)?,
            pending: field(Kind::Pending, &pending)?,
            evidence_bytes_per_day: field(Kind::EvidenceBytes, &evidence_bytes_per_day)?,
            long_polls: field(Kind::LongPolls, &long_polls)?,
        };
        store::set(
            &state.db,
            &crate::audit::Actor::User(user.id),
            &agent_id,
            new,
        )
        .await
    })
    .await
}
