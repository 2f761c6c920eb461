//! The outbox: audited changes an endpoint subscribed to become delivery
//! rows in the change's own transaction (`audit::record_many` calls
//! `enqueue` after appending to the chain), so a crash loses none and a
//! rollback sends none.
//!
//! Every audited change passes here, the submission writer's batches
//! included, and usually nobody subscribed: so the first check is against
//! an in-memory mask of the event types any endpoint wants, and only a
//! batch holding one of those asks the database which endpoints want it.
//! The mask may say yes too often, never no wrongly:
//! - `audit::record_many` is handed the transaction alone, so the mask is
//!   process-wide: the union over every database this process serves
//!   (one in production; each test server's in the tests), and "all"
//!   while none is loaded (CLI commands, `belay mcp stdio`).
//! - A replica about to change its endpoints sets "all" before the commit
//!   and reloads after it. Other replicas reload when they hear of the
//!   change (it bumps the policy epoch, whose `NOTIFY` they listen to),
//!   and, while they cannot hear, keep "all" (`server/src/webhooks`).

use super::events::EventType;
use crate::audit::chain::Link;
use crate::db::{new_id, placeholders, rfc3339, Db, Tx};
use crate::error::AppError;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

const ALL: u32 = u32::MAX;

/// Per database (by URL): its mask, or `ALL` while unsure.
static MASKS: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);
/// The union of `MASKS`; `ALL` when it is empty.
static UNION: AtomicU32 = AtomicU32::new(ALL);
/// Moves on each `unsure`: a reload that read the endpoints before it
/// may have missed the change, and must not replace "all".
static GENERATION: AtomicU64 = AtomicU64::new(0);

fn key(db: &Db) -> String {
    db.connect_options().database_url.to_string()
}

/// Until the next `reload`, every batch asks the database: call before
/// committing a change to the endpoints, and while this replica may miss
/// other replicas' changes.
pub fn unsure(db: &Db) {
    let mut masks = MASKS.lock().unwrap_or_else(|e| e.into_inner());
    GENERATION.fetch_add(1, Ordering::SeqCst);
    masks.get_or_insert_with(HashMap::new).insert(key(db), ALL);
    UNION.store(ALL, Ordering::SeqCst);
}

/// Reads which event types the enabled endpoints want.
pub async fn reload(db: &Db) -> Result<(), AppError> {
    let generation = GENERATION.load(Ordering::SeqCst);
    let rows = sqlx::query("SELECT event_types FROM webhook_endpoints WHERE enabled = 1")
        .fetch_all(db)
        .await?;
    let mut mask = 0;
    for r in &rows {
        let stored: String = r.try_get("event_types")?;
        mask |= super::events::split(&stored)
            .into_iter()
            .fold(0, |m, t| m | t.bit());
    }
    let mut masks = MASKS.lock().unwrap_or_else(|e| e.into_inner());
    if GENERATION.load(Ordering::SeqCst) == generation {
        let masks = masks.get_or_insert_with(HashMap::new);
        masks.insert(key(db), mask);
        UNION.store(masks.values().fold(0, |a, m| a | m), Ordering::SeqCst);
    }
    Ok(())
}

/// Whether an endpoint of `db` may want one of `links`: its own mask, not
/// the union, for a caller that knows which database it writes to (the
/// submission writer's one-trip batches).
pub fn wanted_in(db: &Db, links: &[Link]) -> bool {
    let masks = MASKS.lock().unwrap_or_else(|e| e.into_inner());
    let mask = masks
        .as_ref()
        .and_then(|m| m.get(&key(db)).copied())
        .unwrap_or(ALL);
    !candidates(links, mask).is_empty()
}

/// The changes in `links` of a type in `wanted`; `unsure` ones are
/// confirmed from their detail.
fn candidates(links: &[Link], wanted: u32) -> Vec<(&Link, EventType, bool)> {
    links
        .iter()
        .filter_map(|l| {
            let (t, unsure) = EventType::of_what(&l.what)?;
            (wanted & t.bit() != 0).then_some((l, t, unsure))
        })
        .collect()
}

/// One delivery per subscribed endpoint for each change in `links` that
/// is an event some endpoint wants; nothing at all (no query) when the
/// mask says nobody wants any of them.
pub async fn enqueue(tx: &mut Tx<'_>, links: &[Link]) -> Result<(), AppError> {
    let candidates = candidates(links, UNION.load(Ordering::SeqCst));
    if candidates.is_empty() {
        return Ok(());
    }
    let mut events = Vec::new();
    for (link, t, unsure) in candidates {
        let detail: serde_json::Value = serde_json::from_str(&link.detail).unwrap_or_default();
        if unsure && !t.confirm(&detail) {
            continue;
        }
        let data = serde_json::json!({
            "audit_event": { "id": link.id, "n": link.n, "what": link.what },
            "subject": { "kind": link.subject_kind, "id": link.subject_id },
            "actor": { "kind": link.actor_kind, "id": link.actor_id },
            "detail": detail,
        });
        events.push(Event {
            id: link.id.clone(),
            at: link.at,
            event_type: t,
            data,
        });
    }
    write(tx, &events).await
}

/// One event to deliver: `id` names it (its audit event's, or its notice's).
pub struct Event {
    pub id: String,
    pub at: i64,
    pub event_type: EventType,
    pub data: serde_json::Value,
}

/// A notice raised for the leads (`trust::history::notify`), which has no
/// audit event of its own: written the same way, in its transaction.
pub async fn enqueue_one(tx: &mut Tx<'_>, event: Event) -> Result<(), AppError> {
    if UNION.load(Ordering::SeqCst) & event.event_type.bit() == 0 {
        return Ok(());
    }
    write(tx, &[event]).await
}

async fn write(tx: &mut Tx<'_>, events: &[Event]) -> Result<(), AppError> {
    if events.is_empty() {
        return Ok(());
    }
    let endpoints = sqlx::query("SELECT id, event_types FROM webhook_endpoints WHERE enabled = 1")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| {
            let types: String = r.try_get("event_types")?;
            Ok((r.try_get::<String, _>("id")?, super::events::split(&types)))
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let mut rows = Vec::new();
    for e in events {
        let mut body = None;
        for (endpoint, types) in &endpoints {
            if !types.contains(&e.event_type) {
                continue;
            }
            // Standard Webhooks' envelope; written once, so every attempt
            // sends (and signs) the same bytes.
            let body = body
                .get_or_insert_with(|| {
                    serde_json::json!({
                        "type": e.event_type.as_str(),
                        "timestamp": rfc3339(e.at),
                        "data": e.data,
                    })
                    .to_string()
                })
                .clone();
            rows.push((endpoint.as_str(), e, body));
        }
    }
    const ROWS: usize = 16;
    for chunk in rows.chunks(ROWS) {
        let sql = format!(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, created_at, \
               state, tries, next_at, lease_until) VALUES {}",
            placeholders(chunk.len(), 10)
        );
        let mut q = sqlx::query(&sql);
        for (endpoint, e, body) in chunk {
            q = q
                .bind(new_id())
                .bind(endpoint.to_string())
                .bind(e.id.clone())
                .bind(e.event_type.as_str())
                .bind(body.clone())
                .bind(e.at)
                .bind("pending")
                .bind(0_i64)
                .bind(e.at)
                .bind(0_i64);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
