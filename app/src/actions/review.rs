//! Reviewers deciding a pending request: approve (as is or with edits) or
//! reject. An approval binds to the exact payload the reviewer saw.

use super::correction::{check_params, correction_of};
use super::model::{ActionDetail, RequestState};
use super::service::{already_final, expire_if_due};
use super::store::{self, load, Hash, Move};
use super::submission::stored_payload_hash;
use crate::audit::{self, Actor};
use crate::auth::UserView;
use crate::db::{known_id, now_ms, Tx};
use crate::error::{stored, AppError};
use crate::policy::{Index, RuleKey, Stage};
use crate::state::AppState;
use crate::trust::rollup::{self, Counts};
use serde_json::Value;
use sqlx::Row;

/// Why the sponsor may not approve.
pub const SPONSOR_BARRED: &str =
    "you sponsor this agent: sponsors never approve their own agents' requests, \
     unless every rule that held the request allows it (Policy: Sponsor may approve)";

/// Whether the agent's sponsor may approve a request held for `held_for`,
/// by the rules in force (rules that cannot be read allow nothing).
pub fn sponsor_may_approve(index: &Index, held_for: &[RuleKey]) -> bool {
    index
        .policy
        .rules
        .as_ref()
        .is_ok_and(|rules| rules.sponsor_may_approve(held_for))
}

/// One request as a person sees it: with what they may do with it and the
/// agent's record with this capability (the request page, the reviewer API).
pub async fn page_data(
    state: &AppState,
    viewer: &UserView,
    id: &str,
) -> Result<super::ActionPageData, AppError> {
    let action = super::service::get_for_reviewer(state, id).await?;
    let record = super::record::of(&state.db, &action.agent_id, &action.capability).await?;
    let mut conn = state.db.acquire().await?;
    let index = state.policy.current(&mut conn).await?;
    let sponsor_may_approve = sponsor_may_approve(&index, &action.held_for);
    let sponsor_barred =
        !sponsor_may_approve && action.sponsor.as_deref() == Some(viewer.username.as_str());
    Ok(super::ActionPageData {
        action,
        can_decide: viewer.role.can_decide_actions(),
        sponsor_may_approve,
        sponsor_barred,
        record,
    })
}

/// A reviewer's verdict.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// `edited`: the params as the reviewer changed them (a correction).
    Approve {
        edited: Option<Value>,
    },
    Reject {
        reason: String,
    },
}

