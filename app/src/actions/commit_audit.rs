//! The audit rows of a batch of submissions (`commit.rs`), written in the
//! batch's transaction, last: the chain's head is the last lock it takes.

use super::model::ActionDetail;
use crate::audit::chain::Head;
use crate::audit::{self, Actor};
use crate::db::Tx;
use crate::error::AppError;
use crate::sql::Script;
use std::sync::{Mutex, MutexGuard};

/// One `action.submitted` event per request, as decided (and, for a call
/// the gateway carries out, claimed: its state says `executing`).
/// Appended after `expected`, the head the writer's last batch left, when
/// it is still the head (`audit::record_after`); answers the new head.
pub async fn submitted<'a>(
    tx: &mut Tx<'_>,
    items: impl Iterator<Item = &'a ActionDetail> + Clone,
    expected: Option<&Head>,
) -> Result<Option<Head>, AppError> {
    let actors = actors(items.clone());
    audit::record_after(tx, events(items, &actors), expected).await
}

/// `submitted` as parts of the writer's one-trip script, after `head`,
/// which the script checks under the lock (`audit::record_in`).
pub fn submitted_in<'a>(
    script: &mut Script<'_>,
    db: &crate::db::Db,
    items: impl Iterator<Item = &'a ActionDetail> + Clone,
    head: &Head,
) -> Option<Head> {
    let actors = actors(items.clone());
    audit::record_in(script, db, events(items, &actors), head)
}

fn actors<'a>(items: impl Iterator<Item = &'a ActionDetail>) -> Vec<Actor> {
    items.map(|a| Actor::Agent(a.agent_id.clone())).collect()
}

fn events<'i: 'b, 'b>(
    items: impl Iterator<Item = &'i ActionDetail>,
    actors: &'b [Actor],
) -> Vec<audit::Event<'b>> {
    items
        .zip(actors)
        .map(|(a, actor)| audit::Event {
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
        })
        .collect()
}

/// The audit head the writer's last batch left: the next batch appends
/// after it without reading the head first, if no one else (a reviewer,
/// another replica) has appended since; the append checks that, so a
/// wrong guess costs a trip and is never written.
#[derive(Default)]
pub(super) struct LastHead {
    head: Option<Head>,
    /// Batches to go without guessing: after a miss, others are appending
    /// too (as a second replica does all the time), and a guess would
    /// mostly cost its trip.
    skip: u32,
}

impl LastHead {
    pub(super) fn guess(&mut self) -> Option<Head> {
        if self.skip > 0 {
            self.skip -= 1;
            return None;
        }
        self.head.clone()
    }

    /// After a one-trip batch found the head (or the policy) moved: others
    /// are appending, so the next batches do not guess.
    pub(super) fn missed(&mut self) {
        self.skip = 8;
    }

    /// After a commit that appended `count` events, leaving `head`.
    pub(super) fn left(&mut self, guessed: Option<&Head>, count: usize, head: Option<Head>) {
        let Some(head) = head else { return };
        // Appended after the guess exactly when the chain grew from it by
        // this batch alone.
        if guessed.is_some_and(|g| g.0 + count as i64 != head.0) {
            self.skip = 8;
        }
        self.head = Some(head);
    }
}

pub(super) fn lock(head: &Mutex<LastHead>) -> MutexGuard<'_, LastHead> {
    head.lock().unwrap_or_else(|e| e.into_inner())
}
