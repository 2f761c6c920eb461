//! What the decision reads, held in memory and indexed by name: the rules of
//! the current policy version, the catalog, and each agent's stage, status
//! and grants. Lookups are hash lookups, so a decision costs the same with
//! ten capabilities as with ten thousand.

use super::{Grant, Rules, Stage, Trigger};
use std::collections::HashMap;

/// What the catalog says about one capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogEntry {
    Known {
        triggers: Vec<Trigger>,
    },
    /// A stored entry we do not understand: treated like an unknown one.
    Unreadable(String),
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub version: i64,
    /// A rule set that cannot be read holds every action that would have
    /// been allowed (see `decide`).
    pub rules: Result<Rules, String>,
    pub catalog: HashMap<String, CatalogEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentStatus {
    Active,
    Suspended,
}

#[derive(Debug, Clone)]
pub struct AgentPolicy {
    pub name: String,
    pub status: AgentStatus,
    pub stage: Stage,
    /// By capability; a stored grant we cannot read counts as out of scope.
    pub grants: HashMap<String, Result<Grant, String>>,
    /// Quotas set for this agent alone (see `quota::limits`).
    pub quotas: QuotaOverrides,
}

/// An agent's own quotas as stored; None: the server's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaOverrides {
    pub submissions_per_minute: Option<u64>,
    pub pending: Option<u64>,
    pub evidence_bytes_per_day: Option<u64>,
    pub long_polls: Option<u64>,
}

/// One consistent view of everything the decision needs, as of `epoch`.
#[derive(Debug, Clone)]
pub struct Index {
    pub epoch: i64,
    pub policy: Policy,
    pub agents: HashMap<String, AgentPolicy>,
    /// API keys by SHA-256, so a submission is authenticated against the
    /// same consistent view it is decided with.
    pub keys: HashMap<String, KeyEntry>,
    /// Share of auto-allowed actions the writer samples for spot checks,
    /// in percent.
    pub spot_check_pct: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    pub key_id: String,
    pub agent_id: String,
    pub expires_at_ms: Option<i64>,
    pub revoked: bool,
}

impl Index {
    /// The agent behind a key (by its SHA-256): unknown, revoked and expired
    /// keys are 401, a suspended agent 403. The one key check every front
    /// door uses, against the same view the decision reads.
    pub fn authenticate(
        &self,
        key_hash: &str,
        now_ms: i64,
    ) -> Result<(&str, &AgentPolicy), crate::error::AppError> {
        use crate::error::AppError;
        let invalid = || AppError::Unauthorized("the API key is not valid".into());
        let key = self.keys.get(key_hash).ok_or_else(invalid)?;
        if key.revoked {
            return Err(AppError::Unauthorized(
                "the API key has been revoked".into(),
            ));
        }
        if key.expires_at_ms.is_some_and(|at| at <= now_ms) {
            return Err(AppError::Unauthorized("the API key has expired".into()));
        }
        let agent = self.agents.get(&key.agent_id).ok_or_else(invalid)?;
        match agent.status {
            AgentStatus::Active => Ok((key.agent_id.as_str(), agent)),
            AgentStatus::Suspended => Err(AppError::Forbidden("the agent is suspended".into())),
        }
    }
}
