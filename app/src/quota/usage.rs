//! What this replica counts in memory: quota refusals per agent (shown on
//! the agent's page), and the long-polls each agent holds open right now.
//! Both are per replica: a long-poll lives on one replica, and refusals
//! are a signal to look at an agent, not a ledger.

use super::limits::Kind;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Agents tracked at most; past it, the counts start again (agents are
/// registered by people, so this is far beyond any real deployment).
const MAX_AGENTS: usize = 100_000;

/// One log line per agent and quota at most this often: an agent that
/// ignores `Retry-After` is refused thousands of times a second, and a line
/// each would fill the disk.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// One agent's refusals, by kind (in `Kind::ALL` order).
#[derive(Default)]
struct Refused {
    counts: [u64; 4],
    /// When each kind was last logged, and how many since.
    logged: [Option<Instant>; 4],
    unlogged: [u64; 4],
}

#[derive(Default)]
pub struct Usage {
    refusals: Mutex<HashMap<String, Refused>>,
    /// Every refusal by kind, never reset (Prometheus reads these).
    totals: [AtomicU64; 4],
    long_polls: Arc<Mutex<HashMap<String, u64>>>,
}

impl Usage {
    /// Counts one refusal, and logs it (the first, then at most once a
    /// minute with how many came since).
    pub fn refused(&self, agent_id: &str, kind: Kind, limit: u64) {
        let mut all = lock(&self.refusals);
        if all.len() >= MAX_AGENTS && !all.contains_key(agent_id) {
            all.clear();
        }
        let r = all.entry(agent_id.to_string()).or_default();
        let k = kind.index();
        self.totals[k].fetch_add(1, Ordering::Relaxed);
        r.counts[k] += 1;
        r.unlogged[k] += 1;
        let now = Instant::now();
        if r.logged[k].is_none_or(|at| now.duration_since(at) >= LOG_EVERY) {
            tracing::warn!(
                agent_id,
                quota = kind.as_str(),
                limit,
                refusals = r.unlogged[k],
                "agent over its quota"
            );
            r.logged[k] = Some(now);
            r.unlogged[k] = 0;
        }
    }

    /// The agent's refusals by kind (in `Kind::ALL` order) since this
    /// replica started.
    pub fn refusals_of(&self, agent_id: &str) -> [u64; 4] {
        lock(&self.refusals)
            .get(agent_id)
            .map(|r| r.counts)
            .unwrap_or_default()
    }

    /// Every refusal this replica has counted, by kind.
    pub fn refusals_total(&self) -> [u64; 4] {
        self.totals.each_ref().map(|t| t.load(Ordering::Relaxed))
    }

    /// One more long-poll for the agent, if it holds fewer than `limit`;
    /// the poll counts until the returned guard is dropped.
    pub fn long_poll(&self, agent_id: &str, limit: u64) -> Option<LongPoll> {
        let mut open = lock(&self.long_polls);
        let n = open.entry(agent_id.to_string()).or_default();
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(LongPoll {
            open: self.long_polls.clone(),
            agent_id: agent_id.to_string(),
        })
    }

    /// Long-polls the agent holds open now.
    pub fn long_polls_of(&self, agent_id: &str) -> u64 {
        lock(&self.long_polls).get(agent_id).copied().unwrap_or(0)
    }
}

/// An open long-poll; dropping it (the answer sent, or the client gone)
/// frees its place.
pub struct LongPoll {
    open: Arc<Mutex<HashMap<String, u64>>>,
    agent_id: String,
}

impl Drop for LongPoll {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(n) = open.get_mut(&self.agent_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.agent_id);
            }
        }
    }
}

/// Counters stay usable after a panic elsewhere held the lock.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_polls_are_counted_until_dropped() {
        let usage = Usage::default();
        let first = usage.long_poll("a", 2).expect("first");
        let second = usage.long_poll("a", 2).expect("second");
        assert!(usage.long_poll("a", 2).is_none(), "a third is over");
        assert!(usage.long_poll("b", 2).is_some(), "other agents are not");
        drop(first);
        assert_eq!(usage.long_polls_of("a"), 1);
        assert!(usage.long_poll("a", 2).is_some());
        drop(second);
    }

    #[test]
    fn refusals_are_counted_per_agent_and_kind() {
        let usage = Usage::default();
        usage.refused("a", Kind::Pending, 3);
        usage.refused("a", Kind::Pending, 3);
        usage.refused("b", Kind::LongPolls, 1);
        assert_eq!(usage.refusals_of("a"), [0, 2, 0, 0]);
        assert_eq!(usage.refusals_total(), [0, 2, 0, 1]);
    }
}
