use super::{Stage, Trigger};
use serde::{Deserialize, Serialize};

/// The built-in policy: any risk trigger needs one approval. Editable,
/// versioned rules replace this constant with the current version's number.
pub const POLICY_VERSION: i64 = 1;

/// What a submitted action becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// What the catalog says about the requested capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    Known(Vec<Trigger>),
    /// The catalog has never seen it: high risk, never safe.
    Unknown,
    /// The catalog entry could not be read (a stored value we do not
    /// understand); treated like an unknown capability.
    Unreadable(String),
}

#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub capability_name: &'a str,
    pub capability: Capability,
    pub stage: Stage,
    pub suspended: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: Outcome,
    /// In words a reviewer understands.
    pub reasons: Vec<String>,
    pub policy_version: i64,
}

fn decision(outcome: Outcome, reasons: Vec<String>) -> Decision {
    Decision {
        outcome,
        reasons,
        policy_version: POLICY_VERSION,
    }
}

pub fn decide(input: &Input<'_>) -> Decision {
    let v = POLICY_VERSION;
    if input.suspended {
        return decision(
            Outcome::Denied,
            vec!["refused: the agent is suspended".into()],
        );
    }
    // Everything below matches exhaustively: a new stage or capability kind
    // will not compile until someone decides what it means.
    let risk: Result<&[Trigger], String> = match &input.capability {
        Capability::Known(triggers) => Ok(triggers),
        Capability::Unknown => Err(format!(
            "capability '{}' is not in the catalog, so it is treated as high risk",
            input.capability_name
        )),
        Capability::Unreadable(why) => Err(format!(
            "the catalog entry for '{}' could not be read ({why}), so it is treated as high risk",
            input.capability_name
        )),
    };
    let stage = input.stage;
    match stage {
        Stage::Observe => {
            let mut reasons = vec![format!(
                "refused: the agent is at {stage}; it may only record observations"
            )];
            reasons.extend(risk.err());
            decision(Outcome::Denied, reasons)
        }
        Stage::Draft => {
            let mut reasons = vec![format!(
                "drafted: the agent is at {stage}; the action is recorded for humans and is never executable by the agent"
            )];
            reasons.extend(risk.err());
            decision(Outcome::Drafted, reasons)
        }
        Stage::Propose => {
            let mut reasons = vec![format!(
                "paused: the agent is at {stage}; once approved, a human carries the action out"
            )];
            match risk {
                Ok([]) => {}
                Ok(triggers) => reasons.push(format!("risk: {}", names(triggers))),
                Err(why) => reasons.push(why),
            }
            reasons.push(format!(
                "rule 'every proposal needs 1 approval' (policy v{v})"
            ));
            decision(Outcome::PendingApproval, reasons)
        }
        Stage::ActWithApproval | Stage::ScopedAutonomy => {
            // Scope grants (which let scoped_autonomy skip approval inside
            // its limits) are not modelled yet, so both stages hold every
            // risk trigger for approval.
            let held_as = if stage == Stage::ScopedAutonomy {
                format!("the agent is at {stage}, but it has no scope grants yet, so risk is held as at act_with_approval")
            } else {
                format!("the agent is at {stage}")
            };
            match risk {
                Ok([]) => decision(
                    Outcome::Allowed,
                    vec![format!(
                        "allowed: '{}' has no risk triggers; {held_as} (policy v{v})",
                        input.capability_name
                    )],
                ),
                Ok(triggers) => decision(
                    Outcome::PendingApproval,
                    vec![
                        format!("paused: {}; {held_as}", names(triggers)),
                        format!("rule 'risk triggers need 1 approval' (policy v{v})"),
                    ],
                ),
                Err(why) => decision(
                    Outcome::PendingApproval,
                    vec![
                        format!("paused: {why}; {held_as}"),
                        format!("rule 'unknown capabilities need 1 approval' (policy v{v})"),
                    ],
                ),
            }
        }
    }
}

fn names(triggers: &[Trigger]) -> String {
    triggers
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(stage: Stage, capability: Capability, suspended: bool) -> Input<'static> {
        Input {
            capability_name: "email.send",
            capability,
            stage,
            suspended,
        }
    }

    fn capabilities() -> Vec<Capability> {
        let mut all = vec![
            Capability::Known(vec![]),
            Capability::Unknown,
            Capability::Unreadable("bad trigger".into()),
        ];
        all.extend(Trigger::ALL.iter().map(|t| Capability::Known(vec![*t])));
        all.push(Capability::Known(Trigger::ALL.to_vec()));
        all
    }

    #[test]
    fn every_stage_and_risk_gives_the_documented_outcome() {
        for stage in Stage::ALL {
            for cap in capabilities() {
                let d = decide(&input(stage, cap.clone(), false));
                let safe = cap == Capability::Known(vec![]);
                let expected = match stage {
                    Stage::Observe => Outcome::Denied,
                    Stage::Draft => Outcome::Drafted,
                    Stage::Propose => Outcome::PendingApproval,
                    Stage::ActWithApproval | Stage::ScopedAutonomy if safe => Outcome::Allowed,
                    Stage::ActWithApproval | Stage::ScopedAutonomy => Outcome::PendingApproval,
                };
                assert_eq!(d.outcome, expected, "{stage} with {cap:?}");
                assert!(!d.reasons.is_empty(), "{stage} with {cap:?} has no reasons");
                assert_eq!(d.policy_version, POLICY_VERSION);
            }
        }
    }

    #[test]
    fn a_suspended_agent_is_refused_whatever_its_stage() {
        for stage in Stage::ALL {
            for cap in capabilities() {
                let d = decide(&input(stage, cap, true));
                assert_eq!(d.outcome, Outcome::Denied);
                assert!(d.reasons[0].contains("suspended"));
            }
        }
    }

    #[test]
    fn unknown_or_unreadable_capabilities_are_never_allowed() {
        for stage in Stage::ALL {
            for cap in [Capability::Unknown, Capability::Unreadable("x".into())] {
                let d = decide(&input(stage, cap, false));
                assert_ne!(d.outcome, Outcome::Allowed);
                assert!(d.reasons.iter().any(|r| r.contains("high risk")), "{d:?}");
            }
        }
    }

    #[test]
    fn reasons_name_the_triggers_the_stage_and_the_rule() {
        let d = decide(&input(
            Stage::ActWithApproval,
            Capability::Known(vec![Trigger::ExternalSend, Trigger::CustomerVisible]),
            false,
        ));
        assert_eq!(
            d.reasons,
            vec![
                "paused: external_send, customer_visible; the agent is at act_with_approval"
                    .to_string(),
                "rule 'risk triggers need 1 approval' (policy v1)".to_string(),
            ]
        );
    }
}
