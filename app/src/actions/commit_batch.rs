//! One batch of the group-commit writer (`commit.rs`): one transaction
//! that authenticates and decides each submission against one consistent
//! view of the policy, then writes every request, its evidence, rollups,
//! idempotency key and audit row together. This file decides; how the
//! batch is written (one query on SQLite when nothing had to be read under
//! the lock, else a few scripts) is in `commit_write.rs`.

use super::commit_audit::{lock, LastHead};
use super::commit_write::{self as one_trip, several_trips, Lazy, Trip, Writes};
use super::idempotency;
use super::model::{ActionDetail, RequestState};
use super::store::{self, NewRequest};
use super::submission::Submission;
use crate::db::now_ms;
use crate::db::Db;
use crate::db::OnDemand;
use crate::error::AppError;
use crate::policy::facts::decide_now;
use crate::policy::store::PolicyCache;
use crate::policy::{Outcome, Request};
use crate::quota::limits::Limits;
use crate::quota::usage::Usage;
use sqlx::AnyConnection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the writer task holds.
#[derive(Clone)]
pub(super) struct Writer {
    pub(super) db: Db,
    pub(super) cache: Arc<PolicyCache>,
    pub(super) changes: Arc<crate::replicas::feed::ChangeFeed>,
    /// The default quotas; each agent's own are in the index.
    pub(super) quotas: Limits,
    pub(super) usage: Arc<Usage>,
    pub(super) metrics: Arc<crate::ops::metrics::Metrics>,
    pub(super) last_head: Arc<Mutex<LastHead>>,
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
/// batch and nothing in it is acknowledged. `conn` is the writer's own
/// connection, so its prepared statements stay warm from batch to batch.
pub(super) async fn commit(
    w: &Writer,
    conn: &mut AnyConnection,
    jobs: &[&Entry],
) -> Result<Vec<Answer>, AppError> {
    // Most batches decide on the index already cached, and learn whether
    // it is still current from the script that writes them: no trip to
    // the database to read the epoch first. A stale guess is rolled back
    // and the batch decided again on the index read under the lock.
    if let Some(index) = w.cache.cached() {
        if let Some(answers) = attempt(w, conn, jobs, Some(index)).await? {
            return Ok(answers);
        }
        tracing::debug!("the policy changed under a batch; deciding it again");
    }
    attempt(w, conn, jobs, None)
        .await?
        .ok_or(AppError::Internal)
}

/// One try at a batch: on `guess`, the index it expects to be current
/// (answers `None` when it was not, having written nothing), or else on
/// the index read under the lock.
async fn attempt(
    w: &Writer,
    conn: &mut AnyConnection,
    jobs: &[&Entry],
    guess: Option<Arc<crate::policy::Index>>,
) -> Result<Option<Vec<Answer>>, AppError> {
    let cache = &*w.cache;
    let began = Instant::now();
    // The transaction takes the lock every change to the policy also takes
    // in the same trip as its BEGIN: on SQLite the write lock (a read
    // transaction may fail to upgrade later), on PostgreSQL the epoch row,
    // so batches from every replica and policy edits apply one at a time,
    // and hourly counts see every earlier batch. It begins at the first
    // statement that needs it: at once when the index is read under the
    // lock, else at the first lookup the cached index cannot answer, or
    // with the writes (`commit_write.rs`).
    let head = lock(&w.last_head).guess();
    // A batch that may go in one trip leaves its Idempotency-Keys to the
    // trip while nothing has begun: a key is new far more often than not,
    // and the key's row is unique, so a key already there stops the query
    // before its COMMIT. If the batch goes the usual way after all, they
    // are looked up then.
    let keys_to_trip = one_trip::possible(conn, head.as_ref());
    let mut lazy = Lazy::new(conn);
    let mut keys_left: Vec<(&str, &str)> = Vec::new();
    let index = match guess {
        Some(index) => index,
        None => cache.locked(lazy.conn().await?).await?,
    };
    let locked = Instant::now();
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
                None if keys_to_trip && lazy.unbegun().is_some() => {
                    keys_left.push((agent_id, key));
                    None
                }
                None => idempotency::find(lazy.tx().await?, agent_id, key)
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
        let decision = decide_now(&mut lazy, cache, &index, agent_id, &req, *earlier).await;
        let waits = decision.outcome == Outcome::PendingApproval;
        let evidence: usize = s.evidence.iter().map(|e| e.content.len()).sum();
        if let Err(refused) = quotas
            .admit(
                &mut lazy,
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
    let decided_at = Instant::now();
    let rows: Vec<NewRequest> = prepared
        .iter()
        .map(|item| NewRequest {
            detail: &item.detail,
            submission: item.submission,
            risk: item.risk,
            // A share of what runs without a person is looked at after.
            spot_check: crate::trust::spot::sampled(&item.detail.id, index.spot_check_pct),
        })
        .collect();
    let writes = Writes {
        rows: &rows,
        new_keys: &new_keys,
        now,
    };
    let trip = match lazy.unbegun() {
        Some(conn) => one_trip::commit((&w.db, conn), &writes, index.epoch, head.as_ref()).await?,
        None => Trip::Declined,
    };
    let (left, in_one_trip) = match trip {
        Trip::Committed(left) => (Some(left), true),
        Trip::Stale => {
            lock(&w.last_head).missed();
            return Ok(None);
        }
        // Decided again with every key looked up, as is a batch whose
        // keys left to a trip it did not take turn out to be used.
        Trip::KeyUsed => return Ok(None),
        Trip::Declined if idempotency::any_used(&mut lazy, &keys_left).await? => return Ok(None),
        Trip::Declined => match several_trips(lazy, &writes, index.epoch, head.as_ref()).await? {
            Some(left) => (left, false),
            None => return Ok(None),
        },
    };
    let committed = Instant::now();
    lock(&w.last_head).left(head.as_ref(), prepared.len(), left);
    w.metrics
        .batch_committed(jobs.len(), committed - began, in_one_trip);
    tracing::debug!(
        size = jobs.len(),
        one_trip = in_one_trip,
        read_us = (locked - began).as_micros() as u64,
        decide_us = (decided_at - locked).as_micros() as u64,
        commit_us = (committed - decided_at).as_micros() as u64,
        "batch committed"
    );
    let mut details: Vec<Option<ActionDetail>> =
        prepared.into_iter().map(|p| Some(p.detail)).collect();
    // A replay within the batch answers with a copy of the request it
    // replays; the request itself goes to the job that made it.
    let mut answers: Vec<Answer> = slots
        .iter()
        .map(|slot| match slot {
            Slot::Replay(Earlier::InBatch(i)) => details[*i]
                .clone()
                .map_or(Answer::Refused(AppError::Internal), Answer::Replay),
            _ => Answer::Refused(AppError::Internal),
        })
        .collect();
    for (answer, slot) in answers.iter_mut().zip(slots) {
        match slot {
            Slot::New(i) => {
                if let Some(d) = details[i].take() {
                    *answer = Answer::New(d);
                }
            }
            Slot::Refused(e) => *answer = Answer::Refused(e),
            Slot::Replay(Earlier::Stored(id)) => *answer = Answer::Stored(id),
            Slot::Replay(Earlier::InBatch(_)) => {}
        }
    }
    Ok(Some(answers))
}

/// What a job gets once its batch has committed.
pub(super) enum Answer {
    New(ActionDetail),
    /// The request its `Idempotency-Key` made earlier in the batch.
    Replay(ActionDetail),
    /// The request its `Idempotency-Key` made in an earlier batch.
    Stored(String),
    Refused(AppError),
}

impl Answer {
    /// The reply, counted and logged; a request made earlier is read back
    /// as it is now.
    pub(super) async fn resolve(self, w: &Writer) -> Result<Submitted, AppError> {
        match self {
            Answer::New(d) => {
                w.metrics.decided(d.decision.as_str(), d.stage.as_str());
                tracing::info!(action_id = %d.id, agent = %d.agent_name, capability = %d.capability,
                    decision = d.decision.as_str(), "action submitted");
                Ok(Submitted {
                    action: d,
                    replayed: false,
                })
            }
            Answer::Replay(action) => Ok(Submitted {
                action,
                replayed: true,
            }),
            Answer::Stored(id) => match store::load(&w.db, &id).await? {
                Some(action) => Ok(Submitted {
                    action,
                    replayed: true,
                }),
                None => Err(AppError::Internal),
            },
            Answer::Refused(e) => Err(e),
        }
    }
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
