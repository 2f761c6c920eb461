//! Sign-in throttling: failures per username and per client address back
//! off exponentially (429 with `Retry-After`), and at most one password
//! hash per core runs at once (past a short wait, 503), so guessing is slow
//! and a flood of bad sign-ins cannot take the cores or the memory (each
//! argon2 hash holds 19 MiB while it runs).
//!
//! Hand-written rather than `governor`: the rule is "back off after
//! failures, forget them on success", which a rate limiter (GCRA) does not
//! express; a rate would also slow people who sign in fine. The state is
//! per replica (replicas multiply the attempts allowed, not the memory).

use crate::error::AppError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Failures allowed before back-off starts, per username and per address
/// (an address may be a whole office behind one NAT).
const FREE_PER_USER: u32 = 5;
const FREE_PER_ADDRESS: u32 = 20;
/// Refused API tokens allowed per address (`token:` keys) before back-off:
/// a token cannot be guessed, so this only stops a flood, and a script
/// with a stale token gets a few retries before it is slowed down.
const FREE_PER_TOKEN_ADDRESS: u32 = 100;
/// The longest one back-off lasts.
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten after this long without one: much longer than
/// the longest back-off, so waiting it out does not start a fresh allowance.
const FORGET: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a sign-in waits for a free hashing slot before 503.
const HASH_WAIT: Duration = Duration::from_secs(2);
/// Entries kept at most: past this, forgotten ones are swept, then the
/// older half (bounds memory under a flood of made-up usernames).
const MAX_ENTRIES: usize = 100_000;

struct Failures {
    count: u32,
    last: Instant,
}

pub struct SignInGuard {
    hashes: Semaphore,
    wait: Duration,
    failures: Mutex<HashMap<String, Failures>>,
}

impl Default for SignInGuard {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        SignInGuard::new(cores)
    }
}

/// The keys one attempt counts against: the username as typed (whether or
/// not it exists, so throttling reveals nothing; at most 64 characters) and
/// the client address.
pub fn keys(username: &str, address: &str) -> [String; 2] {
    let name: String = username.trim().to_lowercase().chars().take(64).collect();
    [format!("user:{name}"), format!("addr:{address}")]
}

impl SignInGuard {
    pub fn new(concurrent_hashes: usize) -> Self {
        SignInGuard {
            hashes: Semaphore::new(concurrent_hashes.max(1)),
            wait: HASH_WAIT,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn free(key: &str) -> u32 {
        if key.starts_with("user:") {
            FREE_PER_USER
        } else if key.starts_with("token:") {
            FREE_PER_TOKEN_ADDRESS
        } else {
            FREE_PER_ADDRESS
        }
    }

    /// How long `count` failures make a key wait after its last one.
    fn backoff(key: &str, count: u32) -> Duration {
        match count.checked_sub(Self::free(key)) {
            None => Duration::ZERO,
            Some(over) => Duration::from_secs(1u64 << over.min(10)).min(MAX_BACKOFF),
        }
    }

    /// Starts an attempt: 429 while any of `keys` is backing off, with when
    /// to try again; otherwise the attempt counts as a failure at once (so
    /// a burst of parallel guesses cannot all pass before any has failed),
    /// until `succeeded` takes it back.
    pub fn begin(&self, keys: &[String]) -> Result<(), AppError> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        refuse_while_waiting(&map, keys, now, "too many failed sign-ins")?;
        count_failure(&mut map, keys, now);
        Ok(())
    }

    /// For a credential far too long to guess (a personal API token): 429
    /// while any of `keys` is backing off, without counting this attempt,
    /// so that a script making many calls at once with a good token does
    /// not slow itself down. A refused token is counted with `failed`.
    pub fn check(&self, keys: &[String]) -> Result<(), AppError> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        refuse_while_waiting(&map, keys, Instant::now(), "too many refused tokens")
    }

    /// Counts a refused attempt against `keys` (see `check`).
    pub fn failed(&self, keys: &[String]) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        count_failure(&mut map, keys, Instant::now());
    }

    /// A correct password: the username's failures are forgotten, and this
    /// attempt no longer counts against the address (its earlier failures
    /// do: one good account must not unlock guessing at the others).
    pub fn succeeded(&self, keys: &[String]) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(user) = keys.first() {
            map.remove(user);
        }
        for key in keys.iter().skip(1) {
            if let Some(f) = map.get_mut(key) {
                f.count = f.count.saturating_sub(1);
            }
        }
    }

    /// A slot to hash in; 503 if none frees up soon.
    pub async fn hashing_slot(&self) -> Result<SemaphorePermit<'_>, AppError> {
        match tokio::time::timeout(self.wait, self.hashes.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(AppError::Busy(
                "Belay is busy checking other sign-ins; try again in a moment".into(),
                1,
            )),
        }
    }
}

