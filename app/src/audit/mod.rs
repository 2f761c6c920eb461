//! The audit write path: every state change calls `record` inside the same
//! transaction as the change, so a change without its audit row cannot
//! commit. Each event is a link of one hash chain per database (`chain`),
//! so a change, removal, insertion or reordering afterwards shows.

pub mod chain;
pub mod verify;

use crate::db::{new_id, now_ms, Tx};
use crate::error::AppError;
use chain::Link;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(String),
    Agent(String),
    System,
    /// Whoever runs the `belay` command on the server (who can reach the
    /// database anyway): recorded as `operator:<login>`, a system act.
    Operator(String),
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::Agent(_) => "agent",
            Actor::System | Actor::Operator(_) => "system",
        }
    }

    /// The person behind a change, if a person made it.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Actor::User(id) => Some(id),
            Actor::Agent(_) | Actor::System | Actor::Operator(_) => None,
        }
    }

    fn id(&self) -> Option<&str> {
        match self {
            Actor::User(id) | Actor::Agent(id) | Actor::Operator(id) => Some(id),
            Actor::System => None,
        }
    }
}

/// One audited change: `what` happened to `subject_kind`/`subject_id`;
/// `detail` holds the before/after.
pub struct Event<'a> {
    pub actor: &'a Actor,
    pub what: &'a str,
    pub subject_kind: &'a str,
    pub subject_id: &'a str,
    pub detail: serde_json::Value,
}

pub async fn record(tx: &mut Tx<'_>, event: Event<'_>) -> Result<(), AppError> {
    record_many(tx, vec![event]).await
}

/// Records several events in order, a few dozen rows per statement (the
/// submission writer's batches), each linked to the one before it. The
/// chain's head is locked from here to the commit, so appends from every
/// replica take turns; every caller that also bumps the policy epoch does
/// so first, so the two locks are always taken in the same order.
pub async fn record_many(tx: &mut Tx<'_>, events: Vec<Event<'_>>) -> Result<(), AppError> {
    record_after(tx, events, None).await.map(drop)
}

/// `record_many`, after the head the caller expects (the one it left with
/// its last commit): then the events go in one trip, without reading the
/// head first, if no one else has appended since; otherwise as
/// `record_many` does. Answers the head the events leave (`None` for none).
pub async fn record_after(
    tx: &mut Tx<'_>,
    events: Vec<Event<'_>>,
    expected: Option<&chain::Head>,
) -> Result<Option<chain::Head>, AppError> {
    if events.is_empty() {
        return Ok(None);
    }
    let (mut links, slack) = unsealed(events);
    let appended = match expected {
        Some(head) => {
            chain::seal(&mut links, head.clone());
            chain::append_if_head(tx, &links, head).await?
        }
        None => false,
    };
    if !appended {
        let head = chain::lock_head(tx).await?;
        // Stamped once the head is held, so times run on along the chain.
        let at = now_ms();
        links.iter_mut().for_each(|l| l.at = at);
        chain::seal(&mut links, head);
        chain::append(tx, &links).await?;
    }
    crate::webhooks::outbox::enqueue(tx, &links).await?;
    crate::slack::outbox::enqueue(tx, &slack).await?;
    Ok(links.last().map(|l| (l.n, l.hash.clone())))
}

/// `record_many` as parts of the caller's script (which writes to `db`),
/// after `head`, for a caller that checks in the same script, under the
/// write lock, that the head is still there (the submission writer's
/// one-trip batches on SQLite). Answers the head the events leave, or `None`, adding nothing,
/// when a webhook or Slack outbox wants one of them: those take trips of
/// their own, so such a batch goes the usual way.
pub fn record_in(
    script: &mut crate::sql::Script<'_>,
    db: &crate::db::Db,
    events: Vec<Event<'_>>,
    head: &chain::Head,
) -> Option<chain::Head> {
    let (mut links, slack) = unsealed(events);
    chain::seal(&mut links, head.clone());
    if !slack.is_empty() || crate::webhooks::outbox::wanted_in(db, &links) {
        return None;
    }
    chain::append_in(script, &links);
    Some(
        links
            .last()
            .map_or_else(|| head.clone(), |l| (l.n, l.hash.clone())),
    )
}

/// Events as links yet to be given their place, stamped now; and the
/// requests among them Slack's outbox wants.
fn unsealed(events: Vec<Event<'_>>) -> (Vec<Link>, Vec<String>) {
    let slack = crate::slack::outbox::wanted(
        events
            .iter()
            .map(|e| (e.subject_kind, e.subject_id, e.what, &e.detail)),
    );
    let at = now_ms();
    let links = events
        .into_iter()
        .map(|e| Link {
            n: 0,
            prev: String::new(),
            id: new_id(),
            at,
            actor_kind: e.actor.kind().to_string(),
            actor_id: e.actor.id().map(str::to_string),
            what: e.what.to_string(),
            subject_kind: e.subject_kind.to_string(),
            subject_id: e.subject_id.to_string(),
            detail: crate::canonical::json(&e.detail),
            hash: String::new(),
        })
        .collect();
    (links, slack)
}
