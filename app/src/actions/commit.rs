//! Group commit for submissions. Every acknowledged decision must be on disk
//! before the agent hears it, and a disk can only flush so often; so one
//! writer task decides and records whatever submissions are waiting, in one
//! transaction, and answers them all after the single commit. Under load,
//! batches grow; when idle, a batch is one submission and nothing waits.
//! A batch authenticates each submission, decides it against one
//! consistent view of the policy, then writes every request, its evidence,
//! audit row and rollup counts together.

use super::idempotency;
use super::model::{ActionDetail, RequestState};
use super::store::{self, NewRequest};
use super::submission::Submission;
use crate::db::{new_id, now_ms, Db, Tx};
use crate::error::AppError;
use crate::policy::facts::decide_now;
use crate::policy::store::PolicyCache;
use crate::policy::{Outcome, Request};
use crate::quota::limits::Limits;
use crate::quota::usage::Usage;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most submissions in one transaction.
const MAX_BATCH: usize = 256;
/// Submissions waiting for the writer; beyond this, callers wait to enqueue
/// (backpressure), so memory and latency stay bounded under overload.
const QUEUE: usize = 1024;

struct Job {
    entry: Entry,
    reply: oneshot::Sender<Result<Submitted, AppError>>,
}

#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
}

impl Committer {
    /// Starts the writer task; it ends when the last `Committer` is dropped.
    /// New pending requests are announced on the state's `changes` (the
    /// live queue).
    pub fn start(state: &crate::state::AppState) -> Committer {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let writer = Writer {
            db: state.db.clone(),
            cache: state.policy.clone(),
            changes: state.changes.clone(),
            quotas: state.settings.quotas,
            usage: state.quota.clone(),
            metrics: state.metrics.clone(),
        };
        tokio::spawn(run(writer, rx));
        Committer { jobs }
    }

    /// Authenticates, decides and durably records one submission.
    pub async fn submit(
        &self,
        key_hash: String,
        submission: Submission,
        idempotency_key: Option<String>,
    ) -> Result<Submitted, AppError> {
        self.send(Entry {
            key_hash,
            id: new_id(),
            submission,
            idempotency_key,
            claim: false,
        })
        .await
    }

    /// `submit` for a call Belay carries out itself at once (the MCP
    /// gateway's): if allowed, it is also claimed (`executing`) in the same
    /// durable commit, so the record says it was handed on before it is,
    /// and no second commit stands between the decision and the call.
    pub async fn submit_and_claim(
        &self,
        key_hash: String,
        submission: Submission,
    ) -> Result<Submitted, AppError> {
        self.send(Entry {
            key_hash,
            id: new_id(),
            submission,
            idempotency_key: None,
            claim: true,
        })
        .await
    }

    async fn send(&self, entry: Entry) -> Result<Submitted, AppError> {
        let (reply, answer) = oneshot::channel();
        let job = Job { entry, reply };
        if self.jobs.send(job).await.is_err() {
            tracing::error!("the submission writer has stopped");
            return Err(AppError::Internal);
        }
        // A dropped reply means the writer failed before answering: the
        // agent gets an error, never an unrecorded decision.
        answer.await.unwrap_or(Err(AppError::Internal))
    }
}

/// What the writer task holds.
#[derive(Clone)]
struct Writer {
    db: Db,
    cache: Arc<PolicyCache>,
    changes: Arc<crate::replicas::feed::ChangeFeed>,
    /// The default quotas; each agent's own are in the index.
    quotas: Limits,
    usage: Arc<Usage>,
    metrics: Arc<crate::ops::metrics::Metrics>,
}

async fn run(writer: Writer, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        // Each batch runs as its own task: should it panic, its callers'
        // replies are dropped (they answer 500) and the writer carries on.
        let done = tokio::spawn(settle(writer.clone(), jobs)).await;
        if let Err(e) = done {
            tracing::error!(error = %e, "a submission batch failed; its callers were answered 500");
        }
    }
}

