//! What a replica counts for Prometheus. `prometheus-client` (the
//! Prometheus project's own crate: typed metrics, a registry value rather
//! than a process-wide recorder, four small dependencies) keeps one
//! registry per `AppState`, so several servers in one process (the tests)
//! never count into each other.
//!
//! Labels are small closed sets (a decision, a stage, a reason); no agent,
//! person or request names a series, so the number of series is fixed
//! whatever the traffic.

use crate::error::AppError;
use crate::quota::limits::Kind;
use crate::quota::usage::Usage;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

type Label = [(&'static str, &'static str); 1];
type Labels = [(&'static str, &'static str); 2];
type Histograms = Family<Label, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    decisions: Family<Labels, Counter>,
    time_to_decision: Histograms,
    queue_depth: Gauge,
    queue_oldest: Gauge<f64, AtomicU64>,
    batch_size: Histogram,
    commit_seconds: Histogram,
    batches: Family<Label, Counter>,
    claims: Family<Label, Counter>,
    outcomes: Family<Labels, Counter>,
    sign_in_refusals: Family<Label, Counter>,
    webhook_deliveries: Family<Label, Counter>,
}

/// One second to four weeks: a person decides in minutes or days.
fn decision_buckets() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 4.0, 12))
}

impl Metrics {
    /// The registry, with quota refusals read from `usage` (which counts
    /// them already) at each scrape.
    pub fn new(usage: Arc<Usage>) -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("belay"),
            decisions: Family::default(),
            time_to_decision: Family::new_with_constructor(decision_buckets),
            queue_depth: Gauge::default(),
            queue_oldest: Gauge::default(),
            // 1 to 256, the writer's largest batch.
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 9)),
            // 0.25 ms to about 4 s.
            commit_seconds: Histogram::new(exponential_buckets(0.000_25, 2.0, 15)),
            batches: Family::default(),
            claims: Family::default(),
            outcomes: Family::default(),
            sign_in_refusals: Family::default(),
            webhook_deliveries: Family::default(),
        };
        let r = &mut m.registry;
        r.register(
            "decisions",
            "Submissions decided by the policy, by decision and the agent's stage",
            m.decisions.clone(),
        );
        r.register(
            "time_to_decision_seconds",
            "From submission to the final say on a request that waited for people: approved, rejected or expired",
            m.time_to_decision.clone(),
        );
        r.register(
            "queue_depth",
            "Requests waiting for approval now (read from the database at scrape)",
            m.queue_depth.clone(),
        );
        r.register(
            "queue_oldest_wait_seconds",
            "How long the oldest request waiting for approval has waited (0 when none)",
            m.queue_oldest.clone(),
        );
        r.register(
            "writer_batch_size",
            "Submissions committed together by the group-commit writer",
            m.batch_size.clone(),
        );
        r.register(
            "writer_commit_seconds",
            "A writer batch's transaction, from BEGIN until its COMMIT is durable",
            m.commit_seconds.clone(),
        );
        r.register(
            "writer_batches",
            "Writer batches committed, by how: one_trip (BEGIN, writes, audit and COMMIT as one query, when nothing had to be read under the lock; SQLite) or several_trips",
            m.batches.clone(),
        );
        r.register(
            "claims",
            "Claims of approved requests: claimed, or refused because the policy no longer covers them",
            m.claims.clone(),
        );
        r.register(
            "outcomes",
            "Outcomes agents reported, by result and whether it was an incident",
            m.outcomes.clone(),
        );
        r.register(
            "sign_in_refusals",
            "Refused sign-ins: wrong credentials, backing off, or no free hashing slot",
            m.sign_in_refusals.clone(),
        );
        r.register(
            "webhook_deliveries",
            "Webhook delivery attempts this replica made, by result: delivered, retrying (will be tried again) or failed (out of tries)",
            m.webhook_deliveries.clone(),
        );
        r.register_collector(Box::new(QuotaRefusals(usage)));
        m
    }

    /// A submission the policy decided (replays are not counted again):
    /// its decision and the agent's stage, as `Outcome` and `Stage` name them.
    pub fn decided(&self, decision: &'static str, stage: &'static str) {
        let labels = [("decision", decision), ("stage", stage)];
        self.decisions.get_or_create(&labels).inc();
    }

    /// A request that waited for people reached `state` after `waited_ms`;
    /// only approved, rejected and expired are final (one approval of two
    /// is not).
    pub fn finally_decided(&self, state: &'static str, waited_ms: i64) {
        let outcome = match state {
            "approved" | "rejected" | "expired" => state,
            _ => return,
        };
        let seconds = waited_ms.max(0) as f64 / 1000.0;
        self.time_to_decision
            .get_or_create(&[("outcome", outcome)])
            .observe(seconds);
    }

    /// One committed writer batch, sent as one query or not.
    pub fn batch_committed(&self, size: usize, took: Duration, one_trip: bool) {
        let path = if one_trip {
            "one_trip"
        } else {
            "several_trips"
        };
        self.batches.get_or_create(&[("path", path)]).inc();
        self.batch_size.observe(size as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// `claimed` or `refused`.
    pub fn claim(&self, result: &'static str) {
        self.claims.get_or_create(&[("result", result)]).inc();
    }

    pub fn outcome(&self, succeeded: bool, incident: bool) {
        let result = if succeeded { "succeeded" } else { "failed" };
        let incident = if incident { "true" } else { "false" };
        let labels = [("result", result), ("incident", incident)];
        self.outcomes.get_or_create(&labels).inc();
    }

    /// One webhook delivery attempt: `delivered`, `retrying` or `failed`.
    pub fn webhook_attempt(&self, result: &'static str) {
        self.webhook_deliveries
            .get_or_create(&[("result", result)])
            .inc();
    }

    /// A refused sign-in, by why: the caller's `AppError` says it.
    pub fn sign_in_refused(&self, why: &AppError) {
        let reason = match why {
            AppError::TooManyRequests(..) => "backing_off",
            AppError::Busy(..) => "busy",
            AppError::Unauthorized(..) => "wrong_credentials",
            _ => return,
        };
        self.sign_in_refusals
            .get_or_create(&[("reason", reason)])
            .inc();
    }

    /// The text exposition, with the queue as it is now: how many wait,
    /// and since when the oldest (ms), as `actions::queue::waiting` reads it.
    pub fn render(&self, (depth, oldest): (i64, Option<i64>)) -> Result<String, AppError> {
        self.queue_depth.set(depth);
        let waited = oldest.map_or(0, |at| crate::db::now_ms() - at).max(0);
        self.queue_oldest.set(waited as f64 / 1000.0);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).map_err(|e| {
            tracing::error!(error = %e, "cannot encode the metrics");
            AppError::Internal
        })?;
        Ok(out)
    }
}

