//! The change request as the pages and server functions share it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a change request changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An agent, or some of its capabilities, one stage (or more) up.
    Promotion,
    /// An agent registered above propose starts at propose until approved.
    AgentStage,
    /// A grant that widens an agent's scope.
    Grant,
    /// A catalog entry that loses risk triggers, or arrives without any.
    Capability,
    /// Policy rules that hold less, or for shorter.
    Policy,
    /// Readiness criteria that ask less.
    Readiness,
    /// Automatic demotion and spot checks that watch less.
    Sensor,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Promotion,
        Kind::AgentStage,
        Kind::Grant,
        Kind::Capability,
        Kind::Policy,
        Kind::Readiness,
        Kind::Sensor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Promotion => "promotion",
            Kind::AgentStage => "agent_stage",
            Kind::Grant => "grant",
            Kind::Capability => "capability",
            Kind::Policy => "policy",
            Kind::Readiness => "readiness",
            Kind::Sensor => "sensor",
        }
    }

    pub fn parse(s: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown kind of change {s:?}"))
    }

    /// In words, for the pages.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Promotion => "Promotion",
            Kind::AgentStage => "Agent registered above propose",
            Kind::Grant => "Wider grant",
            Kind::Capability => "Fewer risk triggers",
            Kind::Policy => "Relaxed policy",
            Kind::Readiness => "Lower readiness criteria",
            Kind::Sensor => "Less watchful sensor",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change that raises trust, sent to a second lead instead of applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposed {
    pub change_id: String,
    /// How it raises trust, in words.
    pub rises: Vec<String>,
}

/// What a save did: took effect, or waits for a second lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Saved<T> {
    Applied(T),
    Proposed(Proposed),
}

impl<T> Saved<T> {
    pub fn proposed(&self) -> Option<&Proposed> {
        match self {
            Saved::Proposed(p) => Some(p),
            Saved::Applied(_) => None,
        }
    }
}

/// One lead's decision on a change request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = PromotionVote))]
pub struct Vote {
    pub by: String,
    pub verdict: String,
    pub reason: String,
    pub override_reason: Option<String>,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRow {
    pub id: String,
    pub kind: Kind,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub subject: String,
    pub rises: Vec<String>,
    pub state: String,
    pub opened_by: String,
    pub opened_at: String,
    pub approvals: i64,
    pub approvals_needed: i64,
}

/// One field of the before/after, as text; `None`: absent on that side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl Diff {
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeDetail {
    pub row: ChangeRow,
    pub reason: String,
    /// Every field of the before and after, changed ones marked.
    pub diff: Vec<Diff>,
    /// The thing did not exist before (a new grant or capability).
    pub created: bool,
    pub votes: Vec<Vote>,
    pub closed_at: Option<String>,
    /// Why the viewer may not decide, if they may not.
    pub cannot_vote: Option<String>,
    /// Why the viewer may reject but not approve, if so.
    pub cannot_approve: Option<String>,
    pub can_withdraw: bool,
}