async fn settle(w: Writer, mut jobs: Vec<Job>) {
    // Callers that gave up need no decision recorded.
    jobs.retain(|j| !j.reply.is_closed());
    if jobs.is_empty() {
        return;
    }
    let entries: Vec<&Entry> = jobs.iter().map(|j| &j.entry).collect();
    match commit(&w, &entries).await {
        Ok(results) => {
            for (job, result) in jobs.into_iter().zip(results) {
                if let Ok(done) = &result {
                    if !done.replayed && done.action.state == RequestState::PendingApproval {
                        w.changes.send(done.action.id.clone());
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
                let one = retry_alone(&w, &job).await;
                let _ = job.reply.send(one);
            }
        }
    }
}

/// A retry that cannot record twice: if an earlier attempt did commit (the
/// commit's answer was lost), that request is the answer.
async fn retry_alone(w: &Writer, job: &Job) -> Result<Submitted, AppError> {
    if let Some(action) = store::load(&w.db, &job.entry.id).await? {
        return Ok(Submitted {
            action,
            replayed: false,
        });
    }
    commit(w, &[&job.entry]).await?.remove(0)
}

/// One submission, as the writer receives it.
pub struct Entry {
    /// SHA-256 of the bearer key; the key is checked in the writer, against
    /// the same view of agents and keys the decision uses.
    pub key_hash: String,
    /// Chosen before the first attempt, so a retry can tell whether an
    /// earlier attempt did commit.
    pub id: String,
    pub submission: Submission,
    /// The agent's `Idempotency-Key`, if it sent one.
    pub idempotency_key: Option<String>,
    /// Claim it in the same commit if it is allowed (`submit_and_claim`).
    pub claim: bool,
}

/// The writer's answer: the request, and whether it was recorded earlier
/// under the same `Idempotency-Key` (a replay records nothing new).
#[derive(Debug)]
pub struct Submitted {
    pub action: ActionDetail,
    pub replayed: bool,
}

/// One transaction for the batch. Per-submission refusals (a bad key, a
/// suspended agent) are answered individually; a database error fails the
/// batch and nothing in it is acknowledged.
async fn commit(w: &Writer, jobs: &[&Entry]) -> Result<Vec<Result<Submitted, AppError>>, AppError> {
    let (db, cache) = (&w.db, &*w.cache);
    let began = std::time::Instant::now();
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
    let mut quotas = crate::quota::store::Batch::new(w.quotas, &w.usage);
    for job in jobs {
        let (agent_id, agent) = match index.authenticate(&job.key_hash, now) {
            Ok(found) => found,
            Err(refused) => {
                slots.push(Slot::Refused(refused));
                continue;
            }
        };
        let s = &job.submission;
        // A key first used now is remembered only if the submission is
        // admitted; a replay answers even past a quota (it adds nothing).
        let mut first_use = None;
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
                None => first_use = Some((key, hash)),
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
        let waits = decision.outcome == Outcome::PendingApproval;
        let evidence: usize = s.evidence.iter().map(|e| e.content.len()).sum();
        if let Err(refused) = quotas
            .admit(
                &mut tx,
                (agent_id, &agent.quotas),
                waits,
                evidence as u64,
                now,
            )
            .await?
        {
            slots.push(Slot::Refused(refused));
            continue;
        }
        if let Some((key, hash)) = first_use {
            keys_in_batch.insert((agent_id, key), (hash.clone(), prepared.len()));
            new_keys.push(idempotency::NewKey {
                agent_id: agent_id.to_string(),
                key: key.to_string(),
                hash,
                action_id: job.id.clone(),
            });
        }
        if matches!(
            decision.outcome,
            Outcome::Allowed | Outcome::PendingApproval
        ) {
            *earlier += 1;
        }
        slots.push(Slot::New(prepared.len()));
        let risk = decision.risk();
        let mut detail = s.decided(&job.id, (agent_id, &agent.name), decision, now);
        if job.claim && detail.state == RequestState::Allowed {
            detail.state = RequestState::Executing;
            detail.claimed_at_ms = Some(now);
        }
        prepared.push(Prepared {
            risk,
            detail,
            submission: s,
        });
    }
    write(&mut tx, &prepared, index.spot_check_pct).await?;
    let decided: Vec<_> = prepared
        .iter()
        .map(|p| {
            let a = &p.detail;
            (
                a.agent_id.as_str(),
                a.capability.as_str(),
                a.created_at_ms,
                a.decision,
            )
        })
        .collect();
    crate::trust::rollup::add_submitted(&mut tx, &decided).await?;
    idempotency::remember(&mut tx, &new_keys, now).await?;
    // Audit last: the chain's head is the last lock any transaction takes.
    super::commit_audit::submitted(&mut tx, prepared.iter().map(|p| &p.detail)).await?;
    tx.commit().await?;
    w.metrics.batch_committed(jobs.len(), began.elapsed());
    let details: Vec<ActionDetail> = prepared.into_iter().map(|p| p.detail).collect();
    let mut answers = Vec::with_capacity(slots.len());
    for slot in slots {
        answers.push(match slot {
            Slot::Refused(e) => Err(e),
            Slot::New(i) => {
                let d = details[i].clone();
                w.metrics.decided(d.decision.as_str(), d.stage.as_str());
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
            Slot::Replay(Earlier::Stored(id)) => match store::load(db, &id).await {
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

/// Writes the requests and their evidence.
async fn write(
    tx: &mut Tx<'_>,
    items: &[Prepared<'_>],
    spot_check_pct: i64,
) -> Result<(), AppError> {
    let rows: Vec<NewRequest> = items
        .iter()
        .map(|item| NewRequest {
            detail: &item.detail,
            submission: item.submission,
            risk: item.risk,
            // A share of what runs without a person is looked at after.
            spot_check: crate::trust::spot::sampled(&item.detail.id, spot_check_pct),
        })
        .collect();
    store::insert(tx, &rows).await
}