/// Quota refusals, as `quota::usage` counts them.
struct QuotaRefusals(Arc<Usage>);

impl std::fmt::Debug for QuotaRefusals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuotaRefusals")
    }
}

impl Collector for QuotaRefusals {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let totals = self.0.refusals_total();
        let mut family = encoder.encode_descriptor(
            "quota_refusals",
            "Requests refused because the agent was over a quota, by quota",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for kind in Kind::ALL {
            let labels = [("quota", kind.as_str())];
            ConstCounter::new(totals[kind.index()]).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_has_a_bounded_label_set() {
        let usage = Arc::new(Usage::default());
        let m = Metrics::new(usage.clone());
        m.decided("allowed", "scoped_autonomy");
        m.finally_decided("pending_approval", 5);
        m.finally_decided("approved", 90_000);
        m.sign_in_refused(&AppError::Internal);
        m.webhook_attempt("retrying");
        usage.refused("some-agent-id", Kind::Pending, 1);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &m.registry).unwrap();
        assert!(
            out.contains("belay_decisions_total{decision=\"allowed\",stage=\"scoped_autonomy\"} 1")
        );
        assert!(out.contains("belay_time_to_decision_seconds_count{outcome=\"approved\"} 1"));
        assert!(out.contains("belay_webhook_deliveries_total{result=\"retrying\"} 1"));
        assert!(!out.contains("pending_approval\"}"), "{out}");
        assert!(
            out.contains("belay_quota_refusals_total{quota=\"pending\"} 1"),
            "{out}"
        );
        assert!(!out.contains("some-agent-id"));
        assert!(
            !out.contains("sign_in_refusals_total{"),
            "an internal error is no refusal"
        );
    }
}
