//! Group commit for submissions. Every acknowledged decision must be on disk
//! before the agent hears it, and a disk can only flush so often; so one
//! writer task decides and records whatever submissions are waiting, in one
//! transaction, and answers them all after the single commit. Under load,
//! batches grow; when idle, a batch is one submission and nothing waits.

use super::model::{ActionDetail, EvidenceInfo, State};
use super::submission::Submission;
use crate::agents::store::Principal;
use crate::audit::{self, Actor};
use crate::db::{new_id, now_ms, Db, Tx};
use crate::error::AppError;
use crate::policy::store::{decide_now, PolicyCache};
use crate::policy::{Decision, Outcome, Request, Trigger};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most submissions in one transaction.
const MAX_BATCH: usize = 256;
/// Submissions waiting for the writer; beyond this, callers wait to enqueue
/// (backpressure), so memory and latency stay bounded under overload.
const QUEUE: usize = 1024;

struct Job {
    agent: Principal,
    submission: Submission,
    reply: oneshot::Sender<Result<ActionDetail, AppError>>,
}

#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
}

impl Committer {
    /// Starts the writer task; it ends when the last `Committer` is dropped.
    pub fn start(db: Db, cache: Arc<PolicyCache>) -> Committer {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, cache, rx));
        Committer { jobs }
    }

    /// Decides and durably records one submission.
    pub async fn submit(
        &self,
        agent: Principal,
        submission: Submission,
    ) -> Result<ActionDetail, AppError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            agent,
            submission,
            reply,
        };
        if self.jobs.send(job).await.is_err() {
            tracing::error!("the submission writer has stopped");
            return Err(AppError::Internal);
        }
        // A dropped reply means the writer failed before answering: the
        // agent gets an error, never an unrecorded decision.
        answer.await.unwrap_or(Err(AppError::Internal))
    }
}

async fn run(db: Db, cache: Arc<PolicyCache>, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match commit(&db, &cache, &batch).await {
            Ok(details) => {
                for (job, detail) in batch.drain(..).zip(details) {
                    let _ = job.reply.send(Ok(detail));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(job) = batch.pop() {
                    let _ = job.reply.send(Err(e));
                }
            }
            Err(e) => {
                // One bad submission must not sink the others: retry alone.
                tracing::warn!(error = %e, size = batch.len(), "batch failed; committing one by one");
                for job in batch.drain(..) {
                    let one = commit(&db, &cache, std::slice::from_ref(&job)).await;
                    let _ = job.reply.send(one.map(|mut d| d.remove(0)));
                }
            }
        }
    }
}

async fn commit(db: &Db, cache: &PolicyCache, jobs: &[Job]) -> Result<Vec<ActionDetail>, AppError> {
    let mut tx = db.begin().await?;
    // Take the write lock first (SQLite otherwise starts a read transaction
    // that may fail to upgrade); on PostgreSQL it matches no row and locks nothing.
    sqlx::query("UPDATE policy_epoch SET value = value WHERE id = 0")
        .execute(&mut *tx)
        .await?;
    let index = cache.current(&mut tx).await?;
    let mut details = Vec::with_capacity(jobs.len());
    for job in jobs {
        let s = &job.submission;
        let req = Request {
            capability: &s.capability,
            target: &s.target,
            params: &s.params,
        };
        let decision = decide_now(&mut tx, cache, &index, &job.agent.agent_id, &req).await;
        details.push(record(&mut tx, &job.agent, s, decision).await?);
    }
    tx.commit().await?;
    for d in &details {
        tracing::info!(action_id = %d.id, agent = %d.agent_name, capability = %d.capability,
            decision = d.decision.as_str(), "action submitted");
    }
    Ok(details)
}

/// Writes the request, its evidence and its audit row.
pub async fn record(
    tx: &mut Tx<'_>,
    agent: &Principal,
    s: &Submission,
    d: Decision,
) -> Result<ActionDetail, AppError> {
    let now = now_ms();
    let state = State::after(d.outcome);
    let expires_at = match d.outcome {
        Outcome::PendingApproval => d.ttl_secs.map(|t| now + t * 1000),
        Outcome::Allowed | Outcome::Drafted | Outcome::Denied => None,
    };
    let id = new_id();
    let reasons = serde_json::to_string(&d.reasons).map_err(|_| AppError::Internal)?;
    let rules = serde_json::to_string(&d.rules).map_err(|_| AppError::Internal)?;
    let held_for = d
        .held_for
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(",");
    sqlx::query(
        "INSERT INTO action_requests (id, agent_id, capability, capability_known, target, summary, params, \
           observation, decision, reasons, triggers, stage, policy_version, state, payload_hash, created_at, \
           expires_at, updated_at, held_for, rules, approvals_required) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $16, $18, $19, $20)",
    )
    .bind(&id)
    .bind(&agent.agent_id)
    .bind(&s.capability)
    .bind(i64::from(d.capability_known))
    .bind(&s.target)
    .bind(&s.summary)
    .bind(s.params.to_string())
    .bind(&s.observation)
    .bind(d.outcome.as_str())
    .bind(&reasons)
    .bind(Trigger::join(&d.triggers))
    .bind(d.stage.as_str())
    .bind(d.policy_version)
    .bind(state.as_str())
    .bind(s.payload_hash())
    .bind(now)
    .bind(expires_at)
    .bind(&held_for)
    .bind(&rules)
    .bind(i64::from(d.approvals_required))
    .execute(&mut **tx)
    .await?;
    let mut evidence = Vec::with_capacity(s.evidence.len());
    for e in &s.evidence {
        let info = EvidenceInfo {
            id: new_id(),
            kind: e.kind.to_string(),
            media_type: e.media_type.clone(),
            size_bytes: e.content.len() as i64,
            sha256: e.sha256.clone(),
        };
        sqlx::query(
            "INSERT INTO evidence (id, action_id, kind, media_type, size_bytes, sha256, content, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&info.id)
        .bind(&id)
        .bind(e.kind)
        .bind(&info.media_type)
        .bind(info.size_bytes)
        .bind(&info.sha256)
        .bind(e.content.clone())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        evidence.push(info);
    }
    audit::record(
        tx,
        audit::Event {
            actor: &Actor::Agent(agent.agent_id.clone()),
            what: "action.submitted",
            subject_kind: "action",
            subject_id: &id,
            detail: serde_json::json!({ "after": {
                "capability": s.capability,
                "decision": d.outcome,
                "reasons": d.reasons,
                "policy_version": d.policy_version,
                "stage": d.stage,
                "rules": d.rules,
                "approvals_required": d.approvals_required,
                "state": state,
                "evidence": evidence.len(),
            }}),
        },
    )
    .await?;
    Ok(ActionDetail {
        id,
        agent_id: agent.agent_id.clone(),
        agent_name: agent.name.clone(),
        stage: d.stage,
        capability: s.capability.clone(),
        capability_known: d.capability_known,
        triggers: d.triggers,
        target: s.target.clone(),
        summary: s.summary.clone(),
        params: s.params.clone(),
        observation: s.observation.clone(),
        decision: d.outcome,
        reasons: d.reasons,
        policy_version: d.policy_version,
        held_for: d.held_for,
        rules: d.rules,
        approvals_required: d.approvals_required,
        approved_by: vec![],
        state,
        created_at_ms: now,
        expires_at_ms: expires_at,
        decided_at_ms: None,
        decided_by: None,
        decision_note: None,
        evidence,
    })
}
