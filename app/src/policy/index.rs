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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    pub key_id: String,
    pub agent_id: String,
    pub expires_at_ms: Option<i64>,
    pub revoked: bool,
}
