//! Per-agent submission quotas: an agent may submit at most so many actions a
//! minute (bursting up to that many at once); beyond it, 429 with
//! `Retry-After`, checked before the body is read. One agent flooding the
//! queue cannot slow the decisions of the others.

use app::error::AppError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

pub struct Quotas {
    submissions: DefaultKeyedRateLimiter<String>,
    per_minute: NonZeroU32,
}

impl Quotas {
    pub fn new(per_minute: NonZeroU32) -> Self {
        Quotas {
            submissions: RateLimiter::keyed(Quota::per_minute(per_minute)),
            per_minute,
        }
    }

    /// One submission by this agent, or 429.
    pub fn submission(&self, agent_id: &str) -> Result<(), AppError> {
        // Agents that stopped calling are forgotten now and then; only
        // agents whose key passed authentication are ever counted.
        if self.submissions.len() > 10_000 {
            self.submissions.retain_recent();
        }
        self.submissions
            .check_key(&agent_id.to_string())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                tracing::warn!(quota = self.per_minute.get(), "agent over its submission quota");
                AppError::TooManyRequests(
                    format!(
                        "over this agent's quota of {} submissions a minute: wait before submitting again",
                        self.per_minute
                    ),
                    wait.as_secs().max(1),
                )
            })
    }
}
