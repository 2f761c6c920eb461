//! Claiming an approved request: exactly once, within the approval's
//! window, and only while the approval still covers the action as the
//! policy stands now.

use super::model::{ActionDetail, RequestState};
use super::service::get_for_agent;
use super::store::{self, load, Move};
use super::submission::StoredPayload;
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
    // The row is this claim's now: ask the rule book about exactly what was
    // approved (the params as they stand, read in this transaction), as the
    // policy stands.
    let payload = StoredPayload::read(&mut tx, id).await?;
    if let Err(why) = still_covered(&mut tx, &index, &action, &payload.params, now).await? {
        // Nothing is claimed; the refusal is recorded on its own.
        drop(tx);
        let mut tx = state.db.begin().await?;
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
        state.metrics.claim("refused");
        return Err(AppError::Conflict(why));
    }
    let approved = store::approved_hash(&mut tx, id).await?;
    let now_hash = payload.hash(None);
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
    state.metrics.claim("claimed");
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
/// the approved params), the catalog entry and rating, and the hourly limit
/// counted by claims. Anything that would hold the action now and did not
/// hold it when people approved it (a reason, or a scope finding, they did
/// not see) means the approval no longer covers it; a first use is what
/// the approval was for.
async fn still_covered(
    tx: &mut Tx<'_>,
    index: &Index,
    a: &ActionDetail,
    approved: &serde_json::Value,
    now: i64,
) -> Result<Result<(), String>, AppError> {
    if index.policy.rules.is_err() {
        return Ok(Err(
            "the policy cannot be read right now, so the approval cannot be checked against it; try again"
                .into(),
        ));
    }
    let cap = &a.capability;
    let agent = index.agents.get(&a.agent_id);
    // The limit counts what ran (claims and outright allows), whatever
    // held the request: approvals banked earlier cannot all run at once.
    let limit = agent
        .and_then(|g| g.grants.get(cap))
        .and_then(|g| g.as_ref().ok())
        .and_then(|g| g.max_per_hour);
    if let Some(max) = limit {
        match crate::policy::facts::claimed_recently(tx, &a.agent_id, cap, &a.id, now).await {
            Ok(n) if n < max => {}
            Ok(n) => {
                return Ok(Err(format!(
                    "over the hourly limit at claim time: {n} {cap} requests ran in the last hour; the grant allows {max}"
                )))
            }
            Err(why) => {
                return Ok(Err(format!(
                    "could not count the {cap} requests that ran in the last hour ({why})"
                )))
            }
        }
    }
    let req = Request {
        capability: cap,
        target: &a.target,
        params: approved,
    };
    let facts = Facts {
        now_ms: now,
        used_before: Ok(true),
        // Checked above, by claims.
        recent: Some(Ok(0)),
    };
    let d = decide(&index.policy, agent, &req, &facts);
    if d.outcome == Outcome::Denied {
        return Ok(Err(format!(
            "the approval no longer covers this action: {}",
            d.reasons.join("; ")
        )));
    }
    let mut changed: Vec<String> = d
        .held_for
        .iter()
        .filter(|k| !matches!(k, RuleKey::FirstUse | RuleKey::OutOfScope))
        .filter(|k| !a.held_for.contains(k))
        .map(|k| format!("now also held for {}", k.as_str()))
        .collect();
    // Every scope finding is under one key; the findings themselves say
    // what people saw (an edit never adds one: see `review::check_edit`).
    changed.extend(
        d.reasons
            .iter()
            .filter(|r| r.starts_with("out of scope:") && !a.reasons.contains(r))
            .cloned(),
    );
    if changed.is_empty() {
        return Ok(Ok(()));
    }
    Ok(Err(format!(
        "the approval no longer covers this action: {}",
        changed.join("; ")
    )))
}
