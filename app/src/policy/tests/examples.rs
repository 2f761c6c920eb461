//! Worked examples of the decision: a suspended agent, always approve, the
//! reasons a decision gives, the strictest of several rules, and a grant
//! lowering the stage for one capability.

use super::*;
use crate::policy::ruleset::DEFAULT_CLAIM_SECS;

#[test]
fn a_suspended_or_unregistered_agent_is_refused_before_anything_else() {
    for stage in Stage::ALL {
        let (mut agent, target, params, recent) = situation(stage, Scope::Inside);
        agent.status = AgentStatus::Suspended;
        let facts = Facts {
            now_ms: NOW,
            used_before: Ok(true),
            recent,
        };
        let req = Request {
            capability: CAP,
            target,
            params: &params,
        };
        let p = policy(Risk::None, Ok(Rules::defaults()));
        let d = decide(&p, Some(&agent), &req, &facts);
        assert_eq!(d.outcome, Outcome::Denied);
        assert_eq!(d.reasons, vec!["refused: the agent is suspended"]);
        assert_eq!(decide(&p, None, &req, &facts).outcome, Outcome::Denied);
    }
}

#[test]
fn always_approve_pauses_autonomous_agents_and_only_then() {
    let mut rules = Rules::defaults();
    let rule = |always| Rule {
        approvals: 2,
        ttl_secs: 600,
        always_approve: always,
        sponsor_may_approve: false,
        claim_secs: DEFAULT_CLAIM_SECS,
    };
    rules.set(RuleKey::ExternalSend, rule(false)).unwrap();
    let d = run(
        Stage::ScopedAutonomy,
        Risk::One(Trigger::ExternalSend),
        Scope::Inside,
        Ok(true),
        Ok(rules.clone()),
    );
    assert_eq!(d.outcome, Outcome::Allowed);
    assert!(
        d.reasons[0].contains("risk: external_send; none marked always approve"),
        "{:?}",
        d.reasons
    );
    rules.set(RuleKey::ExternalSend, rule(true)).unwrap();
    let d = run(
        Stage::ScopedAutonomy,
        Risk::One(Trigger::ExternalSend),
        Scope::Inside,
        Ok(true),
        Ok(rules),
    );
    assert_eq!(d.outcome, Outcome::PendingApproval);
    assert_eq!(d.approvals_required, 2);
    assert_eq!(d.ttl_secs, Some(600));
}

#[test]
fn reasons_name_the_triggers_the_stage_the_rule_and_the_version() {
    let mut rules = Rules::defaults();
    rules
        .set(
            RuleKey::ExternalSend,
            Rule {
                approvals: 2,
                ttl_secs: 86_400,
                always_approve: false,
                sponsor_may_approve: false,
                claim_secs: DEFAULT_CLAIM_SECS,
            },
        )
        .unwrap();
    let d = run(
        Stage::ActWithApproval,
        Risk::One(Trigger::ExternalSend),
        Scope::Inside,
        Ok(true),
        Ok(rules),
    );
    assert_eq!(
        d.reasons,
        vec![
            "paused: external_send; the agent is at act_with_approval for billing.refund",
            "rule 'external sends need 2 approvals within 1d' (policy v7)",
        ]
    );
    assert_eq!(d.held_for, vec![RuleKey::ExternalSend]);
    assert_eq!(d.rules[0].approvals, 2);
}

#[test]
fn the_strictest_rule_wins_when_several_apply() {
    let mut rules = Rules::defaults();
    rules
        .set(
            RuleKey::OutOfScope,
            Rule {
                approvals: 3,
                ttl_secs: 7200,
                always_approve: false,
                sponsor_may_approve: false,
                claim_secs: DEFAULT_CLAIM_SECS,
            },
        )
        .unwrap();
    rules
        .set(
            RuleKey::FirstUse,
            Rule {
                approvals: 2,
                ttl_secs: 600,
                always_approve: false,
                sponsor_may_approve: false,
                claim_secs: DEFAULT_CLAIM_SECS,
            },
        )
        .unwrap();
    let d = run(
        Stage::ActWithApproval,
        Risk::None,
        Scope::OverBound,
        Ok(false),
        Ok(rules),
    );
    assert_eq!(d.held_for, vec![RuleKey::OutOfScope, RuleKey::FirstUse]);
    assert_eq!(d.approvals_required, 3);
    assert_eq!(d.ttl_secs, Some(600));
    assert!(d
        .reasons
        .iter()
        .any(|r| r.contains("outside the grant's bound amount <= 500")));
    assert!(d
        .reasons
        .iter()
        .any(|r| r.contains("never used 'billing.refund' before")));
}

#[test]
fn a_grant_can_lower_the_stage_for_one_capability_but_never_raise_it() {
    for (agent_stage, grant_stage, want, applied) in [
        (
            Stage::ActWithApproval,
            Stage::ScopedAutonomy,
            Outcome::PendingApproval,
            Stage::ActWithApproval,
        ),
        (
            Stage::ScopedAutonomy,
            Stage::Draft,
            Outcome::Drafted,
            Stage::Draft,
        ),
        (
            Stage::Propose,
            Stage::Observe,
            Outcome::Denied,
            Stage::Observe,
        ),
    ] {
        let (mut agent, target, params, recent) = situation(agent_stage, Scope::Inside);
        if let Some(Ok(g)) = agent.grants.get_mut(CAP) {
            g.stage = Some(grant_stage);
        }
        let facts = Facts {
            now_ms: NOW,
            used_before: Ok(true),
            recent,
        };
        let req = Request {
            capability: CAP,
            target,
            params: &params,
        };
        let p = policy(Risk::One(Trigger::CustomerVisible), Ok(Rules::defaults()));
        let d = decide(&p, Some(&agent), &req, &facts);
        assert_eq!(d.outcome, want, "{agent_stage} → {grant_stage}");
        assert_eq!(d.stage, applied);
        assert!(d.reasons[0].contains(&format!("the agent is at {applied} for {CAP}")));
    }
}
