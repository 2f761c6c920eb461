//! What an action request is, as every front door shows it.

pub use crate::evidence::EvidenceInfo;
use crate::policy::{AppliedRule, Outcome, RuleKey, Stage, Trigger};
use serde::{Deserialize, Serialize};

/// Where a request is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Allowed,
    Drafted,
    Denied,
    PendingApproval,
    Approved,
    Rejected,
    Expired,
    Cancelled,
    Executing,
    Succeeded,
    Failed,
}

impl RequestState {
    pub const ALL: [RequestState; 11] = [
        RequestState::Allowed,
        RequestState::Drafted,
        RequestState::Denied,
        RequestState::PendingApproval,
        RequestState::Approved,
        RequestState::Rejected,
        RequestState::Expired,
        RequestState::Cancelled,
        RequestState::Executing,
        RequestState::Succeeded,
        RequestState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Allowed => "allowed",
            RequestState::Drafted => "drafted",
            RequestState::Denied => "denied",
            RequestState::PendingApproval => "pending_approval",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
            RequestState::Expired => "expired",
            RequestState::Cancelled => "cancelled",
            RequestState::Executing => "executing",
            RequestState::Succeeded => "succeeded",
            RequestState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Result<RequestState, String> {
        RequestState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown action state {s:?}"))
    }

    /// The state a fresh decision puts a request in.
    pub fn after(outcome: Outcome) -> RequestState {
        match outcome {
            Outcome::Allowed => RequestState::Allowed,
            Outcome::PendingApproval => RequestState::PendingApproval,
            Outcome::Drafted => RequestState::Drafted,
            Outcome::Denied => RequestState::Denied,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RequestState::Allowed => "allowed",
            RequestState::Drafted => "drafted",
            RequestState::Denied => "denied",
            RequestState::PendingApproval => "waiting for approval",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
            RequestState::Expired => "expired",
            RequestState::Cancelled => "cancelled",
            RequestState::Executing => "executing",
            RequestState::Succeeded => "succeeded",
            RequestState::Failed => "failed",
        }
    }
}

/// A request with everything a reviewer needs to decide it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionDetail {
    pub id: String,
    pub agent_id: String,
    pub agent_name: String,
    /// The stage that applied to this capability when it was decided.
    pub stage: Stage,
    pub capability: String,
    /// False when the catalog did not know the capability: high risk.
    pub capability_known: bool,
    pub triggers: Vec<Trigger>,
    pub target: String,
    pub summary: String,
    pub params: serde_json::Value,
    pub observation: Option<String>,
    pub decision: Outcome,
    pub reasons: Vec<String>,
    pub policy_version: i64,
    /// What held it for approval: triggers and computed conditions.
    pub held_for: Vec<RuleKey>,
    /// The rules that held it, as they were at `policy_version`.
    pub rules: Vec<AppliedRule>,
    /// Distinct approvals needed before it is approved.
    pub approvals_required: u8,
    /// Who has approved so far, in order.
    pub approved_by: Vec<String>,
    pub state: RequestState,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub decided_at_ms: Option<i64>,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
    pub evidence: Vec<EvidenceInfo>,
    /// The agent's accountable human (a username); the writer's answer to a
    /// fresh submission leaves it out.
    pub sponsor: Option<String>,
    /// SHA-256 over what a reviewer sees (params as edited, evidence); an
    /// approval binds to it.
    pub payload_hash: String,
    /// Params as a reviewer edited them; `None`: as submitted.
    pub edited_params: Option<serde_json::Value>,
    /// What the edit changed, per param: `{"amount": {"before": 900, "after": 500}}`.
    pub correction: Option<serde_json::Value>,
    /// An approval is good until then; unclaimed, it expires.
    pub claim_by_ms: Option<i64>,
    pub claimed_at_ms: Option<i64>,
    pub outcome_at_ms: Option<i64>,
    pub outcome_detail: Option<String>,
    /// The agent reported the outcome as an incident.
    pub incident: bool,
}

impl ActionDetail {
    /// What may be carried out: the params as edited, or as submitted.
    pub fn approved_params(&self) -> &serde_json::Value {
        self.edited_params.as_ref().unwrap_or(&self.params)
    }

