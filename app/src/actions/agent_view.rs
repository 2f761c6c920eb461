//! A request as the agent API shows it to its agent (`/api/v1/actions`):
//! one typed body for every answer, as the contract spells it.

use super::model::{ActionDetail, RequestState};
use crate::db::rfc3339;
use crate::evidence::EvidenceInfo;
use crate::policy::{Outcome, RuleKey, Stage};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct AgentView {
    pub id: String,
    pub capability: String,
    pub target: String,
    pub summary: String,
    pub params: serde_json::Value,
    /// What the agent may carry out: the params as a reviewer edited them,
    /// once approved.
    pub approved_params: Option<serde_json::Value>,
    pub correction: Option<serde_json::Value>,
    pub payload_hash: String,
    pub decision: Outcome,
    pub reasons: Vec<String>,
    pub policy_version: i64,
    pub stage: Stage,
    pub held_for: Vec<RuleKey>,
    pub approvals_required: u8,
    pub approvals: usize,
    pub carried_out_by: Option<&'static str>,
    pub state: RequestState,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub decided_at: Option<String>,
    pub decision_note: Option<String>,
    /// An approved request must be claimed by then, or it expires.
    pub claim_by: Option<String>,
    pub claimed_at: Option<String>,
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
