//! A request as the agent API shows it to its agent (`/api/v1/actions`):
//! one typed body for every answer, as the contract spells it.

use super::model::{ActionDetail, RequestState};
use crate::db::rfc3339;
use crate::evidence::EvidenceInfo;
use crate::policy::{Outcome, RuleKey, Stage};
use serde::Serialize;

/// One of the agent's requests (the contract's `Action`).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = Action))]
pub struct AgentView {
    pub id: String,
    pub capability: String,
    pub target: String,
    pub summary: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub params: serde_json::Value,
    /// Once approved: what may be carried out (the params as a reviewer edited them).
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub approved_params: Option<serde_json::Value>,
    /// A reviewer's edit, per param: {"amount": {"before": 900, "after": 500}}.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub correction: Option<serde_json::Value>,
    /// SHA-256 of the canonical JSON (RFC 8785) of what reviewers see; an approval binds to it.
    pub payload_hash: String,
    pub decision: Outcome,
    /// Why, in words a reviewer understands.
    pub reasons: Vec<String>,
    pub policy_version: i64,
    /// the stage that applied to this capability
    pub stage: Stage,
    pub held_for: Vec<RuleKey>,
    /// distinct approvals needed (0 unless it was held)
    #[cfg_attr(feature = "ssr", schema(maximum = 3))]
    pub approvals_required: u8,
    /// approvals so far
    pub approvals: usize,
    #[cfg_attr(feature = "ssr", schema(schema_with = crate::openapi::carried_out_by, required = true))]
    pub carried_out_by: Option<&'static str>,
    pub state: RequestState,
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub created_at: String,
    /// When a pending request expires; expiry means no.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub expires_at: Option<String>,
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub decided_at: Option<String>,
    /// A reviewer's reason for rejecting.
    pub decision_note: Option<String>,
    /// An approved request must be claimed by then (its rule's window, 1 hour by default); unclaimed, it expires.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub claim_by: Option<String>,
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub claimed_at: Option<String>,
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub outcome_at: Option<String>,
    pub outcome_detail: Option<String>,
    pub incident: bool,
    pub evidence: Vec<EvidenceInfo>,
}

impl From<&ActionDetail> for AgentView {
    fn from(a: &ActionDetail) -> Self {
        use RequestState::*;
        let approved = matches!(a.state, Approved | Executing | Succeeded | Failed);
        AgentView {
            id: a.id.clone(),
            capability: a.capability.clone(),
            target: a.target.clone(),
            summary: a.summary.clone(),
            params: a.params.clone(),
            approved_params: approved.then(|| a.approved_params().clone()),
            correction: a.correction.clone(),
            payload_hash: a.payload_hash.clone(),
            decision: a.decision,
            reasons: a.reasons.clone(),
            policy_version: a.policy_version,
            stage: a.stage,
            held_for: a.held_for.clone(),
            approvals_required: a.approvals_required,
            approvals: a.approved_by.len(),
            carried_out_by: a.carried_out_by(),
            state: a.state,
            created_at: rfc3339(a.created_at_ms),
            expires_at: a.expires_at_ms.map(rfc3339),
            decided_at: a.decided_at_ms.map(rfc3339),
            decision_note: a.decision_note.clone(),
            claim_by: a.claim_by_ms.map(rfc3339),
            claimed_at: a.claimed_at_ms.map(rfc3339),
            outcome_at: a.outcome_at_ms.map(rfc3339),
            outcome_detail: a.outcome_detail.clone(),
            incident: a.incident,
            evidence: a.evidence.clone(),
        }
    }
}