    /// Who carries out the action once it may go ahead: at `propose` a
    /// human does, and the agent can never claim it.
    pub fn carried_out_by(&self) -> Option<&'static str> {
        match (self.decision, self.stage) {
            (Outcome::Denied | Outcome::Drafted, _) => None,
            (_, Stage::Observe | Stage::Draft) => None,
            (_, Stage::Propose) => Some("human"),
            (_, Stage::ActWithApproval | Stage::ScopedAutonomy) => Some("agent"),
        }
    }
}

/// Rows on one page of the approval queue.
pub const QUEUE_PAGE: usize = 50;

/// A row of the approval queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRow {
    pub id: String,
    pub agent_name: String,
    pub capability: String,
    pub capability_known: bool,
    pub triggers: Vec<Trigger>,
    pub held_for: Vec<RuleKey>,
    pub summary: String,
    pub target: String,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub approvals_required: u8,
    pub approvals: u8,
    pub stage: Stage,
    pub risk: i64,
    pub payload_hash: String,
    /// The params an approval approves (as edited, else as submitted),
    /// pretty-printed and cut to `QUEUE_PARAMS_SHOWN` characters, so the
    /// reviewer sees them before a key approves them.
    pub params: String,
    /// `params` was cut: the key refuses what is not all on screen.
    pub params_cut: bool,
    /// A reviewer edited the params.
    pub edited: bool,
    /// The evidence reviewed with it (covered by `payload_hash`), described.
    pub evidence: Vec<EvidenceInfo>,
}

/// Characters of params a queue row carries; longer ones are read on the
/// request's page.
pub const QUEUE_PARAMS_SHOWN: usize = 2_000;

/// What the queue is narrowed to; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFilter {
    pub agent_id: Option<String>,
    pub capability: Option<String>,
    /// A reason it was held: a trigger, or out_of_scope, first_use, …
    pub held_for: Option<RuleKey>,
    pub stage: Option<Stage>,
}

impl QueueFilter {
    /// The filters as a form or a query string sends them: empty or blank
    /// values count as unset (what an unselected `<select>` sends).
    pub fn parse(
        agent: Option<String>,
        capability: Option<String>,
        held_for: Option<String>,
        stage: Option<String>,
    ) -> Result<QueueFilter, crate::error::AppError> {
        let set = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let bad = crate::error::AppError::Validation;
        Ok(QueueFilter {
            agent_id: set(agent),
            capability: set(capability),
            held_for: set(held_for)
                .map(|k| RuleKey::parse(&k).map_err(bad))
                .transpose()?,
            stage: set(stage)
                .map(|s| Stage::parse(&s).map_err(bad))
                .transpose()?,
        })
    }
}

/// One page of the queue: riskiest first, then longest waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePage {
    pub rows: Vec<QueueRow>,
    /// Requests matching the filter, on every page.
    pub matching: i64,
    /// Everything waiting, filter or not.
    pub waiting: i64,
    /// Of those, the ones the reader has not approved yet (as they stand
    /// now): what waits for them, for the tab title.
    pub for_you: i64,
    /// Pass back to get the next page; `None` on the last.
    pub next: Option<String>,
    /// The server's clock, for showing ages.
    pub now_ms: i64,
}

/// What the filters can be set to, with how many are waiting for each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFacets {
    /// (agent id, agent name, waiting)
    pub agents: Vec<(String, String, i64)>,
    pub capabilities: Vec<(String, i64)>,
}

/// A request the signed-in reviewer approved or rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub id: String,
    pub agent_name: String,
    pub capability: String,
    pub summary: String,
    /// What this reviewer did: "approved", "approved with edits", "rejected".
    pub verdict: String,
    /// Where the request is now.
    pub state: RequestState,
    pub at_ms: i64,
}

/// The agent's record with one capability, for the request page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = CapabilityRecord))]
pub struct Record {
    pub approved: i64,
    pub corrected: i64,
    pub rejected: i64,
    pub expired: i64,
    pub allowed: i64,
    pub failed: i64,
    pub total: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for s in RequestState::ALL {
            assert_eq!(RequestState::parse(s.as_str()), Ok(s));
        }
        assert!(RequestState::parse("done").is_err());
    }
}
