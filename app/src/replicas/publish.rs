//! Telling the other replicas what changed here: `NOTIFY belay_changes`
//! with the ids of the requests, sent after the change committed, from a
//! connection of its own.
//!
//! After the commit rather than inside it: PostgreSQL delivers a
//! notification only once the sending transaction is visible, so either
//! order is safe for the reader, but a transaction that notifies holds one
//! database-wide lock from its commit until the commit is on disk, which
//! would make every change take its turn behind every other. Sent here,
//! ids from many transactions go out in one small statement, with
//! `synchronous_commit` off (a notice is not data: a lost one costs a
//! re-read, never a wrong answer), and none of the writers wait for it.
//! A replica that stops between its commit and the notice is covered by
//! the other replicas' periodic re-read.

use super::feed::{ChangeFeed, EVERYTHING, HEARTBEAT};
use sqlx::{Connection, PgConnection};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The channel requests' changes go out on.
pub const CHANGES: &str = "belay_changes";

/// PostgreSQL refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;

/// Most ids taken from the outbox at once.
const BATCH: usize = 1024;

/// Sends this replica's changes, and a heartbeat (a notice with no ids)
/// every `HEARTBEAT` that tells its own listener the path works, until the
/// feed is dropped.
pub(super) async fn run(
    url: String,
    origin: String,
    feed: Arc<ChangeFeed>,
    mut outbox: mpsc::Receiver<String>,
) {
    let mut conn: Option<PgConnection> = None;
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut ids = Vec::with_capacity(BATCH);
    // Some changes may not have reached the others: tell them to re-read.
    let mut missed = false;
    loop {
        tokio::select! {
            n = outbox.recv_many(&mut ids, BATCH) => if n == 0 { return },
            _ = heartbeat.tick() => {}
        }
        if feed.take_overflow() || missed {
            ids.clear();
            ids.push(EVERYTHING.to_string());
        }
        let payloads = pack(&origin, &ids);
        ids.clear();
        match send(&mut conn, &url, payloads).await {
            Ok(()) => missed = false,
            Err(e) => {
                if !missed {
                    tracing::warn!(error = %e, "cannot tell other replicas of changes; they re-read on their own until this reconnects");
                }
                conn = None;
                missed = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn send(
    conn: &mut Option<PgConnection>,
    url: &str,
    payloads: Vec<String>,
) -> Result<(), sqlx::Error> {
    if conn.is_none() {
        let mut fresh = PgConnection::connect(url).await?;
        sqlx::query("SET synchronous_commit = off")
            .execute(&mut fresh)
            .await?;
        *conn = Some(fresh);
    }
    let Some(c) = conn.as_mut() else {
        return Ok(());
    };
    // One statement, one transaction, however many notices.
    sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
        .bind(CHANGES)
        .bind(payloads)
        .execute(c)
        .await?;
    Ok(())
}

/// `origin id,id,…` in as few payloads as fit; no ids: one heartbeat.
fn pack(origin: &str, ids: &[String]) -> Vec<String> {
    let mut out = vec![format!("{origin} ")];
    for id in ids {
        let last = out.last_mut().expect("never empty");
        if last.len() + id.len() + 1 > MAX_PAYLOAD {
            out.push(format!("{origin} {id}"));
        } else {
            if !last.ends_with(' ') {
                last.push(',');
            }
            last.push_str(id);
        }
    }
    out
}

/// The origin and ids of a payload `pack` wrote; None if it is not one.
pub(super) fn unpack(payload: &str) -> Option<(&str, impl Iterator<Item = &str>)> {
    let (origin, ids) = payload.split_once(' ')?;
    Some((origin, ids.split(',').filter(|id| !id.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_packed_under_the_payload_limit_and_read_back() {
        let ids: Vec<String> = (0..500).map(|i| format!("{i:036}")).collect();
        let payloads = pack("me", &ids);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let mut back = Vec::new();
        for p in &payloads {
            let (origin, ids) = unpack(p).unwrap();
            assert_eq!(origin, "me");
            back.extend(ids.map(str::to_string));
        }
        assert_eq!(back, ids);
    }

    #[test]
    fn a_heartbeat_carries_no_ids() {
        let payloads = pack("me", &[]);
        assert_eq!(payloads, vec!["me ".to_string()]);
        let (origin, mut ids) = unpack(&payloads[0]).unwrap();
        assert_eq!(origin, "me");
        assert!(ids.next().is_none());
        assert!(unpack("no-space").is_none());
    }
}
