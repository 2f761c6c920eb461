//! Group commit for submissions. Every acknowledged decision must be on disk
//! before the agent hears it, and a disk can only flush so often; so one
//! writer task decides and records whatever submissions are waiting, in one
//! transaction, and answers them all after the single commit. Under load,
//! batches grow; when idle, a batch is one submission and nothing waits.

use super::idempotency;
use super::model::{ActionDetail, EvidenceInfo, State};
use super::submission::Submission;
use crate::audit::{self, Actor};
use crate::db::{new_id, now_ms, Db, Tx};
use crate::error::AppError;
use crate::policy::store::{decide_now, PolicyCache};
use crate::policy::{Decision, Outcome, Request, RuleKey, Trigger};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

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
    /// The agent's `Idempotency-Key`, if it sent one.
    idempotency_key: Option<String>,
    reply: oneshot::Sender<Result<Submitted, AppError>>,
}

/// The writer's answer: the request, and whether it was recorded earlier
/// under the same `Idempotency-Key` (a replay records nothing new).
#[derive(Debug)]
pub struct Submitted {
    pub action: ActionDetail,
    pub replayed: bool,
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
    /// New pending requests are announced on `changes` (the live queue).
    pub fn start(db: Db, cache: Arc<PolicyCache>, changes: broadcast::Sender<String>) -> Committer {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, cache, changes, rx));
        Committer { jobs }
    }

    /// Authenticates, decides and durably records one submission.
    pub async fn submit(
        &self,
        key_hash: String,
        submission: Submission,
        idempotency_key: Option<String>,
    ) -> Result<Submitted, AppError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            key_hash,
            id: new_id(),
            submission,
            idempotency_key,
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

async fn run(
    db: Db,
    cache: Arc<PolicyCache>,
    changes: broadcast::Sender<String>,
    mut rx: mpsc::Receiver<Job>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        // Each batch runs as its own task: should it panic, its callers'
        // replies are dropped (they answer 500) and the writer carries on.
        let done = tokio::spawn(settle(db.clone(), cache.clone(), changes.clone(), jobs)).await;
        if let Err(e) = done {
            tracing::error!(error = %e, "a submission batch failed; its callers were answered 500");
        }
    }
}

