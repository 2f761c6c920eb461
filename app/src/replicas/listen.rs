//! Hearing the other replicas: `LISTEN` on a connection of its own. A
//! request another replica changed reaches this replica's long-polls and
//! live queue; a policy change (`NOTIFY belay_policy`, sent inside the
//! transaction that bumps the policy epoch, so it arrives only once that
//! transaction is visible) reloads the cached index.
//!
//! Whenever this replica may have missed notices — at the start, after a
//! dropped connection, or when its own heartbeat stops coming back — it
//! treats everything as changed: every listener re-reads and the index is
//! reloaded. Until it hears again, listeners re-read every second.

use super::feed::{ChangeFeed, DEAF_AFTER, EVERYTHING};
use super::publish::{unpack, CHANGES};
use crate::db::now_ms;
use sqlx::postgres::{PgListener, PgNotification};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The channel policy changes go out on (see `policy::store::bump_epoch`).
pub const POLICY: &str = "belay_policy";

pub(super) async fn run(url: String, origin: String, feed: Arc<ChangeFeed>, reload: Arc<Notify>) {
    let mut failing = false;
    loop {
        let mut listener = match subscribe(&url).await {
            Ok(listener) => listener,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot listen for other replicas' changes; re-reading every second meanwhile");
                }
                failing = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if failing {
            tracing::info!("listening for other replicas' changes again");
        }
        failing = false;
        caught_up(&feed, &reload);
        let mut heard = Instant::now();
        loop {
            let note = tokio::select! {
                note = listener.try_recv() => note,
                _ = tokio::time::sleep_until(heard + DEAF_AFTER) => {
                    tracing::warn!("this replica's own notices stopped coming back; listening afresh");
                    break;
                }
            };
            match note {
                Ok(Some(note)) => {
                    if handle(&note, &origin, &feed, &reload) {
                        heard = Instant::now();
                    }
                }
                // The connection dropped and sqlx listens again already;
                // what was sent meanwhile is lost.
                Ok(None) => caught_up(&feed, &reload),
                Err(e) => {
                    tracing::warn!(error = %e, "lost the connection that hears other replicas; listening afresh");
                    break;
                }
            }
        }
        feed.deaf();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn subscribe(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen_all([CHANGES, POLICY]).await?;
    Ok(listener)
}

/// Anything may have changed while this replica was not listening.
fn caught_up(feed: &ChangeFeed, reload: &Notify) {
    feed.deliver(EVERYTHING.to_string());
    reload.notify_one();
}

/// Acts on one notice; answers whether it was this replica's own (its
/// heartbeat or its changes, come back: the path works).
fn handle(note: &PgNotification, origin: &str, feed: &ChangeFeed, reload: &Notify) -> bool {
    if note.channel() == POLICY {
        reload.notify_one();
        return false;
    }
    match unpack(note.payload()) {
        Some((from, _)) if from == origin => {
            feed.heard(now_ms());
            true
        }
        Some((_, ids)) => {
            for id in ids {
                feed.deliver(id.to_string());
            }
            false
        }
        None => {
            tracing::warn!(
                channel = note.channel(),
                "a notice Belay did not send; ignored"
            );
            false
        }
    }
}
