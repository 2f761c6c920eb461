//! The decision, tested as a table over every stage × risk × scope × limit
//! combination, and by properties: nothing that should fail closed ever
//! yields `allowed`.
//!
//! The worked examples (suspension, always approve, reasons, the strictest
//! rule, a grant lowering the stage) are in `examples`.

use super::*;
use proptest::prelude::*;
use serde_json::json;
use std::collections::HashMap;

mod examples;

const CAP: &str = "billing.refund";
const NOW: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Risk {
    None,
    One(Trigger),
    Unknown,
    Unreadable,
}

fn risks() -> Vec<Risk> {
    let mut all = vec![Risk::None, Risk::Unknown, Risk::Unreadable];
    all.extend(Trigger::ALL.map(Risk::One));
    all
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    Inside,
    NotGranted,
    WrongTarget,
    OverBound,
    MissingParam,
    Expired,
    OverRate,
    RateUnknown,
    RateNotCounted,
    Unreadable,
}

const SCOPES: [Scope; 10] = [
    Scope::Inside,
    Scope::NotGranted,
    Scope::WrongTarget,
    Scope::OverBound,
    Scope::MissingParam,
    Scope::Expired,
    Scope::OverRate,
    Scope::RateUnknown,
    Scope::RateNotCounted,
    Scope::Unreadable,
];

fn policy(risk: Risk, rules: Result<Rules, String>) -> Policy {
    let mut catalog = HashMap::new();
    match risk {
        Risk::None => {
            catalog.insert(CAP.to_string(), CatalogEntry::Known { triggers: vec![] });
        }
        Risk::One(t) => {
            catalog.insert(CAP.to_string(), CatalogEntry::Known { triggers: vec![t] });
        }
        Risk::Unreadable => {
            catalog.insert(
                CAP.to_string(),
                CatalogEntry::Unreadable("bad trigger".into()),
            );
        }
        Risk::Unknown => {}
    }
    Policy {
        version: 7,
        rules,
        catalog,
    }
}

fn grant() -> Grant {
    Grant {
        capability: CAP.into(),
        stage: None,
        max_per_hour: Some(10),
        bounds: vec![Bound::parse("amount <= 500").unwrap()],
        targets: vec![TargetRule::parse("customer:*").unwrap()],
        expires_at_ms: Some(NOW + 1),
    }
}

/// The agent, request and facts for one scope situation.
fn situation(
    stage: Stage,
    scope: Scope,
) -> (
    AgentPolicy,
    &'static str,
    serde_json::Value,
    Option<Result<u32, String>>,
) {
    let mut g = Ok(grant());
    let mut target = "customer:acme";
    let mut params = json!({"amount": 120});
    let mut recent = Some(Ok(3));
    match scope {
        Scope::Inside => {}
        Scope::NotGranted => {}
        Scope::WrongTarget => target = "vendor:acme",
        Scope::OverBound => params = json!({"amount": 501}),
        Scope::MissingParam => params = json!({"total": 1}),
        Scope::Expired => {
            if let Ok(g) = g.as_mut() {
                g.expires_at_ms = Some(NOW);
            }
        }
        Scope::OverRate => recent = Some(Ok(10)),
        Scope::RateUnknown => recent = Some(Err("database is locked".into())),
        Scope::RateNotCounted => recent = None,
        Scope::Unreadable => g = Err("bad bound".into()),
    }
    let mut grants = HashMap::new();
    if scope != Scope::NotGranted {
        grants.insert(CAP.to_string(), g);
    }
    (
        AgentPolicy {
            name: "refunder".into(),
            status: AgentStatus::Active,
            stage,
            grants,
            quotas: Default::default(),
        },
        target,
        params,
        recent,
    )
}

fn run(
    stage: Stage,
    risk: Risk,
    scope: Scope,
    used: Result<bool, String>,
    rules: Result<Rules, String>,
) -> Decision {
    let (agent, target, params, recent) = situation(stage, scope);
    let facts = Facts {
        now_ms: NOW,
        used_before: used,
        recent,
    };
    let req = Request {
        capability: CAP,
        target,
        params: &params,
    };
    decide(&policy(risk, rules), Some(&agent), &req, &facts)
}

