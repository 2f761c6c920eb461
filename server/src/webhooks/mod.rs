//! The webhook delivery worker: claims due deliveries (a lease by
//! conditional update, so replicas share the work and never send one
//! twice at once), sends each signed (`send.rs`, `sign.rs`), records the
//! attempt, and retries with exponential back-off and jitter until the
//! attempts run out. A worker that dies mid-send leaves its lease to run
//! out; the next sends again with the same `webhook-id` (at least once).
//!
//! It also keeps this replica's webhook subscription mask (see
//! `app/src/webhooks/outbox.rs`) fresh: reloaded every few seconds, and
//! "everything" while this replica cannot hear the others' changes.

mod send;
pub mod sign;

use app::state::AppState;
use app::webhooks::deliveries::{self, Claimed, Next};
use app::webhooks::outbox;
use std::time::Duration;
use tokio::task::JoinHandle;

#[derive(clap::Args, Clone, Debug)]
pub struct WebhookArgs {
    /// Seconds one webhook delivery attempt may take (connect and answer).
    #[arg(long, env = "BELAY_WEBHOOK_TIMEOUT_SECS", default_value = "10",
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub webhook_timeout_secs: u64,
    /// Seconds before the first retry of a failed delivery; each further
    /// retry waits twice as long (up to six hours), give or take a fifth.
    #[arg(long, env = "BELAY_WEBHOOK_RETRY_SECS", default_value = "30",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub webhook_retry_secs: u64,
    /// Attempts before a delivery is marked failed (it can be re-sent).
    #[arg(long, env = "BELAY_WEBHOOK_ATTEMPTS", default_value = "10",
          value_parser = clap::value_parser!(u32).range(1..=30))]
    pub webhook_attempts: u32,
}

impl Default for WebhookArgs {
    fn default() -> Self {
        WebhookArgs {
            webhook_timeout_secs: 10,
            webhook_retry_secs: 30,
            webhook_attempts: 10,
        }
    }
}

/// How often due deliveries are looked for.
const POLL: Duration = Duration::from_millis(500);
/// How often the subscription mask is re-read (besides on every change heard).
const RELOAD_EVERY: Duration = Duration::from_secs(5);
/// Deliveries claimed (and sent concurrently) at once.
const BATCH: i64 = 32;
/// The longest wait between retries.
const MAX_BACKOFF_MS: i64 = 6 * 3600 * 1000;

/// Starts the worker; it stops when the handle is aborted.
pub fn start(state: &AppState, args: &WebhookArgs) -> Result<JoinHandle<()>, String> {
    let timeout = Duration::from_secs(args.webhook_timeout_secs);
    let http = send::client(timeout)?;
    // Until the first reload, this database's batches all ask.
    outbox::unsure(&state.db);
    let worker = Worker {
        state: state.clone(),
        http,
        // Longer than any attempt, so a live worker never loses its lease.
        lease_ms: 2 * timeout.as_millis() as i64 + 2_000,
        retry_ms: args.webhook_retry_secs as i64 * 1000,
        attempts: args.webhook_attempts.into(),
    };
    Ok(tokio::spawn(worker.run()))
}

struct Worker {
    state: AppState,
    http: reqwest13::Client,
    lease_ms: i64,
    retry_ms: i64,
    attempts: i64,
}

impl Worker {
    async fn run(self) {
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reloaded_at: Option<tokio::time::Instant> = None;
        loop {
            poll.tick().await;
            if reloaded_at.is_none_or(|at| at.elapsed() >= RELOAD_EVERY) {
                self.refresh_subscriptions().await;
                reloaded_at = Some(tokio::time::Instant::now());
            }
            loop {
                let now = app::db::now_ms();
                let batch = match deliveries::claim_due(&self.state.db, now, self.lease_ms, BATCH)
                    .await
                {
                    Ok(batch) => batch,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot claim webhook deliveries; trying again shortly");
                        break;
                    }
                };
                let full = batch.len() as i64 == BATCH;
                futures_util::future::join_all(batch.iter().map(|d| self.deliver(d))).await;
                if !full {
                    break;
                }
            }
        }
    }

    async fn refresh_subscriptions(&self) {
        let url = self.state.db.connect_options().database_url.to_string();
        let postgres = app::db::Backend::of(&url) == Ok(app::db::Backend::Postgres);
        if postgres && !self.state.changes.hearing(app::db::now_ms()) {
            // Another replica's new endpoint might not be heard of.
            outbox::unsure(&self.state.db);
        } else if let Err(e) = outbox::reload(&self.state.db).await {
            tracing::warn!(error = %e, "cannot reload the webhook subscriptions");
            outbox::unsure(&self.state.db);
        }
    }

    async fn deliver(&self, d: &Claimed) {
        let attempt = send::attempt(&self.http, d).await;
        let tries = d.tries + 1;
        let (next, result) = if attempt.succeeded() {
            (Next::Delivered, "delivered")
        } else if tries >= self.attempts {
            (Next::Failed, "failed")
        } else {
            let at = attempt.at + backoff(self.retry_ms, tries, rand::random::<f64>());
            (Next::RetryAt(at), "retrying")
        };
        self.state.metrics.webhook_attempt(result);
        tracing::info!(delivery_id = %d.id, status = ?attempt.status, error = ?attempt.error, result, "webhook delivery attempted");
        if let Err(e) = deliveries::record(&self.state.db, d, &attempt, next).await {
            // The lease runs out and the delivery is sent again.
            tracing::warn!(delivery_id = %d.id, error = %e, "cannot record a webhook attempt; it will be sent again");
        }
    }
}

/// The wait before retry `tries` (1 after the first failure): `base`
/// doubled each time, capped, then moved by up to a fifth either way
/// (`jitter` in 0..1) so endpoints that failed together are not all
/// retried together.
fn backoff(base_ms: i64, tries: i64, jitter: f64) -> i64 {
    let doubled = base_ms.saturating_mul(1_i64 << (tries - 1).clamp(0, 30));
    let capped = doubled.min(MAX_BACKOFF_MS) as f64;
    (capped * (0.8 + 0.4 * jitter.clamp(0.0, 1.0))) as i64
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn back_off_doubles_with_jitter_and_is_capped() {
        assert_eq!(backoff(30_000, 1, 0.5), 30_000);
        assert_eq!(backoff(30_000, 2, 0.5), 60_000);
        assert_eq!(backoff(30_000, 4, 0.0), 192_000);
        assert_eq!(backoff(30_000, 4, 1.0), 288_000);
        assert_eq!(backoff(30_000, 40, 0.5), 6 * 3600 * 1000);
    }
}
