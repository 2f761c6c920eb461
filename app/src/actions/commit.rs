//! Group commit for submissions. Every acknowledged decision must be on disk
//! before the agent hears it, and a disk can only flush so often; so one
//! writer task decides and records whatever submissions are waiting, in one
//! transaction, and answers them all after the single commit. Under load,
//! batches grow; when idle, a batch is one submission and nothing waits.

use super::model::{ActionDetail, EvidenceInfo, State};
use super::submission::Submission;
use crate::audit::{self, Actor};
use crate::db::{new_id, now_ms, Db, Tx};
use crate::error::AppError;
use crate::policy::store::{decide_now, PolicyCache};
use crate::policy::{AgentPolicy, AgentStatus, Decision, Index, Outcome, Request, Trigger};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most submissions in one transaction.
const MAX_BATCH: usize = 256;
/// Submissions waiting for the writer; beyond this, callers wait to enqueue
/// (backpressure), so memory and latency stay bounded under overload.
const QUEUE: usize = 1024;

struct Job {
    /// SHA-256 of the bearer key; the key is checked in the writer, against
    /// the same view of agents and keys the decision uses.
    key_hash: String,
    /// Chosen before the first attempt, so a retry can tell whether an
    /// earlier attempt did commit.
    id: String,
    submission: Submission,
    reply: oneshot::Sender<Result<ActionDetail, AppError>>,
}

/// The submitting agent, as the writer authenticated it.
pub struct Submitter<'a> {
    pub agent_id: &'a str,
    pub name: &'a str,
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

    /// Authenticates, decides and durably records one submission.
    pub async fn submit(
        &self,
        key_hash: String,
        submission: Submission,
    ) -> Result<ActionDetail, AppError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            key_hash,
            id: new_id(),
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
        let jobs = std::mem::take(&mut batch);
        // Each batch runs as its own task: should it panic, its callers'
        // replies are dropped (they answer 500) and the writer carries on.
        let done = tokio::spawn(settle(db.clone(), cache.clone(), jobs)).await;
        if let Err(e) = done {
            tracing::error!(error = %e, "a submission batch failed; its callers were answered 500");
        }
    }
}

async fn settle(db: Db, cache: Arc<PolicyCache>, mut jobs: Vec<Job>) {
    // Callers that gave up need no decision recorded.
    jobs.retain(|j| !j.reply.is_closed());
    if jobs.is_empty() {
        return;
    }
    match commit(&db, &cache, &jobs).await {
        Ok(results) => {
            for (job, result) in jobs.into_iter().zip(results) {
                let _ = job.reply.send(result);
            }
        }
        Err(e) => {
            // One bad submission must not sink the others: retry alone.
            tracing::warn!(error = %e, size = jobs.len(), "batch failed; committing one by one");
            for job in jobs {
                if job.reply.is_closed() {
                    continue;
                }
                let one = retry_alone(&db, &cache, &job).await;
                let _ = job.reply.send(one);
            }
        }
    }
}

/// A retry that cannot record twice: if an earlier attempt did commit (the
/// commit's answer was lost), that request is the answer.
async fn retry_alone(db: &Db, cache: &PolicyCache, job: &Job) -> Result<ActionDetail, AppError> {
    if let Some(done) = super::service::load(db, &job.id).await? {
        return Ok(done);
    }
    commit(db, cache, std::slice::from_ref(job))
        .await?
        .remove(0)
}

/// One transaction for the batch. Per-submission refusals (a bad key, a
/// suspended agent) are answered individually; a database error fails the
/// batch and nothing in it is acknowledged.
async fn commit(
    db: &Db,
    cache: &PolicyCache,
    jobs: &[Job],
) -> Result<Vec<Result<ActionDetail, AppError>>, AppError> {
    let mut tx = db.begin().await?;
    // Take the lock every change to the policy also takes, first: on SQLite
    // the write lock (a read transaction may fail to upgrade later), on
    // PostgreSQL the epoch row, so batches from every replica and policy
    // edits apply one at a time, and hourly counts see every earlier batch.
    sqlx::query("UPDATE policy_epoch SET value = value WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    let index = cache.current(&mut tx).await?;
    let now = now_ms();
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        let (agent_id, agent) = match authenticate(&index, &job.key_hash, now) {
            Ok(found) => found,
            Err(refused) => {
                results.push(Err(refused));
                continue;
            }
        };
        let s = &job.submission;
        let req = Request {
            capability: &s.capability,
            target: &s.target,
            params: &s.params,
        };
        let decision = decide_now(&mut tx, cache, &index, agent_id, &req).await;
        let who = Submitter {
            agent_id,
            name: &agent.name,
        };
        results.push(Ok(record(&mut tx, &job.id, &who, s, decision).await?));
    }
    tx.commit().await?;
    for d in results.iter().flatten() {
        tracing::info!(action_id = %d.id, agent = %d.agent_name, capability = %d.capability,
            decision = d.decision.as_str(), "action submitted");
    }
    Ok(results)
}

/// The key, checked against the index: unknown, revoked and expired keys
/// are 401, a suspended agent 403 — before anything is decided.
fn authenticate<'a>(
    index: &'a Index,
    key_hash: &str,
    now: i64,
) -> Result<(&'a str, &'a AgentPolicy), AppError> {
    let key = index
        .keys
        .get(key_hash)
        .ok_or_else(|| AppError::Unauthorized("the API key is not valid".into()))?;
    if key.revoked {
        return Err(AppError::Unauthorized(
            "the API key has been revoked".into(),
        ));
    }
    if key.expires_at_ms.is_some_and(|at| at <= now) {
        return Err(AppError::Unauthorized("the API key has expired".into()));
    }
    let agent = index
        .agents
        .get(&key.agent_id)
        .ok_or_else(|| AppError::Unauthorized("the API key is not valid".into()))?;
    match agent.status {
        AgentStatus::Active => Ok((key.agent_id.as_str(), agent)),
        AgentStatus::Suspended => Err(AppError::Forbidden("the agent is suspended".into())),
    }
}

/// Writes the request, its evidence and its audit row.
pub async fn record(
    tx: &mut Tx<'_>,
    id: &str,
    agent: &Submitter<'_>,
    s: &Submission,
    d: Decision,
) -> Result<ActionDetail, AppError> {
    let now = now_ms();
    let state = State::after(d.outcome);
    let expires_at = match d.outcome {
        Outcome::PendingApproval => d.ttl_secs.map(|t| now + t * 1000),
        Outcome::Allowed | Outcome::Drafted | Outcome::Denied => None,
    };
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
    .bind(id)
    .bind(agent.agent_id)
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
        .bind(id)
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
            actor: &Actor::Agent(agent.agent_id.to_string()),
            what: "action.submitted",
            subject_kind: "action",
            subject_id: id,
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
        id: id.to_string(),
        agent_id: agent.agent_id.to_string(),
        agent_name: agent.name.to_string(),
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