/// What PRODUCT.md's stage table says, written independently of `decide`.
fn expected(
    stage: Stage,
    risk: Risk,
    scope: Scope,
    used: bool,
    rules_ok: bool,
    rules: &Rules,
) -> Outcome {
    let stage = if scope == Scope::Unreadable {
        stage.min(Stage::Propose)
    } else {
        stage
    };
    let known = !matches!(risk, Risk::Unknown | Risk::Unreadable);
    let clean = known && scope == Scope::Inside && used && rules_ok;
    match stage {
        Stage::Observe => Outcome::Denied,
        Stage::Draft => Outcome::Drafted,
        Stage::Propose => Outcome::PendingApproval,
        Stage::ActWithApproval if clean && risk == Risk::None => Outcome::Allowed,
        Stage::ActWithApproval => Outcome::PendingApproval,
        Stage::ScopedAutonomy => {
            let always = match risk {
                Risk::One(t) => rules.get(RuleKey::from_trigger(t)).always_approve,
                _ => false,
            };
            if clean && !always {
                Outcome::Allowed
            } else {
                Outcome::PendingApproval
            }
        }
    }
}

#[test]
fn every_stage_risk_scope_and_limit_gives_the_documented_outcome() {
    let rules = Rules::defaults();
    let mut cases = 0;
    for stage in Stage::ALL {
        for risk in risks() {
            for scope in SCOPES {
                for used in [Ok(true), Ok(false), Err("lookup failed".to_string())] {
                    for rules_ok in [true, false] {
                        let stored = if rules_ok {
                            Ok(rules.clone())
                        } else {
                            Err("no rule for purchase".into())
                        };
                        let d = run(stage, risk, scope, used.clone(), stored);
                        let want = expected(stage, risk, scope, used == Ok(true), rules_ok, &rules);
                        let case =
                            format!("{stage} {risk:?} {scope:?} used={used:?} rules_ok={rules_ok}");
                        assert_eq!(d.outcome, want, "{case}: {:?}", d.reasons);
                        assert!(!d.reasons.is_empty(), "{case}");
                        assert_eq!(d.policy_version, 7, "{case}");
                        if d.outcome == Outcome::PendingApproval {
                            assert!((1..=3).contains(&d.approvals_required), "{case}");
                            assert!(d.ttl_secs.is_some_and(|t| t > 0), "{case}");
                        } else {
                            assert_eq!(d.approvals_required, 0, "{case}");
                        }
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 5 * 10 * 10 * 3 * 2);
}

// --- properties ---------------------------------------------------------

fn any_stage() -> impl Strategy<Value = Stage> {
    prop::sample::select(Stage::ALL.to_vec())
}

fn any_rules() -> impl Strategy<Value = Result<Rules, String>> {
    let rule = (1u8..=3, 1i64..100_000, any::<bool>());
    prop_oneof![
        9 => prop::collection::vec(rule, RuleKey::ALL.len()).prop_map(|rs| {
            let mut rules = Rules::defaults();
            for (key, (approvals, ttl_secs, always)) in RuleKey::ALL.into_iter().zip(rs) {
                let always_approve = always && key.is_trigger();
                rules.set(key, Rule { approvals, ttl_secs, always_approve, sponsor_may_approve: false, claim_secs: 3600 }).unwrap();
            }
            Ok(rules)
        }),
        1 => Just(Err("injected: unreadable rules".to_string())),
    ]
}

fn any_entry() -> impl Strategy<Value = Option<CatalogEntry>> {
    prop_oneof![
        6 => prop::sample::subsequence(Trigger::ALL.to_vec(), 0..=3)
            .prop_map(|triggers| Some(CatalogEntry::Known { triggers })),
        1 => Just(Some(CatalogEntry::Unreadable("injected".into()))),
        1 => Just(None),
    ]
}

fn any_grant() -> impl Strategy<Value = Option<Result<Grant, String>>> {
    let g = (
        prop::option::of(any_stage()),
        prop::option::of(0u32..20),
        prop::option::of(-100f64..1000.0),
        any::<bool>(),
        prop::option::of(NOW - 10..NOW + 10),
    )
        .prop_map(
            |(stage, max_per_hour, bound, prefix, expires_at_ms)| Grant {
                capability: CAP.into(),
                stage,
                max_per_hour,
                bounds: bound
                    .map(|value| Bound {
                        param: "amount".into(),
                        op: Op::Le,
                        value,
                    })
                    .into_iter()
                    .collect(),
                targets: if prefix {
                    vec![TargetRule::Prefix("customer:".into())]
                } else {
                    vec![]
                },
                expires_at_ms,
            },
        );
    prop_oneof![
        6 => g.prop_map(|g| Some(Ok(g))),
        1 => Just(Some(Err("injected: unreadable grant".into()))),
        1 => Just(None),
    ]
}

fn any_fact<T: std::fmt::Debug + Clone + 'static>(
    v: impl Strategy<Value = T>,
) -> impl Strategy<Value = Result<T, String>> {
    prop_oneof![5 => v.prop_map(Ok), 1 => Just(Err("injected: lookup failed".to_string()))]
}

prop_compose! {
    fn any_case()(
        stage in any_stage(),
        suspended in prop::bool::weighted(0.1),
        rules in any_rules(),
        entry in any_entry(),
        grant in any_grant(),
        used in any_fact(any::<bool>()),
        recent in prop::option::of(any_fact(0u32..30)),
        amount in prop_oneof![(-200f64..1200.0).prop_map(|a| json!({"amount": a})), Just(json!({})), Just(json!({"amount": "5"}))],
        target in prop::sample::select(vec!["customer:acme", "vendor:x", ""]),
    ) -> (Policy, AgentPolicy, serde_json::Value, &'static str, Facts) {
        let mut catalog = HashMap::new();
        if let Some(e) = entry { catalog.insert(CAP.to_string(), e); }
        let mut grants = HashMap::new();
        if let Some(g) = grant { grants.insert(CAP.to_string(), g); }
        let status = if suspended { AgentStatus::Suspended } else { AgentStatus::Active };
        (
            Policy { version: 3, rules, catalog },
            AgentPolicy { name: "a".into(), status, stage, grants, quotas: Default::default() },
            amount,
            target,
            Facts { now_ms: NOW, used_before: used, recent },
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// `allowed` only when every input is known, readable, in scope, under
    /// every limit and not a first use; anything else fails closed.
    #[test]
    fn nothing_uncertain_is_ever_allowed((policy, agent, params, target, facts) in any_case()) {
        let req = Request { capability: CAP, target, params: &params };
        let d = decide(&policy, Some(&agent), &req, &facts);
        prop_assert!(!d.reasons.is_empty());
        if d.outcome == Outcome::Allowed {
            prop_assert_eq!(agent.status, AgentStatus::Active);
            prop_assert!(policy.rules.is_ok(), "unreadable rules allowed");
            prop_assert!(matches!(policy.catalog.get(CAP), Some(CatalogEntry::Known { .. })), "unknown capability allowed");
            let grant = match agent.grants.get(CAP) {
                Some(Ok(g)) => g,
                other => return Err(TestCaseError::fail(format!("allowed without a readable grant: {other:?}"))),
            };
            prop_assert!(!grant.expired(NOW), "expired grant allowed");
            prop_assert!(grant.violations(target, &params, NOW).is_empty(), "out-of-bounds allowed");
            if let Some(max) = grant.max_per_hour {
                prop_assert!(matches!(facts.recent, Some(Ok(n)) if n < max), "over or unknown rate allowed");
            }
            prop_assert_eq!(&facts.used_before, &Ok(true), "first use or unknown use allowed");
            prop_assert!(d.stage >= Stage::ActWithApproval);
            prop_assert!(d.stage <= agent.stage, "a grant raised the stage");
            prop_assert!(d.stage <= agent.stage, "a grant raised the stage");
        }
        if d.outcome == Outcome::PendingApproval {
            prop_assert!((1..=3).contains(&d.approvals_required));
            prop_assert!(d.ttl_secs.is_some_and(|t| t > 0));
        }
        if agent.status == AgentStatus::Suspended {
            prop_assert_eq!(d.outcome, Outcome::Denied);
        }
    }

    /// The same inputs always give the same decision.
    #[test]
    fn deciding_is_deterministic((policy, agent, params, target, facts) in any_case()) {
        let req = Request { capability: CAP, target, params: &params };
        prop_assert_eq!(decide(&policy, Some(&agent), &req, &facts), decide(&policy, Some(&agent), &req, &facts));
    }
}
