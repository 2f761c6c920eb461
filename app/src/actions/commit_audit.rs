//! The audit rows of a batch of submissions (`commit.rs`), written in the
//! batch's transaction, last: the chain's head is the last lock it takes.

use super::model::ActionDetail;
use crate::audit::{self, Actor};
use crate::db::Tx;
use crate::error::AppError;

/// One `action.submitted` event per request, as decided (and, for a call
/// the gateway carries out, claimed: its state says `executing`).
pub async fn submitted<'a>(
    tx: &mut Tx<'_>,
    items: impl Iterator<Item = &'a ActionDetail> + Clone,
) -> Result<(), AppError> {
    let actors: Vec<Actor> = items
        .clone()
        .map(|a| Actor::Agent(a.agent_id.clone()))
        .collect();
    let events = items
        .zip(&actors)
        .map(|(a, actor)| audit::Event {
            actor,
            what: "action.submitted",
            subject_kind: "action",
            subject_id: &a.id,
            detail: serde_json::json!({ "after": {
                "capability": a.capability,
                "decision": a.decision,
                "reasons": a.reasons,
                "policy_version": a.policy_version,
                "stage": a.stage,
                "rules": a.rules,
                "approvals_required": a.approvals_required,
                "state": a.state,
                "evidence": a.evidence.len(),
            }}),
        })
        .collect::<Vec<_>>();
    audit::record_many(tx, events).await
}
