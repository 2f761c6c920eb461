//! Per-agent submission quotas: an agent may submit at most so many actions a
//! minute (bursting up to that many at once); beyond it, 429 with
//! `Retry-After`, checked before the body is read. One agent flooding the
//! queue cannot slow the decisions of the others. The other quotas are
//! checked where they are used (`app::quota`).

use app::error::AppError;
use app::quota::limits::Kind;
use app::quota::usage::Usage;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

/// One limiter per distinct rate, keyed by agent: agents with the same
/// quota share one, and an agent whose quota changes starts afresh.
#[derive(Default)]
pub struct Quotas {
    by_rate: Mutex<HashMap<NonZeroU32, Arc<DefaultKeyedRateLimiter<String>>>>,
}

impl Quotas {
    /// One submission by this agent, allowed `per_minute`, or 429.
    pub fn submission(
        &self,
        usage: &Usage,
        agent_id: &str,
        per_minute: u64,
    ) -> Result<(), AppError> {
        let rate = NonZeroU32::new(u32::try_from(per_minute).unwrap_or(u32::MAX))
            .unwrap_or(NonZeroU32::MIN);
        let limiter = {
            let mut all = self.by_rate.lock().unwrap_or_else(|e| e.into_inner());
            all.entry(rate)
                .or_insert_with(|| Arc::new(RateLimiter::keyed(Quota::per_minute(rate))))
                .clone()
        };
        // Agents that stopped calling are forgotten now and then; only
        // agents whose key passed authentication are ever counted.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        limiter.check_key(&agent_id.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            usage.refused(agent_id, Kind::Submissions, per_minute);
            AppError::TooManyRequests(
                format!(
                    "over this agent's quota of {per_minute} submissions a minute: wait before submitting again"
                ),
                wait.as_secs().max(1),
            )
        })
    }
}
