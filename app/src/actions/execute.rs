//! The agent's side after the decision: add evidence while a request waits,
//! claim an approved request exactly once, report the outcome.

use super::model::{ActionDetail, RequestState};
use super::service::get_for_agent;
use super::store::{self, load, stored_payload_hash, Hash, Move};
use crate::audit::{self, Actor};
use crate::auth::agent::Principal;
use crate::db::{new_id, now_ms};
use crate::error::AppError;
use crate::evidence::parse::{check_total, Evidence, MAX_EVIDENCE_ITEMS};
use crate::policy::Stage;
use crate::state::AppState;
use crate::trust::rollup::{self, Counts};

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
        .only_if("stage IN ('act_with_approval', 'scoped_autonomy')")
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

/// What an agent reports after carrying out a request.
#[derive(Debug)]
pub struct Report {
    pub succeeded: bool,
    pub details: Option<String>,
    /// A failure that harmed something (issue 5 demotes on these).
    pub incident: bool,
    pub evidence: Vec<Evidence>,
}

/// Records the outcome of a claimed (or outright allowed) request, once.
#[tracing::instrument(skip(state, agent, report), fields(agent = %agent.name))]
pub async fn outcome(
    state: &AppState,
    agent: &Principal,
    id: &str,
    report: Report,
) -> Result<ActionDetail, AppError> {
    if report.incident && report.succeeded {
        return Err(AppError::validation(
            "an incident is reported with a failed outcome",
        ));
    }
    let action = get_for_agent(state, agent, id).await?;
    let next = if report.succeeded {
        RequestState::Succeeded
    } else {
        RequestState::Failed
    };
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    if report.incident {
        // An incident lowers the capability's stage below (see the end), and
        // every change the decision reads takes the epoch lock first.
        crate::policy::store::bump_epoch(&mut tx).await?;
    }
    let reported = Move::from(
        &[RequestState::Executing, RequestState::Allowed],
        Some(next),
    )
    .of_agent(&agent.agent_id)
    .stamp("outcome_at = $1")
    .set("outcome_detail", report.details.clone())
    .apply(&mut tx, id, now)
    .await?;
    if !reported {
        drop(tx);
        return Err(
            store::unmoved(&state.db, id, Some(&agent.agent_id), |current| {
                AppError::Conflict(match current.state {
                    RequestState::Succeeded | RequestState::Failed => format!(
                        "the outcome was already reported ({}); it is final",
                        current.state.label()
                    ),
                    RequestState::Approved => {
                        "claim the request before reporting its outcome".into()
                    }
                    other => format!(
                "this request is {}; an outcome is reported for a claimed or allowed request",
                other.label()
            ),
                })
            })
            .await,
        );
    }
    let ids: Vec<String> = report.evidence.iter().map(|_| new_id()).collect();
    let pieces: Vec<(&str, &Evidence)> = ids
        .iter()
        .map(String::as_str)
        .zip(&report.evidence)
        .collect();
    crate::evidence::store::insert(&mut tx, id, "outcome", &pieces, now).await?;
    // A spot check may have flagged it already: an incident counts once.
    let new_incident = report.incident && crate::trust::spot::flag_incident(&mut tx, id).await?;
    let counts = Counts {
        succeeded: i64::from(report.succeeded),
        failed: i64::from(!report.succeeded),
        incidents: i64::from(new_incident),
        ..Counts::default()
    };
    rollup::add(
        &mut tx,
        &agent.agent_id,
        &action.capability,
        action.created_at_ms,
        &counts,
    )
    .await?;
    if report.incident {
        let why = format!("an incident was reported on request {id}");
        crate::trust::lower::lower_capability(
            &mut tx,
            &agent.agent_id,
            &action.capability,
            "incident",
            &why,
        )
        .await?;
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::Agent(agent.agent_id.clone()),
            what: if report.succeeded {
                "action.succeeded"
            } else {
                "action.failed"
            },
            subject_kind: "action",
            subject_id: id,
            detail: serde_json::json!({
                "before": { "state": action.state },
                "after": { "state": next, "details": report.details,
                           "incident": report.incident, "evidence": report.evidence.len() },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    state.notify_changed(id);
    load(&state.db, id).await?.ok_or(AppError::Internal)
}

/// Adds evidence to a request that is still waiting. The payload changes,
/// so approvals given before no longer count: reviewers approve what they
/// saw, and now there is more to see.
#[tracing::instrument(skip(state, agent, pieces), fields(agent = %agent.name, pieces = pieces.len()))]
pub async fn add_evidence(
    state: &AppState,
    agent: &Principal,
    id: &str,
    pieces: Vec<Evidence>,
) -> Result<ActionDetail, AppError> {
    if pieces.is_empty() {
        return Err(AppError::validation(
            "send at least one piece of evidence (a multipart part named by its type)",
        ));
    }
    get_for_agent(state, agent, id).await?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let open = Move::from(&[RequestState::PendingApproval], None)
        .of_agent(&agent.agent_id)
        .apply(&mut tx, id, now)
        .await?;
    if !open {
        drop(tx);
        return Err(
            store::unmoved(&state.db, id, Some(&agent.agent_id), |current| {
                AppError::Conflict(format!(
                    "evidence can be added only while a request waits for approval; this one is {}",
                    current.state.label()
                ))
            })
            .await,
        );
    }
    let (count, bytes) = crate::evidence::store::held(&mut tx, id).await?;
    if count + pieces.len() > MAX_EVIDENCE_ITEMS {
        return Err(AppError::validation(format!(
            "an action holds at most {MAX_EVIDENCE_ITEMS} pieces of evidence; it has {count}"
        )));
    }
    check_total(bytes, &pieces)?;
    let ids: Vec<String> = pieces.iter().map(|_| new_id()).collect();
    let stored: Vec<(&str, &Evidence)> = ids.iter().map(String::as_str).zip(&pieces).collect();
    crate::evidence::store::insert(&mut tx, id, "request", &stored, now).await?;
    let hash = stored_payload_hash(&mut tx, id, None).await?;
    store::set_hash(&mut tx, id, Hash::Payload, &hash).await?;
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::Agent(agent.agent_id.clone()),
            what: "action.evidence_added",
            subject_kind: "action",
            subject_id: id,
            detail: serde_json::json!({
                "after": {
                    "evidence": pieces.iter().map(|e| serde_json::json!({
                        "type": e.kind, "media_type": e.media_type, "sha256": e.sha256,
                    })).collect::<Vec<_>>(),
                    "payload_hash": hash,
                },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    state.notify_changed(id);
    load(&state.db, id).await?.ok_or(AppError::Internal)
}