async fn settle(
    db: Db,
    cache: Arc<PolicyCache>,
    changes: broadcast::Sender<String>,
    mut jobs: Vec<Job>,
) {
    // Callers that gave up need no decision recorded.
    jobs.retain(|j| !j.reply.is_closed());
    if jobs.is_empty() {
        return;
    }
    match commit(&db, &cache, &jobs).await {
        Ok(results) => {
            for (job, result) in jobs.into_iter().zip(results) {
                if let Ok(done) = &result {
                    if !done.replayed && done.action.state == State::PendingApproval {
                        // Nobody watching the queue is fine.
                        let _ = changes.send(done.action.id.clone());
                    }
                }
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
async fn retry_alone(db: &Db, cache: &PolicyCache, job: &Job) -> Result<Submitted, AppError> {
    if let Some(action) = super::service::load(db, &job.id).await? {
        return Ok(Submitted {
            action,
            replayed: false,
        });
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
) -> Result<Vec<Result<Submitted, AppError>>, AppError> {
    let mut tx = db.begin().await?;
    // Take the lock every change to the policy also takes, first: on SQLite
    // the write lock (a read transaction may fail to upgrade later), on
    // PostgreSQL the epoch row, so batches from every replica and policy
    // edits apply one at a time, and hourly counts see every earlier batch.
    let index = cache.locked(&mut tx).await?;
    let now = now_ms();
    // Hourly limits count this batch's earlier requests too: they are not
    // written until the whole batch is decided.
    let mut in_batch: HashMap<(&str, &str), u32> = HashMap::new();
    // Idempotency keys first used in this batch: (agent, key) → (hash, slot).
    let mut keys_in_batch: HashMap<(&str, &str), (String, usize)> = HashMap::new();
    let mut slots: Vec<Slot> = Vec::with_capacity(jobs.len());
    let mut prepared = Vec::with_capacity(jobs.len());
    let mut new_keys = Vec::new();
    for job in jobs {
        let (agent_id, agent) = match index.authenticate(&job.key_hash, now) {
            Ok(found) => found,
            Err(refused) => {
                slots.push(Slot::Refused(refused));
                continue;
            }
        };
        let s = &job.submission;
        if let Some(key) = job.idempotency_key.as_deref() {
            let hash = s.payload_hash();
            let seen = match keys_in_batch.get(&(agent_id, key)) {
                Some((h, slot)) => Some((h.clone(), Earlier::InBatch(*slot))),
                None => idempotency::find(&mut tx, agent_id, key)
                    .await?
                    .map(|(h, id)| (h, Earlier::Stored(id))),
            };
            match seen {
                Some((h, earlier)) if h == hash => {
                    slots.push(Slot::Replay(earlier));
                    continue;
                }
                Some(_) => {
                    slots.push(Slot::Refused(idempotency::reused()));
                    continue;
                }
                None => {
                    keys_in_batch.insert((agent_id, key), (hash.clone(), prepared.len()));
                    new_keys.push(idempotency::NewKey {
                        agent_id: agent_id.to_string(),
                        key: key.to_string(),
                        hash,
                        action_id: job.id.clone(),
                    });
                }
            }
        }
        let req = Request {
            capability: &s.capability,
            target: &s.target,
            params: &s.params,
        };
        let earlier = in_batch
            .entry((agent_id, s.capability.as_str()))
            .or_default();
        let decision = decide_now(&mut tx, cache, &index, agent_id, &req, *earlier).await;
        if matches!(
            decision.outcome,
            Outcome::Allowed | Outcome::PendingApproval
        ) {
            *earlier += 1;
        }
        let who = Submitter {
            agent_id,
            name: &agent.name,
        };
        slots.push(Slot::New(prepared.len()));
        prepared.push(prepare(&job.id, &who, s, decision, now));
    }
    write(&mut tx, &prepared, index.spot_check_pct).await?;
    count(&mut tx, &prepared).await?;
    idempotency::remember(&mut tx, &new_keys, now).await?;
    tx.commit().await?;
    let details: Vec<ActionDetail> = prepared.into_iter().map(|p| p.detail).collect();
    let mut answers = Vec::with_capacity(slots.len());
    for slot in slots {
        answers.push(match slot {
            Slot::Refused(e) => Err(e),
            Slot::New(i) => {
                let d = details[i].clone();
                tracing::info!(action_id = %d.id, agent = %d.agent_name, capability = %d.capability,
                    decision = d.decision.as_str(), "action submitted");
                Ok(Submitted {
                    action: d,
                    replayed: false,
                })
            }
            Slot::Replay(Earlier::InBatch(i)) => Ok(Submitted {
                action: details[i].clone(),
                replayed: true,
            }),
            Slot::Replay(Earlier::Stored(id)) => match super::service::load(db, &id).await {
                Ok(Some(action)) => Ok(Submitted {
                    action,
                    replayed: true,
                }),
                Ok(None) => Err(AppError::Internal),
                Err(e) => Err(e),
            },
        });
    }
    Ok(answers)
}

/// What each job in a batch gets.
enum Slot {
    New(usize),
    Replay(Earlier),
    Refused(AppError),
}

/// Where the request an `Idempotency-Key` first made is.
enum Earlier {
    InBatch(usize),
    Stored(String),
}

/// A decided submission, ready to be written.
struct Prepared<'a> {
    detail: ActionDetail,
    /// Orders the approval queue.
    risk: i64,
    submission: &'a Submission,
}

/// The request as it will be stored and answered (evidence ids included).
fn prepare<'a>(
    id: &str,
    agent: &Submitter<'_>,
    s: &'a Submission,
    d: Decision,
    now: i64,
) -> Prepared<'a> {
    let state = State::after(d.outcome);
    let risk = d.risk();
    let expires_at = match d.outcome {
        Outcome::PendingApproval => d.ttl_secs.map(|t| now + t * 1000),
        Outcome::Allowed | Outcome::Drafted | Outcome::Denied => None,
    };
    let evidence = s
        .evidence
        .iter()
        .map(|e| EvidenceInfo {
            id: new_id(),
            kind: e.kind.to_string(),
            media_type: e.media_type.clone(),
            size_bytes: e.content.len() as i64,
            sha256: e.sha256.clone(),
            phase: "request".into(),
        })
        .collect();
    let detail = ActionDetail {
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
        sponsor: None,
        payload_hash: s.payload_hash(),
        edited_params: None,
        correction: None,
        claimed_at_ms: None,
        outcome_at_ms: None,
        outcome_detail: None,
        incident: false,
    };
    Prepared {
        detail,
        risk,
        submission: s,
    }
}

/// Rows per multi-row INSERT. SQLite looks bound parameters up by name in
/// a list, so very long statements cost more per row than they save.
const ROWS_PER_INSERT: usize = 16;

/// Writes the requests, their evidence and their audit rows, a few dozen
/// rows per statement.
async fn write(
    tx: &mut Tx<'_>,
    items: &[Prepared<'_>],
    spot_check_pct: i64,
) -> Result<(), AppError> {
    const COLUMNS: usize = 23;
    for chunk in items.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO action_requests (id, agent_id, capability, capability_known, target, summary, params, \
               observation, decision, reasons, triggers, stage, policy_version, state, payload_hash, created_at, \
               expires_at, updated_at, held_for, rules, approvals_required, risk, held_mask, spot_check) VALUES {}",
            values(chunk.len(), COLUMNS, |n| format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                n + 1, n + 2, n + 3, n + 4, n + 5, n + 6, n + 7, n + 8, n + 9, n + 10, n + 11, n + 12, n + 13,
                n + 14, n + 15, n + 16, n + 17, n + 16, n + 18, n + 19, n + 20, n + 21, n + 22, n + 23
            ))
        );
        let mut q = sqlx::query(&sql);
        for item in chunk {
            let a = &item.detail;
            q = q
                .bind(a.id.clone())
                .bind(a.agent_id.clone())
                .bind(a.capability.clone())
                .bind(i64::from(a.capability_known))
                .bind(a.target.clone())
                .bind(a.summary.clone())
                .bind(a.params.to_string())
                .bind(a.observation.clone())
                .bind(a.decision.as_str())
                .bind(serde_json::to_string(&a.reasons).map_err(|_| AppError::Internal)?)
                .bind(Trigger::join(&a.triggers))
                .bind(a.stage.as_str())
                .bind(a.policy_version)
                .bind(a.state.as_str())
                .bind(a.payload_hash.clone())
                .bind(a.created_at_ms)
                .bind(a.expires_at_ms)
                .bind(
                    a.held_for
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                )
                .bind(serde_json::to_string(&a.rules).map_err(|_| AppError::Internal)?)
                .bind(i64::from(a.approvals_required))
                .bind(item.risk)
                .bind(RuleKey::mask(&a.held_for))
                // A share of what runs without a person is looked at after.
                .bind(
                    (a.decision == Outcome::Allowed
                        && crate::trust::spot::sampled(&a.id, spot_check_pct))
                    .then_some("pending"),
                );
        }
        q.execute(&mut **tx).await?;
    }
    for item in items {
        for (info, e) in item.detail.evidence.iter().zip(&item.submission.evidence) {
            sqlx::query(
                "INSERT INTO evidence (id, action_id, kind, media_type, size_bytes, sha256, content, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&info.id)
            .bind(&item.detail.id)
            .bind(e.kind)
            .bind(&info.media_type)
            .bind(info.size_bytes)
            .bind(&info.sha256)
            .bind(e.content.clone())
            .bind(item.detail.created_at_ms)
            .execute(&mut **tx)
            .await?;
        }
    }
    let actors: Vec<Actor> = items
        .iter()
        .map(|i| Actor::Agent(i.detail.agent_id.clone()))
        .collect();
    let events = items
        .iter()
        .zip(&actors)
        .map(|(item, actor)| {
            let a = &item.detail;
            audit::Event {
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
            }
        })
        .collect::<Vec<_>>();
    audit::record_many(tx, events).await
}

/// The batch's rollup counts, in one statement, in the same transaction.
async fn count(tx: &mut Tx<'_>, items: &[Prepared<'_>]) -> Result<(), AppError> {
    use crate::trust::rollup::{self, Counts};
    #[cfg(feature = "bench-knobs")]
    if !rollup::KEEP.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(());
    }
    let changes = items.iter().map(|item| {
        let a = &item.detail;
        let mut c = Counts {
            submitted: 1,
            ..Counts::default()
        };
        match a.decision {
            Outcome::Allowed => c.allowed = 1,
            Outcome::PendingApproval => c.held = 1,
            Outcome::Drafted => c.drafted = 1,
            Outcome::Denied => c.denied = 1,
        }
        (a.agent_id.clone(), a.capability.clone(), a.created_at_ms, c)
    });
    rollup::add_many(tx, changes).await
}

/// `rows` groups of placeholders, each numbered from `n` = row × `columns`.
fn values(rows: usize, columns: usize, row: impl Fn(usize) -> String) -> String {
    (0..rows)
        .map(|r| row(r * columns))
        .collect::<Vec<_>>()
        .join(", ")
}
