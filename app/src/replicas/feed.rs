//! The change feed: ids of action requests that were just submitted for
//! approval or changed state. Long-polls and the live queue listen here.
//! A change made on this replica reaches local listeners at once and is
//! queued for the other replicas (`publish.rs`); one made elsewhere comes
//! in through `listen.rs` and reaches local listeners only.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// An id that stands for every request: sent when this replica may have
/// missed changes (its listener reconnected, the outbox overflowed), so
/// every listener re-reads.
pub const EVERYTHING: &str = "*";

/// Changes waiting for the publisher; past this, they are dropped and
/// `EVERYTHING` is published instead.
const OUTBOX: usize = 4096;

/// How often listeners re-read anyway when no other replica can be heard
/// (SQLite: other processes on the file, such as `belay mcp stdio`, are
/// never heard; PostgreSQL: the listener is down or not yet up).
pub const DEAF_REREAD: Duration = Duration::from_secs(1);

/// How often they re-read while every replica's changes are heard: only
/// against a change whose notice was lost (a replica that stopped between
/// its commit and the notice).
pub const HEARING_REREAD: Duration = Duration::from_secs(10);

/// How often each replica sends itself a heartbeat through the database.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// Silence after which this replica counts itself deaf: its own heartbeat
/// did not come back.
pub const DEAF_AFTER: Duration = Duration::from_secs(15);

pub struct ChangeFeed {
    local: broadcast::Sender<String>,
    outbox: OnceLock<mpsc::Sender<String>>,
    /// Some changes could not be queued: publish `EVERYTHING` next.
    overflowed: AtomicBool,
    /// When this replica last heard its own heartbeat (ms since the Unix
    /// epoch); 0 while deaf.
    heard_at: AtomicI64,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        ChangeFeed {
            local: broadcast::channel(1024).0,
            outbox: OnceLock::new(),
            overflowed: AtomicBool::new(false),
            heard_at: AtomicI64::new(0),
        }
    }
}

impl ChangeFeed {
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.local.subscribe()
    }

    /// A change committed on this replica. Call after the commit: another
    /// replica re-reads when it hears of it.
    pub fn send(&self, id: String) {
        if let Some(outbox) = self.outbox.get() {
            if outbox.try_send(id.clone()).is_err() {
                self.overflowed.store(true, Ordering::Relaxed);
            }
        }
        // Nobody listening is fine.
        let _ = self.local.send(id);
    }

    /// A change another replica made: local listeners only.
    pub(super) fn deliver(&self, id: String) {
        let _ = self.local.send(id);
    }

    /// Starts queueing changes for other replicas; the receiver is the
    /// publisher's. None if a publisher is already attached.
    pub(super) fn attach(&self) -> Option<mpsc::Receiver<String>> {
        let (tx, rx) = mpsc::channel(OUTBOX);
        self.outbox.set(tx).ok().map(|_| rx)
    }

    /// Whether changes were dropped since the last call.
    pub(super) fn take_overflow(&self) -> bool {
        self.overflowed.swap(false, Ordering::Relaxed)
    }

    pub(super) fn heard(&self, now_ms: i64) {
        self.heard_at.store(now_ms, Ordering::Relaxed);
    }

    pub(super) fn deaf(&self) {
        self.heard_at.store(0, Ordering::Relaxed);
    }

    /// Whether changes made on other replicas reach this one now.
    pub fn hearing(&self, now_ms: i64) -> bool {
        let at = self.heard_at.load(Ordering::Relaxed);
        at > 0 && now_ms - at < DEAF_AFTER.as_millis() as i64
    }

    /// How long a listener may wait for a change before it re-reads anyway.
    pub fn reread_every(&self) -> Duration {
        if self.hearing(crate::db::now_ms()) {
            HEARING_REREAD
        } else {
            DEAF_REREAD
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_change_reaches_local_listeners_and_the_outbox() {
        let feed = ChangeFeed::default();
        let mut local = feed.subscribe();
        let mut outbox = feed.attach().unwrap();
        assert!(feed.attach().is_none(), "one publisher per feed");
        feed.send("a".into());
        feed.deliver("b".into());
        assert_eq!(local.recv().await.unwrap(), "a");
        assert_eq!(local.recv().await.unwrap(), "b");
        assert_eq!(outbox.recv().await.unwrap(), "a");
        assert!(
            outbox.try_recv().is_err(),
            "another replica's change is not sent back"
        );
    }

    #[test]
    fn a_full_outbox_asks_for_everything() {
        let feed = ChangeFeed::default();
        let _outbox = feed.attach().unwrap();
        for i in 0..OUTBOX {
            feed.send(i.to_string());
        }
        assert!(!feed.take_overflow());
        feed.send("one too many".into());
        assert!(feed.take_overflow());
        assert!(!feed.take_overflow());
    }

    #[test]
    fn a_replica_hears_only_while_its_heartbeat_comes_back() {
        let feed = ChangeFeed::default();
        assert!(!feed.hearing(1_000_000));
        feed.heard(1_000_000);
        assert!(feed.hearing(1_000_000 + 14_999));
        assert!(!feed.hearing(1_000_000 + 15_000));
        feed.deaf();
        assert!(!feed.hearing(1_000_001));
    }
}
