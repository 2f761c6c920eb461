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

#[derive(Debug, Serialize)]
pub struct Me {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub stage: Stage,
    pub policy_version: i64,
    pub scope: Vec<ScopeEntry>,
    pub notes: [&'static str; 2],
}

/// One granted capability; a grant that cannot be read says so.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ScopeEntry {
    Readable(GrantScope),
    Unreadable {
        capability: String,
        readable: bool,
        note: &'static str,
    },
}

#[derive(Debug, Serialize)]
pub struct GrantScope {
    pub capability: String,
    pub readable: bool,
    pub in_catalog: bool,
    pub stage: Stage,
    pub triggers: Vec<Trigger>,
    pub always_approve: Vec<Trigger>,
    pub first_use_pending: bool,
    pub expired: bool,
    pub limits: Limits,
}

#[derive(Debug, Serialize)]
pub struct Limits {
    pub max_per_hour: Option<u32>,
    pub used_last_hour: Option<u32>,
    pub params: Vec<String>,
    pub targets: Vec<String>,
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
        let first_use = !used_before(&mut conn, &state.policy, agent_id, capability)
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