/// Decides a pending request. `seen` is the payload hash the reviewer's page
/// showed: if the request changed since (evidence added, another reviewer's
/// edit), the decision is refused and the reviewer looks again.
///
/// A conditional update first claims the still-open request, so concurrent
/// decisions on it queue up in the database (a row lock on PostgreSQL, the
/// write lock on SQLite): of many reviewers, the ones who arrive after it is
/// final get 409. An approval counts once per person and per payload; the
/// request is approved when the rule's number of distinct approvals of the
/// current payload is reached. One rejection is final.
#[tracing::instrument(skip(state, reviewer, seen, verdict), fields(reviewer = %reviewer.username))]
pub async fn decide_request(
    state: &AppState,
    reviewer: &UserView,
    id: &str,
    seen: &str,
    verdict: Verdict,
) -> Result<ActionDetail, AppError> {
    known_id(id, "action request")?;
    let (note, edited) = match &verdict {
        Verdict::Approve { edited } => (None, edited.clone().map(check_params).transpose()?),
        Verdict::Reject { reason } => (
            Some(crate::text::field(
                "the reason for rejecting",
                reason,
                2000,
            )?),
            None,
        ),
    };
    expire_if_due(state, id).await?;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // Touching the row takes its lock: concurrent decisions queue here.
    let open = Move::from(&[RequestState::PendingApproval], None)
        .only_if("(expires_at IS NULL OR expires_at > $1)")
        .apply(&mut tx, id, now)
        .await?;
    if !open {
        drop(tx);
        return Err(already_final(state, id).await);
    }
    let req = Open::read(&mut tx, id).await?;
    if req.payload_hash != seen {
        return Err(AppError::Conflict(
            "this request changed since you opened it (new evidence or another reviewer's edit); \
             look at it again before deciding"
                .into(),
        ));
    }
    // The rules in force now, not when it was held: switching the sponsor
    // bar on reaches requests already waiting.
    let index = state.policy.current(&mut tx).await?;
    let approving = matches!(verdict, Verdict::Approve { .. });
    let sponsor_counts = sponsor_may_approve(&index, &req.held_for);
    if approving && req.sponsor_id == reviewer.id && !sponsor_counts {
        return Err(AppError::Forbidden(SPONSOR_BARRED.into()));
    }
    let (next, what, count, correction) = match verdict {
        Verdict::Reject { .. } => (RequestState::Rejected, "action.rejected", None, None),
        Verdict::Approve { .. } => {
            let mut hash = req.payload_hash.clone();
            let mut correction = None;
            if let Some(new) = edited.filter(|new| new != req.effective_params()) {
                req.check_edit(&index, &new, now)?;
                let diff = correction_of(&req.params, &new);
                hash = stored_payload_hash(&mut tx, id, Some(&new)).await?;
                store::record_edit(&mut tx, id, &new, &diff, &hash).await?;
                correction = Some(diff);
            }
            // A sponsor's approval given while the rules allowed it stops
            // counting once they bar the sponsor.
            let barred = (!sponsor_counts).then_some(req.sponsor_id.as_str());
            let count =
                approve_once(&mut tx, id, reviewer, &hash, barred, req.required, now).await?;
            if count >= req.required {
                store::set_hash(&mut tx, id, Hash::Approved, &hash).await?;
                (
                    RequestState::Approved,
                    "action.approved",
                    Some(count),
                    correction,
                )
            } else {
                let what = "action.approval_added";
                (RequestState::PendingApproval, what, Some(count), correction)
            }
        }
    };
    if next != RequestState::PendingApproval {
        // The row is locked by this transaction since the first move.
        let mut decided = Move::from(&[RequestState::PendingApproval], Some(next))
            .stamp("decided_at = $1")
            .set("decided_by", Some(reviewer.id.clone()))
            .set("decision_note", note.clone());
        // An approval the agent carries out stays good for the shortest
        // window of the rules that held it; unclaimed by then, it expires.
        // (At propose a person carries it out, and nothing is claimed.)
        if next == RequestState::Approved && req.stage >= Stage::ActWithApproval {
            let claim_secs = match &index.policy.rules {
                Ok(rules) => rules.claim_secs(&req.held_for),
                Err(_) => crate::policy::Rule::FALLBACK.claim_secs,
            };
            decided = decided.set_int("claim_by", now + claim_secs * 1000);
        }
        decided.apply(&mut tx, id, now).await?;
    }
    if next == RequestState::Approved {
        crate::policy::facts::record_use(&mut tx, &req.agent_id, &req.capability, now).await?;
    }
    // The sensor: every reviewer's say, and the final decision, counted in
    // this transaction.
    rollup::add_reviewer(
        &mut tx,
        &req.agent_id,
        &req.capability,
        req.created_at,
        &reviewer.id,
    )
    .await?;
    if next == RequestState::Rejected {
        crate::trust::lower::queue_check(&mut tx, &req.agent_id, &req.capability, now).await?;
    }
    if next != RequestState::PendingApproval {
        let corrected = req.edited.is_some() || correction.is_some();
        let counts = Counts::decided(
            next == RequestState::Approved,
            corrected,
            now - req.created_at,
        );
        rollup::add(
            &mut tx,
            &req.agent_id,
            &req.capability,
            req.created_at,
            &counts,
        )
        .await?;
    }
    audit::record(
        &mut tx,
        audit::Event {
            actor: &Actor::User(reviewer.id.clone()),
            what,
            subject_kind: "action",
            subject_id: id,
            detail: serde_json::json!({
                "before": { "state": RequestState::PendingApproval },
                "after": { "state": next, "note": note, "approvals": count,
                           "approvals_required": req.required, "correction": correction },
            }),
        },
    )
    .await?;
    tx.commit().await?;
    state
        .metrics
        .finally_decided(next.as_str(), now - req.created_at);
    // Every change tells the queue; a final one also wakes the agent's long-poll.
    state.notify_changed(id);
    if next == RequestState::Rejected {
        // The rejection stands either way; a check that fails here stays
        // queued and the background sweep runs it.
        if let Err(e) = crate::trust::lower::run_checks(state).await {
            tracing::error!(error = %e, "could not check for a rejection spike; the sweep retries");
        }
    }
    tracing::info!(action_id = %id, state = next.as_str(), approvals = ?count, "action decided");
    load(&state.db, id).await?.ok_or(AppError::Internal)
}

