use super::index::{AgentPolicy, AgentStatus, CatalogEntry, Policy};
use super::rule_key::RuleKey;
use super::ruleset::{rule_name, Rule};
use super::{Stage, Trigger};
use serde::{Deserialize, Serialize};

/// What a submitted action becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = Decision))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allowed,
    PendingApproval,
    Drafted,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::PendingApproval => "pending_approval",
            Outcome::Drafted => "drafted",
            Outcome::Denied => "denied",
        }
    }
}

/// The action being decided, as the agent described it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub capability: &'a str,
    pub target: &'a str,
    pub params: &'a serde_json::Value,
}

/// Facts about the agent's history, looked up by the caller. A lookup that
/// failed is carried as its error, and the decision fails closed on it.
#[derive(Debug, Clone)]
pub struct Facts {
    pub now_ms: i64,
    /// Has the agent used this capability before (allowed or approved)?
    pub used_before: Result<bool, String>,
    /// Requests for this capability in the last hour that could execute;
    /// `None` when not looked up (needed only under a rate limit).
    pub recent: Option<Result<u32, String>>,
}

/// A rule that applied, as recorded with the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRule {
    pub key: RuleKey,
    pub name: String,
    pub approvals: u8,
    pub ttl_secs: i64,
    /// The rule let the agent's sponsor approve, when the request was held
    /// (the rules in force when a reviewer decides are what count).
    #[serde(default)]
    pub sponsor_may_approve: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: Outcome,
    /// In words a reviewer understands.
    pub reasons: Vec<String>,
    pub policy_version: i64,
    /// The stage that applied (the agent's, or its grant's override).
    pub stage: Stage,
    /// The catalog's risk triggers for the capability.
    pub triggers: Vec<Trigger>,
    pub capability_known: bool,
    /// Why it is held, when it is: triggers and computed conditions.
    pub held_for: Vec<RuleKey>,
    /// The rules that produced a hold.
    pub rules: Vec<AppliedRule>,
    /// Distinct approvals needed (0 unless pending).
    pub approvals_required: u8,
    /// How long it may wait for approval (only when pending).
    pub ttl_secs: Option<i64>,
}

impl Decision {
    /// How risky the request is, for ordering the approval queue: the sum of
    /// what held it, and an unknown capability always outranks a known one.
    pub fn risk(&self) -> i64 {
        let held: i64 = self.held_for.iter().map(|k| k.risk_weight()).sum();
        let unknown = if self.capability_known { 0 } else { 100 };
        held.max(unknown)
    }
}

