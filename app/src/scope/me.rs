//! What `GET /api/v1/me` tells an agent about itself and its scope, so it
//! can plan instead of probing: for each granted capability, the stage that
//! applies, the risk, what pauses it, and how much of its hourly limit is
//! used.

use crate::db::{now_ms, rfc3339};
use crate::error::AppError;
use crate::policy::facts::{recent, used_before};
use crate::policy::{AgentStatus, CatalogEntry, Grant, RuleKey, Stage, Trigger};
use crate::state::AppState;
use serde::Serialize;

/// The calling agent: identity, stage, status, and its scope with limits.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Me {
    pub id: String,
    pub name: String,
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::agent_status))]
    pub status: &'static str,
    /// The agent's own stage; a grant may set another for one capability.
    pub stage: Stage,
    pub policy_version: i64,
    /// Granted capabilities. Anything not listed is out of scope (held for approval).
    pub scope: Vec<ScopeEntry>,
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<String>))]
    pub notes: [&'static str; 2],
}

/// One granted capability; a grant that cannot be read says so.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = Grant))]
#[serde(untagged)]
pub enum ScopeEntry {
    Readable(GrantScope),
    /// A stored grant that cannot be read: using it is out of scope.
    Unreadable {
        capability: String,
        /// false: the stored grant cannot be read, and using it is out of scope
        readable: bool,
        note: &'static str,
    },
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GrantScope {
    pub capability: String,
    /// false: the stored grant cannot be read, and using it is out of scope
    pub readable: bool,
    pub in_catalog: bool,
    pub stage: Stage,
    pub triggers: Vec<Trigger>,
    /// triggers that pause even at scoped_autonomy
    pub always_approve: Vec<Trigger>,
    /// true until one request for it has been approved; the first use is always held
    pub first_use_pending: bool,
    pub expired: bool,
    pub limits: Limits,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Limits {
    pub max_per_hour: Option<u32>,
    pub used_last_hour: Option<u32>,
    #[cfg_attr(feature = "ssr", schema(examples(json!(["amount <= 500"]))))]
    pub params: Vec<String>,
    /// exact, or a prefix ending in *; empty: any target
    pub targets: Vec<String>,
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub expires_at: Option<String>,
}

const NOTES: [&str; 2] = [
    "capabilities not listed here are out of scope: they are held for approval (or refused or drafted at observe and draft)",
    "the first use of any capability is held for approval whatever the stage",
];

pub async fn me(state: &AppState, agent_id: &str, name: &str) -> Result<Me, AppError> {
    let mut conn = state.db.acquire().await?;
    let index = state.policy.current(&mut conn).await?;
    let agent = index
        .agents
        .get(agent_id)
        .ok_or_else(|| AppError::NotFound("no such agent".into()))?;
    let now = now_ms();
    let mut grants: Vec<_> = agent.grants.iter().collect();
    grants.sort_by(|a, b| a.0.cmp(b.0));
    let mut scope = Vec::with_capacity(grants.len());
    for (capability, grant) in grants {
        let Ok(grant) = grant else {
            scope.push(ScopeEntry::Unreadable {
                capability: capability.clone(),
                readable: false,
                note: "this grant cannot be read; using it is out of scope until a lead saves it again",
            });
            continue;
        };
        let (known, triggers) = match index.policy.catalog.get(capability) {
            Some(CatalogEntry::Known { triggers }) => (true, triggers.clone()),
            _ => (false, vec![]),
        };
        let always = match &index.policy.rules {
            Ok(rules) => triggers
                .iter()
                .filter(|t| rules.get(RuleKey::from_trigger(**t)).always_approve)
                .copied()
                .collect(),
            Err(_) => triggers.clone(),
        };
        let used_last_hour =
            match grant.max_per_hour {
                Some(_) => Some(recent(&mut conn, agent_id, capability, now).await.map_err(
                    |e| {
                        tracing::error!(error = %e, "counting recent requests");
                        AppError::Internal
                    },
                )?),
                None => None,
            };
        let first_use = !used_before(&mut *conn, &state.policy, agent_id, capability)
            .await
            .unwrap_or(false);
        scope.push(ScopeEntry::Readable(GrantScope {
            capability: capability.clone(),
            readable: true,
            in_catalog: known,
            stage: grant.stage_for(agent.stage),
            triggers,
            always_approve: always,
            first_use_pending: first_use,
            expired: grant.expired(now),
            limits: limits(grant, used_last_hour),
        }));
    }
    Ok(Me {
        id: agent_id.to_string(),
        name: name.to_string(),
        status: match agent.status {
            AgentStatus::Active => "active",
            AgentStatus::Suspended => "suspended",
        },
        stage: agent.stage,
        policy_version: index.policy.version,
        scope,
        notes: NOTES,
    })
}

fn limits(grant: &Grant, used_last_hour: Option<u32>) -> Limits {
    Limits {
        max_per_hour: grant.max_per_hour,
        used_last_hour,
        params: grant.bounds.iter().map(|b| b.to_string()).collect(),
        targets: grant.targets.iter().map(|t| t.to_string()).collect(),
        expires_at: grant.expires_at_ms.map(rfc3339),
    }
}
