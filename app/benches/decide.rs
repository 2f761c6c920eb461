//! The in-process decision: criterion's estimate per call, then a
//! percentile pass (p50/p99/p99.9 over individually timed calls), for
//! catalogs of 10, 1,000 and 10,000 capabilities and 100 agents with grants
//! and limits. Run: `cargo bench -p app --bench decide`.

use app::policy::{
    decide, AgentPolicy, AgentStatus, Bound, CatalogEntry, Facts, Grant, Index, Policy, Request,
    Rules, Stage, TargetRule, Trigger,
};
use criterion::{black_box, BenchmarkId, Criterion};
use std::time::Instant;

const AGENTS: usize = 100;
const GRANTS_PER_AGENT: usize = 10;

fn capability(i: usize) -> String {
    format!("service{}.action{}", i / 10, i % 10)
}

/// A catalog of `n` capabilities with varied triggers, and 100 agents at
/// every stage, each granted ten capabilities with limits.
fn world(n: usize) -> Index {
    let catalog = (0..n)
        .map(|i| {
            let triggers = Trigger::ALL
                .iter()
                .copied()
                .filter(|t| (i + *t as usize).is_multiple_of(4))
                .collect();
            (capability(i), CatalogEntry::Known { triggers })
        })
        .collect();
    let agents = (0..AGENTS)
        .map(|a| {
            let grants = (0..GRANTS_PER_AGENT)
                .map(|g| {
                    let cap = capability((a * 7 + g * 13) % n);
                    let grant = Grant {
                        capability: cap.clone(),
                        stage: g.is_multiple_of(3).then_some(Stage::ScopedAutonomy),
                        max_per_hour: Some(100),
                        bounds: vec![Bound::parse("amount <= 500").unwrap()],
                        targets: vec![TargetRule::parse("customer:*").unwrap()],
                        expires_at_ms: Some(i64::MAX),
                    };
                    (cap, Ok(grant))
                })
                .collect();
            let agent = AgentPolicy {
                name: format!("agent-{a}"),
                status: AgentStatus::Active,
                stage: Stage::ALL[a % 5],
                grants,
                quotas: Default::default(),
            };
            (format!("agent-{a}"), agent)
        })
        .collect();
    Index {
        spot_check_pct: 0,
        epoch: 1,
        policy: Policy {
            version: 7,
            rules: Ok(Rules::defaults()),
            catalog,
        },
        agents,
        keys: Default::default(),
    }
}

/// Requests that walk the interesting paths: granted and in bounds, over a
/// bound, a wrong target, ungranted, and unknown capabilities.
fn requests(n: usize) -> Vec<(String, String, &'static str, serde_json::Value)> {
    (0..4096)
        .map(|i| {
            let a = i % AGENTS;
            let granted = capability((a * 7 + (i % GRANTS_PER_AGENT) * 13) % n);
            let (cap, target, amount) = match i % 5 {
                0 | 1 => (granted, "customer:acme", 120),
                2 => (granted, "customer:acme", 900),
                3 => (capability((i * 31) % n), "vendor:x", 5),
                _ => ("unknown.capability".to_string(), "customer:acme", 5),
            };
            (
                format!("agent-{a}"),
                cap,
                target,
                serde_json::json!({ "amount": amount }),
            )
        })
        .collect()
}

fn facts() -> Facts {
    Facts {
        now_ms: 1_000_000,
        used_before: Ok(true),
        recent: Some(Ok(3)),
    }
}

fn one(
    index: &Index,
    r: &(String, String, &'static str, serde_json::Value),
    facts: &Facts,
) -> app::policy::Decision {
    let req = Request {
        capability: &r.1,
        target: r.2,
        params: &r.3,
    };
    decide(&index.policy, index.agents.get(&r.0), &req, facts)
}

const SIZES: [usize; 3] = [10, 1_000, 10_000];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    for n in SIZES {
        let index = world(n);
        let reqs = requests(n);
        let f = facts();
        let mut i = 0;
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % reqs.len();
                black_box(one(&index, &reqs[i], &f))
            })
        });
    }
    group.finish();
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Times each call on its own (Instant costs ~20 ns here, included).
fn percentiles() {
    const CALLS: usize = 300_000;
    println!("\ndecision latency per call, {CALLS} calls each (capabilities, p50, p99, p99.9):");
    let mut p99s = Vec::new();
    for n in SIZES {
        let index = world(n);
        let reqs = requests(n);
        let f = facts();
        let mut times = Vec::with_capacity(CALLS);
        for i in 0..CALLS {
            let r = &reqs[i % reqs.len()];
            let start = Instant::now();
            black_box(one(&index, r, &f));
            times.push(start.elapsed().as_nanos() as u64);
        }
        times.sort_unstable();
        let (p50, p99, p999) = (
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            percentile(&times, 0.999),
        );
        println!(
            "  {n:>6}  p50 {:>6.2} µs  p99 {:>6.2} µs  p99.9 {:>6.2} µs",
            p50 as f64 / 1e3,
            p99 as f64 / 1e3,
            p999 as f64 / 1e3
        );
        p99s.push(p99);
    }
    println!(
        "  p99 at 10,000 capabilities / p99 at 10: {:.2}×",
        p99s[2] as f64 / p99s[0] as f64
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    percentiles();
}