/// Decides one action. Pure: the same inputs always give the same decision.
/// Every match below is exhaustive, so a new stage, status or catalog state
/// does not compile until someone decides what it means; nothing falls
/// through to `allowed`.
pub fn decide(
    policy: &Policy,
    agent: Option<&AgentPolicy>,
    req: &Request<'_>,
    facts: &Facts,
) -> Decision {
    let cap = req.capability;
    let v = policy.version;
    let agent = match agent {
        Some(a) => a,
        None => {
            return refused(
                v,
                "refused: the agent is not registered with this policy".into(),
            );
        }
    };
    match agent.status {
        AgentStatus::Suspended => {
            return refused(v, "refused: the agent is suspended".into());
        }
        AgentStatus::Active => {}
    }

    // What could hold the action, and why, in words.
    let mut held = Vec::new();
    let mut notes = Vec::new();
    let (triggers, known) = match policy.catalog.get(cap) {
        Some(CatalogEntry::Known { triggers }) => (triggers.clone(), true),
        Some(CatalogEntry::Unreadable(why)) => {
            notes.push(format!(
                "the catalog entry for '{cap}' could not be read ({why}), so it is treated as high risk"
            ));
            held.push(RuleKey::UnknownCapability);
            (vec![], false)
        }
        None => {
            notes.push(format!(
                "capability '{cap}' is not in the catalog, so it is treated as high risk"
            ));
            held.push(RuleKey::UnknownCapability);
            (vec![], false)
        }
    };
    held.splice(0..0, triggers.iter().map(|t| RuleKey::from_trigger(*t)));

    let (stage, violations) = match agent.grants.get(cap) {
        None => (
            agent.stage,
            vec![format!("'{cap}' is not in the agent's scope")],
        ),
        Some(Err(why)) => (
            // The override is unreadable too, so it can only lower trust.
            agent.stage.min(Stage::Propose),
            vec![format!(
                "the agent's grant for '{cap}' could not be read ({why})"
            )],
        ),
        Some(Ok(grant)) => {
            let mut out = grant.violations(req.target, req.params, facts.now_ms);
            if let Some(max) = grant.max_per_hour {
                match &facts.recent {
                    Some(Ok(n)) if *n < max => {}
                    Some(Ok(n)) => out.push(format!(
                        "over the limit: {n} {cap} requests in the last hour; the grant allows {max}"
                    )),
                    Some(Err(why)) => out.push(format!(
                        "could not count recent {cap} requests ({why}), so the limit of {max} per hour cannot be checked"
                    )),
                    None => out.push(format!(
                        "recent {cap} requests were not counted, so the limit of {max} per hour cannot be checked"
                    )),
                }
            }
            (grant.stage_for(agent.stage), out)
        }
    };
    if !violations.is_empty() {
        held.push(RuleKey::OutOfScope);
        notes.extend(violations.into_iter().map(|v| format!("out of scope: {v}")));
    }
    match &facts.used_before {
        Ok(true) => {}
        Ok(false) => {
            held.push(RuleKey::FirstUse);
            notes.push(format!(
                "first use: the agent has never used '{cap}' before"
            ));
        }
        Err(why) => {
            held.push(RuleKey::FirstUse);
            notes.push(format!(
                "could not tell whether the agent has used '{cap}' before ({why}); treated as a first use"
            ));
        }
    }

    let at = format!("the agent is at {stage} for {cap}");
    let base = Decision {
        outcome: Outcome::Denied,
        reasons: vec![],
        policy_version: v,
        stage,
        triggers,
        capability_known: known,
        held_for: vec![],
        rules: vec![],
        approvals_required: 0,
        ttl_secs: None,
    };
    let rules = match &policy.rules {
        Ok(rules) => rules,
        Err(why) => {
            return match stage {
                Stage::Observe | Stage::Draft => finish_unheld(base, stage, &at, notes),
                Stage::Propose | Stage::ActWithApproval | Stage::ScopedAutonomy => {
                    let mut d = base;
                    d.outcome = Outcome::PendingApproval;
                    d.reasons = vec![format!(
                        "paused: policy v{v} could not be read ({why}); {at}"
                    )];
                    d.reasons.extend(notes);
                    d.approvals_required = Rule::FALLBACK.approvals;
                    d.ttl_secs = Some(Rule::FALLBACK.ttl_secs);
                    d
                }
            };
        }
    };

    match stage {
        Stage::Observe | Stage::Draft => finish_unheld(base, stage, &at, notes),
        Stage::Propose => {
            if held.is_empty() {
                held.push(RuleKey::Proposal);
            }
            let why = format!("{at}; once approved, a human carries it out");
            hold(base, rules, held, &why, notes)
        }
        Stage::ActWithApproval => {
            if held.is_empty() {
                allow(base, format!(
                    "allowed: '{cap}' has no risk triggers and is within the agent's scope; {at} (policy v{v})"
                ))
            } else {
                hold(base, rules, held, &at, notes)
            }
        }
        Stage::ScopedAutonomy => {
            // Inside scope and limits, autonomy covers the catalog's triggers,
            // except those a rule marks always approve.
            let (pausing, covered): (Vec<RuleKey>, Vec<RuleKey>) = held
                .into_iter()
                .partition(|k| !k.is_trigger() || rules.get(*k).always_approve);
            if pausing.is_empty() {
                let risk = if covered.is_empty() {
                    String::new()
                } else {
                    format!(" (risk: {}; none marked always approve)", names(&covered))
                };
                allow(base, format!(
                    "allowed: within the agent's scope and limits for {cap}{risk}; {at} (policy v{v})"
                ))
            } else {
                hold(base, rules, pausing, &at, notes)
            }
        }
    }
}

fn refused(version: i64, reason: String) -> Decision {
    Decision {
        outcome: Outcome::Denied,
        reasons: vec![reason],
        policy_version: version,
        stage: Stage::Observe,
        triggers: vec![],
        capability_known: false,
        held_for: vec![],
        rules: vec![],
        approvals_required: 0,
        ttl_secs: None,
    }
}

fn finish_unheld(mut d: Decision, stage: Stage, at: &str, notes: Vec<String>) -> Decision {
    let v = d.policy_version;
    let (outcome, first) = match stage {
        Stage::Draft => (
            Outcome::Drafted,
            format!("drafted: {at}; the action is recorded for humans and is never executable by the agent (policy v{v})"),
        ),
        _ => (
            Outcome::Denied,
            format!("refused: {at}; it may only record observations (policy v{v})"),
        ),
    };
    d.outcome = outcome;
    d.reasons = vec![first];
    d.reasons.extend(notes);
    d
}

fn allow(mut d: Decision, reason: String) -> Decision {
    d.outcome = Outcome::Allowed;
    d.reasons = vec![reason];
    d
}

fn hold(
    mut d: Decision,
    rules: &super::Rules,
    held: Vec<RuleKey>,
    why: &str,
    notes: Vec<String>,
) -> Decision {
    let v = d.policy_version;
    d.outcome = Outcome::PendingApproval;
    d.reasons = vec![format!("paused: {}; {why}", names(&held))];
    d.reasons.extend(notes);
    for key in &held {
        let rule = rules.get(*key);
        let name = rule_name(*key, rule);
        d.reasons.push(format!("rule '{name}' (policy v{v})"));
        d.approvals_required = d.approvals_required.max(rule.approvals);
        d.ttl_secs = Some(d.ttl_secs.map_or(rule.ttl_secs, |t| t.min(rule.ttl_secs)));
        d.rules.push(AppliedRule {
            key: *key,
            name,
            approvals: rule.approvals,
            ttl_secs: rule.ttl_secs,
            sponsor_may_approve: rule.sponsor_may_approve,
        });
    }
    d.held_for = held;
    d
}

fn names(keys: &[RuleKey]) -> String {
    keys.iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
