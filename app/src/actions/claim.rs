//! Claiming an approved request: exactly once, within the approval's
//! window, and only while the approval still covers the action as the
//! policy stands now.

use super::model::{ActionDetail, RequestState};
use super::service::get_for_agent;
use super::store::{self, load, Move};
use super::submission::stored_payload_hash;
use crate::audit::{self, Actor};
use crate::auth::agent::Principal;
use crate::db::{now_ms, Tx};
use crate::error::AppError;
use crate::policy::{decide, Facts, Index, Outcome, Request, RuleKey, Stage};
use crate::state::AppState;

/// Claims an approved request for execution. Exactly once: a conditional
/// update moves it from `approved` to `executing`, so of many concurrent
/// claims one succeeds and the rest get 409. Only requests decided at
/// `act_with_approval` or above are the agent's to carry out. The claim is
/// bound to the payload that was approved: if anything stored differs from
/// it, nothing is claimed.
#[tracing::instrument(skip(state, agent), fields(agent = %agent.name))]
pub async fn claim(
    state: &AppState,
    agent: &Principal,
    id: &str,
) -> Result<ActionDetail, AppError> {
    let action = get_for_agent(state, agent, id).await?;
    match action.stage {
        Stage::ActWithApproval | Stage::ScopedAutonomy => {}
        Stage::Observe | Stage::Draft | Stage::Propose => {
            return Err(AppError::Forbidden(format!(
                "this request was decided at {}: a human carries it out, the agent never claims it",
                action.stage.as_str()
            )))
        }
    }
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // Trust as it is now, not as it was at approval: a demotion since then
    // takes the claim away. The epoch lock orders this with any demotion.
    let index = state.policy.locked(&mut tx).await?;
    let stage_now = index
        .agents
        .get(&agent.agent_id)
        .map(|a| match a.grants.get(&action.capability) {
            Some(Ok(grant)) => grant.stage_for(a.stage),
            // A grant that cannot be read trusts nothing.
            Some(Err(_)) => Stage::Observe,
            None => a.stage,
        })
        .unwrap_or(Stage::Observe);
    if stage_now < Stage::ActWithApproval {
        return Err(AppError::Forbidden(format!(
            "the agent is now at {} for {}: it was demoted since this was approved, so a human carries it out",
            stage_now.as_str(),
            action.capability
        )));
    }
    // The approval covers what was approved, as the policy stands now.
    // (A request no longer approved is explained by the move below.)
    let covered = match action.state {
        RequestState::Approved => still_covered(&mut tx, &index, &action, now).await?,
        _ => Ok(()),
    };
    if let Err(why) = covered {
        audit::record(
            &mut tx,
            audit::Event {
                actor: &Actor::Agent(agent.agent_id.clone()),
                what: "action.claim_refused",
                subject_kind: "action",
                subject_id: id,
                detail: serde_json::json!({ "reason": why }),
            },
        )
        .await?;
        tx.commit().await?;
        return Err(AppError::Conflict(why));
    }
    let claimed = Move::from(&[RequestState::Approved], Some(RequestState::Executing))
        .of_agent(&agent.agent_id)
        .stamp("claimed_at = $1")
        .only_if("stage IN ('act_with_approval', 'scoped_autonomy') AND claim_by > $1")
        .apply(&mut tx, id, now)
        .await?;
    if !claimed {
        drop(tx);
        return Err(store::unmoved(&state.db, id, Some(&agent.agent_id), not_claimable).await);
    }
    let approved = store::approved_hash(&mut tx, id).await?;
    let now_hash = stored_payload_hash(&mut tx, id, None).await?;
    if approved.as_deref() != Some(now_hash.as_str()) {
        tracing::error!(action_id = %id, "stored payload differs from the approved one; claim refused");
        return Err(AppError::Conflict(
            "what is stored for this request differs from what was approved; it needs a new approval"
                .into(),
        ));
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::Agent(agent.agent_id.clone()),
            what: "action.claimed",
            subject_kind: "action",
            subject_id: id,
            detail: serde_json::json!({
                "before": { "state": RequestState::Approved },
                "after": { "state": RequestState::Executing, "payload_hash": now_hash },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    state.notify_changed(id);
    load(&state.db, id).await?.ok_or(AppError::Internal)
}

fn not_claimable(a: &ActionDetail) -> AppError {
    let when = |t: Option<i64>| t.map(crate::db::rfc3339).unwrap_or_default();
    AppError::Conflict(match a.state {
        RequestState::Executing | RequestState::Succeeded | RequestState::Failed => format!(
            "this request was already claimed at {}; an approval is carried out once",
            when(a.claimed_at_ms)
        ),
        RequestState::PendingApproval => "this request is still waiting for approval".into(),
        RequestState::Approved | RequestState::Expired if a.claim_by_ms.is_some() => format!(
            "the approval expired unclaimed at {}: an approval is good for its rule's window; \
             a new request needs a new approval",
            when(a.claim_by_ms)
        ),
        RequestState::Allowed => {
            "this request was allowed outright: carry it out and report the outcome; there is nothing to claim"
                .into()
        }
        other => format!(
            "this request is {}; only an approved request can be claimed",
            other.label()
        ),
    })
}

/// The rule book asked again, now, about what was approved: the agent's
/// status and stage, its grant (present, unexpired, targets and bounds on
/// the approved params, the hourly limit counted by claims), the catalog
/// entry. Anything that would hold the action now and did not hold it when
/// people approved it means the approval no longer covers it (a first use
/// is what the approval was for).
async fn still_covered(
    tx: &mut Tx<'_>,
    index: &Index,
    a: &ActionDetail,
    now: i64,
) -> Result<Result<(), String>, AppError> {
    let agent = index.agents.get(&a.agent_id);
    let limited = agent
        .and_then(|g| g.grants.get(&a.capability))
        .is_some_and(|g| matches!(g, Ok(g) if g.max_per_hour.is_some()));
    let recent = match limited {
        true => {
            Some(crate::policy::store::claimed_recently(tx, &a.agent_id, &a.capability, now).await)
        }
        false => None,
    };
    let req = Request {
        capability: &a.capability,
        target: &a.target,
        params: a.approved_params(),
    };
    let facts = Facts {
        now_ms: now,
        used_before: Ok(true),
        recent,
    };
    let d = decide(&index.policy, agent, &req, &facts);
    if d.outcome == Outcome::Denied {
        return Ok(Err(format!(
            "the approval no longer covers this action: {}",
            d.reasons.join("; ")
        )));
    }
    let new: Vec<&str> = d
        .held_for
        .iter()
        .filter(|k| **k != RuleKey::FirstUse && !a.held_for.contains(k))
        .map(|k| k.as_str())
        .collect();
    if new.is_empty() {
        return Ok(Ok(()));
    }
    // The notes say what changed; the "paused" line and rule names do not.
    let notes: Vec<&str> = d
        .reasons
        .iter()
        .skip(1)
        .filter(|r| !r.starts_with("rule '"))
        .map(String::as_str)
        .collect();
    Ok(Err(format!(
        "the approval no longer covers this action (now also {}): {}",
        new.join(", "),
        notes.join("; ")
    )))
}
