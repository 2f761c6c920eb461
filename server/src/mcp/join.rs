//! One request per call however often it is made: a call identical to an
//! open request of the agent (waiting for approval, or approved and not yet
//! carried out) joins it, so people are not asked twice when a client
//! retries a call that outwaited its hold; identical calls made at the
//! same moment are taken one at a time here, so the second joins the first.

use super::Caller;
use crate::api::quota::Quotas;
use app::actions::commit::Committer;
use app::actions::model::{ActionDetail, RequestState};
use app::actions::store;
use app::actions::submission::{payload_hash, Submission};
use app::db::now_ms;
use app::error::AppError;
use app::quota::limits::{Kind, Limits};
use app::state::AppState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tracing::Instrument;

type Key = (String, String);

/// The evidence type a call's JSON-RPC request is recorded as.
pub const CALL_EVIDENCE: &str = "request_log";

/// Identical calls in flight in this process, by (agent, payload hash).
#[derive(Default)]
pub struct InFlight(Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>);

impl InFlight {
    fn slot(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(key.clone()).or_default().clone()
    }

    /// Forgets the key once no other call holds it.
    fn release(&self, key: &Key, slot: Arc<tokio::sync::Mutex<()>>) {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // The map's reference and this one: nobody else is waiting.
        if Arc::strong_count(&slot) <= 2 {
            all.remove(key);
        }
    }
}

/// The door a call comes through: what a new request needs.
pub struct Door<'a> {
    pub state: &'a AppState,
    pub writer: &'a Committer,
    pub quotas: &'a Quotas,
    pub in_flight: &'a InFlight,
}

/// The open request this call joins, or a new one from the writer (then
/// `true`: if allowed, it is this call's to carry out, claimed already).
pub async fn join_or_submit(
    g: Door<'_>,
    caller: &Caller,
    submission: Submission,
    limits: &Limits,
) -> Result<(ActionDetail, bool), AppError> {
    let agent = &caller.agent;
    let key = (agent.agent_id.clone(), call_hash(&submission));
    let slot = g.in_flight.slot(&key);
    let done = {
        let _one_at_a_time = slot.lock().await;
        let open = store::open_of_agent(
            &g.state.db,
            &agent.agent_id,
            &submission.capability,
            &submission.target,
        )
        .await?;
        let now = now_ms();
        match open.into_iter().find(|a| same_call(a, &submission, now)) {
            Some(joined) => Ok((joined, false)),
            None => {
                // Joining adds nothing; a new request counts, as on the REST API.
                let per_minute = limits.get(Kind::Submissions);
                g.quotas
                    .submission(&g.state.quota, &agent.agent_id, per_minute)?;
                g.writer
                    .submit_and_claim(caller.key_hash.clone(), submission)
                    .instrument(tracing::debug_span!("mcp.submit"))
                    .await
                    .map(|s| (s.action, true))
            }
        }
    };
    g.in_flight.release(&key, slot);
    done
}

/// The call without its evidence: a retry's `_meta` (a progress token)
/// may differ, and it is the same call.
fn call_hash(s: &Submission) -> String {
    payload_hash(
        &s.capability,
        &s.target,
        &s.summary,
        &s.params,
        s.observation.as_deref(),
        std::iter::empty(),
    )
}

/// The same call as an open request: same payload, nothing attached but
/// the call as first sent, and not past its deadline (an overdue one
/// expires when touched).
fn same_call(a: &ActionDetail, s: &Submission, now: i64) -> bool {
    let live = match a.state {
        RequestState::PendingApproval => a.expires_at_ms.is_none_or(|t| t > now),
        RequestState::Approved => a.claim_by_ms.is_some_and(|t| t > now),
        _ => false,
    };
    live && a.summary == s.summary
        && a.params == s.params
        && a.observation.is_none()
        && a.evidence.len() <= 1
        && a.evidence
            .iter()
            .all(|e| e.kind == CALL_EVIDENCE && e.phase == "request")
}
