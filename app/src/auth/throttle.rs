//! Sign-in throttling: consecutive failures per username and per client
//! address back off exponentially (429 with `Retry-After`), and at most one
//! password hash per core runs at once (past a short wait, 503), so guessing
//! is slow and a flood of bad sign-ins cannot take the cores or the memory
//! (each argon2 hash holds 19 MiB while it runs).
//!
//! Hand-written rather than `governor`: the rule is "back off after
//! consecutive failures, forget them on success", which a rate limiter
//! (GCRA) does not express; a rate would also slow people who sign in fine.
//! The state is per replica (a few replicas multiply the attempts allowed,
//! not the memory used).

use crate::error::AppError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Failures allowed before back-off starts, per username and per address
/// (an address may be a whole office behind one NAT).
const FREE_PER_USER: u32 = 5;
const FREE_PER_ADDRESS: u32 = 20;
/// The longest a back-off lasts; failures older than this are forgotten.
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// How long a sign-in waits for a free hashing slot before 503.
const HASH_WAIT: Duration = Duration::from_secs(2);
/// Entries kept before old ones are swept (bounds memory under a flood of
/// made-up usernames).
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
/// not it exists, so throttling reveals nothing) and the client address.
pub fn keys(username: &str, address: &str) -> [String; 2] {
    [
        format!("user:{}", username.trim().to_lowercase()),
        format!("addr:{address}"),
    ]
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

    /// 429 while any of `keys` is backing off, with when to try again.
    pub fn check(&self, keys: &[String]) -> Result<(), AppError> {
        let now = Instant::now();
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let wait = keys
            .iter()
            .filter_map(|k| {
                map.get(k)
                    .map(|f| (f.last + Self::backoff(k, f.count)).saturating_duration_since(now))
            })
            .max()
            .unwrap_or_default();
        if wait.is_zero() {
            Ok(())
        } else {
            Err(AppError::TooManyRequests(
                "too many failed sign-ins: wait before trying again".into(),
                wait.as_secs().max(1),
            ))
        }
    }

    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, f| now.duration_since(f.last) < MAX_BACKOFF);
        }
        for key in keys {
            let f = map.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.duration_since(f.last) >= MAX_BACKOFF {
                f.count = 0;
            }
            f.count += 1;
            f.last = now;
        }
    }

    /// A correct password clears the username's failures (not the address's:
    /// one good account must not unlock guessing at the others).
    pub fn succeeded(&self, user_key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(user_key);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_exponentially_per_key_and_success_forgives_the_user() {
        let guard = SignInGuard::new(1);
        let k = keys(" Ada ", "10.0.0.1");
        assert_eq!(k[0], "user:ada");
        for _ in 0..FREE_PER_USER {
            assert!(guard.check(&k).is_ok());
            guard.failed(&k);
        }
        match guard.check(&k) {
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
        guard.succeeded(&k[0]);
        assert!(
            guard.check(&k).is_ok(),
            "the address is still under its allowance"
        );
        let other = keys("bob", "10.0.0.2");
        assert!(guard.check(&other).is_ok(), "other keys are untouched");
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
