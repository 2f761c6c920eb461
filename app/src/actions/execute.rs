//! The agent's side after the decision: add evidence while a request waits,
//! report the outcome (claiming is `claim.rs`).

use super::model::{ActionDetail, RequestState};
use super::service::get_for_agent;
use super::store::{self, load, Hash, Move};
use super::submission::stored_payload_hash;
use crate::audit::{self, Actor};
use crate::auth::agent::Principal;
use crate::db::{new_id, now_ms, Tx, Unflushed};
use crate::error::AppError;
use crate::evidence::parse::{check_total, Evidence, MAX_EVIDENCE_ITEMS};
use crate::state::AppState;
use crate::trust::rollup::{self, Counts};

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
    let action = reportable(state, agent, id, &report).await?;
    let mut tx = state.db.begin().await?;
    record(state, &mut tx, agent, &action, &report).await?;
    tx.commit().await?;
    state.metrics.outcome(report.succeeded, report.incident);
    state.notify_changed(id);
    load(&state.db, id).await?.ok_or(AppError::Internal)
}

/// `outcome` for a call Belay carried out itself (the MCP gateway's),
/// recorded after the agent has its answer, and committed without waiting
/// for the disk: the claim before the call was durable, and a second flush
/// would hold the write lock (and so the next decision) for as long again.
/// Once committed it survives Belay stopping or crashing; a power loss (or
/// a PostgreSQL crash) moments later may undo it, leaving the request
/// `executing`, until the next durable commit, which carries it too.
#[tracing::instrument(skip(state, agent, report), fields(agent = %agent.name))]
pub async fn outcome_unflushed(
    state: &AppState,
    agent: &Principal,
    id: &str,
    report: Report,
) -> Result<(), AppError> {
    let action = reportable(state, agent, id, &report).await?;
    let mut conn = Unflushed::acquire(&state.db).await?;
    let sqlite = conn.sqlite;
    let mut tx = conn.begin().await?;
    if !sqlite {
        // PostgreSQL: for this transaction only.
        sqlx::query("SET LOCAL synchronous_commit TO OFF")
            .execute(&mut *tx)
            .await?;
    }
    record(state, &mut tx, agent, &action, &report).await?;
    tx.commit().await?;
    conn.restore().await?;
    state.metrics.outcome(report.succeeded, report.incident);
    state.notify_changed(id);
    Ok(())
}

/// The request, if an outcome may be reported for it at all.
async fn reportable(
    state: &AppState,
    agent: &Principal,
    id: &str,
    report: &Report,
) -> Result<ActionDetail, AppError> {
    if report.incident && report.succeeded {
        return Err(AppError::validation(
            "an incident is reported with a failed outcome",
        ));
    }
    get_for_agent(state, agent, id).await
}

/// The outcome's writes, in the caller's transaction (not committed).
async fn record(
    state: &AppState,
    tx: &mut Tx<'_>,
    agent: &Principal,
    action: &ActionDetail,
    report: &Report,
) -> Result<(), AppError> {
    let id = action.id.as_str();
    let next = if report.succeeded {
        RequestState::Succeeded
    } else {
        RequestState::Failed
    };
    let now = now_ms();
    if report.incident {
        // An incident lowers the capability's stage below (see the end), and
        // every change the decision reads takes the epoch lock first.
        crate::policy::store::bump_epoch(tx).await?;
    }
    let reported = Move::from(
        &[RequestState::Executing, RequestState::Allowed],
        Some(next),
    )
    .of_agent(&agent.agent_id)
    .stamp("outcome_at = $1")
    .set("outcome_detail", report.details.clone())
    .apply(tx, id, now)
    .await?;
    if !reported {
        // The caller's transaction rolls back when dropped.
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
    let bytes = report.evidence.iter().map(|e| e.content.len()).sum();
    crate::quota::store::charge_evidence_of(state, tx, &agent.agent_id, bytes, now).await?;
    crate::evidence::store::insert(tx, id, "outcome", &pieces, now).await?;
    // A spot check may have flagged it already: an incident counts once.
    let new_incident = report.incident && crate::trust::spot::flag_incident(tx, id).await?;
    let counts = Counts {
        succeeded: i64::from(report.succeeded),
        failed: i64::from(!report.succeeded),
        incidents: i64::from(new_incident),
        ..Counts::default()
    };
    rollup::add(
        tx,
        &agent.agent_id,
        &action.capability,
        action.created_at_ms,
        &counts,
    )
    .await?;
    if report.incident {
        let why = format!("an incident was reported on request {id}");
        crate::trust::lower::lower_capability(
            tx,
            &agent.agent_id,
            &action.capability,
            "incident",
            &why,
        )
        .await?;
    }
    audit::record(
        tx,
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
    .await
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
    // The same pieces would fit another request: its state conflicts (409).
    if count + pieces.len() > MAX_EVIDENCE_ITEMS {
        return Err(AppError::Conflict(format!(
            "an action holds at most {MAX_EVIDENCE_ITEMS} pieces of evidence; it has {count}"
        )));
    }
    check_total(bytes, &pieces)?;
    let ids: Vec<String> = pieces.iter().map(|_| new_id()).collect();
    let stored: Vec<(&str, &Evidence)> = ids.iter().map(String::as_str).zip(&pieces).collect();
    let bytes = pieces.iter().map(|e| e.content.len()).sum();
    crate::quota::store::charge_evidence_of(state, &mut tx, &agent.agent_id, bytes, now).await?;
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
