//! Group commit for submissions. Every acknowledged decision must be on disk
//! before the agent hears it, and a disk can only flush so often; so one
//! writer task decides and records whatever submissions are waiting, in one
//! transaction, and answers them all after the single commit. Under load,
//! batches grow; when idle, a batch is one submission and nothing waits.
//! What a batch does is in `commit_batch.rs`.

use super::commit_batch::{commit, Answer, Writer};
pub use super::commit_batch::{Entry, Submitted};
use super::model::RequestState;
use super::store;
use super::submission::Submission;
use crate::db::new_id;
use crate::error::AppError;
use sqlx::pool::PoolConnection;
use sqlx::Any;
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
            last_head: Default::default(),
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

/// The writer's own connection, kept from batch to batch: the pool hands
/// out its idle connections in turn, and each would prepare every batch's
/// statements afresh.
type Conn = Option<PoolConnection<Any>>;

async fn run(writer: Writer, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut conn: Conn = None;
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        // Each batch runs as its own task: should it panic, its callers'
        // replies are dropped (they answer 500) and the writer carries on.
        match tokio::spawn(settle(writer.clone(), conn.take(), jobs)).await {
            Ok(kept) => conn = kept,
            Err(e) => {
                tracing::error!(error = %e, "a submission batch failed; its callers were answered 500");
            }
        }
    }
}

/// Commits one batch and answers its callers; hands the connection back
/// unless it failed (a fresh one is taken for the next batch).
async fn settle(w: Writer, conn: Conn, mut jobs: Vec<Job>) -> Conn {
    // Callers that gave up need no decision recorded.
    jobs.retain(|j| !j.reply.is_closed());
    if jobs.is_empty() {
        return conn;
    }
    let mut conn = match conn {
        Some(conn) => conn,
        None => match w.db.acquire().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::error!(error = %e, "the submission writer has no database connection");
                return None;
            }
        },
    };
    let entries: Vec<&Entry> = jobs.iter().map(|j| &j.entry).collect();
    match commit(&w, &mut conn, &entries).await {
        Ok(answers) => {
            // Answered beside the next batch: everything in this one is on
            // disk, and the writer goes on to the submissions that waited.
            tokio::spawn(reply(w, jobs, answers));
            Some(conn)
        }
        Err(e) => {
            // The connection may be what failed (or be left inside a
            // transaction): it is closed, and the retries take others.
            conn.close_on_drop();
            drop(conn);
            // One bad submission must not sink the others: retry alone.
            tracing::warn!(error = %e, size = jobs.len(), "batch failed; committing one by one");
            for job in jobs {
                if job.reply.is_closed() {
                    continue;
                }
                let one = retry_alone(&w, &job).await;
                announce(&w, &one);
                let _ = job.reply.send(one);
            }
            None
        }
    }
}

async fn reply(w: Writer, jobs: Vec<Job>, answers: Vec<Answer>) {
    for (job, answer) in jobs.into_iter().zip(answers) {
        let result = answer.resolve(&w).await;
        announce(&w, &result);
        let _ = job.reply.send(result);
    }
}

/// A new request waiting for people reaches the live queue.
fn announce(w: &Writer, result: &Result<Submitted, AppError>) {
    if let Ok(done) = result {
        if !done.replayed && done.action.state == RequestState::PendingApproval {
            w.changes.send(done.action.id.clone());
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
    let mut conn = w.db.acquire().await?;
    let mut answers = commit(w, &mut conn, &[&job.entry]).await?;
    match answers.pop() {
        Some(answer) => answer.resolve(w).await,
        None => Err(AppError::Internal),
    }
}