/// Records this reviewer's approval of `hash` and answers how many distinct
/// reviewers' approvals of it count (`barred`: the sponsor's does not).
async fn approve_once(
    tx: &mut Tx<'_>,
    id: &str,
    reviewer: &UserView,
    hash: &str,
    barred: Option<&str>,
    required: i64,
    now: i64,
) -> Result<i64, AppError> {
    let mine = sqlx::query(
        "SELECT at FROM approvals WHERE action_id = $1 AND user_id = $2 AND payload_hash = $3",
    )
    .bind(id)
    .bind(&reviewer.id)
    .bind(hash)
    .fetch_optional(&mut **tx)
    .await?;
    if mine.is_some() {
        return Err(AppError::Conflict(format!(
            "you have already approved this request; it needs {required} approvals from distinct reviewers"
        )));
    }
    sqlx::query(
        "INSERT INTO approvals (action_id, user_id, payload_hash, at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(&reviewer.id)
    .bind(hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM approvals WHERE action_id = $1 AND payload_hash = $2 \
         AND ($3 IS NULL OR user_id <> $3)",
    )
    .bind(id)
    .bind(hash)
    .bind(barred)
    .fetch_one(&mut **tx)
    .await?
    .try_get("n")?;
    Ok(n)
}

/// The open request, as read inside the deciding transaction.
struct Open {
    agent_id: String,
    created_at: i64,
    sponsor_id: String,
    capability: String,
    target: String,
    params: Value,
    edited: Option<Value>,
    payload_hash: String,
    required: i64,
    held_for: Vec<RuleKey>,
    /// The stage it was decided at.
    stage: Stage,
}

impl Open {
    async fn read(tx: &mut Tx<'_>, id: &str) -> Result<Open, AppError> {
        let r = sqlx::query(
            "SELECT r.agent_id, r.created_at, a.sponsor_id, r.capability, r.target, r.params, \
                    r.edited_params, r.payload_hash, r.approvals_required, r.held_for, r.stage \
             FROM action_requests r JOIN agents a ON a.id = r.agent_id WHERE r.id = $1",
        )
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        let edited: Option<String> = r.try_get("edited_params")?;
        Ok(Open {
            agent_id: r.try_get("agent_id")?,
            created_at: r.try_get("created_at")?,
            sponsor_id: r.try_get("sponsor_id")?,
            capability: r.try_get("capability")?,
            target: r.try_get("target")?,
            params: stored(serde_json::from_str(&r.try_get::<String, _>("params")?))?,
            edited: edited
                .map(|e| stored(serde_json::from_str(&e)))
                .transpose()?,
            payload_hash: r.try_get("payload_hash")?,
            required: r.try_get("approvals_required")?,
            held_for: store::held_for(&r.try_get::<String, _>("held_for")?)?,
            stage: stored(Stage::parse(&r.try_get::<String, _>("stage")?))?,
        })
    }

    fn effective_params(&self) -> &Value {
        self.edited.as_ref().unwrap_or(&self.params)
    }

    /// An edit may correct a request, never take it further outside the
    /// agent's grant than what was submitted.
    fn check_edit(&self, index: &Index, new: &Value, now: i64) -> Result<(), AppError> {
        let grant = match index
            .agents
            .get(&self.agent_id)
            .and_then(|a| a.grants.get(&self.capability))
        {
            // No grant: nothing bounds the params beyond what was held.
            None => None,
            Some(Ok(grant)) => Some(grant),
            // An edit cannot be checked against a grant that cannot be read.
            Some(Err(_)) => {
                return Err(AppError::Validation(format!(
                    "the agent's grant for {} cannot be read, so an edit cannot be checked; \
                     approve as submitted or reject",
                    self.capability
                )))
            }
        };
        if let Some(grant) = grant {
            let before = grant.violations(&self.target, &self.params, now);
            let worse: Vec<String> = grant
                .violations(&self.target, new, now)
                .into_iter()
                .filter(|v| !before.contains(v))
                .collect();
            if !worse.is_empty() {
                return Err(AppError::Validation(format!(
                    "the edited params are outside the agent's grant: {}",
                    worse.join("; ")
                )));
            }
        }
        Ok(())
    }
}