/// 429 while any of `keys` is backing off, with when to try again.
fn refuse_while_waiting(
    map: &HashMap<String, Failures>,
    keys: &[String],
    now: Instant,
    what: &str,
) -> Result<(), AppError> {
    let wait = keys
        .iter()
        .filter_map(|k| map.get(k).map(|f| (k, f)))
        .filter(|(_, f)| now.duration_since(f.last) < FORGET)
        .map(|(k, f)| (f.last + SignInGuard::backoff(k, f.count)).saturating_duration_since(now))
        .max()
        .unwrap_or_default();
    if wait.is_zero() {
        return Ok(());
    }
    Err(AppError::TooManyRequests(
        format!("{what}: wait before trying again"),
        wait.as_secs().max(1),
    ))
}

fn count_failure(map: &mut HashMap<String, Failures>, keys: &[String], now: Instant) {
    if map.len() >= MAX_ENTRIES {
        sweep(map, now);
    }
    for key in keys {
        let f = map.entry(key.clone()).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.duration_since(f.last) >= FORGET {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
    }
}

/// Drops forgotten entries, then, if still full, the older half.
fn sweep(map: &mut HashMap<String, Failures>, now: Instant) {
    map.retain(|_, f| now.duration_since(f.last) < FORGET);
    if map.len() >= MAX_ENTRIES {
        let mut ages: Vec<Instant> = map.values().map(|f| f.last).collect();
        ages.sort_unstable();
        let cutoff = ages[ages.len() / 2];
        map.retain(|_, f| f.last > cutoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_back_off_exponentially_per_key_and_success_forgives_the_user() {
        let guard = SignInGuard::new(1);
        let k = keys(" Ada ", "10.0.0.1");
        assert_eq!(k[0], "user:ada");
        for _ in 0..FREE_PER_USER {
            assert!(guard.begin(&k).is_ok(), "each attempt counts as it starts");
        }
        match guard.begin(&k) {
            Err(AppError::TooManyRequests(_, secs)) => assert_eq!(secs, 1),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            SignInGuard::backoff("user:x", FREE_PER_USER + 3),
            Duration::from_secs(8)
        );
        assert_eq!(SignInGuard::backoff("user:x", 99), MAX_BACKOFF);
        assert_eq!(
            SignInGuard::backoff("addr:x", FREE_PER_USER + 3),
            Duration::ZERO
        );
        let other = keys("bob", "10.0.0.2");
        assert!(guard.begin(&other).is_ok(), "other keys are untouched");
        guard.succeeded(&other);
        let map = guard.failures.lock().unwrap();
        assert!(!map.contains_key("user:bob"));
        assert_eq!(map["addr:10.0.0.2"].count, 0);
        assert_eq!(keys(&"x".repeat(1000), "a")[0].len(), "user:".len() + 64);
    }

    #[test]
    fn a_full_map_sweeps_the_older_half() {
        let now = Instant::now();
        let mut map: HashMap<String, Failures> = (0..MAX_ENTRIES)
            .map(|i| {
                (
                    i.to_string(),
                    Failures {
                        count: 1,
                        last: now + Duration::from_millis(i as u64),
                    },
                )
            })
            .collect();
        sweep(&mut map, now + Duration::from_secs(200));
        assert!(map.len() <= MAX_ENTRIES / 2);
        assert!(
            map.contains_key(&(MAX_ENTRIES - 1).to_string()),
            "the newest stay"
        );
    }

    #[tokio::test]
    async fn hashing_waits_for_a_slot_then_refuses() {
        let guard = SignInGuard {
            wait: Duration::from_millis(10),
            ..SignInGuard::new(1)
        };
        let held = guard.hashing_slot().await.unwrap();
        let refused = guard.hashing_slot().await;
        assert!(matches!(refused, Err(AppError::Busy(_, _))));
        drop(held);
        assert!(guard.hashing_slot().await.is_ok());
    }
}
